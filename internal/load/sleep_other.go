//go:build !linux

package load

import (
	"context"
	"time"
)

// PreciseSleep is TimerSleep on systems where nanosleep is not used.
func PreciseSleep(ctx context.Context, stop <-chan struct{}, due time.Time) bool {
	return TimerSleep(ctx, stop, due)
}
