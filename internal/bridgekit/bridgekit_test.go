package bridgekit

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/cookiesig"
)

func TestDefaults(t *testing.T) {
	var now func() time.Time
	var log *slog.Logger
	var max int
	Defaults(&now, &log, &max)
	if now == nil || log != slog.Default() || max != cookiesig.DefaultMaxHeaderBytes {
		t.Fatalf("zero settings: %v %v %d", now == nil, log, max)
	}
	fixed := func() time.Time { return time.Unix(1, 0) }
	mine := slog.New(slog.DiscardHandler)
	now, log, max = fixed, mine, -1
	Defaults(&now, &log, &max)
	if now().Unix() != 1 || log != mine || max != -1 {
		t.Fatal("a setting was replaced")
	}
}

func TestCookieHeader(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	if got := CookieHeader(r); got != "" {
		t.Errorf("none: %q", got)
	}
	r.Header.Add("Cookie", "a=1; b=2")
	if got := CookieHeader(r); got != "a=1; b=2" {
		t.Errorf("one line: %q", got)
	}
	r.Header.Add("Cookie", "c=3")
	if got := CookieHeader(r); got != "a=1; b=2; c=3" {
		t.Errorf("two lines: %q", got)
	}
}

func TestExpressSecure(t *testing.T) {
	for _, c := range []struct {
		tls    bool
		trust  bool
		protos []string
		want   bool
	}{
		{false, false, nil, false},
		{true, false, nil, true},
		{false, false, []string{"https"}, false}, // the proxy is not trusted
		{false, true, nil, false},
		{false, true, []string{"https"}, true},
		{false, true, []string{" HTTPS , http"}, true},
		{false, true, []string{"http, https"}, false},
		{false, true, []string{"http", "https"}, false}, // the first line only
		{false, true, []string{"https", "http"}, true},
		{false, true, []string{"httpsx"}, false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		for _, p := range c.protos {
			r.Header.Add("X-Forwarded-Proto", p)
		}
		if got := ExpressSecure(r, c.trust); got != c.want {
			t.Errorf("TLS %v, trust %v, %q: %v", c.tls, c.trust, c.protos, got)
		}
	}
}

func TestSameSite(t *testing.T) {
	for mode, want := range map[http.SameSite]string{0: "", http.SameSiteDefaultMode: "", http.SameSiteLaxMode: "lax", http.SameSiteStrictMode: "strict", http.SameSiteNoneMode: "none"} {
		if got, ok := SameSite(mode); !ok || got != want {
			t.Errorf("%d: %q %v", mode, got, ok)
		}
	}
	if got, ok := SameSite(9); ok || got != "" {
		t.Errorf("unknown mode: %q %v", got, ok)
	}
}

func TestSignedValue(t *testing.T) {
	kg, _ := cookiesig.NewKeygrip("", "new", "old")
	old, _ := cookiesig.NewKeygrip("", "old")
	stranger, _ := cookiesig.NewKeygrip("", "stranger")
	good := "e30=." + kg.Sign("session=e30=")
	for _, c := range []struct {
		signed string
		max    int
		want   error
	}{
		{good, 0, nil},
		{"e30=." + old.Sign("session=e30="), 0, nil},
		{good, len(good), nil},
		{good, len(good) - 1, cookiesig.ErrMalformed},
		{"." + kg.Sign("session="), 0, cookiesig.ErrMalformed},
		{"e30=", 0, cookiesig.ErrNotSigned},
		{"e30=.", 0, cookiesig.ErrNotSigned},
		{"", 0, cookiesig.ErrNotSigned},
		{"e30=." + stranger.Sign("session=e30="), 0, cookiesig.ErrBadSignature},
		{"e30=." + kg.Sign("koa.sess=e30="), 0, cookiesig.ErrBadSignature},
		{good + ".", 0, cookiesig.ErrNotSigned},
	} {
		v, err := SignedValue(kg, "session", c.signed, c.max)
		if c.want == nil && (err != nil || v != "e30=") || c.want != nil && (!errors.Is(err, c.want) || v != "") {
			t.Errorf("%q (limit %d): %q, %v; want %v", c.signed, c.max, v, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "e30") {
			t.Errorf("the error shows the cookie: %v", err)
		}
	}
}
