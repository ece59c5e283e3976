package sessionbridge_test

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// cookieOptions maps express-session's cookie options to CookieOptions,
// and reports false for the options CookieOptions does not express
// (secure/sameSite "auto", sameSite true/false or mixed case, a maxAge that
// is not positive).
func cookieOptions(o map[string]any) (sessionbridge.CookieOptions, bool) {
	var c sessionbridge.CookieOptions
	for k, v := range o {
		switch k {
		case "maxAge":
			ms, err := v.(json.Number).Int64()
			if err != nil || ms <= 0 {
				return c, false
			}
			c.MaxAge = time.Duration(ms) * time.Millisecond
		case "secure":
			b, ok := v.(bool)
			if !ok {
				return c, false
			}
			c.Secure = b
		case "httpOnly":
			c.DisableHTTPOnly = !v.(bool)
		case "path":
			c.Path = v.(string)
		case "domain":
			c.Domain = v.(string)
		case "partitioned":
			c.Partitioned = v.(bool)
		case "priority":
			c.Priority = v.(string)
		case "sameSite":
			switch v {
			case "lax":
				c.SameSite = http.SameSiteLaxMode
			case "strict":
				c.SameSite = http.SameSiteStrictMode
			case "none":
				c.SameSite = http.SameSiteNoneMode
			default:
				return c, false
			}
		default:
			return c, false
		}
	}
	return c, true
}

// TestCookieOptionsMatchExpressSession creates a session through
// CookieOptions for every express-session option set of the setcookie
// fixture that CookieOptions can express, and compares the stored record
// and the Set-Cookie header WriteCookie sends (or does not send) with
// express-session's.
func TestCookieOptionsMatchExpressSession(t *testing.T) {
	var fx nodetest.SetCookieFixtures
	nodetest.Fixture(t, "setcookie.json", &fx)
	checked := 0
	for _, c := range fx.Cases {
		a := c.Args
		opts, ok := cookieOptions(a.Cookie)
		if !ok {
			continue
		}
		checked++
		now := time.UnixMilli(a.Now)
		b, err := sessionbridge.New(sessionbridge.Config{
			CookieName: a.Name, Secrets: a.Secrets, Store: sessionbridge.NewMemoryStore(),
			Cookie: opts, Now: func() time.Time { return now },
		})
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		s, err := b.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		s.ID = a.Sid
		if err := s.Record.Set("views", 1); err != nil {
			t.Fatal(err)
		}
		if rec, _ := s.Record.Encode(); string(rec) != c.Stored {
			t.Errorf("%s: record\n  go %s\nnode %s", c.Name, rec, c.Stored)
		}
		r := httptest.NewRequest("GET", "/", nil)
		if a.ProxySecure == nil || *a.ProxySecure {
			r.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		if err := b.WriteCookie(w, r, s); err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		got := w.Header().Values("Set-Cookie")
		switch {
		case c.SetCookie == nil && len(got) != 0:
			t.Errorf("%s: Go sent %q, express-session sent no cookie", c.Name, got)
		case c.SetCookie != nil && (len(got) != 1 || got[0] != *c.SetCookie):
			t.Errorf("%s: Set-Cookie\n  go %q\nnode %s", c.Name, got, *c.SetCookie)
		}
	}
	if checked < 25 {
		t.Fatalf("only %d option sets checked", checked)
	}
	t.Logf("%d of %d express-session option sets match through CookieOptions", checked, len(fx.Cases))
}

func TestNewRejectsInvalidSameSite(t *testing.T) {
	_, err := sessionbridge.New(sessionbridge.Config{
		Secrets: []string{"s"}, Store: sessionbridge.NewMemoryStore(),
		Cookie: sessionbridge.CookieOptions{SameSite: http.SameSite(42)},
	})
	if err == nil {
		t.Fatal("SameSite 42 accepted")
	}
	for _, ss := range []http.SameSite{0, http.SameSiteDefaultMode} {
		b, err := sessionbridge.New(sessionbridge.Config{
			Secrets: []string{"s"}, Store: sessionbridge.NewMemoryStore(),
			Cookie: sessionbridge.CookieOptions{SameSite: ss},
		})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := b.NewSession()
		if s.Record.Cookie.SameSite != nil {
			t.Fatalf("SameSite %d stored %+v, want no sameSite", ss, *s.Record.Cookie.SameSite)
		}
	}
}

// TestNewRejectsInvalidCookieOptions: options every WriteCookie would refuse
// are refused by New, with the typed error.
func TestNewRejectsInvalidCookieOptions(t *testing.T) {
	for name, cfg := range map[string]sessionbridge.Config{
		"priority":    {Cookie: sessionbridge.CookieOptions{Priority: "urgent"}},
		"domain":      {Cookie: sessionbridge.CookieOptions{Domain: "exa mple.com"}},
		"path":        {Cookie: sessionbridge.CookieOptions{Path: "/a;b"}},
		"cookie name": {CookieName: "connect sid"},
		"sameSite":    {Cookie: sessionbridge.CookieOptions{SameSite: http.SameSite(42)}},
	} {
		cfg.Secrets, cfg.Store = []string{"s"}, sessionbridge.NewMemoryStore()
		if _, err := sessionbridge.New(cfg); !errors.Is(err, sessionjson.ErrInvalidCookieOption) {
			t.Errorf("%s: New = %v, want ErrInvalidCookieOption", name, err)
		}
	}
	if _, err := sessionbridge.New(sessionbridge.Config{
		Secrets: []string{"s"}, Store: sessionbridge.NewMemoryStore(),
		Cookie: sessionbridge.CookieOptions{Priority: "High", Domain: ".example.com", Path: "/app"},
	}); err != nil {
		t.Fatalf("valid options: %v", err)
	}
}
