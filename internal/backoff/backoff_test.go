package backoff

import (
	"context"
	"errors"
	"testing"
)

func TestWaitHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// At attempt 40 the wait is capped at 10 ms, and a done ctx ends it.
	for _, attempt := range []int{1, 5, 40} {
		if err := Wait(ctx, attempt); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
	}
	if err := Wait(context.Background(), 40); err != nil {
		t.Fatal(err)
	}
}
