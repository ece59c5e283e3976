package storeurl_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	mongostore "github.com/sessionbridge/sessionbridge/stores/mongo"
	pgstore "github.com/sessionbridge/sessionbridge/stores/postgres"
	"github.com/sessionbridge/sessionbridge/storeurl"
)

// openSet opens rawURL and stores a browser-session session under a new
// id, which it returns.
func openSet(t *testing.T, ctx context.Context, rawURL string) string {
	t.Helper()
	st, closer, err := storeurl.Open(ctx, rawURL)
	if err != nil {
		t.Fatalf("Open(%s): %v", rawURL, err)
	}
	t.Cleanup(func() { _ = closer.Close() })
	sid, _ := sessionbridge.NewID()
	if err := st.Set(ctx, sid, sessionjson.New(sessionjson.NewCookie(time.Now(), 0))); err != nil {
		t.Fatalf("Set through %s: %v", rawURL, err)
	}
	return sid
}

// TestLiveRedisOptions: prefix and disableTTL take effect: the key is
// under the prefix, without expiry; without disableTTL it has the ttl.
func TestLiveRedisOptions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addr := services.RedisAddr(t)
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	prefix := uniq(t) + ":"
	t.Cleanup(func() {
		keys, _ := c.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(context.Background(), keys...)
		}
	})
	sid := openSet(t, ctx, "redis://"+addr+"/0?prefix="+prefix+"&disableTTL=true&scanCount=10&touchAfter=60")
	if ttl, err := c.TTL(ctx, prefix+sid).Result(); err != nil || ttl != -1 {
		t.Fatalf("disableTTL: TTL of %s* is %v (%v), want none (-1)", prefix, ttl, err)
	}
	sid = openSet(t, ctx, "redis://"+addr+"/0?prefix="+prefix+"&ttl=120")
	if ttl, err := c.TTL(ctx, prefix+sid).Result(); err != nil || ttl <= 0 || ttl > 120*time.Second {
		t.Fatalf("ttl=120: TTL of %s* is %v (%v)", prefix, ttl, err)
	}
	if n, _ := c.Exists(ctx, "sess:"+sid).Result(); n != 0 {
		t.Fatal("the session was written under the default prefix too")
	}
}

// TestLivePostgresOptions: schemaName, tableName and createTableIfMissing
// take effect: Go creates the table where it was told and writes there.
func TestLivePostgresOptions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	base := services.PostgresURL(t)
	pool, err := pgxpool.New(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	schema := uniq(t)
	if _, err := pool.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p, _ := pgxpool.New(context.Background(), base)
		_, _ = p.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		p.Close()
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	u := base + sep + "schemaName=" + schema + "&tableName=My%20Sessions&ttl=7200&pruneSessionInterval=false&touchAfter=60"

	// Without createTableIfMissing the table is not there.
	st, closer, err := storeurl.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	sid, _ := sessionbridge.NewID()
	if err := st.Set(ctx, sid, sessionjson.New(sessionjson.NewCookie(time.Now(), 0))); !errors.Is(err, pgstore.ErrNoTable) {
		t.Fatalf("Set without createTableIfMissing: %v, want ErrNoTable", err)
	}
	_ = closer.Close()

	sid = openSet(t, ctx, u+"&createTableIfMissing=true")
	var inTTL bool
	if err := pool.QueryRow(ctx,
		`SELECT expire BETWEEN localtimestamp + interval '7100 seconds' AND localtimestamp + interval '7300 seconds' FROM `+schema+`."My Sessions" WHERE sid = $1`,
		sid).Scan(&inTTL); err != nil {
		t.Fatalf("reading %s.\"My Sessions\": %v", schema, err)
	}
	if !inTTL {
		t.Fatal("ttl=7200: the expire column is not two hours ahead")
	}

	// An unknown parameter goes to the server, which refuses it.
	if _, _, err := storeurl.Open(ctx, u+"&bogus_option=1"); !errors.Is(err, storeurl.ErrUnavailable) {
		t.Fatalf("unknown parameter: %v, want ErrUnavailable", err)
	}
}

