package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// TestHTTPLoaderChecksHeader: with expectHeader the closed-loop generator
// accepts exactly one header with the session's user (with a body of a
// known length or chunked), and counts another session's user, a missing
// header, a duplicated one and a 401 as errors.
func TestHTTPLoaderChecksHeader(t *testing.T) {
	f, err := newFixture(3)
	if err != nil {
		t.Fatal(err)
	}
	byCookie := map[string]string{}
	for i, h := range f.headers {
		byCookie[h] = string(f.users[i])
	}
	for _, c := range []struct {
		name    string
		answer  func(w http.ResponseWriter, user string)
		wantErr string
	}{
		{"right user", func(w http.ResponseWriter, user string) { w.Header().Set(authHeader, user) }, ""},
		{"right user, chunked", func(w http.ResponseWriter, user string) {
			w.Header().Set(authHeader, user)
			w.(http.Flusher).Flush()
			w.Write([]byte("a body in chunks"))
		}, ""},
		{"no header", func(w http.ResponseWriter, user string) { w.Write([]byte(user)) }, "with 0 " + authHeader},
		{"two headers", func(w http.ResponseWriter, user string) {
			w.Header().Add(authHeader, user)
			w.Header().Add(authHeader, user)
		}, "with 2 " + authHeader},
		{"another user", func(w http.ResponseWriter, user string) { w.Header().Set(authHeader, user+" ") }, "want 200"},
		{"401", func(w http.ResponseWriter, user string) {
			w.Header().Set(authHeader, user)
			w.WriteHeader(http.StatusUnauthorized)
		}, "answered 401"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.answer(w, byCookie[r.Header.Get("Cookie")])
			}))
			defer srv.Close()
			want := f.users
			if c.name == "another user" {
				want = [][]byte{f.users[1], f.users[2], f.users[0]}
			}
			l, err := newHTTPLoader(srv.URL, "/auth", 2, f.headers, want)
			if err != nil {
				t.Fatal(err)
			}
			defer l.close()
			l.expectHeader(authHeader)
			st, err := l.run(context.Background(), 50*time.Millisecond)
			switch {
			case c.wantErr == "" && (err != nil || st.ops == 0):
				t.Fatalf("run: %d answers, %v", st.ops, err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("run: %v, want an error with %q", err, c.wantErr)
			}
		})
	}
}

// getAuth sends GET /auth with cookie and returns the status and the
// X-Auth-User header's values.
func getAuth(t *testing.T, url, cookie string) (int, []string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/auth", nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Values(authHeader)
}

