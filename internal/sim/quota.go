package sim

import (
	"time"

	"github.com/aoaibench/aoaibench/internal/simconfig"
)

// verdict is an admission decision.
type verdict struct {
	ok     bool
	reason string        // "tokens", "requests" or "utilization" when not ok
	after  time.Duration // when capacity returns, for retry-after-ms
}

// standard enforces a pay-as-you-go quota as Azure does: tokens per minute,
// estimated at admission as prompt + max_tokens, over a sliding minute of
// one-second buckets; and requests per minute over sub-windows of 1 s (or
// 10 s when the limit is under one request a second). Throttled requests
// count toward the request limit, as on Azure. Not safe for concurrent use.
type standard struct {
	tpm     int
	rpm     int
	buckets [60]int64 // tokens admitted in each second of the last minute
	sec     int64     // the second buckets[sec%60] belongs to
	sum     int64     // tokens in the window
	reqWin  time.Duration
	reqMax  int
	calls   []time.Time // arrivals in the current request sub-window
	epoch   time.Time
}

func newStandard(tpm int, rpmPer1K float64, epoch time.Time) *standard {
	s := &standard{tpm: tpm, epoch: epoch}
	_, s.rpm = simconfig.Deployment{TPM: tpm, RPMPer1K: rpmPer1K}.Quota()
	if s.rpm > 0 {
		if s.rpm >= 60 {
			s.reqWin, s.reqMax = time.Second, s.rpm/60
		} else {
			s.reqWin, s.reqMax = 10*time.Second, max(s.rpm/6, 1)
		}
	}
	return s
}

// advance moves the token window to the second containing now.
func (s *standard) advance(now time.Time) int64 {
	cur := int64(now.Sub(s.epoch) / time.Second)
	if cur-s.sec >= 60 {
		s.buckets, s.sum = [60]int64{}, 0
	} else {
		for sec := s.sec + 1; sec <= cur; sec++ {
			s.sum -= s.buckets[sec%60]
			s.buckets[sec%60] = 0
		}
	}
	if cur > s.sec {
		s.sec = cur
	}
	return cur
}

// admit decides on a request estimated at est tokens.
func (s *standard) admit(now time.Time, est int) verdict {
	if s.tpm <= 0 {
		return verdict{ok: true}
	}
	cur := s.advance(now)
	// Requests: every arrival counts, admitted or not.
	if s.reqMax > 0 {
		k := 0
		for k < len(s.calls) && now.Sub(s.calls[k]) >= s.reqWin {
			k++
		}
		s.calls = append(s.calls[:0], s.calls[k:]...)
		s.calls = append(s.calls, now)
		if len(s.calls) > s.reqMax {
			// Capacity returns when the oldest counted call leaves the
			// sub-window.
			idx := len(s.calls) - 1 - s.reqMax
			return verdict{reason: "requests", after: s.calls[idx].Add(s.reqWin).Sub(now)}
		}
	}
	if s.sum+int64(est) > int64(s.tpm) {
		// Capacity returns when enough of the oldest seconds expire.
		need := s.sum + int64(est) - int64(s.tpm)
		var freed int64
		for sec := cur - 59; sec <= cur; sec++ {
			freed += s.buckets[(sec%60+60)%60]
			if freed >= need {
				at := s.epoch.Add(time.Duration(sec+60) * time.Second)
				return verdict{reason: "tokens", after: max(at.Sub(now), time.Millisecond)}
			}
		}
		// One request larger than the whole quota never fits.
		return verdict{reason: "tokens", after: time.Minute}
	}
	s.buckets[cur%60] += int64(est)
	s.sum += int64(est)
	return verdict{ok: true}
}

// remaining returns the requests and tokens left in the current windows.
func (s *standard) remaining(now time.Time) (reqs, tokens int) {
	s.advance(now)
	reqs = -1
	if s.reqMax > 0 {
		n := 0
		for _, c := range s.calls {
			if now.Sub(c) < s.reqWin {
				n++
			}
		}
		reqs = max(s.reqMax-n, 0) * int(time.Minute/s.reqWin)
	}
	return reqs, max(int(int64(s.tpm)-s.sum), 0)
}
