package sessionbridge_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// fastifyBridge is a FastifySession Bridge on a MemoryStore with a
// settable clock (the store's clock is the Bridge's unless changed).
func fastifyBridge(t *testing.T, cfg sessionbridge.Config) (*sessionbridge.Bridge, *sessionbridge.MemoryStore, *time.Time) {
	t.Helper()
	cfg.Format = sessionbridge.FastifySession
	return lifecycleBridge(t, cfg)
}

// fastifyCookie is the Cookie header carrying sid as @fastify/session sends it.
func fastifyCookie(b *sessionbridge.Bridge, prefix, sid string) string {
	return b.CookieName() + "=" + b.Signer().FastifyCookieValue(prefix, sid)
}

func TestFastifyConfig(t *testing.T) {
	store := sessionbridge.NewMemoryStore()
	b, err := sessionbridge.New(sessionbridge.Config{Format: sessionbridge.FastifySession, Secrets: []string{"s"}, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if b.CookieName() != "sessionId" {
		t.Errorf("default cookie name %q", b.CookieName())
	}
	s, _ := b.NewSession()
	if c := s.Record.Cookie; c.Layout != sessionjson.FastifyLayout || c.Secure == nil || !*c.Secure {
		t.Errorf("new cookie: layout %d, secure %v; want fastify's, true", c.Layout, c.Secure)
	}
	e, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"s"}, Store: store, Cookie: sessionbridge.CookieOptions{Insecure: true}})
	es, _ := e.NewSession()
	if got, _ := es.Record.Encode(); !strings.Contains(string(got), `"secure":false`) || e.CookieName() != "connect.sid" {
		t.Errorf("express with Insecure: %s, name %q", got, e.CookieName())
	}
	for name, cfg := range map[string]sessionbridge.Config{
		"prefix with express":    {CookiePrefix: "s:"},
		"secure and insecure":    {Format: sessionbridge.FastifySession, Cookie: sessionbridge.CookieOptions{Secure: true, Insecure: true}},
		"priority with fastify":  {Format: sessionbridge.FastifySession, Cookie: sessionbridge.CookieOptions{Priority: "high"}},
		"unknown format":         {Format: 7},
		"prefix not UTF-8":       {Format: sessionbridge.FastifySession, CookiePrefix: "\xff"},
		"name cookie 2 refuses":  {Format: sessionbridge.FastifySession, CookieName: "a=b"},
		"secure and insecure, e": {Cookie: sessionbridge.CookieOptions{Secure: true, Insecure: true}},
	} {
		cfg.Secrets, cfg.Store = []string{"s"}, store
		if _, err := sessionbridge.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A name npm cookie 2 accepts and cookie 0.7 does not.
	if _, err := sessionbridge.New(sessionbridge.Config{Format: sessionbridge.FastifySession, CookieName: "sess:id", Secrets: []string{"s"}, Store: store}); err != nil {
		t.Errorf("cookie name sess:id: %v", err)
	}
}

