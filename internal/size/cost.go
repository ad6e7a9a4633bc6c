package size

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// HoursPerMonth is the month Azure prices by.
const HoursPerMonth = 730

// Cost is what the answer costs a month, from the prices the user gave:
// the input's traffic repeated for a month (Scale times its span).
type Cost struct {
	HoursPerMonth float64 `json:"hours_per_month"`
	// Scale is how many of the input's spans make a month.
	Scale  float64 `json:"scale"`
	Prices Prices  `json:"prices"`
	// PTU is the replay's answer, reserved: with --ptu-hourly.
	PTU *PTUCost `json:"ptu,omitempty"`
	// PayGo is the same tokens at pay-as-you-go prices: with
	// --price-input and --price-output.
	PayGo *PayGoCost `json:"paygo,omitempty"`
	// Spillover is the cheapest PTU count whose refused requests go to a
	// standard deployment: with --spillover and all the prices.
	Spillover *MixCost `json:"spillover,omitempty"`
	// Cheapest names the cheapest of those given: ptu, paygo or
	// spillover.
	Cheapest string   `json:"cheapest,omitempty"`
	Notes    []string `json:"notes"`
}

// PTUCost is a count of PTUs for a month.
type PTUCost struct {
	PTU     int     `json:"ptu"`
	Hourly  float64 `json:"ptu_hourly"`
	Monthly float64 `json:"monthly"`
}

// PayGoCost is tokens at pay-as-you-go prices for a month.
type PayGoCost struct {
	// Tokens a month: the prompt's uncached and cached parts, and output.
	Uncached float64 `json:"uncached_tokens"`
	Cached   float64 `json:"cached_tokens"`
	Output   float64 `json:"output_tokens"`
	Monthly  float64 `json:"monthly"`
}

// MixCost is a PTU count with its refused requests spilled over to a
// standard deployment, for a month.
type MixCost struct {
	PTU        int       `json:"ptu"`
	PTUMonthly float64   `json:"ptu_monthly"`
	Spilled    PayGoCost `json:"spilled"`
	Monthly    float64   `json:"monthly"`
	// Tried are the counts whose mix was priced.
	Tried []int `json:"tried"`
}

// checkPrices refuses a price that is not a price, or one without the
// others it needs.
func checkPrices(p Prices) error {
	for _, c := range []struct {
		flag string
		v    *float64
	}{{"--ptu-hourly", p.PTUHourly}, {"--price-input", p.Input}, {"--price-cached", p.Cached}, {"--price-output", p.Output}} {
		if c.v != nil && (!(*c.v >= 0) || *c.v > 1e6) {
			return bad("%s must be a price from 0 to 1000000, got %g", c.flag, *c.v)
		}
	}
	switch {
	case (p.Input == nil) != (p.Output == nil):
		return bad("--price-input and --price-output go together: pay-as-you-go bills both")
	case p.Cached != nil && p.Input == nil:
		return bad("--price-cached needs --price-input and --price-output")
	}
	return nil
}

// cost prices the answer, when prices were given (nil when none was).
func cost(s *search, res *Result, p Prices, spillover bool) *Cost {
	if p.PTUHourly == nil && p.Input == nil {
		return nil
	}
	c := &Cost{HoursPerMonth: HoursPerMonth, Prices: p, Notes: []string{}}
	c.Scale = HoursPerMonth * float64(time.Hour) / (res.SpanSeconds * float64(time.Second))
	c.Notes = append(c.Notes, fmt.Sprintf("tokens a month are the input's over its %s, %.4g times: its traffic all month long", time.Duration(res.SpanSeconds*float64(time.Second)).Round(time.Second), c.Scale))
	pr := pricer{p: p, scale: c.Scale}
	paygo := p.Input != nil && p.Output != nil
	if paygo {
		pr.cached = *p.Input
		if p.Cached != nil {
			pr.cached = *p.Cached
		} else if res.Formula.CacheRate > 0 {
			c.Notes = append(c.Notes, "cached tokens are priced at --price-input: no --price-cached was given")
		}
	}
	best, cheapest := math.Inf(1), ""
	if p.PTUHourly != nil {
		c.PTU = &PTUCost{PTU: res.Replay.PTU, Hourly: *p.PTUHourly, Monthly: pr.ptus(res.Replay.PTU)}
		best, cheapest = c.PTU.Monthly, "ptu"
		if res.MaxThrottled > 0 && !spillover {
			c.Notes = append(c.Notes, "the PTU cost serves all but the --max-throttled share; the refused requests are priced only with --spillover")
		}
	}
	if paygo {
		var all Tokens
		for _, r := range s.reqs {
			all.Prompt += int64(r.Prompt)
			all.Cached += int64(r.Cached)
			all.Output += int64(r.Output)
		}
		g := pr.tokens(all)
		c.PayGo = &g
		if g.Monthly < best {
			best, cheapest = g.Monthly, "paygo"
		}
	}
	if spillover && paygo && p.PTUHourly != nil {
		c.Spillover = pr.cheapestMix(s, res.Replay.PTU)
		if c.Spillover.Monthly < best {
			cheapest = "spillover"
		}
	} else if spillover {
		c.Notes = append(c.Notes, "the cheapest count with spillover needs --ptu-hourly, --price-input and --price-output")
	}
	c.Cheapest = cheapest
	return c
}

