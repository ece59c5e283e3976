package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/passportuser"
	memcachedstore "github.com/sessionbridge/sessionbridge/stores/memcached"
	mongostore "github.com/sessionbridge/sessionbridge/stores/mongo"
	pgstore "github.com/sessionbridge/sessionbridge/stores/postgres"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

var loadConcurrency = []int{1, 16, 64}

// loadTarget is the floor of session load / raw read, per store (MongoDB
// only against a real mongod, see setupMongo).
const loadTarget = 0.85

// storeBench is one store of the load section: the library's store and
// the raw driver read of the same record with the query the store sends.
type storeBench struct {
	name    string
	rawDesc string // the raw read, as the store sends it
	// infoOnly, when set, says why this store's rows carry no verdict.
	infoOnly string
	store    sessionbridge.Store
	// raw reads session i's record with the store's own query and returns
	// what the driver returned (the record, or a document holding it).
	raw   func(ctx context.Context, i int) ([]byte, error)
	close func()
}

// benchLoad measures, per store and concurrency, the whole session load a
// request does (Cookie header → unsign → store read → decode → expiry →
// passport user) against the raw driver read of the same record with the
// exact query the store sends, each side a closed loop of `concurrency`
// goroutines, in cfg.reps alternating repetitions.
func benchLoad(ctx context.Context, cfg *config) ([]table, error) {
	f, err := newFixture(cfg.sessions)
	if err != nil {
		return nil, err
	}
	// Requests carry a cancellable context, as every request net/http serves does.
	reqCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	reqs := make([]*http.Request, len(f.headers))
	for i, h := range f.headers {
		reqs[i], _ = http.NewRequestWithContext(reqCtx, "GET", "http://bench/me", nil)
		reqs[i].Header.Set("Cookie", h)
	}
	// Twice the preset's repetitions, each half as long: the same time per
	// side, a narrower interval (the machine's noise is per repetition).
	reps := max(2*cfg.reps, 2)
	per := max(cfg.duration/time.Duration(reps), 50*time.Millisecond)
	t := table{
		Title: sectionTitles["load"],
		Note: fmt.Sprintf("What a Go request pays to get its session, against what the driver alone pays to read the same record. "+
			"**Session load** = `Bridge.Load(r)` (Cookie header → `Signer.SessionID` → `Store.Get` → `sessionjson` decode → expiry rule) + `passportuser.Raw`. "+
			"**Raw read** = the same driver, client and pool sending **the exact command the store sends** for that record "+
			"(captured from the store itself at start-up, through a recording wrapper of its driver, so the anchor cannot drift from the store; listed below the table), "+
			"with the record's key/id and, for PostgreSQL and the SQL stores, the current time as the store computes it. "+
			"Both sides: closed loops of `concurrency` goroutines in this process, each op on the next of %d seeded sessions, requests with a cancellable context as net/http gives them. "+
			"Each row: %d repetitions of %s per side, alternating (A B B A …), after a warm-up; ops/s are the medians; the ratio is session load / raw read, "+
			"median of the paired ratios with its 95%% confidence interval; the verdict (target ≥ %.2f×) is drawn from the interval. "+
			"*Client CPU µs/op* is this process's CPU time (all threads, getrusage) per op, raw → load: the difference is what the library adds per load in CPU.\n\n"+
			"Cores: the harness and all its client goroutines are pinned to CPU(s) %s (`pinSelf(plan.rest)`). The stores are system services that "+
			"run wherever the kernel puts them (on this machine that includes the harness's CPU), and were not moved. "+
			"When the harness's core is saturated (client CPU ≈ 1 core) a side is client-bound and the ratio is the ratio of client CPU per op, "+
			"which is the library's cost, not the store's.",
			len(f.ids), reps, per, loadTarget, cpuList(cfg.plan.rest)),
		Header: []string{"store", "concurrency", "raw read ops/s", "session load ops/s", "load / raw [95% CI]", "client CPU µs/op raw → load", "client CPU cores raw / load", "target", "result"},
	}
	if slices.ContainsFunc(cfg.stores, func(s string) bool { return sqlStores[s].sqlite }) {
		t.Note += " SQLite (modernc.org/sqlite) runs inside this process, on the harness's core: its rows compare client CPU alone."
	}
	if cfg.plan.note != "" {
		t.Note += " Note: " + cfg.plan.note + "."
	}
	var failed []string
	var anchors []string
	for _, name := range cfg.stores {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		setup, ok := storeSetups[name]
		if !ok {
			return nil, fmt.Errorf("unknown store %q", name)
		}
		notMeasured := func(err error) {
			failed = append(failed, fmt.Sprintf("%s: %v", name, err))
			t.Rows = append(t.Rows, []string{name, "", "", "", "", "", "", "", "not measured: " + err.Error()})
		}
		sb, err := setup(ctx, cfg, f)
		if err != nil {
			notMeasured(err)
			continue
		}
		logf("%s: raw read = %s", sb.name, sb.rawDesc)
		rows, err := loadStore(ctx, cfg, f, reqs, sb, reps, per)
		sb.close()
		if err != nil {
			notMeasured(err)
			continue
		}
		t.Rows = append(t.Rows, rows...)
		line := fmt.Sprintf("%s: %s", sb.name, sb.rawDesc)
		if sb.infoOnly != "" {
			line += " — **information only**: " + sb.infoOnly
		}
		anchors = append(anchors, line)
	}
	t.Footer = "Raw reads (as captured from each store):\n\n- " + strings.Join(anchors, "\n- ")
	if len(failed) > 0 {
		return []table{t}, errors.New(fmt.Sprint(failed))
	}
	return []table{t}, nil
}

