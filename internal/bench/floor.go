package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// FloorResult is what the floor client measured.
type FloorResult struct {
	Sent    int       `json:"sent"`
	OK      int       `json:"ok"`
	LagP50  float64   `json:"lag_p50"`
	LagP99  float64   `json:"lag_p99"`
	LagMax  float64   `json:"lag_max"`
	TTFTP50 float64   `json:"ttft_p50"`
	Elapsed float64   `json:"elapsed"`
	Start   time.Time `json:"start"`
}

// Floor is the least a streaming load client can do: send open loop at
// rpm for d, read each stream, stamp the first content byte, nothing else.
// Its CPU per request is the floor aoaibench is compared with.
func Floor(url string, rpm float64, d time.Duration) (FloorResult, error) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100000, DisableCompression: true}}
	body := []byte(`{"messages":[{"role":"user","content":"time year people way day"}],"max_tokens":50,"stream":true}`)
	marker := []byte(`"content":" `)
	var mu sync.Mutex
	var lags, ttfts []time.Duration
	ok := 0
	var wg sync.WaitGroup
	start := time.Now()
	n := 0
	for ; ; n++ {
		due := start.Add(time.Duration(float64(n) * 60e9 / rpm))
		if due.Sub(start) >= d {
			break
		}
		time.Sleep(time.Until(due))
		wg.Go(func() {
			sent := time.Now()
			resp, err := hc.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				return
			}
			defer resp.Body.Close()
			var first time.Time
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if first.IsZero() && bytes.Contains(sc.Bytes(), marker) {
					first = time.Now()
				}
			}
			mu.Lock()
			defer mu.Unlock()
			lags = append(lags, sent.Sub(due))
			if !first.IsZero() && resp.StatusCode == 200 {
				ok++
				ttfts = append(ttfts, first.Sub(sent))
			}
		})
	}
	wg.Wait()
	if len(lags) == 0 {
		return FloorResult{}, fmt.Errorf("floor client: no request got an answer from %s", url)
	}
	slices.Sort(lags)
	slices.Sort(ttfts)
	q := func(v []time.Duration, p float64) float64 {
		if len(v) == 0 {
			return 0
		}
		return v[min(int(p*float64(len(v))), len(v)-1)].Seconds()
	}
	return FloorResult{Sent: n, OK: ok, LagP50: q(lags, 0.5), LagP99: q(lags, 0.99), LagMax: lags[len(lags)-1].Seconds(),
		TTFTP50: q(ttfts, 0.5), Elapsed: time.Since(start).Seconds(), Start: start}, nil
}
