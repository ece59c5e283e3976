package main

// Benchmarks of the request → session path, for pprof:
//
//	cd bench && go test -o /tmp/bench.test -run '^$' -bench RequestPath -benchmem -cpuprofile /tmp/cpu.out
//	go tool pprof -top -cum /tmp/bench.test /tmp/cpu.out
//
// BenchmarkRequestPathMemory isolates the library's CPU (no network);
// BenchmarkRequestPathRedis is what a GET /me costs the Go server minus the
// HTTP server itself (skipped when Redis is not reachable).

import (
	"context"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// discard is a ResponseWriter that keeps nothing.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

func benchRequestPath(b *testing.B, st sessionbridge.Store) *fixture {
	f, err := newFixture(1000)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.seed(context.Background(), st); err != nil {
		b.Fatal(err)
	}
	bridge, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{benchSecret}, Store: st})
	if err != nil {
		b.Fatal(err)
	}
	h := bridge.Middleware(meHandler())
	reqs := make([]*http.Request, len(f.headers))
	for i, c := range f.headers {
		reqs[i], _ = http.NewRequest("GET", "http://bench/me", nil)
		reqs[i].Header.Set("Cookie", c)
	}
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.ServeHTTP(w, reqs[i%len(reqs)])
		i++
	}
	return f
}

func BenchmarkRequestPathMemory(b *testing.B) {
	benchRequestPath(b, sessionbridge.NewMemoryStore())
}

func BenchmarkRequestPathRedis(b *testing.B) {
	addr := envOr("REDIS_ADDR", "127.0.0.1:6379")
	if !reachable(addr) {
		nodetest.Unavailable(b, "Redis at "+addr, "bash scripts/services.sh redis")
	}
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()
	f := benchRequestPath(b, redisstore.New(client, redisstore.Options{Prefix: redisPrefix}))
	client.Del(context.Background(), prefixed(redisPrefix, f.ids)...)
}

// TestTouchAfterSaves is a small, short run of the touch section's counted
// runs (not its throughput): on each store, the store server's own figures
// show one write per request with TouchAfter 0, fewer writes with
// TouchAfter, and no session lost either way.
func TestTouchAfterSaves(t *testing.T) {
	cfg := &config{
		root:      "..",
		tmp:       t.TempDir(),
		redisAddr: envOr("REDIS_ADDR", "127.0.0.1:6379"),
		pgURL:     envOr("PG_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"),
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		nodetest.Unavailable(t, "redis-server (on PATH: the test starts its own, to read its INFO alone)", "bash scripts/services.sh redis")
	}
	if !reachable("127.0.0.1:5432") {
		nodetest.Unavailable(t, "PostgreSQL at 127.0.0.1:5432", "bash scripts/services.sh postgres")
	}
	t.Cleanup(stopAll)
	p := touchParams{
		sessions: 20,
		speed:    1,
		run:      1500 * time.Millisecond,
		maxAge:   20 * time.Second,
		afters:   []time.Duration{0, 3 * time.Second},
		thinkMin: 20 * time.Millisecond,
		thinkMax: 80 * time.Millisecond,
		runs:     5,
	}
	if err := p.check(); err != nil {
		t.Fatal(err)
	}
	counts, errs := countAll(context.Background(), cfg, p, touchStores)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s TouchAfter %s: %v", counts[i].store, counts[i].after, err)
		}
	}
	for i := 0; i < len(counts); i += 2 {
		every, lazy := counts[i], counts[i+1]
		for _, c := range []touchCount{every, lazy} {
			t.Logf("%s TouchAfter %s: %d requests, %d writes (%s)", c.store, c.after, c.requests, c.writes, c.detail)
			if c.requests == 0 || c.failed != 0 || c.alive != c.sessions {
				t.Errorf("%s TouchAfter %s: %d requests, %d without their user (first: %s), %d of %d sessions in the store",
					c.store, c.after, c.requests, c.failed, c.firstFail, c.alive, c.sessions)
			}
		}
		if every.writes != every.requests {
			t.Errorf("%s TouchAfter 0: %d writes for %d requests, want one touch per request", every.store, every.writes, every.requests)
		}
		if lazy.writes >= every.writes {
			t.Errorf("%s: %d writes with TouchAfter %s, not fewer than the %d without", lazy.store, lazy.writes, lazy.after, every.writes)
		}
	}
}
