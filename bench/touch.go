package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	pgstore "github.com/sessionbridge/sessionbridge/stores/postgres"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// The touch section measures what Config.TouchAfter saves: the store
// writes of Bridge.LoadAndSave (resave false, saveUninitialized false)
// under sessions that each send a request every few seconds, with
// TouchAfter 0 (express-session: a touch per unchanged request) and
// longer, counted by the store server itself. Then, secondarily, the
// request throughput with and without TouchAfter.
//
// Time runs faster than the clock by touchParams.speed: every duration
// (maxAge, TouchAfter, the pauses between requests, the run) is divided by
// it, so that twenty minutes of traffic take two (at -touch-speed 10). The
// clock itself is the real one, because Redis expires keys by its own
// clock: a fake clock in the Bridge and the store would leave Redis TTLs
// (and the PTTL the store dates touches by) running at the real pace.

// touchStores are the stores the section measures (of those -stores lists).
var touchStores = []string{"redis", "postgres"}

// touchParams describe the simulated traffic. Durations are simulated
// time unless said otherwise.
type touchParams struct {
	sessions           int             // logged-in sessions per configuration
	speed              int             // simulated seconds per real second
	run                time.Duration   // length of each counted run
	maxAge             time.Duration   // express-session's cookie.maxAge
	afters             []time.Duration // the TouchAfter values; the first is 0
	thinkMin, thinkMax time.Duration   // pause between two requests of a session
	runs               int             // throughput runs per side
	turn               time.Duration   // real length of one throughput run
	tputSessions       int             // sessions per throughput server
}

func touchParamsFor(cfg *config) touchParams {
	return touchParams{
		sessions: cfg.touchSessions,
		speed:    cfg.touchSpeed,
		run:      cfg.touchRun,
		maxAge:   30 * time.Minute,
		afters:   []time.Duration{0, time.Minute, 5 * time.Minute, 10 * time.Minute},
		thinkMin: 2 * time.Second,
		thinkMax: 8 * time.Second,
		runs:     cfg.touchRuns,
		turn:     max(cfg.duration/2, time.Second),

		tputSessions: cfg.sessions,
	}
}

// real is d on the real clock.
func (p touchParams) real(d time.Duration) time.Duration { return d / time.Duration(p.speed) }

// savedAt spreads the sessions' last saves evenly over the longest
// TouchAfter before now, in whole real seconds (so that the stores'
// whole-second TTLs hold them exactly): the spread a steady stream of
// requests leaves, so the counting can start at once.
func (p touchParams) savedAt(now time.Time) func(i int) time.Time {
	span := p.real(slices.Max(p.afters))
	return func(i int) time.Time {
		ago := time.Duration(float64(span) * (float64(i) + 0.5) / float64(p.sessions))
		return now.Add(-ago.Truncate(time.Second))
	}
}

func (p touchParams) check() error {
	switch {
	case p.sessions < 1 || p.speed < 1 || p.runs < 2:
		return errors.New("touch: need -touch-sessions ≥ 1, -touch-speed ≥ 1, -touch-runs ≥ 2 (5 for an interval worth reading)")
	case p.real(p.maxAge)%time.Second != 0:
		return fmt.Errorf("touch: maxAge %s at speed %d is not whole seconds", p.maxAge, p.speed)
	case p.real(p.run) <= 0 || p.real(p.thinkMin) <= 0:
		return errors.New("touch: run and pauses too short for the speed")
	}
	return nil
}

// simDur prints a simulated duration.
func simDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%time.Minute == 0:
		return fmt.Sprintf("%d min", d/time.Minute)
	default:
		return d.String()
	}
}

// touchCount is one counted run.
type touchCount struct {
	store      string
	after      time.Duration // simulated TouchAfter
	requests   int64
	failed     int64  // requests not answered 200 with their user
	firstFail  string // why the first of them failed
	writes     int64  // store writes by the server's figures
	detail     string // the figures the writes add up
	alive      int    // sessions still in the store at the end
	sessions   int
	getVersion bool // the store is a ConditionalStore
}

