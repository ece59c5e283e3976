package koasession_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/koasession"
	"github.com/sessionbridge/sessionbridge/koasession/koaredis"
	"github.com/sessionbridge/sessionbridge/passportuser"
)

// goApp is koa-app.js's routes on a Bridge: /set, /me, /login (user 7),
// /logout, /destroy, /regenerate.
func goApp(t testing.TB, b *koasession.Bridge) http.Handler {
	mux := http.NewServeMux()
	sess := func(r *http.Request) *sessionbridge.Session {
		s, ok := sessionbridge.FromContext(r.Context())
		if !ok {
			t.Error("no session")
		}
		return s
	}
	fail := func(w http.ResponseWriter, err error) {
		t.Errorf("go app: %v", err)
		http.Error(w, err.Error(), 500)
	}
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		s := sess(r)
		dec := json.NewDecoder(r.Body)
		var body struct {
			Set orderedObject `json:"set"`
			Del []string      `json:"del"`
		}
		if err := dec.Decode(&body); err != nil {
			fail(w, err)
			return
		}
		for _, kv := range body.Set {
			if err := s.Record.SetRaw(kv.k, kv.v); err != nil {
				fail(w, err)
				return
			}
		}
		for _, k := range body.Del {
			_ = s.Record.Delete(k)
		}
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if _, err := passportuser.Login(r.Context(), b, sess(r), 7, passportuser.Options{}); err != nil {
			fail(w, err)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if _, err := passportuser.Logout(r.Context(), b, sess(r), passportuser.Options{}); err != nil {
			fail(w, err)
		}
	})
	mux.HandleFunc("POST /destroy", func(w http.ResponseWriter, r *http.Request) {
		if err := b.Destroy(r.Context(), sess(r)); err != nil {
			fail(w, err)
		}
	})
	mux.HandleFunc("POST /regenerate", func(w http.ResponseWriter, r *http.Request) {
		if err := b.Regenerate(r.Context(), sess(r)); err != nil {
			fail(w, err)
		}
	})
	return b.LoadAndSave(mux)
}

// orderedObject is a JSON object's members in order.
type orderedObject []struct {
	k string
	v json.RawMessage
}

func (o *orderedObject) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return err
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
		*o = append(*o, struct {
			k string
			v json.RawMessage
		}{k.(string), v})
	}
	return nil
}

// goDo runs one request through h at fixedMs and returns its Set-Cookie
// headers.
func goDo(h http.Handler, method, path, cookie string, body any) (int, []string) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Result().Header.Values("Set-Cookie")
}

var fakeNow = map[string]string{"X-Fake-Now": strconv.Itoa(fixedMs)}