func loadStore(ctx context.Context, cfg *config, f *fixture, reqs []*http.Request, sb *storeBench, reps int, per time.Duration) ([][]string, error) {
	bridge, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{benchSecret}, Store: sb.store})
	if err != nil {
		return nil, err
	}
	load := func(ctx context.Context, i int) error {
		s, err := bridge.Load(reqs[i])
		if err != nil {
			return err
		}
		_, err = passportuser.Raw(s)
		return err
	}
	raw := func(ctx context.Context, i int) error {
		_, err := sb.raw(ctx, i)
		return err
	}
	// Check both sides once: the load finds the user, the raw read the record.
	if err := checkLoad(bridge, reqs, f, 0); err != nil {
		return nil, fmt.Errorf("session load: %w", err)
	}
	got, err := sb.raw(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("raw read: %w", err)
	}
	if !bytes.Contains(got, f.records[0]) {
		return nil, fmt.Errorf("raw read of session 0 returned %.120q, not its record", got)
	}
	// Warm the pools (and prepared statements) at the highest concurrency.
	warm := max(cfg.warmup/2, 100*time.Millisecond)
	for _, op := range []func(context.Context, int) error{raw, load} {
		if _, _, err := closedLoop(ctx, slices.Max(loadConcurrency), warm, len(f.ids), op); err != nil {
			return nil, err
		}
	}
	var rows [][]string
	for _, c := range loadConcurrency {
		var cpu [2][]float64   // client CPU µs per op: raw, load
		var cores [2][]float64 // client CPU cores used: raw, load
		side := func(k int, op func(context.Context, int) error) func(int) (float64, error) {
			return func(int) (float64, error) {
				cpu0 := processCPU()
				ops, took, err := closedLoop(ctx, c, per, len(f.ids), op)
				if err != nil {
					return 0, err
				}
				used := processCPU() - cpu0
				cpu[k] = append(cpu[k], float64(used.Microseconds())/float64(max(ops, 1)))
				cores[k] = append(cores[k], used.Seconds()/took.Seconds())
				return float64(ops) / took.Seconds(), nil
			}
		}
		rawRates, loadRates, err := alternate(reps, side(0, raw), side(1, load))
		if err != nil {
			return nil, err
		}
		r, err := pairedRatio(loadRates, rawRates)
		if err != nil {
			return nil, err
		}
		result := verdictCI(r, loadTarget, true)
		target := fmt.Sprintf("≥ %.2f×", loadTarget)
		if sb.infoOnly != "" {
			result, target = "information only", "—"
		}
		logf("%s c=%d raw %s/s load %s/s load/raw %s (%s)", sb.name, c, si(median(rawRates)), si(median(loadRates)), r, result)
		rows = append(rows, []string{sb.name, fmt.Sprint(c), si(median(rawRates)), si(median(loadRates)), r.String(),
			fmt.Sprintf("%.1f → %.1f", median(cpu[0]), median(cpu[1])),
			fmt.Sprintf("%.2f / %.2f", median(cores[0]), median(cores[1])),
			target, result})
	}
	return rows, nil
}