// TestFastifyNoSessionErrors: every cookie @fastify/session would not take
// is ErrNoSession with the cookiesig reason.
func TestFastifyNoSessionErrors(t *testing.T) {
	b, _, _ := fastifyBridge(t, sessionbridge.Config{CookiePrefix: "s:", Cookie: sessionbridge.CookieOptions{Insecure: true, MaxAge: time.Hour}})
	s, _ := b.NewSession()
	if err := b.Save(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	other, _ := cookiesig.NewSigner("not the secret")
	good := fastifyCookie(b, "s:", s.ID)
	for name, c := range map[string]struct {
		header string
		want   error
	}{
		"no cookie":       {"", cookiesig.ErrNoCookie},
		"wrong name":      {"connect.sid=" + b.Signer().FastifyCookieValue("s:", s.ID), cookiesig.ErrNoCookie},
		"missing prefix":  {"sessionId=" + b.Signer().FastifyCookieValue("", s.ID), cookiesig.ErrNotSigned},
		"bad signature":   {"sessionId=" + other.FastifyCookieValue("s:", s.ID), cookiesig.ErrBadSignature},
		"prefix only":     {"sessionId=s:", cookiesig.ErrMalformed},
		"unknown session": {"sessionId=" + b.Signer().FastifyCookieValue("s:", "no-such-session"), sessionbridge.ErrNotFound},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", c.header)
		_, err := b.Load(r)
		if !errors.Is(err, sessionbridge.ErrNoSession) || !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want ErrNoSession and %v", name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), s.ID) {
			t.Errorf("%s: the error names the id: %v", name, err)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", good)
	if got, err := b.Load(r); err != nil || got.ID != s.ID {
		t.Fatalf("good cookie: %v", err)
	}
	// The express form of the same cookie (percent-encoded s:) is read too.
	r.Header.Set("Cookie", "sessionId="+b.Signer().CookieValue(s.ID))
	if got, err := b.Load(r); err != nil || got.ID != s.ID {
		t.Fatalf("s%%3A form: %v", err)
	}
	// Config.MaxHeaderBytes bounds the header: at the limit it is read, one
	// byte over it is refused.
	lim, _, _ := fastifyBridge(t, sessionbridge.Config{Store: b.Store(), CookiePrefix: "s:", MaxHeaderBytes: 200, Cookie: sessionbridge.CookieOptions{Insecure: true}})
	atLimit := good + "; pad=" + strings.Repeat("x", 200-len(good)-6)
	r.Header.Set("Cookie", atLimit)
	if got, err := lim.Load(r); err != nil || got.ID != s.ID || len(atLimit) != 200 {
		t.Fatalf("header of %d bytes at the limit: %v", len(atLimit), err)
	}
	r.Header.Set("Cookie", atLimit+"x")
	if _, err := lim.Load(r); !errors.Is(err, sessionbridge.ErrNoSession) || !errors.Is(err, cookiesig.ErrMalformed) {
		t.Fatalf("one byte over the limit: %v", err)
	}
	if sid, err := b.SessionIDFromValue("s:" + b.Signer().Sign(s.ID)); err != nil || sid != s.ID {
		t.Fatalf("SessionIDFromValue: %q %v", sid, err)
	}
	if _, err := b.SessionIDFromValue(b.Signer().Sign(s.ID)); !errors.Is(err, sessionbridge.ErrNoSession) || !errors.Is(err, cookiesig.ErrNotSigned) {
		t.Fatalf("SessionIDFromValue without prefix: %v", err)
	}
}

// TestFastifyExpiryRule: with FastifySession the stored cookie.expires
// decides, even with a store that enforces expiry itself; express-session's
// format trusts that store.
func TestFastifyExpiryRule(t *testing.T) {
	for _, format := range []sessionbridge.Format{sessionbridge.ExpressSession, sessionbridge.FastifySession} {
		b, st, now := lifecycleBridge(t, sessionbridge.Config{Format: format, Cookie: sessionbridge.CookieOptions{MaxAge: time.Hour, Insecure: true}})
		s, _ := b.NewSession()
		if err := b.Save(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		exp := *s.Record.Cookie.Expires
		storeNow := exp.Add(-time.Minute) // the store still keeps it
		st.SetClock(func() time.Time { return storeNow })
		*now = exp.Add(-time.Millisecond)
		if _, err := b.LoadID(context.Background(), s.ID); err != nil {
			t.Fatalf("format %d, a millisecond before expires: %v", format, err)
		}
		*now = exp
		_, err := b.LoadID(context.Background(), s.ID)
		if format == sessionbridge.FastifySession {
			if !errors.Is(err, sessionbridge.ErrNoSession) || !errors.Is(err, sessionbridge.ErrExpired) {
				t.Fatalf("fastify at expires: %v, want ErrExpired", err)
			}
		} else if err != nil {
			t.Fatalf("express with an expiring store at expires: %v", err)
		}
	}
}

// TestFastifyLoadAndSave: a new session is stored in @fastify/session's
// layout and its cookie sent raw; a Secure one over plain HTTP is neither
// sent nor stored; the path rule is @fastify/session's.
func TestFastifyLoadAndSave(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := sessionbridge.FromContext(r.Context())
		if !ok {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		_ = s.Record.Set("n", 1)
	})
	t.Run("insecure opt-out", func(t *testing.T) {
		b, st, _ := fastifyBridge(t, sessionbridge.Config{
			Cookie:     sessionbridge.CookieOptions{MaxAge: time.Hour, Insecure: true},
			GenerateID: func(*http.Request) (string, error) { return "oCP7bccWG448TYFLaAp7qQHnAu5z0001", nil },
		})
		w := serve(b.LoadAndSave(handler), "")
		want := "sessionId=oCP7bccWG448TYFLaAp7qQHnAu5z0001.vMfFSLM17J8gJWBdqKDlked+MLn1bgy/irhnxa/PtNE; Path=/; Expires=Wed, 02 Dec 2026 11:00:00 GMT; HttpOnly"
		if got := w.Header().Get("Set-Cookie"); got != want {
			t.Fatalf("Set-Cookie %q\nwant %q", got, want)
		}
		rec := `{"cookie":{"expires":"2026-12-02T11:00:00.000Z","originalMaxAge":3600000,"sameSite":null,"secure":false,"path":"/","httpOnly":true,"domain":null},"n":1}`
		if got := string(st.Raw("oCP7bccWG448TYFLaAp7qQHnAu5z0001")); got != rec {
			t.Fatalf("stored %s\nwant %s", got, rec)
		}
	})
	t.Run("secure default over HTTP", func(t *testing.T) {
		b, st, _ := fastifyBridge(t, sessionbridge.Config{SaveUninitialized: true, Rolling: true, TrustProxy: true})
		w := serve(b.LoadAndSave(handler), "")
		if got := w.Header().Values("Set-Cookie"); len(got) != 0 || st.Len() != 0 {
			t.Fatalf("over HTTP: Set-Cookie %q, %d records; want none", got, st.Len())
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Forwarded-Proto", "https")
		w = httptest.NewRecorder()
		b.LoadAndSave(handler).ServeHTTP(w, r)
		if got := w.Header().Get("Set-Cookie"); !strings.HasSuffix(got, "; HttpOnly; Secure") || st.Len() != 1 {
			t.Fatalf("over HTTPS: Set-Cookie %q, %d records", got, st.Len())
		}
		// The express format stores it, as express-session does.
		e, est, _ := lifecycleBridge(t, sessionbridge.Config{SaveUninitialized: true, Cookie: sessionbridge.CookieOptions{Secure: true}})
		if w := serve(e.LoadAndSave(handler), ""); len(w.Header().Values("Set-Cookie")) != 0 || est.Len() != 1 {
			t.Fatalf("express over HTTP: %q, %d records", w.Header().Values("Set-Cookie"), est.Len())
		}
	})
	t.Run("path", func(t *testing.T) {
		b, _, _ := fastifyBridge(t, sessionbridge.Config{SaveUninitialized: true, Cookie: sessionbridge.CookieOptions{Path: "/api", Insecure: true}})
		e, _, _ := lifecycleBridge(t, sessionbridge.Config{SaveUninitialized: true, Cookie: sessionbridge.CookieOptions{Path: "/api"}})
		for path, fastifyIn := range map[string]bool{"/api": true, "/api/x": true, "/apix": false, "/ap": false, "/": false} {
			for _, c := range []struct {
				b    *sessionbridge.Bridge
				want bool
			}{{b, fastifyIn}, {e, strings.HasPrefix(path, "/api")}} {
				w := httptest.NewRecorder()
				c.b.LoadAndSave(handler).ServeHTTP(w, httptest.NewRequest("GET", path, nil))
				if got := w.Code != http.StatusNoContent; got != c.want {
					t.Errorf("%s, format: session %v, want %v", path, got, c.want)
				}
			}
		}
	})
}

// conflictStore is a MemoryStore whose next SetIf first lets "Node" write.
type conflictStore struct {
	*sessionbridge.MemoryStore
	mu     sync.Mutex
	before func()
}

func (c *conflictStore) SetIf(ctx context.Context, sid string, s *sessionjson.Session, v sessionbridge.Version) (sessionbridge.Version, error) {
	c.mu.Lock()
	f := c.before
	c.before = nil
	c.mu.Unlock()
	if f != nil {
		f()
	}
	return c.MemoryStore.SetIf(ctx, sid, s, v)
}

// TestFastifyTouchRewritesRecord: with FastifySession, KeepAlive, Touch and
// the touch at the end of an unchanged LoadAndSave request rewrite the
// record's cookie as @fastify/session re-saves it, and a change stored
// meanwhile by another writer survives.
func TestFastifyTouchRewritesRecord(t *testing.T) {
	const sid = "touchme_0123456789abcdefghijklmn"
	stored := `{"cookie":{"expires":"2026-12-02T10:30:00.000Z","originalMaxAge":3600000,"sameSite":null,"secure":false,"path":"/","httpOnly":true,"domain":null},"passport":7}`
	for name, touch := range map[string]func(b *sessionbridge.Bridge) error{
		"KeepAlive": func(b *sessionbridge.Bridge) error { return b.KeepAlive(context.Background(), sid) },
		"Touch": func(b *sessionbridge.Bridge) error {
			s, err := b.LoadID(context.Background(), sid)
			if err != nil {
				return err
			}
			_ = s.Record.Set("unsaved", true) // a touch writes no data
			return b.Touch(context.Background(), s)
		},
		"LoadAndSave": func(b *sessionbridge.Bridge) error {
			w := serve(b.LoadAndSave(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})), fastifyCookie(b, "", sid))
			if w.Code != http.StatusOK {
				return errors.New(w.Body.String())
			}
			return nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			mem := sessionbridge.NewMemoryStore()
			cs := &conflictStore{MemoryStore: mem}
			b, _, now := fastifyBridge(t, sessionbridge.Config{Store: cs, Cookie: sessionbridge.CookieOptions{MaxAge: time.Hour, Insecure: true}})
			mem.SetClock(func() time.Time { return *now })
			mem.SetRaw(sid, []byte(stored))
			cs.before = func() {
				nodeWrites(t, mem, sid, func(s *sessionjson.Session) { _ = s.Set("fromNode", 1) })
			}
			if err := touch(b); err != nil {
				t.Fatal(err)
			}
			want := `{"cookie":{"expires":"2026-12-02T11:00:00.000Z","originalMaxAge":3600000,"originalExpires":"2026-12-02T10:30:00.000Z","sameSite":null,"secure":false,"path":"/","httpOnly":true,"domain":null},"passport":7,"fromNode":1}`
			if got := string(mem.Raw(sid)); got != want {
				t.Fatalf("stored %s\nwant   %s", got, want)
			}
		})
	}
	// The express format touches through the store, which here replaces
	// the cookie and keeps the layout of whoever wrote the record.
	b, st, _ := lifecycleBridge(t, sessionbridge.Config{Cookie: sessionbridge.CookieOptions{MaxAge: time.Hour}})
	st.SetRaw(sid, []byte(stored))
	if err := b.KeepAlive(context.Background(), sid); err != nil {
		t.Fatal(err)
	}
	want := `{"cookie":{"expires":"2026-12-02T11:00:00.000Z","originalMaxAge":3600000,"originalExpires":"2026-12-02T10:30:00.000Z","sameSite":null,"secure":false,"path":"/","httpOnly":true,"domain":null},"passport":7}`
	if got := string(st.Raw(sid)); got != want {
		t.Fatalf("express-format touch of a fastify record: %s\nwant %s", got, want)
	}
}
