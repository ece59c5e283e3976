package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/socketauth"
	"github.com/sessionbridge/sessionbridge/socketauth/socketio"
)

// sioServer is the Go socket.io server: zishang520 socket.io v3 with, when
// auth is set, the socketauth/socketio namespace middleware on the Redis
// store (which also puts each socket in its user's room). /debug/heap
// answers the live heap after two GCs, for the memory section.
func sioServer(bridge *sessionbridge.Bridge, auth bool) (http.Handler, func(), error) {
	server := socket.NewServer(nil, nil)
	if auth {
		a, err := socketauth.New(socketauth.Config{Source: bridge})
		if err != nil {
			return nil, nil, err
		}
		server.Use(socketio.Middleware(a, socketio.Options{}))
	}
	_ = server.On("connection", func(...any) {})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", server.ServeHandler(nil))
	mux.HandleFunc("GET /debug/heap", func(w http.ResponseWriter, _ *http.Request) {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fmt.Fprintf(w, `{"heapAlloc":%d,"goroutines":%d}`, m.HeapAlloc, runtime.NumGoroutine())
	})
	return mux, func() { server.Close(nil) }, nil
}

// sioClients are the Node load client processes (bench/node/sio-client.js),
// each speaking JSON lines on stdin/stdout.
type sioClients struct {
	procs []*proc
	in    []io.WriteCloser
	out   []*bufio.Reader
}

func startSioClients(ctx context.Context, cfg *config, n, concurrency int, cookies []string) (*sioClients, error) {
	script, err := nodeScript(cfg, "sio-client.js")
	if err != nil {
		return nil, err
	}
	c := &sioClients{}
	for i := range n {
		p, pw, out, err := startProc(cfg, fmt.Sprintf("sio-client-%d", i), nil, true, true, "node", script)
		if err != nil {
			c.close()
			return nil, err
		}
		c.procs, c.in, c.out = append(c.procs, p), append(c.in, pw), append(c.out, out)
	}
	// Each client cycles through its own share of the sessions.
	_, err = c.all(ctx, func(i int) any {
		var mine []string
		for k := i; k < len(cookies); k += n {
			mine = append(mine, cookies[k])
		}
		return map[string]any{"cookies": mine, "concurrency": concurrency}
	})
	if err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// all sends each client its command and returns every answer.
func (c *sioClients) all(ctx context.Context, cmd func(i int) any) ([]json.RawMessage, error) {
	for i, w := range c.in {
		b, _ := json.Marshal(cmd(i))
		go w.Write(append(b, '\n')) // the cookies may not fit a pipe buffer
	}
	answers := make([]json.RawMessage, len(c.procs))
	for i, p := range c.procs {
		line, err := readLine(ctx, p, c.out[i], 2*time.Minute)
		if err != nil {
			return nil, err
		}
		answers[i] = json.RawMessage(line)
	}
	return answers, nil
}

// cpu is the CPU time all the clients have used.
func (c *sioClients) cpu() time.Duration {
	var t time.Duration
	for _, p := range c.procs {
		t += p.cpu()
	}
	return t
}

func (c *sioClients) close() {
	for _, w := range c.in {
		w.Close()
	}
	for _, p := range c.procs {
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.stop()
		}
	}
}

type sioRun struct {
	Connected int64            `json:"connected"`
	Errors    map[string]int64 `json:"errors"`
	Ms        float64          `json:"ms"`
	Lat       []float64        `json:"lat"`
}

// run has every client connect and disconnect against url for d and adds
// up what they did.
func (c *sioClients) run(ctx context.Context, url string, d time.Duration) (loadStats, map[string]int64, error) {
	answers, err := c.all(ctx, func(int) any { return map[string]any{"run": url, "ms": d.Milliseconds()} })
	if err != nil {
		return loadStats{}, nil, err
	}
	var st loadStats
	errs := map[string]int64{}
	var longest time.Duration
	for _, a := range answers {
		var r sioRun
		if err := json.Unmarshal(a, &r); err != nil {
			return st, nil, fmt.Errorf("sio-client answered %s: %w", a, err)
		}
		st.ops += r.Connected
		longest = max(longest, time.Duration(r.Ms*float64(time.Millisecond)))
		for _, l := range r.Lat {
			st.lat = append(st.lat, time.Duration(l*float64(time.Millisecond)))
		}
		for k, v := range r.Errors {
			errs[k] += v
		}
	}
	st.elapsed = longest
	return st, errs, nil
}

