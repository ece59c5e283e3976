package koasession_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/koasession"
	"github.com/sessionbridge/sessionbridge/koasession/koaredis"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// TestCookieModeFormat pins what a save writes: the payload (the data,
// then _expire and _maxAge), the cookies package's headers, and the
// default-maxAge surprise (no expires on the first cookie, expires on a
// loaded session's).
func TestCookieModeFormat(t *testing.T) {
	b := mustNew(t, koasession.Config{Now: fixedNow})
	h := b.LoadAndSave(setHandler(t))

	rec := serve(h, "GET", "/?user=%7B%22id%22:42,%22name%22:%22alice%22%7D", "")
	got := rec.Result().Header.Values("Set-Cookie")
	want := []string{
		"koa.sess=eyJ1c2VyIjp7ImlkIjo0MiwibmFtZSI6ImFsaWNlIn0sIl9leHBpcmUiOjE3OTYzMzM1MjI0MzUsIl9tYXhBZ2UiOjg2NDAwMDAwfQ==; path=/; httponly",
		"koa.sess.sig=" + sigOf(t, "koa-key-1", "koa.sess=eyJ1c2VyIjp7ImlkIjo0MiwibmFtZSI6ImFsaWNlIn0sIl9leHBpcmUiOjE3OTYzMzM1MjI0MzUsIl9tYXhBZ2UiOjg2NDAwMDAwfQ==") + "; path=/; httponly",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Set-Cookie:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	v, _, _ := strings.Cut(strings.TrimPrefix(got[0], "koa.sess="), ";")
	if p := decodePayload(t, v); p != `{"user":{"id":42,"name":"alice"},"_expire":1796333522435,"_maxAge":86400000}` {
		t.Fatalf("payload %s", p)
	}

	// Loaded back, _maxAge restores maxAge: the next save has expires.
	j := jar{}
	j.update(got)
	rec = serve(h, "GET", "/?n=1", j.header())
	got = rec.Result().Header.Values("Set-Cookie")
	if len(got) != 2 || !strings.HasSuffix(got[0], "; path=/; expires=Thu, 03 Dec 2026 21:32:02 GMT; httponly") {
		t.Fatalf("re-save: %q", got)
	}
	j.update(got)
	if p := decodePayload(t, j["koa.sess"]); p != `{"user":{"id":42,"name":"alice"},"n":1,"_expire":1796333522435,"_maxAge":86400000}` {
		t.Fatalf("payload %s", p)
	}

	// Unchanged: nothing sent (the CRC-32 is the same).
	if sc := serve(h, "GET", "/", j.header()).Result().Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("unchanged session re-sent: %q", sc)
	}
	// Set to the same value: the JSON is the same, nothing sent.
	if sc := serve(h, "GET", "/?n=1", j.header()).Result().Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("same value re-sent: %q", sc)
	}
	// A new empty session is not saved.
	if sc := serve(h, "GET", "/", "").Result().Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("empty new session sent: %q", sc)
	}
}

func sigOf(t testing.TB, key, data string) string {
	t.Helper()
	kg, err := cookiesig.NewKeygrip("", key)
	if err != nil {
		t.Fatal(err)
	}
	return kg.Sign(data)
}

// signedHeader returns a Cookie header carrying value, signed with key.
func signedHeader(t testing.TB, name, value, key string) string {
	return name + "=" + value + "; " + name + ".sig=" + sigOf(t, key, name+"="+value)
}

func payload(json string) string { return base64.StdEncoding.EncodeToString([]byte(json)) }

