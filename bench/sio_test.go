package main

// Invariants of the sio and memory sections, never speed: every load
// client counts a connection only when the server names the cookie's own
// user, forged cookies are refused by every server with authorization
// (and the checks catch a server that accepts them), and the memory
// server tracks what it holds.

import (
	"context"
	"encoding/json"
	"math"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// sioFixture seeds n sessions in Redis for a test.
func sioFixture(t *testing.T, n int) (*config, *fixture) {
	t.Helper()
	cfg := &config{root: "..", tmp: t.TempDir(), redisAddr: envOr("REDIS_ADDR", "127.0.0.1:6379")}
	if !reachable(cfg.redisAddr) {
		nodetest.Unavailable(t, "Redis at "+cfg.redisAddr, "bash scripts/services.sh redis")
	}
	f, err := newFixture(n)
	if err != nil {
		t.Fatal(err)
	}
	cleanup, err := seedRedis(context.Background(), cfg, f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	t.Cleanup(stopAll)
	return cfg, f
}

// goSioTestServer serves sioServer in this process.
func goSioTestServer(t *testing.T, cfg *config, auth bool) string {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: cfg.redisAddr})
	t.Cleanup(func() { client.Close() })
	bridge, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{benchSecret},
		Store: redisstore.New(client, redisstore.Options{Prefix: redisPrefix})})
	if err != nil {
		t.Fatal(err)
	}
	h, shutdown, err := sioServer(bridge, auth)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { shutdown(); srv.Close() })
	return srv.URL
}

func TestSioEntries(t *testing.T) {
	f, err := newFixture(100)
	if err != nil {
		t.Fatal(err)
	}
	cookies, users := sioEntries(f, sioForgedEvery)
	forged := 0
	for k, c := range cookies {
		if users[k] >= 0 {
			if c != f.headers[users[k]] {
				t.Fatalf("entry %d: cookie of another session", k)
			}
			continue
		}
		forged++
		// The previous entry is the real cookie of the same session.
		real := cookies[k-1]
		if len(c) != len(real) || c == real {
			t.Errorf("forged %q vs real %q: not the same length, or not forged", c, real)
		}
		value := strings.TrimPrefix(c[strings.Index(c, cookieName+"="):], cookieName+"=")
		if _, err := f.signer.Unsign(strings.TrimPrefix(strings.ReplaceAll(value, "%3A", ":"), "s:")); err == nil {
			t.Errorf("forged cookie %q verifies", c)
		}
		if !strings.Contains(c, f.ids[users[k-1]]) {
			t.Errorf("forged cookie %q does not carry the real session id", c)
		}
	}
	if want := len(cookies) / sioForgedEvery; forged != want {
		t.Errorf("%d forged of %d, want %d", forged, len(cookies), want)
	}
}

