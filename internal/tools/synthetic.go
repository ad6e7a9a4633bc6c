package tools

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
)

// param is a synthetic parameter: its schema and what it is for.
type param struct {
	name   string
	schema map[string]any
}

// params are the parameters synthetic functions draw from: the shapes of
// a real agent's (ids, free text, dates, enums, counts, flags, lists).
func params(thing string) []param {
	return []param{
		{thing + "_id", map[string]any{"type": "string", "description": fmt.Sprintf("The unique identifier of the %s, as shown in the system of record.", thing)}},
		{"query", map[string]any{"type": "string", "description": fmt.Sprintf("Free-text search terms matched against the %s's title, notes and related records.", thing)}},
		{"start_date", map[string]any{"type": "string", "format": "date", "description": "The first day of the period, in ISO 8601 form (YYYY-MM-DD)."}},
		{"end_date", map[string]any{"type": "string", "format": "date", "description": "The last day of the period, inclusive, in ISO 8601 form."}},
		{"status", map[string]any{"type": "string", "enum": []string{"open", "pending", "closed", "cancelled"}, "description": fmt.Sprintf("Only %ss in this state.", thing)}},
		{"priority", map[string]any{"type": "string", "enum": []string{"low", "normal", "high", "urgent"}, "description": "How soon the request must be handled."}},
		{"limit", map[string]any{"type": "integer", "minimum": 1, "maximum": 100, "description": "The most results to return; fewer may be returned."}},
		{"include_history", map[string]any{"type": "boolean", "description": fmt.Sprintf("Whether to include the %s's full change history in the result.", thing)}},
		{"notes", map[string]any{"type": "string", "description": "A message for the person who handles the request, in plain language."}},
		{"tags", map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "description": "Labels to filter or attach, such as team names or project codes."}},
		{"amount", map[string]any{"type": "number", "minimum": 0, "description": "An amount of money in the account's currency, up to two decimals."}},
		{"currency", map[string]any{"type": "string", "enum": []string{"USD", "EUR", "GBP", "JPY"}, "description": "The ISO 4217 code of the amount's currency."}},
	}
}

// Synthetic returns n function definitions of realistic size (about 100
// to 180 tokens each: a sentence or two of description and three to six
// typed parameters, some enums, the first two required), the same for the
// same n and seed; their names are distinct.
func Synthetic(n int, seed uint64) []Def {
	n = min(max(n, 0), MaxTools)
	// An agent's functions are verbs on the things of its trade: 12
	// verbs and 12 things name 144 functions, more than MaxTools.
	verbs := [...]string{"get", "search", "create", "update", "list", "cancel", "schedule", "send", "lookup", "summarize", "approve", "export"}
	things := [...]string{"order", "ticket", "invoice", "meeting", "document", "customer", "shipment", "flight", "payment", "product", "account", "report"}
	rng := rand.New(rand.NewPCG(seed, 0x7001))
	defs := make([]Def, n)
	for i := range n {
		verb, thing := verbs[i%len(verbs)], things[(i/len(verbs)+i)%len(things)]
		pool := params(thing)
		rng.Shuffle(len(pool), func(a, b int) { pool[a], pool[b] = pool[b], pool[a] })
		k := 3 + rng.IntN(4)
		props := make(map[string]any, k)
		required := make([]string, 0, 2)
		for _, p := range pool[:k] {
			props[p.name] = p.schema
			if len(required) < 2 {
				required = append(required, p.name)
			}
		}
		parameters, err := json.Marshal(map[string]any{
			"type": "object", "properties": props, "required": required, "additionalProperties": false,
		})
		if err != nil {
			panic(fmt.Sprintf("tools: a synthetic definition: %v", err)) // maps of strings always marshal
		}
		defs[i] = Def{
			Name: verb + "_" + thing,
			Description: fmt.Sprintf("%s %s records in the company's %s system. Call it when the user asks to %s %s, "+
				"and only with values the user gave or an earlier result returned.", title(verb), thing, thing, verb, article(thing)),
			Parameters: parameters,
		}
	}
	return defs
}

// title is a word with its first letter upper-case (ASCII).
func title(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// article is a noun with "a" or "an" before it.
func article(noun string) string {
	if noun != "" && (noun[0] == 'a' || noun[0] == 'e' || noun[0] == 'i' || noun[0] == 'o' || noun[0] == 'u') {
		return "an " + noun
	}
	return "a " + noun
}
