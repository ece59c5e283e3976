package cookiesession

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/passportuser"
)

// The live tests run the same requests against the real cookie-session
// (testdata/node/cookie-session-app.js) and against Go's LoadAndSave with
// the same options, both on a fixed clock, and compare the Set-Cookie
// headers byte for byte.

// nodeT is the fixed clock of the live tests, in ms since the epoch.
const nodeT = 1796247121000 // Wed, 02 Dec 2026 21:32:01 GMT

// peer is one side of a comparison: the Node app or the Go handler.
type peer interface {
	do(method, path, cookie string, body any, at int64, header map[string]string) nodetest.CookieSessionResponse
}

type nodePeer struct{ app *nodetest.CookieSessionApp }

func (p nodePeer) do(method, path, cookie string, body any, at int64, header map[string]string) nodetest.CookieSessionResponse {
	h := map[string]string{"X-Fake-Now": strconv.FormatInt(at, 10)}
	for k, v := range header {
		h[k] = v
	}
	return p.app.Do(method, path, cookie, body, h)
}

// goPeer is a Go app with the Node app's routes under LoadAndSave.
type goPeer struct {
	t     testing.TB
	m     *Bridge
	clock *atomic.Int64
	h     http.Handler
	log   *nodetest.LockedBuffer
}

func (p goPeer) do(method, path, cookie string, body any, at int64, header map[string]string) nodetest.CookieSessionResponse {
	p.clock.Store(at)
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			p.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	r := httptest.NewRequest(method, path, rd)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	p.h.ServeHTTP(w, r)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 500 {
		p.t.Fatalf("Go %s %s: %d %s", method, path, res.StatusCode, b)
	}
	return nodetest.CookieSessionResponse{Status: res.StatusCode, Body: b, SetCookie: res.Header.Values("Set-Cookie")}
}

type user struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

var users = map[string]user{"alice": {42, "alice"}, "zoe": {7, "Zoë 🍪 “quoted”"}}

// newGoPeer returns Bridge for cfg on a settable clock, with the Node
// app's routes.
func newGoPeer(t testing.TB, cfg Config) goPeer {
	t.Helper()
	clock := new(atomic.Int64)
	clock.Store(nodeT)
	cfg.Now = func() time.Time { return time.UnixMilli(clock.Load()) }
	logs := &nodetest.LockedBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	sess := func(r *http.Request) *sessionbridge.Session {
		s, ok := sessionbridge.FromContext(r.Context())
		if !ok {
			t.Error("no session")
		}
		return s
	}
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Username, Password string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		u, ok := users[in.Username]
		if !ok || in.Password != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if _, err := passportuser.Login(r.Context(), m, sess(r), u, passportuser.Options{}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		reply(w, map[string]any{"ok": true, "user": u})
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		s := sess(r)
		rec, _ := encodeNode(s.Record)
		u, err := passportuser.Raw(s)
		if err != nil {
			u = json.RawMessage("null")
		}
		reply(w, map[string]any{"loggedIn": err == nil, "user": u, "record": string(rec)})
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Set map[string]json.RawMessage
			Del []string
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s := sess(r)
		// JSON object order: set the keys in the order the body has them.
		for _, k := range orderedKeys(t, r.Context().Value(bodyKey{})) {
			_ = s.Record.SetRaw(k, in.Set[k])
		}
		for _, k := range in.Del {
			_ = s.Record.Delete(k)
		}
		rec, _ := encodeNode(s.Record)
		reply(w, map[string]any{"record": string(rec)})
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if _, err := passportuser.Logout(r.Context(), m, sess(r), passportuser.Options{}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		reply(w, map[string]any{"ok": true})
	})
	mux.HandleFunc("POST /null", func(w http.ResponseWriter, r *http.Request) {
		m.Unset(sess(r))
		reply(w, map[string]any{"ok": true})
	})
	// Keep the raw body for /set's key order.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, b))
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		m.LoadAndSave(mux).ServeHTTP(w, r)
	})
	return goPeer{t: t, m: m, clock: clock, h: h, log: logs}
}

type bodyKey struct{}

// orderedKeys returns the keys of the body's "set" object in order.
func orderedKeys(t testing.TB, v any) []string {
	b, _ := v.([]byte)
	var raw struct{ Set json.RawMessage }
	if json.Unmarshal(b, &raw) != nil || len(raw.Set) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw.Set))
	var keys []string
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// me is what GET /me answers on both sides.
type me struct {
	LoggedIn bool            `json:"loggedIn"`
	User     json.RawMessage `json:"user"`
	Record   *string         `json:"record"`
}