// checkLoad loads session i through the bridge and checks its passport user.
func checkLoad(bridge *sessionbridge.Bridge, reqs []*http.Request, f *fixture, i int) error {
	s, err := bridge.Load(reqs[i])
	if err != nil {
		return err
	}
	user, err := passportuser.Raw(s)
	if err != nil {
		return err
	}
	if !bytes.Equal(user, f.users[i]) {
		return fmt.Errorf("session %d: passport user %s, want %s", i, user, f.users[i])
	}
	return nil
}

// processCPU is the CPU time (user + system, every thread) this process
// has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// closedLoop runs op from c goroutines for d and returns the ops completed
// and the time until the last goroutine stopped. Goroutine g starts at
// session g*7919 mod n and steps through them.
func closedLoop(ctx context.Context, c int, d time.Duration, n int, op func(context.Context, int) error) (int64, time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stop atomic.Bool
	var total atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, c)
	start := time.Now()
	for g := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i := (g * 7919) % n
			var done int64
			for !stop.Load() {
				if err := op(ctx, i); err != nil {
					if !stop.Load() {
						errc <- err
						stop.Store(true)
					}
					break
				}
				done++
				if i++; i == n {
					i = 0
				}
			}
			total.Add(done)
		}()
	}
	select {
	case <-time.After(d):
	case err := <-errc:
		stop.Store(true)
		wg.Wait()
		return 0, 0, err
	case <-ctx.Done():
	}
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start)
	select {
	case err := <-errc:
		return 0, 0, err
	default:
	}
	if ctx.Err() != nil {
		return 0, 0, ctx.Err()
	}
	return total.Load(), elapsed, nil
}

func prefixed(prefix string, ids []string) []string {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = prefix + id
	}
	return keys
}

var storeSetups = map[string]func(context.Context, *config, *fixture) (*storeBench, error){
	"redis":     setupRedis,
	"postgres":  setupPostgres,
	"mongo":     setupMongo,
	"memcached": setupMemcached,
	// The SQL stores (sqlStores) add themselves: mariadb, sqlite, ...
}

// --- Redis ---

// redisRecorder is a go-redis hook that records every command and
// answers it itself with reply, never sending it.
type redisRecorder struct {
	reply []byte
	cmds  [][]any
}

func (h *redisRecorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *redisRecorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.cmds = append(h.cmds, slices.Clone(cmd.Args()))
		switch c := cmd.(type) {
		case *redis.StringCmd:
			c.SetVal(string(h.reply))
		case *redis.IntCmd:
			c.SetVal(-1)
		}
		return nil
	}
}

func (h *redisRecorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			h.cmds = append(h.cmds, slices.Clone(c.Args()))
		}
		return errors.New("pipeline not recorded")
	}
}

