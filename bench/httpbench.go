package main

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// The http section: GET /me on a Go server and on the Node app (express 5
// + express-session + connect-redis + passport), with equal work on both
// sides, in pairs:
//
//	read-only  Go Bridge.Middleware        vs Node, connect-redis disableTouch: true
//	default    Go Bridge.LoadAndSave       vs Node as configured by default (touches)
//	           Go LoadAndSave              vs Node cluster (node:cluster), same cores
//	           Go LoadAndSave + TouchAfter vs Node default (for information)
//
// Both deserialize the passport user from an in-memory table and marshal
// it to JSON. Every server runs on the cores of cfg.plan.server (Go with
// GOMAXPROCS = that many; one Node process per core, or the cluster); the
// load generator (in the harness), the Redis server and the harness run on
// cfg.plan.rest. Redis is a redis-server of the section's own, so that its
// INFO commandstats counts the commands of the server under load alone:
// the table shows each side's commands per request.
//
// Throughput: closed loop (httpLoader, cfg.httpConns connections), the
// two sides of a comparison in cfg.reps alternating turns (alternate),
// paired ratio of requests/s per core with its 95% CI. Latency: open loop
// (openLoop) at 50% and 80% of the slower side's capacity, the same rate
// for both sides.

// httpTouchAfter is the TouchAfter of the information row.
const httpTouchAfter = 10 * time.Minute

// httpSide is one server of the section and what its measured turns added
// up to.
type httpSide struct {
	label  string // row name
	work   string // what it does per request
	p      *proc
	url    string
	cpus   []int // the CPUs it runs on
	loader loadDriver
	// dial, when set, makes the side's driver (a side that is not an HTTP
	// server); otherwise it is an HTTP loader on url (httpRun.newDriver).
	dial func() (loadDriver, error)

	rates          []float64 // requests/s per core, per measured turn
	ops            int64
	elapsed        time.Duration
	cpu            time.Duration // CPU time of the server's processes
	share          []float64     // the server's own CPU time over the turn's wall time and its CPUs, per turn
	busy, restBusy []float64     // share of its CPUs / of plan.rest busy (all processes), per turn
	cmds           map[string]int64
}

// loadDriver sends a side its load for a turn, closed loop, and counts what
// was completed: an httpLoader, or a side's own (httpSide.dial).
type loadDriver interface {
	run(ctx context.Context, d time.Duration) (loadStats, error)
	close()
}

// httpRun is the section's shared state.
type httpRun struct {
	cfg   *config
	plan  cpuPlan
	redis *redis.Client // the section's own redis-server
	f     *fixture
	turn  time.Duration
	reps  int
	// path is what the HTTP loaders GET ("/me" when empty); with header
	// set they check that response header, not the body, against the
	// session's user.
	path, header string
}

// httpComparison is one paired comparison (a: Go, b: Node).
type httpComparison struct {
	name   string
	a, b   *httpSide
	r      ratioStats
	target float64 // 0: for information
	note   string
}

// httpLatency is one open-loop run.
type httpLatency struct {
	pair string
	frac float64 // of the slower side's capacity
	side *httpSide
	res  openLoopResult // the runs merged
	cpu  time.Duration  // the server's CPU time during the runs
	wall time.Duration
	// busy is how busy the server's CPUs were (all processes), weighted by
	// run length.
	busy float64
}

// share is the server's share of its CPUs during the runs.
func (l httpLatency) share() float64 {
	return l.cpu.Seconds() / l.wall.Seconds() / float64(len(l.side.cpus))
}

