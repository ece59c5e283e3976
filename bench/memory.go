package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
)

// benchMemory measures the live heap per connected, authorized socket on
// the Go socket.io server with socketauth (Middleware + a Tracker running
// Tracker.Run) and without it (no middleware: every socket accepted): N
// sessions, one socket each, held open by one load client; a fresh server
// per run, the two kinds alternating; the difference per socket is what
// socketauth costs.
func benchMemory(ctx context.Context, cfg *config) ([]table, error) {
	plan := cfg.plan
	if len(plan.all) == 0 {
		var err error
		if plan, err = planCPUs(1); err != nil {
			return nil, err
		}
	}
	n := cfg.memSockets
	f, err := newFixture(n)
	if err != nil {
		return nil, err
	}
	cleanup, err := seedRedis(ctx, cfg, f)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	cookies, users := sioEntries(f, 0)
	clients, err := startSioClients(ctx, cfg, "raw", 1, 32, plan.rest, cookies, users)
	if err != nil {
		return nil, err
	}
	defer clients.close()

	var details [2][]string
	side := func(auth bool) func(rep int) (float64, error) {
		return func(rep int) (float64, error) {
			per, detail, err := memoryRun(ctx, cfg, clients, plan, n, auth, rep)
			if err != nil {
				return 0, err
			}
			i := 0
			if auth {
				i = 1
			}
			details[i] = append(details[i], detail)
			logf("memory (socketauth %v, run %d): %.0f B/socket (%s)", auth, rep+1, per, detail)
			return per, nil
		}
	}
	with, without, err := alternate(cfg.reps, side(true), side(false))
	if err != nil {
		return nil, err
	}
	return []table{memoryTable(n, plan, with, without, details)}, nil
}

// memoryRun starts a server, warms it up, and measures the heap before and
// after n sockets connected; it returns the heap per socket.
func memoryRun(ctx context.Context, cfg *config, clients *sioClients, plan cpuPlan, n int, auth bool, rep int) (float64, string, error) {
	k := sioServers[1] // Go without authorization
	var env []string
	if auth {
		k = sioServers[0]
		env = []string{"SIO_TRACKER=1"}
	}
	p, url, err := startSioServer(ctx, cfg, k, fmt.Sprintf("mem-%s-%d", k.key, rep), n, plan.server, env)
	if err != nil {
		return 0, "", err
	}
	defer p.stop()
	// Warm up: connects and disconnects, so that the code paths, pools
	// and the Redis connections are set up before the first heap reading
	// (but no map is grown to n sockets in advance).
	warm, err := clients.run(ctx, url, 200*time.Millisecond, auth)
	if err == nil {
		err = warm.check(auth)
	}
	if err != nil {
		return 0, "", fmt.Errorf("warm-up: %w", err)
	}
	before, err := heap(ctx, url)
	if err != nil {
		return 0, "", err
	}
	held, err := clients.hold(ctx, url, n, auth)
	if err == nil {
		err = held.check(auth)
	}
	if err == nil && held.Held != n {
		err = fmt.Errorf("held %d of %d sockets", held.Held, n)
	}
	if err != nil {
		return 0, "", err
	}
	after, err := heap(ctx, url)
	if err != nil {
		return 0, "", err
	}
	if err := clients.release(ctx); err != nil {
		return 0, "", err
	}
	if after.Sockets != n {
		return 0, "", fmt.Errorf("the server had %d sockets connected, want %d", after.Sockets, n)
	}
	if auth && after.Tracked != n {
		return 0, "", fmt.Errorf("the Tracker had %d connections, want %d", after.Tracked, n)
	}
	per := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(n)
	detail := fmt.Sprintf("heap %s → %s, stacks %s → %s, goroutines %d → %d", kib(float64(before.HeapAlloc)), kib(float64(after.HeapAlloc)),
		kib(float64(before.StackInuse)), kib(float64(after.StackInuse)), before.Goroutines, after.Goroutines)
	return per, detail, nil
}

