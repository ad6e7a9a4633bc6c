// Package ptu holds Azure OpenAI's provisioned-throughput facts and
// mechanics: the published figures per model (a table read as data, so
// that newer figures replace it without a release), the counts of PTUs a
// deployment type can deploy, utilization in input-token units, Azure's
// sizing formula, and the leaky bucket a provisioned deployment admits
// requests by. The simulator's provisioned deployments and `aoaibench
// size` both use it, so that a replay and the simulator cannot disagree.
package ptu

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
)

//go:embed azure-ptu-models.tsv
var published []byte

// DefaultFile is the embedded table's name, as its errors and notes say it.
const DefaultFile = "azure-ptu-models.tsv"

// Model is one model's published provisioned-throughput figures.
type Model struct {
	// Name is the model's name in the table (gpt-4o, gpt-5.2).
	Name string `json:"model"`
	// InputTPMPerPTU is the input tokens a minute one PTU serves.
	InputTPMPerPTU float64 `json:"input_tpm_per_ptu"`
	// OutputRatio is how many input tokens one output token counts as.
	OutputRatio float64 `json:"output_ratio"`
	// GlobalMin and GlobalIncrement are the deployable counts of Global
	// and Data Zone provisioned deployments; RegionalMin and
	// RegionalIncrement those of Regional ones.
	GlobalMin         int `json:"global_min"`
	GlobalIncrement   int `json:"global_increment"`
	RegionalMin       int `json:"regional_min"`
	RegionalIncrement int `json:"regional_increment"`
	// LatencyTPS is the published latency target: 99% of requests
	// generate faster than this many tokens a second.
	LatencyTPS float64 `json:"latency_tps"`
}

// Table is a table of models' figures, and the comments that say where
// the figures come from.
type Table struct {
	// File is the table's file name (DefaultFile for the embedded one).
	File string
	// Notes are the file's comment lines, without their '#': the source
	// and its date.
	Notes  []string
	Models []Model
}

// columns are the table's columns, in the published file's order.
var columns = []string{"model", "input_tpm_per_ptu", "output_ratio", "global_min", "global_increment", "regional_min", "regional_increment", "latency_tps"}

// maxRows bounds a table: a few dozen models are published.
const maxRows = 10_000