func benchHTTP(ctx context.Context, cfg *config) ([]table, error) {
	plan := cfg.plan
	if len(plan.server) == 0 {
		var err error
		if plan, err = planCPUs(1); err != nil {
			return nil, err
		}
	}
	h := &httpRun{cfg: cfg, plan: plan, turn: cfg.duration, reps: max(cfg.reps, 2)}
	// The section's own Redis, started from the harness, which runs on
	// plan.rest: the redis-server inherits that affinity.
	client, rp, err := startPrivateRedis(ctx, cfg, "redis-http")
	if err != nil {
		return nil, err
	}
	defer rp.stop()
	defer client.Close()
	h.redis = client
	if h.f, err = newFixture(cfg.sessions); err != nil {
		return nil, err
	}
	if err := h.f.seed(ctx, redisstore.New(client, redisstore.Options{Prefix: redisPrefix})); err != nil {
		return nil, err
	}
	script, err := nodeScript(cfg, "http-server.js")
	if err != nil {
		return nil, err
	}
	addr := client.Options().Addr
	n := len(plan.server)
	goEnv := []string{fmt.Sprintf("USERS=%d", cfg.sessions)}
	nodeEnv := func(mode string, workers int) []string {
		return []string{"REDIS_URL=redis://" + addr, "PREFIX=" + redisPrefix, "SECRET=" + benchSecret,
			fmt.Sprintf("USERS=%d", cfg.sessions), "NODE_ENV=production", "MODE=" + mode, fmt.Sprintf("CLUSTER=%d", workers)}
	}
	var sides []*httpSide
	defer func() {
		for _, s := range sides {
			if s.loader != nil {
				s.loader.close()
			}
			s.p.stop()
		}
	}()
	start := func(s *httpSide, goArgs []string, env []string) error {
		var err error
		name := "http-" + strings.NewReplacer(" ", "-", "`", "", "(", "", ")", "", ",", "").Replace(strings.ToLower(s.label))
		if goArgs != nil {
			s.p, s.url, err = startGoServerOn(ctx, cfg, name, s.cpus, append(slices.Clone(goEnv), env...), append(goArgs, "-redis", addr)...)
		} else {
			s.p, s.url, err = startServer(ctx, cfg, name, env, pinned(s.cpus, "node", script)...)
		}
		if err != nil {
			return err
		}
		sides = append(sides, s)
		// Warm up (Node's JIT, Go's pools), every answer checked.
		return h.warm(ctx, s)
	}
	goRO := &httpSide{label: "Go, read-only", work: "`Bridge.Middleware` (load only)", cpus: plan.server}
	goLS := &httpSide{label: "Go, express-session lifecycle", work: "`Bridge.LoadAndSave` (express-session's decisions: touch)", cpus: plan.server}
	goTA := &httpSide{label: "Go, lifecycle + TouchAfter", work: fmt.Sprintf("`Bridge.LoadAndSave`, `TouchAfter` %s", simDur(httpTouchAfter)), cpus: plan.server}
	nodeRO := &httpSide{label: "Node, read-only", work: "express-session, connect-redis `disableTouch: true`", cpus: plan.server[:1]}
	nodeDef := &httpSide{label: "Node, default", work: "express-session as configured by default (connect-redis touches)", cpus: plan.server[:1]}
	nodeCl := &httpSide{label: fmt.Sprintf("Node, default, cluster ×%d", n), work: fmt.Sprintf("as Node default, `node:cluster` with %d worker(s)", n), cpus: plan.server}
	for _, x := range []struct {
		s    *httpSide
		args []string
		env  []string
	}{
		{goLS, []string{"-serve", "http-save"}, nil},
		{nodeDef, nil, nodeEnv("default", 0)},
		{goRO, []string{"-serve", "http"}, nil},
		{nodeRO, nil, nodeEnv("readonly", 0)},
		{nodeCl, nil, nodeEnv("default", n)},
		{goTA, []string{"-serve", "http-touchafter"}, []string{"TOUCH_AFTER=" + httpTouchAfter.String()}},
	} {
		if err := start(x.s, x.args, x.env); err != nil {
			return nil, err
		}
	}

	comps := []*httpComparison{
		{name: "**default (headline)**: Go `LoadAndSave` vs Node default, one process per core", a: goLS, b: nodeDef, target: 5},
		{name: "read-only: Go `Middleware` vs Node `disableTouch`", a: goRO, b: nodeRO},
		{name: fmt.Sprintf("default: Go `LoadAndSave` vs Node cluster (%d worker(s) on the same cores)", n), a: goLS, b: nodeCl},
		{name: fmt.Sprintf("Go `LoadAndSave` + `TouchAfter` %s vs Node default", simDur(httpTouchAfter)), a: goTA, b: nodeDef,
			note: "not equal work: TouchAfter skips the EXPIRE"},
	}
	for _, c := range comps {
		if err := h.compare(ctx, c); err != nil {
			return nil, err
		}
	}

	pairs := []*httpComparison{comps[0], comps[1]}
	if cfg.quick {
		pairs = pairs[:1]
	}
	var lats []httpLatency
	for _, c := range pairs {
		capacity := min(median(c.a.rates)*float64(len(c.a.cpus)), median(c.b.rates)*float64(len(c.b.cpus)))
		for _, s := range []*httpSide{c.a, c.b} {
			if err := h.warm(ctx, s); err != nil {
				return nil, err
			}
		}
		for _, frac := range []float64{0.5, 0.8} {
			// Two runs per side, A B B A, merged: drift falls on both alike.
			var got [2]httpLatency
			_, _, err := alternate(2,
				func(int) (float64, error) { return 0, h.openLoop(ctx, c.a, frac*capacity, &got[0]) },
				func(int) (float64, error) { return 0, h.openLoop(ctx, c.b, frac*capacity, &got[1]) })
			if err != nil {
				return nil, err
			}
			for i := range got {
				got[i].pair, got[i].frac = c.name, frac
				r := got[i].res
				logf("%s at %s req/s: p50 %s p99 %s p99.9 %s, %d errors", got[i].side.label, si(r.rate),
					ms(r.quantile(50)), ms(r.quantile(99)), ms(r.quantile(99.9)), r.errs)
			}
			lats = append(lats, got[0], got[1])
		}
	}
	return h.tables(comps, lats, []*httpSide{goRO, nodeRO, goLS, nodeDef, nodeCl, goTA}), nil
}