// benchTouch is the touch section.
func benchTouch(ctx context.Context, cfg *config) ([]table, error) {
	p := touchParamsFor(cfg)
	if err := p.check(); err != nil {
		return nil, err
	}
	var kinds []string
	for _, s := range cfg.stores {
		if slices.Contains(touchStores, s) {
			kinds = append(kinds, s)
		}
	}
	if len(kinds) == 0 {
		return nil, fmt.Errorf("touch measures %v; -stores names neither", touchStores)
	}
	logf("counting store writes: %d configurations at once, %s of traffic each (%s real)",
		len(kinds)*len(p.afters), simDur(p.run), p.real(p.run))
	counts, errs := countAll(ctx, cfg, p, kinds)
	writes := touchWritesTable(p, counts, errs)
	tput := touchTputTable(p, cfg)
	var failed []string
	for i, err := range errs {
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s TouchAfter %s: %v", counts[i].store, simDur(counts[i].after), err))
		}
	}
	for _, kind := range kinds {
		if ctx.Err() != nil {
			return []table{writes, tput}, ctx.Err()
		}
		rows, err := touchThroughput(ctx, cfg, p, kind)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s throughput: %v", kind, err))
			tput.Rows = append(tput.Rows, []string{storeName(kind), "", "", "", "", "", "not measured: " + err.Error()})
			continue
		}
		tput.Rows = append(tput.Rows, rows...)
	}
	if len(failed) > 0 {
		return []table{writes, tput}, errors.New(fmt.Sprint(failed))
	}
	return []table{writes, tput}, nil
}

func storeName(kind string) string {
	return map[string]string{"redis": "Redis", "postgres": "PostgreSQL"}[kind]
}

// countAll runs every (store, TouchAfter) configuration at once, each on a
// store of its own, and returns their counts in order.
func countAll(ctx context.Context, cfg *config, p touchParams, kinds []string) ([]touchCount, []error) {
	n := len(kinds) * len(p.afters)
	counts, errs := make([]touchCount, n), make([]error, n)
	var wg sync.WaitGroup
	for k, kind := range kinds {
		for a, after := range p.afters {
			i := k*len(p.afters) + a
			wg.Go(func() {
				counts[i], errs[i] = countTouches(ctx, cfg, p, kind, after, fmt.Sprintf("touch%d_%d", os.Getpid(), a))
				counts[i].store, counts[i].after = kind, after
			})
		}
	}
	wg.Wait()
	return counts, errs
}

// countTouches seeds p.sessions sessions in a store of their own, serves
// them with LoadAndSave and TouchAfter = after, drives them for p.run and
// returns what the store server counted meanwhile.
func countTouches(ctx context.Context, cfg *config, p touchParams, kind string, after time.Duration, name string) (touchCount, error) {
	c := touchCount{sessions: p.sessions}
	f, err := newFixtureAt(p.sessions, p.real(p.maxAge), p.savedAt(time.Now()))
	if err != nil {
		return c, err
	}
	be, err := openTouchBackend(ctx, cfg, kind, name, f)
	if err != nil {
		return c, err
	}
	defer be.close()
	_, c.getVersion = be.store.(sessionbridge.ConditionalStore)
	before, err := be.counts(ctx)
	if err != nil {
		return c, err
	}
	bridge, err := sessionbridge.New(sessionbridge.Config{
		Secrets:    []string{benchSecret},
		Store:      be.store,
		Cookie:     sessionbridge.CookieOptions{MaxAge: p.real(p.maxAge)},
		TouchAfter: p.real(after),
		// Resave and SaveUninitialized false: their zero values.
	})
	if err != nil {
		return c, err
	}
	c.requests, c.failed, c.firstFail, err = driveSessions(ctx, bridge, f, p)
	if err != nil {
		return c, err
	}
	if err := be.settle(ctx); err != nil {
		return c, err
	}
	after2, err := be.counts(ctx)
	if err != nil {
		return c, err
	}
	c.writes, c.detail = after2.since(before)
	if c.alive, err = be.alive(ctx); err != nil {
		return c, err
	}
	return c, nil
}

