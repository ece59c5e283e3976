package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/passportuser"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// The auth section: forward-auth decisions per second per core, GET /auth
// with a logged-in session's cookie answered 200 with the stored
// passport.user in X-Auth-User, on three sides doing the same store work:
//
//	serve  the sessionbridge binary built from this checkout, `serve` on a
//	       connect-redis store URL (express-session's lifecycle: load, touch),
//	       and the same with the URL's touchAfter (for information)
//	Node   bench/node/http-server.js's GET /auth: express-session (connect-redis
//	       touches) + passport.initialize(), req.session.passport.user as stored
//	raw    the floor: a Go process sending, per decision, the Redis round trips
//	       the library's LoadAndSave sends (recorded from it), no HTTP
//
// It reuses the http section's machinery: its own redis-server (INFO
// commandstats per turn gives each side's commands per decision), every
// side on cfg.plan.server, the load generator and Redis on cfg.plan.rest,
// closed-loop turns in alternation, paired ratios with 95% intervals.

// authHeader is the header serve and the Node route answer the user in.
const authHeader = "X-Auth-User"

// authTouchAfter is the touchAfter of the information row.
const authTouchAfter = 10 * time.Minute

// keyArg stands for the session's key in a recorded command.
const keyArg = "\x00key"

func benchAuth(ctx context.Context, cfg *config) ([]table, error) {
	plan := cfg.plan
	if len(plan.server) == 0 {
		var err error
		if plan, err = planCPUs(1); err != nil {
			return nil, err
		}
	}
	h := &httpRun{cfg: cfg, plan: plan, turn: cfg.duration, reps: max(cfg.reps, 2), path: "/auth", header: authHeader}
	bin, err := buildServe(ctx, cfg)
	if err != nil {
		return nil, err
	}
	client, rp, err := startPrivateRedis(ctx, cfg, "redis-auth")
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
	addr := client.Options().Addr
	rounds, err := captureDecision(ctx, addr, h.f)
	if err != nil {
		return nil, err
	}
	roundsJSON, err := json.Marshal(rounds)
	if err != nil {
		return nil, err
	}
	script, err := nodeScript(cfg, "http-server.js")
	if err != nil {
		return nil, err
	}
	n := len(plan.server)
	storeURL := authStoreURL(addr)
	nodeEnv := func(workers int) []string {
		return []string{"REDIS_URL=redis://" + addr, "PREFIX=" + redisPrefix, "SECRET=" + benchSecret,
			fmt.Sprintf("USERS=%d", cfg.sessions), "NODE_ENV=production", "MODE=default", fmt.Sprintf("CLUSTER=%d", workers)}
	}

	serveDef := &httpSide{label: "`sessionbridge serve`", cpus: plan.server,
		work: "GET /auth: express-session's lifecycle (`Bridge.LoadAndSave`: load, touch), passport.user as stored in " + authHeader}
	serveTA := &httpSide{label: fmt.Sprintf("`sessionbridge serve`, touchAfter %s", simDur(authTouchAfter)), cpus: plan.server,
		work: fmt.Sprintf("the same, store URL `touchAfter=%d`: no touch of a session whose expiry was set less than %s ago", int(authTouchAfter.Seconds()), simDur(authTouchAfter))}
	nodeDef := &httpSide{label: "Node, default", cpus: plan.server[:1],
		work: "GET /auth: express-session as configured by default (connect-redis touches) + `passport.initialize()`, `req.session.passport.user` as stored in " + authHeader + " (no `deserializeUser`)"}
	nodeCl := &httpSide{label: fmt.Sprintf("Node, default, cluster ×%d", n), cpus: plan.server,
		work: fmt.Sprintf("as Node default, `node:cluster` with %d workers", n)}
	raw := &httpSide{label: "raw store commands (floor)", cpus: plan.server,
		work: "no HTTP, no cookie, no JSON: a Go process (go-redis, default pool) sending each decision's Redis round trips as `LoadAndSave` sends them: " + describeRounds(rounds)}

	var sides []*httpSide
	defer func() {
		for _, s := range sides {
			if s.loader != nil {
				s.loader.close()
			}
			s.p.stop()
		}
	}()
	start := func(s *httpSide, start func(name string) (*proc, string, error)) error {
		name := "auth-" + strings.NewReplacer(" ", "-", "`", "", "(", "", ")", "", ",", "", "×", "").Replace(strings.ToLower(s.label))
		var err error
		if s.p, s.url, err = start(name); err != nil {
			return err
		}
		sides = append(sides, s)
		return h.warm(ctx, s)
	}
	startServeOn := func(url string) func(string) (*proc, string, error) {
		return func(name string) (*proc, string, error) { return startServe(ctx, cfg, name, bin, plan.server, url) }
	}
	startNode := func(workers int, cpus []int) func(string) (*proc, string, error) {
		return func(name string) (*proc, string, error) {
			return startServer(ctx, cfg, name, nodeEnv(workers), pinned(cpus, "node", script)...)
		}
	}
	raw.dial = func() (loadDriver, error) { return rawControl{url: raw.url, conc: cfg.httpConns}, nil }
	steps := []struct {
		s     *httpSide
		start func(string) (*proc, string, error)
	}{
		{serveDef, startServeOn(storeURL)},
		{nodeDef, startNode(0, plan.server[:1])},
		{raw, func(name string) (*proc, string, error) {
			return startGoServerOn(ctx, cfg, name, plan.server, []string{"AUTH_ROUNDS=" + string(roundsJSON)}, "-serve", "auth-raw", "-redis", addr)
		}},
		{serveTA, startServeOn(storeURL + fmt.Sprintf("&touchAfter=%d", int(authTouchAfter.Seconds())))},
	}
	if n > 1 {
		steps = append(steps, struct {
			s     *httpSide
			start func(string) (*proc, string, error)
		}{nodeCl, startNode(n, plan.server)})
	}
	for _, x := range steps {
		if err := start(x.s, x.start); err != nil {
			return nil, err
		}
	}

	comps := []*httpComparison{
		{name: "**serve vs Node** (express-session's lifecycle on both, one process per core)", a: serveDef, b: nodeDef},
		{name: "serve vs the raw store commands (the floor)", a: serveDef, b: raw},
	}
	if n > 1 {
		comps = append(comps, &httpComparison{name: fmt.Sprintf("serve vs Node cluster (%d workers on the same cores)", n), a: serveDef, b: nodeCl})
	}
	comps = append(comps, &httpComparison{name: fmt.Sprintf("serve touchAfter %s vs Node default", simDur(authTouchAfter)), a: serveTA, b: nodeDef,
		note: "not equal work: touchAfter skips the EXPIRE"})
	for _, c := range comps {
		if err := h.compare(ctx, c); err != nil {
			return nil, err
		}
	}
	if same, desc := sameCommands(serveDef, raw); same {
		comps[1].note = "the same commands: " + desc
	} else {
		comps[1].note = "**not the same commands**: " + desc
	}
	tableSides := []*httpSide{serveDef, nodeDef}
	if n > 1 {
		tableSides = append(tableSides, nodeCl)
	}
	tableSides = append(tableSides, raw, serveTA)
	return authTables(h, comps, tableSides, describeRounds(rounds), serveDef, raw), nil
}