func decodeMe(t testing.TB, side string, res nodetest.CookieSessionResponse) me {
	t.Helper()
	var v me
	if err := json.Unmarshal(res.Body, &v); err != nil {
		t.Fatalf("%s /me: %v: %s", side, err, res.Body)
	}
	return v
}

// cookieOf turns Set-Cookie headers into the Cookie header a browser
// would send next (the name=value of each, expired ones left out).
func cookieOf(setCookie []string) string {
	var parts []string
	for _, h := range setCookie {
		if strings.Contains(h, "expires=Thu, 01 Jan 1970") {
			continue
		}
		nv, _, _ := strings.Cut(h, ";")
		parts = append(parts, nv)
	}
	return strings.Join(parts, "; ")
}

// short shortens long headers for messages.
func short(hs []string) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		if len(h) > 300 {
			h = h[:100] + fmt.Sprintf("…(%d bytes)…", len(h)-200) + h[len(h)-100:]
		}
		out[i] = h
	}
	return out
}

// same sends one request to both peers and requires the same Set-Cookie
// headers, byte for byte.
func same(t *testing.T, node, gop peer, what, method, path, cookie string, body any, at int64) (n, g nodetest.CookieSessionResponse) {
	t.Helper()
	n = node.do(method, path, cookie, body, at, nil)
	g = gop.do(method, path, cookie, body, at, nil)
	if !equal(n.SetCookie, g.SetCookie) {
		t.Errorf("%s: Set-Cookie differs\nNode %q\n  Go %q", what, short(n.SetCookie), short(g.SetCookie))
	}
	return n, g
}

func TestNodeBothWays(t *testing.T) {
	app := nodetest.StartCookieSessionApp(t, map[string]string{"FAKE_NOW": "1"})
	node, gop := nodePeer{app}, newGoPeer(t, Config{Keys: []string{"new-key", "old-key"}, MaxAge: 24 * time.Hour})

	// A passport login: the same two cookies from both.
	n, g := same(t, node, gop, "login alice", "POST", "/login", "", map[string]string{"username": "alice", "password": "secret"}, nodeT)
	if want := "session=" + aliceValue + "; path=/; expires=Thu, 03 Dec 2026 21:32:01 GMT; httponly"; len(n.SetCookie) != 2 || n.SetCookie[0] != want {
		t.Fatalf("Node login: %q", n.SetCookie)
	}
	nodeCookie, goCookie := cookieOf(n.SetCookie), cookieOf(g.SetCookie)

	// Node login -> Go reads passport.user; Go login -> Node sees the user.
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", nodeCookie)
	s, err := gop.m.Load(r)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := passportuser.Raw(s); err != nil || string(u) != `{"id":42,"name":"alice"}` {
		t.Fatalf("Go read Node's login: %s, %v", u, err)
	}
	nm := decodeMe(t, "Node", node.do("GET", "/me", goCookie, nil, nodeT+1000, nil))
	if !nm.LoggedIn || string(nm.User) != `{"id":42,"name":"alice"}` {
		t.Fatalf("Node read Go's login: %+v", nm)
	}
	// Reading changes nothing: no Set-Cookie on either side.
	n, g = same(t, node, gop, "read", "GET", "/me", nodeCookie, nil, nodeT+1000)
	if len(n.SetCookie) != 0 || !decodeMe(t, "Go", g).LoggedIn {
		t.Errorf("read: Node %q, Go %s", n.SetCookie, g.Body)
	}
	// Anonymous: nothing, on either side.
	if n, _ := same(t, node, gop, "anonymous", "GET", "/me", "", nil, nodeT); len(n.SetCookie) != 0 {
		t.Errorf("anonymous: %q", n.SetCookie)
	}

	// Non-ASCII user and data, written by either side and read by the other.
	n, _ = same(t, node, gop, "login zoe", "POST", "/login", "", map[string]string{"username": "zoe", "password": "secret"}, nodeT)
	zoe := cookieOf(n.SetCookie)
	data := json.RawMessage(`{"set":{"s":"Zoë\u2028\u2029<>&\u0000\u001f\"\\/\ud800 ok","e":"😀","n":[1,2.5,-1.5e-7,1e+21],"2":1,"1":{"b":{},"0":[]},"cookie":{"x":true}}}`)
	n, g = same(t, node, gop, "set non-ASCII", "POST", "/set", zoe, data, nodeT+2000)
	var nodeSet, goSet struct{ Record string }
	_ = json.Unmarshal(n.Body, &nodeSet)
	_ = json.Unmarshal(g.Body, &goSet)
	if nodeSet.Record != goSet.Record || !strings.Contains(nodeSet.Record, `\ud800 ok`) {
		t.Errorf("records differ:\nNode %q\n  Go %q", nodeSet.Record, goSet.Record)
	}
	for _, c := range []struct{ reader, writer string }{{"Go", "Node"}, {"Node", "Go"}} {
		cookie := cookieOf(n.SetCookie)
		var p peer = gop
		if c.writer == "Go" {
			cookie, p = cookieOf(g.SetCookie), node
		}
		got := decodeMe(t, c.reader, p.do("GET", "/me", cookie, nil, nodeT+3000, nil))
		if !got.LoggedIn || got.Record == nil || *got.Record != nodeSet.Record {
			t.Errorf("%s reading %s's cookie: %+v", c.reader, c.writer, got)
		}
	}

	// Logout, on either side, of either side's login.
	for _, c := range []struct{ name, cookie string }{{"Node's login", nodeCookie}, {"Go's login", goCookie}} {
		n, g = same(t, node, gop, "logout "+c.name, "POST", "/logout", c.cookie, nil, nodeT+4000)
		if len(n.SetCookie) != 2 {
			t.Fatalf("logout: %q", n.SetCookie)
		}
		if got := decodeMe(t, "Node", node.do("GET", "/me", cookieOf(g.SetCookie), nil, nodeT+5000, nil)); got.LoggedIn {
			t.Errorf("Go logged out of %s, Node still sees %s", c.name, got.User)
		}
		r.Header.Set("Cookie", cookieOf(n.SetCookie))
		if s, err := gop.m.Load(r); err != nil || passportuser.LoggedIn(s) {
			t.Errorf("Node logged out of %s, Go: %v", c.name, err)
		}
	}

	// A login keeps what the anonymous session held (regenerate is a no-op).
	n, _ = same(t, node, gop, "anonymous data", "POST", "/set", "", map[string]any{"set": map[string]int{"cart": 3}}, nodeT)
	n, g = same(t, node, gop, "login with data", "POST", "/login", cookieOf(n.SetCookie), map[string]string{"username": "alice", "password": "secret"}, nodeT)
	if got := decodeMe(t, "Go", gop.do("GET", "/me", cookieOf(n.SetCookie), nil, nodeT, nil)); got.Record == nil || *got.Record != `{"cart":3,"passport":{"user":{"id":42,"name":"alice"}}}` {
		t.Errorf("login with data: %+v", got)
	}

	// req.session = null on both.
	n, _ = same(t, node, gop, "null", "POST", "/null", nodeCookie, nil, nodeT)
	e := "; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly"
	if want := []string{"session=" + e, "session.sig=" + gop.m.kg.Sign("session=") + e}; !equal(n.SetCookie, want) {
		t.Errorf("null: %q", n.SetCookie)
	}
}

