package storeurl_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/storeurl"
)

// want is what a good URL must parse to; zero fields are not checked except
// the store options, which are compared whole.
type want struct {
	kind    storeurl.Kind
	addrs   []string
	cluster bool
	tls     bool
	redisDB int
	mongoDB string
}

func TestParseGood(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want want
	}{
		{"redis://127.0.0.1:6379", want{kind: storeurl.Redis, addrs: []string{"127.0.0.1:6379"}}},
		{"redis://localhost", want{kind: storeurl.Redis, addrs: []string{"localhost:6379"}}},
		{"REDIS://h:1/3?prefix=app:&ttl=60", want{kind: storeurl.Redis, addrs: []string{"h:1"}, redisDB: 3}},
		{"redis://user:p%40ss@h:6380/2?prefix=x&dial_timeout=3s", want{kind: storeurl.Redis, addrs: []string{"h:6380"}, redisDB: 2}},
		{"rediss://h:6380", want{kind: storeurl.Redis, addrs: []string{"h:6380"}, tls: true}},
		{"redis://[::1]:7000", want{kind: storeurl.Redis, addrs: []string{"[::1]:7000"}}},
		{"redis://a:7001,b:7002,c?prefix=p:", want{kind: storeurl.Redis, addrs: []string{"a:7001", "b:7002", "c:6379"}, cluster: true}},
		{"rediss://u:pw@a:7001,b:7002/0", want{kind: storeurl.Redis, addrs: []string{"a:7001", "b:7002"}, cluster: true, tls: true}},
		{"postgres://postgres@127.0.0.1:5432/postgres", want{kind: storeurl.Postgres}},
		{"postgres:///postgres?host=/var/run/postgresql", want{kind: storeurl.Postgres}},
		{"postgres://h1:5432,h2:5433/db?target_session_attrs=read-write", want{kind: storeurl.Postgres}},
		{"postgresql://u:pw@h/db?table=sessions&schema=app&ttl=3600&sslmode=disable", want{kind: storeurl.Postgres}},
		{"mongodb://127.0.0.1:27017", want{kind: storeurl.Mongo, mongoDB: "test"}},
		{"mongodb://127.0.0.1:27017/", want{kind: storeurl.Mongo, mongoDB: "test"}},
		{"mongodb://a:1,b:2/app?collection=sess&stringify=false&ttl=24h&replicaSet=rs0", want{kind: storeurl.Mongo, mongoDB: "app"}},
		{"mongodb://u:pw@h/app?authSource=admin&Collection=c", want{kind: storeurl.Mongo, mongoDB: "app"}},
		{"memcached://127.0.0.1:11211", want{kind: storeurl.Memcached, addrs: []string{"127.0.0.1:11211"}}},
		{"memcached://a,b:11212/?prefix=sess:&ttl=600&timeout=2s", want{kind: storeurl.Memcached, addrs: []string{"a:11211", "b:11212"}}},
		{"file:///var/lib/sessions", want{kind: storeurl.File}},
		{"file://localhost/var/lib/sessions", want{kind: storeurl.File}},
		{"file:sessions", want{kind: storeurl.File}},
		{"file:./a%20b/c?ttl=7200", want{kind: storeurl.File}},
		{"file:/abs", want{kind: storeurl.File}},
	} {
		t.Run(tc.url, func(t *testing.T) {
			s, err := storeurl.Parse(tc.url)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			w := tc.want
			if s.Kind != w.kind {
				t.Fatalf("Kind %q, want %q", s.Kind, w.kind)
			}
			if w.addrs != nil && !reflect.DeepEqual(s.Addrs, w.addrs) {
				t.Errorf("Addrs %q, want %q", s.Addrs, w.addrs)
			}
			if s.Cluster != w.cluster || s.TLS != w.tls || s.RedisDB != w.redisDB {
				t.Errorf("Cluster %v TLS %v DB %d, want %v %v %d", s.Cluster, s.TLS, s.RedisDB, w.cluster, w.tls, w.redisDB)
			}
			if s.MongoDatabase != w.mongoDB {
				t.Errorf("MongoDatabase %q, want %q", s.MongoDatabase, w.mongoDB)
			}
		})
	}
}