// authStoreURL is the connect-redis store URL of the section's Redis, with
// the sessions' prefix.
func authStoreURL(addr string) string { return "redis://" + addr + "?prefix=" + redisPrefix }

// buildServe builds the sessionbridge command of this checkout into
// cfg.tmp and returns the binary's path.
func buildServe(ctx context.Context, cfg *config) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", errors.New("go is not on PATH: the auth section builds cmd/sessionbridge")
	}
	out := filepath.Join(cfg.tmp, "sessionbridge")
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, "./cmd/sessionbridge")
	cmd.Dir = cfg.root
	cmd.Env = childEnv()
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/sessionbridge: %w\n%s", err, b)
	}
	return out, nil
}

// listeningRe finds the address in serve's "listening" log record, in its
// text or JSON form.
var listeningRe = regexp.MustCompile(`(?:msg=listening|"msg":"listening").*?(?:addr=|"addr":")([0-9A-Za-z.:\[\]-]+)`)

// startServe starts `bin serve --listen 127.0.0.1:0 --store storeURL`
// pinned to cpus (unpinned when empty) with GOMAXPROCS = len(cpus), and
// returns its URL, read from its listening record (on stderr or stdout).
func startServe(ctx context.Context, cfg *config, name, bin string, cpus []int, storeURL string) (*proc, string, error) {
	argv := []string{bin, "serve", "--listen", "127.0.0.1:0", "--store", storeURL, "--secret", benchSecret}
	var env []string
	if len(cpus) > 0 {
		argv = pinned(cpus, argv...)
		env = append(env, "GOMAXPROCS="+strconv.Itoa(len(cpus)))
	}
	p, _, out, err := startProc(cfg, name, env, false, true, argv...)
	if err != nil {
		return nil, "", err
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		for {
			line, err := out.ReadString('\n')
			if line != "" {
				select {
				case lines <- line:
				default: // nobody waits any more: drain
				}
			}
			if err != nil {
				return
			}
		}
	}()
	found := func(text string) string {
		if m := listeningRe.FindStringSubmatch(text); m != nil {
			return m[1]
		}
		return ""
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for {
		var addr string
		select {
		case line, ok := <-lines:
			if !ok {
				lines = nil
				continue
			}
			addr = found(line)
		case <-tick.C:
			b, _ := os.ReadFile(p.log)
			addr = found(string(b))
		case <-p.done:
			return nil, "", fmt.Errorf("%s exited (%v) before listening:\n%s", name, p.err, p.tail())
		case <-deadline:
			p.stop()
			return nil, "", fmt.Errorf("%s logged no listening record within 30s:\n%s", name, p.tail())
		case <-ctx.Done():
			p.stop()
			return nil, "", ctx.Err()
		}
		if addr != "" {
			url := "http://" + addr
			logf("%s listening on %s (pid %d)", name, url, p.cmd.Process.Pid)
			return p, url, nil
		}
	}
}

// roundRecorder is a go-redis hook that records, while on, the commands a
// client sends, one entry per round trip (a command, or a pipeline), and
// lets them through.
type roundRecorder struct {
	mu     sync.Mutex
	on     bool
	rounds [][][]string
}

func (r *roundRecorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundRecorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.record(cmd)
		return next(ctx, cmd)
	}
}

