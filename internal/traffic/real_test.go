package traffic

import (
	"testing"

	tk "github.com/tiktoken-go/tokenizer"
)

func realCount(t *testing.T, enc, s string) int {
	t.Helper()
	c, err := tk.Get(tk.Encoding(enc))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := c.Count(s)
	return n
}
