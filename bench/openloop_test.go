package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// loopServer answers GET /me for cookies "s=<i>" with "user<i>" (wrong
// for the cookie index wrong, when ≥ 0), after stall(now) if not nil.
func loopServer(t *testing.T, wrong int, stall func(now time.Time)) (url string, cookies []string, bodies [][]byte) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stall != nil {
			stall(time.Now())
		}
		var i int
		fmt.Sscanf(r.Header.Get("Cookie"), "s=%d", &i)
		if i == wrong {
			i++
		}
		fmt.Fprintf(w, "user%d", i)
	}))
	t.Cleanup(srv.Close)
	for i := range 10 {
		cookies = append(cookies, fmt.Sprintf("s=%d", i))
		bodies = append(bodies, fmt.Appendf(nil, "user%d", i))
	}
	return srv.URL, cookies, bodies
}

// TestOpenLoopSchedule: rate × duration requests, all answered and checked.
func TestOpenLoopSchedule(t *testing.T) {
	url, cookies, bodies := loopServer(t, -1, nil)
	res, err := openLoop(context.Background(), url, "/me", 8, cookies, bodies, 2000, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sent %d ok %d errs %d in %s: p50 %s p99 %s, send delay p50 %s p99 %s", res.sent, res.ok, res.errs, res.elapsed,
		res.quantile(50), res.quantile(99), res.lagQuantile(50), res.lagQuantile(99))
	if res.sent != 600 || res.ok != 600 || res.errs != 0 || res.lat.TotalCount() != 600 {
		t.Fatalf("sent %d, ok %d, errors %d (%s), recorded %d; want 600 answered", res.sent, res.ok, res.errs, res.firstErr, res.lat.TotalCount())
	}
	// The schedule, not the answers, sets the pace: 600 requests at 2000/s
	// take 300 ms.
	if res.elapsed < 290*time.Millisecond || res.elapsed > 2*time.Second {
		t.Errorf("ran %s, want about 300 ms", res.elapsed)
	}
}

// TestOpenLoopCountsStalls: a server that stops for 150 ms delays every
// request due during the stall, and the latencies say so (a closed loop
// would have recorded one slow request per connection).
func TestOpenLoopCountsStalls(t *testing.T) {
	var once sync.Once
	var first time.Time
	var mu sync.Mutex
	stall := func(now time.Time) {
		once.Do(func() { first = now })
		from, to := first.Add(200*time.Millisecond), first.Add(350*time.Millisecond)
		mu.Lock() // one request at a time, like a stopped event loop
		defer mu.Unlock()
		if now.After(from) && now.Before(to) {
			time.Sleep(time.Until(to))
		}
	}
	url, cookies, bodies := loopServer(t, -1, stall)
	res, err := openLoop(context.Background(), url, "/me", 4, cookies, bodies, 1000, 600*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("p50 %s p90 %s p99 %s, %d errors", res.quantile(50), res.quantile(90), res.quantile(99), res.errs)
	if res.ok != 600 {
		t.Fatalf("%d of 600 answered (%s)", res.ok, res.firstErr)
	}
	// About 150 of the 600 requests were due during the stall, waiting
	// 0–150 ms: the slowest 10% waited at least 90 ms.
	if p90 := res.quantile(90); p90 < 50*time.Millisecond {
		t.Errorf("p90 %s: the stall did not count for the requests due during it", p90)
	}
	if p50 := res.quantile(50); p50 > 50*time.Millisecond {
		t.Errorf("p50 %s: more than the stall's requests were slow", p50)
	}
}

// TestOpenLoopChecksBodies: a wrong user is an error, counted, and the
// run goes on.
func TestOpenLoopChecksBodies(t *testing.T) {
	url, cookies, bodies := loopServer(t, 3, nil)
	res, err := openLoop(context.Background(), url, "/me", 4, cookies, bodies, 1000, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.errs != 20 || res.ok != 180 || !strings.Contains(res.firstErr, `want 200 "user3"`) {
		t.Fatalf("%d ok, %d errors (first: %s); want 180 and 20 for the session answered with another user", res.ok, res.errs, res.firstErr)
	}
}