// TestExpire checks koa-session's _expire rule: a number in the past is
// expired, anything else (absent, a string, Infinity) is accepted.
func TestExpire(t *testing.T) {
	b := mustNew(t, koasession.Config{Now: fixedNow})
	for _, c := range []struct {
		json string
		ok   bool
	}{
		{`{"a":1,"_expire":1796247122434}`, false}, // one ms ago
		{`{"a":1,"_expire":1796247122435}`, true},  // now: not < now
		{`{"a":1,"_expire":-1e400}`, false},        // -Infinity
		{`{"a":1,"_expire":1e400}`, true},          // Infinity
		{`{"a":1}`, true},                          // no _expire: forever
		{`{"a":1,"_expire":"0"}`, true},            // not a number
		{`{"a":1,"_expire":null}`, true},
		{`{"a":1,"_expire":0}`, false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", signedHeader(t, "koa.sess", payload(c.json), "koa-key-1"))
		s, err := b.Load(r)
		if c.ok != (err == nil) {
			t.Errorf("%s: err %v", c.json, err)
			continue
		}
		if !c.ok {
			if !errors.Is(err, sessionbridge.ErrNoSession) || !errors.Is(err, sessionbridge.ErrExpired) {
				t.Errorf("%s: %v, want ErrNoSession and ErrExpired", c.json, err)
			}
			continue
		}
		if raw, _ := s.Record.Raw("a"); string(raw) != "1" || s.Record.Has("_expire") {
			t.Errorf("%s: keys %q", c.json, s.Record.Keys())
		}
	}
}

// TestHiddenKeys checks that koa-session's private keys are neither read
// nor written.
func TestHiddenKeys(t *testing.T) {
	b := mustNew(t, koasession.Config{Now: fixedNow})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", signedHeader(t, "koa.sess", payload(`{"isNew":true,"_x":1,"a":1,"length":3,"maxAge":5,"toJSON":1,"_expire":1896247122435,"_maxAge":5000}`), "koa-key-1"))
	s, err := b.Load(r)
	if err != nil {
		t.Fatal(err)
	}
	if keys := s.Record.Keys(); len(keys) != 1 || keys[0] != "a" {
		t.Fatalf("keys %q", keys)
	}
	if m := s.Record.Cookie.OriginalMaxAge; m == nil || *m != 5000 {
		t.Fatalf("maxAge %v", m)
	}
	if e := s.Record.Cookie.Expires; e == nil || e.UnixMilli() != 1896247122435 {
		t.Fatalf("expires %v", e)
	}
	for _, k := range []string{"_x", "isNew", "maxAge", "save", "regenerate"} {
		if err := s.Record.Set(k, 1); !errors.Is(err, sessionjson.ErrReservedKey) {
			t.Errorf("Set(%q): %v", k, err)
		}
	}
}

// TestMaxAgeFromRecord checks how _maxAge and _session set the session's
// maxAge, the later one winning.
func TestMaxAgeFromRecord(t *testing.T) {
	b := mustNew(t, koasession.Config{Now: fixedNow, MaxAge: time.Hour})
	for _, c := range []struct {
		json    string
		session bool
		ms      int64
	}{
		{`{}`, false, 3600000},
		{`{"_maxAge":5000}`, false, 5000},
		{`{"_session":true}`, true, 0},
		{`{"_session":false}`, true, 0},
		{`{"_maxAge":5000,"_session":true}`, true, 0},
		{`{"_session":true,"_maxAge":5000}`, false, 5000},
		{`{"_maxAge":"session"}`, true, 0},
		{`{"_maxAge":null}`, false, 0},
		{`{"_maxAge":"x"}`, false, 0},
		{`{"_maxAge":1e300}`, false, 0},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", signedHeader(t, "koa.sess", payload(c.json), "koa-key-1"))
		s, err := b.Load(r)
		if err != nil {
			t.Fatalf("%s: %v", c.json, err)
		}
		m := s.Record.Cookie.OriginalMaxAge
		if c.session != (m == nil) || m != nil && *m != c.ms {
			t.Errorf("%s: maxAge %v", c.json, m)
		}
	}
}

// TestInvalidPayload: what is not base64 JSON of an object is no session.
func TestInvalidPayload(t *testing.T) {
	b := mustNew(t, koasession.Config{Now: fixedNow})
	for _, v := range []string{"bm90IGpzb24", payload(`[1]`), payload(`"s"`), payload(`null`), payload(`{"a":1,"a":2}`),
		payload("\ufeff{}"), "%%%%", payload(`{"a":`)} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", signedHeader(t, "koa.sess", v, "koa-key-1"))
		_, err := b.Load(r)
		if !errors.Is(err, sessionbridge.ErrNoSession) || !errors.Is(err, koasession.ErrInvalidPayload) || !errors.Is(err, sessionjson.ErrMalformed) {
			t.Errorf("%q: %v", v, err)
		}
		if err != nil && strings.Contains(err.Error(), v) {
			t.Errorf("error shows the cookie: %v", err)
		}
	}
	// Lenient base64 as Node reads it: url-safe, unpadded, with junk.
	for _, v := range []string{"eyJhIjoxfQ", "eyJhIjoxfQ=", "eyJh-Ijox_fQ==", "eyJhIjoxfQ==junk"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", signedHeader(t, "koa.sess", v, "koa-key-1"))
		if _, err := b.Load(r); err != nil && !strings.Contains(v, "-") {
			t.Errorf("%q: %v", v, err)
		}
	}
}

