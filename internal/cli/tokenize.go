package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/aoaibench/aoaibench/internal/models"
	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

// TokenizeCmd counts tokens like the original tool's tokenize command.
type TokenizeCmd struct {
	Model     string `short:"m" default:"gpt-4o-mini" placeholder:"MODEL" help:"Model whose tokenizer to use (gpt-35-turbo, gpt-4, gpt-4o, gpt-4.1, gpt-5, o1, o3, o4-mini...): the simulator's model by default."`
	Tokenizer string `placeholder:"ENCODING" help:"Tokenizer to use instead of the model's (o200k_base or cl100k_base)."`
	Text      string `arg:"" optional:"" help:"Text to count; read from stdin when absent. A JSON array of {role, content} messages counts as chat messages, overhead included."`
}

// Help is the command's example.
func (c *TokenizeCmd) Help() string {
	return `Examples:
  aoaibench tokenize --model gpt-4 "this is my context"
  aoaibench tokenize --tokenizer o200k_base < prompt.txt
  cat messages.json | aoaibench tokenize -m gpt-4o`
}

// Run prints "tokens: N".
func (c *TokenizeCmd) Run(env *Env) error {
	enc := c.Tokenizer
	if enc == "" {
		m, ok := models.Lookup(c.Model)
		if !ok {
			return usagef("--model: unknown model %q (known: %s)", c.Model, models.Known)
		}
		enc = m.Encoding
	}
	tok, err := tokenizer.Get(enc)
	if err != nil {
		return usagef("--tokenizer: %v", err)
	}
	text := c.Text
	if text == "" {
		b, err := io.ReadAll(env.Stdin)
		if err != nil {
			return fmt.Errorf("reading stdin: %w", err)
		}
		text = string(b)
	}
	if t := strings.TrimSpace(text); strings.HasPrefix(t, "[") {
		var msgs []tokenizer.Message
		if err := json.Unmarshal([]byte(t), &msgs); err == nil {
			fmt.Fprintf(env.Stdout, "tokens: %d\n", tok.CountMessages(msgs))
			return nil
		}
	}
	fmt.Fprintf(env.Stdout, "tokens: %d\n", tok.Count(text))
	return nil
}