// TestNodeCookieModeSameBytes runs the same requests through koa-session
// and through the Bridge, at the same clock, from the same cookies, and
// compares every Set-Cookie header byte for byte.
func TestNodeCookieModeSameBytes(t *testing.T) {
	for _, c := range []struct {
		name string
		env  map[string]string
		cfg  koasession.Config
	}{
		{"defaults", nil, koasession.Config{}},
		{"maxAge", map[string]string{"MAX_AGE_MS": "3600000"}, koasession.Config{MaxAge: time.Hour}},
		{"session", map[string]string{"MAX_AGE_MS": "session"}, koasession.Config{MaxAge: koasession.MaxAgeSession}},
		{"rolling", map[string]string{"MAX_AGE_MS": "60000", "ROLLING": "1"}, koasession.Config{MaxAge: time.Minute, Rolling: true}},
		{"renew", map[string]string{"MAX_AGE_MS": "1000", "RENEW": "1"}, koasession.Config{MaxAge: time.Second, Renew: true}},
		{"options", map[string]string{"KEY": "app.s", "KEYS": `["k2","k1"]`, "KEYGRIP_ALG": "sha256", "SAME_SITE": "lax",
			"PATH_OPT": "/", "DOMAIN": "example.test", "HTTP_ONLY": "0", "OVERWRITE": "0", "SECURE": "false"},
			koasession.Config{Key: "app.s", Keys: []string{"k2", "k1"}, Algorithm: "sha256", SameSite: http.SameSiteLaxMode,
				Domain: "example.test", DisableHTTPOnly: true, DisableOverwrite: true, Secure: koasession.SecureNever}},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"FAKE_NOW": "1"}
			for k, v := range c.env {
				env[k] = v
			}
			node := nodetest.StartKoa(t, env)
			var at int64
			c.cfg.Now = func() time.Time { return time.UnixMilli(fixedMs + at) }
			h := goApp(t, mustNew(t, c.cfg))
			j := jar{}
			// at is the clock, in ms after fixedMs: the renew case needs
			// less than half of its one-second maxAge left.
			steps := []struct {
				at           int64
				method, path string
				body         any
			}{
				{0, "GET", "/me", nil},
				{0, "POST", "/set", map[string]any{"set": map[string]any{"a": 1}}},
				{0, "GET", "/me", nil},
				{0, "POST", "/set", map[string]any{"set": map[string]any{"b": "é\u2028"}}},
				{0, "POST", "/login", map[string]string{"username": "alice", "password": "secret"}},
				{0, "GET", "/me", nil},
				{400, "GET", "/me", nil},
				{600, "GET", "/me", nil},
				{600, "POST", "/regenerate", nil},
				{600, "POST", "/logout", nil},
				{600, "POST", "/set", map[string]any{"del": []string{"passport", "a", "b"}}},
				{600, "POST", "/set", map[string]any{"set": map[string]any{"c": []int{1}}}},
				{600, "POST", "/destroy", nil},
			}
			sent := 0
			for i, st := range steps {
				at = st.at
				nowHdr := map[string]string{"X-Fake-Now": strconv.FormatInt(fixedMs+st.at, 10)}
				nr := node.Do(st.method, st.path, j.header(), st.body, nowHdr)
				code, gsc := goDo(h, st.method, st.path, j.header(), st.body)
				if nr.Status != 200 || code != 200 {
					t.Fatalf("step %d %s %s: Node %d %s, Go %d\n%s", i, st.method, st.path, nr.Status, nr.Body, code, node.Stderr())
				}
				if strings.Join(nr.SetCookie, "\n") != strings.Join(gsc, "\n") {
					t.Fatalf("step %d %s %s:\nNode %q\nGo   %q", i, st.method, st.path, nr.SetCookie, gsc)
				}
				j.update(nr.SetCookie)
				sent += len(nr.SetCookie)
			}
			if sent < 14 {
				t.Fatalf("only %d Set-Cookie headers in %d steps: the comparison proves little", sent, len(steps))
			}
			t.Logf("%d Set-Cookie headers identical", sent)
		})
	}
}

