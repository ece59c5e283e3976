package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	pgstore "github.com/sessionbridge/sessionbridge/stores/postgres"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// touchBackend is the store of one configuration of the touch section,
// seeded, with the store server's write figures for it.
type touchBackend struct {
	store sessionbridge.Store
	// counts returns the server's cumulative write figures for the store.
	counts func(context.Context) (writeCounts, error)
	// settle makes the figures final once the traffic has stopped.
	settle func(context.Context) error
	// alive returns how many of the sessions the store still holds unexpired.
	alive func(context.Context) (int, error)
	close func()
}

// openTouchBackend opens a store of its own for one configuration (name
// tells it from the others) and seeds f in it.
func openTouchBackend(ctx context.Context, cfg *config, kind, name string, f *fixture) (*touchBackend, error) {
	switch kind {
	case "redis":
		return openRedisBackend(ctx, cfg, name, f)
	case "postgres":
		return openPGBackend(ctx, cfg, name, f)
	}
	return nil, fmt.Errorf("touch: unknown store %q", kind)
}

// startPrivateRedis starts a redis-server of the harness's own on a free
// loopback port, without persistence: INFO commandstats counts every
// client of a server, so a shared one (make services) would count other
// programs' commands too.
func startPrivateRedis(ctx context.Context, cfg *config, name string) (*redis.Client, *proc, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, nil, errors.New("redis-server is not on PATH (scripts/services.sh installs it): the write figures need a Redis server of their own")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	p, _, _, err := startProc(cfg, name, nil, false, false, bin,
		"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--protected-mode", "no", "--daemonize", "no", "--logfile", "")
	if err != nil {
		return nil, nil, err
	}
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port, ContextTimeoutEnabled: true})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if client.Ping(ctx).Err() == nil {
			return client, p, nil
		}
		select {
		case <-p.done:
			client.Close()
			return nil, nil, fmt.Errorf("%s exited: %v\n%s", name, p.err, p.tail())
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			client.Close()
			p.stop()
			return nil, nil, fmt.Errorf("%s did not answer PING: %v", name, ctx.Err())
		}
	}
}

func openRedisBackend(ctx context.Context, cfg *config, name string, f *fixture) (*touchBackend, error) {
	client, p, err := startPrivateRedis(ctx, cfg, "redis-"+name)
	if err != nil {
		return nil, err
	}
	closeAll := func() {
		client.Close()
		p.stop()
	}
	st := redisstore.New(client, redisstore.Options{Prefix: redisPrefix})
	if err := f.seed(ctx, st); err != nil {
		closeAll()
		return nil, err
	}
	// Which commands write, by Redis's own flags.
	infos, err := client.Command(ctx).Result()
	if err != nil {
		closeAll()
		return nil, err
	}
	writes := map[string]bool{}
	for name, ci := range infos {
		writes[strings.ToLower(name)] = slices.Contains(ci.Flags, "write")
	}
	keys := prefixed(redisPrefix, f.ids)
	return &touchBackend{
		store: st,
		counts: func(ctx context.Context) (writeCounts, error) {
			info, err := client.Info(ctx, "commandstats").Result()
			if err != nil {
				return nil, err
			}
			return redisWriteCounts(info, writes), nil
		},
		settle: func(context.Context) error { return nil }, // INFO is up to date
		alive: func(ctx context.Context) (int, error) {
			n, err := client.Exists(ctx, keys...).Result()
			return int(n), err
		},
		close: closeAll,
	}, nil
}