func (r *roundRecorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.record(cmds...)
		return next(ctx, cmds)
	}
}

func (r *roundRecorder) record(cmds ...redis.Cmder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.on {
		return
	}
	var round [][]string
	for _, c := range cmds {
		if connSetup[c.Name()] {
			continue
		}
		args := make([]string, len(c.Args()))
		for i, a := range c.Args() {
			args[i] = fmt.Sprint(a)
		}
		round = append(round, args)
	}
	if len(round) > 0 {
		r.rounds = append(r.rounds, round)
	}
}

// connSetup are the commands go-redis sends when it opens a connection,
// which a decision on an open connection does not send.
var connSetup = map[string]bool{"hello": true, "client": true, "auth": true, "select": true, "ping": true, "readonly": true}

// captureDecision returns the Redis round trips one forward-auth decision
// costs the library: Bridge.LoadAndSave (express-session's lifecycle, as
// serve runs it) on a connect-redis store answering session 0 of f with
// its passport user, recorded by a go-redis hook on the Redis at addr,
// with the session's key replaced by keyArg.
func captureDecision(ctx context.Context, addr string, f *fixture) ([][][]string, error) {
	rec := &roundRecorder{}
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()
	client.AddHook(rec)
	if err := client.Ping(ctx).Err(); err != nil { // connection set-up, not recorded
		return nil, err
	}
	bridge, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{benchSecret}, Store: redisstore.New(client, redisstore.Options{Prefix: redisPrefix})})
	if err != nil {
		return nil, err
	}
	h := bridge.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := sessionbridge.FromContext(r.Context())
		user, err := passportuser.Raw(s)
		if !ok || err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set(authHeader, string(user))
	}))
	req := httptest.NewRequestWithContext(ctx, "GET", "/auth", nil)
	req.Header.Set("Cookie", f.headers[0])
	w := httptest.NewRecorder()
	rec.mu.Lock()
	rec.on = true
	rec.mu.Unlock()
	h.ServeHTTP(w, req)
	rec.mu.Lock()
	rounds := rec.rounds
	rec.on = false
	rec.mu.Unlock()
	if got := w.Header().Get(authHeader); w.Code != http.StatusOK || got != string(f.users[0]) {
		return nil, fmt.Errorf("recording a decision: answered %d with %s %q, want 200 %q", w.Code, authHeader, got, f.users[0])
	}
	key := redisPrefix + f.ids[0]
	for _, round := range rounds {
		for _, args := range round {
			if !slices.Contains(args, key) {
				return nil, fmt.Errorf("recording a decision: %v does not name the session's key: update the raw side", args)
			}
			for i, a := range args {
				if a == key {
					args[i] = keyArg
				}
			}
		}
	}
	if len(rounds) == 0 {
		return nil, errors.New("recording a decision: no Redis command")
	}
	return rounds, nil
}