// compare runs c's two sides in h.reps alternating turns.
func (h *httpRun) compare(ctx context.Context, c *httpComparison) error {
	for _, s := range []*httpSide{c.a, c.b} {
		if err := h.warm(ctx, s); err != nil {
			return err
		}
	}
	as, bs, err := alternate(h.reps,
		func(int) (float64, error) { return h.measure(ctx, c.a) },
		func(int) (float64, error) { return h.measure(ctx, c.b) })
	if err != nil {
		return err
	}
	if c.r, err = pairedRatio(as, bs); err != nil {
		return err
	}
	logf("%s: %s", c.name, c.r)
	return nil
}

// warm gives s fresh connections (it may have closed those idle since its
// last run: Node's keepAliveTimeout) and runs it for the warm-up, every
// answer checked: a server idle for a minute is not what was measured
// before (V8 flushes code it has not run for a while).
func (h *httpRun) warm(ctx context.Context, s *httpSide) error {
	if s.loader != nil {
		s.loader.close()
		s.loader = nil
	}
	d, err := h.newDriver(s)
	if err != nil {
		return fmt.Errorf("%s: %w", s.label, err)
	}
	s.loader = d
	if _, err := s.loader.run(ctx, h.cfg.warmup); err != nil {
		return fmt.Errorf("%s, warm-up: %w", s.label, err)
	}
	return nil
}

// newDriver makes s's driver: its own (s.dial), or an HTTP loader of
// h.cfg.httpConns connections to s.url sending GET h.path.
func (h *httpRun) newDriver(s *httpSide) (loadDriver, error) {
	if s.dial != nil {
		return s.dial()
	}
	l, err := newHTTPLoader(s.url, cmp.Or(h.path, "/me"), h.cfg.httpConns, h.f.headers, h.f.users)
	if err != nil {
		return nil, err
	}
	if h.header != "" {
		l.expectHeader(h.header)
	}
	return l, nil
}