// TestSioGoClientsCheckUsers runs both Go load clients against the Go
// servers with and without socketauth, and shows that the checks catch a
// wrong user and an accepted forged cookie.
func TestSioGoClientsCheckUsers(t *testing.T) {
	cfg, f := sioFixture(t, 40)
	t.Setenv("USERS", "40")
	authURL, baseURL := goSioTestServer(t, cfg, true), goSioTestServer(t, cfg, false)
	cookies, users := sioEntries(f, 5)
	ctx := context.Background()
	for _, kind := range []string{"raw", "zishang520"} {
		c, err := newGoSioClient(kind)
		if err != nil {
			t.Fatal(err)
		}
		c.timeout = time.Second // a lost handshake (zishang520) stalls a loop that long
		if _, err := c.handle(ctx, sioCommand{Cookies: cookies, Users: users, Concurrency: 4}); err != nil {
			t.Fatal(err)
		}
		// The zishang520 client loses about one handshake in 1,500 on
		// its own (see newGoSioClient): those count as failures of the
		// client, which the harness does not use then.
		tolerate := func(r sioResult, auth bool) sioResult {
			probe := r
			if !auth {
				probe.ForgedAccepted = 0 // the baseline accepts forged cookies by design
			}
			if n := probe.clientFailures(); kind == "zishang520" && n > 0 {
				t.Logf("%s: %d handshakes failed on the client", kind, n)
				r.Errors = nil
			}
			return r
		}
		r := tolerate(c.run(ctx, authURL, 300*time.Millisecond, true), true)
		t.Logf("%s, socketauth: %+v", kind, counts(r))
		if err := r.check(true); err != nil || r.Accepted == 0 || r.ForgedRefused == 0 {
			t.Errorf("%s client against socketauth: %v (%+v)", kind, err, counts(r))
		}
		r = tolerate(c.run(ctx, baseURL, 300*time.Millisecond, false), false)
		if err := r.check(false); err != nil || r.Accepted == 0 || r.ForgedAccepted == 0 {
			t.Errorf("%s client against the baseline: %v (%+v)", kind, err, counts(r))
		}
		// The negative control fails a server that accepts forged cookies.
		// Every fifth cookie is forged: on a loaded machine a short run may
		// not reach one, so run until one was tried (or five runs).
		var ctl sioResult
		for i := 0; i < 5 && ctl.ForgedAccepted+ctl.ForgedRefused == 0; i++ {
			ctl = c.run(ctx, baseURL, 200*time.Millisecond<<i, true)
		}
		if ctl.ForgedAccepted == 0 || ctl.check(true) == nil {
			t.Errorf("%s client: a server accepting forged cookies passed (%+v)", kind, counts(ctl))
		}
	}
	// A client told that each cookie belongs to the next user: every
	// connection must be counted as the wrong user.
	c, _ := newGoSioClient("raw")
	shifted := make([]int, len(users))
	for k, u := range users {
		shifted[k] = u
		if u >= 0 {
			shifted[k] = (u + 1) % len(f.ids)
		}
	}
	c.handle(ctx, sioCommand{Cookies: cookies, Users: shifted, Concurrency: 2})
	r := c.run(ctx, authURL, 100*time.Millisecond, true)
	if r.Accepted != 0 || r.WrongUser == 0 || r.check(true) == nil {
		t.Errorf("wrong users not caught: %+v", counts(r))
	}
}

func counts(r sioResult) map[string]any {
	return map[string]any{"attempts": r.Attempts, "accepted": r.Accepted, "wrong": r.WrongUser, "refused": r.Refused,
		"forgedRefused": r.ForgedRefused, "forgedAccepted": r.ForgedAccepted, "errors": r.Errors, "refusals": r.Refusals}
}

