package cookiesession

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/passportuser"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// What cookie-session wrote after a passport login with keys
// ['new-key','old-key'] (captured from Node).
const (
	aliceValue = "eyJwYXNzcG9ydCI6eyJ1c2VyIjp7ImlkIjo0MiwibmFtZSI6ImFsaWNlIn19fQ=="
	aliceSig   = "lBtbUG13VRajZMjfB9P5Cdehbps"
)

var (
	_ sessionbridge.SessionSource = (*Bridge)(nil)
	_ passportuser.Manager        = (*Bridge)(nil)
)

var testNow = time.Date(2026, 12, 1, 21, 32, 1, 500e6, time.UTC)

func newTest(t testing.TB, cfg Config) *Bridge {
	t.Helper()
	if cfg.Keys == nil {
		cfg.Keys = []string{"new-key", "old-key"}
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// signed returns a Cookie header carrying value, signed with keys[0] of m.
func signed(m *Bridge, value string) string {
	return m.name + "=" + value + "; " + m.name + ".sig=" + m.kg.Sign(m.name+"="+value)
}

// serve runs h under m.LoadAndSave for one request and returns the
// Set-Cookie headers.
func serve(m *Bridge, method, cookie string, h http.HandlerFunc) []string {
	r := httptest.NewRequest(method, "/", nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	w := httptest.NewRecorder()
	m.LoadAndSave(h).ServeHTTP(w, r)
	return w.Result().Header.Values("Set-Cookie")
}

func session(t testing.TB, r *http.Request) *sessionbridge.Session {
	t.Helper()
	s, ok := sessionbridge.FromContext(r.Context())
	if !ok {
		t.Fatal("no session in the request context")
	}
	return s
}

func TestNewRefuses(t *testing.T) {
	bad := []Config{
		{},
		{Keys: []string{"a", ""}},
		{Keys: []string{"a"}, Algorithm: "md5"},
		{Keys: []string{"a"}, Name: "a b"},
		{Keys: []string{"a"}, Name: "a;b"},
		{Keys: []string{"a"}, Name: "a=b"},
		{Keys: []string{"a"}, Name: "é"},
		{Keys: []string{"a"}, Path: "/a; secure"},
		{Keys: []string{"a"}, Domain: "x\n"},
		{Keys: []string{"a"}, Priority: "urgent"},
		{Keys: []string{"a"}, SameSite: http.SameSite(9)},
		{Keys: []string{"a"}, MaxAge: -time.Second},
		{Keys: []string{"a"}, ExpiryMember: "_expires"},
		{Keys: []string{"a"}, ExpiryMember: "_expires", MaxAge: time.Microsecond},
		{Keys: []string{"a"}, ExpiryMember: "toString", MaxAge: time.Hour},
	}
	for i, cfg := range bad {
		if _, err := New(cfg); err == nil {
			t.Errorf("%d: New(%+v) accepted", i, cfg)
		}
	}
	if _, err := New(Config{}); !errors.Is(err, cookiesig.ErrNoSecret) {
		t.Errorf("no keys: %v", err)
	}
	if _, err := New(Config{Keys: []string{"a"}, Algorithm: "SHA512", Priority: "High", SameSite: http.SameSiteDefaultMode}); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
}

func TestLoadNodeCookie(t *testing.T) {
	m := newTest(t, Config{})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", "session="+aliceValue+"; session.sig="+aliceSig)
	s, err := m.Load(r)
	if err != nil {
		t.Fatal(err)
	}
	if s.ID != aliceValue {
		t.Errorf("ID = %q, want the cookie value", s.ID)
	}
	u, err := passportuser.Raw(s)
	if err != nil || string(u) != `{"id":42,"name":"alice"}` {
		t.Fatalf("passport.user = %s, %v", u, err)
	}
	if got := m.kg.Sign("session=" + aliceValue); got != aliceSig {
		t.Fatalf("sign = %s", got)
	}
	// Negative control: another key does not verify it.
	other := newTest(t, Config{Keys: []string{"other"}})
	if _, err := other.Load(r); !errors.Is(err, sessionbridge.ErrNoSession) || !errors.Is(err, cookiesig.ErrBadSignature) {
		t.Fatalf("other key: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	m := newTest(t, Config{})
	cases := []struct {
		name, cookie string
		want         error
	}{
		{"no cookie", "", cookiesig.ErrNoCookie},
		{"empty value", signed(m, ""), cookiesig.ErrNoCookie},
		{"no sig", "session=" + aliceValue, cookiesig.ErrNotSigned},
		{"bad sig", "session=" + aliceValue + "; session.sig=" + aliceSig[1:], cookiesig.ErrBadSignature},
		{"invalid JSON", signed(m, base64.StdEncoding.EncodeToString([]byte("{nope"))), sessionjson.ErrInvalidJSON},
		{"not an object", signed(m, base64.StdEncoding.EncodeToString([]byte("[1]"))), sessionjson.ErrNotObject},
		{"duplicate key", signed(m, base64.StdEncoding.EncodeToString([]byte(`{"a":1,"a":2}`))), sessionjson.ErrDuplicateKey},
		{"garbage", signed(m, "!!!!"), sessionjson.ErrInvalidJSON},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		if c.cookie != "" {
			r.Header.Set("Cookie", c.cookie)
		}
		_, err := m.Load(r)
		if !errors.Is(err, sessionbridge.ErrNoSession) || !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), aliceValue[:12]) {
			t.Errorf("%s: the error shows the cookie: %v", c.name, err)
		}
	}
}

func TestHeaderLimit(t *testing.T) {
	m := newTest(t, Config{MaxHeaderBytes: 1000})
	head := signed(m, aliceValue) + "; pad="
	exact := head + strings.Repeat("x", 1000-len(head))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", exact)
	if _, err := m.Load(r); err != nil {
		t.Fatalf("a header of exactly MaxHeaderBytes: %v", err)
	}
	r.Header.Set("Cookie", exact+"x")
	if _, err := m.Load(r); !errors.Is(err, cookiesig.ErrMalformed) {
		t.Fatalf("one byte over: %v", err)
	}
	// A value presented outside a header has the same limit.
	v := aliceValue + "." + aliceSig
	m2 := newTest(t, Config{MaxHeaderBytes: len(v)})
	if _, err := m2.SessionIDFromValue(v); err != nil {
		t.Fatalf("value at the limit: %v", err)
	}
	m3 := newTest(t, Config{MaxHeaderBytes: len(v) - 1})
	if _, err := m3.SessionIDFromValue(v); !errors.Is(err, cookiesig.ErrMalformed) {
		t.Fatalf("value one over: %v", err)
	}
}

func TestDepthLimit(t *testing.T) {
	m := newTest(t, Config{MaxHeaderBytes: -1})
	nest := func(depth int) string {
		// {"a": [[...]]}: the object is one level.
		return `{"a":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + "}"
	}
	at := base64.StdEncoding.EncodeToString([]byte(nest(sessionjson.DefaultMaxDepth)))
	if _, err := m.LoadID(context.Background(), at); err != nil {
		t.Fatalf("depth at the limit: %v", err)
	}
	over := base64.StdEncoding.EncodeToString([]byte(nest(sessionjson.DefaultMaxDepth + 1)))
	if _, err := m.LoadID(context.Background(), over); !errors.Is(err, sessionjson.ErrTooDeep) || !errors.Is(err, sessionbridge.ErrNoSession) {
		t.Fatalf("one level over: %v", err)
	}
}

func TestSessionIDFromValue(t *testing.T) {
	m := newTest(t, Config{})
	id, err := m.SessionIDFromValue(aliceValue + "." + aliceSig)
	if err != nil || id != aliceValue {
		t.Fatalf("= %q, %v", id, err)
	}
	s, err := m.LoadID(context.Background(), id)
	if err != nil || !passportuser.LoggedIn(s) {
		t.Fatalf("LoadID: %v", err)
	}
	old := newTest(t, Config{Keys: []string{"old-key"}})
	if id, err := m.SessionIDFromValue(aliceValue + "." + old.kg.Sign("session="+aliceValue)); err != nil || id != aliceValue {
		t.Fatalf("old key: %q, %v", id, err)
	}
	for v, want := range map[string]error{
		"":                                cookiesig.ErrNotSigned,
		aliceValue:                        cookiesig.ErrNotSigned,
		aliceValue + ".":                  cookiesig.ErrNotSigned,
		"." + aliceSig:                    cookiesig.ErrMalformed,
		aliceValue + "." + aliceSig[1:]:   cookiesig.ErrBadSignature,
		aliceValue + "." + aliceSig + "=": cookiesig.ErrBadSignature,
		aliceSig + "." + aliceValue:       cookiesig.ErrBadSignature,
	} {
		if _, err := m.SessionIDFromValue(v); !errors.Is(err, sessionbridge.ErrNoSession) || !errors.Is(err, want) {
			t.Errorf("%q: %v, want %v", v, err, want)
		}
	}
	// Another cookie name signs another string.
	koa := newTest(t, Config{Name: "koa.sess"})
	if _, err := koa.SessionIDFromValue(aliceValue + "." + aliceSig); !errors.Is(err, cookiesig.ErrBadSignature) {
		t.Errorf("name koa.sess: %v", err)
	}
	if _, err := m.LoadID(context.Background(), ""); !errors.Is(err, cookiesig.ErrMalformed) {
		t.Errorf("LoadID(\"\"): %v", err)
	}
}

func TestMiddlewareLifecycle(t *testing.T) {
	m := newTest(t, Config{MaxAge: 24 * time.Hour})
	exp := "; path=/; expires=Wed, 02 Dec 2026 21:32:01 GMT; httponly"
	read := func(w http.ResponseWriter, r *http.Request) { session(t, r) }

	// Anonymous and untouched: nothing.
	if got := serve(m, "GET", "", read); len(got) != 0 {
		t.Errorf("anonymous: %q", got)
	}
	// A login writes both cookies, as Node did.
	got := serve(m, "POST", "", func(w http.ResponseWriter, r *http.Request) {
		s := session(t, r)
		if _, err := passportuser.Login(r.Context(), m, s, map[string]any{"id": 42, "name": "alice"}, passportuser.Options{}); err != nil {
			t.Error(err)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	want := []string{"session=" + aliceValue + exp, "session.sig=" + aliceSig + exp}
	if !equal(got, want) {
		t.Errorf("login:\n got %q\nwant %q", got, want)
	}
	// Unchanged: nothing, even when written to.
	if got := serve(m, "GET", signed(m, aliceValue), func(w http.ResponseWriter, r *http.Request) {
		s := session(t, r)
		_ = s.Record.Set("passport", map[string]any{"user": map[string]any{"id": 42, "name": "alice"}})
		_, _ = w.Write([]byte("ok"))
	}); len(got) != 0 {
		t.Errorf("unchanged: %q", got)
	}
	// A change is written; an emptied session too.
	if got := serve(m, "GET", signed(m, aliceValue), func(w http.ResponseWriter, r *http.Request) {
		session(t, r).Record.Clear()
	}); !equal(got, []string{"session=e30=" + exp, "session.sig=" + m.kg.Sign("session=e30=") + exp}) {
		t.Errorf("cleared: %q", got)
	}
	// A new session that stays empty is never written.
	if got := serve(m, "GET", "", func(w http.ResponseWriter, r *http.Request) {
		s := session(t, r)
		_ = s.Record.Set("a", 1)
		_ = s.Record.Delete("a")
	}); len(got) != 0 {
		t.Errorf("new, unpopulated: %q", got)
	}
	// Logout leaves passport:{} and writes it.
	got = serve(m, "POST", signed(m, aliceValue), func(w http.ResponseWriter, r *http.Request) {
		if _, err := passportuser.Logout(r.Context(), m, session(t, r), passportuser.Options{}); err != nil {
			t.Error(err)
		}
	})
	v := base64.StdEncoding.EncodeToString([]byte(`{"passport":{}}`))
	if !equal(got, []string{"session=" + v + exp, "session.sig=" + m.kg.Sign("session="+v) + exp}) {
		t.Errorf("logout: %q", got)
	}
}

func TestMiddlewareSignatures(t *testing.T) {
	m := newTest(t, Config{MaxAge: time.Hour})
	old := newTest(t, Config{Keys: []string{"old-key"}})
	read := func(w http.ResponseWriter, r *http.Request) {
		if !passportuser.LoggedIn(session(t, r)) {
			w.Header().Set("X-Anonymous", "1")
		}
	}
	// An older key: only .sig, signed with the first key, no expires.
	if got := serve(m, "GET", signed(old, aliceValue), read); !equal(got, []string{"session.sig=" + aliceSig + "; path=/; httponly"}) {
		t.Errorf("rotation: %q", got)
	}
	// A bad signature clears .sig only.
	clear := "session.sig=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly"
	if got := serve(m, "GET", "session="+aliceValue+"; session.sig=x", read); !equal(got, []string{clear}) {
		t.Errorf("bad sig: %q", got)
	}
	// Missing: nothing.
	if got := serve(m, "GET", "session="+aliceValue, read); len(got) != 0 {
		t.Errorf("missing sig: %q", got)
	}
	// A bad signature, then a login: the login's pair replaces the clearing.
	got := serve(m, "POST", "session="+aliceValue+"; session.sig=x", func(w http.ResponseWriter, r *http.Request) {
		if _, err := passportuser.Login(r.Context(), m, session(t, r), 7, passportuser.Options{}); err != nil {
			t.Error(err)
		}
	})
	if len(got) != 2 || !strings.HasPrefix(got[0], "session=eyJ") || !strings.HasPrefix(got[1], "session.sig=") || strings.Contains(got[1], "1970") {
		t.Errorf("bad sig then login: %q", got)
	}
	// Over HTTPS the cookies are Secure, as cookies decides.
	r := httptest.NewRequest("GET", "https://x.test/", nil)
	r.Header.Set("Cookie", signed(old, aliceValue))
	w := httptest.NewRecorder()
	m.LoadAndSave(http.HandlerFunc(read)).ServeHTTP(w, r)
	if got := w.Result().Header.Values("Set-Cookie"); !equal(got, []string{"session.sig=" + aliceSig + "; path=/; secure; httponly"}) {
		t.Errorf("rotation over https: %q", got)
	}
}

func TestUnset(t *testing.T) {
	m := newTest(t, Config{MaxAge: time.Hour})
	got := serve(m, "POST", signed(m, aliceValue), func(w http.ResponseWriter, r *http.Request) {
		s := session(t, r)
		m.Unset(s)
		_ = s.Record.Set("after", 1) // ignored: the session is null
		if err := m.Save(r.Context(), s); !errors.Is(err, sessionbridge.ErrNoSession) {
			t.Errorf("Save after Unset: %v", err)
		}
		if _, err := passportuser.Login(r.Context(), m, s, 7, passportuser.Options{}); err == nil {
			t.Error("Login after Unset succeeded")
		}
		if _, err := passportuser.Logout(r.Context(), m, s, passportuser.Options{}); err == nil {
			t.Error("Logout after Unset succeeded")
		}
	})
	e := "; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly"
	if want := []string{"session=" + e, "session.sig=" + m.kg.Sign("session=") + e}; !equal(got, want) {
		t.Errorf("unset:\n got %q\nwant %q", got, want)
	}
	// Outside LoadAndSave it does nothing.
	s, _ := m.NewSession()
	m.Unset(s)
	if err := m.Save(context.Background(), s); err != nil {
		t.Errorf("Save outside LoadAndSave: %v", err)
	}
}

func TestSecureOverHTTP(t *testing.T) {
	m := newTest(t, Config{Secure: true})
	login := func(w http.ResponseWriter, r *http.Request) { _ = session(t, r).Record.Set("a", 1) }
	if got := serve(m, "POST", "", login); len(got) != 0 {
		t.Errorf("secure over http: %q", got)
	}
	if got := serve(m, "POST", "session=e30=; session.sig=x", login); len(got) != 0 {
		t.Errorf("secure over http, bad sig: %q", got)
	}
	// With TrustProxy, X-Forwarded-Proto: https counts.
	p := newTest(t, Config{Secure: true, TrustProxy: true})
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("X-Forwarded-Proto", "https, http")
	w := httptest.NewRecorder()
	p.LoadAndSave(http.HandlerFunc(login)).ServeHTTP(w, r)
	if got := w.Result().Header.Values("Set-Cookie"); len(got) != 2 || !strings.HasSuffix(got[0], "; secure; httponly") {
		t.Errorf("secure behind a trusted proxy: %q", got)
	}
	// Without TrustProxy the header is ignored.
	w = httptest.NewRecorder()
	m.LoadAndSave(http.HandlerFunc(login)).ServeHTTP(w, r)
	if got := w.Result().Header.Values("Set-Cookie"); len(got) != 0 {
		t.Errorf("X-Forwarded-Proto without TrustProxy: %q", got)
	}
}

func TestAttributes(t *testing.T) {
	m := newTest(t, Config{Name: "sess", MaxAge: time.Hour, Path: "/app", Domain: "example.test", SameSite: http.SameSiteLaxMode, DisableHTTPOnly: true, Priority: "High", Partitioned: true})
	got := serve(m, "POST", "", func(w http.ResponseWriter, r *http.Request) { _ = session(t, r).Record.Set("a", 1) })
	v := base64.StdEncoding.EncodeToString([]byte(`{"a":1}`))
	a := "; path=/app; expires=Tue, 01 Dec 2026 22:32:01 GMT; domain=example.test; priority=high; samesite=lax; partitioned"
	if want := []string{"sess=" + v + a, "sess.sig=" + m.kg.Sign("sess="+v) + a}; !equal(got, want) {
		t.Errorf("\n got %q\nwant %q", got, want)
	}
	// A browser-session cookie has no expires.
	b := newTest(t, Config{})
	got = serve(b, "POST", "", func(w http.ResponseWriter, r *http.Request) { _ = session(t, r).Record.Set("a", 1) })
	if want := []string{"session=" + v + "; path=/; httponly", "session.sig=" + b.kg.Sign("session="+v) + "; path=/; httponly"}; !equal(got, want) {
		t.Errorf("\n got %q\nwant %q", got, want)
	}
}

func TestCookieSizeLimit(t *testing.T) {
	// {"d":"x…"} of 3066 bytes is 4088 characters of base64 without
	// padding: "session=" + value is exactly MaxCookieBytes.
	d := strings.Repeat("x", 3066-len(`{"d":""}`))
	set := func(w http.ResponseWriter, r *http.Request) { _ = session(t, r).Record.Set("d", d) }
	m := newTest(t, Config{MaxAge: time.Hour})
	got := serve(m, "POST", "", set)
	if len(got) != 2 || len(strings.SplitN(got[0], ";", 2)[0]) != MaxCookieBytes {
		t.Fatalf("at the limit: %d headers", len(got))
	}
	// The same session under a name one byte longer is one byte over.
	over := newTest(t, Config{Name: "session1", MaxAge: time.Hour})
	if got := serve(over, "POST", "", set); len(got) != 0 {
		t.Errorf("one byte over the limit was written")
	}
	s, _ := over.NewSession()
	_ = s.Record.Set("d", d)
	if err := over.Save(context.Background(), s); !errors.Is(err, ErrCookieTooLarge) {
		t.Errorf("Save one byte over: %v", err)
	}
	if err := m.Save(context.Background(), s); err != nil {
		t.Errorf("Save at the limit: %v", err)
	}
	if err := over.WriteCookie(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), s); !errors.Is(err, ErrCookieTooLarge) {
		t.Errorf("WriteCookie one byte over: %v", err)
	}
}

func TestWriteCookieOutsideMiddleware(t *testing.T) {
	m := newTest(t, Config{MaxAge: 24 * time.Hour})
	s, err := passportuser.Login(context.Background(), m, nil, map[string]any{"id": 42, "name": "alice"}, passportuser.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if err := m.WriteCookie(w, httptest.NewRequest("GET", "/", nil), s); err != nil {
		t.Fatal(err)
	}
	exp := "; path=/; expires=Wed, 02 Dec 2026 21:32:01 GMT; httponly"
	if got := w.Header().Values("Set-Cookie"); !equal(got, []string{"session=" + aliceValue + exp, "session.sig=" + aliceSig + exp}) {
		t.Errorf("%q", got)
	}
	sec := newTest(t, Config{Secure: true})
	w = httptest.NewRecorder()
	if err := sec.WriteCookie(w, httptest.NewRequest("GET", "/", nil), s); err != nil || len(w.Header().Values("Set-Cookie")) != 0 {
		t.Errorf("secure over http: %v %q", err, w.Header().Values("Set-Cookie"))
	}
}

func TestExpiryMember(t *testing.T) {
	now := testNow
	m := newTest(t, Config{MaxAge: time.Hour, ExpiryMember: "_expires", Now: func() time.Time { return now }})
	var cookie string
	got := serve(m, "POST", "", func(w http.ResponseWriter, r *http.Request) {
		if _, err := passportuser.Login(r.Context(), m, session(t, r), 7, passportuser.Options{}); err != nil {
			t.Error(err)
		}
	})
	if len(got) != 2 {
		t.Fatalf("login: %q", got)
	}
	v := strings.TrimPrefix(strings.SplitN(got[0], ";", 2)[0], "session=")
	cookie = signed(m, v)
	js, _ := base64.StdEncoding.DecodeString(v)
	if want := `{"passport":{"user":7},"_expires":1796164321500}`; string(js) != want {
		t.Fatalf("payload %s, want %s", js, want)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", cookie)
	now = testNow.Add(time.Hour - time.Millisecond)
	if _, err := m.Load(r); err != nil {
		t.Fatalf("1ms before expiry: %v", err)
	}
	now = testNow.Add(time.Hour)
	if _, err := m.Load(r); !errors.Is(err, sessionbridge.ErrExpired) || !errors.Is(err, sessionbridge.ErrNoSession) {
		t.Fatalf("at expiry: %v", err)
	}
	// Expired under LoadAndSave: a new, anonymous session; nothing written.
	if got := serve(m, "GET", cookie, func(w http.ResponseWriter, r *http.Request) {
		if passportuser.LoggedIn(session(t, r)) {
			t.Error("expired session served")
		}
	}); len(got) != 0 {
		t.Errorf("expired: %q", got)
	}
	now = testNow
	for _, payload := range []string{`{"passport":{"user":7}}`, `{"_expires":"1796164321500"}`, `{"_expires":null}`, `{"_expires":1e400}`} {
		r.Header.Set("Cookie", signed(m, base64.StdEncoding.EncodeToString([]byte(payload))))
		if _, err := m.Load(r); !errors.Is(err, sessionbridge.ErrExpired) {
			t.Errorf("%s: %v", payload, err)
		}
	}
	// An unchanged session keeps its expiry (nothing is written); a change
	// moves it.
	r.Header.Set("Cookie", cookie)
	now = testNow.Add(30 * time.Minute)
	if got := serve(m, "GET", cookie, func(w http.ResponseWriter, r *http.Request) {}); len(got) != 0 {
		t.Errorf("unchanged: %q", got)
	}
	got = serve(m, "GET", cookie, func(w http.ResponseWriter, r *http.Request) { _ = session(t, r).Record.Set("n", 1) })
	js, _ = base64.StdEncoding.DecodeString(strings.TrimPrefix(strings.SplitN(got[0], ";", 2)[0], "session="))
	if want := `{"passport":{"user":7},"_expires":1796166121500,"n":1}`; string(js) != want {
		t.Errorf("changed: %s, want %s", js, want)
	}
}

func TestHidden(t *testing.T) {
	m := newTest(t, Config{})
	payload := `{"a":1,"_ctx":2,"isNew":3,"isChanged":4,"isPopulated":5,"constructor":6,"__proto__":7,"toString":8,"hasOwnProperty":9,"valueOf":10,"cookie":11,"regenerate":12,"b":13}`
	s, err := m.LoadID(context.Background(), base64.StdEncoding.EncodeToString([]byte(payload)))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := encodeNode(s.Record); string(got) != `{"a":1,"cookie":11,"regenerate":12,"b":13}` {
		t.Errorf("got %s", got)
	}
	if err := s.Record.Set("isNew", true); !errors.Is(err, sessionjson.ErrReservedKey) {
		t.Errorf("Set(isNew): %v", err)
	}
}

func TestResponseWriter(t *testing.T) {
	m := newTest(t, Config{})
	// Headers written by Flush, a 1xx before the real header, a hijack.
	srv := httptest.NewServer(m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = session(t, r).Record.Set("a", 1)
		switch r.URL.Path {
		case "/flush":
			w.(http.Flusher).Flush()
			_ = session(t, r).Record.Set("late", 1) // after the header: not sent
		case "/early":
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusAccepted)
		case "/hijack":
			c, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			_ = c.Close()
		}
	})))
	defer srv.Close()
	for path, n := range map[string]int{"/flush": 2, "/early": 2, "/hijack": 0, "/": 2} {
		resp, err := http.Post(srv.URL+path, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Values("Set-Cookie")
		if len(got) != n {
			t.Errorf("%s: %q", path, got)
		}
		if path == "/flush" && len(got) > 0 && !strings.HasPrefix(got[0], "session=eyJhIjoxfQ==;") {
			t.Errorf("flush: %q", got)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
