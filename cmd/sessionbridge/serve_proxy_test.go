package main

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge/internal/faulttest"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/proxytest"
	"github.com/sessionbridge/sessionbridge/internal/services"
)

// End-to-end: real nginx and real Caddy, configured with the snippets of
// docs/forward-auth.md, in front of `sessionbridge serve` (in process) and
// an upstream that records what reaches it; logins and logouts by the real
// Node app (express-session + passport + connect-redis) on a real Redis.

// The addresses docs/forward-auth.md writes, which the tests replace with
// their own.
const (
	docAuthAddr     = "127.0.0.1:4180"
	docUpstreamAddr = "127.0.0.1:8080"
	docNginxListen  = "listen 80;"
	docCaddySite    = "app.example.com {"
	loginURL        = "https://login.example.test/login"
)

// authServer is a running `sessionbridge serve`.
type authServer struct {
	addr   string
	stderr *nodetest.LockedBuffer
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startServe runs `sessionbridge serve --listen 127.0.0.1:0 args...` in
// process until the test ends, and checks that it then exits 0.
func startServe(t *testing.T, args ...string) *authServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errb := &nodetest.LockedBuffer{}, &nodetest.LockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...), out, errb)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d after the test\n%s", code, errb.String())
			}
		case <-time.After(30 * time.Second):
			t.Errorf("serve did not stop 30s after its context was cancelled")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := listeningRE.FindStringSubmatch(errb.String() + out.String()); m != nil {
			return &authServer{addr: m[1], stderr: errb}
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d before listening\n%s%s", code, out.String(), errb.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not log msg=listening in 30s\n%s%s", out.String(), errb.String())
		}
	}
}

// docSnippet returns docs/forward-auth.md's only fenced block of lang with
// each old string replaced by its new one; every old string must occur, so
// the test runs the documented configuration and nothing else.
func docSnippet(t *testing.T, lang string, oldnew ...string) string {
	t.Helper()
	path := filepath.Join(nodetest.Root(t), "docs", "forward-auth.md")
	snips, err := proxytest.Snippets(path, lang)
	if err != nil {
		t.Fatal(err)
	}
	if len(snips) != 1 {
		t.Fatalf("%s has %d ```%s blocks; the test runs exactly one", path, len(snips), lang)
	}
	for i := 0; i < len(oldnew); i += 2 {
		if !strings.Contains(snips[0], oldnew[i]) {
			t.Fatalf("the ```%s block of %s lacks %q", lang, path, oldnew[i])
		}
	}
	return strings.NewReplacer(oldnew...).Replace(snips[0])
}

// startNginxDoc starts nginx with the documented server block.
func startNginxDoc(t *testing.T, auth, upstream string) *proxytest.Proxy {
	t.Helper()
	return proxytest.StartNginx(t, func(listen string) string {
		return docSnippet(t, "nginx", docNginxListen, "listen "+listen+";",
			docAuthAddr, auth, docUpstreamAddr, upstream)
	})
}

// startCaddyDoc starts Caddy with the documented site block.
func startCaddyDoc(t *testing.T, auth, upstream string) *proxytest.Proxy {
	t.Helper()
	return proxytest.StartCaddy(t, func(listen string) string {
		return docSnippet(t, "caddyfile", docCaddySite, "http://"+listen+" {",
			docAuthAddr, auth, docUpstreamAddr, upstream)
	})
}

// answer is what the client got through a proxy.
type answer struct {
	status    int
	location  string
	setCookie []string
}

