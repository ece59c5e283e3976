// Package backoff spaces the retries of a conditional write that met a
// concurrent writer.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Wait waits before the given retry (1 for the first): a random time below
// 250 µs * 2^(attempt-1), at most 10 ms, so that a writer changing the
// same record at a steady pace does not meet every attempt in step. It
// returns ctx's error if ctx ends first, at once if it already has.
func Wait(ctx context.Context, attempt int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	limit := min(250*time.Microsecond<<(min(attempt, 16)-1), 10*time.Millisecond)
	t := time.NewTimer(rand.N(limit))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