// TestSignatures covers the cookies package's get: missing, bad, swapped,
// another name's signature, rotation, and the headers the middleware sends
// for them.
func TestSignatures(t *testing.T) {
	old := mustNew(t, koasession.Config{Keys: []string{"old-key"}, Now: fixedNow})
	b := mustNew(t, koasession.Config{Keys: []string{"new-key", "old-key"}, Now: fixedNow})
	v := payload(`{"a":1}`)
	good := signedHeader(t, "koa.sess", v, "new-key")
	fromOld := signedHeader(t, "koa.sess", v, "old-key")
	for _, c := range []struct {
		name   string
		header string
		want   error
	}{
		{"none", "", cookiesig.ErrNoCookie},
		{"no sig", "koa.sess=" + v, cookiesig.ErrNotSigned},
		{"empty sig", "koa.sess=" + v + "; koa.sess.sig=", cookiesig.ErrNotSigned},
		{"bad sig", "koa.sess=" + v + "; koa.sess.sig=AAAAAAAAAAAAAAAAAAAAAAAAAAA", cookiesig.ErrBadSignature},
		{"sig of another name", "koa.sess=" + v + "; koa.sess.sig=" + sigOf(t, "new-key", "other="+v), cookiesig.ErrBadSignature},
		{"swapped", "koa.sess.sig=" + v + "; koa.sess=" + sigOf(t, "new-key", "koa.sess="+v), cookiesig.ErrBadSignature},
		{"unknown key", signedHeader(t, "koa.sess", v, "other-key"), cookiesig.ErrBadSignature},
		{"padded sig", good + "=", cookiesig.ErrBadSignature},
		{"empty value", signedHeader(t, "koa.sess", "", "new-key"), cookiesig.ErrNoCookie},
		{"good", good, nil},
		{"rotated", fromOld, nil},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if c.header != "" {
			r.Header.Set("Cookie", c.header)
		}
		id, err := b.SessionID(r)
		if c.want == nil {
			if err != nil || id != v {
				t.Errorf("%s: %q %v", c.name, id, err)
			}
			continue
		}
		if !errors.Is(err, sessionbridge.ErrNoSession) || !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := old.SessionID(func() *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", good)
		return r
	}()); !errors.Is(err, cookiesig.ErrBadSignature) {
		t.Errorf("a retired key still verifies: %v", err)
	}

	h := b.LoadAndSave(setHandler(t))
	// A bad signature: NAME.sig cleared with the cookies package's
	// defaults, the session new.
	sc := serve(h, "GET", "/", "koa.sess="+v+"; koa.sess.sig=AAAAAAAAAAAAAAAAAAAAAAAAAAA").Result().Header.Values("Set-Cookie")
	if len(sc) != 1 || sc[0] != "koa.sess.sig=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly" {
		t.Errorf("bad signature: %q", sc)
	}
	// An older key: NAME.sig re-signed with the first, no expires.
	sc = serve(h, "GET", "/", fromOld).Result().Header.Values("Set-Cookie")
	if len(sc) != 1 || sc[0] != "koa.sess.sig="+sigOf(t, "new-key", "koa.sess="+v)+"; path=/; httponly" {
		t.Errorf("rotation: %q", sc)
	}
	// ... replaced by the session's own when it is saved.
	sc = serve(h, "GET", "/?b=2", fromOld).Result().Header.Values("Set-Cookie")
	if len(sc) != 2 || !strings.HasPrefix(sc[0], "koa.sess=") || !strings.HasPrefix(sc[1], "koa.sess.sig=") {
		t.Errorf("rotation and save: %q", sc)
	}
	// Over HTTPS the get's cookies are Secure.
	req := httptest.NewRequest("GET", "https://x/", nil)
	req.TLS = &tls.ConnectionState{}
	req.Header.Set("Cookie", fromOld)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if sc := rec.Result().Header.Values("Set-Cookie"); len(sc) != 1 || !strings.HasSuffix(sc[0], "; path=/; secure; httponly") {
		t.Errorf("rotation over HTTPS: %q", sc)
	}
}