// through sends GET proxy+path with the session cookie (none for "") and
// the extra header fields (each value list as given, repeated fields
// included), without following redirects. A header "Method" (not sent)
// makes it that method with a small form body.
func through(t *testing.T, p *proxytest.Proxy, path, cookie string, header http.Header) answer {
	t.Helper()
	method, body := "GET", io.Reader(nil)
	if m := header.Get("Method"); m != "" {
		method, body = m, strings.NewReader("a=1&b=2")
		header = header.Clone()
		header.Del("Method")
		header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req, err := http.NewRequest(method, p.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if cookie != "" {
		req.Header.Set("Cookie", "connect.sid="+cookie)
	}
	c := &http.Client{
		Timeout:       60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s %s: %v\n%s", p.Name, method, path, err, p.Logs())
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return answer{resp.StatusCode, resp.Header.Get("Location"), resp.Header.Values("Set-Cookie")}
}

// Requests as an API client and as a browser would send them; "Method"
// makes through send a POST with a form body.
var (
	api      = http.Header{"Accept": {"application/json"}}
	browser  = http.Header{"Accept": {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}}
	apiPost  = http.Header{"Accept": {"application/json"}, "Method": {"POST"}}
	formPost = http.Header{"Accept": {"text/html"}, "Method": {"POST"}}
)

// spoofed is header plus a client's attempts at the identity headers
// (repeated, in odd case, with "_" for "-") and at the headers the auth
// server reads the original URL from (X-Forwarded-*, which the proxy
// replaces, and X-Original-*, which it passes on but which the proxy's
// X-Forwarded-Uri outranks).
func spoofed(header http.Header) http.Header {
	h := header.Clone()
	h["X-Auth-User"] = []string{`{"id":1,"username":"root"}`, "1"}
	h["x-auth-user"] = []string{"1"}
	h["X-Auth-Email"] = []string{"root@example.com"}
	h["x-auth-email"] = []string{"admin@example.com"}
	h["X-Auth_user"] = []string{"1"}
	h["X-Auth_email"] = []string{"root@example.com"}
	h["X-Forwarded-Host"] = []string{"evil.example"}
	h["X-Forwarded-Proto"] = []string{"https"}
	h["X-Forwarded-Uri"] = []string{"/evil"}
	h["X-Original-Uri"] = []string{"/evil"}
	h["X-Original-Url"] = []string{"https://evil.example/evil"}
	h["x-forwarded-uri"] = []string{"/evil2"}
	h["x-original-url"] = []string{"https://evil.example/evil2"}
	return h
}

// originalSpoofs are a client's attempts, with header's fields, at making
// the original URL https://evil.example + path: through X-Original-URL,
// X-Original-URI, X-Forwarded-* (repeated, in odd case), and all at once.
func originalSpoofs(header http.Header, path string) []http.Header {
	with := func(kv map[string][]string) http.Header {
		h := header.Clone()
		for k, v := range kv {
			h[k] = v
		}
		return h
	}
	evil := "https://evil.example" + path
	return []http.Header{
		with(map[string][]string{"X-Original-Url": {evil}}),
		with(map[string][]string{"x-original-url": {evil, evil}, "X-Original-Uri": {path}}),
		with(map[string][]string{"X-Original-Uri": {path}, "X-Forwarded-Host": {"evil.example"}}),
		with(map[string][]string{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil.example"}, "X-Forwarded-Uri": {path}}),
		with(map[string][]string{"x-forwarded-uri": {path, path}, "x-forwarded-host": {"evil.example"}}),
		with(map[string][]string{"X-Original-Url": {evil}, "X-Original-Uri": {path}, "X-Forwarded-Proto": {"https"},
			"X-Forwarded-Host": {"evil.example"}, "X-Forwarded-Uri": {path}}),
	}
}

// identity returns the X-Auth-User and X-Auth-Email values a request that
// reached the upstream carried. Any other spelling of those names (with
// "_" for "-", which CGI-style frameworks read as the same header) fails
// the test.
func identity(t *testing.T, s proxytest.Seen) (user, email []string) {
	t.Helper()
	for k, v := range s.Header {
		n := strings.ReplaceAll(strings.ToLower(k), "_", "-")
		if (n == "x-auth-user" || n == "x-auth-email") && k != "X-Auth-User" && k != "X-Auth-Email" {
			t.Errorf("the upstream saw %s: %q", k, v)
		}
	}
	return s.Header.Values("X-Auth-User"), s.Header.Values("X-Auth-Email")
}

// rig is one Node app on Redis, one serve in front of that store, and an
// upstream.
type rig struct {
	app      *nodetest.App
	rdb      *redis.Client
	prefix   string
	storeURL string
	serve    *authServer
	up       *proxytest.Upstream
}

// newRig starts the Node app (passport users stored as objects) on the
// Redis at addr with a fresh key prefix, serve on the same data with
// serveArgs, and an upstream.
func newRig(t *testing.T, addr string, nodeEnv map[string]string, serveArgs ...string) *rig {
	t.Helper()
	r := &rig{prefix: uniq("sbproxy:") + ":", up: proxytest.StartUpstream(t)}
	r.rdb = redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { r.rdb.Close() })
	env := map[string]string{"STORE": "redis", "REDIS_URL": "redis://" + addr, "REDIS_PREFIX": r.prefix,
		"USER_SERIALIZE": "object"}
	for k, v := range nodeEnv {
		env[k] = v
	}
	r.app = nodetest.StartApp(t, env)
	r.storeURL = "redis://" + addr + "/0?prefix=" + r.prefix
	r.serve = startServe(t, append([]string{"--store", r.storeURL, "--secret", secret,
		"--header", "X-Auth-Email=email", "--login-url", loginURL}, serveArgs...)...)
	return r
}

// storedUser returns passport.user exactly as the record in Redis holds it.
func (r *rig) storedUser(t *testing.T, cookie string) string {
	t.Helper()
	b, err := r.rdb.Get(context.Background(), r.prefix+sidOf(t, cookie)).Bytes()
	if err != nil {
		t.Fatalf("redis GET: %v", err)
	}
	var rec struct {
		Passport struct{ User json.RawMessage }
	}
	if err := json.Unmarshal(b, &rec); err != nil || rec.Passport.User == nil {
		t.Fatalf("record %s: %v", b, err)
	}
	return string(rec.Passport.User)
}

// allowed sends the request, wants 200 and that it reached the upstream,
// and returns what the upstream saw.
func (r *rig) allowed(t *testing.T, p *proxytest.Proxy, path, cookie string, header http.Header) (answer, proxytest.Seen) {
	t.Helper()
	before := r.up.Count()
	a := through(t, p, path, cookie, header)
	if a.status != 200 || r.up.Count() != before+1 {
		t.Fatalf("%s GET %s: %d, upstream requests %d -> %d; want 200 and one\nproxy: %s\nserve: %s",
			p.Name, path, a.status, before, r.up.Count(), p.Logs(), r.serve.stderr.String())
	}
	seen, _ := r.up.Last()
	if want := cmp.Or(header.Get("Method"), "GET"); seen.URI != path || seen.Method != want {
		t.Fatalf("the upstream got %s %s, want %s %s", seen.Method, seen.URI, want, path)
	}
	return a, seen
}

// denied sends the request, wants status and that nothing reached the
// upstream.
func (r *rig) denied(t *testing.T, p *proxytest.Proxy, path, cookie string, header http.Header, status int) answer {
	t.Helper()
	before := r.up.Count()
	a := through(t, p, path, cookie, header)
	if a.status != status {
		t.Fatalf("%s GET %s: %d, want %d\nproxy: %s\nserve: %s", p.Name, path, a.status, status, p.Logs(), r.serve.stderr.String())
	}
	if r.up.Count() != before {
		t.Fatalf("%s GET %s: answered %d but the request reached the upstream", p.Name, path, a.status)
	}
	return a
}

// TestProxyLogin: through nginx and through Caddy, configured as the docs
// say, an anonymous request is refused (401 for API clients, a 302 to the
// login page with rd for browsers) and never reaches the upstream; after a
// Node login it reaches the upstream with X-Auth-User equal to
// passport.user as Node stored it; after Node's logout it is refused
// again. Client-sent identity headers never reach the upstream.
func TestProxyLogin(t *testing.T) {
	t.Parallel()
	r := newRig(t, services.RedisAddr(t), nil)
	for _, kind := range []string{"nginx", "caddy"} {
		t.Run(kind, func(t *testing.T) {
			p := startProxy(t, kind, r)
			const path = "/reports/q3?year=2026&tag=a%20b"
			wantRD := p.URL + path

			// Anonymous: 401 for an API client, the login redirect for a
			// browser, spoofed identity headers or not.
			a := r.denied(t, p, path, "", api, 401)
			t.Logf("%s: anonymous GET %s -> %d", kind, path, a.status)
			r.denied(t, p, path, "", spoofed(api), 401)
			r.denied(t, p, path, "", spoofed(apiPost), 401)
			for _, h := range []http.Header{browser, spoofed(browser), formPost} {
				a = r.denied(t, p, path, "", h, 302)
				checkLoginRedirect(t, a.location, wantRD)
			}
			t.Logf("%s: anonymous browser GET %s -> %d Location %s", kind, path, a.status, a.location)

			// A Node login (passport.user an object without email).
			cookie := r.app.Login("alice", "secret")
			stored := r.storedUser(t, cookie)
			for _, h := range []http.Header{api, browser, spoofed(api), spoofed(browser), spoofed(apiPost), formPost} {
				_, seen := r.allowed(t, p, path, cookie, h)
				user, email := identity(t, seen)
				if len(user) != 1 || user[0] != stored {
					t.Fatalf("%s: the upstream saw X-Auth-User %q, want %q (passport.user as Node stored it)", kind, user, stored)
				}
				// No email field: serve sends the header empty; Caddy
				// passes it on empty, nginx sends no empty header. Never
				// the client's.
				if want := map[string][]string{"caddy": {""}, "nginx": nil}[kind]; !reflect.DeepEqual(email, want) {
					t.Fatalf("%s: the upstream saw X-Auth-Email %q for a user without email, want %q", kind, email, want)
				}
			}
			_, seen := r.allowed(t, p, path, cookie, api)
			user, _ := identity(t, seen)
			t.Logf("%s: after Node's login GET %s -> 200, the upstream saw X-Auth-User %s (Node stored passport.user %s)", kind, path, user[0], stored)

			// A user with an email, written by Go (mint), read by Node and
			// by the proxy.
			m := decodeMint(t, sb(t, "mint", "--store", r.storeURL, "--secret", secret, "--max-age", "3600000",
				"--user", `{"id":"u-42","username":"bob","name":"Zoë","email":"bob@example.com"}`).want(t, 0))
			if me := r.app.Me(m.Cookie); !me.LoggedIn {
				t.Fatalf("Node does not see the minted login: %+v", me)
			}
			_, seen = r.allowed(t, p, path, m.Cookie, spoofed(api))
			user, email := identity(t, seen)
			if !reflect.DeepEqual(email, []string{"bob@example.com"}) || len(user) != 1 {
				t.Fatalf("%s: the upstream saw X-Auth-User %q X-Auth-Email %q", kind, user, email)
			}
			if user[0] != `{"id":"u-42","username":"bob","name":"Zo\u00eb","email":"bob@example.com"}` {
				t.Fatalf("%s: X-Auth-User %s", kind, user[0])
			}
			t.Logf("%s: a Go-minted login GET %s -> 200, the upstream saw X-Auth-User %s, X-Auth-Email %s", kind, path, user[0], email[0])

			// Node's logout: refused again.
			r.app.Logout(cookie)
			a = r.denied(t, p, path, cookie, spoofed(api), 401)
			t.Logf("%s: after Node's logout GET %s -> %d", kind, path, a.status)
			r.denied(t, p, path, cookie, browser, 302)
		})
	}
}

// TestProxyOriginalURL: through nginx and Caddy as documented, a client's
// own X-Original-URL, X-Original-URI and X-Forwarded-* headers choose
// neither the login redirect's rd nor the path the session cookie's path
// (serve --cookie-path /app) is checked against: both come from the URL
// the proxy received.
func TestProxyOriginalURL(t *testing.T) {
	t.Parallel()
	r := newRig(t, services.RedisAddr(t), nil, "--cookie-path", "/app")
	cookie := r.app.Login("alice", "secret")
	for _, kind := range []string{"nginx", "caddy"} {
		t.Run(kind, func(t *testing.T) {
			p := startProxy(t, kind, r)
			const outside, inside = "/other/page?q=a%20b", "/app/page?x=1"

			// The login redirect: rd is the proxy's own URL.
			for _, h := range originalSpoofs(browser, "/app/evil?next=%2F") {
				a := r.denied(t, p, outside, "", h, 302)
				checkLoginRedirect(t, a.location, p.URL+outside)
			}
			a := r.denied(t, p, outside, cookie, originalSpoofs(browser, "/app/x")[5], 302)
			checkLoginRedirect(t, a.location, p.URL+outside)
			t.Logf("%s: logged-in browser GET %s with forged X-Original-URL and X-Forwarded-* -> %d Location %s", kind, outside, a.status, a.location)

			// The cookie path: checked against the path the proxy got.
			for _, h := range originalSpoofs(api, "/app/x") {
				r.denied(t, p, outside, cookie, h, 401)
			}
			for _, h := range originalSpoofs(api, "/other") {
				_, seen := r.allowed(t, p, inside, cookie, h)
				if user, _ := identity(t, seen); len(user) != 1 {
					t.Fatalf("%s: the upstream saw X-Auth-User %q", kind, user)
				}
			}
		})
	}
}

// startProxy starts the documented configuration of kind in front of r.
func startProxy(t *testing.T, kind string, r *rig) *proxytest.Proxy {
	t.Helper()
	if kind == "nginx" {
		return startNginxDoc(t, r.serve.addr, r.up.Addr)
	}
	return startCaddyDoc(t, r.serve.addr, r.up.Addr)
}

// checkLoginRedirect wants Location to be the login URL with rd, the
// original URL as the proxy received it (its own host, not a forged
// X-Forwarded-Host).
func checkLoginRedirect(t *testing.T, location, wantRD string) {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil || !strings.HasPrefix(location, loginURL+"?") {
		t.Fatalf("Location %q, want %s?rd=...", location, loginURL)
	}
	if rd := u.Query()["rd"]; len(rd) != 1 || rd[0] != wantRD {
		t.Fatalf("Location %q: rd %q, want %q", location, rd, wantRD)
	}
}

// TestProxyStoreOutage: with the store down, a logged-in request through
// nginx and through Caddy gets 503 (never 200, never 401) and does not
// reach the upstream; once the store is back the same request gets
// through again, with neither serve nor the proxies restarted.
func TestProxyStoreOutage(t *testing.T) {
	t.Parallel()
	srv := faulttest.StartRedis(t)
	r := newRig(t, srv.Addr, nil)
	nginx := startProxy(t, "nginx", r)
	caddy := startProxy(t, "caddy", r)
	cookie := r.app.Login("alice", "secret")
	stored := r.storedUser(t, cookie)
	const path = "/dashboard"
	for _, p := range []*proxytest.Proxy{nginx, caddy} {
		r.allowed(t, p, path, cookie, api)
	}

	srv.Stop()
	for _, p := range []*proxytest.Proxy{nginx, caddy} {
		for _, h := range []http.Header{api, browser} {
			a := r.denied(t, p, path, cookie, h, 503)
			t.Logf("%s: store down, GET %s (Accept %s) -> %d", p.Name, path, h.Get("Accept"), a.status)
		}
	}

	srv.Start()
	for _, p := range []*proxytest.Proxy{nginx, caddy} {
		deadline := time.Now().Add(45 * time.Second)
		for {
			before := r.up.Count()
			a := through(t, p, path, cookie, api)
			if a.status == 200 {
				seen, _ := r.up.Last()
				if user, _ := identity(t, seen); r.up.Count() != before+1 || len(user) != 1 || user[0] != stored {
					t.Fatalf("%s: after the store came back the upstream saw X-Auth-User %q, want %s", p.Name, user, stored)
				}
				t.Logf("%s: store back, GET %s -> 200", p.Name, path)
				break
			}
			if a.status != 503 || r.up.Count() != before {
				t.Fatalf("%s: while the store comes back: %d (upstream %d -> %d), want 503 or 200", p.Name, a.status, before, r.up.Count())
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: still %d 45s after the store came back\n%s", p.Name, a.status, r.serve.stderr.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// TestProxyKeepAlive: a user active only through nginx stays logged in on
// Node past the session's maxAge, because every allowed request touches
// the session as a request to Node would; with serve --rolling nginx hands
// the browser the renewed cookie (a later Expires, the same value). A
// session nobody uses expires meanwhile.
func TestProxyKeepAlive(t *testing.T) {
	t.Parallel()
	const maxAge = 6 * time.Second
	r := newRig(t, services.RedisAddr(t), map[string]string{"MAX_AGE_MS": "6000"}, "--rolling")
	p := startProxy(t, "nginx", r)
	loginAt := time.Now()
	active := r.app.Login("alice", "secret")
	idle := r.app.Login("zero", "secret")

	var first, last time.Time
	for end := loginAt.Add(3 * maxAge); time.Now().Before(end); {
		a, _ := r.allowed(t, p, "/feed", active, api)
		exp := renewedExpiry(t, a.setCookie, active)
		if first.IsZero() {
			first = exp
		}
		if exp.Before(last) {
			t.Fatalf("the renewed cookie expires %v, before the previous one's %v", exp, last)
		}
		last = exp
		time.Sleep(maxAge / 4)
	}
	if !last.After(first) || !last.After(loginAt.Add(2*maxAge)) {
		t.Fatalf("the cookie was not renewed through nginx: first expiry %v, last %v, login at %v", first, last, loginAt)
	}
	if me := r.app.Me(active); !me.LoggedIn {
		t.Fatalf("Node logged the user out after %v of activity through nginx only: %+v", time.Since(loginAt), me)
	}
	if me := r.app.Me(idle); me.LoggedIn {
		t.Fatalf("the idle session is still logged in after %v (maxAge %v): the test proves nothing", time.Since(loginAt), maxAge)
	}
	t.Logf("nginx: active for %v (maxAge %v) through nginx only: still logged in on Node; cookie Expires renewed from %v to %v",
		time.Since(loginAt).Round(time.Second), maxAge, first.Format(time.TimeOnly), last.Format(time.TimeOnly))
}

// renewedExpiry returns the Expires of the session cookie the answer set,
// which must keep the value cookie.
func renewedExpiry(t *testing.T, setCookie []string, cookie string) time.Time {
	t.Helper()
	var found []*http.Cookie
	for _, sc := range setCookie {
		if c, err := http.ParseSetCookie(sc); err == nil && c.Name == "connect.sid" {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one connect.sid Set-Cookie through nginx with --rolling, got %q", setCookie)
	}
	if found[0].Value != cookie {
		t.Fatalf("the renewed cookie's value changed: %q, want %q", found[0].Value, cookie)
	}
	if found[0].Expires.IsZero() {
		t.Fatalf("the renewed cookie has no Expires: %q", setCookie)
	}
	return found[0].Expires
}