// TestLiveMongoOptions: dbName, collectionName, timestamps and touchAfter
// take effect in the document Go writes, and autoRemove=native creates
// connect-mongo's TTL index (or fails on a server that cannot).
func TestLiveMongoOptions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base, ferret := services.MongoURL(t)
	c, err := mongo.Connect(options.Client().ApplyURI(base))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Disconnect(context.Background()) }()
	db, coll := "sessionbridge_test", uniq(t)
	t.Cleanup(func() { _ = c.Database(db).Collection(coll).Drop(context.Background()) })
	u := strings.TrimSuffix(base, "/") + "/notthisdb?dbName=" + db + "&collectionName=" + coll + "&timestamps=true&touchAfter=3600&autoRemove=disabled"
	sid := openSet(t, ctx, u)
	var doc bson.M
	if err := c.Database(db).Collection(coll).FindOne(ctx, bson.D{{Key: "_id", Value: sid}}).Decode(&doc); err != nil {
		t.Fatalf("the session is not in %s.%s: %v", db, coll, err)
	}
	for _, field := range []string{"session", "expires", "lastModified", "createdAt", "updatedAt"} {
		if _, ok := doc[field]; !ok {
			t.Errorf("the document lacks %s (timestamps, touchAfter): %v", field, doc)
		}
	}
	if n, _ := c.Database("notthisdb").Collection(coll).CountDocuments(ctx, bson.D{}); n != 0 {
		t.Error("the session was written to the URL's database, not dbName's")
	}

	_, closer, err := storeurl.Open(ctx, strings.TrimSuffix(base, "/")+"/"+db+"?collectionName="+coll+"&autoRemove=native")
	if ferret {
		if !errors.Is(err, storeurl.ErrUnavailable) || !errors.Is(err, mongostore.ErrTTLIndexUnsupported) {
			t.Fatalf("autoRemove=native on FerretDB: %v, want ErrUnavailable and ErrTTLIndexUnsupported", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("autoRemove=native: %v", err)
	}
	_ = closer.Close()
	specs, err := c.Database(db).Collection(coll).Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range specs {
		if s.ExpireAfterSeconds != nil && *s.ExpireAfterSeconds == 0 && strings.Contains(string(s.KeysDocument), "expires") {
			found = true
		}
	}
	if !found {
		t.Fatalf("autoRemove=native created no TTL index on expires: %+v", specs)
	}
}

// TestLiveMemcachedOptions: namespace and prefix make the key Go writes.
func TestLiveMemcachedOptions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addr := services.MemcachedAddr(t)
	ns, prefix := uniq(t)+".", "p:"
	sid := openSet(t, ctx, "memcached://"+addr+"?namespace="+ns+"&prefix="+prefix+"&ttl=60&timeout=2000&touchAfter=60")
	c := memcache.New(addr)
	defer c.Close()
	it, err := c.Get(ns + prefix + sid)
	if err != nil {
		t.Fatalf("get %s<sid>: %v", ns+prefix, err)
	}
	if it.Flags != 2 || !strings.HasPrefix(string(it.Value), `{"cookie":`) {
		t.Fatalf("item: flags %d, %s", it.Flags, it.Value)
	}
	_ = c.Delete(ns + prefix + sid)
	if _, err := c.Get(prefix + sid); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("the session is also under the prefix alone: %v", err)
	}
}

// TestLiveFileOptions: fileExtension and fileMode take effect on the file
// Go writes.
func TestLiveFileOptions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir := t.TempDir()
	sid := openSet(t, ctx, "file://"+dir+"?fileExtension=.sess&fileMode=0640&ttl=60&reapInterval=-1&touchAfter=60")
	fi, err := os.Stat(filepath.Join(dir, sid+".sess"))
	if err != nil {
		t.Fatalf("no %s.sess: %v", sid, err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, want 0640", fi.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(dir, sid+".json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a .json file too: %v", err)
	}
}