// TestSioNodeServer runs the Node server with passport against the Node
// load client and the raw Go client (whose refusal on a closed upgrade is
// Node's 401), through the harness's own process code.
func TestSioNodeServer(t *testing.T) {
	cfg, f := sioFixture(t, 40)
	if _, err := exec.LookPath("node"); err != nil {
		nodetest.Unavailable(t, "node", "install Node 20")
	}
	if _, err := nodeScript(cfg, "sio-client.js"); err != nil {
		nodetest.Unavailable(t, "bench/node/node_modules", "cd bench/node && npm ci")
	}
	root, _ := filepath.Abs("..")
	cfg.root = root
	ctx := context.Background()
	p, url, err := startSioServer(ctx, cfg, sioServers[2], "node-sio-test", len(f.ids), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	cookies, users := sioEntries(f, 5)
	clients, err := startSioClients(ctx, cfg, "node", 1, 4, nil, cookies, users)
	if err != nil {
		t.Fatal(err)
	}
	defer clients.close()
	r, err := clients.run(ctx, url, 500*time.Millisecond, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("node client: %+v", counts(r))
	if err := r.check(true); err != nil || r.Accepted == 0 || r.ForgedRefused == 0 {
		t.Errorf("node client against the Node server: %v (%+v)", err, counts(r))
	}
	c, _ := newGoSioClient("raw")
	c.handle(ctx, sioCommand{Cookies: cookies, Users: users, Concurrency: 4})
	r = c.run(ctx, url, 300*time.Millisecond, true)
	t.Logf("raw client: %+v", counts(r))
	if err := r.check(true); err != nil || r.Accepted == 0 || r.ForgedRefused == 0 {
		t.Errorf("raw client against the Node server: %v (%+v)", err, counts(r))
	}
}

// TestSioMemoryServerTracks holds sockets on the memory section's server
// with socketauth and the Tracker, and reads them back from /debug/heap.
func TestSioMemoryServerTracks(t *testing.T) {
	cfg, f := sioFixture(t, 20)
	t.Setenv("USERS", "20")
	t.Setenv("SIO_TRACKER", "1")
	url := goSioTestServer(t, cfg, true)
	cookies, users := sioEntries(f, 0)
	c, _ := newGoSioClient("raw")
	ctx := context.Background()
	c.handle(ctx, sioCommand{Cookies: cookies, Users: users, Concurrency: 4})
	r := c.hold(ctx, url, len(cookies), true)
	if err := r.check(true); err != nil || r.Held != len(cookies) {
		t.Fatalf("held %d of %d: %v", r.Held, len(cookies), err)
	}
	h, err := heap(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if h.Sockets != len(cookies) || h.Tracked != len(cookies) || h.HeapAlloc == 0 {
		t.Errorf("/debug/heap: %+v, want %d sockets and tracked connections", h, len(cookies))
	}
	c.release()
	deadline := time.Now().Add(5 * time.Second)
	for h.Tracked != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		h, _ = heap(ctx, url)
	}
	if h.Tracked != 0 || h.Sockets != 0 {
		t.Errorf("after release: %+v", h)
	}
}

func TestFiellerRatio(t *testing.T) {
	b := []float64{100, 120, 90, 110, 105, 95}
	a := make([]float64, len(b))
	for i := range b {
		a[i] = 0.25*b[i] + float64(i%2*2-1) // ±1 around a quarter
	}
	r := fiellerRatio(a, b)
	if !(r.lo < 0.25 && 0.25 < r.hi) || r.hi-r.lo > 0.1 || math.Abs(r.median-0.25) > 0.01 {
		t.Errorf("ratio %v, want about 0.25 with a tight interval", r)
	}
	if v := verdictCI(r, 1.0/3, false); v != "met" {
		t.Errorf("verdict %q, want met", v)
	}
	// A denominator indistinguishable from 0: unbounded, inconclusive.
	r = fiellerRatio(a, []float64{5, -5, 4, -4, 1, -1})
	if !math.IsInf(r.hi, 1) || verdictCI(r, 1.0/3, false) != "inconclusive" {
		t.Errorf("ratio over noise around 0: %v", r)
	}
}

func TestMemoryVerdict(t *testing.T) {
	details := [2][]string{{"a", "b", "c", "d", "e"}, {"a", "b", "c", "d", "e"}}
	base := []float64{25000, 25010, 24990, 25005, 24995}
	for _, c := range []struct {
		name  string
		delta []float64
		want  string
	}{
		{"clearly below", []float64{500, 510, 490, 505, 495}, "| met |"},
		{"clearly above", []float64{1400, 1410, 1390, 1405, 1395}, "**not met**"},
		{"straddling", []float64{300, 1800, 900, 1500, 100}, "| inconclusive |"},
		{"insignificant, below 1 KiB", []float64{-50, 40, -20, 30, 0}, "| met |"},
		{"negative", []float64{-500, -510, -490, -505, -495}, "inconclusive (the whole interval is negative"},
	} {
		with := make([]float64, len(base))
		for i := range base {
			with[i] = base[i] + c.delta[i]
		}
		got := memoryTable(100, cpuPlan{}, with, base, details).Footer
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: %s, want %q", c.name, got, c.want)
		}
	}
}

// The load clients' protocol lines are what sio-client.js reads.
func TestSioCommandJSON(t *testing.T) {
	b, _ := json.Marshal(sioCommand{Run: "http://x", Ms: 5, Auth: true})
	if string(b) != `{"run":"http://x","ms":5,"auth":true}` {
		t.Errorf("run command %s", b)
	}
}