// TestNodeCookieModeBothWays: a Node login is read by Go, a Go login by
// Node, and the payloads' _expire is honoured by both.
func TestNodeCookieModeBothWays(t *testing.T) {
	node := nodetest.StartKoa(t, map[string]string{"MAX_AGE_MS": "3600000", "FAKE_NOW": "1"})
	b := mustNew(t, koasession.Config{MaxAge: time.Hour})

	// Node logs in, Go reads the user.
	j := jar{}
	j.update(node.Do("POST", "/login", "", map[string]string{"username": "alice", "password": "secret"}, nil).SetCookie)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", j.header())
	s, err := b.Load(r)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := passportuser.Raw(s); err != nil || string(u) != "7" {
		t.Fatalf("user %s %v", u, err)
	}
	// The same through SessionIDFromValue.
	id, err := b.SessionIDFromValue(j["koa.sess"] + "." + j["koa.sess.sig"])
	if err != nil || id != j["koa.sess"] {
		t.Fatalf("from value: %v", err)
	}

	// Go logs in, Node reads the user.
	gs, _ := b.NewSession()
	if _, err := passportuser.Login(context.Background(), b, gs, map[string]any{"id": 7}, passportuser.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := passportuser.Login(context.Background(), b, gs, 0, passportuser.Options{}); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := b.WriteCookie(rec, r, gs); err != nil {
		t.Fatal(err)
	}
	gj := jar{}
	gj.update(rec.Result().Header.Values("Set-Cookie"))
	st := node.State(node.Do("GET", "/me", gj.header(), nil, nil))
	if !st.LoggedIn || !strings.Contains(string(st.User), `"name":"Zero"`) || string(st.MaxAge) != "3600000" {
		t.Fatalf("Node on Go's login: %+v %s", st, st.User)
	}

	// _expire in the past: Go's cookie from an hour and a bit ago.
	old := mustNew(t, koasession.Config{MaxAge: time.Hour, Now: func() time.Time { return time.Now().Add(-time.Hour - time.Second) }})
	os, _ := old.NewSession()
	_, _ = passportuser.Login(context.Background(), old, os, 7, passportuser.Options{})
	rec = httptest.NewRecorder()
	_ = old.WriteCookie(rec, r, os)
	oj := jar{}
	oj.update(rec.Result().Header.Values("Set-Cookie"))
	if st := node.State(node.Do("GET", "/me", oj.header(), nil, nil)); st.LoggedIn || st.IsNew == nil || !*st.IsNew {
		t.Fatalf("Node accepted an expired Go session: %+v", st)
	}
	r.Header.Set("Cookie", oj.header())
	if _, err := b.Load(r); !errors.Is(err, sessionbridge.ErrExpired) {
		t.Fatalf("Go accepted an expired session: %v", err)
	}
	// ... and Node's, written at a clock an hour and a bit back.
	past := map[string]string{"X-Fake-Now": strconv.FormatInt(time.Now().Add(-time.Hour-time.Second).UnixMilli(), 10)}
	nj := jar{}
	nj.update(node.Do("POST", "/login", "", map[string]string{"username": "alice", "password": "secret"}, past).SetCookie)
	r.Header.Set("Cookie", nj.header())
	if _, err := b.Load(r); !errors.Is(err, sessionbridge.ErrExpired) {
		t.Fatalf("Go accepted Node's expired session: %v", err)
	}
	if st := node.State(node.Do("GET", "/me", nj.header(), nil, nil)); st.LoggedIn {
		t.Fatal("negative control: Node accepted its own expired session")
	}

	// No _expire at all: accepted forever, by both.
	forever := signedHeader(t, "koa.sess", payload(`{"passport":{"user":7}}`), "koa-key-1")
	far := map[string]string{"X-Fake-Now": "8000000000000000"}
	if st := node.State(node.Do("GET", "/me", forever, nil, far)); !st.LoggedIn {
		t.Fatalf("Node refused a payload without _expire: %+v", st)
	}
	farGo := mustNew(t, koasession.Config{Now: func() time.Time { return time.UnixMilli(8e15) }})
	r.Header.Set("Cookie", forever)
	if _, err := farGo.Load(r); err != nil {
		t.Fatalf("Go refused a payload without _expire: %v", err)
	}
}

// TestNodeCookieModeSignatures sends the same doctored cookies to Node
// and Go: both refuse them alike, clear NAME.sig alike, and accept the
// padding variants of a payload alike.
func TestNodeCookieModeSignatures(t *testing.T) {
	node := nodetest.StartKoa(t, map[string]string{"KEYS": `["new-key","old-key"]`, "FAKE_NOW": "1"})
	b := mustNew(t, koasession.Config{Keys: []string{"new-key", "old-key"}, Now: fixedNow})
	h := b.LoadAndSave(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	logged := `{"passport":{"user":7},"_expire":1896247122435,"_maxAge":86400000}`
	v := payload(logged)
	padded := payload(logged + " ")
	if !strings.HasSuffix(padded, "=") {
		padded = payload(logged + "  ")
	}
	for _, c := range []struct {
		name   string
		header string
		ok     bool
	}{
		{"good", signedHeader(t, "koa.sess", v, "new-key"), true},
		{"old key", signedHeader(t, "koa.sess", v, "old-key"), true},
		{"unpadded", signedHeader(t, "koa.sess", strings.TrimRight(v, "="), "new-key"), true},
		{"url-safe", signedHeader(t, "koa.sess", strings.NewReplacer("+", "-", "/", "_").Replace(payload(logged+" ")), "new-key"), true},
		{"junk after padding", signedHeader(t, "koa.sess", padded+"AAAA", "new-key"), true},
		{"junk without padding", signedHeader(t, "koa.sess", strings.TrimRight(padded, "=")+"AAAA", "new-key"), false},
		{"quoted", `koa.sess="` + v + `"; koa.sess.sig=` + sigOf(t, "new-key", "koa.sess="+v), true},
		{"no sig", "koa.sess=" + v, false},
		{"bad sig", "koa.sess=" + v + "; koa.sess.sig=" + sigOf(t, "other", "koa.sess="+v), false},
		{"sig of another name", "koa.sess=" + v + "; koa.sess.sig=" + sigOf(t, "new-key", "other="+v), false},
		{"swapped", "koa.sess=" + sigOf(t, "new-key", "koa.sess="+v) + "; koa.sess.sig=" + v, false},
		{"padded sig", signedHeader(t, "koa.sess", v, "new-key") + "=", false},
		{"not JSON", signedHeader(t, "koa.sess", payload("{nope"), "new-key"), false},
		{"expired", signedHeader(t, "koa.sess", payload(`{"passport":{"user":7},"_expire":1,"_maxAge":1}`), "new-key"), false},
	} {
		nr := node.Do("GET", "/me", c.header, nil, fakeNow)
		st := node.State(nr)
		_, gsc := goDo(h, "GET", "/me", c.header, nil)
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", c.header)
		_, err := b.Load(r)
		if st.LoggedIn != c.ok || (err == nil) != c.ok {
			t.Errorf("%s: Node logged in %v, Go %v", c.name, st.LoggedIn, err)
		}
		if strings.Join(nr.SetCookie, "\n") != strings.Join(gsc, "\n") {
			t.Errorf("%s: Set-Cookie\nNode %q\nGo   %q", c.name, nr.SetCookie, gsc)
		}
	}
}

// TestNodeOversized: a Cookie header one byte over Go's default limit (16
// KiB, Node's own limit on all of a request's headers) is refused by both,
// and one at Go's limit is read by Go.
func TestNodeOversized(t *testing.T) {
	node := nodetest.StartKoa(t, nil)
	b := mustNew(t, koasession.Config{})
	v := payload(`{"passport":{"user":7}}`)
	hdr := func(n int) string {
		h := signedHeader(t, "koa.sess", v, "koa-key-1")
		return "pad=" + strings.Repeat("x", n-len(h)-6) + "; " + h
	}
	at, over := hdr(cookiesig.DefaultMaxHeaderBytes), hdr(cookiesig.DefaultMaxHeaderBytes+1)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", at)
	if _, err := b.Load(r); len(at) != cookiesig.DefaultMaxHeaderBytes || err != nil {
		t.Fatalf("at the limit (%d): %v", len(at), err)
	}
	r.Header.Set("Cookie", over)
	if _, err := b.Load(r); !errors.Is(err, cookiesig.ErrMalformed) || !errors.Is(err, sessionbridge.ErrNoSession) {
		t.Fatalf("one over: %v", err)
	}
	if nr := node.Do("GET", "/me", over, nil, nil); nr.Status != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("Node on %d bytes: %d", len(over), nr.Status)
	}
	if st := node.State(node.Do("GET", "/me", hdr(8000), nil, nil)); !st.LoggedIn {
		t.Fatal("negative control: Node refused a long header")
	}
}

// TestNodeStoreMode runs both ways on Redis with koa-redis: the records,
// their TTLs and the cookies, logout, destroy, expiry and a doctored key.
func TestNodeStoreMode(t *testing.T) {
	b, rdb, prefix := storeBridge(t, koasession.Config{MaxAge: time.Hour, Now: fixedNow})
	node := nodetest.StartKoa(t, map[string]string{"STORE": "redis", "REDIS_URL": "redis://" + rdb.Options().Addr,
		"PREFIX": prefix, "MAX_AGE_MS": "3600000", "FAKE_NOW": "1"})
	ctx := context.Background()
	keyRE := regexp.MustCompile("^" + regexp.QuoteMeta(prefix) + `[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	mask := func(sc []string, key string) string {
		out := strings.Join(sc, "\n")
		out = strings.ReplaceAll(out, b.CookieName()+".sig="+sigOf(t, "koa-key-1", b.CookieName()+"="+key), "SIG")
		return strings.ReplaceAll(out, key, "KEY")
	}
	login := map[string]string{"username": "alice", "password": "secret"}

	// Node logs in; Go reads the record; Go logs in the same way; the
	// records and headers agree but for the key.
	nj, gj := jar{}, jar{}
	nr := node.Do("POST", "/login", "", login, fakeNow)
	nj.update(nr.SetCookie)
	code, gsc := goDo(goApp(t, b), "POST", "/login", "", login)
	if code != 200 {
		t.Fatal(code)
	}
	gj.update(gsc)
	nk, gk := nj["koa.sess"], gj["koa.sess"]
	if !keyRE.MatchString(nk) || !keyRE.MatchString(gk) || nk == gk {
		t.Fatalf("keys %q %q", nk, gk)
	}
	if mask(nr.SetCookie, nk) != mask(gsc, gk) {
		t.Fatalf("Set-Cookie\nNode %q\nGo   %q", nr.SetCookie, gsc)
	}
	nrec, _ := rdb.Get(ctx, nk).Result()
	grec, _ := rdb.Get(ctx, gk).Result()
	if nrec != `{"passport":{"user":7},"_expire":1796250722435,"_maxAge":3600000}` || grec != nrec {
		t.Fatalf("records\nNode %s\nGo   %s", nrec, grec)
	}
	if nt, gt := rdb.TTL(ctx, nk).Val(), rdb.TTL(ctx, gk).Val(); nt != gt && nt != gt+time.Second {
		t.Fatalf("TTL Node %v Go %v", nt, gt)
	}
	if n, _ := rdb.Keys(ctx, prefix+"*").Result(); len(n) != 2 {
		t.Fatalf("keys left: %d, want the two sessions (regenerate destroys the new key)", len(n))
	}

	// Each reads the other's.
	s, err := b.LoadID(ctx, nk)
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := passportuser.Raw(s); string(u) != "7" {
		t.Fatalf("Go reads Node's user %s", u)
	}
	if st := node.State(node.Do("GET", "/me", gj.header(), nil, fakeNow)); !st.LoggedIn {
		t.Fatalf("Node on Go's login: %+v", st)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", nj.header())
	if id, err := b.SessionID(r); err != nil || id != nk {
		t.Fatalf("SessionID: %v", err)
	}

	// Go changes Node's session; Node sees it.
	code, _ = goDo(goApp(t, b), "POST", "/set", nj.header(), map[string]any{"set": map[string]any{"cart": 3}})
	if st := node.State(node.Do("GET", "/me", nj.header(), nil, fakeNow)); code != 200 || !strings.Contains(string(st.Session), `"cart":3`) {
		t.Fatalf("Node on Go's change: %s", st.Session)
	}

	// Node logs out (passport 0.6: save, then regenerate): the old key is
	// gone, the new one holds passport:{} and the rest.
	nr = node.Do("POST", "/logout", nj.header(), nil, fakeNow)
	node.State(nr)
	if _, err := b.LoadID(ctx, nk); !errors.Is(err, sessionbridge.ErrNoSession) || !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("old key after Node's logout: %v", err)
	}
	nj.update(nr.SetCookie)
	s, err = b.LoadID(ctx, nj["koa.sess"])
	if err != nil || passportuser.LoggedIn(s) || !s.Record.Has("cart") {
		t.Fatalf("after logout: %v %q", err, s.Record.Keys())
	}
	// Go logs out the same way: same records and headers but for the key.
	code, gsc = goDo(goApp(t, b), "POST", "/logout", gj.header(), nil)
	gj.update(gsc)
	if code != 200 || mask(gsc, gj["koa.sess"]) != mask(nr.SetCookie, nj["koa.sess"]) {
		t.Fatalf("logout Set-Cookie\nNode %q\nGo   %q", nr.SetCookie, gsc)
	}
	if st := node.State(node.Do("GET", "/me", gj.header(), nil, fakeNow)); st.LoggedIn || string(st.Session) != `{"passport":{}}` {
		t.Fatalf("Node after Go's logout: %+v", st)
	}

	// Destroy both ways.
	nr = node.Do("POST", "/destroy", nj.header(), nil, fakeNow)
	if _, err := b.LoadID(ctx, nj["koa.sess"]); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("after Node's destroy: %v", err)
	}
	code, gsc = goDo(goApp(t, b), "POST", "/destroy", gj.header(), nil)
	if code != 200 || strings.Join(gsc, "\n") != strings.Join(nr.SetCookie, "\n") {
		t.Fatalf("destroy Set-Cookie\nNode %q\nGo   %q", nr.SetCookie, gsc)
	}
	if n, _ := rdb.Exists(ctx, gj["koa.sess"]).Result(); n != 0 {
		t.Fatal("Go's destroy left the record")
	}
	if st := node.State(node.Do("GET", "/me", gj.header(), nil, fakeNow)); st.LoggedIn || !*st.IsNew {
		t.Fatalf("Node after Go's destroy: %+v", st)
	}

	// A record whose _expire has passed, its key still alive: both refuse.
	key := prefix + "00000000-0000-4000-8000-000000000000"
	rdb.Set(ctx, key, `{"passport":{"user":7},"_expire":1796247122434,"_maxAge":3600000}`, time.Minute)
	hdr := signedHeader(t, "koa.sess", key, "koa-key-1")
	if st := node.State(node.Do("GET", "/me", hdr, nil, fakeNow)); st.LoggedIn {
		t.Fatal("Node accepted an expired record")
	}
	if _, err := b.LoadID(ctx, key); !errors.Is(err, sessionbridge.ErrExpired) {
		t.Fatalf("Go: %v", err)
	}
	rdb.Set(ctx, key, `{"passport":{"user":7},"_expire":1796247122435,"_maxAge":3600000}`, time.Minute)
	if st := node.State(node.Do("GET", "/me", hdr, nil, fakeNow)); !st.LoggedIn {
		t.Fatal("negative control: Node refused a live record")
	}
	if _, err := b.LoadID(ctx, key); err != nil {
		t.Fatalf("negative control: %v", err)
	}

	// A validly signed key koa-session would never make: Go refuses to use
	// it; Node looks it up and finds nothing.
	for _, bad := range []string{"x", prefix + "00000000-0000-4000-8000-00000000000G", prefix + "00000000-0000-1000-8000-000000000000",
		prefix + "00000000-0000-4000-8000-000000000000x", "other:00000000-0000-4000-8000-000000000000", prefix + "*"} {
		r.Header.Set("Cookie", signedHeader(t, "koa.sess", bad, "koa-key-1"))
		if _, err := b.SessionID(r); !errors.Is(err, koasession.ErrInvalidKey) || !errors.Is(err, sessionbridge.ErrNoSession) {
			t.Errorf("%q: %v", bad, err)
		} else if len(bad) > 8 && strings.Contains(err.Error(), bad) {
			t.Errorf("the error shows the key: %v", err)
		}
		if _, err := b.LoadID(ctx, bad); !errors.Is(err, koasession.ErrInvalidKey) {
			t.Errorf("LoadID %q: %v", bad, err)
		}
	}

	// A record that is not JSON is missed, as koa-redis's get misses it.
	rdb.Set(ctx, key, `{"passport":`, time.Minute)
	if st := node.State(node.Do("GET", "/me", hdr, nil, fakeNow)); st.LoggedIn {
		t.Fatal("Node read a broken record")
	}
	if _, err := b.LoadID(ctx, key); !errors.Is(err, koasession.ErrInvalidPayload) || !errors.Is(err, sessionbridge.ErrNoSession) {
		t.Fatalf("broken record: %v", err)
	}
}

// TestNodeStoreModeDefaults checks the default maxAge in store mode: the
// TTL koa-session asks koa-redis for (one day plus 10 s), and the cookie
// without expires.
func TestNodeStoreModeDefaults(t *testing.T) {
	b, rdb, prefix := storeBridge(t, koasession.Config{Now: fixedNow})
	node := nodetest.StartKoa(t, map[string]string{"STORE": "redis", "REDIS_URL": "redis://" + rdb.Options().Addr,
		"PREFIX": prefix, "FAKE_NOW": "1"})
	ctx := context.Background()
	body := map[string]any{"set": map[string]any{"a": 1}}
	nr := node.Do("POST", "/set", "", body, fakeNow)
	_, gsc := goDo(goApp(t, b), "POST", "/set", "", body)
	nj, gj := jar{}, jar{}
	nj.update(nr.SetCookie)
	gj.update(gsc)
	for _, k := range []string{nj["koa.sess"], gj["koa.sess"]} {
		rec, _ := rdb.Get(ctx, k).Result()
		ttl := rdb.TTL(ctx, k).Val()
		if rec != `{"a":1,"_expire":1796333522435,"_maxAge":86400000}` || ttl < 86409*time.Second || ttl > 86410*time.Second {
			t.Errorf("record %s ttl %v", rec, ttl)
		}
	}
	for _, sc := range [][]string{nr.SetCookie, gsc} {
		if len(sc) != 2 || strings.Contains(sc[0], "expires") || !strings.HasSuffix(sc[0], "; path=/; httponly") {
			t.Errorf("first cookie %q", sc)
		}
	}
	// Rolling re-save of a loaded session: expires now, from _maxAge.
	code, gsc := goDo(goApp(t, b), "POST", "/set", gj.header(), map[string]any{"set": map[string]any{"a": 2}})
	if code != 200 || len(gsc) != 2 || !strings.Contains(gsc[0], "expires=Thu, 03 Dec 2026 21:32:02 GMT") {
		t.Errorf("re-save %q", gsc)
	}
	nr = node.Do("POST", "/set", nj.header(), map[string]any{"set": map[string]any{"a": 2}}, fakeNow)
	if strings.ReplaceAll(strings.Join(nr.SetCookie, "\n"), nj["koa.sess"], "K") == strings.Join(nr.SetCookie, "\n") ||
		!strings.Contains(nr.SetCookie[0], "expires=Thu, 03 Dec 2026 21:32:02 GMT") {
		t.Errorf("Node re-save %q", nr.SetCookie)
	}
}

// TestNodeStoreModeSessionMaxAge pins koa-session + koa-redis with maxAge
// 'session': koa-redis sends SETEX with 'session' as the TTL, which Redis
// refuses, so every save fails; New refuses the configuration.
func TestNodeStoreModeSessionMaxAge(t *testing.T) {
	rdb := redisClient(t)
	prefix := uniquePrefix(t, rdb)
	node := nodetest.StartKoa(t, map[string]string{"STORE": "redis", "REDIS_URL": "redis://" + rdb.Options().Addr,
		"PREFIX": prefix, "MAX_AGE_MS": "session"})
	nr := node.Do("POST", "/set", "", map[string]any{"set": map[string]any{"a": 1}}, nil)
	if nr.Status != 500 || !node.StderrHas("ERR value is not an integer") {
		t.Fatalf("Node: %d %s", nr.Status, nr.Body)
	}
	if nr = node.Do("GET", "/me", "", nil, nil); nr.Status != 200 {
		t.Fatalf("negative control: %d", nr.Status)
	}
}

// TestStoreModeUnreachable: a Redis that cannot be reached is a store
// failure everywhere, never "no session".
func TestStoreModeUnreachable(t *testing.T) {
	b, _, prefix := storeBridge(t, koasession.Config{})
	key := prefix + "00000000-0000-4000-8000-000000000000"
	dead := deadBridge(t, prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := dead.LoadID(ctx, key); !errors.Is(err, sessionbridge.ErrStore) || errors.Is(err, sessionbridge.ErrNoSession) {
		t.Fatalf("LoadID: %v", err)
	}
	if _, err := b.LoadID(ctx, key); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("negative control: %v", err)
	}
	s, _ := dead.NewSession()
	if err := dead.Save(ctx, s); !errors.Is(err, sessionbridge.ErrStore) {
		t.Fatalf("Save: %v", err)
	}
	if err := dead.Destroy(ctx, s); !errors.Is(err, sessionbridge.ErrStore) {
		t.Fatalf("Destroy: %v", err)
	}
	hdr := signedHeader(t, "koa.sess", key, "koa-key-1")
	code, sc := goDo(dead.LoadAndSave(setHandler(t)), "GET", "/", hdr, nil)
	if code != 503 || len(sc) != 0 {
		t.Fatalf("LoadAndSave load: %d %q", code, sc)
	}
	code, sc = goDo(dead.LoadAndSave(setHandler(t)), "GET", "/?a=1", "", nil)
	if code != 503 || len(sc) != 0 {
		t.Fatalf("LoadAndSave save: %d %q", code, sc)
	}
	canceled, stop := context.WithCancel(context.Background())
	stop()
	if _, err := b.LoadID(canceled, key); !errors.Is(err, sessionbridge.ErrStore) || !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
}

// deadBridge is a store-mode Bridge on a port nothing listens on.
func deadBridge(t testing.TB, prefix string) *koasession.Bridge {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	return mustNew(t, koasession.Config{Prefix: prefix, Store: koaredis.New(rdb, koaredis.Options{})})
}

// TestNodeSecureBehindProxy: with app.proxy and X-Forwarded-Proto https,
// koa-session's cookies (and the cookies package's re-signed NAME.sig) are
// Secure; Go with TrustProxy sends the same bytes. secure: true over plain
// HTTP fails in both.
func TestNodeSecureBehindProxy(t *testing.T) {
	node := nodetest.StartKoa(t, map[string]string{"TRUST_PROXY": "1", "FAKE_NOW": "1", "KEYS": `["k2","k1"]`, "MAX_AGE_MS": "60000"})
	h := goApp(t, mustNew(t, koasession.Config{TrustProxy: true, Now: fixedNow, Keys: []string{"k2", "k1"}, MaxAge: time.Minute}))
	hdrs := map[string]string{"X-Fake-Now": strconv.Itoa(fixedMs), "X-Forwarded-Proto": "HTTPS, http"}
	old := signedHeader(t, "koa.sess", payload(`{"a":1,"_expire":1896247122435,"_maxAge":60000}`), "k1")
	for _, c := range []struct {
		path, cookie string
		body         any
	}{
		{"/set", "", map[string]any{"set": map[string]any{"a": 1}}},
		{"/me", old, nil},
		{"/set", old, map[string]any{"set": map[string]any{"b": 1}}},
	} {
		method := "POST"
		if c.path == "/me" {
			method = "GET"
		}
		nr := node.Do(method, c.path, c.cookie, c.body, hdrs)
		var rd io.Reader
		if c.body != nil {
			bb, _ := json.Marshal(c.body)
			rd = bytes.NewReader(bb)
		}
		req := httptest.NewRequest(method, c.path, rd)
		req.Header.Set("X-Forwarded-Proto", "HTTPS, http")
		if c.cookie != "" {
			req.Header.Set("Cookie", c.cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		gsc := rec.Result().Header.Values("Set-Cookie")
		if len(gsc) == 0 || !strings.Contains(gsc[0], "; secure") || strings.Join(nr.SetCookie, "\n") != strings.Join(gsc, "\n") {
			t.Errorf("%s %s:\nNode %q\nGo   %q", method, c.path, nr.SetCookie, gsc)
		}
	}

	strict := nodetest.StartKoa(t, map[string]string{"SECURE": "true"})
	if nr := strict.Do("POST", "/set", "", map[string]any{"set": map[string]any{"a": 1}}, nil); nr.Status != 500 ||
		!strict.StderrHas("Cannot send secure cookie over unencrypted connection") {
		t.Errorf("Node, secure over HTTP: %d %s", nr.Status, nr.Body)
	}
	code, _ := goDo(goApp(t, mustNew(t, koasession.Config{Secure: koasession.SecureAlways})), "POST", "/set", "", map[string]any{"set": map[string]any{"a": 1}})
	if code != 500 {
		t.Errorf("Go, secure over HTTP: %d", code)
	}
}
