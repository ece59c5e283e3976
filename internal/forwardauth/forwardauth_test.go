package forwardauth

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/passportuser"
	"github.com/sessionbridge/sessionbridge/sessionbridgetest"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

const secret = "keyboard cat"

// env is a Handler on a Bridge over a store, and what a test needs to
// seed sessions into it.
type env struct {
	t       *testing.T
	bridge  *sessionbridge.Bridge
	h       *Handler
	metrics *Metrics
	logs    *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newEnv builds a Bridge on store (with bc's lifecycle options) and a
// Handler on it configured by cfg.
func newEnv(t *testing.T, store sessionbridge.Store, bc sessionbridge.Config, cfg Config) *env {
	t.Helper()
	e := &env{t: t, metrics: NewMetrics(), logs: &lockedBuffer{}}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	bc.Secrets = []string{secret}
	bc.Store = InstrumentStore(store, e.metrics, 2*time.Second)
	bc.ErrorHandler = ErrorHandler
	bc.Logger = log
	b, err := sessionbridge.New(bc)
	if err != nil {
		t.Fatal(err)
	}
	e.bridge = b
	cfg.LoadAndSave = b.LoadAndSave
	cfg.Metrics = e.metrics
	cfg.Logger = log
	if cfg.Health == nil {
		cfg.Health = StoreHealth(store, 2*time.Second)
	}
	if e.h, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	return e
}

// login saves a session whose passport.user is user (JSON) and returns
// its Cookie header and id.
func (e *env) login(user string) (cookie, sid string) {
	e.t.Helper()
	s, err := passportuser.Login(context.Background(), e.bridge, nil, json.RawMessage(user), passportuser.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	return "connect.sid=" + e.bridge.Signer().CookieValue(s.ID), s.ID
}

// seed saves a session with the given top-level members (JSON values).
func (e *env) seed(members map[string]string) string {
	e.t.Helper()
	s, err := e.bridge.NewSession()
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range members {
		if err := s.Record.SetRaw(k, json.RawMessage(v)); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := e.bridge.Save(context.Background(), s); err != nil {
		e.t.Fatal(err)
	}
	return "connect.sid=" + e.bridge.Signer().CookieValue(s.ID)
}

// do sends a request to the Handler.
func (e *env) do(method, target string, header http.Header) *http.Response {
	e.t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, vs := range header {
		r.Header[k] = vs
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w.Result()
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestAuthDecisions(t *testing.T) {
	store := sessionbridge.NewMemoryStore()
	e := newEnv(t, store, sessionbridge.Config{}, Config{Headers: []Header{
		{Name: "X-Email", Path: []string{"email"}}, {Name: "X-Team", Path: []string{"team", "name"}},
	}})
	object, sid := e.login(`{"id":90071992547409931,"name":"Zoë","email":"zoe@example.com"}`)
	number, _ := e.login(`7`)
	zero, _ := e.login(`0`)
	str, _ := e.login(`"abc"`)
	loggedOut := e.seed(map[string]string{"passport": `{}`})
	nullUser := e.seed(map[string]string{"passport": `{"user":null}`})
	falseUser := e.seed(map[string]string{"passport": `{"user":false}`})
	anonymous := e.seed(map[string]string{"views": `3`})
	other, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"another secret"}, Store: store})
	wrongSecret := "connect.sid=" + other.Signer().CookieValue(sid)
	value := strings.TrimPrefix(object, "connect.sid=")

	for _, c := range []struct {
		name, cookie string
		status       int
		user, email  string
	}{
		{"object user", object, 200, `{"id":90071992547409931,"name":"Zo\u00eb","email":"zoe@example.com"}`, "zoe@example.com"},
		{"number user", number, 200, `7`, ""},
		{"user 0", zero, 200, `0`, ""},
		{"string user", str, 200, `"abc"`, ""},
		{"no cookie", "", 401, "", ""},
		{"empty cookie", "connect.sid=", 401, "", ""},
		{"logged out", loggedOut, 401, "", ""},
		{"passport.user null", nullUser, 401, "", ""},
		{"passport.user false", falseUser, 401, "", ""},
		{"anonymous session", anonymous, 401, "", ""},
		{"unsigned", "connect.sid=" + sid, 401, "", ""},
		{"forged", "connect.sid=s%3A" + sid + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 401, "", ""},
		{"wrong secret", wrongSecret, 401, "", ""},
		{"other cookie name", "sid=" + value, 401, "", ""},
		{"unknown id", "connect.sid=" + e.bridge.Signer().CookieValue("no-such-session-id-0123456789abc"), 401, "", ""},
		{"malformed", "connect.sid=s%3A%E0%A4%A", 401, "", ""},
		{"first cookie wins (valid first)", object + "; connect.sid=s%3Aforged.x", 200, `{"id":90071992547409931,"name":"Zo\u00eb","email":"zoe@example.com"}`, "zoe@example.com"},
		{"first cookie wins (forged first)", "connect.sid=s%3Aforged.x; " + object, 401, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := hdr("X-Auth-User", "spoofed", "X-Email", "spoof@example.com")
			if c.cookie != "" {
				h.Set("Cookie", c.cookie)
			}
			resp := e.do("GET", "/auth", h)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			users, emails, teams := resp.Header.Values("X-Auth-User"), resp.Header.Values("X-Email"), resp.Header.Values("X-Team")
			if c.status != 200 {
				if len(users)+len(emails)+len(teams) != 0 {
					t.Fatalf("identity headers on a %d: %v %v %v", c.status, users, emails, teams)
				}
				return
			}
			if len(users) != 1 || users[0] != c.user || len(emails) != 1 || emails[0] != c.email || len(teams) != 1 || teams[0] != "" {
				t.Fatalf("X-Auth-User %q X-Email %q X-Team %q; want %q %q and an empty X-Team", users, emails, teams, c.user, c.email)
			}
			if b, _ := io.ReadAll(resp.Body); len(b) != 0 {
				t.Fatalf("body %q", b)
			}
		})
	}
	for _, m := range []string{"HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"} {
		if resp := e.do(m, "/auth", hdr("Cookie", number)); resp.StatusCode != 200 || resp.Header.Get("X-Auth-User") != "7" {
			t.Errorf("%s /auth: %d %q", m, resp.StatusCode, resp.Header.Get("X-Auth-User"))
		}
	}
	// The decisions logged hold no cookie, id or user.
	logs := e.logs.String()
	for _, leak := range []string{sid, value, "zoe@example.com", "Zo"} {
		if strings.Contains(logs, leak) {
			t.Fatalf("logs hold %q:\n%s", leak, logs)
		}
	}
	if !strings.Contains(logs, `"msg":"auth decision","outcome":"allowed","method":"GET","status":200`) {
		t.Fatalf("no decision record:\n%s", logs)
	}
}

func TestCookieLimit(t *testing.T) {
	e := newEnv(t, sessionbridge.NewMemoryStore(), sessionbridge.Config{}, Config{})
	cookie, _ := e.login(`7`)
	pad := func(n int) string { return cookie + "; pad=" + strings.Repeat("x", n-len(cookie)-len("; pad=")) }
	at, over := pad(16<<10), pad(16<<10+1)
	if len(at) != 16<<10 || len(over) != 16<<10+1 {
		t.Fatal("bad padding")
	}
	if resp := e.do("GET", "/auth", hdr("Cookie", at)); resp.StatusCode != 200 {
		t.Errorf("Cookie header at the 16 KiB limit: %d, want 200", resp.StatusCode)
	}
	if resp := e.do("GET", "/auth", hdr("Cookie", over)); resp.StatusCode != 401 {
		t.Errorf("Cookie header one byte over the limit: %d, want 401", resp.StatusCode)
	}
	// Several Cookie lines count together, joined as Node joins them.
	if resp := e.do("GET", "/auth", http.Header{"Cookie": {over[:8<<10], over[8<<10:]}}); resp.StatusCode != 401 {
		t.Errorf("Cookie lines over the limit together: %d, want 401", resp.StatusCode)
	}
}

func TestLoginRedirect(t *testing.T) {
	login, _ := url.Parse("https://login.example.com/signin?app=a%20b")
	e := newEnv(t, sessionbridge.NewMemoryStore(), sessionbridge.Config{}, Config{LoginURL: login})
	cookie, _ := e.login(`7`)
	browser := "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	traefik := []string{"Accept", browser, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "app.example.com", "X-Forwarded-Uri", "/docs/a%20b?x=1&y=%C3%A9&z=%26"}
	for _, c := range []struct {
		name     string
		h        []string
		status   int
		location string
	}{
		{"traefik headers", traefik, 302, "https://login.example.com/signin?app=a%20b&rd=" + url.QueryEscape("https://app.example.com/docs/a%20b?x=1&y=%C3%A9&z=%26")},
		{"nginx X-Original-URI", []string{"Accept", "text/html", "X-Forwarded-Host", "app.example.com:8443", "X-Original-URI", "/p?q=%2F"}, 302,
			"https://login.example.com/signin?app=a%20b&rd=" + url.QueryEscape("http://app.example.com:8443/p?q=%2F")},
		{"X-Forwarded-Uri wins over X-Original-*", []string{"Accept", "text/html", "X-Original-URL", "https://evil.example.com/x?y=1", "X-Original-URI", "/evil",
			"X-Forwarded-Proto", "https", "X-Forwarded-Host", "app.example.com", "X-Forwarded-Uri", "/z"}, 302,
			"https://login.example.com/signin?app=a%20b&rd=" + url.QueryEscape("https://app.example.com/z")},
		{"X-Original-URL without X-Forwarded-Uri", []string{"Accept", "text/html", "X-Original-URL", "https://orig.example.com/x?y=1", "X-Forwarded-Host", "other.example.com", "X-Original-URI", "/o"}, 302,
			"https://login.example.com/signin?app=a%20b&rd=" + url.QueryEscape("https://orig.example.com/x?y=1")},
		{"empty X-Forwarded-Uri: no rd, X-Original-URL ignored", []string{"Accept", "text/html", "X-Forwarded-Uri", "", "X-Forwarded-Host", "app.example.com", "X-Original-URL", "https://evil.example.com/x"}, 302,
			"https://login.example.com/signin?app=a%20b"},
		{"X-Forwarded-Proto list", []string{"Accept", "TEXT/HTML", "X-Forwarded-Proto", "HTTPS, http", "X-Forwarded-Host", "a.example.com, b.example.com", "X-Forwarded-Uri", "/"}, 302,
			"https://login.example.com/signin?app=a%20b&rd=" + url.QueryEscape("https://a.example.com/")},
		{"unknown host: no rd", []string{"Accept", "text/html", "X-Forwarded-Uri", "/docs"}, 302, "https://login.example.com/signin?app=a%20b"},
		{"bad host: no rd", []string{"Accept", "text/html", "X-Forwarded-Host", "evil.example.com/@x", "X-Forwarded-Uri", "/docs"}, 302, "https://login.example.com/signin?app=a%20b"},
		{"bad X-Original-URL: no rd", []string{"Accept", "text/html", "X-Original-URL", "javascript:alert(1)"}, 302, "https://login.example.com/signin?app=a%20b"},
		{"API client", []string{"Accept", "application/json", "X-Forwarded-Host", "app.example.com", "X-Forwarded-Uri", "/api"}, 401, ""},
		{"no Accept", []string{"X-Forwarded-Host", "app.example.com", "X-Forwarded-Uri", "/api"}, 401, ""},
		{"XHR", []string{"Accept", "text/html", "X-Requested-With", "XMLHttpRequest", "X-Forwarded-Host", "app.example.com", "X-Forwarded-Uri", "/x"}, 401, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := e.do("GET", "/auth", hdr(c.h...))
			if resp.StatusCode != c.status || resp.Header.Get("Location") != c.location {
				t.Fatalf("%d Location %q, want %d %q", resp.StatusCode, resp.Header.Get("Location"), c.status, c.location)
			}
			if resp.Header.Get("X-Auth-User") != "" {
				t.Fatal("identity header on a denial")
			}
		})
	}
	// A logged-in browser is let through, never redirected.
	if resp := e.do("GET", "/auth", hdr(append(traefik, "Cookie", cookie)...)); resp.StatusCode != 200 {
		t.Fatalf("logged in: %d", resp.StatusCode)
	}
	// A login path gets rd after "?".
	path, _ := url.Parse("/login")
	e2 := newEnv(t, sessionbridge.NewMemoryStore(), sessionbridge.Config{}, Config{LoginURL: path})
	if loc := e2.do("GET", "/auth", hdr(traefik...)).Header.Get("Location"); loc != "/login?rd="+url.QueryEscape("https://app.example.com/docs/a%20b?x=1&y=%C3%A9&z=%26") {
		t.Fatalf("Location %q", loc)
	}
}

// TestCookiePath checks that the cookie's path is matched against the
// original request's path, not /auth's.
func TestCookiePath(t *testing.T) {
	e := newEnv(t, sessionbridge.NewMemoryStore(), sessionbridge.Config{Cookie: sessionbridge.CookieOptions{Path: "/app"}}, Config{})
	cookie, _ := e.login(`7`)
	for _, c := range []struct {
		h      []string
		status int
	}{
		{[]string{"X-Forwarded-Uri", "/app/page?x=1"}, 200},
		{[]string{"X-Original-URI", "/application"}, 200}, // express-session's prefix match
		{[]string{"X-Original-URL", "https://a.example.com/app"}, 200},
		{[]string{"X-Forwarded-Uri", "/other"}, 401},
		// X-Forwarded-Uri decides; X-Original-* only count without it.
		{[]string{"X-Forwarded-Uri", "/other", "X-Original-URL", "https://a.example.com/app", "X-Original-URI", "/app"}, 401},
		{[]string{"X-Forwarded-Uri", "/app", "X-Original-URL", "https://a.example.com/other", "X-Original-URI", "/other"}, 200},
		{[]string{"X-Original-URL", "https://a.example.com/other", "X-Original-URI", "/app"}, 401},
		{[]string{"X-Forwarded-Uri", "/ap"}, 401},
		{nil, 401}, // unknown: "/"
		{[]string{"X-Forwarded-Uri", "app"}, 401},
	} {
		if resp := e.do("GET", "/auth", hdr(append(c.h, "Cookie", cookie)...)); resp.StatusCode != c.status {
			t.Errorf("%v: %d, want %d", c.h, resp.StatusCode, c.status)
		}
	}
}

func TestRolling(t *testing.T) {
	for _, rolling := range []bool{false, true} {
		e := newEnv(t, sessionbridge.NewMemoryStore(), sessionbridge.Config{Rolling: rolling,
			Cookie: sessionbridge.CookieOptions{MaxAge: time.Hour}}, Config{})
		cookie, _ := e.login(`7`)
		resp := e.do("GET", "/auth", hdr("Cookie", cookie))
		sc := resp.Header.Values("Set-Cookie")
		if resp.StatusCode != 200 || rolling != (len(sc) == 1) {
			t.Fatalf("rolling %v: %d Set-Cookie %q", rolling, resp.StatusCode, sc)
		}
		if rolling && !strings.HasPrefix(sc[0], cookie+"; Path=/; Expires=") {
			t.Fatalf("Set-Cookie %q", sc[0])
		}
		// No session, no cookie: nothing is created for a visitor.
		if sc := e.do("GET", "/auth", nil).Header.Values("Set-Cookie"); len(sc) != 0 {
			t.Fatalf("Set-Cookie for no session: %q", sc)
		}
	}
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// closedRedis is a store on a Redis client whose server is not there.
func closedRedis(t *testing.T) sessionbridge.Store {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	redis.SetLogger(quietLogger{}) // the dial failures are the point
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	return redisstore.New(c, redisstore.Options{})
}

func TestStoreFailure(t *testing.T) {
	mem := sessionbridge.NewMemoryStore()
	seedEnv := newEnv(t, mem, sessionbridge.Config{}, Config{})
	cookie, sid := seedEnv.login(`7`)
	login, _ := url.Parse("https://login.example.com/")
	e := newEnv(t, closedRedis(t), sessionbridge.Config{Rolling: true}, Config{LoginURL: login, ServeOps: true})
	for _, h := range []http.Header{
		hdr("Cookie", cookie, "X-Auth-User", "spoofed"),
		hdr("Cookie", cookie, "Accept", "text/html", "X-Forwarded-Host", "a.example.com", "X-Forwarded-Uri", "/"),
	} {
		resp := e.do("GET", "/auth", h)
		if resp.StatusCode != 503 || resp.Header.Get("X-Auth-User") != "" || resp.Header.Get("Location") != "" || len(resp.Header.Values("Set-Cookie")) != 0 {
			t.Fatalf("store down: %d %v", resp.StatusCode, resp.Header)
		}
	}
	// Without a signed cookie the store is not asked: 401.
	if resp := e.do("GET", "/auth", nil); resp.StatusCode != 401 {
		t.Fatalf("no cookie, store down: %d", resp.StatusCode)
	}
	if resp := e.do("GET", "/healthz", nil); resp.StatusCode != 503 {
		t.Fatalf("/healthz with the store down: %d", resp.StatusCode)
	}
	if resp := seedEnv.do("GET", "/healthz", nil); resp.StatusCode != 404 {
		t.Fatalf("/healthz without ServeOps: %d", resp.StatusCode)
	}
	resp := httptest.NewRecorder()
	seedEnv.h.Ops().ServeHTTP(resp, httptest.NewRequest("GET", "/healthz", nil))
	if resp.Code != 200 || resp.Body.String() != "ok\n" {
		t.Fatalf("Ops /healthz: %d %q", resp.Code, resp.Body)
	}
	counts := scrape(t, e.h.Ops())
	if counts[`sessionbridge_auth_decisions_total{outcome="error"}`] != 2 || counts[`sessionbridge_auth_decisions_total{outcome="denied"}`] != 1 ||
		counts[`sessionbridge_store_errors_total{op="get_version"}`] != 2 {
		t.Fatalf("metrics: %v", counts)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"level":"ERROR","msg":"session store failed"`) || strings.Contains(logs, sid) || strings.Contains(logs, cookie[12:]) {
		t.Fatalf("logs:\n%s", logs)
	}
}

// TestUnusableRecord: a session.passport that is not an object is a 503
// (passport itself would throw), never a 200 or a 401.
func TestUnusableRecord(t *testing.T) {
	e := newEnv(t, sessionbridge.NewMemoryStore(), sessionbridge.Config{}, Config{})
	cookie := e.seed(map[string]string{"passport": `"7"`})
	if resp := e.do("GET", "/auth", hdr("Cookie", cookie)); resp.StatusCode != 503 || resp.Header.Get("X-Auth-User") != "" {
		t.Fatalf("passport not an object: %d %v", resp.StatusCode, resp.Header)
	}
	if !strings.Contains(e.logs.String(), `"msg":"session record cannot be used"`) {
		t.Fatalf("logs:\n%s", e.logs)
	}
}

func TestRoutes(t *testing.T) {
	e := newEnv(t, sessionbridge.NewMemoryStore(), sessionbridge.Config{}, Config{ServeOps: true})
	for _, c := range []struct {
		path   string
		status int
	}{{"/auth", 401}, {"/auth?x=1", 401}, {"/healthz", 200}, {"/metrics", 200}, {"/", 404}, {"/auth/", 404}, {"/AUTH", 404}, {"/x/auth", 404}} {
		if resp := e.do("GET", c.path, nil); resp.StatusCode != c.status {
			t.Errorf("%s: %d, want %d", c.path, resp.StatusCode, c.status)
		}
	}
	if _, err := New(Config{LoadAndSave: e.bridge.LoadAndSave, Upstream: &url.URL{Scheme: "http", Host: "x"}, ServeOps: true}); err == nil {
		t.Error("ServeOps in reverse-proxy mode accepted")
	}
	for _, bad := range []Config{
		{},
		{LoadAndSave: e.bridge.LoadAndSave, UserHeader: "Set-Cookie"},
		{LoadAndSave: e.bridge.LoadAndSave, Headers: []Header{{Name: "x-auth-user", Path: []string{"id"}}}},
		{LoadAndSave: e.bridge.LoadAndSave, Headers: []Header{{Name: "X-A", Path: []string{"id"}}, {Name: "x_a", Path: []string{"id"}}}},
		{LoadAndSave: e.bridge.LoadAndSave, LoginURL: &url.URL{Scheme: "javascript", Opaque: "alert(1)"}},
		{LoadAndSave: e.bridge.LoadAndSave, LoginURL: &url.URL{Path: "//evil.example.com"}},
		{LoadAndSave: e.bridge.LoadAndSave, Upstream: &url.URL{Path: "/x"}},
	} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) accepted", bad)
		}
	}
	// ErrorHandler outside a Handler's request answers 503 itself.
	w := httptest.NewRecorder()
	ErrorHandler(w, httptest.NewRequest("GET", "/", nil), sessionbridge.ErrStore)
	if w.Code != 503 {
		t.Fatalf("ErrorHandler alone: %d", w.Code)
	}
}

// upstreamRecorder is an upstream that records what reached it.
type upstreamRecorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (u *upstreamRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.reqs = append(u.reqs, r.Clone(context.Background()))
	u.mu.Unlock()
	w.Header().Set("X-Upstream", "yes")
	_, _ = io.WriteString(w, "upstream body "+r.URL.Path)
}

func (u *upstreamRecorder) last(t *testing.T) *http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("nothing reached the upstream")
	}
	return u.reqs[len(u.reqs)-1]
}

func (u *upstreamRecorder) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

func TestUpstream(t *testing.T) {
	rec := &upstreamRecorder{}
	up := httptest.NewServer(rec)
	t.Cleanup(up.Close)
	upURL, _ := url.Parse(up.URL + "/base")
	login, _ := url.Parse("https://login.example.com/")
	e := newEnv(t, sessionbridge.NewMemoryStore(), sessionbridge.Config{Rolling: true, Cookie: sessionbridge.CookieOptions{MaxAge: time.Hour}},
		Config{Upstream: upURL, LoginURL: login, Headers: []Header{{Name: "X-Email", Path: []string{"email"}}}})
	front := httptest.NewServer(e.h)
	t.Cleanup(front.Close)
	cookie, _ := e.login(`{"id":7,"email":"a@example.com"}`)

	spoofs := http.Header{
		"X-Auth-User": {"1", "2"}, "x-auth-user": {"3"}, "X-AUTH-USER": {"4"}, "X_Auth_User": {"5"}, "x_auth-user": {"6"},
		"X-Email": {"root@example.com"}, "x-email": {"r@e"}, "X_EMAIL": {"r@e"},
	}
	send := func(cookie string, extra ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", front.URL+"/page?q=1", nil)
		for k, vs := range spoofs {
			req.Header[k] = vs // raw keys: sent as written, odd case and all
		}
		for i := 0; i+1 < len(extra); i += 2 {
			req.Header.Add(extra[i], extra[i+1])
		}
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		req.Host = "app.example.com"
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	resp := send(cookie)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "upstream body /base/page" || resp.Header.Get("X-Upstream") != "yes" {
		t.Fatalf("allowed: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if sc := resp.Header.Values("Set-Cookie"); len(sc) != 1 || !strings.HasPrefix(sc[0], cookie+"; Path=/; Expires=") {
		t.Fatalf("rolling Set-Cookie on the proxied response: %q", sc)
	}
	if resp.Header.Get("X-Auth-User") != "" {
		t.Fatal("identity header echoed to the client")
	}
	got := rec.last(t)
	for k, vs := range got.Header {
		if n := normName(k); n == "x-auth-user" || n == "x-email" {
			want := map[string]string{"x-auth-user": `{"id":7,"email":"a@example.com"}`, "x-email": "a@example.com"}[n]
			if k != http.CanonicalHeaderKey(k) || len(vs) != 1 || vs[0] != want {
				t.Errorf("upstream got %s: %q, want only the session's %q", k, vs, want)
			}
		}
	}
	if got.Header.Get("X-Auth-User") == "" || got.Header.Get("X-Email") == "" {
		t.Fatalf("identity headers missing upstream: %v", got.Header)
	}
	if got.Host != "app.example.com" || got.Header.Get("X-Forwarded-Host") != "app.example.com" ||
		got.Header.Get("X-Forwarded-Proto") != "http" || got.Header.Get("X-Forwarded-For") != "127.0.0.1" || got.Header.Get("Cookie") != cookie {
		t.Fatalf("upstream request: Host %q %v", got.Host, got.Header)
	}
	// "Connection: X-Auth-User" cannot make the proxy drop the session's header.
	send(cookie, "Connection", "X-Auth-User, X-Email").Body.Close()
	if got := rec.last(t); got.Header.Get("X-Auth-User") != `{"id":7,"email":"a@example.com"}` {
		t.Fatalf("hop-by-hop trick: %v", got.Header)
	}

	// Denied requests never reach the upstream.
	n := rec.count()
	for _, c := range []struct {
		cookie string
		extra  []string
		status int
	}{
		{"", nil, 401},
		{"connect.sid=s%3Aforged.sig", nil, 401},
		{"", []string{"Accept", "text/html"}, 302},
	} {
		resp := send(c.cookie, c.extra...)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("denied: %d, want %d", resp.StatusCode, c.status)
		}
		if c.status == 302 && resp.Header.Get("Location") != "https://login.example.com/?rd="+url.QueryEscape("http://app.example.com/page?q=1") {
			t.Errorf("Location %q", resp.Header.Get("Location"))
		}
	}
	if rec.count() != n {
		t.Fatalf("%d denied requests reached the upstream", rec.count()-n)
	}
	// /healthz and /metrics belong to the upstream, behind the session.
	if resp := send(cookie); resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", front.URL+"/metrics", nil)
	req.Header.Set("Cookie", cookie)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if string(b2) != "upstream body /base/metrics" {
		t.Fatalf("/metrics in reverse-proxy mode: %q", b2)
	}
	counts := scrape(t, e.h.Ops())
	if counts[`sessionbridge_auth_decisions_total{outcome="allowed"}`] != 4 || counts[`sessionbridge_auth_decisions_total{outcome="denied"}`] != 2 ||
		counts[`sessionbridge_auth_decisions_total{outcome="redirected"}`] != 1 {
		t.Fatalf("metrics: %v", counts)
	}
}

// TestUpstreamTrustProxy: behind another proxy, the incoming X-Forwarded-*
// chain is kept and gives the original URL.
func TestUpstreamTrustProxy(t *testing.T) {
	rec := &upstreamRecorder{}
	up := httptest.NewServer(rec)
	t.Cleanup(up.Close)
	upURL, _ := url.Parse(up.URL)
	login, _ := url.Parse("/login")
	for _, trust := range []bool{false, true} {
		e := newEnv(t, sessionbridge.NewMemoryStore(), sessionbridge.Config{TrustProxy: trust}, Config{Upstream: upURL, LoginURL: login, TrustProxy: trust})
		cookie, _ := e.login(`7`)
		fwd := hdr("X-Forwarded-For", "203.0.113.9", "X-Forwarded-Host", "public.example.com", "X-Forwarded-Proto", "https")
		r := httptest.NewRequest("GET", "http://internal:8080/x", nil)
		r.Header = fwd.Clone()
		r.Header.Set("Cookie", cookie)
		r.RemoteAddr = "10.0.0.2:5555"
		e.h.ServeHTTP(httptest.NewRecorder(), r)
		got := rec.last(t)
		wantFor, wantHost, wantProto := "10.0.0.2", "internal:8080", "http"
		if trust {
			wantFor, wantHost, wantProto = "203.0.113.9, 10.0.0.2", "public.example.com", "https"
		}
		if got.Header.Get("X-Forwarded-For") != wantFor || got.Header.Get("X-Forwarded-Host") != wantHost || got.Header.Get("X-Forwarded-Proto") != wantProto {
			t.Errorf("trust %v: X-Forwarded-* %v", trust, got.Header)
		}
		r = httptest.NewRequest("GET", "http://internal:8080/x", nil)
		r.Header = fwd.Clone()
		r.Header.Set("Accept", "text/html")
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		wantRd := "http://internal:8080/x"
		if trust {
			wantRd = "https://public.example.com/x"
		}
		if loc := w.Header().Get("Location"); loc != "/login?rd="+url.QueryEscape(wantRd) {
			t.Errorf("trust %v: Location %q", trust, loc)
		}
	}
}

// TestInstrumentStore checks that the instrumented store keeps the
// optional interfaces, and that the Bridge's calls through it are counted.
func TestInstrumentStore(t *testing.T) {
	m := NewMetrics()
	mem := sessionbridge.NewMemoryStore()
	st := InstrumentStore(mem, m, time.Second)
	if _, ok := st.(sessionbridge.ConditionalStore); !ok {
		t.Fatal("a ConditionalStore lost its interface")
	}
	if e, ok := st.(sessionbridge.ExpiryEnforcer); !ok || !e.EnforcesExpiry() {
		t.Fatal("EnforcesExpiry lost")
	}
	plain := InstrumentStore(struct{ sessionbridge.Store }{mem}, m, time.Second)
	if _, ok := plain.(sessionbridge.ConditionalStore); ok {
		t.Fatal("a plain Store became a ConditionalStore")
	}
	if e, ok := plain.(sessionbridge.ExpiryEnforcer); !ok || e.EnforcesExpiry() {
		t.Fatal("a store that does not say it enforces expiry must report false")
	}

	e := newEnv(t, mem, sessionbridge.Config{}, Config{ServeOps: true})
	cookie, _ := e.login(`7`) // set (new session) through e.bridge's instrumented store
	for range 3 {
		if resp := e.do("GET", "/auth", hdr("Cookie", cookie)); resp.StatusCode != 200 {
			t.Fatal(resp.StatusCode)
		}
	}
	counts := scrape(t, e.h.Ops())
	// The Bridge reads through GetVersion (the conditional path) and
	// touches each unchanged session once per request.
	if counts[`sessionbridge_store_duration_seconds_count{op="get_version"}`] != 3 ||
		counts[`sessionbridge_store_duration_seconds_count{op="touch"}`] != 3 ||
		counts[`sessionbridge_store_duration_seconds_count{op="get"}`] != 0 ||
		counts[`sessionbridge_auth_decisions_total{outcome="allowed"}`] != 3 ||
		counts[`sessionbridge_auth_duration_seconds_count{outcome="allowed"}`] != 3 {
		t.Fatalf("metrics: %v", counts)
	}
	if counts["go_goroutines"] == 0 {
		t.Fatal("no Go collector")
	}
}

// scrape GETs /metrics from h and returns every sample as
// name{labels} -> value (histograms as their _count and _sum).
func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 {
		t.Fatalf("/metrics: %d", w.Code)
	}
	return parseMetrics(t, w.Body)
}

func parseMetrics(t *testing.T, r io.Reader) map[string]float64 {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	out := map[string]float64{}
	for name, fam := range fams {
		for _, m := range fam.GetMetric() {
			key := name + labels(m)
			switch fam.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[name+"_count"+labels(m)] = float64(m.GetHistogram().GetSampleCount())
				out[name+"_sum"+labels(m)] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

func labels(m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return ""
	}
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+`="`+l.GetValue()+`"`)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// TestUpstreamSpoofPaths walks around the identity-header strip in
// reverse-proxy mode by the other ways in: HEAD and OPTIONS, a websocket
// upgrade (whose request the proxy rebuilds), and identity names declared
// as trailers of a chunked body. The upstream only ever sees the
// session's values.
func TestUpstreamSpoofPaths(t *testing.T) {
	type seen struct {
		method           string
		header, trailer  http.Header
		upgrade, connHdr string
	}
	var mu sync.Mutex
	var got []seen
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		got = append(got, seen{r.Method, r.Header.Clone(), r.Trailer.Clone(), r.Header.Get("Upgrade"), r.Header.Get("Connection")})
		mu.Unlock()
		if r.Header.Get("Upgrade") == "websocket" {
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhello\n")
			_ = brw.Flush()
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	upURL, _ := url.Parse(up.URL)
	e := newEnv(t, sessionbridge.NewMemoryStore(), sessionbridge.Config{}, Config{Upstream: upURL, Headers: []Header{{Name: "X-Email", Path: []string{"email"}}}})
	front := httptest.NewServer(e.h)
	t.Cleanup(front.Close)
	cookie, _ := e.login(`{"id":7,"email":"a@example.com"}`)
	want := map[string]string{"x-auth-user": `{"id":7,"email":"a@example.com"}`, "x-email": "a@example.com"}
	spoof := func(h http.Header) {
		for k, v := range map[string]string{"X-Auth-User": "1", "x-auth-user": "2", "X_AUTH_USER": "3", "X-Email": "root@x", "x_email": "r@y"} {
			h[k] = append(h[k], v) // raw keys: sent as written
		}
	}
	check := func(name string, n int) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if len(got) != n {
			t.Fatalf("%s: %d requests reached the upstream, want %d", name, len(got), n)
		}
		s := got[n-1]
		for k, vs := range s.header {
			if w, ok := want[normName(k)]; ok && (len(vs) != 1 || vs[0] != w || k != http.CanonicalHeaderKey(k)) {
				t.Errorf("%s: upstream got %s: %q", name, k, vs)
			}
		}
		for k := range s.trailer {
			if _, ok := want[normName(k)]; ok {
				t.Errorf("%s: upstream got the trailer %s", name, k)
			}
		}
		if s.header.Get("X-Auth-User") == "" || s.header.Get("X-Email") == "" {
			t.Errorf("%s: identity headers missing: %v", name, s.header)
		}
	}

	n := 0
	for _, method := range []string{"HEAD", "OPTIONS", "GET"} {
		req, _ := http.NewRequest(method, front.URL+"/x", nil)
		spoof(req.Header)
		req.Header.Set("Cookie", cookie)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		n++
		check(method, n)
	}

	// Trailers of a chunked body.
	req, _ := http.NewRequest("POST", front.URL+"/x", io.NopCloser(strings.NewReader("body")))
	req.ContentLength = -1
	req.Header.Set("Cookie", cookie)
	req.Trailer = http.Header{}
	spoof(req.Trailer)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	n++
	check("trailers", n)

	// A websocket upgrade, the identity names listed in Connection too.
	upgrade := func(cookie string) (*http.Response, *bufio.Reader) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(front.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		req, _ := http.NewRequest("GET", front.URL+"/ws", nil)
		spoof(req.Header)
		req.Header.Set("Connection", "Upgrade, X-Auth-User, X-Email")
		req.Header.Set("Upgrade", "websocket")
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		if err := req.Write(conn); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp, br
	}
	resp, br := upgrade(cookie)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %d", resp.StatusCode)
	}
	if line, err := br.ReadString('\n'); err != nil || line != "hello\n" {
		t.Fatalf("after the upgrade: %q %v", line, err)
	}
	n++
	check("upgrade", n)
	mu.Lock()
	if s := got[n-1]; s.upgrade != "websocket" || s.connHdr != "Upgrade" {
		t.Errorf("upgrade request upstream: Upgrade %q Connection %q", s.upgrade, s.connHdr)
	}
	mu.Unlock()
	// A denied upgrade never reaches the upstream.
	if resp, _ := upgrade(""); resp.StatusCode != 401 {
		t.Fatalf("denied upgrade: %d", resp.StatusCode)
	}
	check("denied upgrade", n)
}

// TestInstrumentStoreContract runs the Store contract (and the
// ConditionalStore one) on instrumented stores, with and without a
// timeout: the wrapper changes nothing a Bridge relies on.
func TestInstrumentStoreContract(t *testing.T) {
	m := NewMetrics()
	t.Run("conditional", func(t *testing.T) {
		sessionbridgetest.TestStore(t, func(*testing.T) sessionbridge.Store {
			return InstrumentStore(sessionbridge.NewMemoryStore(), m, 2*time.Second)
		}, sessionbridgetest.Options{})
	})
	t.Run("plain, no timeout", func(t *testing.T) {
		sessionbridgetest.TestStore(t, func(*testing.T) sessionbridge.Store {
			return InstrumentStore(struct{ sessionbridge.Store }{sessionbridge.NewMemoryStore()}, nil, 0)
		}, sessionbridgetest.Options{})
	})
}
