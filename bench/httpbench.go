package main

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// benchHTTP compares GET /me on the Go server (Bridge.Middleware + Redis
// store + a handler writing passport.user) and on the Node app (express +
// express-session + connect-redis + passport), both in their own process,
// on the same Redis and sessions, driven by the same load generator with
// the same number of keep-alive connections. The two servers run side by
// side and take turns under load, so both see the same background load.
func benchHTTP(ctx context.Context, cfg *config) ([]table, error) {
	p, err := startPair(ctx, cfg, "http", "http-server.js")
	if err != nil {
		return nil, err
	}
	defer p.stop()
	f, goProc, nodeProc, goURL, nodeURL := p.f, p.goProc, p.nodeProc, p.goURL, p.nodeURL

	var loaders [2]*httpLoader
	for i, u := range []string{goURL, nodeURL} {
		if loaders[i], err = newHTTPLoader(u, "/me", cfg.httpConns, f.headers, f.users); err != nil {
			return nil, err
		}
		defer loaders[i].close()
		// Warm up (Node's JIT, Go's pools) and check every answer on the way.
		if _, err := loaders[i].run(ctx, cfg.warmup); err != nil {
			return nil, fmt.Errorf("%s: %w", []string{"Go server", "Node server"}[i], err)
		}
	}
	// Turns of half a second, alternating which server goes first, until
	// each has had 2.5 × duration under load.
	total := cfg.duration * 5 / 2
	const turn = 500 * time.Millisecond
	servers := [2]*proc{goProc, nodeProc}
	var st [2]loadStats
	for k := 0; st[0].elapsed < total || st[1].elapsed < total; k++ {
		for j := range 2 {
			side := (j + k) % 2
			cpu0 := servers[side].cpu()
			s, err := loaders[side].run(ctx, turn)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", []string{"Go server", "Node server"}[side], err)
			}
			s.cpu = servers[side].cpu() - cpu0
			st[side].add(s)
		}
	}
	g, n := &st[0], &st[1]
	q := g.rate() / n.rate()
	logf("GET /me: Go %s req/s, Node %s req/s, %.2f×", si(g.rate()), si(n.rate()), q)
	t := table{
		Title: sectionTitles["http"],
		Note: fmt.Sprintf("GET /me with a valid session cookie, answered with the passport user as JSON (the same body, about %d bytes, on both sides, checked on every response). "+
			"Go: `Bridge.Middleware` + `stores/redis` + a handler writing `passport.user`, in its own process. "+
			"Node: express 5.3.0 + express-session 1.19.0 (resave false, saveUninitialized false) + connect-redis 9.0.0 + passport 0.7.0 "+
			"(`passport.session()`, `deserializeUser` from an in-memory map, `res.json(req.user)`), NODE_ENV=production. "+
			"Same Redis and %d sessions; the bench's Go load generator with %d keep-alive connections per server; "+
			"the servers take turns of %s under load (after a %s warm-up each) until each has had %s.",
			len(f.users[0]), len(f.ids), cfg.httpConns, turn, cfg.warmup, total),
		Header: []string{"server", "requests/s", "p50", "p99", "requests", "server CPU per request"},
		Rows: [][]string{
			{"Go (sessionbridge)", si(g.rate()), ms(g.percentile(0.5)), ms(g.percentile(0.99)), si(float64(g.ops)), g.cpuPerOp()},
			{"Node (express + passport)", si(n.rate()), ms(n.percentile(0.5)), ms(n.percentile(0.99)), si(float64(n.ops)), n.cpuPerOp()},
		},
		Footer: fmt.Sprintf("| ratio | target | result |\n|---|---|---|\n| requests/s: Go %s Node | ≥ 5× | %s |\n| requests per server CPU-second: Go %s Node | (for information) | |\n\n"+
			"Per request express-session also touches the session (connect-redis `EXPIRE`), as it does by default for an unmodified session with a cookie maxAge; "+
			"the Go middleware only reads (one `GET`). Both servers, Redis and the load generator share the machine's cores. "+
			"Server CPU per request (user + system time of the server process, from /proc) does not depend on what else the machine was doing.",
			ratio(q), verdict(q, 5, false), ratio(g.perCPU()/n.perCPU())),
	}
	return []table{t}, nil
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

// pair is a Go server and its Node counterpart on the same Redis and the
// same seeded sessions, for a side-by-side run.
type pair struct {
	f                *fixture
	goProc, nodeProc *proc
	goURL, nodeURL   string
	stops            []func()
}

func (p *pair) stop() {
	for i := len(p.stops) - 1; i >= 0; i-- {
		p.stops[i]()
	}
}

// startPair seeds the sessions and starts `bench -serve mode` and
// bench/node/<script>.
func startPair(ctx context.Context, cfg *config, mode, script string) (*pair, error) {
	p := &pair{}
	var err error
	if p.f, err = newFixture(cfg.sessions); err != nil {
		return nil, err
	}
	cleanup, err := seedRedis(ctx, cfg, p.f)
	if err != nil {
		return nil, err
	}
	p.stops = append(p.stops, cleanup)
	path, err := nodeScript(cfg, script)
	if err != nil {
		p.stop()
		return nil, err
	}
	if p.goProc, p.goURL, err = startGoServer(ctx, cfg, "go-"+mode, "-serve", mode); err != nil {
		p.stop()
		return nil, err
	}
	p.stops = append(p.stops, p.goProc.stop)
	p.nodeProc, p.nodeURL, err = startServer(ctx, cfg, "node-"+mode, []string{
		"REDIS_URL=redis://" + cfg.redisAddr, "PREFIX=" + redisPrefix, "SECRET=" + benchSecret, fmt.Sprintf("USERS=%d", cfg.sessions),
		"NODE_ENV=production",
	}, "node", path)
	if err != nil {
		p.stop()
		return nil, err
	}
	p.stops = append(p.stops, p.nodeProc.stop)
	return p, nil
}