// driveSessions serves f's sessions with bridge.LoadAndSave on a loopback
// server and has each session send GET /me after a random pause, again
// and again, for p.run. Every answer must be 200 with the session's user.
func driveSessions(ctx context.Context, bridge *sessionbridge.Bridge, f *fixture, p touchParams) (requests, failed int64, firstFail string, err error) {
	mux := http.NewServeMux()
	mux.Handle("GET /me", bridge.LoadAndSave(meHandler()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, "", err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	tr := &http.Transport{MaxIdleConnsPerHost: len(f.ids), DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	url := "http://" + ln.Addr().String() + "/me"
	thinkMin, thinkMax := p.real(p.thinkMin), p.real(p.thinkMax)
	deadline := time.Now().Add(p.real(p.run))
	var reqs, fails atomic.Int64
	var failOnce sync.Once
	var wg sync.WaitGroup
	for i := range f.ids {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 0x70c4))
			pause := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo)+1)) }
			if !sleepCtx(ctx, pause(0, thinkMax)) {
				return
			}
			for time.Now().Before(deadline) {
				reqs.Add(1)
				if why := getUser(ctx, client, url, f.headers[i], f.users[i]); why != "" {
					fails.Add(1)
					failOnce.Do(func() { firstFail = fmt.Sprintf("session #%d: %s", i, why) })
				}
				if !sleepCtx(ctx, pause(thinkMin, thinkMax)) {
					return
				}
			}
		})
	}
	wg.Wait()
	// Client side first: a connection the client opened but never used
	// would hold Shutdown for 5 s.
	tr.CloseIdleConnections()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx) // every handler, and so every store write, has returned
	return reqs.Load(), fails.Load(), firstFail, ctx.Err()
}

// getUser sends one GET /me and says what was wrong with the answer, ""
// if it was 200 with the user.
func getUser(ctx context.Context, client *http.Client, url, cookie string, user []byte) string {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err.Error()
	}
	req.Header.Set("Cookie", cookie)
	resp, err := client.Do(req)
	if err != nil {
		return "request failed: " + err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return "reading the answer: " + err.Error()
	case resp.StatusCode != http.StatusOK:
		return fmt.Sprintf("answered %d (session gone?)", resp.StatusCode)
	case !bytes.Equal(body, user):
		return "answered another user"
	}
	return ""
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func touchWritesTable(p touchParams, counts []touchCount, errs []error) table {
	t := table{
		Title: sectionTitles["touch"],
		Note: fmt.Sprintf("**Touches saved is the primary figure of this section.** "+
			"A Go server with `Bridge.LoadAndSave` (resave false, saveUninitialized false, cookie maxAge %s) answering GET /me with the passport user, on the store; "+
			"%d logged-in sessions per configuration, written as express-session + passport write them, last saved at times spread evenly over the last %s "+
			"(the spread steady traffic leaves); each session sends a request, waits %s–%s (uniform), and again, for %s. "+
			"Time is simulated %d× faster than the clock: every duration here (maxAge, TouchAfter, pauses, run) ran %d× shorter on the real clock, "+
			"since Redis expires keys by its own clock, which a fake clock cannot move. "+
			"All configurations ran at once, each on a store of its own. "+
			"Store writes are the store server's own figures, not counted in Go: Redis, `INFO commandstats` calls of the commands `COMMAND` flags `write` "+
			"(scripts' inner commands included) on a redis-server the harness starts for that configuration alone, since the figures are per server; "+
			"PostgreSQL, `n_tup_ins + n_tup_upd + n_tup_del` of the configuration's table in `pg_stat_user_tables`, read once its connections have closed (and flushed their statistics). "+
			"Every answer was checked (200 with the session's user), and every session checked in the store at the end.",
			simDur(p.maxAge), p.sessions, simDur(slices.Max(p.afters)), p.thinkMin, p.thinkMax, simDur(p.run), p.speed, p.speed),
		Header: []string{"store", "TouchAfter", "requests", "store writes", "writes per request", "writes saved vs TouchAfter 0", "requests without their user", "sessions in the store at the end", "result"},
	}
	base := map[string]float64{}
	for i, c := range counts {
		if errs[i] == nil && c.after == 0 && c.requests > 0 {
			base[c.store] = float64(c.writes) / float64(c.requests)
		}
	}
	gv := map[string]bool{}
	for i, c := range counts {
		name := storeName(c.store)
		if errs[i] != nil {
			t.Rows = append(t.Rows, []string{name, simDur(c.after), "", "", "", "", "", "", "not measured: " + errs[i].Error()})
			continue
		}
		gv[c.store] = c.getVersion
		per := float64(c.writes) / float64(max(c.requests, 1))
		saved := "—"
		if b, ok := base[c.store]; ok && c.after > 0 && b > 0 {
			saved = fmt.Sprintf("%.1f%%", 100*(1-per/b))
		}
		var problems []string
		if c.failed > 0 {
			problems = append(problems, fmt.Sprintf("**%d requests lost their session** (first: %s)", c.failed, c.firstFail))
		}
		if c.alive != c.sessions {
			problems = append(problems, fmt.Sprintf("**%d sessions gone**", c.sessions-c.alive))
		}
		if b, ok := base[c.store]; ok && c.after > 0 && per >= b {
			problems = append(problems, "**no saving**")
		}
		result := "ok: no session expired"
		if len(problems) > 0 {
			result = strings.Join(problems, "; ")
		}
		// The pauses are the think time plus the request itself.
		every := time.Duration(float64(p.run) * float64(c.sessions) / float64(max(c.requests, 1))).Round(100 * time.Millisecond)
		t.Rows = append(t.Rows, []string{name, simDur(c.after), fmt.Sprintf("%s (one per %s per session)", si(float64(c.requests)), every),
			fmt.Sprintf("%s (%s)", si(float64(c.writes)), c.detail),
			fmt.Sprintf("%.3f", per), saved, fmt.Sprint(c.failed), fmt.Sprintf("%d / %d", c.alive, c.sessions), result})
	}
	t.Footer = "With TouchAfter 0 every request of an unchanged session touches the store (express-session's `store.touch`): one write per request. " +
		"With TouchAfter the Bridge skips the touch while the store set the expiry less than TouchAfter ago: by the store's `Version.Touched` " +
		"where it is a `ConditionalStore` that knows it, else by the record's `cookie.expires − originalMaxAge` (the last full save)."
	for _, kind := range touchStores {
		if v, ok := gv[kind]; ok {
			how := "ConditionalStore: yes (`GetVersion` dates the expiry)"
			if !v {
				how = "ConditionalStore: **no**, so only the record's cookie dates the expiry, and a touch does not rewrite the record"
			}
			t.Footer += fmt.Sprintf(" %s: %s.", storeName(kind), how)
		}
	}
	if _, ok := gv["postgres"]; ok {
		t.Footer += fmt.Sprintf(" PostgreSQL keeps expire in whole seconds, rounded up, so the expiry it reports can be up to 1 s late "+
			"(Redis, whose TTL is set in whole seconds of a whole-second maxAge, is exact): at %d× that is up to %s simulated, "+
			"which makes its short-TouchAfter rows write a little less than a real-time run would.", p.speed, time.Duration(p.speed)*time.Second)
	}
	return t
}

