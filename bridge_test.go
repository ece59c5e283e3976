package sessionbridge_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

var t0 = time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)

func newBridge(t *testing.T, store sessionbridge.Store, now *time.Time) *sessionbridge.Bridge {
	t.Helper()
	b, err := sessionbridge.New(sessionbridge.Config{
		Secrets: []string{"keyboard cat", "old secret"},
		Store:   store,
		Cookie:  sessionbridge.CookieOptions{MaxAge: time.Hour},
		Now:     func() time.Time { return *now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func request(cookie string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	return r
}

func TestLoadOutcomes(t *testing.T) {
	now := t0
	store := sessionbridge.NewMemoryStore()
	store.SetClock(func() time.Time { return now })
	b := newBridge(t, store, &now)
	ctx := context.Background()

	s, err := b.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{32}$`).MatchString(s.ID) {
		t.Fatalf("id %q is not uid-safe(24)", s.ID)
	}
	_ = s.Record.Set("passport", map[string]any{"user": 7})
	if err := b.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	good := "connect.sid=" + b.Signer().CookieValue(s.ID)
	oldSigned, _ := cookiesig.NewSigner("old secret")

	got, err := b.Load(request(good))
	if err != nil || got.ID != s.ID {
		t.Fatalf("Load = %v, %v", got, err)
	}
	if _, err := b.Load(request("connect.sid=" + oldSigned.CookieValue(s.ID))); err != nil {
		t.Fatalf("rotated secret: %v", err)
	}

	unknown, _ := sessionbridge.NewID()
	cases := []struct {
		name   string
		cookie string
		want   error
	}{
		{"no cookie", "", cookiesig.ErrNoCookie},
		{"unsigned", "connect.sid=" + s.ID, cookiesig.ErrNotSigned},
		{"forged", "connect.sid=" + strings.Replace(good[len("connect.sid="):], "s%3A", "s%3AX", 1), cookiesig.ErrBadSignature},
		{"malformed", "connect.sid=s%3Anodot", cookiesig.ErrMalformed},
		{"unknown id", "connect.sid=" + b.Signer().CookieValue(unknown), sessionbridge.ErrNotFound},
	}
	for _, c := range cases {
		_, err := b.Load(request(c.cookie))
		if !errors.Is(err, sessionbridge.ErrNoSession) || !errors.Is(err, c.want) || errors.Is(err, sessionbridge.ErrStore) {
			t.Errorf("%s: %v", c.name, err)
		}
		if err != nil && (strings.Contains(err.Error(), s.ID) || strings.Contains(err.Error(), "keyboard")) {
			t.Errorf("%s: error leaks id or secret: %v", c.name, err)
		}
	}

	// A store that keeps expired records (like Redis with TTL disabled):
	// Go refuses them even though Node would revive them.
	stale := sessionbridge.NewMemoryStore()
	stale.SetClock(func() time.Time { return t0 }) // the store never expires it
	rec, _ := s.Record.Encode()
	stale.SetRaw(s.ID, rec)
	bs := newBridge(t, noTTLStore{stale}, &now)
	now = t0.Add(2 * time.Hour)
	if _, err := bs.Load(request(good)); !errors.Is(err, sessionbridge.ErrExpired) || !errors.Is(err, sessionbridge.ErrNoSession) {
		t.Fatalf("expired record: %v", err)
	}
	now = t0

	// Destroy, then the cookie points at nothing.
	if err := b.Destroy(ctx, got); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Load(request(good)); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("after destroy: %v", err)
	}
}

// noTTLStore hides MemoryStore's expiry enforcement, like a store that
// keeps records forever.
type noTTLStore struct{ sessionbridge.Store }

// failingStore fails every call, like a store that is down.
type failingStore struct{ calls atomic.Int32 }

var errDown = errors.New("dial tcp 127.0.0.1:6379: connection refused")

func (f *failingStore) Get(context.Context, string) (*sessionjson.Session, error) {
	f.calls.Add(1)
	return nil, errDown
}
func (f *failingStore) Set(context.Context, string, *sessionjson.Session) error   { return errDown }
func (f *failingStore) Touch(context.Context, string, *sessionjson.Session) error { return errDown }
func (f *failingStore) Destroy(context.Context, string) error                     { return errDown }

func TestStoreFailureIsNotLogout(t *testing.T) {
	now := t0
	fs := &failingStore{}
	var logs bytes.Buffer
	b, err := sessionbridge.New(sessionbridge.Config{
		Secrets: []string{"keyboard cat"}, Store: fs, Now: func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	sid := "wUSQkLG76IZV6i_SmQndn-U6jpP2yB8G"
	cookie := "connect.sid=" + b.Signer().CookieValue(sid)
	_, err = b.Load(request(cookie))
	if !errors.Is(err, sessionbridge.ErrStore) || !errors.Is(err, errDown) || errors.Is(err, sessionbridge.ErrNoSession) {
		t.Fatalf("Load with store down: %v", err)
	}
	reached := false
	h := b.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, request(cookie))
	if reached || w.Code != http.StatusServiceUnavailable {
		t.Fatalf("middleware with store down: reached=%v code=%d", reached, w.Code)
	}
	if strings.Contains(logs.String(), sid) || strings.Contains(logs.String(), "keyboard cat") {
		t.Fatalf("log leaks the id or secret: %s", logs.String())
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Fatalf("log does not say why: %s", logs.String())
	}
	// No cookie: the store is never asked, the request goes on anonymous.
	before := fs.calls.Load()
	w = httptest.NewRecorder()
	h.ServeHTTP(w, request(""))
	if !reached || fs.calls.Load() != before {
		t.Fatal("anonymous request should pass without a store call")
	}
}

func TestMiddlewareAndRequire(t *testing.T) {
	now := t0
	store := sessionbridge.NewMemoryStore()
	store.SetClock(func() time.Time { return now })
	b := newBridge(t, store, &now)
	s, _ := b.NewSession()
	_ = s.Record.Set("name", "Ann")
	_ = b.Save(context.Background(), s)
	var seen string
	h := b.RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := sessionbridge.FromContext(r.Context())
		if !ok {
			t.Error("no session in context")
			return
		}
		_ = sess.Record.Get("name", &seen)
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, request("connect.sid="+b.Signer().CookieValue(s.ID)))
	if w.Code != 200 || seen != "Ann" {
		t.Fatalf("code %d seen %q", w.Code, seen)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, request("connect.sid=garbage"))
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("no session: code %d", w.Code)
	}
}

func TestWriteCookieAndTouch(t *testing.T) {
	now := t0
	store := sessionbridge.NewMemoryStore()
	store.SetClock(func() time.Time { return now })
	b, _ := sessionbridge.New(sessionbridge.Config{
		Secrets: []string{"keyboard cat"}, Store: store, Now: func() time.Time { return now },
		Cookie:     sessionbridge.CookieOptions{MaxAge: time.Hour, Secure: true, SameSite: http.SameSiteLaxMode},
		TrustProxy: true,
	})
	s, _ := b.NewSession()
	w := httptest.NewRecorder()
	if err := b.WriteCookie(w, request(""), s); err != nil {
		t.Fatal(err)
	}
	if len(w.Header()["Set-Cookie"]) != 0 {
		t.Fatal("Secure cookie sent over plain HTTP (express-session sends none)")
	}
	r := request("")
	r.Header.Set("X-Forwarded-Proto", "https")
	if err := b.WriteCookie(w, r, s); err != nil {
		t.Fatal(err)
	}
	want := "connect.sid=" + b.Signer().CookieValue(s.ID) + "; Path=/; Expires=Wed, 18 Nov 2026 13:00:00 GMT; HttpOnly; Secure; SameSite=Lax"
	if got := w.Header().Get("Set-Cookie"); got != want {
		t.Fatalf("Set-Cookie\n got %s\nwant %s", got, want)
	}
	_ = b.Save(context.Background(), s)
	now = t0.Add(30 * time.Minute)
	if err := b.Touch(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	now = t0.Add(80 * time.Minute) // past the first expiry, within the touched one
	got, err := b.LoadID(context.Background(), s.ID)
	if err != nil {
		t.Fatalf("touched session: %v", err)
	}
	if e := got.Record.Cookie.Expires.Format(time.RFC3339); e != "2026-11-18T13:30:00Z" {
		t.Fatalf("expires after touch %s", e)
	}
	oldID := got.ID
	if err := b.Regenerate(context.Background(), got); err != nil || got.ID == oldID {
		t.Fatalf("regenerate: %v", err)
	}
	if _, err := b.LoadID(context.Background(), oldID); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("old id after regenerate: %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := sessionbridge.New(sessionbridge.Config{Store: sessionbridge.NewMemoryStore()}); !errors.Is(err, cookiesig.ErrNoSecret) {
		t.Fatalf("no secrets: %v", err)
	}
	if _, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"s"}}); err == nil {
		t.Fatal("no store accepted")
	}
}

// TestNodeAcceptsGoSessions creates sessions with the Bridge and hands the
// cookie and record to a real express-session app: it must look up the same
// id, load the session (not mint a new one), and see the same data.
func TestNodeAcceptsGoSessions(t *testing.T) {
	now := time.UnixMilli(1795000000777)
	store := sessionbridge.NewMemoryStore()
	var ops []nodetest.Op
	var sessions []*sessionbridge.Session
	var headers []string
	for i, maxAge := range []time.Duration{0, time.Hour, 30 * 24 * time.Hour, 90 * time.Second} {
		b, _ := sessionbridge.New(sessionbridge.Config{
			Secrets: []string{"keyboard cat", "older"}, Store: store, Now: func() time.Time { return now },
			Cookie: sessionbridge.CookieOptions{MaxAge: maxAge, SameSite: http.SameSiteStrictMode},
		})
		s, _ := b.NewSession()
		_ = s.Record.Set("passport", map[string]any{"user": i})
		_ = s.Record.Set("greeting", "héllo\u2028<b>")
		rec, _ := s.Record.Encode()
		w := httptest.NewRecorder()
		if err := b.WriteCookie(w, request(""), s); err != nil {
			t.Fatal(err)
		}
		headers = append(headers, w.Header().Get("Set-Cookie"))
		sessions = append(sessions, s)
		ops = append(ops,
			nodetest.Op{Op: "load", Args: map[string]any{
				"name": "connect.sid", "secrets": []string{"keyboard cat", "older"},
				"cookie": b.Signer().CookieValue(s.ID), "now": now.UnixMilli(), "record": string(rec), "rolling": true,
			}},
			nodetest.Op{Op: "setcookie", Args: map[string]any{
				"name": "connect.sid", "secrets": []string{"keyboard cat"}, "sid": s.ID, "now": now.UnixMilli(),
				"cookie": map[string]any{"maxAge": nullIfZero(maxAge), "sameSite": "strict"},
			}},
		)
	}
	res := nodetest.Oracle(t, ops)
	for i, s := range sessions {
		var load struct {
			Sid       string
			Loaded    bool
			Stored    string
			SetCookie string
		}
		res[2*i].Decode(t, &load)
		rec, _ := s.Record.Encode()
		if load.Sid != s.ID || !load.Loaded || load.Stored != string(rec) {
			t.Errorf("session %d: Node loaded=%v sid-match=%v\n node %s\n   go %s", i, load.Loaded, load.Sid == s.ID, load.Stored, rec)
		}
		if load.SetCookie != headers[i] {
			t.Errorf("session %d: Node's rolling Set-Cookie\n node %s\n   go %s", i, load.SetCookie, headers[i])
		}
		var sc struct{ SetCookie string }
		res[2*i+1].Decode(t, &sc)
		if sc.SetCookie != headers[i] {
			t.Errorf("session %d: new-session Set-Cookie\n node %s\n   go %s", i, sc.SetCookie, headers[i])
		}
	}
	t.Logf("Node confirmed %d Go sessions (id, record, Set-Cookie)", len(sessions))
}

func nullIfZero(d time.Duration) any {
	if d == 0 {
		return nil
	}
	return d.Milliseconds()
}