// TestSessionIDFromValue covers "<value>.<sig>".
func TestSessionIDFromValue(t *testing.T) {
	b := mustNew(t, koasession.Config{MaxHeaderBytes: 64})
	v := payload(`{"a":1}`)
	sig := sigOf(t, "koa-key-1", "koa.sess="+v)
	if id, err := b.SessionIDFromValue(v + "." + sig); err != nil || id != v {
		t.Fatalf("%q %v", id, err)
	}
	for in, want := range map[string]error{
		"":                      cookiesig.ErrNotSigned,
		v:                       cookiesig.ErrNotSigned,
		v + ".":                 cookiesig.ErrNotSigned,
		"." + sig:               cookiesig.ErrMalformed,
		v + "." + sig + "x":     cookiesig.ErrBadSignature,
		v + "x." + sig:          cookiesig.ErrBadSignature,
		strings.Repeat("A", 65): cookiesig.ErrMalformed,
	} {
		if _, err := b.SessionIDFromValue(in); !errors.Is(err, sessionbridge.ErrNoSession) || !errors.Is(err, want) {
			t.Errorf("%q: %v, want %v", in, err, want)
		}
	}
	// 64 bytes exactly is read.
	long := strings.Repeat("A", 64-1-len(sig))
	if _, err := b.SessionIDFromValue(long + "." + sigOf(t, "koa-key-1", "koa.sess="+long)); err != nil {
		t.Errorf("at the limit: %v", err)
	}
}

// TestLimits checks the Cookie header limit and the JSON limit at and one
// over.
func TestLimits(t *testing.T) {
	const maxHdr = 512
	b := mustNew(t, koasession.Config{MaxHeaderBytes: maxHdr, Decoder: sessionjson.Decoder{MaxBytes: 100}})
	mk := func(jsonLen, hdrLen int) string {
		j := `{"a":"` + strings.Repeat("x", jsonLen-8) + `"}`
		h := signedHeader(t, "koa.sess", payload(j), "koa-key-1")
		if pad := hdrLen - len(h) - 2; pad >= 0 {
			h = strings.Repeat("z", pad) + "; " + h
		}
		return h
	}
	load := func(h string) error {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", h)
		_, err := b.Load(r)
		return err
	}
	if h := mk(100, maxHdr); len(h) != maxHdr || load(h) != nil {
		t.Fatalf("at both limits (%d bytes): %v", len(h), load(h))
	}
	if err := load(mk(100, maxHdr+1)); !errors.Is(err, cookiesig.ErrMalformed) || !errors.Is(err, sessionbridge.ErrNoSession) {
		t.Errorf("header one over: %v", err)
	}
	if err := load(mk(101, 0)); !errors.Is(err, sessionjson.ErrTooLarge) || !errors.Is(err, koasession.ErrInvalidPayload) {
		t.Errorf("JSON one over: %v", err)
	}
}

