package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// get sends GET /me with cookie and returns the status and body.
func get(t *testing.T, url, cookie string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/me", nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestMeServers: each Go server of the http section answers a session's
// cookie with that session's user, exactly the bytes the load generator
// expects (and Node sends), and refuses a forged cookie, no cookie, and a
// session whose user is not in the table (deserializeUser: false).
func TestMeServers(t *testing.T) {
	const n = 20
	f, err := newFixture(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range httpServeModes {
		t.Run(mode, func(t *testing.T) {
			st := sessionbridge.NewMemoryStore()
			if err := f.seed(context.Background(), st); err != nil {
				t.Fatal(err)
			}
			h, err := meMux(mode, st, n-1, time.Minute) // user n-1 is not in the table
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			l, err := newHTTPLoader(srv.URL, "/me", 1, f.headers, f.users)
			if err != nil {
				t.Fatal(err)
			}
			defer l.close()
			for i := range n - 1 {
				if err := l.conns[0].do(i); err != nil {
					t.Fatalf("session %d: %v", i, err)
				}
			}
			// The signature's last character changed.
			forged := f.headers[0][:len(f.headers[0])-1] + "A"
			if strings.HasSuffix(f.headers[0], "A") {
				forged = forged[:len(forged)-1] + "B"
			}
			for _, c := range []struct{ name, cookie string }{
				{"forged cookie", forged},
				{"no cookie", ""},
				{"user not in the table", f.headers[n-1]},
			} {
				if code, body := get(t, srv.URL, c.cookie); code != http.StatusUnauthorized {
					t.Errorf("%s: answered %d %q, want 401", c.name, code, body)
				}
			}
		})
	}
}

// TestHTTPLoaderChecksUser: an answer with another session's user is an
// error of the closed-loop generator.
func TestHTTPLoaderChecksUser(t *testing.T) {
	f, err := newFixture(3)
	if err != nil {
		t.Fatal(err)
	}
	st := sessionbridge.NewMemoryStore()
	if err := f.seed(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	h, err := meMux("http", st, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	shifted := [][]byte{f.users[1], f.users[2], f.users[0]}
	l, err := newHTTPLoader(srv.URL, "/me", 2, f.headers, shifted)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	if _, err := l.run(context.Background(), 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "want 200") {
		t.Fatalf("run with the wrong users: %v, want a wrong-answer error", err)
	}
}

// TestHTTPEqualWork runs every server of the http section (Go in this
// process, Node as in the section, the cluster included) briefly on a
// redis-server of its own and checks the store commands per request the
// section's table shows: the pairs do equal work (read-only: one read;
// default: one read and one EXPIRE), and TouchAfter skips the EXPIRE.
func TestHTTPEqualWork(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		nodetest.Unavailable(t, "redis-server (on PATH: the test starts its own, to read its INFO alone)", "bash scripts/services.sh redis")
	}
	if _, err := os.Stat(filepath.Join("node", "node_modules", ".package-lock.json")); err != nil {
		nodetest.Unavailable(t, "bench/node/node_modules", "cd bench/node && npm ci")
	}
	if _, err := exec.LookPath("node"); err != nil {
		nodetest.Unavailable(t, "node", "install Node 20")
	}
	ctx := context.Background()
	cfg := &config{root: "..", tmp: t.TempDir(), httpConns: 4, sessions: 50}
	t.Cleanup(stopAll)
	client, rp, err := startPrivateRedis(ctx, cfg, "redis-http-test")
	if err != nil {
		t.Fatal(err)
	}
	defer rp.stop()
	defer client.Close()
	f, err := newFixture(cfg.sessions)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.seed(ctx, redisstore.New(client, redisstore.Options{Prefix: redisPrefix})); err != nil {
		t.Fatal(err)
	}
	plan, err := planCPUs(1)
	if err != nil {
		t.Fatal(err)
	}
	h := &httpRun{cfg: cfg, plan: plan, redis: client, f: f, turn: 150 * time.Millisecond}

	sides := map[string]*httpSide{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for _, mode := range httpServeModes {
		st := redisstore.New(client, redisstore.Options{Prefix: redisPrefix})
		hd, err := meMux(mode, st, cfg.sessions, httpTouchAfter)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: hd}
		go srv.Serve(ln)
		defer srv.Close()
		sides["go "+mode] = &httpSide{label: "go " + mode, url: "http://" + ln.Addr().String(), cpus: []int{0}}
	}
	script, _ := filepath.Abs(filepath.Join("node", "http-server.js"))
	for _, x := range []struct {
		name, mode string
		workers    int
	}{{"node readonly", "readonly", 0}, {"node default", "default", 0}, {"node cluster", "default", 1}} {
		wg.Go(func() {
			p, url, err := startServer(ctx, cfg, "test-"+strings.ReplaceAll(x.name, " ", "-"), []string{
				"REDIS_URL=redis://" + client.Options().Addr, "PREFIX=" + redisPrefix, "SECRET=" + benchSecret,
				fmt.Sprintf("USERS=%d", cfg.sessions), "MODE=" + x.mode, fmt.Sprintf("CLUSTER=%d", x.workers)}, "node", script)
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			sides[x.name] = &httpSide{label: x.name, p: p, url: url, cpus: []int{0}}
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for name, s := range sides {
		if s.loader, err = newHTTPLoader(s.url, "/me", cfg.httpConns, f.headers, f.users); err != nil {
			t.Fatal(err)
		}
		defer s.loader.close()
		if _, err := h.measure(ctx, s); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		reads, expires, writes, other := s.storeWork()
		t.Logf("%s: %d requests, %s", name, s.ops, s.perRequest())
		wantExpire := 0.0
		if name == "go http-save" || strings.HasPrefix(name, "node default") || name == "node cluster" {
			wantExpire = 1
		}
		near := func(x, y float64) bool { return x > y-0.02 && x < y+0.02 }
		if s.ops == 0 || !near(reads, 1) || !near(expires, wantExpire) || writes > 0.02 {
			t.Errorf("%s: reads %.2f, EXPIRE %.2f, writes %.2f (other %.2f) per request; want 1, %g, 0", name, reads, expires, writes, other, wantExpire)
		}
	}
	for _, pair := range [][2]string{{"go http", "node readonly"}, {"go http-save", "node default"}, {"go http-save", "node cluster"}} {
		if eq := equalWork(sides[pair[0]], sides[pair[1]]); !strings.HasPrefix(eq, "yes") {
			t.Errorf("%s vs %s: %s", pair[0], pair[1], eq)
		}
	}
	if eq := equalWork(sides["go http-touchafter"], sides["node default"]); strings.HasPrefix(eq, "yes") {
		t.Errorf("TouchAfter vs Node default: %s, want the EXPIRE skipped", eq)
	}
}

// TestCommandCalls parses INFO commandstats.
func TestCommandCalls(t *testing.T) {
	info := "# Commandstats\r\ncmdstat_get:calls=12,usec=30,usec_per_call=2.50,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_expire:calls=5,usec=9\r\ncmdstat_info:calls=3,usec=1\r\ncmdstat_client|setinfo:calls=2,usec=1\r\n"
	got := commandCalls(info)
	if len(got) != 3 || got["GET"] != 12 || got["EXPIRE"] != 5 || got["CLIENT|SETINFO"] != 2 {
		t.Fatalf("commandCalls = %v", got)
	}
}