// TestParseOptions checks the store options and their connect-* defaults.
func TestParseOptions(t *testing.T) {
	parse := func(u string) *storeurl.Spec {
		t.Helper()
		s, err := storeurl.Parse(u)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		return s
	}
	if s := parse("redis://h"); s.Redis.Prefix != "sess:" || s.Redis.TTL != 0 {
		t.Errorf("redis defaults: %+v", s.Redis)
	}
	if s := parse("redis://h?prefix=app:&ttl=60"); s.Redis.Prefix != "app:" || s.Redis.TTL != time.Minute {
		t.Errorf("redis options: %+v", s.Redis)
	}
	if s := parse("redis://h?prefix="); !s.Redis.NoPrefix || s.Redis.Prefix != "" {
		t.Errorf("redis prefix= (connect-redis prefix ''): %+v", s.Redis)
	}
	if s := parse("postgres://u@h/db"); s.Postgres.TableName != "session" || s.Postgres.SchemaName != "" {
		t.Errorf("postgres defaults: %+v", s.Postgres)
	}
	if s := parse("postgres://u@h/db?table=t&schema=s&ttl=2h"); s.Postgres.TableName != "t" || s.Postgres.SchemaName != "s" || s.Postgres.TTL != 2*time.Hour {
		t.Errorf("postgres options: %+v", s.Postgres)
	}
	if s := parse("mongodb://h"); s.Mongo.Collection != "sessions" || s.Mongo.Subdocument || s.MongoDatabase != "test" {
		t.Errorf("mongo defaults: %+v db %q", s.Mongo, s.MongoDatabase)
	}
	if s := parse("mongodb://h/app?collection=c&stringify=false&ttl=60"); s.Mongo.Collection != "c" || !s.Mongo.Subdocument || s.Mongo.TTL != time.Minute {
		t.Errorf("mongo options: %+v", s.Mongo)
	}
	if s := parse("mongodb://h/app?stringify=true"); s.Mongo.Subdocument {
		t.Errorf("stringify=true: %+v", s.Mongo)
	}
	if s := parse("memcached://h"); s.Memcached.Prefix != "" || s.Memcached.TTL != 0 {
		t.Errorf("memcached defaults: %+v", s.Memcached)
	}
	if s := parse("memcached://h?prefix=p:&ttl=600"); s.Memcached.Prefix != "p:" || s.Memcached.TTL != 10*time.Minute {
		t.Errorf("memcached options: %+v", s.Memcached)
	}
	for u, dir := range map[string]string{
		"file:///var/lib/sessions":          "/var/lib/sessions",
		"file://localhost/var/lib/sessions": "/var/lib/sessions",
		"file:sessions":                     "sessions",
		"file:./a%20b/c?ttl=7200":           "./a b/c",
		"file:/abs":                         "/abs",
	} {
		if s := parse(u); s.File.Dir != dir {
			t.Errorf("%s: Dir %q, want %q", u, s.File.Dir, dir)
		}
	}
	if s := parse("file:d?ttl=7200"); s.File.TTL != 2*time.Hour {
		t.Errorf("file ttl %v", s.File.TTL)
	}
}

