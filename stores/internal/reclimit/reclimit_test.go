package reclimit

import (
	"errors"
	"testing"

	"github.com/sessionbridge/sessionbridge/sessionjson"
)

func TestOf(t *testing.T) {
	for max, want := range map[int]int{0: sessionjson.DefaultMaxBytes, -1: -1, -7: -1, 1: 1, 1000: 1000} {
		if got := Of(sessionjson.Decoder{MaxBytes: max}); got != want {
			t.Errorf("Of(MaxBytes %d) = %d, want %d", max, got, want)
		}
	}
}

func TestError(t *testing.T) {
	for err, want := range map[error]string{
		Error("xstore", int64(1001), 1000): "xstore: " + sessionjson.ErrTooLarge.Error() + ": 1001 bytes, limit 1000",
		Error("xstore", -1, int32(1000)):   "xstore: " + sessionjson.ErrTooLarge.Error() + ": more than 1000 bytes",
	} {
		if !errors.Is(err, sessionjson.ErrTooLarge) {
			t.Errorf("%v does not wrap ErrTooLarge", err)
		}
		if err.Error() != want {
			t.Errorf("got %q, want %q", err, want)
		}
	}
}
