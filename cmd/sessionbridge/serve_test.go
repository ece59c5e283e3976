package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/faulttest"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/passportuser"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// svServing is a serve command running in this process through run.
type svServing struct {
	url      string // http://HOST:PORT of --listen
	internal string // http://HOST:PORT of --internal-listen, "" if none
	stderr   *nodetest.LockedBuffer
	cancel   context.CancelFunc
	done     chan int
	once     sync.Once
	code     int
}

var svListeningRE = regexp.MustCompile(`msg=listening addr=(\S+)(?: internal=(\S+))?`)

// svStartServe runs "serve --listen 127.0.0.1:0 --log-level debug ARGS..."
// (ARGS may override both), waits for its "listening" record and stops it
// (and checks that it exited 0) when the test ends.
func svStartServe(t *testing.T, args ...string) *svServing {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &svServing{stderr: &nodetest.LockedBuffer{}, cancel: cancel, done: make(chan int, 1)}
	all := append([]string{"serve", "--listen", "127.0.0.1:0", "--log-level", "debug"}, args...)
	go func() { s.done <- run(ctx, all, io.Discard, s.stderr) }()
	t.Cleanup(func() {
		if code := s.stop(t); code != 0 {
			t.Errorf("serve exited %d:\n%s", code, s.stderr)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := svListeningRE.FindStringSubmatch(s.stderr.String()); m != nil {
			s.url = "http://" + m[1]
			if m[2] != "" {
				s.internal = "http://" + m[2]
			}
			return s
		}
		select {
		case code := <-s.done:
			s.once.Do(func() { s.code = code })
			t.Fatalf("serve exited %d before listening:\n%s", code, s.stderr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not listen in 20s:\n%s", s.stderr)
		}
	}
}

// stop cancels serve's context and returns its exit status.
func (s *svServing) stop(t *testing.T) int {
	s.once.Do(func() {
		s.cancel()
		select {
		case s.code = <-s.done:
		case <-time.After(20 * time.Second):
			t.Errorf("serve did not stop 20s after its context ended:\n%s", s.stderr)
			s.code = -1
		}
	})
	return s.code
}

// auth asks /auth with the Cookie header cookie ("" for none) and the
// header pairs kv.
func (s *svServing) auth(t *testing.T, cookie string, kv ...string) *http.Response {
	t.Helper()
	return svGet(t, s.url+"/auth", cookie, kv...)
}

func svGet(t *testing.T, u, cookie string, kv ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Add(kv[i], kv[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req) // no redirects followed
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// svScrapeMetrics parses GET u (a /metrics URL) into name{labels} -> value;
// histograms give their _count and _sum.
func svScrapeMetrics(t *testing.T, u string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d", u, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", u, err)
	}
	out := map[string]float64{}
	for name, fam := range fams {
		for _, m := range fam.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
			}
			lab := ""
			if len(ls) > 0 {
				lab = "{" + strings.Join(ls, ",") + "}"
			}
			switch fam.GetType() {
			case dto.MetricType_COUNTER:
				out[name+lab] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[name+lab] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[name+"_count"+lab] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// svDecodeUser decodes one JSON value with numbers kept as written.
func svDecodeUser(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	return v
}

// svStoredUser is passport.user in a stored express-session record.
func svStoredUser(t *testing.T, record []byte) json.RawMessage {
	t.Helper()
	var rec struct {
		Passport struct {
			User json.RawMessage `json:"user"`
		} `json:"passport"`
	}
	if err := json.Unmarshal(record, &rec); err != nil || rec.Passport.User == nil {
		t.Fatalf("stored record %s: %v", record, err)
	}
	return rec.Passport.User
}

// svRedisLive is the Node app on the shared Redis under a fresh prefix, the
// store URL serve gets for it, and a client on the same Redis.
type svRedisLive struct {
	app    *nodetest.App
	addr   string
	prefix string
	url    string
	rdb    *redis.Client
}

func svStartRedisLive(t *testing.T, env map[string]string) *svRedisLive {
	t.Helper()
	addr := services.RedisAddr(t)
	l := &svRedisLive{addr: addr, prefix: uniq("sbserve:") + ":"}
	l.url = "redis://" + addr + "/0?prefix=" + l.prefix
	l.rdb = redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { l.rdb.Close() })
	e := map[string]string{"STORE": "redis", "REDIS_URL": "redis://" + addr, "REDIS_PREFIX": l.prefix}
	for k, v := range env {
		e[k] = v
	}
	l.app = nodetest.StartApp(t, e)
	return l
}

// raw is the record stored for sid.
func (l *svRedisLive) raw(t *testing.T, sid string) []byte {
	t.Helper()
	v, err := l.rdb.Get(context.Background(), l.prefix+sid).Bytes()
	if err != nil {
		t.Fatalf("redis GET: %v", err)
	}
	return v
}

// svSeedRedis logs user (JSON) in through the Go library on the same store, as
// Node would, and returns the cookie value and the session id.
func svSeedRedis(t *testing.T, addr, prefix, user string, opts redisstore.Options) (cookie, sid string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	opts.Prefix = prefix
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{secret}, Store: redisstore.New(c, opts),
		Cookie: sessionbridge.CookieOptions{MaxAge: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := passportuser.Login(context.Background(), b, nil, json.RawMessage(user), passportuser.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return b.Signer().CookieValue(s.ID), s.ID
}

// svSidOf is the session id in an express-session cookie value.
func svSidOf(t *testing.T, cookie string) string {
	t.Helper()
	v, err := url.QueryUnescape(cookie)
	if err != nil || !strings.HasPrefix(v, "s:") || !strings.Contains(v, ".") {
		t.Fatalf("cookie %q", cookie)
	}
	return v[2:strings.LastIndexByte(v, '.')]
}

// TestServeNodeRedis: the Node app (express-session, passport, connect-redis)
// logs users in and out; serve answers from the same sessions.
func TestServeNodeRedis(t *testing.T) {
	t.Parallel()
	l := svStartRedisLive(t, map[string]string{"USER_SERIALIZE": "object"})
	s := svStartServe(t, "--store", l.url, "--secret", secret, "--header", "X-Id=id", "--header", "X-Name=name", "--header", "X-Missing=profile.email")

	for _, who := range []struct{ user, header, id, name string }{
		{"alice", `{"id":7,"username":"alice","name":"Alice"}`, "7", "Alice"},
		{"zero", `{"id":0,"username":"zero","name":"Zero"}`, "0", "Zero"},
		{"big", `{"id":"9007199254740993","username":"big","name":"Big"}`, "9007199254740993", "Big"},
	} {
		cookie := l.app.Login(who.user, "secret")
		stored := svStoredUser(t, l.raw(t, svSidOf(t, cookie)))
		resp := s.auth(t, "connect.sid="+cookie, "X-Auth-User", "spoofed", "X-Id", "0")
		got := resp.Header.Get("X-Auth-User")
		if resp.StatusCode != 200 || got != who.header || !reflect.DeepEqual(svDecodeUser(t, []byte(got)), svDecodeUser(t, stored)) {
			t.Fatalf("%s: %d X-Auth-User %q; Node stored %s", who.user, resp.StatusCode, got, stored)
		}
		if resp.Header.Get("X-Id") != who.id || resp.Header.Get("X-Name") != who.name || len(resp.Header.Values("X-Missing")) != 1 || resp.Header.Get("X-Missing") != "" {
			t.Fatalf("%s: field headers %v", who.user, resp.Header)
		}
		// Node still sees the session (serve touched it, nothing else).
		if me := l.app.Me(cookie); !me.LoggedIn {
			t.Fatalf("%s: Node lost the session after /auth: %+v", who.user, me)
		}
		l.app.Logout(cookie)
		if resp := s.auth(t, "connect.sid="+cookie); resp.StatusCode != 401 || resp.Header.Get("X-Auth-User") != "" {
			t.Fatalf("%s after Node's logout: %d %v", who.user, resp.StatusCode, resp.Header)
		}
	}

	// A user Node's login form cannot make (an id above 2^53 and a name
	// outside ASCII), stored through the Go library as passport would.
	cookie, sid := svSeedRedis(t, l.addr, l.prefix, `{"id":90071992547409931,"username":"zoe","name":"Zoë 😀 \"Z\""}`, redisstore.Options{})
	resp := s.auth(t, "connect.sid="+cookie)
	want := `{"id":90071992547409931,"username":"zoe","name":"Zo\u00eb \ud83d\ude00 \"Z\""}`
	if resp.StatusCode != 200 || resp.Header.Get("X-Auth-User") != want || resp.Header.Get("X-Name") != `Zo\u00eb \ud83d\ude00 \"Z\"` ||
		resp.Header.Get("X-Id") != "90071992547409931" {
		t.Fatalf("seeded user: %d %v", resp.StatusCode, resp.Header)
	}
	if !reflect.DeepEqual(svDecodeUser(t, []byte(resp.Header.Get("X-Auth-User"))), svDecodeUser(t, svStoredUser(t, l.raw(t, sid)))) {
		t.Fatal("header and stored user differ")
	}
	if me := l.app.Me(cookie); !me.LoggedIn || !strings.Contains(string(me.User), `"name":"Zoë 😀 \"Z\""`) {
		t.Fatalf("Node's view of the seeded user: %+v", me)
	}

	// Cookies that carry no valid session.
	alice := l.app.Login("alice", "secret")
	other, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"not the secret"}, Store: sessionbridge.NewMemoryStore()})
	aliceSid := svSidOf(t, alice)
	pad := func(n int) string {
		c := "connect.sid=" + alice + "; pad="
		return c + strings.Repeat("p", n-len(c))
	}
	for _, c := range []struct {
		name, cookie string
		status       int
	}{
		{"valid", "connect.sid=" + alice, 200},
		{"no cookie", "", 401},
		{"empty", "connect.sid=", 401},
		{"unsigned", "connect.sid=" + aliceSid, 401},
		{"forged", "connect.sid=s%3A" + aliceSid + ".bm90IGEgc2lnbmF0dXJlIG9mIHRoaXMgc2Vzc2lvbiEh", 401},
		{"wrong secret", "connect.sid=" + other.Signer().CookieValue(aliceSid), 401},
		{"other cookie name", "session=" + alice, 401},
		{"unknown id", "connect.sid=" + cookieFor("uNkNoWnSeSsIoNiD0123456789abcdef"), 401},
		{"duplicated, forged first", "connect.sid=s%3Ax.y; connect.sid=" + alice, 401},
		{"duplicated, valid first", "connect.sid=" + alice + "; connect.sid=s%3Ax.y", 200},
		{"malformed", "connect.sid=%%%", 401},
		{"Cookie header at the 16 KiB limit", pad(16 << 10), 200},
		{"Cookie header over the limit", pad(16<<10 + 1), 401},
		{"Cookie header far over the limit", pad(64 << 10), 401},
	} {
		if resp := s.auth(t, c.cookie); resp.StatusCode != c.status {
			t.Errorf("%s: %d, want %d", c.name, resp.StatusCode, c.status)
		}
	}

	// An expired record the store still holds (no Redis TTL) is no session.
	expiredPrefix := uniq("sbserve-exp:") + ":"
	past := time.Now().Add(-time.Minute).UTC().Format("2006-01-02T15:04:05.000Z")
	record := `{"cookie":{"originalMaxAge":3600000,"expires":"` + past + `","httpOnly":true,"path":"/"},"passport":{"user":7}}`
	expSid := "eXpIrEdSeSsIoN0123456789abcdefgh"
	if err := l.rdb.Set(context.Background(), expiredPrefix+expSid, record, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	noTTL := svStartServe(t, "--store", "redis://"+l.addr+"/0?disableTTL=true&prefix="+expiredPrefix, "--secret", secret)
	if resp := noTTL.auth(t, "connect.sid="+cookieFor(expSid)); resp.StatusCode != 401 {
		t.Fatalf("expired record: %d", resp.StatusCode)
	}
	logs := s.stderr.String() + noTTL.stderr.String()
	for _, leak := range []string{alice, aliceSid, sid, expSid, secret, "Zo", "alice"} {
		if strings.Contains(logs, leak) {
			t.Fatalf("the logs hold %q:\n%s", leak, logs)
		}
	}
}

// TestServeNodePostgres: the same on connect-pg-simple.
func TestServeNodePostgres(t *testing.T) {
	t.Parallel()
	l := livePostgres(t)
	s := svStartServe(t, "--store", l.url, "--secret", secret)
	cookie := l.app.Login("alice", "secret")
	resp := s.auth(t, "connect.sid="+cookie)
	if resp.StatusCode != 200 || resp.Header.Get("X-Auth-User") != "7" || string(svStoredUser(t, l.raw(t, svSidOf(t, cookie)))) != "7" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	l.app.Logout(cookie)
	if resp := s.auth(t, "connect.sid="+cookie); resp.StatusCode != 401 {
		t.Fatalf("after logout: %d", resp.StatusCode)
	}
	if resp := svGet(t, s.url+"/healthz", ""); resp.StatusCode != 200 {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
}

// TestServeKoa: koa-session in cookie mode with koa-passport.
func TestServeKoa(t *testing.T) {
	t.Parallel()
	app := nodetest.StartKoa(t, map[string]string{"KEYS": `["koa-key-2","koa-key-1"]`})
	s := svStartServe(t, "--format", "koa-session", "--keys", "koa-key-2", "--keys", "koa-key-1")
	r := app.Do("POST", "/login", "", map[string]string{"username": "alice", "password": "secret"}, nil)
	app.State(r)
	jar := svCookieJar(r.SetCookie)
	resp := s.auth(t, jar)
	if resp.StatusCode != 200 || resp.Header.Get("X-Auth-User") != "7" {
		t.Fatalf("koa login: %d %v (cookie %q)", resp.StatusCode, resp.Header, jar)
	}
	// A tampered payload: the signature no longer matches.
	tampered := strings.Replace(jar, "koa.sess=", "koa.sess=e30", 1)
	if resp := s.auth(t, tampered); resp.StatusCode != 401 {
		t.Fatalf("tampered: %d", resp.StatusCode)
	}
	r = app.Do("POST", "/logout", jar, nil, nil)
	app.State(r)
	if resp := s.auth(t, svCookieJar(r.SetCookie)); resp.StatusCode != 401 {
		t.Fatalf("after koa logout: %d", resp.StatusCode)
	}
	// No store: /healthz is 200.
	if resp := svGet(t, s.url+"/healthz", ""); resp.StatusCode != 200 {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
}

// svCookieJar is the Cookie header a browser sends after the Set-Cookie
// headers sc.
func svCookieJar(sc []string) string {
	var pairs []string
	for _, h := range sc {
		pair, _, _ := strings.Cut(h, ";")
		pairs = append(pairs, pair)
	}
	return strings.Join(pairs, "; ")
}

// TestServeStoreOutage: a store that stops answering is a 503 on /auth and
// /healthz, never a 401 or a 200, and serve answers again once it is back.
func TestServeStoreOutage(t *testing.T) {
	t.Parallel()
	srv := faulttest.StartRedis(t)
	prefix := "sess:"
	cookie, sid := svSeedRedis(t, srv.Addr, prefix, `7`, redisstore.Options{})
	s := svStartServe(t, "--store", "redis://"+srv.Addr+"/0?dial_timeout=1s&max_retries=-1", "--secret", secret, "--timeout", "2s",
		"--login-url", "https://login.example.com/")
	if resp := s.auth(t, "connect.sid="+cookie); resp.StatusCode != 200 {
		t.Fatalf("before: %d", resp.StatusCode)
	}
	srv.Stop()
	for _, kv := range [][]string{nil, {"Accept", "text/html", "X-Forwarded-Host", "a.example.com", "X-Forwarded-Uri", "/"}} {
		resp := s.auth(t, "connect.sid="+cookie, kv...)
		if resp.StatusCode != 503 || resp.Header.Get("X-Auth-User") != "" || resp.Header.Get("Location") != "" {
			t.Fatalf("store down: %d %v", resp.StatusCode, resp.Header)
		}
	}
	if resp := svGet(t, s.url+"/healthz", ""); resp.StatusCode != 503 {
		t.Fatalf("/healthz, store down: %d", resp.StatusCode)
	}
	srv.Start()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp := s.auth(t, "connect.sid="+cookie)
		if resp.StatusCode == 200 && resp.Header.Get("X-Auth-User") == "7" {
			break
		}
		if resp.StatusCode != 503 || time.Now().After(deadline) {
			t.Fatalf("after the restart: %d", resp.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp := svGet(t, s.url+"/healthz", ""); resp.StatusCode != 200 {
		t.Fatalf("/healthz after the restart: %d", resp.StatusCode)
	}
	m := svScrapeMetrics(t, s.url+"/metrics")
	if m[`sessionbridge_auth_decisions_total{outcome="error"}`] < 2 || m[`sessionbridge_auth_decisions_total{outcome="denied"}`] != 0 ||
		m[`sessionbridge_store_errors_total{op="get_version"}`] < 2 {
		t.Fatalf("metrics: %v", m)
	}
	logs := s.stderr.String()
	if !strings.Contains(logs, `level=ERROR msg="session store failed"`) || strings.Contains(logs, sid) || strings.Contains(logs, cookie) {
		t.Fatalf("logs:\n%s", logs)
	}
}

// TestServeKeepAlive: a user who only hits /auth stays logged in on Node
// for three times Node's maxAge; one who does not is logged out after it.
func TestServeKeepAlive(t *testing.T) {
	t.Parallel()
	const maxAge = 1500 * time.Millisecond
	l := svStartRedisLive(t, map[string]string{"MAX_AGE_MS": "1500"})
	s := svStartServe(t, "--store", l.url, "--secret", secret)
	kept, idle := l.app.Login("alice", "secret"), l.app.Login("alice", "secret")
	end := time.Now().Add(3 * maxAge)
	for time.Now().Before(end) {
		if resp := s.auth(t, "connect.sid="+kept); resp.StatusCode != 200 {
			t.Fatalf("/auth: %d", resp.StatusCode)
		}
		time.Sleep(maxAge / 6)
	}
	if me := l.app.Me(kept); !me.LoggedIn {
		t.Fatal("Node logged out a user who kept using /auth")
	}
	if me := l.app.Me(idle); me.LoggedIn {
		t.Fatal("the idle session outlived its maxAge: the test proves nothing")
	}
}

// TestServeTouchAfter: with the store URL's touchAfter, /auth touches the
// store far less often than once per request.
func TestServeTouchAfter(t *testing.T) {
	t.Parallel()
	l := svStartRedisLive(t, nil)
	every := svStartServe(t, "--store", l.url, "--secret", secret)
	lazy := svStartServe(t, "--store", l.url+"&touchAfter=60", "--secret", secret)
	cookie := l.app.Login("alice", "secret")
	const n = 10
	for range n {
		for _, s := range []*svServing{every, lazy} {
			if resp := s.auth(t, "connect.sid="+cookie); resp.StatusCode != 200 {
				t.Fatalf("/auth: %d", resp.StatusCode)
			}
		}
	}
	touches := func(s *svServing) float64 {
		return svScrapeMetrics(t, s.url+"/metrics")[`sessionbridge_store_duration_seconds_count{op="touch"}`]
	}
	if a, b := touches(every), touches(lazy); a != n || b != 0 {
		t.Fatalf("touches: %v without touchAfter (want %d), %v with touchAfter=60 just after the login (want 0)", a, n, b)
	}
	// The TTL Node set at login is what keeps the session: still there.
	if ttl := l.rdb.TTL(context.Background(), l.prefix+svSidOf(t, cookie)).Val(); ttl <= 0 {
		t.Fatalf("TTL %v", ttl)
	}
}

// TestServeRolling: with --rolling the answer carries the Set-Cookie Node
// (rolling: true) sends for the same session.
func TestServeRolling(t *testing.T) {
	t.Parallel()
	l := svStartRedisLive(t, map[string]string{"ROLLING": "1"})
	rolling := svStartServe(t, "--store", l.url, "--secret", secret, "--rolling")
	plain := svStartServe(t, "--store", l.url, "--secret", secret)
	cookie := l.app.Login("alice", "secret")
	node := nodetest.Response{}
	for range 3 {
		node = svRequestNode(t, l.app, cookie)
		resp := rolling.auth(t, "connect.sid="+cookie)
		goSC := resp.Header.Values("Set-Cookie")
		if resp.StatusCode != 200 || len(goSC) != 1 || len(node.SetCookie) != 1 {
			t.Fatalf("Set-Cookie: Go %q, Node %q", goSC, node.SetCookie)
		}
		if goSC[0] == node.SetCookie[0] {
			continue // the same second: byte for byte
		}
		// Else only Expires may differ, by the time between the requests.
		ge, ne := svExpires(t, goSC[0]), svExpires(t, node.SetCookie[0])
		if d := ge.Sub(ne); d < 0 || d > 2*time.Second {
			t.Fatalf("Expires differ by %v: Go %q, Node %q", d, goSC[0], node.SetCookie[0])
		}
		if svStrip(goSC[0]) != svStrip(node.SetCookie[0]) {
			t.Fatalf("Set-Cookie: Go %q, Node %q", goSC[0], node.SetCookie[0])
		}
	}
	if sc := plain.auth(t, "connect.sid="+cookie).Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("Set-Cookie without --rolling: %q", sc)
	}
}

// svRequestNode is GET /me on the Node app with its Set-Cookie headers.
func svRequestNode(t *testing.T, app *nodetest.App, cookie string) nodetest.Response {
	t.Helper()
	return app.DoHeader("GET", "/me", http.Header{"Cookie": {"connect.sid=" + cookie}}, nil)
}

var svExpiresRE = regexp.MustCompile(`; Expires=([^;]+)`)

func svExpires(t *testing.T, sc string) time.Time {
	t.Helper()
	m := svExpiresRE.FindStringSubmatch(sc)
	if m == nil {
		t.Fatalf("no Expires in %q", sc)
	}
	e, err := http.ParseTime(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func svStrip(sc string) string { return svExpiresRE.ReplaceAllString(sc, "; Expires=X") }

// TestServeRedirectAndMetrics: browsers without a session go to the login
// page, API clients get 401, and /metrics counts exactly what happened.
func TestServeRedirectAndMetrics(t *testing.T) {
	t.Parallel()
	addr := services.RedisAddr(t)
	prefix := uniq("sbserve:") + ":"
	cookie, _ := svSeedRedis(t, addr, prefix, `"u-1"`, redisstore.Options{})
	s := svStartServe(t, "--store", "redis://"+addr+"/0?prefix="+prefix, "--secret", secret, "--login-url", "https://id.example.com/login?next=1",
		"--user-header", "X-User")
	traefik := []string{"Accept", "text/html,*/*", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "app.example.com", "X-Forwarded-Uri", "/a/b?c=d&e=%20"}
	resp := s.auth(t, "", traefik...)
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "https://id.example.com/login?next=1&rd="+url.QueryEscape("https://app.example.com/a/b?c=d&e=%20") {
		t.Fatalf("browser: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// X-Forwarded-Uri, which Traefik and Caddy always set, outranks the
	// X-Original-* headers they pass on from the client.
	spoof := append([]string{"X-Original-URL", "https://evil.example/e", "X-Original-URI", "/e"}, traefik...)
	if resp := s.auth(t, "", spoof...); resp.Header.Get("Location") != "https://id.example.com/login?next=1&rd="+url.QueryEscape("https://app.example.com/a/b?c=d&e=%20") {
		t.Fatalf("X-Original-* beside X-Forwarded-Uri: %q", resp.Header.Get("Location"))
	}
	// Without X-Forwarded-Uri: X-Original-URL, else X-Original-URI.
	nginx := []string{"Accept", "text/html", "X-Forwarded-Host", "app.example.com", "X-Original-URI", "/n"}
	if resp := s.auth(t, "", nginx...); resp.Header.Get("Location") != "https://id.example.com/login?next=1&rd="+url.QueryEscape("http://app.example.com/n") {
		t.Fatalf("nginx headers: %q", resp.Header.Get("Location"))
	}
	if resp := s.auth(t, "", append([]string{"X-Original-URL", "https://ingress.example.com/i"}, nginx...)...); resp.Header.Get("Location") != "https://id.example.com/login?next=1&rd="+url.QueryEscape("https://ingress.example.com/i") {
		t.Fatalf("X-Original-URL: %q", resp.Header.Get("Location"))
	}
	if resp := s.auth(t, "", "Accept", "application/json", "X-Forwarded-Host", "app.example.com", "X-Forwarded-Uri", "/api"); resp.StatusCode != 401 {
		t.Fatalf("API: %d", resp.StatusCode)
	}
	if resp := s.auth(t, "", "Accept", "text/html", "X-Requested-With", "XMLHttpRequest"); resp.StatusCode != 401 {
		t.Fatalf("XHR: %d", resp.StatusCode)
	}
	for range 3 {
		if resp := s.auth(t, "connect.sid="+cookie, traefik...); resp.StatusCode != 200 || resp.Header.Get("X-User") != `"u-1"` || resp.Header.Get("X-Auth-User") != "" {
			t.Fatalf("logged in: %d %v", resp.StatusCode, resp.Header)
		}
	}
	if resp := svGet(t, s.url+"/nope", ""); resp.StatusCode != 404 {
		t.Fatalf("/nope: %d", resp.StatusCode)
	}
	m := svScrapeMetrics(t, s.url+"/metrics")
	for k, want := range map[string]float64{
		`sessionbridge_auth_decisions_total{outcome="allowed"}`:        3,
		`sessionbridge_auth_decisions_total{outcome="denied"}`:         2,
		`sessionbridge_auth_decisions_total{outcome="redirected"}`:     4,
		`sessionbridge_auth_decisions_total{outcome="error"}`:          0,
		`sessionbridge_auth_duration_seconds_count{outcome="allowed"}`: 3,
		`sessionbridge_store_duration_seconds_count{op="get_version"}`: 3,
		`sessionbridge_store_duration_seconds_count{op="touch"}`:       3,
	} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	if m["process_start_time_seconds"] == 0 || m["go_goroutines"] == 0 {
		t.Error("no process or Go collector")
	}
}

// TestServeUpstream: reverse-proxy mode through the command, with the
// operations endpoints on --internal-listen.
func TestServeUpstream(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		_, _ = io.WriteString(w, "up:"+r.URL.Path)
	}))
	t.Cleanup(up.Close)
	addr := services.RedisAddr(t)
	prefix := uniq("sbserve:") + ":"
	cookie, _ := svSeedRedis(t, addr, prefix, `{"id":7,"mail":"a@b.c"}`, redisstore.Options{})
	s := svStartServe(t, "--store", "redis://"+addr+"/0?prefix="+prefix, "--secret", secret, "--upstream", up.URL,
		"--internal-listen", "127.0.0.1:0", "--header", "X-Mail=mail")
	if s.internal == "" {
		t.Fatalf("no internal address in:\n%s", s.stderr)
	}
	spoofs := []string{"X-Auth-User", "1", "x-auth-user", "2", "X_AUTH_USER", "3", "X-Mail", "evil@x", "x_mail", "evil@y"}
	for _, path := range []string{"/app", "/healthz", "/metrics"} {
		resp := svGet(t, s.url+path, "connect.sid="+cookie, spoofs...)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
	mu.Lock()
	n := len(seen)
	for _, h := range seen {
		for k, vs := range h {
			if nk := svNormName(k); nk == "x-auth-user" || nk == "x-mail" {
				want := map[string]string{"x-auth-user": `{"id":7,"mail":"a@b.c"}`, "x-mail": "a@b.c"}[nk]
				if len(vs) != 1 || vs[0] != want {
					t.Errorf("upstream saw %s: %q", k, vs)
				}
			}
		}
		if h.Get("X-Auth-User") == "" || h.Get("X-Mail") == "" {
			t.Errorf("identity headers missing: %v", h)
		}
	}
	mu.Unlock()
	if n != 3 {
		t.Fatalf("%d requests reached the upstream, want 3", n)
	}
	for _, c := range []string{"", "connect.sid=s%3Aforged.x"} {
		if resp := svGet(t, s.url+"/app", c, spoofs...); resp.StatusCode != 401 {
			t.Fatalf("denied: %d", resp.StatusCode)
		}
	}
	mu.Lock()
	if len(seen) != n {
		t.Fatal("a denied request reached the upstream")
	}
	mu.Unlock()
	if resp := svGet(t, s.internal+"/healthz", ""); resp.StatusCode != 200 {
		t.Fatalf("internal /healthz: %d", resp.StatusCode)
	}
	if resp := svGet(t, s.internal+"/auth", ""); resp.StatusCode != 404 {
		t.Fatalf("internal /auth: %d", resp.StatusCode)
	}
	m := svScrapeMetrics(t, s.internal+"/metrics")
	if m[`sessionbridge_auth_decisions_total{outcome="allowed"}`] != 3 || m[`sessionbridge_auth_decisions_total{outcome="denied"}`] != 2 {
		t.Fatalf("metrics: %v", m)
	}
}

// svNormName folds a header name as serve compares them.
func svNormName(k string) string { return strings.ReplaceAll(strings.ToLower(k), "_", "-") }

// TestServeSecrets: --secret-file (rotation, blank lines, CRLF) and
// $SESSIONBRIDGE_SECRET / $SESSIONBRIDGE_STORE.
func TestServeSecrets(t *testing.T) {
	addr := services.RedisAddr(t)
	prefix := uniq("sbserve:") + ":"
	cookie, _ := svSeedRedis(t, addr, prefix, `7`, redisstore.Options{})
	storeURL := "redis://" + addr + "/0?prefix=" + prefix
	dir := t.TempDir()
	file := filepath.Join(dir, "secrets")
	if err := os.WriteFile(file, []byte("\nnewer secret\r\n\n   \n"+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := svStartServe(t, "--store", storeURL, "--secret-file", file)
	if resp := s.auth(t, "connect.sid="+cookie); resp.StatusCode != 200 {
		t.Fatalf("--secret-file: %d", resp.StatusCode)
	}
	if strings.Contains(s.stderr.String(), "readable by every user") {
		t.Fatal("a 0600 file was reported world-readable")
	}
	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, []byte(secret+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o644) // whatever the umask
	s2 := svStartServe(t, "--store", storeURL, "--secret-file", open)
	if resp := s2.auth(t, "connect.sid="+cookie); resp.StatusCode != 200 || !strings.Contains(s2.stderr.String(), "readable by every user") {
		t.Fatalf("world-readable file: %d\n%s", resp.StatusCode, s2.stderr)
	}

	t.Setenv(envSecret, secret)
	t.Setenv(envStore, storeURL)
	s3 := svStartServe(t)
	if resp := s3.auth(t, "connect.sid="+cookie); resp.StatusCode != 200 {
		t.Fatalf("$SESSIONBRIDGE_SECRET: %d", resp.StatusCode)
	}
	for _, sv := range []*svServing{s, s2, s3} {
		if strings.Contains(sv.stderr.String(), secret) || strings.Contains(sv.stderr.String(), "newer secret") {
			t.Fatalf("a secret in the logs:\n%s", sv.stderr)
		}
	}
}

// TestServeStartupErrors: bad flags and unusable settings stop serve before
// it listens, with a message that holds no secret.
func TestServeStartupErrors(t *testing.T) {
	const canary = "Cn4ryS3cr3tValue"
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := services.RedisAddr(t)
	good := "redis://" + addr + "/0?prefix=" + uniq("sbserve:") + ":"
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n\n"), 0o600)
	secretFile := filepath.Join(dir, "s")
	os.WriteFile(secretFile, []byte(canary+"\n"), 0o600)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"address in use", []string{"--listen", taken.Addr().String()}, "cannot listen on " + taken.Addr().String()},
		{"internal address in use", []string{"--internal-listen", taken.Addr().String()}, "cannot listen on"},
		{"bad listen", []string{"--listen", "nocolon"}, "--listen must be HOST:PORT"},
		{"store down", []string{"--store", "redis://" + closedPort(t) + "?max_retries=-1"}, "store error"},
		{"bad store URL", []string{"--store", "redis://" + canary + "@x:1/?nosuch=1"}, "--store"},
		{"store with a password down", []string{"--store", "redis://u:" + canary + "@" + closedPort(t) + "?max_retries=-1"}, "store error"},
		{"bad log format", []string{"--log-format", "xml"}, "--log-format must be text or json"},
		{"bad log level", []string{"--log-level", "loud"}, "--log-level"},
		{"bad header", []string{"--header", "X-A"}, "--header"},
		{"reserved header", []string{"--header", "Cookie=id"}, "not available"},
		{"reserved user header", []string{"--user-header", "Set-Cookie"}, "--user-header"},
		{"header twice", []string{"--header", "X-Auth-User=id"}, "given twice"},
		{"header twice, other case and _", []string{"--header", "X-Mail=a", "--header", "x_mail=b"}, "given twice"},
		{"header as the user header", []string{"--user-header", "X-User", "--header", "x-user=id"}, "given twice"},
		{"empty header name", []string{"--header", "=id"}, "empty header name"},
		{"empty user header", []string{"--user-header", ""}, "--user-header"},
		{"hop-by-hop header", []string{"--header", "Connection=id"}, "not available"},
		{"reserved header with _", []string{"--header", "X_Forwarded_Uri=id"}, "not available"},
		{"hop-by-hop user header", []string{"--user-header", "keep_alive"}, "not available"},
		{"bad login URL", []string{"--login-url", "javascript:alert(1)"}, "login URL"},
		{"bad upstream", []string{"--upstream", "ftp://x"}, "upstream"},
		{"shutdown timeout", []string{"--shutdown-timeout", "0s"}, "--shutdown-timeout"},
		{"argument", []string{canary + "x"}, "serve takes no arguments"},
		{"rolling cookie-session", []string{"--format", "cookie-session", "--keys", "k", "--store", "", "--rolling"}, "cookie-session has no rolling"},
		{"secret file and --secret", []string{"--secret-file", secretFile, "--secret", canary}, "not both"},
		{"secret file missing", []string{"--secret-file", filepath.Join(dir, "nope")}, "--secret-file: cannot read"},
		{"secret file empty", []string{"--secret-file", empty}, "holds no secret"},
		{"secret file, store down", []string{"--secret-file", secretFile, "--store", "redis://" + closedPort(t) + "?max_retries=-1"}, "store error"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"serve", "--store", good, "--listen", "127.0.0.1:0"}
			if !strings.HasPrefix(c.name, "secret file") {
				args = append(args, "--secret", canary)
			}
			args = append(args, c.args...)
			var out, errb bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			code := run(ctx, args, &out, &errb)
			if code == 0 || !strings.Contains(errb.String(), c.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant it to contain %q", code, errb.String(), c.want)
			}
			if strings.Contains(errb.String(), "msg=listening") {
				t.Fatal("it listened")
			}
			all := out.String() + errb.String()
			for i := 0; i+5 <= len(canary); i++ {
				if strings.Contains(all, canary[i:i+5]) {
					t.Fatalf("the output holds a piece of the secret:\n%s", all)
				}
			}
		})
	}
	r := sb(t, "serve", "--help").want(t, 0)
	if !strings.HasPrefix(r.stdout, "Usage: sessionbridge serve ") || !strings.Contains(sb(t, "help").stdout, "serve") {
		t.Fatalf("help: %s", r.stdout)
	}
}

// TestServeGracefulShutdown: canceling serve's context while a slow request
// is in flight lets it finish, then exits 0.
func TestServeGracefulShutdown(t *testing.T) {
	t.Parallel()
	var started atomic.Int32
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		<-release
		_, _ = io.WriteString(w, "slow answer")
	}))
	t.Cleanup(up.Close)
	addr := services.RedisAddr(t)
	prefix := uniq("sbserve:") + ":"
	cookie, _ := svSeedRedis(t, addr, prefix, `7`, redisstore.Options{})
	s := svStartServe(t, "--store", "redis://"+addr+"/0?prefix="+prefix, "--secret", secret, "--upstream", up.URL)
	res := svGetAsync(s.url+"/slow", "connect.sid="+cookie)
	for started.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	stopped := make(chan int, 1)
	go func() { stopped <- s.stop(t) }()
	// serve is shutting down: it no longer takes connections...
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.stderr.String(), "shutting down") {
		if time.Now().After(deadline) {
			t.Fatal("no shutdown record")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case code := <-stopped:
		t.Fatalf("serve exited %d with a request in flight", code)
	case <-time.After(300 * time.Millisecond):
	}
	close(release) // ...and the request in flight completes.
	r := <-res
	if r.err != nil || r.status != 200 || r.body != "slow answer" {
		t.Fatalf("request in flight: %d %q %v", r.status, r.body, r.err)
	}
	if code := <-stopped; code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestServeFastify: @fastify/session with @fastify/passport on connect-redis,
// its Secure cookie behind a proxy that says the request was HTTPS.
func TestServeFastify(t *testing.T) {
	t.Parallel()
	addr := services.RedisAddr(t)
	prefix := uniq("sbserve-f:") + ":"
	app := nodetest.StartFastifyApp(t, map[string]string{"STORE": "redis", "REDIS_URL": "redis://" + addr, "REDIS_PREFIX": prefix, "TRUST_PROXY": "1"})
	https := http.Header{"X-Forwarded-Proto": {"https"}}
	r := app.DoHeader("POST", "/login", https, map[string]string{"username": "alice", "password": "secret"})
	cookie, ok := r.Cookie("sessionId")
	if r.Status != 200 || !ok {
		t.Fatalf("fastify login: %d %s %q", r.Status, r.Body, r.SetCookie)
	}
	s := svStartServe(t, "--format", "@fastify/session", "--store", "redis://"+addr+"/0?prefix="+prefix, "--secret", secret, "--trust-proxy")
	resp := s.auth(t, "sessionId="+cookie, "X-Forwarded-Proto", "https")
	if resp.StatusCode != 200 || resp.Header.Get("X-Auth-User") != "7" {
		t.Fatalf("fastify session: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := s.auth(t, "connect.sid="+cookie); resp.StatusCode != 401 {
		t.Fatalf("express's cookie name: %d", resp.StatusCode)
	}
	h := https.Clone()
	h.Set("Cookie", "sessionId="+cookie)
	if r := app.DoHeader("POST", "/logout", h, nil); r.Status != 200 {
		t.Fatalf("fastify logout: %d %s", r.Status, r.Body)
	}
	if resp := s.auth(t, "sessionId="+cookie, "X-Forwarded-Proto", "https"); resp.StatusCode != 401 {
		t.Fatalf("after logout: %d", resp.StatusCode)
	}
}

// TestServeCookiePath: the session cookie's path is checked against the
// original request's path, as express-session checks it.
func TestServeCookiePath(t *testing.T) {
	t.Parallel()
	addr := services.RedisAddr(t)
	prefix := uniq("sbserve:") + ":"
	cookie, _ := svSeedRedis(t, addr, prefix, `7`, redisstore.Options{})
	s := svStartServe(t, "--store", "redis://"+addr+"/0?prefix="+prefix, "--secret", secret, "--cookie-path", "/app")
	for _, c := range []struct {
		kv     []string
		status int
	}{
		{[]string{"X-Forwarded-Uri", "/app/x?y=1"}, 200},
		{[]string{"X-Original-URI", "/app"}, 200},
		{[]string{"X-Original-URL", "https://a.example.com/app/z"}, 200},
		{[]string{"X-Forwarded-Uri", "/other"}, 401},
		{[]string{"X-Forwarded-Uri", "/other", "X-Original-URL", "https://a.example.com/app/z", "X-Original-URI", "/app"}, 401},
		{[]string{"X-Forwarded-Uri", "/app", "X-Original-URL", "https://a.example.com/other"}, 200},
		{nil, 401},
	} {
		if resp := s.auth(t, "connect.sid="+cookie, c.kv...); resp.StatusCode != c.status {
			t.Errorf("%v: %d, want %d", c.kv, resp.StatusCode, c.status)
		}
	}
}

// svResult is the answer to a request svGetAsync made.
type svResult struct {
	status int
	body   string
	err    error
}

// svGetAsync sends GET url with the Cookie header in the background and
// delivers the answer on the channel.
func svGetAsync(url, cookie string) <-chan svResult {
	res := make(chan svResult, 1)
	go func() {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Cookie", cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			res <- svResult{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- svResult{resp.StatusCode, string(b), err}
	}()
	return res
}