// redisWriteCounts picks the calls of the write commands out of INFO
// commandstats (lines "cmdstat_<name>:calls=<n>,usec=...").
func redisWriteCounts(info string, writes map[string]bool) writeCounts {
	c := writeCounts{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		name, isStat := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isStat || !writes[name] {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
		if n, err := strconv.ParseInt(calls, 10, 64); err == nil {
			c[strings.ToUpper(name)] = n
		}
	}
	return c
}

func openPGBackend(ctx context.Context, cfg *config, name string, f *fixture) (*touchBackend, error) {
	table := "sessbench_" + name
	app := "sessionbridge-bench-" + name
	stats, err := newPGPool(ctx, cfg.pgURL, 2, "")
	if err != nil {
		return nil, err
	}
	counts := func(ctx context.Context) (writeCounts, error) {
		var ins, upd, del int64
		err := stats.QueryRow(ctx, "SELECT n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables WHERE relid = $1::regclass", table).Scan(&ins, &upd, &del)
		return writeCounts{"INSERT": ins, "UPDATE": upd, "DELETE": del}, err
	}
	// A new table has statistics of its own, from zero.
	if _, err := stats.Exec(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
		stats.Close()
		return nil, err
	}
	drop := func() {
		_, _ = stats.Exec(context.Background(), "DROP TABLE IF EXISTS "+table)
		stats.Close()
	}
	// Seed through connections of their own, closed before the first
	// figures are read, so that those include the seeding.
	seedPool, err := newPGPool(ctx, cfg.pgURL, 4, app+"-seed")
	if err != nil {
		drop()
		return nil, err
	}
	seedStore := pgstore.New(seedPool, pgstore.Options{TableName: table})
	err = seedStore.CreateTable(ctx)
	if err == nil {
		err = f.seed(ctx, seedStore)
	}
	seedPool.Close()
	if err == nil {
		err = pgSettle(ctx, stats, app+"-seed", counts)
	}
	if err == nil {
		var c writeCounts
		if c, err = counts(ctx); err == nil && c["INSERT"] < int64(len(f.ids)) {
			err = fmt.Errorf("pg_stat_user_tables shows %d of the %d rows seeded: statistics not flushed (track_counts off?)", c["INSERT"], len(f.ids))
		}
	}
	if err != nil {
		drop()
		return nil, err
	}
	pool, err := newPGPool(ctx, cfg.pgURL, 16, app)
	if err != nil {
		drop()
		return nil, err
	}
	return &touchBackend{
		store:  pgstore.New(pool, pgstore.Options{TableName: table}),
		counts: counts,
		settle: func(ctx context.Context) error {
			pool.Close()
			return pgSettle(ctx, stats, app, counts)
		},
		alive: func(ctx context.Context) (int, error) {
			var n int
			now := float64(time.Now().UnixMilli()) / 1000
			err := stats.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE sid = ANY($1) AND expire >= to_timestamp($2)", f.ids, now).Scan(&n)
			return n, err
		},
		close: func() {
			pool.Close()
			drop()
		},
	}, nil
}

// pgSettle waits until the connections named app have ended (a backend
// flushes its table statistics when it exits; while it lives, up to a
// second or more later) and the figures no longer change.
func pgSettle(ctx context.Context, stats *pgxpool.Pool, app string, counts func(context.Context) (writeCounts, error)) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		var n int
		if err := stats.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) || !sleepCtx(ctx, 50*time.Millisecond) {
			return fmt.Errorf("connections %s still open after 15 s", app)
		}
	}
	prev, err := counts(ctx)
	for err == nil {
		if !sleepCtx(ctx, 250*time.Millisecond) {
			return ctx.Err()
		}
		var c writeCounts
		if c, err = counts(ctx); err == nil && maps.Equal(c, prev) {
			return nil
		}
		prev = c
		if time.Now().After(deadline) {
			return errors.New("table statistics still changing after 15 s")
		}
	}
	return err
}

func touchTputTable(p touchParams, cfg *config) table {
	return table{
		Title: "6. TouchAfter: request throughput (secondary)",
		Note: fmt.Sprintf("Secondary to the writes above: what the touches cost in requests per second on this machine. "+
			"Per store, two Go servers in processes of their own, `Bridge.LoadAndSave` (resave false, saveUninitialized false, maxAge %s) on the same store server, "+
			"one with TouchAfter 0 and one with TouchAfter %s, each on %d sessions of its own (just saved); GET /me from the bench's load generator "+
			"(%d keep-alive connections, closed loop, every answer checked). "+
			"They take turns of %s under load, alternating which goes first, %d turns each after a %s warm-up; the interval is over those turns "+
			"(mean ± 95%% confidence interval, Student t), and the ratio is the geometric mean of the per-pair ratios (turn k of both servers ran back to back) with its 95%% CI. "+
			"Redis here is again a redis-server of the harness's own. The machine is shared and noisy: read the intervals, not the means alone.",
			simDur(p.maxAge), simDur(slices.Max(p.afters)), p.tputSessions, cfg.httpConns, p.turn, p.runs, cfg.warmup),
		Header: []string{"store", "TouchAfter", "requests/s (mean ± 95% CI)", "median (min–max)", "server CPU per request", "turns", "vs TouchAfter 0 (paired turns)"},
	}
}