// measure runs one closed-loop turn on s and returns its requests/s per core.
func (h *httpRun) measure(ctx context.Context, s *httpSide) (float64, error) {
	cmd0, err := h.commands(ctx)
	if err != nil {
		return 0, err
	}
	st0, cpu0 := readCPUStat(), groupCPU(s.p)
	ls, err := s.loader.run(ctx, h.turn)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", s.label, err)
	}
	cpu1, st1 := groupCPU(s.p), readCPUStat()
	cmd1, err := h.commands(ctx)
	if err != nil {
		return 0, err
	}
	if s.cmds == nil {
		s.cmds = map[string]int64{}
	}
	for k, v := range cmd1 {
		if d := v - cmd0[k]; d != 0 {
			s.cmds[k] += d
		}
	}
	s.ops += ls.ops
	s.elapsed += ls.elapsed
	s.cpu += cpu1 - cpu0
	s.share = append(s.share, (cpu1-cpu0).Seconds()/ls.elapsed.Seconds()/float64(len(s.cpus)))
	s.busy = append(s.busy, busyShare(st0, st1, s.cpus))
	s.restBusy = append(s.restBusy, busyShare(st0, st1, h.plan.rest))
	rate := ls.rate() / float64(len(s.cpus))
	s.rates = append(s.rates, rate)
	return rate, nil
}

// openLoop drives s at rate for one turn and adds the run to into.
func (h *httpRun) openLoop(ctx context.Context, s *httpSide, rate float64, into *httpLatency) error {
	st0, cpu0, t0 := readCPUStat(), groupCPU(s.p), time.Now()
	res, err := openLoop(ctx, s.url, "/me", h.cfg.httpConns, h.f.headers, h.f.users, rate, h.turn)
	if err != nil {
		return fmt.Errorf("%s, open loop at %s req/s: %w", s.label, si(rate), err)
	}
	into.cpu += groupCPU(s.p) - cpu0
	wall := time.Since(t0)
	into.busy = (into.busy*into.wall.Seconds() + busyShare(st0, readCPUStat(), s.cpus)*wall.Seconds()) / (into.wall + wall).Seconds()
	into.wall += wall
	into.side = s
	if into.res.lat == nil {
		into.res = res
	} else {
		into.res.merge(res)
	}
	return nil
}

// commands returns the Redis server's calls per command so far (INFO
// commandstats), without INFO itself (the harness's own reads).
func (h *httpRun) commands(ctx context.Context) (map[string]int64, error) {
	info, err := h.redis.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, fmt.Errorf("redis INFO commandstats: %w", err)
	}
	return commandCalls(info), nil
}

// commandCalls parses INFO commandstats ("cmdstat_<name>:calls=<n>,...")
// into calls by upper-case command name, INFO excluded.
func commandCalls(info string) map[string]int64 {
	c := map[string]int64{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		name, isStat := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isStat || name == "info" {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
		if n, err := strconv.ParseInt(calls, 10, 64); err == nil {
			c[strings.ToUpper(name)] = n
		}
	}
	return c
}

// perRequest formats s's commands per request, most frequent first,
// leaving out those under 0.005 per request (connection set-up).
func (s *httpSide) perRequest() string {
	if s.ops == 0 {
		return "n/a"
	}
	type kv struct {
		k string
		v float64
	}
	var xs []kv
	var total float64
	for k, v := range s.cmds {
		per := float64(v) / float64(s.ops)
		if per >= 0.005 {
			xs = append(xs, kv{k, per})
			total += per
		}
	}
	sort.Slice(xs, func(i, j int) bool {
		if xs[i].v != xs[j].v {
			return xs[i].v > xs[j].v
		}
		return commandOrder(xs[i].k) < commandOrder(xs[j].k)
	})
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%s %.2f", x.k, x.v)
	}
	if len(parts) == 0 {
		return "none"
	}
	return fmt.Sprintf("%s (%.2f)", strings.Join(parts, " + "), total)
}

// commandOrder puts reads before writes in perRequest.
func commandOrder(k string) string {
	switch k {
	case "GET", "GETRANGE":
		return "0" + k
	case "PTTL", "TTL":
		return "1" + k
	}
	return "2" + k
}

// storeWork sums s's commands per request by kind: reads of the record,
// expiry moves (EXPIRE), record writes, and the rest.
func (s *httpSide) storeWork() (reads, expires, writes, other float64) {
	for k, v := range s.cmds {
		per := float64(v) / float64(max(s.ops, 1))
		switch k {
		case "GET", "GETRANGE", "STRLEN":
			reads += per
		case "EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT":
			expires += per
		case "SET", "SETEX", "PSETEX", "DEL", "UNLINK", "EVAL", "EVALSHA":
			writes += per
		default:
			other += per
		}
	}
	return
}

