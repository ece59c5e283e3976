package kruptein_test

import (
	"testing"

	"github.com/sessionbridge/sessionbridge/stores/internal/kruptein"
)

var benchRecord = []byte(`"{\"cookie\":{\"originalMaxAge\":3600000,\"expires\":\"2026-12-01T22:28:42.905Z\",\"httpOnly\":true,\"path\":\"/\"},\"passport\":{\"user\":7}}"`)

// BenchmarkOpen reads one record again and again, as every request of a
// session does: with the key cache (one PBKDF2 derivation in all) and
// without it (one per read).
func BenchmarkOpen(b *testing.B) {
	for _, f := range formats {
		c := mustCipher(b, secret, f)
		field, _ := c.Seal(benchRecord)
		for name, ci := range map[string]*kruptein.Cipher{"cached": c, "uncached": kruptein.WithoutCache(c)} {
			b.Run(f.String()+"/"+name, func(b *testing.B) {
				for b.Loop() {
					if _, err := ci.Open([]byte(field), -1); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkSeal: every write draws a fresh salt, so it derives a key.
func BenchmarkSeal(b *testing.B) {
	for _, f := range formats {
		c := mustCipher(b, secret, f)
		b.Run(f.String(), func(b *testing.B) {
			for b.Loop() {
				if _, err := c.Seal(benchRecord); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