// TestAuthEqualWork runs every side of the auth section briefly on a
// redis-server of its own (serve as the built binary, Node's GET /auth,
// the raw side in this process) and checks what the section's tables
// rest on: every answer carries the session's user; serve and Node each
// read the record once and touch it once (EXPIRE) per decision and write
// nothing; the raw side sends exactly serve's commands; touchAfter skips
// the EXPIRE; and both servers refuse a forged cookie and no cookie.
func TestAuthEqualWork(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		nodetest.Unavailable(t, "redis-server (on PATH: the test starts its own, to read its INFO alone)", "bash scripts/services.sh redis")
	}
	if _, err := os.Stat(filepath.Join("node", "node_modules", ".package-lock.json")); err != nil {
		nodetest.Unavailable(t, "bench/node/node_modules", "cd bench/node && npm ci")
	}
	if _, err := exec.LookPath("node"); err != nil {
		nodetest.Unavailable(t, "node", "install Node 20")
	}
	if _, err := exec.LookPath("go"); err != nil {
		nodetest.Unavailable(t, "go on PATH (the test builds cmd/sessionbridge)", "export PATH=$PATH:/usr/local/go/bin")
	}
	ctx := context.Background()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config{root: root, tmp: t.TempDir(), httpConns: 4, sessions: 40}
	t.Cleanup(stopAll)
	bin, err := buildServe(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	client, rp, err := startPrivateRedis(ctx, cfg, "redis-auth-test")
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
	addr := client.Options().Addr
	rounds, err := captureDecision(ctx, addr, f)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a decision's round trips: %s", describeRounds(rounds))
	plan, err := planCPUs(1)
	if err != nil {
		t.Fatal(err)
	}
	h := &httpRun{cfg: cfg, plan: plan, redis: client, f: f, turn: 150 * time.Millisecond, path: "/auth", header: authHeader}

	serveDef := &httpSide{label: "serve"}
	serveTA := &httpSide{label: "serve touchAfter"}
	node := &httpSide{label: "node"}
	raw := &httpSide{label: "raw"}
	if serveDef.p, serveDef.url, err = startServe(ctx, cfg, "auth-test-serve", bin, nil, authStoreURL(addr)); err != nil {
		t.Fatal(err)
	}
	if serveTA.p, serveTA.url, err = startServe(ctx, cfg, "auth-test-serve-ta", bin, nil, authStoreURL(addr)+"&touchAfter=600"); err != nil {
		t.Fatal(err)
	}
	script, _ := filepath.Abs(filepath.Join("node", "http-server.js"))
	if node.p, node.url, err = startServer(ctx, cfg, "auth-test-node", []string{
		"REDIS_URL=redis://" + addr, "PREFIX=" + redisPrefix, "SECRET=" + benchSecret,
		fmt.Sprintf("USERS=%d", cfg.sessions), "MODE=default", "CLUSTER=0"}, "node", script); err != nil {
		t.Fatal(err)
	}
	rawClient := redis.NewClient(&redis.Options{Addr: addr})
	defer rawClient.Close()
	raw.dial = func() (loadDriver, error) { return newAuthRaw(ctx, rawClient, rounds, cfg.httpConns) }

	forged := f.headers[0][:len(f.headers[0])-1] + "A"
	if strings.HasSuffix(f.headers[0], "A") {
		forged = forged[:len(forged)-1] + "B"
	}
	for _, s := range []*httpSide{serveDef, node} {
		for _, c := range []struct{ name, cookie string }{{"forged cookie", forged}, {"no cookie", ""}} {
			if code, users := getAuth(t, s.url, c.cookie); code != http.StatusUnauthorized || len(users) != 0 {
				t.Errorf("%s, %s: answered %d with %s %q, want 401 and none", s.label, c.name, code, authHeader, users)
			}
		}
	}

	for _, s := range []*httpSide{serveDef, serveTA, node, raw} {
		if s.loader, err = h.newDriver(s); err != nil {
			t.Fatalf("%s: %v", s.label, err)
		}
		defer s.loader.close()
		if _, err := h.measure(ctx, s); err != nil {
			t.Fatalf("%s: %v", s.label, err)
		}
		reads, expires, writes, other := s.storeWork()
		t.Logf("%s: %d decisions, %s", s.label, s.ops, s.perRequest())
		wantExpire := 1.0
		if s == serveTA {
			wantExpire = 0
		}
		near := func(x, y float64) bool { return x > y-0.02 && x < y+0.02 }
		if s.ops == 0 || !near(reads, 1) || !near(expires, wantExpire) || writes > 0.02 {
			t.Errorf("%s: reads %.2f, EXPIRE %.2f, writes %.2f (other %.2f) per decision; want 1, %g, 0", s.label, reads, expires, writes, other, wantExpire)
		}
	}
	if eq := equalWork(serveDef, node); !strings.HasPrefix(eq, "yes") {
		t.Errorf("serve vs Node: %s", eq)
	}
	if same, desc := sameCommands(serveDef, raw); !same {
		t.Errorf("serve and the raw side sent different commands: %s", desc)
	}
	if same, _ := sameCommands(serveTA, raw); same {
		t.Errorf("serve with touchAfter sent the raw side's commands, want no EXPIRE")
	}
}