// TestDecisions checks rolling, renew, and a maxAge change.
func TestDecisions(t *testing.T) {
	now := fixedNow()
	clock := func() time.Time { return now }
	for _, c := range []struct {
		name     string
		cfg      koasession.Config
		advance  time.Duration
		wantSave bool
	}{
		{"plain", koasession.Config{MaxAge: time.Hour}, time.Minute, false},
		{"rolling", koasession.Config{MaxAge: time.Hour, Rolling: true}, time.Minute, true},
		{"renew early", koasession.Config{MaxAge: time.Hour, Renew: true}, 29 * time.Minute, false},
		{"renew late", koasession.Config{MaxAge: time.Hour, Renew: true}, 31 * time.Minute, true},
		{"renew default maxAge", koasession.Config{Renew: true}, 13 * time.Hour, true},
		{"renew session", koasession.Config{MaxAge: koasession.MaxAgeSession, Renew: true}, 100 * time.Hour, false},
	} {
		now = fixedNow()
		c.cfg.Now = clock
		b := mustNew(t, c.cfg)
		h := b.LoadAndSave(setHandler(t))
		j := jar{}
		j.update(serve(h, "GET", "/?a=1", "").Result().Header.Values("Set-Cookie"))
		if j["koa.sess"] == "" {
			t.Fatalf("%s: not saved", c.name)
		}
		now = now.Add(c.advance)
		sc := serve(h, "GET", "/", j.header()).Result().Header.Values("Set-Cookie")
		if c.wantSave != (len(sc) == 2) {
			t.Errorf("%s: %q", c.name, sc)
		}
	}

	// Changing Record.Cookie.OriginalMaxAge forces a save with it.
	b := mustNew(t, koasession.Config{Now: fixedNow})
	j := jar{}
	j.update(serve(b.LoadAndSave(setHandler(t)), "GET", "/?a=1", "").Result().Header.Values("Set-Cookie"))
	h := b.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionbridge.FromContext(r.Context())
		ms := int64(5000)
		s.Record.Cookie.OriginalMaxAge = &ms
	}))
	sc := serve(h, "GET", "/", j.header()).Result().Header.Values("Set-Cookie")
	if len(sc) != 2 || !strings.Contains(sc[0], "expires=Wed, 02 Dec 2026 21:32:07 GMT") {
		t.Fatalf("maxAge change: %q", sc)
	}
	j.update(sc)
	if p := decodePayload(t, j["koa.sess"]); p != `{"a":1,"_expire":1796247127435,"_maxAge":5000}` {
		t.Fatalf("payload %s", p)
	}
}

// TestMaxAgeSession checks maxAge 'session': _session:true on one save,
// and koa-session's slip to one day when one request saves twice.
func TestMaxAgeSession(t *testing.T) {
	b := mustNew(t, koasession.Config{Now: fixedNow, MaxAge: koasession.MaxAgeSession})
	j := jar{}
	sc := serve(b.LoadAndSave(setHandler(t)), "GET", "/?a=1", "").Result().Header.Values("Set-Cookie")
	j.update(sc)
	if p := decodePayload(t, j["koa.sess"]); p != `{"a":1,"_session":true}` || strings.Contains(sc[0], "expires") {
		t.Fatalf("%s %q", p, sc)
	}
	h := b.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionbridge.FromContext(r.Context())
		_ = s.Record.Set("b", 2)
		if err := b.Save(r.Context(), s); err != nil {
			t.Error(err)
		}
		_ = s.Record.Set("c", 3)
	}))
	sc = serve(h, "GET", "/", j.header()).Result().Header.Values("Set-Cookie")
	j.update(sc)
	if p := decodePayload(t, j["koa.sess"]); p != `{"a":1,"b":2,"c":3,"_expire":1796333522435,"_maxAge":86400000}` || strings.Contains(sc[0], "expires") {
		t.Fatalf("%s %q", p, sc)
	}
	// New refuses it in store mode before anything talks to the store.
	idle := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer idle.Close()
	store := koaredis.New(idle, koaredis.Options{})
	if _, err := koasession.New(koasession.Config{Keys: []string{"k"}, MaxAge: koasession.MaxAgeSession, Store: store}); !errors.Is(err, sessionjson.ErrInvalidCookieOption) {
		t.Errorf("session maxAge with a store: %v", err)
	}
}

