package sessionjson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// FuzzDecode feeds arbitrary bytes to Decode: no panic; only typed errors;
// an accepted record encodes unchanged byte-for-byte, and after a rewrite
// decode -> encode -> decode -> encode is stable and valid JSON.
func FuzzDecode(f *testing.F) {
	var fx recordFixtures
	nodetest.Fixture(f, "records.json", &fx)
	for _, r := range fx.Records {
		f.Add([]byte(r.JSON))
	}
	for _, l := range fx.Loads {
		if l.Args.Record != nil {
			f.Add([]byte(*l.Args.Record))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := sessionjson.Decode(data)
		if err != nil {
			if !errors.Is(err, sessionjson.ErrMalformed) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		out, err := s.Encode()
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("unchanged record changed: %q -> %q (%v)", data, out, err)
		}
		s.Touch(time.UnixMilli(1795000000000))
		_ = s.Set("fuzz", 1)
		once, err := s.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(once) {
			t.Fatalf("invalid JSON written: %q", once)
		}
		s2, err := sessionjson.Decode(once)
		if err != nil {
			t.Fatalf("cannot decode own output %q: %v", once, err)
		}
		_ = s2.Set("fuzz", 1)
		twice, _ := s2.Encode()
		if !bytes.Equal(once, twice) {
			t.Fatalf("not stable:\n%q\n%q", once, twice)
		}
	})
}
