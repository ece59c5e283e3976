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
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
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
	if c, err := net.DialTimeout("tcp", addr, time.Second); err != nil {
		b.Skipf("no Redis at %s (make services)", addr)
	} else {
		c.Close()
	}
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()
	f := benchRequestPath(b, redisstore.New(client, redisstore.Options{Prefix: redisPrefix}))
	client.Del(context.Background(), prefixed(redisPrefix, f.ids)...)
}