// benchSocketIO compares authorized socket.io connections per second: the
// Go server (zishang520 + socketauth/socketio, Redis store) and Node
// socket.io 4.8 with the documented express-session + passport recipe, on
// the same Redis and sessions, driven by the same Node load clients.
func benchSocketIO(ctx context.Context, cfg *config) ([]table, error) {
	p, err := startPair(ctx, cfg, "sio", "sio-server.js")
	if err != nil {
		return nil, err
	}
	defer p.stop()
	f, goProc, nodeProc, goURL, nodeURL := p.f, p.goProc, p.nodeProc, p.goURL, p.nodeURL
	clients, err := startSioClients(ctx, cfg, cfg.sioClients, cfg.sioConc, f.headers)
	if err != nil {
		return nil, err
	}
	defer clients.close()

	urls := [2]string{goURL, nodeURL}
	names := [2]string{"Go server", "Node server"}
	for i, u := range urls {
		_, errs, err := clients.run(ctx, u, cfg.warmup)
		if err != nil {
			return nil, err
		}
		if len(errs) > 0 {
			return nil, fmt.Errorf("%s refused connections during the warm-up: %v", names[i], errs)
		}
	}
	total := cfg.duration * 5 / 2
	const turn = time.Second
	servers := [2]*proc{goProc, nodeProc}
	var st [2]loadStats
	var clientCPU [2]time.Duration
	var errs [2]map[string]int64
	for k := 0; st[0].elapsed < total || st[1].elapsed < total; k++ {
		for j := range 2 {
			side := (j + k) % 2
			cpu0, ccpu0 := servers[side].cpu(), clients.cpu()
			s, e, err := clients.run(ctx, urls[side], turn)
			if err != nil {
				return nil, err
			}
			s.cpu = servers[side].cpu() - cpu0
			clientCPU[side] += clients.cpu() - ccpu0
			st[side].add(s)
			if len(e) > 0 {
				errs[side] = e
			}
		}
	}
	for i := range 2 {
		if errs[i] != nil {
			return nil, fmt.Errorf("%s refused connections: %v", names[i], errs[i])
		}
	}
	g, n := &st[0], &st[1]
	q := g.rate() / n.rate()
	logf("socket.io: Go %s conn/s, Node %s conn/s, %.2f×; server CPU/conn Go %s Node %s; client CPU/conn Go %.0f µs Node %.0f µs",
		si(g.rate()), si(n.rate()), q, g.cpuPerOp(), n.cpuPerOp(),
		float64(clientCPU[0].Microseconds())/float64(g.ops), float64(clientCPU[1].Microseconds())/float64(n.ops))
	t := table{
		Title: sectionTitles["sio"],
		Note: fmt.Sprintf("Authorized connections per second: connect with the session cookie, wait for `connect`, disconnect, repeat. "+
			"Load: %d Node processes running socket.io-client 4.8.4 (websocket transport, no reconnection), %d connects in flight each; "+
			"the servers take turns of %s (after a %s warm-up each) until each has had %s. "+
			"Go: zishang520 socket.io v3.0.6 + `socketauth/socketio.Middleware` (socketauth.Authorizer, `stores/redis`), which also joins the user's room. "+
			"Node: socket.io 4.8.4 with the documented recipe: `io.engine.use(onlyForHandshake(sessionMiddleware))`, "+
			"`io.engine.use(onlyForHandshake(passport.session()))`, 401 when `!req.user`, and the socket joins its user's room on connection. "+
			"Same Redis and %d sessions.",
			cfg.sioClients, cfg.sioConc, turn, cfg.warmup, total, len(f.ids)),
		Header: []string{"server", "connections/s", "connect p50", "connect p99", "connections", "server CPU per connection"},
		Rows: [][]string{
			{"Go (zishang520 + socketauth)", si(g.rate()), ms(g.percentile(0.5)), ms(g.percentile(0.99)), si(float64(g.ops)), g.cpuPerOp()},
			{"Node (socket.io + express-session + passport)", si(n.rate()), ms(n.percentile(0.5)), ms(n.percentile(0.99)), si(float64(n.ops)), n.cpuPerOp()},
		},
		Footer: fmt.Sprintf("| ratio | target | result |\n|---|---|---|\n| connections/s: Go %s Node | ≥ 3× | %s |\n| connections per server CPU-second: Go %s Node | (for information) | |\n\n"+
			"The load clients used %.0f µs (Go turns) and %.0f µs (Node turns) of CPU per connection on the same cores as the servers, "+
			"so on this machine they, not the servers alone, bound the rates; server CPU per connection (from /proc) is the servers' own cost.",
			ratio(q), verdict(q, 3, false), ratio(g.perCPU()/n.perCPU()),
			float64(clientCPU[0].Microseconds())/float64(g.ops), float64(clientCPU[1].Microseconds())/float64(n.ops)),
	}
	return []table{t}, nil
}

