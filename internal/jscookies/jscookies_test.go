package jscookies

import (
	"net/http"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/cookiesig"
)

func TestHeaderAndOverwrite(t *testing.T) {
	kg, _ := cookiesig.NewKeygrip("", "new-key")
	h := http.Header{}
	h.Add("Set-Cookie", "other=1")
	h.Add("Set-Cookie", "session=stale; path=/")
	exp := time.Date(2026, 12, 2, 21, 32, 1, 500e6, time.UTC)
	v := "eyJwYXNzcG9ydCI6eyJ1c2VyIjp7ImlkIjo0MiwibmFtZSI6ImFsaWNlIn19fQ=="
	SetSigned(h, kg, "session", v, Attrs{Expires: exp, HTTPOnly: true})
	got := h.Values("Set-Cookie")
	want := []string{
		"other=1",
		"session=" + v + "; path=/; expires=Wed, 02 Dec 2026 21:32:01 GMT; httponly",
		"session.sig=lBtbUG13VRajZMjfB9P5Cdehbps; path=/; expires=Wed, 02 Dec 2026 21:32:01 GMT; httponly",
	}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("header %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	clear := Header("session", "", Attrs{Path: "/app", Domain: "x.test", SameSite: "Lax", Secure: true, HTTPOnly: true, Priority: "High", Partitioned: true})
	if w := "session=; path=/app; expires=Thu, 01 Jan 1970 00:00:00 GMT; domain=x.test; priority=high; samesite=lax; secure; httponly; partitioned"; clear != w {
		t.Errorf("clear:\n got %s\nwant %s", clear, w)
	}
}

// TestValidation pins what the cookies package's checks accept, within
// ASCII, and the ';' it lets through in Path and Domain but this refuses.
func TestValidation(t *testing.T) {
	for s, want := range map[string]bool{"session": true, "koa.sess": true, "a b": true, "a\tb": true, "": false,
		"a;b": false, "a=b": false, "a\nb": false, "\x7f": false, "caf\xc3\xa9": false} {
		if ValidName(s) != want {
			t.Errorf("ValidName(%q) = %v", s, !want)
		}
	}
	for s, want := range map[string]bool{"": true, "/": true, "/a b": true, "/a\tb": true, "x.test": true, "/a=b": true,
		"/a;b": false, "/a\rb": false, "/\x00": false, "/\xff": false} {
		if ValidAttr(s) != want {
			t.Errorf("ValidAttr(%q) = %v", s, !want)
		}
	}
	for s, want := range map[string]bool{"": true, "low": true, "medium": true, "high": true, "High": false, "urgent": false} {
		if ValidPriority(s) != want {
			t.Errorf("ValidPriority(%q) = %v", s, !want)
		}
	}
}