// equalWork says whether a and b read, expired and wrote the same per
// request.
func equalWork(a, b *httpSide) string {
	ar, ae, aw, _ := a.storeWork()
	br, be, bw, _ := b.storeWork()
	near := func(x, y float64) bool { return math.Abs(x-y) < 0.02 }
	desc := fmt.Sprintf("reads %.2f / %.2f, EXPIRE %.2f / %.2f, writes %.2f / %.2f", ar, br, ae, be, aw, bw)
	if near(ar, br) && near(ae, be) && near(aw, bw) {
		return "yes: " + desc
	}
	return "**no**: " + desc
}

func (s *httpSide) cpuPerRequest() float64 {
	if s.ops == 0 {
		return 0
	}
	return float64(s.cpu.Microseconds()) / float64(s.ops)
}

func pct(x float64) string { return fmt.Sprintf("%.0f%%", 100*x) }

// tables formats the section.
func (h *httpRun) tables(comps []*httpComparison, lats []httpLatency, sides []*httpSide) []table {
	cfg, plan := h.cfg, h.plan
	n := len(plan.server)
	var cores string
	if plan.note != "" {
		cores = "**" + plan.note + ".** "
	} else {
		cores = fmt.Sprintf("Every server ran on CPU(s) %s, cores of its own (Go with GOMAXPROCS %d; a single Node process on CPU %d, the cluster on %s); "+
			"the load generator (Go, in the harness), the section's Redis and the harness ran on CPU(s) %s. ",
			cpuList(plan.server), n, plan.server[0], cpuList(plan.server), cpuList(plan.rest))
		if len(plan.rest) == 1 {
			cores += "With one CPU for the generator and Redis together, watch the \"other CPUs busy\" column: near 100% means they, not the server, bound the rate. "
		}
	}
	st := table{
		Title: sectionTitles["http"],
		Note: "GET /me with a valid session cookie (" + si(float64(len(h.f.ids))) + " sessions, in rotation), answered with the user as JSON " +
			"(`{\"id\":…,\"username\":…,\"name\":…}`, the same bytes on both sides; the load generator checks every body against the cookie's user). " +
			"Both sides deserialize the passport user the same way: Node `passport.deserializeUser` looks the stored user's id up in an in-memory `Map` and `res.json` stringifies it; " +
			"Go `passportuser.Load` with a deserializer that looks the id up in an in-memory map, and `encoding/json`. " +
			"Node: express 5.3.0, express-session 1.19.0 (resave false, saveUninitialized false, cookie maxAge one day), connect-redis 9.0.0 on node-redis 5.9.0, passport 0.7.0 (`passport.session()`), NODE_ENV=production, ETag off (Go sends none). " +
			"Go: `stores/redis` on go-redis v9, the same cookie options. " +
			"The pairs do equal store work, checked, not assumed: the store is a redis-server the section starts for itself, and its `INFO commandstats` before and after each turn " +
			"counts the commands of the one server under load (the others idle); the column shows them per request. " +
			"Read-only pair: one read per request on both sides (Go reads with GETRANGE, bounded by the record-size limit). " +
			"Default pair: one read and one `EXPIRE` (express-session's touch of an unchanged session) on both sides; Go's `LoadAndSave` also sends `PTTL` in the read's round trip (the version it dates touches by). " +
			cores +
			fmt.Sprintf("Throughput: closed loop, %d keep-alive connections, turns of %s after a %s warm-up of each server (fresh connections, answers checked) before each comparison, the two sides of a comparison in %d alternating turns each (A B B A …). ",
				cfg.httpConns, h.turn, cfg.warmup, h.reps) +
			"Requests/s per core is the server's rate divided by the CPUs it ran on. Server CPU per request is the user + system time of all the server's processes (from /proc) over its requests: it does not depend on the load generator. " +
			"CPUs busy is from /proc/stat over the turns (median).",
		Header: []string{"server", "what it does per request", "CPUs", "requests/s per core: median (min–max)", "Redis commands per request", "server CPU per request", "server's share of its CPUs (busy, all processes)", "other CPUs busy (generator, Redis, all processes)"},
	}
	for _, s := range sides {
		st.Rows = append(st.Rows, s.row())
	}
	st.Footer = capacityFooter(sides)

	ct := table{
		Title: "3. HTTP GET /me: Go vs Node, requests/s per core (paired)",
		Note: "Ratio of the paired turns' requests/s per core, Go / Node: median and 95% confidence interval. " + methodText() +
			"Equal store work compares the two sides' Redis commands per request (reads of the record, EXPIREs, record writes; Go / Node).",
		Header: []string{"comparison", "Go / Node per core: median [95% CI]", "turns each", "server CPU per request, Node / Go", "equal store work (Go / Node)", "target", "result"},
	}
	for _, c := range comps {
		ct.Rows = append(ct.Rows, c.row())
	}
	if cfg.quick {
		ct.Footer = "Quick preset: too few repetitions for a verdict."
	}

	lt := table{
		Title: "3. HTTP GET /me: latency under a fixed load (open loop)",
		Note: fmt.Sprintf("Each server of a pair is sent the same fixed rate, 50%% and 80%% of the slower side's median capacity above, in two runs of %s each (A B B A), merged: "+
			"request k goes out at start + k/rate whatever the server does (open loop, up to %d connections in flight), "+
			"and is timed from that scheduled time to the end of its checked answer, so a stall counts for every request due during it (no coordinated omission). "+
			"Both servers are warmed up again just before. Latencies in an HDR histogram (1 µs – 60 s, 3 significant digits). "+
			"Errors: connection failures, timeouts (%s) and wrong answers. "+
			"Send delay is how late the generator sent requests (its timer, a timerfd good to about 50 µs, or a wait for a free connection), included in the latencies. "+
			"Compare the server CPU per request with the closed-loop table's: requests arriving one by one cost both servers more than the batches a saturated server reads, "+
			"so a share of the closed-loop capacity can load a server more than that share. "+
			"A server whose CPUs were busy with other processes' work had less of them than the rate needed: read its latencies as those of a shared machine.",
			h.turn, cfg.httpConns, openLoopTimeout),
		Header: []string{"pair", "rate (share of capacity)", "server", "answered req/s", "p50", "p99", "p99.9", "errors", "send delay p99", "server's share of its CPUs (busy, all processes)", "server CPU per request"},
	}
	if cfg.quick {
		lt.Note += " Quick preset: the default pair only."
	}
	for _, l := range lats {
		errs := fmt.Sprint(l.res.errs)
		if l.res.errs > 0 {
			errs = fmt.Sprintf("**%d** (first: %s)", l.res.errs, l.res.firstErr)
		}
		pair, _, _ := strings.Cut(l.pair, ":")
		lt.Rows = append(lt.Rows, []string{pair, fmt.Sprintf("%s (%.0f%%)", si(l.res.rate), 100*l.frac), l.side.label,
			si(l.res.achieved()), ms(l.res.quantile(50)), ms(l.res.quantile(99)), ms(l.res.quantile(99.9)), errs,
			ms(l.res.lagQuantile(99)), fmt.Sprintf("%s (%s)", pct(l.share()), pct(l.busy)), fmt.Sprintf("%.0f µs", float64(l.cpu.Microseconds())/float64(max(l.res.ok, 1)))})
	}
	return []table{st, ct, lt}
}