// TestDestroyAndOptions checks ctx.session = null's headers with every
// cookie option, overwrite off, and Secure.
func TestDestroyAndOptions(t *testing.T) {
	b := mustNew(t, koasession.Config{Now: fixedNow, Key: "s", Path: "/app", Domain: "x.test", SameSite: http.SameSiteLaxMode,
		Priority: "High", Partitioned: true, Secure: koasession.SecureNever, MaxAge: time.Hour})
	h := b.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionbridge.FromContext(r.Context())
		if err := b.Destroy(r.Context(), s); err != nil {
			t.Error(err)
		}
	}))
	sc := serve(h, "GET", "/", "").Result().Header.Values("Set-Cookie")
	want := []string{
		"s=; path=/app; expires=Thu, 01 Jan 1970 00:00:00 GMT; domain=x.test; priority=high; samesite=lax; httponly; partitioned",
		"s.sig=" + sigOf(t, "koa-key-1", "s=") + "; path=/app; expires=Thu, 01 Jan 1970 00:00:00 GMT; domain=x.test; priority=high; samesite=lax; httponly; partitioned",
	}
	if strings.Join(sc, "\n") != strings.Join(want, "\n") {
		t.Fatalf("destroy:\n%s\nwant\n%s", strings.Join(sc, "\n"), strings.Join(want, "\n"))
	}

	// Overwrite off: regenerate's clearing and the save both go out.
	b = mustNew(t, koasession.Config{Now: fixedNow, DisableOverwrite: true, DisableHTTPOnly: true})
	h = b.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionbridge.FromContext(r.Context())
		_ = s.Record.Set("a", 1)
		if err := b.Regenerate(r.Context(), s); err != nil {
			t.Error(err)
		}
	}))
	sc = serve(h, "GET", "/", "").Result().Header.Values("Set-Cookie")
	if len(sc) != 6 || sc[0] != "koa.sess=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT" || !strings.HasPrefix(sc[4], "koa.sess=ey") {
		t.Fatalf("overwrite off: %q", sc)
	}

	// Secure always: refused over HTTP (the cookies package throws), sent
	// over HTTPS, and over HTTP behind a trusted proxy saying https.
	b = mustNew(t, koasession.Config{Now: fixedNow, Secure: koasession.SecureAlways, TrustProxy: true})
	h = b.LoadAndSave(setHandler(t))
	rec := serve(h, "GET", "/?a=1", "")
	if rec.Code != 500 || len(rec.Result().Header.Values("Set-Cookie")) != 0 {
		t.Errorf("secure over HTTP: %d %q", rec.Code, rec.Result().Header.Values("Set-Cookie"))
	}
	req := httptest.NewRequest("GET", "/?a=1", nil)
	req.Header.Set("X-Forwarded-Proto", "HTTPS , http")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if sc := rec.Result().Header.Values("Set-Cookie"); rec.Code != 200 || len(sc) != 2 || !strings.HasSuffix(sc[0], "; path=/; secure; httponly") {
		t.Errorf("secure behind a proxy: %d %q", rec.Code, sc)
	}
}