// memoryTable is the memory section's table.
func memoryTable(n int, plan cpuPlan, with, without []float64, details [2][]string) table {
	diffs := make([]float64, len(with))
	for i := range with {
		diffs[i] = with[i] - without[i]
	}
	m, h := meanCI(diffs)
	d := ratioStats{median: median(with) - median(without), mean: m, lo: m - h, hi: m + h, n: len(diffs)}
	if math.IsNaN(h) {
		d.lo, d.hi = math.Inf(-1), math.Inf(1)
	}
	result := verdictCI(d, 1024, false)
	if d.n >= minReps && d.hi < 0 {
		result = "inconclusive (the whole interval is negative: socketauth cannot free the server's memory, so the measurement is off)"
	}
	row := func(name string, xs []float64, det []string) []string {
		lo, med, hi := spread(xs)
		// The detail of the run closest to the median.
		best := 0
		for i, x := range xs {
			if math.Abs(x-med) < math.Abs(xs[best]-med) {
				best = i
			}
		}
		return []string{name, fmt.Sprintf("%.0f B", med), fmt.Sprintf("%.0f – %.0f B", lo, hi), fmt.Sprint(len(xs)), det[best]}
	}
	t := table{
		Title: sectionTitles["memory"],
		Note: fmt.Sprintf("Live heap (`runtime.ReadMemStats` HeapAlloc after two `runtime.GC()`) of the Go socket.io server (zishang520 v3.0.6, pinned to CPU %s) "+
			"before and after **%d sessions held one socket each** (%d sockets, each accepted as its own user: the load client checks the user the server "+
			"names, and the server's counts of connected sockets and tracked connections are checked too), divided by %d. "+
			"**With socketauth**: `socketauth/socketio.Middleware` with `Options.Tracker` (a `socketauth.Tracker` running `Tracker.Run`), "+
			"`Config.Deserialize` from an in-memory user table, each socket in its user's room. **Without**: no middleware, every socket accepted. "+
			"Both emit the socket's user on connection. A fresh server per run, after a 200 ms warm-up of connects and disconnects (which grows no map "+
			"to %d sockets in advance); %d runs per side, the two sides alternating. The load client is the raw Go client (one process, pinned to CPU %s). "+
			"Goroutine stacks are not heap and are not counted (the detail column shows them).",
			cpuList(plan.server), n, n, n, n, len(with), cpuList(plan.rest)),
		Header: []string{"Go server", "heap per socket (median)", "spread (min – max)", "runs", "detail (median run)"},
		Rows: [][]string{
			row("without socketauth", without, details[0]),
			row("with socketauth + Tracker", with, details[1]),
		},
		Footer: fmt.Sprintf("| attributable to socketauth, per socket | 95%% CI (paired runs) | target | result |\n|---|---|---|---|\n| %.0f B | [%.0f, %.0f] B | ≤ 1024 B | %s |\n\n"+
			"The attributable heap is the difference of the medians; its interval is the Student t interval of the mean of the per-run differences. "+
			"The target is met only when the whole interval lies below 1 KiB; an interval that reaches above it is inconclusive.",
			d.median, d.lo, d.hi, result),
	}
	if plan.note != "" {
		t.Note += " **Note:** " + plan.note + "."
	}
	return t
}

type heapStats struct {
	HeapAlloc  uint64 `json:"heapAlloc"`
	StackInuse uint64 `json:"stackInuse"`
	Goroutines int    `json:"goroutines"`
	Sockets    int    `json:"sockets"`
	Tracked    int    `json:"tracked"`
}

func heap(ctx context.Context, base string) (heapStats, error) {
	var h heapStats
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/debug/heap", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&h)
	return h, err
}

func kib(b float64) string { return strings.TrimSuffix(fmt.Sprintf("%.1f", b/1024), ".0") + " KiB" }