// row is s's row of a section's per-server table: label, work, CPUs,
// rate per core, Redis commands and CPU per request, CPU shares.
func (s *httpSide) row() []string {
	lo, med, hi := spread(s.rates)
	return []string{s.label, s.work, cpuList(s.cpus),
		fmt.Sprintf("%s (%s–%s)", si(med), si(lo), si(hi)), s.perRequest(),
		fmt.Sprintf("%.0f µs", s.cpuPerRequest()), fmt.Sprintf("%s (%s)", pct(median(s.share)), pct(median(s.busy))), pct(median(s.restBusy))}
}

// capacityFooter says whether the sides' rates were the servers' own: a
// server that used less than 90% of its CPUs either had its CPUs taken by
// other processes (they were busy beyond what it used) or was not sent
// enough requests (the generator and Redis CPUs saturated).
func capacityFooter(sides []*httpSide) string {
	var notes []string
	for _, s := range sides {
		if len(s.share) == 0 || median(s.share) >= 0.9 {
			continue
		}
		share, busy, rest := median(s.share), median(s.busy), median(s.restBusy)
		var why []string
		if busy-share >= 0.1 {
			why = append(why, fmt.Sprintf("other processes took %s of its CPUs", pct(busy-share)))
		}
		if rest >= 0.95 {
			why = append(why, fmt.Sprintf("the generator and Redis CPUs were %s busy", pct(rest)))
		}
		if len(why) == 0 {
			why = append(why, "its CPUs had idle time")
		}
		notes = append(notes, fmt.Sprintf("%s used %s of its CPUs (%s)", s.label, pct(share), strings.Join(why, ", ")))
	}
	var f string
	if len(notes) == 0 {
		f = "Every server used at least 90% of its CPUs under load: the rates are the servers' own. "
	} else {
		f = "**Rates below the servers' capacity**: " + strings.Join(notes, "; ") + ". " +
			"A server short of CPU time or of requests understates its rate (a Go row, the Go/Node ratios too); alternation puts lasting noise on both sides alike, not bursts. "
	}
	return f + "Server CPU per request (its own CPU time over its requests) does not depend on either."
}