func TestParseBad(t *testing.T) {
	for _, tc := range []struct{ url, msg string }{
		{"", "empty URL"},
		{"127.0.0.1:6379", "no scheme before host:port"},
		{"localhost", "no scheme"},
		{"mysq://h/db", `unknown scheme "mysq"`},
		{"mysql://h/db", "mysql:// URLs need format="},
		{"redis:h:6379", "start with redis://"},
		{"redis://", "no host"},
		{"redis://h:abc", "port must be a number"},
		{"redis://h:0", "port must be a number"},
		{"redis://h:70000", "port must be a number"},
		{"redis://:6379", "empty host name"},
		{"redis://a:1,,b:2", "empty host"},
		{"redis://h/x", "database number"},
		{"redis://h/1/2", "database number"},
		{"mongodb://h/db?ttl=60&TTL=70", "two spellings"},
		{"redis://h?prefx=a", "unexpected option: prefx"},
		{"redis://h?ttl=0", "ttl"},
		{"redis://h?ttl=abc", "ttl"},
		{"redis://h?dial_timeout=xyz", "dial_timeout"},
		{"redis://a:1,b:2/3", "only database 0"},
		{"redis://a:1,b:2?addr=c:3", "not with addr="},
		{"redis://h#frag", "fragment"},
		{"redis://::1:6379", "IPv6"},
		{"postgres://u@h/db?table=", "table= is empty"},
		{"postgres://u@h:notaport/db", "invalid port"},
		{"postgres://u@h/db?sslmode=bogus", "sslmode"},
		{"mongodb://h/app?colection=x", "unknown option colection"},
		{"mongodb://h/app?stringify=maybe", "stringify"},
		{"mongodb://h/app?collection=", "collection= is empty"},
		{"mongodb://h/app?w=bogus&wtimeoutMS=-5", "wtimeoutms"},
		{"memcached://u:p@h", "no user or password"},
		{"memcached://h/db", "no path"},
		{"memcached://h?namespaces=x", "unknown option namespaces"},
		{"memcached://h?timeout=x", "timeout"},
		{"file:", "no directory"},
		{"file://", "no directory"},
		{"file://sessions", "names a host"},
		{"file:d?mode=0600", "unknown option mode"},
		{"file:%zz", "directory"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			s, err := storeurl.Parse(tc.url)
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", s)
			}
			if !errors.Is(err, storeurl.ErrBadURL) {
				t.Errorf("error %v does not wrap ErrBadURL", err)
			}
			if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.msg)) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
		})
	}
}

// TestNoPasswordInErrors: messages about a URL never show its password.
func TestNoPasswordInErrors(t *testing.T) {
	for _, u := range []string{
		"redis://user:hunter2secret@h:abc",
		"redis://user:hunter2secret@h?bogus=1",
		"redis://user:hunter2secret@a:1,b:2?bogus=1",
		"postgres://user:hunter2secret@h:notaport/db",
		"postgres://user:hunter2secret@h/db?sslmode=bogus",
		"mongodb://user:hunter2secret@h/db?wtimeoutMS=-5",
		"mongodb://user:hunter2secret@h/db?bogus=1",
	} {
		_, err := storeurl.Parse(u)
		if err == nil {
			t.Fatalf("%s: accepted", u)
		}
		if strings.Contains(err.Error(), "hunter2secret") {
			t.Errorf("%s: message shows the password: %v", u, err)
		}
	}
	s, err := storeurl.Parse("redis://user:hunter2secret@h:1/0?prefix=p")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.String(); got != "redis://xxxxx@h:1/0?prefix=p" {
		t.Errorf("String() = %q", got)
	}
}

// roundTrip writes a session through one store and reads it back through
// another opened from the same URL.
func roundTrip(t *testing.T, rawURL string) {
	roundTripSub(t, rawURL, false)
}