// Parse reads a table: '#' comment lines, a header row naming the
// columns (tab-separated, in any order, each once), then a row per model.
// Anything else is an error naming name:line.
func Parse(name string, r io.Reader) (*Table, error) {
	p := &tableParser{t: &Table{File: name}, seen: map[string]int{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		p.line++
		s := strings.TrimRight(sc.Text(), "\r")
		if p.line == 1 {
			s = strings.TrimPrefix(s, "\ufeff")
		}
		if strings.TrimSpace(s) == "" {
			continue
		}
		if strings.HasPrefix(s, "#") {
			p.t.Notes = append(p.t.Notes, strings.TrimSpace(strings.TrimPrefix(s, "#")))
			continue
		}
		fields := strings.Split(s, "\t")
		for i := range fields {
			fields[i] = strings.TrimSpace(fields[i])
		}
		var err error
		if p.idx == nil {
			err = p.header(fields)
		} else {
			err = p.row(fields)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		p.line++
		return nil, p.bad("%v", err)
	}
	if p.idx == nil {
		return nil, fmt.Errorf("%s:%d: no header row (want the tab-separated columns %s)", name, max(p.line, 1), strings.Join(columns, ", "))
	}
	if len(p.t.Models) == 0 {
		return nil, fmt.Errorf("%s:%d: no models after the header", name, max(p.line, 1))
	}
	return p.t, nil
}

// tableParser is a table being read, line by line.
type tableParser struct {
	t    *Table
	line int
	idx  []int          // the column of each of columns; nil before the header
	seen map[string]int // each model's line
}

// bad is an error naming the file and the line being read.
func (p *tableParser) bad(format string, a ...any) error {
	return fmt.Errorf("%s:%d: %s", p.t.File, p.line, fmt.Sprintf(format, a...))
}

// header reads the header row: every column once, and no other.
func (p *tableParser) header(fields []string) error {
	pos := map[string]int{}
	for i, f := range fields {
		f = strings.ToLower(f)
		if _, dup := pos[f]; dup {
			return p.bad("column %q twice in the header", f)
		}
		pos[f] = i
	}
	for _, c := range columns {
		i, ok := pos[c]
		if !ok {
			return p.bad("the header has no column %q (want the tab-separated columns %s)", c, strings.Join(columns, ", "))
		}
		p.idx = append(p.idx, i)
		delete(pos, c)
	}
	for f := range pos {
		return p.bad("unknown column %q (the columns are %s)", f, strings.Join(columns, ", "))
	}
	return nil
}

// row reads one model's row, each figure in its range.
func (p *tableParser) row(fields []string) error {
	if len(fields) != len(columns) {
		return p.bad("%d tab-separated fields, want %d (%s)", len(fields), len(columns), strings.Join(columns, ", "))
	}
	if len(p.t.Models) >= maxRows {
		return p.bad("more than %d models", maxRows)
	}
	f := func(c int) string { return fields[p.idx[c]] }
	m := Model{Name: strings.ToLower(f(0))}
	if m.Name == "" || strings.ContainsAny(m.Name, " \t") {
		return p.bad("model %q is not a model name", f(0))
	}
	if l, dup := p.seen[m.Name]; dup {
		return p.bad("model %s is also on line %d", m.Name, l)
	}
	p.seen[m.Name] = p.line
	num := func(c int, least, most float64) (float64, error) {
		v, err := strconv.ParseFloat(f(c), 64)
		if err != nil || !(v > 0) || v < least || v > most || math.IsInf(v, 0) {
			return 0, p.bad("%s %q of %s is not a number above 0, from %g to %g", columns[c], f(c), m.Name, least, most)
		}
		return v, nil
	}
	count := func(c int) (int, error) {
		v, err := strconv.Atoi(f(c))
		if err != nil || v < 1 || v > 1_000_000 {
			return 0, p.bad("%s %q of %s is not a whole number from 1 to 1000000", columns[c], f(c), m.Name)
		}
		return v, nil
	}
	var err error
	if m.InputTPMPerPTU, err = num(1, 1, 1e9); err != nil {
		return err
	}
	if m.OutputRatio, err = num(2, 0, 1000); err != nil {
		return err
	}
	for c, v := range []*int{&m.GlobalMin, &m.GlobalIncrement, &m.RegionalMin, &m.RegionalIncrement} {
		if *v, err = count(3 + c); err != nil {
			return err
		}
	}
	if m.LatencyTPS, err = num(7, 0, 1e6); err != nil {
		return err
	}
	p.t.Models = append(p.t.Models, m)
	return nil
}

// Load reads a table from a file (--ptu-table).
func Load(path string) (*Table, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, bytes.NewReader(b))
}

// defaultTable parses the embedded table once; it never changes after.
var defaultTable = sync.OnceValues(func() (*Table, error) {
	return Parse(DefaultFile, bytes.NewReader(published))
})

// Default returns the embedded table of published figures.
func Default() *Table {
	t, err := defaultTable()
	if err != nil {
		// The embedded file is tested: this is a broken build.
		panic("ptu: the embedded " + DefaultFile + ": " + err.Error())
	}
	return t
}

// Lookup returns the figures of a model or Azure model-version name:
// the longest model of the table that the name is, or that it starts
// with followed by a version (gpt-4o-2024-08-06 is gpt-4o; gpt-5-nano is
// not gpt-5, whose figures are not its own).
func (t *Table) Lookup(name string) (Model, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	best := -1
	for i, m := range t.Models {
		rest, ok := strings.CutPrefix(n, m.Name)
		if !ok || !isVersion(rest) {
			continue
		}
		if best < 0 || len(m.Name) > len(t.Models[best].Name) {
			best = i
		}
	}
	if best < 0 {
		return Model{}, false
	}
	return t.Models[best], true
}

// isVersion reports whether rest, what follows a model's name, is empty
// or a version: a separator and a digit (-2024-08-06, :1).
func isVersion(rest string) bool {
	return rest == "" || len(rest) >= 2 && strings.ContainsRune("-_.:@", rune(rest[0])) && rest[1] >= '0' && rest[1] <= '9'
}

// Names lists the table's models, for a message.
func (t *Table) Names() string {
	var n []string
	for _, m := range t.Models {
		n = append(n, m.Name)
	}
	return strings.Join(n, ", ")
}

// Source is the sentence of the table's comments that names its source
// (from "Source:" to the first full stop), or the file's name.
func (t *Table) Source() string {
	all := strings.Join(t.Notes, " ")
	i := strings.Index(strings.ToLower(all), "source:")
	if i < 0 {
		return t.File
	}
	s := all[i:]
	if j := strings.Index(s, ". "); j >= 0 {
		s = s[:j+1]
	}
	return s
}
