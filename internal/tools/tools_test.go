package tools

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/aoaibench/aoaibench/internal/tokenizer"
)

func get(t *testing.T, enc string) *tokenizer.Tokenizer {
	t.Helper()
	tk, err := tokenizer.Get(enc)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// The Cookbook's example function, counted by hand from its recipe.
func TestTokensCookbook(t *testing.T) {
	t.Parallel()
	tk := get(t, tokenizer.O200k)
	def := Def{
		Name:        "get_current_weather",
		Description: "Get the current weather in a given location",
		Parameters: json.RawMessage(`{"type":"object","properties":{
			"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"},
			"unit":{"type":"string","description":"The unit of temperature to return","enum":["celsius","fahrenheit"]}},
			"required":["location"]}`),
	}
	want := funcInitO200k + tk.Count("get_current_weather:Get the current weather in a given location") +
		propInit +
		propKey + tk.Count("location:string:The city and state, e.g. San Francisco, CA") +
		propKey + enumInit + enumItem + tk.Count("celsius") + enumItem + tk.Count("fahrenheit") + tk.Count("unit:string:The unit of temperature to return") +
		funcEnd
	if got := Tokens(tk, []Def{def}); got != want {
		t.Errorf("Tokens = %d, want %d", got, want)
	}
	if got := Tokens(get(t, tokenizer.Cl100k), []Def{def}); got <= want-5 || got == 0 {
		t.Errorf("cl100k counts %d: want the recipe's 10 a function", got)
	}
	if Tokens(tk, nil) != 0 {
		t.Error("no tools must count 0")
	}
}

func TestSynthetic(t *testing.T) {
	t.Parallel()
	tk := get(t, tokenizer.O200k)
	defs := Synthetic(MaxTools, 1)
	if len(defs) != MaxTools {
		t.Fatalf("%d definitions", len(defs))
	}
	names := Names(defs)
	slices.Sort(names)
	if len(slices.Compact(names)) != MaxTools {
		t.Error("synthetic tools' names repeat")
	}
	for _, d := range defs[:20] {
		n := Tokens(tk, []Def{d}) - funcEnd
		if n < 60 || n > 260 {
			t.Errorf("%s counts %d tokens: not a realistic size", d.Name, n)
		}
	}
	// Same seed, same tools; another seed, other parameters.
	a, b, c := JSON(Synthetic(8, 1)), JSON(Synthetic(8, 1)), JSON(Synthetic(8, 2))
	if string(a) != string(b) || string(a) == string(c) {
		t.Error("seeded definitions are not reproducible, or the seed changes nothing")
	}
	back, err := Parse(a)
	if err != nil || len(back) != 8 || back[0].Name != "get_order" {
		t.Errorf("Parse(JSON) = %v, %v", back, err)
	}
	if len(Synthetic(-1, 1)) != 0 || len(Synthetic(MaxTools+1, 1)) != MaxTools {
		t.Error("counts out of range are not clamped")
	}
}

func TestParseBad(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{`{}`, `[{"type":"function","function":{}}]`, `nope`} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%s): no error", bad)
		}
	}
	defs, err := Parse([]byte(`[{"type":"code_interpreter"},{"type":"function","function":{"name":"f"}}]`))
	if err != nil || len(defs) != 1 || defs[0].Name != "f" {
		t.Errorf("a non-function tool: %v, %v", defs, err)
	}
}

func TestChoice(t *testing.T) {
	t.Parallel()
	for _, c := range []Choice{"", Auto, Required, None} {
		if !c.Valid() {
			t.Errorf("%q not valid", c)
		}
	}
	if Choice("always").Valid() {
		t.Error(`"always" valid`)
	}
}