// describeRounds formats recorded round trips for the report.
func describeRounds(rounds [][][]string) string {
	parts := make([]string, len(rounds))
	for i, round := range rounds {
		cmds := make([]string, len(round))
		for j, args := range round {
			cmds[j] = "`" + strings.ReplaceAll(strings.Join(args, " "), keyArg, "<key>") + "`"
		}
		parts[i] = strings.Join(cmds, " + ")
		if len(round) > 1 {
			parts[i] += " (pipelined)"
		}
	}
	return strings.Join(parts, ", then ")
}

// authRaw is the raw side: per decision, the recorded round trips with a
// session's key, on a go-redis client, nothing else.
type authRaw struct {
	client *redis.Client
	rounds [][][]string
	keys   []string // the sessions' keys, sorted
	conc   int      // goroutines of run
}

// newAuthRaw reads the sessions' keys from the Redis behind client (the
// section's own: it holds only the fixture) and checks one decision.
func newAuthRaw(ctx context.Context, client *redis.Client, rounds [][][]string, conc int) (*authRaw, error) {
	keys, err := client.Keys(ctx, redisPrefix+"*").Result()
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no session under %q", redisPrefix)
	}
	slices.Sort(keys)
	a := &authRaw{client: client, rounds: rounds, keys: keys, conc: conc}
	if err := a.op(ctx, 0); err != nil {
		return nil, err
	}
	return a, nil
}

// op sends decision i's round trips and checks that the first command
// answered a record and none failed.
func (a *authRaw) op(ctx context.Context, i int) error {
	key := a.keys[i]
	for r, round := range a.rounds {
		cmds := make([]*redis.Cmd, len(round))
		for j, args := range round {
			xs := make([]any, len(args))
			for k, s := range args {
				if s == keyArg {
					s = key
				}
				xs[k] = s
			}
			cmds[j] = redis.NewCmd(ctx, xs...)
		}
		if len(cmds) == 1 {
			_ = a.client.Process(ctx, cmds[0])
		} else {
			pipe := a.client.Pipeline()
			for _, c := range cmds {
				_ = pipe.Process(ctx, c)
			}
			_, _ = pipe.Exec(ctx) // each command carries its own error
		}
		for _, c := range cmds {
			if err := c.Err(); err != nil {
				return fmt.Errorf("raw decision %d: %v: %w", i, c.Args()[0], err)
			}
		}
		if v, _ := cmds[0].Val().(string); r == 0 && v == "" {
			return fmt.Errorf("raw decision %d: %v answered no record", i, cmds[0].Args()[0])
		}
	}
	return nil
}

// run is a closed loop of a.conc goroutines for d (the raw side in this
// process, in tests).
func (a *authRaw) run(ctx context.Context, d time.Duration) (loadStats, error) {
	ops, took, err := closedLoop(ctx, a.conc, d, len(a.keys), a.op)
	return loadStats{ops: ops, elapsed: took}, err
}

