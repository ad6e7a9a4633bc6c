package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/aoaibench/aoaibench/internal/ptu"
	"github.com/aoaibench/aoaibench/internal/size"
)

// SizeCmd is `aoaibench size`: how many PTUs recorded traffic needs.
type SizeCmd struct {
	Inputs         []string `arg:"" name:"input" help:"aoaibench --output-dir directories (requests.jsonl), traces (--trace's JSONL), or usage CSVs (timestamp, prompt_tokens, completion_tokens, optional cached_tokens, max_tokens); several are overlaid."`
	Model          string   `required:"" placeholder:"MODEL" help:"Model to size for (gpt-4o, gpt-4.1-mini, gpt-5.2, or a model-version name like gpt-4o-2024-08-06)."`
	OutputDir      string   `type:"path" placeholder:"DIR" help:"Directory for size.json (made when missing); aoaibench report DIR renders it."`
	DeploymentType string   `default:"global" placeholder:"TYPE" help:"Provisioned deployment type: global, datazone or regional (the PTU counts it can deploy)."`
	MaxThrottled   float64  `default:"0" placeholder:"SHARE" help:"Share of requests that may get 429 (0.01: 1%)."`
	Spillover      bool     `help:"Report what a standard deployment would take (the refused requests' tokens) and, with prices, the cheapest PTU count with spillover."`
	Warm           bool     `help:"Replay the input once before the counted replay: the bucket starts as the input leaves it (traffic that repeats as recorded), not empty."`
	PTUTable       string   `name:"ptu-table" type:"path" placeholder:"FILE" help:"Provisioned figures per model (TSV as internal/ptu/azure-ptu-models.tsv) in place of the published ones built in."`
	PTUHourly      *float64 `name:"ptu-hourly" placeholder:"PRICE" help:"Price of one PTU an hour (your region's, agreement's, month's: none is built in)."`
	PriceInput     *float64 `name:"price-input" placeholder:"PRICE" help:"Pay-as-you-go price of a million input tokens."`
	PriceCached    *float64 `name:"price-cached" placeholder:"PRICE" help:"Pay-as-you-go price of a million cached input tokens (default: --price-input)."`
	PriceOutput    *float64 `name:"price-output" placeholder:"PRICE" help:"Pay-as-you-go price of a million output tokens."`
}

// Help is the command's example.
func (c *SizeCmd) Help() string {
	return `Examples:
  aoaibench size run1 --model gpt-4o --output-dir size1
  aoaibench size usage.csv --model gpt-4.1 --deployment-type datazone \
    --max-throttled 0.01 --spillover --ptu-hourly 1 --price-input 2 \
    --price-output 8 --output-dir size2
  aoaibench report size2`
}

// Run sizes the inputs.
func (c *SizeCmd) Run(env *Env) error {
	start := time.Now()
	typ, err := ptu.ParseType(c.DeploymentType)
	if err != nil {
		return usagef("--deployment-type: %v", err)
	}
	opts := size.Options{Inputs: c.Inputs, Model: c.Model, Type: typ, MaxThrottled: c.MaxThrottled, Spillover: c.Spillover, Warm: c.Warm,
		Prices: size.Prices{PTUHourly: c.PTUHourly, Input: c.PriceInput, Cached: c.PriceCached, Output: c.PriceOutput}}
	if c.PTUTable != "" {
		if opts.Table, err = ptu.Load(c.PTUTable); err != nil {
			return usagef("--ptu-table: %v", err)
		}
	}
	res, err := size.Size(opts)
	if err != nil {
		var bi *size.BadInput
		if errors.As(err, &bi) {
			return usageError{err.Error()}
		}
		return err
	}
	res.Text(env.Stdout)
	if c.OutputDir != "" {
		path, err := res.Write(c.OutputDir)
		if err != nil {
			return fmt.Errorf("--output-dir: %w", err)
		}
		fmt.Fprintf(env.Stderr, "size: %s (%d requests, %d PTU counts replayed, in %v)\n", path, res.Requests, len(res.Replay.Steps), time.Since(start).Round(time.Millisecond))
	}
	return nil
}