func TestNodeKeyRotation(t *testing.T) {
	app := nodetest.StartCookieSessionApp(t, map[string]string{"FAKE_NOW": "1", "TRUST_PROXY": "1"})
	oldApp := nodetest.StartCookieSessionApp(t, map[string]string{"FAKE_NOW": "1", "KEYS": `["old-key"]`})
	node := nodePeer{app}
	gop := newGoPeer(t, Config{Keys: []string{"new-key", "old-key"}, MaxAge: 24 * time.Hour, TrustProxy: true})
	oldGo := newGoPeer(t, Config{Keys: []string{"old-key"}, MaxAge: 24 * time.Hour})

	for _, c := range []struct {
		name string
		p    peer
	}{{"Node", nodePeer{oldApp}}, {"Go", oldGo}} {
		login := c.p.do("POST", "/login", "", map[string]string{"username": "alice", "password": "secret"}, nodeT, nil)
		cookie := cookieOf(login.SetCookie)
		n, g := same(t, node, gop, "old key from "+c.name, "GET", "/me", cookie, nil, nodeT+1000)
		want := []string{"session.sig=" + aliceSig + "; path=/; httponly"}
		if !equal(n.SetCookie, want) {
			t.Errorf("Node's rotation of %s's cookie: %q", c.name, n.SetCookie)
		}
		if !decodeMe(t, "Go", g).LoggedIn || !decodeMe(t, "Node", n).LoggedIn {
			t.Errorf("%s's old-key cookie not accepted", c.name)
		}
		// The browser keeps session= and takes the new .sig: accepted, quietly.
		rotated := strings.Replace(cookie, cookie[strings.Index(cookie, "session.sig="):], strings.SplitN(want[0], ";", 2)[0], 1)
		if n, _ := same(t, node, gop, "rotated", "GET", "/me", rotated, nil, nodeT+2000); len(n.SetCookie) != 0 {
			t.Errorf("rotated cookie: %q", n.SetCookie)
		}
		// Over HTTPS (a trusted proxy) the re-issued .sig is Secure.
		h := map[string]string{"X-Forwarded-Proto": "https"}
		n = node.do("GET", "/me", cookie, nil, nodeT, h)
		g = gop.do("GET", "/me", cookie, nil, nodeT, h)
		if !equal(n.SetCookie, g.SetCookie) || len(n.SetCookie) != 1 || !strings.HasSuffix(n.SetCookie[0], "; secure; httponly") {
			t.Errorf("https rotation: Node %q, Go %q", n.SetCookie, g.SetCookie)
		}
		// A change writes both cookies with the first key.
		n, _ = same(t, node, gop, "change after rotation", "POST", "/set", cookie, map[string]any{"set": map[string]int{"n": 1}}, nodeT)
		if len(n.SetCookie) != 2 {
			t.Errorf("change: %q", n.SetCookie)
		}
	}
	// Dropping the old key logs the old cookies out, on both sides.
	newOnly := nodetest.StartCookieSessionApp(t, map[string]string{"FAKE_NOW": "1", "KEYS": `["new-key"]`})
	goNew := newGoPeer(t, Config{Keys: []string{"new-key"}, MaxAge: 24 * time.Hour})
	cookie := cookieOf(oldGo.do("POST", "/login", "", map[string]string{"username": "alice", "password": "secret"}, nodeT, nil).SetCookie)
	n, g := same(t, nodePeer{newOnly}, goNew, "old key dropped", "GET", "/me", cookie, nil, nodeT)
	if decodeMe(t, "Node", n).LoggedIn || decodeMe(t, "Go", g).LoggedIn || len(n.SetCookie) != 1 {
		t.Errorf("old key dropped: Node %q", n.SetCookie)
	}
}