// TestWriteOutsideMiddleware covers NewSession, Save, WriteCookie and
// ClearCookie without LoadAndSave.
func TestWriteOutsideMiddleware(t *testing.T) {
	b := mustNew(t, koasession.Config{Now: fixedNow, MaxAge: time.Hour})
	s, err := b.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/", nil)
	if err := b.WriteCookie(rec, r, s); !errors.Is(err, koasession.ErrNotSaved) {
		t.Fatalf("unsaved: %v", err)
	}
	_ = s.Record.Set("a", 1)
	if err := b.Save(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteCookie(rec, r, s); err != nil {
		t.Fatal(err)
	}
	sc := rec.Result().Header.Values("Set-Cookie")
	if len(sc) != 2 || sc[0] != "koa.sess="+s.ID+"; path=/; expires=Wed, 02 Dec 2026 22:32:02 GMT; httponly" {
		t.Fatalf("%q", sc)
	}
	r.Header.Set("Cookie", "koa.sess="+s.ID+"; koa.sess.sig="+strings.TrimPrefix(strings.Split(sc[1], ";")[0], "koa.sess.sig="))
	got, err := b.Load(r)
	if err != nil {
		t.Fatal(err)
	}
	if raw, _ := got.Record.Raw("a"); string(raw) != "1" {
		t.Fatalf("%s", raw)
	}
	rec = httptest.NewRecorder()
	_ = b.ClearCookie(rec, r)
	if sc := rec.Result().Header.Values("Set-Cookie"); len(sc) != 2 || !strings.HasPrefix(sc[0], "koa.sess=; ") {
		t.Fatalf("clear %q", sc)
	}
}

// TestLateChange: a cookie-mode change after the header is lost (and
// logged), never sent half-way.
func TestLateChange(t *testing.T) {
	b := mustNew(t, koasession.Config{Now: fixedNow})
	h := b.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionbridge.FromContext(r.Context())
		_ = s.Record.Set("a", 1)
		_, _ = w.Write([]byte("x"))
		_ = s.Record.Set("b", 2)
		if err := b.Save(r.Context(), s); !errors.Is(err, koasession.ErrResponseStarted) {
			t.Errorf("save after the header: %v", err)
		}
	}))
	j := jar{}
	j.update(serve(h, "GET", "/", "").Result().Header.Values("Set-Cookie"))
	if p := decodePayload(t, j["koa.sess"]); p != `{"a":1,"_expire":1796333522435,"_maxAge":86400000}` {
		t.Fatalf("payload %s", p)
	}
}

func TestNewRefuses(t *testing.T) {
	for name, cfg := range map[string]koasession.Config{
		"no keys":    {},
		"empty key":  {Keys: []string{"a", ""}},
		"bad alg":    {Keys: []string{"a"}, Algorithm: "md5"},
		"bad name":   {Keys: []string{"a"}, Key: "a=b"},
		"bad prefix": {Keys: []string{"a"}, Prefix: "a;b"},
		"neg maxAge": {Keys: []string{"a"}, MaxAge: -time.Second},
		"tiny":       {Keys: []string{"a"}, MaxAge: time.Microsecond},
		"path":       {Keys: []string{"a"}, Path: "/a;b"},
		"priority":   {Keys: []string{"a"}, Priority: "urgent"},
		"samesite":   {Keys: []string{"a"}, SameSite: 9},
		"secure":     {Keys: []string{"a"}, Secure: 7},
	} {
		if _, err := koasession.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := koasession.New(koasession.Config{Keys: []string{"a"}, Algorithm: "SHA256"}); err != nil {
		t.Errorf("sha256: %v", err)
	}
}

// TestStoreModeLateChange: in store mode a change made after the response
// started is stored when the handler returns.
func TestStoreModeLateChange(t *testing.T) {
	b, rdb, _ := storeBridge(t, koasession.Config{Now: fixedNow})
	h := b.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionbridge.FromContext(r.Context())
		_ = s.Record.Set("a", 1)
		_, _ = w.Write([]byte("x"))
		_ = s.Record.Set("b", 2)
	}))
	j := jar{}
	j.update(serve(h, "GET", "/", "").Result().Header.Values("Set-Cookie"))
	got, err := rdb.Get(context.Background(), j["koa.sess"]).Result()
	if err != nil || got != `{"a":1,"b":2,"_expire":1796333522435,"_maxAge":86400000}` {
		t.Fatalf("%s %v", got, err)
	}
}

// TestConcurrentRequests runs requests on one Bridge in parallel (for the
// race detector) and checks each got its own session.
func TestConcurrentRequests(t *testing.T) {
	b := mustNew(t, koasession.Config{})
	h := b.LoadAndSave(setHandler(t))
	done := make(chan string, 16)
	for i := range 16 {
		go func() {
			j := jar{}
			j.update(serve(h, "GET", "/?n="+string(rune('0'+i%10)), "").Result().Header.Values("Set-Cookie"))
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Cookie", j.header())
			s, err := b.Load(r)
			if err != nil {
				done <- err.Error()
				return
			}
			raw, _ := s.Record.Raw("n")
			done <- string(raw)
		}()
	}
	for i := 0; i < 16; i++ {
		if v := <-done; len(v) != 1 || v[0] < '0' || v[0] > '9' {
			t.Errorf("got %q", v)
		}
	}
}