// pricer prices a month of PTUs and of tokens, from the user's prices.
type pricer struct {
	p      Prices
	scale  float64 // the input's spans in a month
	cached float64 // the price of a million cached tokens
}

// tokens prices the input's tokens t, scaled to a month, at
// pay-as-you-go prices.
func (pr pricer) tokens(t Tokens) PayGoCost {
	p := pr.p
	g := PayGoCost{Uncached: float64(t.Prompt-t.Cached) * pr.scale, Cached: float64(t.Cached) * pr.scale, Output: float64(t.Output) * pr.scale}
	g.Monthly = round((g.Uncached**p.Input+g.Cached*pr.cached+g.Output**p.Output)/1e6, 2)
	g.Uncached, g.Cached, g.Output = math.Round(g.Uncached), math.Round(g.Cached), math.Round(g.Output)
	return g
}

// ptus prices n PTUs for a month.
func (pr pricer) ptus(n int) float64 { return round(float64(n)**pr.p.PTUHourly*HoursPerMonth, 2) }

// cheapestMix finds the PTU count whose month, with what it refuses
// spilled over at pay-as-you-go prices, costs least. answer is the
// replay's answer.
func (pr pricer) cheapestMix(s *search, answer int) *MixCost {
	// The mix costs the PTUs and what they refuse, at pay-as-you-go
	// prices. The cheapest is no dearer than the least count's or the
	// answer's, so its PTUs alone cost no more than those: that bounds
	// the counts to search, and so does the least count that refuses
	// nothing (beyond it PTUs only cost more). Between, by golden-section
	// search, for the cost falls then rises; each count is replayed once.
	tried := map[int]bool{}
	mix := func(k int) float64 {
		tried[k] = true
		return pr.ptus(s.count(k)) + pr.tokens(s.probe(k).Refused).Monthly
	}
	ans := s.index(answer)
	hi := ans
	if perPTU := *pr.p.PTUHourly * HoursPerMonth; perPTU > 0 {
		hi = max(s.index(int(min(mix(0), mix(ans))/perPTU)), 0)
	} else {
		hi = s.top
	}
	if hi > ans && s.probe(ans).Throttled > 0 {
		hi = min(hi, s.leastMeeting(ans, 0))
	}
	hi = min(hi, s.top)
	k := goldenMin(0, hi, mix)
	st := s.probe(k)
	m := &MixCost{PTU: st.PTU, PTUMonthly: pr.ptus(st.PTU), Spilled: pr.tokens(st.Refused)}
	m.Monthly = round(m.PTUMonthly+m.Spilled.Monthly, 2)
	for j := range tried {
		m.Tried = append(m.Tried, s.count(j))
	}
	slices.Sort(m.Tried)
	return m
}

// goldenMin returns the k in [lo, hi] where f is least, for an f that
// falls then rises: golden-section search, each step reusing one of the
// last step's points, then a scan of the last few.
func goldenMin(lo, hi int, f func(int) float64) int {
	const r = 0.6180339887498949
	for hi-lo > 4 {
		c := hi - int(math.Round(r*float64(hi-lo)))
		d := lo + int(math.Round(r*float64(hi-lo)))
		if c >= d {
			break
		}
		if f(c) <= f(d) {
			hi = d
		} else {
			lo = c
		}
	}
	k := lo
	for j := lo + 1; j <= hi; j++ {
		if f(j) < f(k) {
			k = j
		}
	}
	return k
}
