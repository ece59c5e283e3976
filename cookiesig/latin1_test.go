package cookiesig_test

import (
	"errors"
	"math/rand/v2"
	"testing"
	"unicode/utf8"

	"github.com/sessionbridge/sessionbridge/cookiesig"
)

// TestLatin1Vectors pins how a Cookie header's raw bytes are read: as Node
// reads them, latin1, one character per byte, with the HMAC over the UTF-8
// of the resulting string and the id returned as that UTF-8.
func TestLatin1Vectors(t *testing.T) {
	const secret = "keyboard cat"
	s, _ := cookiesig.NewSigner(secret)
	sig := func(v string) string { return sigOf(v, secret) }
	for _, tc := range []struct {
		what, header, name string
		want               string // "" for a refusal
		err                error
	}{
		{"raw latin1 byte, signed as Node signs", "connect.sid=s:ab\xe9." + sig("abé"), "connect.sid", "abé", nil},
		{"raw latin1 byte, signature over the raw bytes", "connect.sid=s:ab\xe9." + sig("ab\xe9"), "connect.sid", "", cookiesig.ErrBadSignature},
		{"fast path shape with a raw byte", "connect.sid=s%3Aab\xe9." + cookiesig.EncodeURIComponent(sig("abé")), "connect.sid", "abé", nil},
		{"fast path shape, signature over the raw bytes", "connect.sid=s%3Aab\xe9." + cookiesig.EncodeURIComponent(sig("ab\xe9")), "connect.sid", "", cookiesig.ErrBadSignature},
		{"raw UTF-8 is two latin1 characters for Node", "connect.sid=s:ab\xc3\xa9." + sig("abÃ©"), "connect.sid", "abÃ©", nil},
		{"raw UTF-8, signature over the UTF-8 reading", "connect.sid=s:ab\xc3\xa9." + sig("abé"), "connect.sid", "", cookiesig.ErrBadSignature},
		{"raw byte next to escapes", "connect.sid=s:\xe9%C3%A9." + sig("éé"), "connect.sid", "éé", nil},
		{"U+FFFD escaped", "connect.sid=s%3Aab%EF%BF%BD." + cookiesig.EncodeURIComponent(sig("ab\ufffd")), "connect.sid", "ab\ufffd", nil},
		{"U+FFFD as raw bytes is three latin1 characters", "connect.sid=s:ab\xef\xbf\xbd." + sig("ab\ufffd"), "connect.sid", "", cookiesig.ErrBadSignature},
		{"latin1 name by its latin1 byte", "s\xefd=" + s.CookieValue("sid1"), "sïd", "sid1", nil},
		{"latin1 name written as UTF-8 is another name", "s\xc3\xafd=" + s.CookieValue("sid1"), "sïd", "", cookiesig.ErrNoCookie},
		{"a name above U+00FF matches nothing", "s\xe2\x82\xacd=" + s.CookieValue("sid1"), "s€d", "", cookiesig.ErrNoCookie},
		{"a raw byte before s: is not the prefix", "connect.sid=\xe9s:abc." + sig("abc"), "connect.sid", "", cookiesig.ErrNotSigned},
		{"raw bytes in the signature", "connect.sid=s:abc." + sig("abc")[:42] + "\xe9", "connect.sid", "", cookiesig.ErrBadSignature},
	} {
		got, err := s.SessionID(tc.header, tc.name)
		if tc.err == nil && (err != nil || got != tc.want) {
			t.Errorf("%s: SessionID = %q, %v; want %q", tc.what, got, err, tc.want)
		}
		if tc.err != nil && !errors.Is(err, tc.err) {
			t.Errorf("%s: SessionID = %q, %v; want %v", tc.what, got, err, tc.err)
		}
	}
	for _, tc := range []struct{ header, name, want string }{
		{"a=\xe9%C3%A9", "a", "éé"},
		{"a=\"\xff\"", "a", "ÿ"},
		{"a=%E9\xe9", "a", "%E9é"}, // %E9 alone is a URIError: the raw value, read as latin1
		{"\xe9=1; a=2", "é", "1"},
	} {
		if got, ok := cookiesig.CookieValue(tc.header, tc.name); !ok || got != tc.want {
			t.Errorf("CookieValue(%q, %q) = %q, %v; want %q", tc.header, tc.name, got, ok, tc.want)
		}
	}
	var v string
	if err := cookiesig.ParseJSONCookie(mustCookie(t, "c=j:\"\xe9\"", "c"), &v); err != nil || v != "é" {
		t.Errorf("JSON cookie with a raw byte: %q, %v", v, err)
	}
	if d, ok := cookiesig.DecodeURIComponent("%EF%BF%BD"); !ok || d != "\ufffd" {
		t.Errorf("DecodeURIComponent(%%EF%%BF%%BD) = %q, %v", d, ok)
	}
}

func mustCookie(t *testing.T, header, name string) string {
	t.Helper()
	v, ok := cookiesig.CookieValue(header, name)
	if !ok {
		t.Fatalf("no cookie %s in %q", name, header)
	}
	return v
}

// TestSessionIDIsUTF8: whatever bytes a header holds, an accepted id is
// valid UTF-8 (the encoding of a JavaScript string), so it names the key
// Node's stores use.
func TestSessionIDIsUTF8(t *testing.T) {
	s, _ := cookiesig.NewSigner(latin1Secrets...)
	g := &headerGen{r: rand.New(rand.NewPCG(5, 5)), name: []byte("connect.sid"), ctl: true}
	accepted := 0
	for i := 0; i < 5000; i++ {
		sid, err := s.SessionID(string(g.header()), "connect.sid")
		if err != nil {
			continue
		}
		accepted++
		if !utf8.ValidString(sid) {
			t.Fatalf("id %q is not valid UTF-8", sid)
		}
		// And it round-trips through the cookie Go writes.
		if again, err := s.SessionID("connect.sid="+s.CookieValue(sid), "connect.sid"); err != nil || again != sid {
			t.Fatalf("re-signed %q: %q %v", sid, again, err)
		}
	}
	if accepted < 500 {
		t.Fatalf("only %d accepted", accepted)
	}
}

// TestSessionIDASCIINoAlloc: reading an ASCII header does not allocate,
// on the "s%3A" fast path and on the general one.
func TestSessionIDASCIINoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	s, _ := cookiesig.NewSigner("keyboard cat")
	for _, header := range []string{
		"_ga=GA1.1.123; connect.sid=" + s.CookieValue(benchSid) + "; theme=dark",
		"connect.sid=s:" + s.Sign(benchSid),
	} {
		if n := testing.AllocsPerRun(100, func() {
			if _, err := s.SessionID(header, "connect.sid"); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%d allocations for %q", int(n), header)
		}
	}
}