func TestNodeSignatureVariants(t *testing.T) {
	app := nodetest.StartCookieSessionApp(t, map[string]string{"FAKE_NOW": "1"})
	node, gop := nodePeer{app}, newGoPeer(t, Config{Keys: []string{"new-key", "old-key"}, MaxAge: 24 * time.Hour})
	kg := gop.m.kg
	v, sig := aliceValue, aliceSig
	sha256, _ := cookiesig.NewKeygrip("sha256", "new-key")
	stdSig := strings.NewReplacer("-", "+", "_", "/").Replace(kg.Sign("session=e30x"))
	if stdSig == kg.Sign("session=e30x") {
		t.Fatal("pick data whose signature has - or _")
	}
	cases := []struct {
		name, cookie string
		loggedIn     bool
	}{
		{"valid", "session=" + v + "; session.sig=" + sig, true},
		{"bad", "session=" + v + "; session.sig=" + sig[:5] + "x" + sig[6:], false},
		{"missing", "session=" + v, false},
		{"empty", "session=" + v + "; session.sig=", false},
		{"padded", "session=" + v + "; session.sig=" + sig + "=", false},
		{"standard base64", "session=e30x; session.sig=" + stdSig, false},
		{"swapped", "session=" + sig + "; session.sig=" + v, false},
		{"another value's", "session=" + v + "; session.sig=" + kg.Sign("session=e30="), false},
		{"another name's", "session=" + v + "; session.sig=" + kg.Sign("other="+v), false},
		{"other name's .sig", "session=" + v + "; other.sig=" + sig, false},
		{"other name", "sessionx=" + v + "; sessionx.sig=" + kg.Sign("sessionx="+v), false},
		{"another hash", "session=" + v + "; session.sig=" + sha256.Sign("session="+v), false},
		{"first wins", "session=" + v + "; session=e30=; session.sig=" + sig, true},
		{"first wins, bad", "session=e30=; session=" + v + "; session.sig=" + sig, false},
		{"sig first", "session.sig=" + sig + "; session=" + v, true},
		{"quoted", `session="` + v + `"; session.sig=` + sig, true},
		{"spaces", "a=1;   session=" + v + ";  session.sig=" + sig, true},
		{"logged-out pair", "session=; session.sig=" + kg.Sign("session="), false},
		{"empty value, bad", "session=; session.sig=x", false},
	}
	for _, c := range cases {
		n, g := same(t, node, gop, c.name, "GET", "/me", c.cookie, nil, nodeT)
		nm, gm := decodeMe(t, "Node", n), decodeMe(t, "Go", g)
		if nm.LoggedIn != c.loggedIn || gm.LoggedIn != c.loggedIn {
			t.Errorf("%s: logged in: Node %v, Go %v, want %v", c.name, nm.LoggedIn, gm.LoggedIn, c.loggedIn)
		}
	}
}