// redisGetCommand returns the one command redisstore's Get sends for key
// (built with opts, answered with record), with the key's position in it.
func redisGetCommand(ctx context.Context, opts redisstore.Options, key, sid string, record []byte) ([]any, int, error) {
	rec := &redisRecorder{reply: record}
	client := redis.NewClient(&redis.Options{Addr: "recorder.invalid:0"})
	defer client.Close()
	client.AddHook(rec)
	if _, err := redisstore.New(client, opts).Get(ctx, sid); err != nil {
		return nil, 0, fmt.Errorf("recording the store's Get: %w", err)
	}
	if len(rec.cmds) != 1 {
		return nil, 0, fmt.Errorf("the store's Get sent %d commands (%v), the raw anchor replays exactly one: update it", len(rec.cmds), rec.cmds)
	}
	args := rec.cmds[0]
	at := slices.IndexFunc(args, func(a any) bool { return a == any(key) })
	if at < 0 {
		return nil, 0, fmt.Errorf("the store's Get sent %v, without the key %q", args, key)
	}
	return args, at, nil
}

func setupRedis(ctx context.Context, cfg *config, f *fixture) (*storeBench, error) {
	client := redis.NewClient(&redis.Options{Addr: cfg.redisAddr})
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("redis at %s: %w (make services)", cfg.redisAddr, err)
	}
	opts := redisstore.Options{Prefix: redisPrefix}
	st := redisstore.New(client, opts)
	if err := f.seed(ctx, st); err != nil {
		client.Close()
		return nil, err
	}
	args, at, err := redisGetCommand(ctx, opts, st.Key(f.ids[0]), f.ids[0], f.records[0])
	if err != nil {
		client.Close()
		return nil, err
	}
	shown := slices.Clone(args)
	shown[at] = "<prefix+id>"
	return &storeBench{
		name: "Redis", rawDesc: fmt.Sprintf("go-redis `%v` (a StringCmd through `client.Process`, as the store sends it)", shown), store: st,
		raw: func(ctx context.Context, i int) ([]byte, error) {
			a := slices.Clone(args)
			a[at] = st.Key(f.ids[i])
			cmd := redis.NewStringCmd(ctx, a...)
			_ = client.Process(ctx, cmd)
			return cmd.Bytes()
		},
		close: func() {
			client.Del(context.Background(), prefixed(redisPrefix, f.ids)...)
			client.Close()
		},
	}, nil
}

// --- PostgreSQL ---

// pgRecorder is a pgstore.DB that records the queries and arguments it
// is given and answers QueryRow with reply.
type pgRecorder struct {
	reply []byte
	sql   []string
	args  [][]any
}

func (r *pgRecorder) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	r.sql, r.args = append(r.sql, sql), append(r.args, args)
	return pgconn.CommandTag{}, errors.New("exec not recorded")
}

func (r *pgRecorder) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	r.sql, r.args = append(r.sql, sql), append(r.args, args)
	return recordedRow{r.reply}
}

type recordedRow struct{ reply []byte }

func (r recordedRow) Scan(dest ...any) error {
	if len(dest) != 1 {
		return fmt.Errorf("recorded row: %d columns scanned, one recorded", len(dest))
	}
	b, ok := dest[0].(*[]byte)
	if !ok {
		return fmt.Errorf("recorded row: scanned into %T", dest[0])
	}
	*b = slices.Clone(r.reply)
	return nil
}

// pgGetQuery returns the one query pgstore's Get sends for sid (built with
// opts): its SQL, and its arguments as roles: "sid", "now" (the epoch
// second the store computes per call) or a constant kept as is.
func pgGetQuery(ctx context.Context, opts pgstore.Options, sid string, record []byte) (string, []any, error) {
	rec := &pgRecorder{reply: record}
	if _, err := pgstore.New(rec, opts).Get(ctx, sid); err != nil {
		return "", nil, fmt.Errorf("recording the store's Get: %w", err)
	}
	if len(rec.sql) != 1 {
		return "", nil, fmt.Errorf("the store's Get sent %d queries (%q), the raw anchor replays exactly one: update it", len(rec.sql), rec.sql)
	}
	args := rec.args[0]
	roles := make([]any, len(args))
	var sawSid, sawNow bool
	for i, a := range args {
		switch v := a.(type) {
		case string:
			if v == sid {
				roles[i], sawSid = pgArgSid{}, true
				continue
			}
		case int64:
			if now := time.Now().Unix(); v >= now-5 && v <= now+5 {
				roles[i], sawNow = pgArgNow{}, true
				continue
			}
		}
		roles[i] = a
	}
	if !sawSid || !sawNow {
		return "", nil, fmt.Errorf("the store's Get sent %q with %v: no sid or no current epoch second among them; update the raw anchor", rec.sql[0], args)
	}
	return rec.sql[0], roles, nil
}