// row is c's row of a section's paired table: name, ratio a / b, turns,
// CPU per request b / a, equal store work, target and verdict.
func (c *httpComparison) row() []string {
	target, result := "(for information)", ""
	if c.target > 0 {
		target = fmt.Sprintf("≥ %g×", c.target)
		result = verdictCI(c.r, c.target, true)
	}
	eq := equalWork(c.a, c.b)
	if c.note != "" {
		eq += " (" + c.note + ")"
	}
	cpuRatio := "n/a"
	if c.a.cpuPerRequest() > 0 {
		cpuRatio = ratio(c.b.cpuPerRequest() / c.a.cpuPerRequest())
	}
	return []string{c.name, c.r.String(), strconv.Itoa(c.r.n), cpuRatio, eq, target, result}
}

// cpuStat is /proc/stat's per-CPU busy and total jiffies.
type cpuStat map[int][2]uint64

// readCPUStat reads /proc/stat (nil if it cannot).
func readCPUStat() cpuStat {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil
	}
	st := cpuStat{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		cpu, err := strconv.Atoi(f[0][3:])
		if err != nil {
			continue
		}
		// user nice system idle iowait irq softirq steal (guest is in user)
		var v [8]uint64
		for i := range v {
			v[i], _ = strconv.ParseUint(f[1+i], 10, 64)
		}
		var total uint64
		for _, x := range v {
			total += x
		}
		st[cpu] = [2]uint64{total - v[3] - v[4], total}
	}
	return st
}

// busyShare is the busy share of cpus between two readings.
func busyShare(a, b cpuStat, cpus []int) float64 {
	var busy, total uint64
	for _, c := range cpus {
		busy += b[c][0] - a[c][0]
		total += b[c][1] - a[c][1]
	}
	if total == 0 {
		return 0
	}
	return float64(busy) / float64(total)
}

// groupCPU is the CPU time (user + system) of the live processes in p's
// process group: the server and, for the Node cluster, its workers (0 for
// no process: a server in the harness's own process, in tests).
func groupCPU(p *proc) time.Duration {
	if p == nil {
		return 0
	}
	pgid := p.cmd.Process.Pid
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return p.cpu()
	}
	var ticks int64
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if g, t, ok := procStat(e.Name()); ok && g == pgid {
			ticks += t
		}
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// seedRedis writes the fixture's sessions to Redis under redisPrefix and
// returns a function that deletes them.
func seedRedis(ctx context.Context, cfg *config, f *fixture) (func(), error) {
	client := redis.NewClient(&redis.Options{Addr: cfg.redisAddr})
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("redis at %s: %w (make services)", cfg.redisAddr, err)
	}
	st := redisstore.New(client, redisstore.Options{Prefix: redisPrefix})
	if err := f.seed(ctx, st); err != nil {
		client.Close()
		return nil, err
	}
	return func() {
		client.Del(context.Background(), prefixed(redisPrefix, f.ids)...)
		client.Close()
	}, nil
}