func TestNodePaddingVariants(t *testing.T) {
	app := nodetest.StartCookieSessionApp(t, map[string]string{"FAKE_NOW": "1"})
	node, gop := nodePeer{app}, newGoPeer(t, Config{Keys: []string{"new-key", "old-key"}, MaxAge: 24 * time.Hour})
	js := []byte(`{"passport":{"user":{"id":42,"name":"alice"}},"d":"??>>~~"}`) // + and / in base64
	std := base64.StdEncoding.EncodeToString(js)
	if !strings.ContainsAny(std, "+/") || !strings.HasSuffix(std, "=") {
		t.Fatalf("pick a payload with +, / and padding: %s", std)
	}
	values := map[string]string{
		"standard":          std,
		"unpadded":          base64.RawStdEncoding.EncodeToString(js),
		"url-safe":          base64.URLEncoding.EncodeToString(js),
		"url-safe unpadded": base64.RawURLEncoding.EncodeToString(js),
		"spaces":            std[:8] + " " + std[8:20] + "  " + std[20:],
		"garbage":           std[:4] + "!." + std[4:10] + "%" + std[10:12] + "\"~" + std[12:],
		"latin1":            std[:6] + "\xe9" + std[6:],
		"junk after =":      std + "QUJD",
		"= early":           std[:len(std)-8] + "=" + std[len(std)-8:],
	}
	for name, v := range values {
		// The signature covers the JavaScript string Node reads: a latin1
		// byte is one character, signed as UTF-8.
		jsv := string([]rune(latin1(v)))
		cookie := "session=" + v + "; session.sig=" + gop.m.kg.Sign("session="+jsv)
		n, g := same(t, node, gop, name, "GET", "/me", cookie, nil, nodeT)
		nm, gm := decodeMe(t, "Node", n), decodeMe(t, "Go", g)
		wantIn := name != "= early"
		if nm.LoggedIn != wantIn || gm.LoggedIn != wantIn {
			t.Errorf("%s: logged in: Node %v (%s), Go %v", name, nm.LoggedIn, n.Body, gm.LoggedIn)
		}
		// Node rewrites every value but its own canonical form.
		if rewrites := len(n.SetCookie) == 2; rewrites != (name != "standard" && wantIn) {
			t.Errorf("%s: Node's Set-Cookie %q", name, n.SetCookie)
		}
	}
}