func (a *authRaw) close() {}

// authRawHandler is the raw side's process (-serve auth-raw): GET
// /run?d=<duration>&c=<goroutines> runs the closed loop and answers
// "<decisions> <nanoseconds>". The round trips come from $AUTH_ROUNDS
// (JSON, as captureDecision returns them).
func authRawHandler(ctx context.Context, client *redis.Client) (http.Handler, error) {
	var rounds [][][]string
	if err := json.Unmarshal([]byte(os.Getenv("AUTH_ROUNDS")), &rounds); err != nil {
		return nil, fmt.Errorf("$AUTH_ROUNDS: %w", err)
	}
	a, err := newAuthRaw(ctx, client, rounds, 1)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /run", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c, err := strconv.Atoi(r.URL.Query().Get("c"))
		if err != nil || c < 1 {
			http.Error(w, "c: want a positive number of goroutines", http.StatusBadRequest)
			return
		}
		ops, took, err := closedLoop(r.Context(), c, d, len(a.keys), a.op)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%d %d\n", ops, took.Nanoseconds())
	})
	return mux, nil
}

// rawControl drives the raw side's process: one GET /run per turn.
type rawControl struct {
	url  string
	conc int
}

func (r rawControl) run(ctx context.Context, d time.Duration) (loadStats, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/run?d=%s&c=%d", r.url, d, r.conc), nil)
	if err != nil {
		return loadStats{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return loadStats{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(bufio.NewReader(io.LimitReader(resp.Body, 4<<10)))
	if err != nil {
		return loadStats{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return loadStats{}, fmt.Errorf("raw side: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var ops, ns int64
	if _, err := fmt.Sscan(string(body), &ops, &ns); err != nil {
		return loadStats{}, fmt.Errorf("raw side answered %q: %w", body, err)
	}
	return loadStats{ops: ops, elapsed: time.Duration(ns)}, nil
}

func (rawControl) close() {}

// sameCommands says whether a and b sent the same Redis commands per
// request (each within 0.02), and lists them.
func sameCommands(a, b *httpSide) (bool, string) {
	names := map[string]bool{}
	for k := range a.cmds {
		names[k] = true
	}
	for k := range b.cmds {
		names[k] = true
	}
	same := a.ops > 0 && b.ops > 0
	for k := range names {
		x := float64(a.cmds[k]) / float64(max(a.ops, 1))
		y := float64(b.cmds[k]) / float64(max(b.ops, 1))
		if math.Abs(x-y) > 0.02 {
			same = false
		}
	}
	return same, a.perRequest() + " / " + b.perRequest()
}

// authTables formats the section.
func authTables(h *httpRun, comps []*httpComparison, sides []*httpSide, rounds string, serve, raw *httpSide) []table {
	cfg, plan := h.cfg, h.plan
	n := len(plan.server)
	var cores string
	if plan.note != "" {
		cores = "**" + plan.note + ".** "
	} else {
		cores = fmt.Sprintf("Every side ran on CPU(s) %s, cores of its own (serve and the raw side with GOMAXPROCS %d; a single Node process on CPU %d",
			cpuList(plan.server), n, plan.server[0])
		if n > 1 {
			cores += ", the cluster on " + cpuList(plan.server)
		}
		cores += fmt.Sprintf("); the load generator (Go, in the harness), the section's Redis and the harness ran on CPU(s) %s. ", cpuList(plan.rest))
		if len(plan.rest) == 1 {
			cores += "With one CPU for the generator and Redis together, watch the \"other CPUs busy\" column: near 100% means they, not the server, bound the rate. "
		}
	}
	st := table{
		Title: sectionTitles["auth"],
		Note: "Forward-auth decisions (what nginx `auth_request`, Traefik ForwardAuth or Caddy `forward_auth` ask on every request): GET /auth with a logged-in session's cookie (" +
			si(float64(len(h.f.ids))) + " sessions as express-session + passport write them, in rotation) answered 200 with the stored `passport.user` " +
			"(`{\"id\":…,\"username\":…,\"name\":…}`, the same bytes on both sides) in `" + authHeader + "`, body empty; the load generator checks every answer's status and header against the cookie's user. " +
			"**serve** = `sessionbridge serve` built from this checkout (`go build ./cmd/sessionbridge`), run as a user runs it: `serve --listen 127.0.0.1:0 --store redis://…?prefix=" + redisPrefix + " --secret …`, " +
			"its default lifecycle (express-session's: load, and the store touch of an unchanged session) and its defaults otherwise; " +
			"it does a little more than Node: it keeps its Prometheus metrics (per decision a counter and a latency histogram, per store call a histogram), and its per-decision log record is at debug level, below its default info. " +
			"**Node** = GET /auth in bench/node/http-server.js: express 5.3.0, express-session 1.19.0 (resave false, saveUninitialized false), connect-redis 9.0.0 on node-redis 5.9.0 (touching, the default), " +
			"passport 0.7.0 `initialize()`, and `req.session.passport.user` sent as stored (`JSON.stringify`); the route comes before `passport.session()`, so no `deserializeUser` runs: serve has no user table to look the user up in either. NODE_ENV=production. " +
			"**raw** = the floor: a Go process (go-redis v9, default pool, like serve's) with no HTTP, cookie or JSON, sending per decision the round trips the library's `LoadAndSave` sends for one decision, " +
			"recorded from it at start-up through a go-redis hook (so the floor cannot drift from the library): " + rounds + "; " +
			fmt.Sprintf("%d goroutines in a closed loop, as many as the generator's connections. ", cfg.httpConns) +
			"Equal work is checked, not assumed: the store is a redis-server the section starts for itself, and its `INFO commandstats` before and after each turn counts the commands of the one side under load; " +
			"the column shows them per decision (serve reads with GETRANGE, bounded by the record-size limit, and sends `PTTL` in the same round trip: the version it dates touches by). " +
			cores +
			fmt.Sprintf("Closed loop, %d keep-alive connections, turns of %s after a %s warm-up of each side before each comparison, the two sides of a comparison in %d alternating turns each (A B B A …). ",
				cfg.httpConns, h.turn, cfg.warmup, h.reps) +
			"Decisions/s per core is the side's rate divided by the CPUs it ran on. CPU per decision is the user + system time of all the side's processes (from /proc) over its decisions: it does not depend on the load generator. " +
			"CPUs busy is from /proc/stat over the turns (median).",
		Header: []string{"side", "what it does per decision", "CPUs", "decisions/s per core: median (min–max)", "Redis commands per decision", "CPU per decision", "its share of its CPUs (busy, all processes)", "other CPUs busy (generator, Redis, all processes)"},
	}
	for _, s := range sides {
		st.Rows = append(st.Rows, s.row())
	}
	st.Footer = capacityFooter(sides)
	ct := table{
		Title: "8. /auth decisions: paired, per core",
		Note: "Ratio of the paired turns' decisions/s per core, first side / second side: median and 95% confidence interval (see Method). " +
			"Equal store work compares the two sides' Redis commands per decision (reads of the record, EXPIREs, record writes; first / second).",
		Header: []string{"comparison", "first / second per core: median [95% CI]", "turns each", "CPU per decision, second / first", "equal store work (first / second)", "target", "result"},
	}
	for _, c := range comps {
		ct.Rows = append(ct.Rows, c.row())
	}
	ct.Footer = fmt.Sprintf("The floor row: the raw side sends the same commands with nothing around them, so its rate is what the store and the client alone allow here, "+
		"and serve's CPU per decision beyond the raw side's is what the HTTP server, the cookie, the session JSON, the lifecycle and the header cost: %.0f µs − %.0f µs = %.0f µs per decision in this run. "+
		"When the raw side used well under its CPUs (see its share above), Redis on the other CPU bounded it, not its core: then read the CPU column, not the rate.",
		serve.cpuPerRequest(), raw.cpuPerRequest(), serve.cpuPerRequest()-raw.cpuPerRequest())
	if cfg.quick {
		ct.Footer += " Quick preset: too few repetitions for a verdict."
	}
	return []table{st, ct}
}
