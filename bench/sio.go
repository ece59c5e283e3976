package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/socketauth"
	"github.com/sessionbridge/sessionbridge/socketauth/socketio"
)

// anonUser is what a baseline server (no authorization: it knows no user)
// sends in its "user" event; the same shape as a real user.
var anonUser = &benchUser{ID: anonUserID, Username: "anonymous", Name: "Anonymous"}

// sioServer is the Go socket.io server: zishang520 socket.io v3 with, when
// auth is set, the socketauth/socketio namespace middleware on the Bridge
// (Redis store) with the users table of the http section as
// Config.Deserialize (USERS users, as bench/node/sio-server.js's
// deserializeUser); the middleware also puts each socket in its user's
// room. Every accepted socket is sent its user ("user" event): the
// deserialized user, or anonUser without auth. SIO_TRACKER=1 adds a
// socketauth.Tracker (Options.Tracker, with Tracker.Run). /debug/heap
// answers the live heap after two GCs, the connected sockets and the
// tracked connections, for the memory section.
func sioServer(bridge *sessionbridge.Bridge, auth bool) (http.Handler, func(), error) {
	n, _ := strconv.Atoi(envOr("USERS", "1000"))
	users := benchUsers(n)
	ctx, cancel := context.WithCancel(context.Background())
	server := socket.NewServer(nil, nil)
	var tracker *socketauth.Tracker
	if auth {
		deserialize := userDeserializer(users)
		a, err := socketauth.New(socketauth.Config{
			Source: bridge,
			Deserialize: func(ctx context.Context, stored json.RawMessage) (any, error) {
				return deserialize(ctx, stored)
			},
		})
		if err != nil {
			cancel()
			return nil, nil, err
		}
		var opts socketio.Options
		if os.Getenv("SIO_TRACKER") == "1" {
			tracker = socketauth.NewTracker(a, socketauth.TrackerOptions{})
			go tracker.Run(ctx)
			opts.Tracker = tracker
		}
		server.Use(socketio.Middleware(a, opts))
	}
	_ = server.On("connection", func(args ...any) {
		s := args[0].(*socket.Socket)
		if !auth {
			_ = s.Emit("user", anonUser)
			return
		}
		u, ok := socketio.User[*benchUser](s)
		if !ok {
			s.Disconnect(true)
			return
		}
		_ = s.Emit("user", u)
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", server.ServeHandler(nil))
	mux.HandleFunc("GET /debug/heap", func(w http.ResponseWriter, _ *http.Request) {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		sockets := 0
		server.Sockets().Sockets().Range(func(socket.SocketId, *socket.Socket) bool {
			sockets++
			return true
		})
		tracked := -1
		if tracker != nil {
			_, tracked = tracker.Len()
		}
		fmt.Fprintf(w, `{"heapAlloc":%d,"stackInuse":%d,"goroutines":%d,"sockets":%d,"tracked":%d}`,
			m.HeapAlloc, m.StackInuse, runtime.NumGoroutine(), sockets, tracked)
	})
	return mux, func() { cancel(); server.Close(nil) }, nil
}

// sioServerKinds are the four servers of the sio section.
type sioServerKind struct {
	name string // in the tables
	key  string // in logs and process names
	node bool
	auth bool
}

var sioServers = []sioServerKind{
	{"Go: zishang520 + socketauth", "go-auth", false, true},
	{"Go: zishang520, no authorization", "go-base", false, false},
	{"Node: socket.io + express-session + passport", "node-auth", true, true},
	{"Node: socket.io, no authorization", "node-base", true, false},
}

// startSioServer starts one server of the sio or memory section pinned to
// cpus, with the extra environment env.
func startSioServer(ctx context.Context, cfg *config, k sioServerKind, name string, users int, cpus []int, env []string) (*proc, string, error) {
	env = append(env, fmt.Sprintf("USERS=%d", users))
	if !k.node {
		return startGoServerOn(ctx, cfg, name, cpus, env, "-serve", "sio", fmt.Sprintf("-sio-auth=%v", k.auth))
	}
	script, err := nodeScript(cfg, "sio-server.js")
	if err != nil {
		return nil, "", err
	}
	auth := "0"
	if k.auth {
		auth = "1"
	}
	env = append(env, "REDIS_URL=redis://"+cfg.redisAddr, "PREFIX="+redisPrefix, "SECRET="+benchSecret, "AUTH="+auth, "NODE_ENV=production")
	argv := []string{"node", script}
	if len(cpus) > 0 {
		argv = pinned(cpus, argv...)
	}
	return startServer(ctx, cfg, name, env, argv...)
}

// sioForgedEvery puts one forged cookie among every this many handshakes
// (5%).
const sioForgedEvery = 20

// sioClientCost is a load client's calibration: client CPU per handshake,
// and handshakes that failed on the client side (timeouts, lost events).
type sioClientCost struct {
	kind   string
	perHS  float64
	failed int64
}

// sioTurn is one measured run of one server.
type sioTurn struct {
	res        sioResult
	wall       time.Duration
	serverCPU  time.Duration
	clientCPU  time.Duration
	serverBusy float64 // server process CPU / (wall × its cores)
	// serverCoreBusy is the busy share of the server's cores (all
	// processes: the server's and whatever else the machine ran there).
	serverCoreBusy float64
	restBusy       float64 // busy share of the load generators' CPUs (all processes)
}

func (t sioTurn) handshakes() float64 { return float64(t.res.Attempts) }

// cpuPerHS is the server's CPU time per handshake answered (accepted or
// refused), in µs.
func (t sioTurn) cpuPerHS() float64 {
	return float64(t.serverCPU.Microseconds()) / t.handshakes()
}

// perCore is handshakes answered per second of server CPU.
func (t sioTurn) perCore() float64 { return t.handshakes() / t.serverCPU.Seconds() }

// authorizedPerCore is accepted handshakes with a valid cookie per second
// of server CPU.
func (t sioTurn) authorizedPerCore() float64 { return float64(t.res.Accepted) / t.serverCPU.Seconds() }

func (t sioTurn) clientPerHS() float64 {
	return float64(t.clientCPU.Microseconds()) / t.handshakes()
}

// clientBound says the load generators' CPUs were saturated while the
// server's core was not: the clients, not the server, set the rate.
func (t sioTurn) clientBound() bool { return t.restBusy >= 0.9 && t.serverBusy < 0.9 }

// sioMeasure runs clients against one server for d and measures it.
func sioMeasure(ctx context.Context, clients *sioClients, server *proc, url string, d time.Duration, auth bool, plan cpuPlan) (sioTurn, error) {
	var t sioTurn
	s0, c0 := server.cpu(), clients.cpu()
	st0 := readCPUStat()
	start := time.Now()
	res, err := clients.run(ctx, url, d, auth)
	if err != nil {
		return t, err
	}
	t.wall = time.Since(start)
	st1 := readCPUStat()
	t.serverCoreBusy, t.restBusy = busyShare(st0, st1, plan.server), busyShare(st0, st1, plan.rest)
	// Let the server finish closing the last connections before its CPU
	// time is read (it is idle afterwards, so waiting adds nothing else).
	time.Sleep(30 * time.Millisecond)
	t.res = res
	t.serverCPU, t.clientCPU = server.cpu()-s0, clients.cpu()-c0
	t.serverBusy = t.serverCPU.Seconds() / t.wall.Seconds() / float64(max(1, len(plan.server)))
	return t, t.check(auth)
}

// check is sioResult.check and that something was measured.
func (t sioTurn) check(auth bool) error {
	res := t.res
	if err := res.check(auth); err != nil {
		return err
	}
	if res.Attempts == 0 || t.serverCPU <= 0 {
		return fmt.Errorf("no handshake measured (%d handshakes, server CPU %s)", res.Attempts, t.serverCPU)
	}
	if auth && res.ForgedRefused == 0 {
		return fmt.Errorf("no forged cookie was tried (%d handshakes)", res.Attempts)
	}
	return nil
}

// benchSocketIO measures socket.io handshakes on four servers pinned to
// the server core: Go (zishang520) with and without socketauth, Node
// (socket.io 4.8) with and without express-session + passport; the cost
// of authorization per handshake is each side's difference.
func benchSocketIO(ctx context.Context, cfg *config) ([]table, error) {
	plan := cfg.plan
	if len(plan.all) == 0 {
		var err error
		if plan, err = planCPUs(1); err != nil {
			return nil, err
		}
	}
	f, err := newFixture(cfg.sessions)
	if err != nil {
		return nil, err
	}
	cleanup, err := seedRedis(ctx, cfg, f)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	cookies, users := sioEntries(f, sioForgedEvery)

	procs := make([]*proc, len(sioServers))
	urls := make([]string, len(sioServers))
	for i, k := range sioServers {
		if procs[i], urls[i], err = startSioServer(ctx, cfg, k, "sio-"+k.key, cfg.sessions, plan.server, nil); err != nil {
			return nil, err
		}
		defer procs[i].stop()
	}

	// The load clients: each kind's CPU per handshake against the Go
	// server with socketauth, after a warm-up; the cheapest one drives
	// every measurement.
	calib := max(cfg.duration/2, 500*time.Millisecond)
	var costs []sioClientCost
	var clients *sioClients
	for _, kind := range sioClientKinds {
		n := 1
		if kind == "node" {
			n = max(1, len(plan.rest)) // one single-threaded process per core
		}
		c, err := startSioClients(ctx, cfg, kind, n, cfg.sioConc, plan.rest, cookies, users)
		if err != nil {
			return nil, err
		}
		var t sioTurn
		var res sioResult
		for _, d := range []time.Duration{max(cfg.warmup, calib), calib} {
			t, err = sioMeasure(ctx, c, procs[0], urls[0], d, true, plan)
			res.add(t.res)
			if err != nil {
				break
			}
		}
		cost := sioClientCost{kind: kind, perHS: t.clientPerHS(), failed: res.clientFailures()}
		if err != nil && cost.failed == 0 {
			c.close()
			return nil, fmt.Errorf("%s client against %s: %w", kind, sioServers[0].name, err)
		}
		costs = append(costs, cost)
		logf("sio: %s client %.0f µs CPU per handshake (%s handshakes/s, clients' cores %.0f%% busy; %d of %d handshakes failed on the client)",
			kind, t.clientPerHS(), si(t.handshakes()/t.wall.Seconds()), 100*t.restBusy, cost.failed, res.Attempts)
		if cost.failed == 0 && (clients == nil || cost.perHS < costs[slices.IndexFunc(costs, func(c sioClientCost) bool { return c.kind == clients.kind })].perHS) {
			if clients != nil {
				clients.close()
			}
			clients = c
		} else {
			c.close()
		}
	}
	if clients == nil {
		return nil, fmt.Errorf("every load client failed handshakes: %v", costs)
	}
	defer clients.close()
	// Warm-up: every server as long as a measured run or cfg.warmup,
	// whichever is longer (Node's JIT needs a few thousand handshakes).
	reps, turn := sioReps(cfg)
	warm := max(cfg.warmup, turn)
	for i, k := range sioServers {
		if _, err := sioMeasure(ctx, clients, procs[i], urls[i], warm, k.auth, plan); err != nil {
			return nil, fmt.Errorf("%s (warm-up): %w", k.name, err)
		}
	}

	// Repetitions: the Go pair and the Node pair alternate (alternate's
	// A B B A ...), and within each pair the server with authorization
	// and the baseline alternate too.
	turns := make([][]sioTurn, len(sioServers))
	pairRun := func(auth, base int) func(rep int) (float64, error) {
		return func(rep int) (float64, error) {
			order := []int{auth, base}
			if rep%2 == 1 {
				order = []int{base, auth}
			}
			for _, i := range order {
				t, err := sioMeasure(ctx, clients, procs[i], urls[i], turn, sioServers[i].auth, plan)
				if err != nil {
					return 0, fmt.Errorf("%s: %w", sioServers[i].name, err)
				}
				turns[i] = append(turns[i], t)
				logf("sio rep %d %s: %s handshakes/s, %.0f µs server CPU each (server %.0f%%, its core %.0f%%, client cores %.0f%%, client %.0f µs each)",
					rep+1, sioServers[i].key, si(t.handshakes()/t.wall.Seconds()), t.cpuPerHS(), 100*t.serverBusy, 100*t.serverCoreBusy, 100*t.restBusy, t.clientPerHS())
			}
			return 0, nil
		}
	}
	if _, _, err := alternate(reps, pairRun(0, 1), pairRun(2, 3)); err != nil {
		return nil, err
	}
	return sioTables(plan, f, turns, turn, warm, cfg.sioConc, clients.kind, costs), nil
}

// sioReps is the section's repetitions and the length of one run: the
// measured time per server that cfg.reps runs of cfg.duration would give,
// cut into runs of at most half a second. The machine's load (other
// processes, on the server's core too) drifts over seconds and changes a
// handshake's CPU cost by as much as 2×, so many short alternations pair
// each server with its counterpart under the same load.
func sioReps(cfg *config) (int, time.Duration) {
	turn := min(500*time.Millisecond, max(cfg.duration/2, 100*time.Millisecond))
	reps := int(time.Duration(cfg.reps) * cfg.duration / turn)
	return max(reps, 2*cfg.reps), turn
}

// sioTables builds the section's tables from the measured turns (indexed
// like sioServers).
func sioTables(plan cpuPlan, f *fixture, turns [][]sioTurn, turn, warm time.Duration, conc int, client string, costs []sioClientCost) []table {
	series := func(i int, fn func(sioTurn) float64) []float64 {
		out := make([]float64, len(turns[i]))
		for j, t := range turns[i] {
			out[j] = fn(t)
		}
		return out
	}
	reps := len(turns[0])
	var rows [][]string
	for i, k := range sioServers {
		var lat []time.Duration
		var forgedRefused, forged, wrong int64
		var serverBound, clientBound, shared int
		for _, t := range turns[i] {
			for _, l := range t.res.Lat {
				lat = append(lat, time.Duration(l*float64(time.Millisecond)))
			}
			forged += t.res.ForgedRefused + t.res.ForgedAccepted
			forgedRefused += t.res.ForgedRefused
			wrong += t.res.WrongUser
			switch {
			case t.serverBusy >= 0.9:
				serverBound++
			case t.clientBound():
				clientBound++
			}
			if t.serverBusy < 0.9 && t.serverCoreBusy >= 0.9 {
				shared++
			}
		}
		ls := loadStats{lat: lat}
		rate := series(i, func(t sioTurn) float64 { return t.handshakes() / t.wall.Seconds() })
		perCore := series(i, sioTurn.perCore)
		cpu := series(i, sioTurn.cpuPerHS)
		sb := series(i, func(t sioTurn) float64 { return t.serverBusy })
		scb := series(i, func(t sioTurn) float64 { return t.serverCoreBusy })
		rb := series(i, func(t sioTurn) float64 { return t.restBusy })
		cc := series(i, sioTurn.clientPerHS)
		control := fmt.Sprintf("%s of %s refused, 0 wrong users", si(float64(forgedRefused)), si(float64(forged)))
		if !k.auth {
			control = fmt.Sprintf("— (no authorization: %s forged accepted)", si(float64(forged)))
		}
		if wrong > 0 {
			control += fmt.Sprintf(", **%d wrong users**", wrong)
		}
		boundText := sioBoundText(reps, serverBound, clientBound, shared)
		rows = append(rows, []string{
			k.name,
			si(median(rate)),
			si(median(perCore)),
			ciText(cpu, "µs"),
			fmt.Sprintf("%s / %s", ms(ls.percentile(0.5)), ms(ls.percentile(0.99))),
			fmt.Sprintf("%.0f%% (%.0f%%) / %.0f%%", 100*median(sb), 100*median(scb), 100*median(rb)),
			fmt.Sprintf("%.0f µs", median(cc)),
			boundText,
			control,
		})
	}

	cost := func(auth, base int) []float64 {
		a, b := series(auth, sioTurn.cpuPerHS), series(base, sioTurn.cpuPerHS)
		d := make([]float64, len(a))
		for j := range a {
			d[j] = a[j] - b[j]
		}
		return d
	}
	goCost, nodeCost := cost(0, 1), cost(2, 3)
	costRatio := fiellerRatio(goCost, nodeCost)
	var auth, base string
	if r, err := pairedRatio(series(0, sioTurn.authorizedPerCore), series(2, sioTurn.authorizedPerCore)); err == nil {
		auth = fmt.Sprintf("| authorized handshakes per server core-second: Go ÷ Node | %s | ≥ 2× | %s |\n", r, verdictCI(r, 2, true))
	} else {
		auth = fmt.Sprintf("| authorized handshakes per server core-second: Go ÷ Node | %v | ≥ 2× | inconclusive |\n", err)
	}
	if r, err := pairedRatio(series(1, sioTurn.perCore), series(3, sioTurn.perCore)); err == nil {
		base = fmt.Sprintf("| handshakes per server core-second without authorization: Go ÷ Node | %s | (the frameworks alone) | |\n", r)
	}

	var kinds []string
	for _, c := range costs {
		k := fmt.Sprintf("%s %.0f µs", c.kind, c.perHS)
		if c.failed > 0 {
			k += fmt.Sprintf(" (not used: %d handshakes failed on the client)", c.failed)
		}
		kinds = append(kinds, k)
	}
	perHS := table{
		Title: sectionTitles["sio"],
		Note: fmt.Sprintf("A handshake: a new websocket connection (engine.io v4, no polling) carrying a session cookie, socket.io CONNECT to `/`, "+
			"and the server's `user` event, which names the user the server authorized; the load client checks it against the cookie's user, "+
			"then disconnects. Four servers, each pinned to the server core (CPU %s, taskset), all on the same Redis and %d sessions: "+
			"**Go** zishang520 socket.io v3.0.6 with `socketauth/socketio.Middleware` (namespace middleware; `socketauth.Authorizer` on the Bridge "+
			"with `stores/redis`, `Config.Deserialize` from an in-memory user table, which also joins the user's room) and the connection handler "+
			"emitting `socketio.User`; **Node** socket.io 4.8.4 with the documented recipe: `io.engine.use(onlyForHandshake(session(...)))` "+
			"(express-session 1.19, connect-redis 9), `io.engine.use(onlyForHandshake(passport.session()))` (passport 0.7, deserializeUser from the "+
			"same user table), 401 when `!req.user`, then `socket.join` of the user's room and `socket.emit('user', socket.request.user)`. "+
			"Each also runs **without authorization** (no middleware, no session, no room; it emits a constant anonymous user of the same shape): "+
			"the baseline whose difference is the cost of authorization. Neither side writes the session on a handshake (express-session only saves "+
			"or touches on `res.end`, which engine.io does not call on an upgrade; the Go middleware only reads); the Go server runs no Tracker here "+
			"(Node has none). "+
			"**Negative control, during every measurement**: 1 handshake in %d carries a forged cookie (a real session id whose signature has one character changed, the same length as the real cookie); "+
			"every one must be refused and any accepted forged cookie, wrong user, or refused valid cookie fails the run. "+
			"The servers refuse differently: Node's recipe ends the upgrade request (engine.io then closes the TCP connection before any websocket exists), "+
			"the Go namespace middleware answers the CONNECT with CONNECT_ERROR on an open engine.io connection, which costs the Go server more per refusal "+
			"(5%% of its handshakes; this favours Node). The servers without authorization get the same cookies and accept all of them. "+
			"**Load**: %s, %d handshakes in flight, pinned to CPU %s; of the three load clients it cost the least client CPU per handshake "+
			"among those that completed every handshake (measured against the Go server with socketauth after a warm-up: %s). "+
			"**Runs**: %d repetitions; in each, the Go pair and the Node pair take turns (alternating which goes first), and within a pair the server with "+
			"authorization and the baseline alternate; each run lasts %s, after a %s warm-up per server (the harness's log has every run). Many short runs, "+
			"because the machine is shared: other processes' load on both cores drifts over seconds and changes a handshake's CPU cost by up to 2–3×, "+
			"and a short repetition keeps each server next to its counterpart under the same load. Server CPU is user + system time of the server "+
			"process from /proc; a handshake is every one answered (accepted or refused, the forged 5%% included). "+
			"**Bound by**, per run: *server* when the server process used ≥ 90%% of its core; **client-bound** when it did not and the load generator's CPUs "+
			"were ≥ 90%% busy (by the client or anything else there): the client side, not the server, set the rate; *shared core* when the server used < 90%% "+
			"of its core while the core was ≥ 90%% busy (other processes of the machine took it). "+
			"Rates and latencies depend on that; the verdicts use only CPU per handshake, which depends on it less, though not at all only when the server is "+
			"saturated: at lower rates each handshake carries more of the event loop's fixed costs (more so for Node).",
			cpuList(plan.server), len(f.ids), sioForgedEvery, sioClientDesc(client), conc, cpuList(plan.rest), strings.Join(kinds, ", "),
			reps, turn, warm),
		Header: []string{"server", "handshakes/s", "handshakes per server core-second", "server CPU per handshake (mean [95% CI])", "p50 / p99",
			"server (its core) / client cores busy", "client CPU per handshake", "bound by", "forged cookies (negative control)"},
		Rows: rows,
	}
	if plan.note != "" {
		perHS.Note += " **Note:** " + plan.note + "."
	}
	perHS.Footer = fmt.Sprintf("| cost of authorization per handshake (server CPU with − without) | mean [95%% CI] |\n|---|---|\n"+
		"| Go: socketauth | %s |\n| Node: express-session + passport | %s |\n\n"+
		"| ratio | value | target | result |\n|---|---|---|---|\n"+
		"| authorization cost per handshake: Go ÷ Node | %s | ≤ 0.33× | %s |\n%s%s\n"+
		"The cost ratio is the ratio of the mean costs with a 95%% Fieller interval for paired samples (it needs no repetition's difference to be positive); "+
		"the other ratios are medians of the per-repetition ratios with a 95%% interval on their geometric mean. "+
		"Redis (a system service, not pinned) runs on any core, the server's included; its CPU is not in the server's figures. "+
		"The Go servers serve /debug/pprof/ (their address is in the harness's log) for a profile under load.",
		ciText(goCost, "µs"), ciText(nodeCost, "µs"), costRatio, verdictCI(costRatio, 1.0/3, false), auth, base)
	return []table{perHS}
}

func sioClientDesc(kind string) string {
	switch kind {
	case "raw":
		return "the raw Go client (engine.io v4 / socket.io v5 packets written out over gorilla/websocket), one process"
	case "zishang520":
		return "the zishang520 Go socket.io client v3.0.6, one process"
	}
	return "socket.io-client 4.8.4 on Node, one process per client core"
}

// ciText formats the mean of xs with its 95% confidence interval.
func ciText(xs []float64, unit string) string {
	m, h := meanCI(xs)
	if math.IsNaN(h) {
		return fmt.Sprintf("%.0f %s", m, unit)
	}
	return fmt.Sprintf("%.0f %s [%.0f, %.0f]", m, unit, m-h, m+h)
}

// fiellerRatio is the ratio of the means of paired samples a and b with
// its 95% Fieller confidence interval: the θ for which the paired
// differences a_i − θ·b_i have a mean indistinguishable from 0 (a Student
// t test). Unlike a ratio of each pair it needs no a_i to be positive.
// When b's mean is not clearly away from 0 the interval is unbounded
// (±Inf), and a verdict drawn from it is inconclusive. The median field
// holds the ratio of the means.
func fiellerRatio(a, b []float64) ratioStats {
	n := len(a)
	r := ratioStats{n: n, lo: math.Inf(-1), hi: math.Inf(1)}
	if n < 2 || len(b) != n {
		return r
	}
	ma, _ := meanCI(a)
	mb, _ := meanCI(b)
	var saa, sbb, sab float64
	for i := range a {
		saa += (a[i] - ma) * (a[i] - ma)
		sbb += (b[i] - mb) * (b[i] - mb)
		sab += (a[i] - ma) * (b[i] - mb)
	}
	df := float64(n - 1)
	saa, sbb, sab = saa/df, sbb/df, sab/df
	t := tQuantile975(n - 1)
	k := t * t / float64(n)
	r.median, r.mean = ma/mb, ma/mb
	// (ma − θ mb)² ≤ k (saa − 2θ sab + θ² sbb)  ⇔  A θ² + B θ + C ≤ 0
	A := mb*mb - k*sbb
	B := -2 * (ma*mb - k*sab)
	C := ma*ma - k*saa
	if A <= 0 {
		return r
	}
	disc := B*B - 4*A*C
	if disc < 0 {
		disc = 0
	}
	r.lo, r.hi = (-B-math.Sqrt(disc))/(2*A), (-B+math.Sqrt(disc))/(2*A)
	return r
}

// sioBoundText says what bounded a server's runs (see sioTables).
func sioBoundText(reps, server, client, shared int) string {
	var parts []string
	if server > 0 {
		parts = append(parts, fmt.Sprintf("server %d/%d", server, reps))
	}
	if client > 0 {
		parts = append(parts, fmt.Sprintf("**client-bound** %d/%d", client, reps))
	}
	if shared > 0 {
		parts = append(parts, fmt.Sprintf("shared core %d/%d", shared, reps))
	}
	if len(parts) == 0 {
		return "neither (latency)"
	}
	return strings.Join(parts, ", ")
}
