package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
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

// storeBench is one store of the load section: the library's store and
// the raw driver read of the same record.
type storeBench struct {
	name    string
	rawDesc string // what the raw read is
	target  float64
	store   sessionbridge.Store
	raw     func(ctx context.Context, i int) error // read session i's record
	close   func()
}

// benchLoad measures, per store and concurrency, the whole session load a
// request does (Cookie header → unsign → store read → decode → passport
// user) against the raw driver read of the same key: closed loops of
// `concurrency` goroutines over a fixed duration, same client, same pool.
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
	t := table{
		Title: sectionTitles["load"],
		Note: fmt.Sprintf("Session load = `Bridge.Load(r)` (Cookie header → `Signer.SessionID` → `Store.Get` → `sessionjson` decode → expiry rule) "+
			"+ `passportuser.Raw`. Raw = the driver's read of the same record (key = prefix + id, built per read as the store does), through the same client and pool. "+
			"Requests carry a cancellable context, like those net/http serves. Closed loops: `concurrency` goroutines, each op on the next of %d sessions; the two sides alternate in slices of %s until each has run %s, "+
			"so both see the same background load.",
			len(f.ids), sliceLen, cfg.duration),
		Header: []string{"store", "concurrency", "raw read ops/s", "session load ops/s", "ratio", "target", "result"},
	}
	var failed []string
	for _, name := range cfg.stores {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		setup, ok := storeSetups[name]
		if !ok {
			return nil, fmt.Errorf("unknown store %q", name)
		}
		sb, err := setup(ctx, cfg, f)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", name, err))
			t.Rows = append(t.Rows, []string{name, "", "", "", "", "", "not measured: " + err.Error()})
			continue
		}
		logf("%s: %s", name, sb.rawDesc)
		rows, err := loadStore(ctx, cfg, f, reqs, sb)
		sb.close()
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", name, err))
			t.Rows = append(t.Rows, []string{name, "", "", "", "", "", "not measured: " + err.Error()})
			continue
		}
		t.Rows = append(t.Rows, rows...)
	}
	t.Footer = "Raw reads: Redis `GET` (go-redis, default pool of 10 per core); PostgreSQL `SELECT sess FROM t WHERE sid = $1` (pgxpool, 16 connections); " +
		"MongoDB-wire `FindOne({_id})` (FerretDB, official driver); memcached `Get` (gomemcache, 64 idle connections)."
	if len(failed) > 0 {
		return []table{t}, errors.New(fmt.Sprint(failed))
	}
	return []table{t}, nil
}

func loadStore(ctx context.Context, cfg *config, f *fixture, reqs []*http.Request, sb *storeBench) ([][]string, error) {
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
	// Check once, then warm the pools (and prepared statements).
	if err := load(ctx, 0); err != nil {
		return nil, fmt.Errorf("session load: %w", err)
	}
	if err := sb.raw(ctx, 0); err != nil {
		return nil, fmt.Errorf("raw read: %w", err)
	}
	if _, _, err := interleave(ctx, 64, 300*time.Millisecond, len(f.ids), sb.raw, load); err != nil {
		return nil, err
	}
	var rows [][]string
	for _, c := range loadConcurrency {
		rawRate, loadRate, err := interleave(ctx, c, cfg.duration, len(f.ids), sb.raw, load)
		if err != nil {
			return nil, err
		}
		q := loadRate / rawRate
		logf("%s c=%d raw %s/s load %s/s ratio %.2f", sb.name, c, si(rawRate), si(loadRate), q)
		rows = append(rows, []string{sb.name, fmt.Sprint(c), si(rawRate), si(loadRate), ratio(q),
			fmt.Sprintf("≥ %.2f×", sb.target), verdict(q, sb.target, false)})
	}
	return rows, nil
}

// sliceLen is how long one side runs before the other takes over.
const sliceLen = 100 * time.Millisecond

// interleave measures two ops over n sessions with c goroutines each,
// alternating them in slices of sliceLen until each has run for d, so both
// see the same background load. It returns each side's ops per second.
func interleave(ctx context.Context, c int, d time.Duration, n int, a, b func(context.Context, int) error) (rateA, rateB float64, err error) {
	var ops [2]int64
	var took [2]time.Duration
	sides := [2]func(context.Context, int) error{a, b}
	for k := 0; took[0] < d || took[1] < d; k++ {
		for j := range 2 {
			side := (j + k) % 2 // alternate which side goes first
			o, t, err := closedLoop(ctx, c, sliceLen, n, sides[side])
			if err != nil {
				return 0, 0, err
			}
			ops[side] += o
			took[side] += t
		}
	}
	return float64(ops[0]) / took[0].Seconds(), float64(ops[1]) / took[1].Seconds(), nil
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
}

func setupRedis(ctx context.Context, cfg *config, f *fixture) (*storeBench, error) {
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
	return &storeBench{
		name: "Redis", rawDesc: "go-redis GET", target: 0.85, store: st,
		raw: func(ctx context.Context, i int) error {
			_, err := client.Get(ctx, redisPrefix+f.ids[i]).Bytes()
			return err
		},
		close: func() {
			client.Del(context.Background(), prefixed(redisPrefix, f.ids)...)
			client.Close()
		},
	}, nil
}

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
	st := pgstore.New(pool, pgstore.Options{TableName: table})
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
	sql := "SELECT sess FROM " + table + " WHERE sid = $1"
	return &storeBench{
		name: "PostgreSQL", rawDesc: "pgxpool " + sql, target: 0.8, store: st,
		raw: func(ctx context.Context, i int) error {
			var raw []byte
			return pool.QueryRow(ctx, sql, f.ids[i]).Scan(&raw)
		},
		close: func() {
			_, _ = pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+table)
			pool.Close()
		},
	}, nil
}

func setupMongo(ctx context.Context, cfg *config, f *fixture) (*storeBench, error) {
	client, err := mongo.Connect(options.Client().ApplyURI(cfg.mongoURL).SetTimeout(10 * time.Second).SetMaxPoolSize(64))
	if err != nil {
		return nil, err
	}
	if err := client.Ping(ctx, nil); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("mongo at %s: %w (make services)", cfg.mongoURL, err)
	}
	db := client.Database("sessionbridge_bench")
	_ = db.Drop(ctx)
	st := mongostore.New(db, mongostore.Options{})
	if err := f.seed(ctx, st); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	coll := st.Collection()
	return &storeBench{
		name: "MongoDB-wire", rawDesc: "FindOne({_id})", target: 0.8, store: st,
		raw: func(ctx context.Context, i int) error {
			_, err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: f.ids[i]}}).Raw()
			return err
		},
		close: func() {
			_ = db.Drop(context.Background())
			_ = client.Disconnect(context.Background())
		},
	}, nil
}

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
		name: "memcached", rawDesc: "gomemcache Get", target: 0.8, store: st,
		raw: func(_ context.Context, i int) error {
			_, err := client.Get(prefix + f.ids[i])
			return err
		},
		close: func() {
			for _, k := range prefixed(prefix, f.ids) {
				_ = client.Delete(k)
			}
			client.Close()
		},
	}, nil
}