// latin1 reads s's bytes as latin1 characters, as Node's HTTP parser does.
func latin1(s string) string {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

func TestNodePayloads(t *testing.T) {
	app := nodetest.StartCookieSessionApp(t, map[string]string{"FAKE_NOW": "1"})
	node, gop := nodePeer{app}, newGoPeer(t, Config{Keys: []string{"new-key", "old-key"}, MaxAge: 24 * time.Hour})
	for _, c := range []struct {
		name, json string
		valid      bool
	}{
		{"canonical", `{"a":1}`, true},
		{"spaces", ` { "a" : 1 , "b" : [ 1 , { } ] } `, true},
		{"key order", `{"b":1,"a":2,"10":3,"9":4,"x":{"2":0,"1":0}}`, true},
		{"escapes", `{"a":"\u0041\/\u00e9\u2028\ud83d\ude00\n"}`, true},
		{"hidden keys", `{"a":1,"_ctx":2,"isNew":3,"__proto__":{"x":1},"toString":4,"constructor":5}`, true},
		{"empty", `{}`, true},
		{"empty, spaced", ` { } `, true},
		{"invalid UTF-8", "{\"a\":\"\xff\xe2\x82x\xf0\x9f\x98\"}", true},
		{"invalid JSON", `{"a":1,}`, false},
		{"truncated", `{"a":`, false},
		{"BOM", "\ufeff{}", false},
		{"not JSON", "hello", false},
	} {
		v := base64.StdEncoding.EncodeToString([]byte(c.json))
		n, g := same(t, node, gop, c.name, "GET", "/me", signed(gop.m, v), nil, nodeT)
		nm, gm := decodeMe(t, "Node", n), decodeMe(t, "Go", g)
		if *nm.Record != *gm.Record {
			t.Errorf("%s: records differ: Node %s, Go %s", c.name, *nm.Record, *gm.Record)
		}
		if (len(n.SetCookie) == 0) != (c.json == *nm.Record || !c.valid) {
			t.Errorf("%s: Node's Set-Cookie %q", c.name, n.SetCookie)
		}
		s, err := gop.m.LoadID(t.Context(), v)
		if c.valid != (err == nil) {
			t.Errorf("%s: LoadID: %v", c.name, err)
		}
		if !c.valid && !errors.Is(err, sessionbridge.ErrNoSession) {
			t.Errorf("%s: %v", c.name, err)
		}
		_ = s
	}

	// Deliberate differences: payloads Node never writes, which Node
	// loads and Go refuses (a new, empty session on the Go side) or keeps
	// as written.
	for _, c := range []struct{ name, json, nodeRecord string }{
		{"array", `[1,2]`, `{"0":1,"1":2}`},
		{"string", `"ab"`, `{"0":"a","1":"b"}`},
		{"number", `5`, `{}`},
		{"duplicate key", `{"a":1,"a":2}`, `{"a":2}`},
	} {
		v := base64.StdEncoding.EncodeToString([]byte(c.json))
		cookie := signed(gop.m, v)
		nm := decodeMe(t, "Node", node.do("GET", "/me", cookie, nil, nodeT, nil))
		if *nm.Record != c.nodeRecord {
			t.Errorf("%s: Node loaded %s, want %s", c.name, *nm.Record, c.nodeRecord)
		}
		g := gop.do("GET", "/me", cookie, nil, nodeT, nil)
		if gm := decodeMe(t, "Go", g); *gm.Record != "{}" || len(g.SetCookie) != 0 {
			t.Errorf("%s: Go loaded %s, %q", c.name, *gm.Record, g.SetCookie)
		}
	}
	// Numbers stay as written in Go; Node rewrites them in shortest form.
	v := base64.StdEncoding.EncodeToString([]byte(`{"n":1.0}`))
	n := node.do("GET", "/me", signed(gop.m, v), nil, nodeT, nil)
	g := gop.do("GET", "/me", signed(gop.m, v), nil, nodeT, nil)
	if *decodeMe(t, "Node", n).Record != `{"n":1}` || len(n.SetCookie) != 2 || *decodeMe(t, "Go", g).Record != `{"n":1.0}` || len(g.SetCookie) != 0 {
		t.Errorf("numbers: Node %s %q, Go %s %q", n.Body, n.SetCookie, g.Body, g.SetCookie)
	}
}

func TestNodeHiddenNames(t *testing.T) {
	app := nodetest.StartCookieSessionApp(t, nil)
	var got struct{ Names []string }
	if err := json.Unmarshal(app.Do("GET", "/hidden", "", nil, nil).Body, &got); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, n := range got.Names {
		seen[n] = true
		// regenerate and save are the app's passport shims, added after
		// cookie-session loaded the session: a payload may hold them.
		if n != "regenerate" && n != "save" && !isHidden(n) {
			t.Errorf("Node's session has %q, which Go does not drop", n)
		}
	}
	for _, n := range []string{"_ctx", "constructor", "isChanged", "isNew", "isPopulated", "__defineGetter__", "__defineSetter__", "__lookupGetter__", "__lookupSetter__", "__proto__", "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable", "toLocaleString", "toString", "valueOf"} {
		if !seen[n] || !isHidden(n) {
			t.Errorf("%q: in Node's session %v, dropped by Go %v", n, seen[n], isHidden(n))
		}
	}
	if isHidden("regenerate") || isHidden("a") || isHidden("cookie") {
		t.Error("isHidden drops an ordinary key")
	}
}

func TestNodeAlgorithms(t *testing.T) {
	for _, alg := range []string{"sha1", "sha256", "sha512"} {
		t.Run(alg, func(t *testing.T) {
			app := nodetest.StartCookieSessionApp(t, map[string]string{"FAKE_NOW": "1", "ALGORITHM": alg})
			node, gop := nodePeer{app}, newGoPeer(t, Config{Keys: []string{"new-key", "old-key"}, Algorithm: alg, MaxAge: 24 * time.Hour})
			n, g := same(t, node, gop, "login", "POST", "/login", "", map[string]string{"username": "zoe", "password": "secret"}, nodeT)
			if len(n.SetCookie) != 2 {
				t.Fatalf("login: %q", n.SetCookie)
			}
			sig := strings.TrimPrefix(strings.SplitN(n.SetCookie[1], ";", 2)[0], "session.sig=")
			if want := map[string]int{"sha1": 27, "sha256": 43, "sha512": 86}[alg]; len(sig) != want {
				t.Errorf("signature of %d characters, want %d", len(sig), want)
			}
			if nm := decodeMe(t, "Node", node.do("GET", "/me", cookieOf(g.SetCookie), nil, nodeT, nil)); !nm.LoggedIn {
				t.Error("Node did not read Go's login")
			}
			if gm := decodeMe(t, "Go", gop.do("GET", "/me", cookieOf(n.SetCookie), nil, nodeT, nil)); !gm.LoggedIn {
				t.Error("Go did not read Node's login")
			}
			// Another hash's signature does not verify, on either side.
			other := newGoPeer(t, Config{Keys: []string{"new-key"}, Algorithm: map[string]string{"sha1": "sha256", "sha256": "sha512", "sha512": "sha1"}[alg]})
			cookie := cookieOf(other.do("POST", "/login", "", map[string]string{"username": "alice", "password": "secret"}, nodeT, nil).SetCookie)
			n, g = same(t, node, gop, "other hash", "GET", "/me", cookie, nil, nodeT)
			if decodeMe(t, "Node", n).LoggedIn || decodeMe(t, "Go", g).LoggedIn || len(n.SetCookie) != 1 {
				t.Errorf("another hash: Node %q", n.SetCookie)
			}
		})
	}
}

func TestNodeLargePayloads(t *testing.T) {
	app := nodetest.StartCookieSessionApp(t, map[string]string{"FAKE_NOW": "1"})
	node, gop := nodePeer{app}, newGoPeer(t, Config{Keys: []string{"new-key"}, MaxAge: 24 * time.Hour})
	// At MaxCookieBytes: written by both, byte for byte, read by both.
	d := strings.Repeat("é", (3066-len(`{"d":""}`))/2)
	n, g := same(t, node, gop, "at the limit", "POST", "/set", "", map[string]any{"set": map[string]string{"d": d}}, nodeT)
	if len(g.SetCookie) != 2 || len(strings.SplitN(g.SetCookie[0], ";", 2)[0]) != MaxCookieBytes {
		t.Fatalf("Go did not write %d bytes: %q", MaxCookieBytes, g.SetCookie)
	}
	if nm := decodeMe(t, "Node", node.do("GET", "/me", cookieOf(g.SetCookie), nil, nodeT, nil)); *nm.Record != `{"d":"`+d+`"}` {
		t.Error("Node did not read Go's largest cookie")
	}
	// One byte over: Node writes it (a browser would drop it), Go refuses.
	n, g = node.do("POST", "/set", "", map[string]any{"set": map[string]string{"d": d + "x"}}, nodeT, nil), gop.do("POST", "/set", "", map[string]any{"set": map[string]string{"d": d + "x"}}, nodeT, nil)
	if len(n.SetCookie) != 2 || len(g.SetCookie) != 0 || !strings.Contains(gop.log.String(), "too large") {
		t.Errorf("over the limit: Node %d headers, Go %d, log %s", len(n.SetCookie), len(g.SetCookie), gop.log.String())
	}
	// Node's larger cookies (12 KB) are read by Go under the default header limit.
	big := strings.Repeat("€", 3000)
	n = node.do("POST", "/set", "", map[string]any{"set": map[string]string{"big": big}}, nodeT, nil)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", cookieOf(n.SetCookie))
	s, err := gop.m.Load(r)
	if err != nil || len(r.Header.Get("Cookie")) < 12000 {
		t.Fatalf("Go reading Node's %d-byte cookie: %v", len(r.Header.Get("Cookie")), err)
	}
	var got string
	if err := s.Record.Get("big", &got); err != nil || got != big {
		t.Error("Go read Node's large cookie wrong")
	}
}

func TestNodeCookieOptions(t *testing.T) {
	opts := `{"path":"/","domain":"example.test","sameSite":"lax","priority":"High","partitioned":true,"httpOnly":false}`
	app := nodetest.StartCookieSessionApp(t, map[string]string{"FAKE_NOW": "1", "OPTIONS": opts, "COOKIE_NAME": "app.sess", "MAX_AGE_MS": "3600000"})
	node := nodePeer{app}
	gop := newGoPeer(t, Config{Name: "app.sess", Keys: []string{"new-key", "old-key"}, MaxAge: time.Hour, Domain: "example.test", SameSite: http.SameSiteLaxMode, Priority: "High", Partitioned: true, DisableHTTPOnly: true})
	n, _ := same(t, node, gop, "login", "POST", "/login", "", map[string]string{"username": "alice", "password": "secret"}, nodeT)
	if len(n.SetCookie) != 2 || !strings.HasSuffix(n.SetCookie[0], "; domain=example.test; priority=high; samesite=lax; partitioned") {
		t.Errorf("Node: %q", n.SetCookie)
	}
	same(t, node, gop, "null", "POST", "/null", cookieOf(n.SetCookie), nil, nodeT)
	// The rotation and the clearing of .sig: Node sends them with path=/
	// and no domain (a cookie the browser does not have); Go with the
	// configured attributes.
	old := newGoPeer(t, Config{Name: "app.sess", Keys: []string{"old-key"}})
	cookie := cookieOf(old.do("POST", "/login", "", map[string]string{"username": "alice", "password": "secret"}, nodeT, nil).SetCookie)
	n, g := node.do("GET", "/me", cookie, nil, nodeT, nil), gop.do("GET", "/me", cookie, nil, nodeT, nil)
	sig := "app.sess.sig=" + gop.m.kg.Sign("app.sess="+strings.TrimPrefix(strings.SplitN(cookie, ";", 2)[0], "app.sess="))
	if !equal(n.SetCookie, []string{sig + "; path=/; httponly"}) || !equal(g.SetCookie, []string{sig + "; path=/; domain=example.test; priority=high; samesite=lax; partitioned"}) {
		t.Errorf("rotation: Node %q, Go %q", n.SetCookie, g.SetCookie)
	}

	// secure: true over plain HTTP: Node writes nothing, nor does Go.
	sec := nodetest.StartCookieSessionApp(t, map[string]string{"FAKE_NOW": "1", "OPTIONS": `{"secure":true}`})
	goSec := newGoPeer(t, Config{Keys: []string{"new-key", "old-key"}, MaxAge: 24 * time.Hour, Secure: true})
	if n, _ := same(t, nodePeer{sec}, goSec, "secure over http", "POST", "/login", "", map[string]string{"username": "alice", "password": "secret"}, nodeT); len(n.SetCookie) != 0 {
		t.Errorf("secure over http: %q", n.SetCookie)
	}
}

func TestNodeExpiryMember(t *testing.T) {
	app := nodetest.StartCookieSessionApp(t, map[string]string{"FAKE_NOW": "1", "EXPIRY_MEMBER": "_expires", "MAX_AGE_MS": "3600000"})
	node := nodePeer{app}
	gop := newGoPeer(t, Config{Keys: []string{"new-key", "old-key"}, MaxAge: time.Hour, ExpiryMember: "_expires"})
	n, g := same(t, node, gop, "login", "POST", "/login", "", map[string]string{"username": "alice", "password": "secret"}, nodeT)
	if len(n.SetCookie) != 2 {
		t.Fatalf("login: %q", n.SetCookie)
	}
	js, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(strings.SplitN(n.SetCookie[0], ";", 2)[0], "session="))
	if want := fmt.Sprintf(`{"passport":{"user":{"id":42,"name":"alice"}},"_expires":%d}`, nodeT+3600000); string(js) != want {
		t.Fatalf("Node's payload %s, want %s", js, want)
	}
	for _, c := range []struct {
		name, cookie string
	}{{"Node's", cookieOf(n.SetCookie)}, {"Go's", cookieOf(g.SetCookie)}} {
		for _, at := range []int64{nodeT + 3600000 - 1, nodeT + 3600000} {
			valid := at < nodeT+3600000
			n, g := same(t, node, gop, c.name+" at "+strconv.FormatInt(at-nodeT, 10), "GET", "/me", c.cookie, nil, at)
			if decodeMe(t, "Node", n).LoggedIn != valid || decodeMe(t, "Go", g).LoggedIn != valid || len(n.SetCookie) != 0 {
				t.Errorf("%s cookie %d ms after login: Node %s %q, Go %s", c.name, at-nodeT, n.Body, n.SetCookie, g.Body)
			}
		}
		// A change moves the expiry, on both sides alike.
		same(t, node, gop, c.name+" changed", "POST", "/set", c.cookie, map[string]any{"set": map[string]int{"n": 1}}, nodeT+1800000)
	}
	// A payload without the member (a cookie from before the option): refused by both.
	plain := signed(gop.m, aliceValue)
	n, g = same(t, node, gop, "no expiry", "GET", "/me", plain, nil, nodeT)
	if decodeMe(t, "Node", n).LoggedIn || decodeMe(t, "Go", g).LoggedIn {
		t.Error("a payload without expiry was accepted")
	}
	if _, err := gop.m.LoadID(t.Context(), aliceValue); !errors.Is(err, sessionbridge.ErrExpired) {
		t.Errorf("LoadID without expiry: %v", err)
	}
	// Negative control: without the option both accept it.
	plainApp := nodetest.StartCookieSessionApp(t, map[string]string{"FAKE_NOW": "1", "MAX_AGE_MS": "3600000"})
	if !decodeMe(t, "Node", nodePeer{plainApp}.do("GET", "/me", plain, nil, nodeT, nil)).LoggedIn {
		t.Error("Node without EXPIRY_MEMBER refused the plain payload")
	}
}
