package jsbuf

import (
	"bytes"
	"encoding/base64"
	"testing"
	"unicode/utf8"
)

// FuzzBase64 checks Base64 on any string: no panic, no more output than
// Node's bound, and every canonical encoding of the input decoded back
// exactly.
func FuzzBase64(f *testing.F) {
	for _, seed := range []string{"", "e30=", "e30", "e3 0=", "eyJhIjoxfQ", "QQ=QQ", "-_-_", "4py", "ĽQQ", "Q😀Q", "QUŁB", "Q\xffQ"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		raw := Base64(v)
		if len(raw) > len(v)*3/4+2 {
			t.Fatalf("%d bytes from %d characters", len(raw), len(v))
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if got := Base64(enc.EncodeToString([]byte(v))); !bytes.Equal(got, []byte(v)) {
				t.Fatalf("round trip of %q: %q", v, got)
			}
		}
	})
}

// FuzzLossyUTF8 checks the UTF-8 repair on any bytes: valid output, valid
// input unchanged, repair idempotent, WellFormed the same as
// AppendLossyUTF8, and no more than three bytes out per byte in.
func FuzzLossyUTF8(f *testing.F) {
	for _, seed := range []string{"", "{}", "\uFEFF", "\xff\xe2\x82A\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xf0\x9f\x98", "\xf0\x9f\x98\x80\xe0\xa0\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf\xc2"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out := AppendLossyUTF8(nil, b)
		switch {
		case !utf8.Valid(out):
			t.Fatalf("invalid UTF-8 from %x", b)
		case utf8.Valid(b) && !bytes.Equal(out, b):
			t.Fatalf("valid UTF-8 changed: %x", b)
		case !bytes.Equal(AppendLossyUTF8(nil, out), out):
			t.Fatalf("not idempotent: %x", b)
		case !bytes.Equal(WellFormed(b), out):
			t.Fatalf("WellFormed differs: %x", b)
		case len(out) > 3*len(b):
			t.Fatalf("%d bytes from %d", len(out), len(b))
		}
	})
}