type (
	pgArgSid struct{}
	pgArgNow struct{}
)

// pgNowSec is the store's current epoch second: ceil(Date.now() / 1000).
func pgNowSec() int64 { return (time.Now().UnixMilli() + 999) / 1000 }

func setupPostgres(ctx context.Context, cfg *config, f *fixture) (*storeBench, error) {
	pc, err := pgxpool.ParseConfig(cfg.pgURL)
	if err != nil {
		return nil, err
	}
	pc.MaxConns = 16
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w (make services)", err)
	}
	const table = "sessbench"
	opts := pgstore.Options{TableName: table}
	st := pgstore.New(pool, opts)
	_, _ = pool.Exec(ctx, "DROP TABLE IF EXISTS "+table)
	if err := st.CreateTable(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := f.seed(ctx, st); err != nil {
		pool.Close()
		return nil, err
	}
	_, _ = pool.Exec(ctx, "ANALYZE "+table)
	sql, roles, err := pgGetQuery(ctx, opts, f.ids[0], f.records[0])
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &storeBench{
		name: "PostgreSQL", rawDesc: fmt.Sprintf("pgxpool (16 connections) `QueryRow(%q, sid, ceil(now))` → `Scan(&[]byte)`", sql), store: st,
		raw: func(ctx context.Context, i int) ([]byte, error) {
			args := make([]any, len(roles))
			for k, r := range roles {
				switch r.(type) {
				case pgArgSid:
					args[k] = f.ids[i]
				case pgArgNow:
					args[k] = pgNowSec()
				default:
					args[k] = r
				}
			}
			var raw []byte
			err := pool.QueryRow(ctx, sql, args...).Scan(&raw)
			return raw, err
		},
		close: func() {
			_, _ = pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+table)
			pool.Close()
		},
	}, nil
}

// --- MongoDB wire protocol ---

// mongoServer says what answers at the client, from its buildInfo:
// FerretDB (a "ferretdb…" field), mongod (its allocator and storage
// engines), or another MongoDB-compatible server. Only mongod is real.
func mongoServer(ctx context.Context, client *mongo.Client) (name string, real bool) {
	var info bson.M
	if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return "an unknown server (buildInfo failed: " + err.Error() + ")", false
	}
	for k, v := range info {
		if strings.HasPrefix(strings.ToLower(k), "ferretdb") {
			if k == "ferretdbVersion" && v != "unknown" {
				return fmt.Sprintf("FerretDB %v (MongoDB %v wire protocol)", v, info["version"]), false
			}
			return fmt.Sprintf("FerretDB (MongoDB %v wire protocol)", info["version"]), false
		}
	}
	_, alloc := info["allocator"]
	_, engines := info["storageEngines"]
	if !alloc || !engines {
		return fmt.Sprintf("a MongoDB %v compatible server that is not mongod (buildInfo has no allocator or storage engines)", info["version"]), false
	}
	return fmt.Sprintf("mongod %v", info["version"]), true
}

