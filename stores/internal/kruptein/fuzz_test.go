package kruptein_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sessionbridge/sessionbridge/stores/internal/kruptein"
)

// FuzzOpen: Open never panics, answers one of its sentinels, never echoes
// the secret, and whatever it accepts IsRecord accepts too.
func FuzzOpen(f *testing.F) {
	// One PBKDF2 iteration: the same code paths, at a cost the fuzzing
	// instrumentation can afford.
	c := mustCipher(f, secret, kruptein.Cheap(kruptein.V30))
	c31 := mustCipher(f, secret, kruptein.Cheap(kruptein.V31))
	for _, pt := range []string{"", `"{\"cookie\":{}}"`, "é"} {
		s, _ := c.Seal([]byte(pt))
		f.Add([]byte(s), 100)
		s, _ = c31.Seal([]byte(pt))
		f.Add([]byte(s), 100)
	}
	s, _ := c.Seal([]byte(`"x"`))
	f.Add([]byte(strings.TrimRight(s, "=")), -1)
	f.Add([]byte(kruptein.SealWith(c, []byte("x"), 16, []byte{1})), 1)
	f.Add([]byte("MIIB"), 0)
	f.Add([]byte(""), 0)
	f.Add([]byte("MAA="), 10) // an empty SEQUENCE
	f.Fuzz(func(t *testing.T, field []byte, limit int) {
		for _, ci := range []*kruptein.Cipher{c, c31} {
			pt, err := ci.Open(field, limit)
			if err != nil {
				if !errors.Is(err, kruptein.ErrMalformed) && !errors.Is(err, kruptein.ErrDecrypt) && !errors.Is(err, kruptein.ErrTooLarge) {
					t.Fatalf("unexpected error %v", err)
				}
				if strings.Contains(err.Error(), secret) {
					t.Fatal("error shows the secret")
				}
				continue
			}
			if limit >= 0 && len(pt) > limit {
				t.Fatalf("plaintext of %d bytes over the limit %d", len(pt), limit)
			}
			if !kruptein.IsRecord(field) {
				t.Fatal("Open accepted what IsRecord refuses")
			}
		}
	})
}