// writeCounts are a store server's cumulative write figures, by name.
type writeCounts map[string]int64

// since returns the writes from before to c, and their breakdown.
func (c writeCounts) since(before writeCounts) (int64, string) {
	var total int64
	var parts []string
	names := make([]string, 0, len(c))
	for k := range c {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if d := c[k] - before[k]; d != 0 {
			total += d
			parts = append(parts, fmt.Sprintf("%s %s", k, si(float64(d))))
		}
	}
	if len(parts) == 0 {
		return 0, "none"
	}
	return total, strings.Join(parts, ", ")
}

// serveTouch is `bench -serve touch`: GET /me behind Bridge.LoadAndSave on
// the Redis store (keys prefixed name) or the PostgreSQL store (table
// name), with the given maxAge and TouchAfter, until SIGTERM or SIGINT.
func serveTouch(kind, redisAddr, pgURL, name string, maxAge, after time.Duration) {
	log.SetPrefix("bench server: ")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var st sessionbridge.Store
	switch kind {
	case "redis":
		client := redis.NewClient(&redis.Options{Addr: redisAddr})
		defer client.Close()
		st = redisstore.New(client, redisstore.Options{Prefix: name})
	case "postgres":
		pool, err := newPGPool(ctx, pgURL, 16, "")
		if err != nil {
			log.Fatal(err)
		}
		defer pool.Close()
		st = pgstore.New(pool, pgstore.Options{TableName: name})
	default:
		log.Fatalf("unknown store %q", kind)
	}
	bridge, err := sessionbridge.New(sessionbridge.Config{
		Secrets: []string{benchSecret}, Store: st,
		Cookie:     sessionbridge.CookieOptions{MaxAge: maxAge},
		TouchAfter: after,
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /me", bridge.LoadAndSave(meHandler()))
	listenAndServe(ctx, mux, nil)
}

// newPGPool opens a pool of at most conns connections, named app in
// pg_stat_activity when app is not empty.
func newPGPool(ctx context.Context, url string, conns int32, app string) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	pc.MaxConns = conns
	if app != "" {
		pc.ConnConfig.RuntimeParams["application_name"] = app
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w (make services)", err)
	}
	return pool, nil
}