// touchThroughput runs the two servers (TouchAfter 0 and the longest) of
// one store in turns and returns their rows.
func touchThroughput(ctx context.Context, cfg *config, p touchParams, kind string) ([][]string, error) {
	afters := [2]time.Duration{0, slices.Max(p.afters)}
	redisAddr := cfg.redisAddr
	var stores [2]sessionbridge.Store
	var names [2]string
	switch kind {
	case "redis":
		client, rp, err := startPrivateRedis(ctx, cfg, "redis-touch-throughput")
		if err != nil {
			return nil, err
		}
		defer rp.stop()
		defer client.Close()
		redisAddr = client.Options().Addr
		for side := range 2 {
			names[side] = fmt.Sprintf("sessbench-tput%d-%d:", os.Getpid(), side)
			stores[side] = redisstore.New(client, redisstore.Options{Prefix: names[side]})
		}
	case "postgres":
		pool, err := newPGPool(ctx, cfg.pgURL, 4, "")
		if err != nil {
			return nil, err
		}
		defer pool.Close()
		for side := range 2 {
			names[side] = fmt.Sprintf("sessbench_tput%d_%d", os.Getpid(), side)
			_, _ = pool.Exec(ctx, "DROP TABLE IF EXISTS "+names[side])
			defer pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+names[side])
			st := pgstore.New(pool, pgstore.Options{TableName: names[side]})
			if err := st.CreateTable(ctx); err != nil {
				return nil, err
			}
			stores[side] = st
		}
	default:
		return nil, fmt.Errorf("touch: unknown store %q", kind)
	}
	var loaders [2]*httpLoader
	var servers [2]*proc
	for side := range 2 {
		now := time.Now()
		f, err := newFixtureAt(p.tputSessions, p.maxAge, func(int) time.Time { return now })
		if err != nil {
			return nil, err
		}
		if err := f.seed(ctx, stores[side]); err != nil {
			return nil, err
		}
		var url string
		servers[side], url, err = startGoServer(ctx, cfg, fmt.Sprintf("go-touch-%s-%d", kind, side),
			"-serve", "touch", "-redis", redisAddr, "-postgres", cfg.pgURL, "-touch-store", kind,
			"-touch-name", names[side], "-touch-maxage", p.maxAge.String(), "-touch-after", afters[side].String())
		if err != nil {
			return nil, err
		}
		defer servers[side].stop()
		if loaders[side], err = newHTTPLoader(url, "/me", cfg.httpConns, f.headers, f.users); err != nil {
			return nil, err
		}
		defer loaders[side].close()
		if _, err := loaders[side].run(ctx, cfg.warmup); err != nil {
			return nil, fmt.Errorf("TouchAfter %s server: %w", simDur(afters[side]), err)
		}
	}
	var rates [2][]float64
	var cpu [2]loadStats
	for k := range p.runs {
		for j := range 2 {
			side := (j + k) % 2
			cpu0 := servers[side].cpu()
			s, err := loaders[side].run(ctx, p.turn)
			if err != nil {
				return nil, fmt.Errorf("TouchAfter %s server: %w", simDur(afters[side]), err)
			}
			rates[side] = append(rates[side], s.rate())
			cpu[side].ops += s.ops
			cpu[side].cpu += servers[side].cpu() - cpu0
		}
	}
	rows := make([][]string, 2)
	for side := range 2 {
		m, h := meanCI(rates[side])
		lo, med, hi := spread(rates[side])
		vs := "—"
		if side == 1 {
			// Ratios average in log space (pairedRatio): a turn twice as
			// fast and one half as fast cancel out.
			r, err := pairedRatio(rates[1], rates[0])
			if err != nil {
				return nil, err
			}
			vs = fmt.Sprintf("%.2f× (95%% CI %.2f–%.2f×)", r.mean, r.lo, r.hi)
		}
		rows[side] = []string{storeName(kind), simDur(afters[side]), fmt.Sprintf("%s ± %s", si(m), si(h)),
			fmt.Sprintf("%s (%s–%s)", si(med), si(lo), si(hi)), cpu[side].cpuPerOp(), fmt.Sprint(len(rates[side])), vs}
		logf("%s TouchAfter %s: %s ± %s req/s", kind, simDur(afters[side]), si(m), si(h))
	}
	return rows, nil
}
