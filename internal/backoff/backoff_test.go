package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWaitHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, attempt := range []int{1, 5, 40} {
		if err := Wait(ctx, attempt); !errors.Is(err, context.Canceled) {
			t.Fatalf("attempt %d with a canceled context: %v, want context.Canceled", attempt, err)
		}
	}
}

// TestWaitCapped: uncapped, attempt 40 would wait up to 250 µs * 2^15
// (about 8 s); the cap is 10 ms.
func TestWaitCapped(t *testing.T) {
	start := time.Now()
	for range 5 {
		if err := Wait(context.Background(), 40); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("5 waits at attempt 40 took %v, want at most about 50 ms", d)
	}
}
