package cookiesig_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
)

// FuzzSessionID parses arbitrary Cookie headers: never a panic, only the
// typed errors, and an accepted id must re-sign to a cookie that yields it.
func FuzzSessionID(f *testing.F) {
	var fx getcookieFixtures
	nodetest.Fixture(f, "getcookie.json", &fx)
	for _, c := range fx.Cases {
		if c.Header != nil {
			f.Add(*c.Header)
		}
	}
	s, _ := cookiesig.NewSigner("keyboard cat", "new secret 2026")
	f.Fuzz(func(t *testing.T, header string) {
		sid, err := s.SessionID(header, "connect.sid")
		// The allocation-free path for "s%3A..." must agree with the general
		// one: decode the whole value, then unsign.
		if len(header) <= cookiesig.DefaultMaxHeaderBytes {
			v, found := cookiesig.CookieValue(header, "connect.sid")
			general, gerr := "", cookiesig.ErrNoCookie
			if found && v != "" {
				general, gerr = s.UnsignCookie(v)
			}
			if (err == nil) != (gerr == nil) || sid != general {
				t.Fatalf("fast path %q %v, general path %q %v", sid, err, general, gerr)
			}
		}
		if err != nil {
			if !anyCookieErr(err) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		if sid == "" {
			t.Fatal("empty id accepted")
		}
		// Only a header holding a valid signature may get here.
		v, _ := cookiesig.CookieValue(header, "connect.sid")
		if !strings.HasPrefix(v, "s:") {
			t.Fatalf("accepted a value without s: %q", v)
		}
		again, err := s.SessionID("connect.sid="+s.CookieValue(sid), "connect.sid")
		if err != nil || again != sid {
			t.Fatalf("re-signed id %q: %q %v", sid, again, err)
		}
	})
}

// FuzzUnsign checks Unsign against Sign for arbitrary values: Sign's output
// always verifies; anything else verifies only if it is Sign's output.
func FuzzUnsign(f *testing.F) {
	f.Add("abc", "abc.BpxCrWRpvZMh/wk/djl34N+m+VQEU7K/5WenLwJCgFU")
	f.Add("a.b", "a.b.c")
	f.Add("", ".")
	s, _ := cookiesig.NewSigner("keyboard cat")
	f.Fuzz(func(t *testing.T, value, other string) {
		if got, err := s.Unsign(s.Sign(value)); err != nil || got != value {
			t.Fatalf("round trip %q: %q %v", value, got, err)
		}
		got, err := s.Unsign(other)
		if err == nil && s.Sign(got) != other {
			t.Fatalf("accepted %q, which is not Sign(%q)", other, got)
		}
		if err != nil && !errors.Is(err, cookiesig.ErrBadSignature) && !errors.Is(err, cookiesig.ErrMalformed) {
			t.Fatalf("untyped error %v", err)
		}
		// JavaScript strings are always valid UTF-16, so the round trip is
		// only defined for valid UTF-8 (seed 13f802fe5ccef74a: "\xeb").
		if utf8.ValidString(value) {
			d, ok := cookiesig.DecodeURIComponent(cookiesig.EncodeURIComponent(value))
			if !ok || d != value {
				t.Fatalf("URI round trip %q: %q %v", value, d, ok)
			}
		}
	})
}
