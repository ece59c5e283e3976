package socketio_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/socketauth"
	filestore "github.com/sessionbridge/sessionbridge/stores/file"
	memcachedstore "github.com/sessionbridge/sessionbridge/stores/memcached"
	mongostore "github.com/sessionbridge/sessionbridge/stores/mongo"
	pgstore "github.com/sessionbridge/sessionbridge/stores/postgres"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// backend is one of the session stores the project supports, run with the
// live Node app (testdata/node/app.js, its STORE) and the Go store on the
// same records, as that store's own tests run them.
type backend struct {
	name string
	// maxAge is the session lifetime the keep-alive test gives Node's
	// sessions. Stores that keep expiries in whole seconds need more than
	// the others: connect-memcached's lifetime is the seconds left until
	// cookie.expires, truncated (3 for a 4 s maxAge, written at once),
	// and memcached's clock moves by whole seconds, so such an item lives
	// at least 2 s after each write, eight KeepAlives: room for a loaded
	// machine to delay one. With a 2 s maxAge the lifetime would be 1 s,
	// and the item could go at the next tick of memcached's clock, right
	// after a write. connect-redis and
	// connect-pg-simple round expiries up, so 2 s is enough there, and
	// for the stores that keep milliseconds.
	maxAge time.Duration
	// start starts the Node app with env added to the store's settings,
	// on a key space (prefix, schema, collection, directory) of the test's
	// own, and returns it with a Go bridge on the same records. A missing
	// service skips the test with a hint, or fails it when CI is set.
	start func(t *testing.T, env map[string]string) *storePeer
}

// storePeer is a live Node app and a Go bridge on one store's records.
type storePeer struct {
	app    *nodetest.App
	store  sessionbridge.Store
	bridge *sessionbridge.Bridge
	// watch, when set, makes tr follow the store's change feed until ctx
	// ends and returns once subscribed; the channel gets Watch's error.
	// Without a feed, the Tracker's periodic re-validation (Run) finds
	// ended sessions.
	watch func(ctx context.Context, tr *socketauth.Tracker) <-chan error
}

// backends are the stores the live tests of this file run on.
var backends = []backend{
	{name: "redis", maxAge: 2 * time.Second, start: startRedis},
	{name: "redis-cluster", maxAge: 2 * time.Second, start: startRedisCluster},
	{name: "postgres", maxAge: 2 * time.Second, start: startPostgres},
	{name: "mongo", maxAge: 2 * time.Second, start: startMongo},
	{name: "memcached", maxAge: 4 * time.Second, start: startMemcached},
	{name: "file", maxAge: 2 * time.Second, start: startFile},
}

// newStorePeer returns a storePeer with a bridge on st.
func newStorePeer(t *testing.T, app *nodetest.App, st sessionbridge.Store) *storePeer {
	t.Helper()
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{secret}, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	return &storePeer{app: app, store: st, bridge: b}
}

// follow makes tr act on ended sessions until ctx ends: through the
// store's feed when it has one, else by re-validating every interval.
// The channel gets the error once it has stopped.
func (p *storePeer) follow(ctx context.Context, tr *socketauth.Tracker) <-chan error {
	if p.watch != nil {
		return p.watch(ctx, tr)
	}
	done := make(chan error, 1)
	go func() {
		tr.Run(ctx)
		done <- nil
	}()
	return done
}

