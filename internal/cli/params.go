package cli

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/aoaibench/aoaibench/internal/plan"
)

// paramFlag maps a key of the lab's benchmark.parameters to the load flag
// it sets ("" for keys that set no flag), and reports whether it is known.
func paramFlag(key string) (string, bool) {
	switch key {
	case "AOAI_ENDPOINT":
		return "endpoint", true
	case "AOAI_DEPLOYMENT":
		return "deployment", true
	case "CONTEXT_TOKENS":
		return "context-tokens", true
	case "MAX_TOKENS":
		return "max-tokens", true
	case "RETRY", "RATE", "DURATION":
		return strings.ToLower(key), true
	case "OPENAI_API_KEY", "TEST_NAME", "ERROR_FILE":
		return "", true
	}
	return "", false
}

// readParams reads a shell-style parameters file: KEY=VALUE lines, with an
// optional "export ", quotes, blank lines and # comments.
func readParams(path string) (map[string]string, []string, map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, usagef("--params: %v", err)
	}
	defer f.Close()
	vals, lines := map[string]string{}, map[string]int{}
	var order []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff") // a Windows editor's byte order mark
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimSpace(strings.TrimPrefix(line, "export "))
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, nil, nil, usagef("--params %s:%d: want KEY=VALUE, got %q", path, n, sc.Text())
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		} else if i := strings.Index(v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		if _, seen := vals[k]; !seen {
			order = append(order, k)
		}
		vals[k], lines[k] = v, n
	}
	if err := sc.Err(); err != nil {
		return nil, nil, nil, usagef("--params: %v", err)
	}
	return vals, order, lines, nil
}

// applyParams fills the load command from a parameters file; flags typed
// on the command line win (kong marks defaulted flags as set too, so the
// typed set comes from the parsed path). It keeps the file's API key,
// never printed, and returns notes for stderr.
func (c *LoadFlags) applyParams(typed map[string]bool) (notes []string, err error) {
	vals, order, lines, err := readParams(c.Params)
	if err != nil {
		return nil, err
	}
	pf := &paramsFile{path: c.Params, vals: vals, lines: lines}
	for _, k := range order {
		v := vals[k]
		flag, known := paramFlag(k)
		if !known {
			pf.notes = append(pf.notes, fmt.Sprintf("warning: --params %s: unknown key %s ignored", c.Params, k))
			continue
		}
		if strings.Contains(v, "[replace") || (strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]")) {
			return nil, usagef("--params %s:%d: %s still holds the template's placeholder %q", c.Params, lines[k], k, v)
		}
		if flag != "" && (typed[flag] || (flag == "endpoint" && c.Endpoint != "")) {
			continue // the command line wins
		}
		if err := c.applyParam(pf, k, typed); err != nil {
			return nil, err
		}
	}
	if pf.testName != "" {
		if !typed["output-dir"] {
			c.OutputDir = pf.testName
		}
		if !typed["log-file"] {
			c.LogFile = pf.testName + ".log"
		}
	}
	return pf.notes, nil
}

// paramsFile is a parameters file being applied: its values and their
// lines, and what applying them found.
type paramsFile struct {
	path     string
	vals     map[string]string
	lines    map[string]int
	notes    []string // for stderr
	testName string   // TEST_NAME, when given
}

// bad is the error of key k's value, which is not what it should be.
func (pf *paramsFile) bad(k, want string) error {
	return usagef("--params %s:%d: %s=%q is not %s", pf.path, pf.lines[k], k, pf.vals[k], want)
}

// applyParam applies the file's key k, one the command line left to it.
func (c *LoadFlags) applyParam(pf *paramsFile, k string, typed map[string]bool) error {
	v := pf.vals[k]
	switch k {
	case "OPENAI_API_KEY":
		if !typed["api-key-env"] {
			c.fileKey = v
		}
	case "TEST_NAME":
		// A name: the run's directory and NAME.log go where the lab
		// is run, as the original's logs/NAME did.
		if v == "." || v == ".." || strings.ContainsAny(v, `/\`) {
			return pf.bad(k, "a name (the run's directory and NAME.log are made here; give --output-dir for another place)")
		}
		pf.testName = v
	case "ERROR_FILE":
		pf.notes = append(pf.notes, fmt.Sprintf("note: --params %s: ERROR_FILE is ignored: failures are in the run's requests.jsonl", pf.path))
	case "AOAI_ENDPOINT":
		c.Endpoint = v
	case "AOAI_DEPLOYMENT":
		c.Deployment = v
	case "CONTEXT_TOKENS", "MAX_TOKENS":
		n, err := strconv.Atoi(v)
		if err != nil {
			return pf.bad(k, "a whole number")
		}
		if k == "CONTEXT_TOKENS" {
			c.ContextTokens = &n
		} else {
			c.MaxTokens = &n
		}
		if !typed["shape-profile"] {
			c.ShapeProfile = "custom"
		}
	case "RETRY":
		if v != "none" && v != "exponential" {
			return pf.bad(k, "none or exponential")
		}
		c.Retry = plan.Retry(v)
	case "RATE":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return pf.bad(k, "a number of requests per minute")
		}
		c.Rate = &f
	case "DURATION":
		d, err := plan.ParseDuration(v)
		if err != nil {
			return pf.bad(k, "a duration (seconds, or e.g. 3m)")
		}
		c.Duration = d
	}
	return nil
}