func setupMongo(ctx context.Context, cfg *config, f *fixture) (*storeBench, error) {
	// The find commands the store sends, recorded by the driver's monitor.
	var mu sync.Mutex
	var recording bool
	var finds []bson.Raw
	monitor := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		mu.Lock()
		if recording && e.CommandName == "find" {
			finds = append(finds, slices.Clone(e.Command))
		}
		mu.Unlock()
	}}
	client, err := mongo.Connect(options.Client().ApplyURI(cfg.mongoURL).SetTimeout(10 * time.Second).SetMaxPoolSize(64).SetMonitor(monitor))
	if err != nil {
		return nil, err
	}
	if err := client.Ping(ctx, nil); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("mongo at %s: %w (make services)", cfg.mongoURL, err)
	}
	server, real := mongoServer(ctx, client)
	db := client.Database("sessionbridge_bench")
	_ = db.Drop(ctx)
	st := mongostore.New(db, mongostore.Options{})
	if err := f.seed(ctx, st); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	// Record the store's steady-state read: its second Get (the first may
	// find that the server cannot run its sized projection and fall back).
	if _, err := st.Get(ctx, f.ids[0]); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	mu.Lock()
	recording = true
	mu.Unlock()
	_, err = st.Get(ctx, f.ids[0])
	mu.Lock()
	recording = false
	recorded := finds
	mu.Unlock()
	if err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	filter, opts, desc, err := mongoAnchor(recorded, f.ids[0])
	if err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	coll := st.Collection()
	sb := &storeBench{
		name: "MongoDB-wire", rawDesc: desc + " on " + server, store: st,
		raw: func(ctx context.Context, i int) ([]byte, error) {
			return coll.FindOne(ctx, bson.D{{Key: filter, Value: f.ids[i]}}, opts...).Raw()
		},
		close: func() {
			_ = db.Drop(context.Background())
			_ = client.Disconnect(context.Background())
		},
	}
	if !real {
		sb.infoOnly = server + " answers only a few hundred to about 1.4k reads/s here, so the server bounds both sides and Go's cost cannot show; " +
			"these rows get a verdict only against a real mongod (-mongo / MONGO_URL)"
	}
	return sb, nil
}

// mongoAnchor turns the store's recorded find command into the raw read:
// the filter's one field (the id) and the projection, if any.
func mongoAnchor(finds []bson.Raw, sid string) (field string, opts []options.Lister[options.FindOneOptions], desc string, err error) {
	if len(finds) != 1 {
		return "", nil, "", fmt.Errorf("the store's Get sent %d find commands, the raw anchor replays exactly one: update it", len(finds))
	}
	cmd := finds[0]
	elems, err := cmd.Lookup("filter").Document().Elements()
	if err != nil || len(elems) != 1 || elems[0].Key() != "_id" || elems[0].Value().StringValue() != sid {
		return "", nil, "", fmt.Errorf("the store's find has filter %v, not {_id: sid}: update the raw anchor", cmd.Lookup("filter"))
	}
	desc = "official driver `FindOne({_id: sid})`"
	if p, ok := cmd.Lookup("projection").DocumentOK(); ok {
		opts = append(opts, options.FindOne().SetProjection(slices.Clone(p)))
		desc = fmt.Sprintf("official driver `FindOne({_id: sid}, projection %s)`", p)
	}
	return "_id", opts, desc, nil
}

// --- memcached ---

func setupMemcached(ctx context.Context, cfg *config, f *fixture) (*storeBench, error) {
	client := memcache.New(cfg.memcAddr)
	client.MaxIdleConns = 64
	client.Timeout = 2 * time.Second
	if err := client.Ping(); err != nil {
		return nil, fmt.Errorf("memcached at %s: %w (make services)", cfg.memcAddr, err)
	}
	const prefix = "sessbench:"
	st := memcachedstore.New(client, memcachedstore.Options{Prefix: prefix})
	if err := f.seed(ctx, st); err != nil {
		return nil, err
	}
	return &storeBench{
		name: "memcached", rawDesc: "gomemcache `Get(store.Key(sid))` (64 idle connections), the store's one call", store: st,
		raw: func(_ context.Context, i int) ([]byte, error) {
			it, err := client.Get(st.Key(f.ids[i]))
			if err != nil {
				return nil, err
			}
			return it.Value, nil
		},
		close: func() {
			for _, k := range prefixed(prefix, f.ids) {
				_ = client.Delete(k)
			}
			client.Close()
		},
	}, nil
}