// withEnv returns env with the pairs kv added.
func withEnv(env map[string]string, kv ...string) map[string]string {
	all := map[string]string{}
	for k, v := range env {
		all[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		all[kv[i]] = kv[i+1]
	}
	return all
}

// startRedis: connect-redis on one Redis server, under a prefix of the
// test's own; the Tracker follows the store's keyspace notifications.
func startRedis(t *testing.T, env map[string]string) *storePeer {
	t.Helper()
	addr := services.RedisAddr(t)
	p := uniquePrefix(t)
	app := nodetest.StartApp(t, withEnv(env, "STORE", "redis", "REDIS_URL", "redis://"+addr, "REDIS_PREFIX", p))
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	st := redisstore.New(rdb, redisstore.Options{Prefix: p})
	sp := newStorePeer(t, app, st)
	sp.watch = func(ctx context.Context, tr *socketauth.Tracker) <-chan error {
		name := fmt.Sprintf("sbkeep-%d", time.Now().UnixNano())
		wc := redis.NewClient(&redis.Options{Addr: addr, ClientName: name})
		t.Cleanup(func() { wc.Close() })
		done := make(chan error, 1)
		go func() {
			done <- tr.Watch(ctx, st.Feed(redisstore.FeedOptions{Client: wc, Configure: true}))
		}()
		services.WaitPSubscribed(t, rdb, name)
		return done
	}
	return sp
}

// startRedisCluster: connect-redis on the Redis Cluster, under a prefix of
// the test's own; the Tracker re-validates periodically.
func startRedisCluster(t *testing.T, env map[string]string) *storePeer {
	t.Helper()
	addrs := services.RedisClusterAddrs(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		nodetest.Unavailable(t, "Redis Cluster ("+err.Error()+")", "make services (scripts/services.sh)")
	}
	p := uniquePrefix(t)
	app := nodetest.StartApp(t, withEnv(env, "STORE", "redis-cluster", "REDIS_CLUSTER_ADDRS", strings.Join(addrs, ","), "REDIS_PREFIX", p))
	return newStorePeer(t, app, redisstore.New(c, redisstore.Options{Prefix: p}))
}

// startPostgres: connect-pg-simple in a schema of the test's own, where it
// creates its table; dropped afterwards.
func startPostgres(t *testing.T, env map[string]string) *storePeer {
	t.Helper()
	url := services.PostgresURL(t)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	sch := fmt.Sprintf("sbsio_%d", rand.Uint64()%1e12)
	if _, err := pool.Exec(context.Background(), `CREATE SCHEMA `+sch); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), `DROP SCHEMA `+sch+` CASCADE`) })
	app := nodetest.StartApp(t, withEnv(env, "STORE", "postgres", "PG_URL", url, "PG_SCHEMA", sch))
	return newStorePeer(t, app, pgstore.New(pool, pgstore.Options{SchemaName: sch}))
}

// mongoDB is the database the MongoDB-wire tests use (the stores' too).
const mongoDB = "sessionbridge_test"

// startMongo: connect-mongo (stringify, its default) in a collection of
// the test's own, dropped afterwards.
func startMongo(t *testing.T, env map[string]string) *storePeer {
	t.Helper()
	url, _ := services.MongoURL(t)
	c, err := mongo.Connect(options.Client().ApplyURI(url).SetTimeout(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	if err := c.Ping(context.Background(), nil); err != nil {
		nodetest.Unavailable(t, "MongoDB at "+url+" ("+err.Error()+")", "make services (scripts/services.sh)")
	}
	db := c.Database(mongoDB)
	coll := fmt.Sprintf("sio_%d", rand.Uint64()%1e12)
	t.Cleanup(func() { _ = db.Collection(coll).Drop(context.Background()) })
	app := nodetest.StartApp(t, withEnv(env, "STORE", "mongo", "MONGO_URL", strings.TrimSuffix(url, "/")+"/"+mongoDB, "MONGO_COLLECTION", coll))
	return newStorePeer(t, app, mongostore.New(db, mongostore.Options{Collection: coll}))
}

// startMemcached: connect-memcached under a prefix of the test's own,
// with no ttl option (lifetimes follow the cookie).
func startMemcached(t *testing.T, env map[string]string) *storePeer {
	t.Helper()
	addr := services.MemcachedAddr(t)
	c := memcache.New(addr)
	t.Cleanup(func() { _ = c.Close() })
	p := uniquePrefix(t)
	app := nodetest.StartApp(t, withEnv(env, "STORE", "memcached", "MEMCACHED_ADDR", addr, "MEMCACHED_PREFIX", p))
	return newStorePeer(t, app, memcachedstore.New(c, memcachedstore.Options{Prefix: p}))
}

// startFile: session-file-store and the Go store in one temporary
// directory of the test's own.
func startFile(t *testing.T, env map[string]string) *storePeer {
	t.Helper()
	dir := t.TempDir()
	app := nodetest.StartApp(t, withEnv(env, "STORE", "file", "FILE_DIR", dir))
	st, err := filestore.New(filestore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return newStorePeer(t, app, st)
}