// benchMemory measures the live heap per connected, authorized socket on
// the Go server with socketauth and without it (no middleware: every
// socket is accepted), holding cfg.memSockets sockets open with the same
// cookies; the difference is what socketauth costs per socket.
func benchMemory(ctx context.Context, cfg *config) ([]table, error) {
	f, err := newFixture(cfg.sessions)
	if err != nil {
		return nil, err
	}
	cleanup, err := seedRedis(ctx, cfg, f)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	clients, err := startSioClients(ctx, cfg, 1, 32, f.headers)
	if err != nil {
		return nil, err
	}
	defer clients.close()

	n := cfg.memSockets
	var perSocket [2]float64
	var detail [2]string
	for i, auth := range []bool{false, true} {
		p, url, err := startGoServer(ctx, cfg, fmt.Sprintf("go-sio-mem-%v", auth), "-serve", "sio", fmt.Sprintf("-sio-auth=%v", auth))
		if err != nil {
			return nil, err
		}
		// Warm up: one round of connects and disconnects, so pools and
		// maps the server keeps are already grown.
		if _, _, err := clients.run(ctx, url, 500*time.Millisecond); err != nil {
			p.stop()
			return nil, err
		}
		before, err := heap(ctx, url)
		if err != nil {
			p.stop()
			return nil, err
		}
		var held struct {
			Held   int              `json:"held"`
			Errors map[string]int64 `json:"errors"`
		}
		a, err := clients.all(ctx, func(int) any { return map[string]any{"hold": url, "count": n} })
		if err == nil {
			err = json.Unmarshal(a[0], &held)
		}
		if err == nil && held.Held != n {
			err = fmt.Errorf("held %d of %d sockets: %v", held.Held, n, held.Errors)
		}
		if err != nil {
			p.stop()
			return nil, err
		}
		after, err := heap(ctx, url)
		if err != nil {
			p.stop()
			return nil, err
		}
		if _, err := clients.all(ctx, func(int) any { return map[string]any{"release": true} }); err != nil {
			p.stop()
			return nil, err
		}
		p.stop()
		perSocket[i] = float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
		detail[i] = fmt.Sprintf("heap %s → %s, goroutines %d → %d", kib(float64(before.HeapAlloc)), kib(float64(after.HeapAlloc)), before.Goroutines, after.Goroutines)
		logf("memory (socketauth %v): %.0f B/socket (%s)", auth, perSocket[i], detail[i])
	}
	attributable := perSocket[1] - perSocket[0]
	t := table{
		Title: sectionTitles["memory"],
		Note: fmt.Sprintf("Live heap (`runtime.ReadMemStats` HeapAlloc after two `runtime.GC()`) of the Go socket.io server before and after %d sockets connected "+
			"(one Node client, websocket transport, the same session cookies), divided by %d; once with `socketauth/socketio.Middleware`, "+
			"once with no middleware (every socket accepted). The difference is socketauth's cost per socket; the server's own cost cancels out. "+
			"Goroutine stacks are not heap and are not counted.", n, n),
		Header: []string{"Go server", "heap per socket", "detail"},
		Rows: [][]string{
			{"without socketauth", fmt.Sprintf("%.0f B", perSocket[0]), detail[0]},
			{"with socketauth", fmt.Sprintf("%.0f B", perSocket[1]), detail[1]},
		},
		Footer: fmt.Sprintf("| attributable to socketauth | target | result |\n|---|---|---|\n| %.0f B per socket | ≤ 1024 B | %s |",
			attributable, verdict(attributable, 1024, true)),
	}
	return []table{t}, nil
}

type heapStats struct {
	HeapAlloc  uint64 `json:"heapAlloc"`
	Goroutines int    `json:"goroutines"`
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