func roundTripSub(t *testing.T, rawURL string, sub bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	open := func() sessionbridge.Store {
		st, closer, err := storeurl.Open(ctx, rawURL)
		if err != nil {
			t.Fatalf("Open(%s): %v", rawURL, err)
		}
		t.Cleanup(func() { _ = closer.Close() })
		return st
	}
	a, b := open(), open()
	sid, _ := sessionbridge.NewID()
	s := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
	if err := s.Set("passport", map[string]any{"user": 7}); err != nil {
		t.Fatal(err)
	}
	if err := a.Set(ctx, sid, s); err != nil {
		t.Fatalf("Set: %v", err)
	}
	want, _ := s.Encode()
	got, err := b.Get(ctx, sid)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	g, _ := got.Encode()
	if sub {
		// A subdocument comes back as Node's JSON.stringify shows it: unset
		// cookie fields are null there.
		var user int
		if err := got.Get("passport", &struct{ User *int }{&user}); err != nil || user != 7 {
			t.Fatalf("read back %s", g)
		}
	} else if string(g) != string(want) {
		t.Fatalf("read back %s, want %s", g, want)
	}
	if err := b.Destroy(ctx, sid); err != nil {
		t.Fatal(err)
	}
}

func uniq(t *testing.T) string {
	return fmt.Sprintf("sbtest_%d", rand.Uint64()%1e12)
}

func TestOpenRedis(t *testing.T) {
	roundTrip(t, "redis://"+services.RedisAddr(t)+"/0?prefix="+uniq(t)+":")
}

func TestOpenRedisCluster(t *testing.T) {
	roundTrip(t, "redis://"+strings.Join(services.RedisClusterAddrs(t), ",")+"?prefix="+uniq(t)+":")
}

func TestOpenPostgres(t *testing.T) {
	base := services.PostgresURL(t)
	pool, err := pgxpool.New(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	schema := uniq(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE SCHEMA `+schema+`; CREATE TABLE `+schema+`.sess (sid varchar NOT NULL PRIMARY KEY, sess json NOT NULL, expire timestamp(6) NOT NULL)`); err != nil {
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
	roundTrip(t, base+sep+"schema="+schema+"&table=sess")
}

func TestOpenMongo(t *testing.T) {
	url, _ := services.MongoURL(t)
	coll := uniq(t)
	t.Cleanup(func() {
		c, err := mongo.Connect(options.Client().ApplyURI(url))
		if err != nil {
			return
		}
		db := c.Database("sessionbridge_test")
		_ = db.Collection(coll + "true").Drop(context.Background())
		_ = db.Collection(coll + "false").Drop(context.Background())
		_ = c.Disconnect(context.Background())
	})
	for _, stringify := range []string{"true", "false"} {
		u := strings.TrimSuffix(url, "/") + "/sessionbridge_test?collection=" + coll + stringify + "&stringify=" + stringify
		roundTripSub(t, u, stringify == "false")
	}
}

func TestOpenMemcached(t *testing.T) {
	roundTrip(t, "memcached://"+services.MemcachedAddr(t)+"?prefix="+uniq(t)+":")
}

func TestOpenFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "sessions")
	roundTrip(t, "file://"+dir)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("the directory was not created: %v", err)
	}
	// A relative directory is relative to the working directory.
	t.Chdir(t.TempDir())
	roundTrip(t, "file:rel/dir")
	if _, err := os.Stat("rel/dir"); err != nil {
		t.Fatal(err)
	}
}

// TestOpenUnavailable: a server that does not answer is ErrUnavailable, and
// the message names the store, not the password.
func TestOpenUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, u := range []string{
		"redis://user:hunter2secret@127.0.0.1:1",
		"postgres://user:hunter2secret@127.0.0.1:1/db?connect_timeout=2",
		"mongodb://user:hunter2secret@127.0.0.1:1/db?serverSelectionTimeoutMS=500",
		"memcached://127.0.0.1:1",
	} {
		_, _, err := storeurl.Open(ctx, u)
		if !errors.Is(err, storeurl.ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnavailable", u, err)
			continue
		}
		if strings.Contains(err.Error(), "hunter2secret") {
			t.Errorf("%s: message shows the password: %v", u, err)
		}
		t.Logf("%s: %v", u, err)
	}
	// A file where the directory should be.
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := storeurl.Open(ctx, "file://"+f); !errors.Is(err, storeurl.ErrUnavailable) {
		t.Errorf("file store on a file: %v", err)
	}
}
