package cookiesession

import (
	"bytes"
	"encoding/base64"
	"testing"
	"unicode/utf8"
)

// FuzzDecodePayload checks the cookie value decoder on any input (its
// base64 and UTF-8 steps are internal/jsbuf's, fuzzed there): no panic,
// valid UTF-8 for JSON.parse, and a session that decodes encodes to a
// value that decodes to the same session.
func FuzzDecodePayload(f *testing.F) {
	for _, seed := range []string{
		"", "e30=", "e30", "e3 0=", "eyJhIjoxfQ", "QQ=QQ", "-_-_", "4py", "ĽQQ", "Q😀Q",
		aliceValue, aliceValue[:20] + "!." + aliceValue[20:],
		base64.StdEncoding.EncodeToString([]byte(`{"a":"\ud800","b":[1,{"2":1,"1":2}],"__proto__":1}`)),
		base64.StdEncoding.EncodeToString([]byte("{\"a\":\"\xff\xe2\x82x\"}")),
	} {
		f.Add(seed)
	}
	m := newTest(f, Config{})
	f.Fuzz(func(t *testing.T, v string) {
		if !utf8.Valid(decodePayload(v)) {
			t.Fatalf("invalid UTF-8 from %q", v)
		}
		s, err := m.LoadID(t.Context(), v)
		if err != nil {
			return
		}
		enc, err := encodeNode(s.Record)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		again, err := m.LoadID(t.Context(), base64.StdEncoding.EncodeToString(enc))
		if err != nil {
			t.Fatalf("re-decoding %s: %v", enc, err)
		}
		if enc2, _ := encodeNode(again.Record); !bytes.Equal(enc, enc2) {
			t.Fatalf("not stable: %s then %s", enc, enc2)
		}
	})
}
