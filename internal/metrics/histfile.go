package metrics

import (
	"fmt"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// HistFile is histograms.json: the run's HDR histograms themselves, each
// in the standard V2 compressed encoding (base64, readable by any
// HdrHistogram library), so that runs and shards merge exactly instead of
// by averaging percentiles. Latencies are in microseconds; tokens per
// second and utilization in thousandths.
type HistFile struct {
	Schema     int               `json:"schema"`
	Latency    map[string]string `json:"latency"`
	TokensPerS string            `json:"tokens_per_s"`
	Util       string            `json:"util"`
	// Kinds are the distributions of each answer kind (ttft, tpot, e2e),
	// when the run's results have Answers.
	Kinds map[AnswerKind]map[string]string `json:"kinds,omitempty"`
}

// Merge adds o's values to h. Both must be of the same kind (durations or
// rates).
func (h *Hist) Merge(o *Hist) { h.h.Merge(o.h) }

func (h *Hist) encode() (string, error) {
	b, err := h.h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	return string(b), err
}

func decodeInto(h *Hist, s string) error {
	if s == "" {
		return nil
	}
	d, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		return err
	}
	if dropped := h.h.Merge(d); dropped > 0 {
		return fmt.Errorf("%d values out of range", dropped)
	}
	return nil
}

// HistFile returns the summary's histograms for histograms.json.
func (s *Summary) HistFile() (*HistFile, error) {
	f := &HistFile{Schema: Schema, Latency: map[string]string{}}
	for _, name := range Dists {
		enc, err := s.Hists[name].encode()
		if err != nil {
			return nil, fmt.Errorf("histogram %s: %w", name, err)
		}
		f.Latency[name] = enc
	}
	var err error
	if f.TokensPerS, err = s.TokensPerSec.encode(); err != nil {
		return nil, fmt.Errorf("histogram tokens_per_s: %w", err)
	}
	if f.Util, err = s.Util.encode(); err != nil {
		return nil, fmt.Errorf("histogram util: %w", err)
	}
	if f.Kinds, err = s.answers.histFile(); err != nil {
		return nil, err
	}
	return f, nil
}

// AddHistFile merges a histograms.json into the summary's histograms.
func (s *Summary) AddHistFile(f *HistFile) error {
	for name, enc := range f.Latency {
		h, ok := s.Hists[name]
		if !ok {
			continue // a distribution this version does not know
		}
		if err := decodeInto(h, enc); err != nil {
			return fmt.Errorf("histogram %s: %w", name, err)
		}
	}
	if err := decodeInto(s.TokensPerSec, f.TokensPerS); err != nil {
		return fmt.Errorf("histogram tokens_per_s: %w", err)
	}
	if err := decodeInto(s.Util, f.Util); err != nil {
		return fmt.Errorf("histogram util: %w", err)
	}
	return s.answers.addHistFile(f.Kinds)
}
