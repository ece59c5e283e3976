package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
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

	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
)

// A live setup: the Node harness on one store, the store URL the CLI gets
// for the same data, and a reader of the record exactly as stored (nil when
// the store keeps no JSON text: connect-mongo with stringify false).
type live struct {
	app *nodetest.App
	url string
	raw func(t *testing.T, sid string) []byte
}

func uniq(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, rand.Uint64()%1e12)
}

func liveRedis(t *testing.T) live {
	addr := services.RedisAddr(t)
	prefix := uniq("sbcli:") + ":"
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return live{
		app: nodetest.StartApp(t, map[string]string{"STORE": "redis", "REDIS_URL": "redis://" + addr, "REDIS_PREFIX": prefix}),
		url: "redis://" + addr + "/0?prefix=" + prefix,
		raw: func(t *testing.T, sid string) []byte {
			v, err := c.Get(context.Background(), prefix+sid).Bytes()
			if err != nil {
				t.Fatalf("redis GET: %v", err)
			}
			return v
		},
	}
}

func liveRedisCluster(t *testing.T) live {
	addrs := services.RedisClusterAddrs(t)
	prefix := uniq("sbcli:") + ":"
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		nodetest.Unavailable(t, "Redis Cluster ("+err.Error()+")", "make services")
	}
	return live{
		app: nodetest.StartApp(t, map[string]string{"STORE": "redis-cluster", "REDIS_CLUSTER_ADDRS": strings.Join(addrs, ","), "REDIS_PREFIX": prefix}),
		url: "redis://" + strings.Join(addrs, ",") + "?prefix=" + prefix,
		raw: func(t *testing.T, sid string) []byte {
			v, err := c.Get(context.Background(), prefix+sid).Bytes()
			if err != nil {
				t.Fatalf("redis cluster GET: %v", err)
			}
			return v
		},
	}
}

func livePostgres(t *testing.T) live {
	base := services.PostgresURL(t)
	pool, err := pgxpool.New(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	schema := uniq("sbcli_")
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`) })
	// The harness creates the schema and connect-pg-simple's table.
	app := nodetest.StartApp(t, map[string]string{"STORE": "postgres", "PG_URL": base, "PG_SCHEMA": schema, "PG_TABLE": "sess"})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return live{
		app: app,
		url: base + sep + "schemaName=" + schema + "&tableName=sess",
		raw: func(t *testing.T, sid string) []byte {
			var s string
			if err := pool.QueryRow(context.Background(), `SELECT sess::text FROM `+schema+`.sess WHERE sid = $1`, sid).Scan(&s); err != nil {
				t.Fatalf("SELECT sess: %v", err)
			}
			return []byte(s)
		},
	}
}

func liveMongo(t *testing.T, stringify bool) live {
	base, _ := services.MongoURL(t)
	c, err := mongo.Connect(options.Client().ApplyURI(base).SetTimeout(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	const dbName = "sessionbridge_cli_test"
	coll := uniq("s_")
	t.Cleanup(func() { _ = c.Database(dbName).Collection(coll).Drop(context.Background()) })
	env := map[string]string{"STORE": "mongo", "MONGO_URL": strings.TrimSuffix(base, "/") + "/" + dbName, "MONGO_COLLECTION": coll}
	// The older short name (collection) with stringify, connect-mongo's
	// name without.
	u := strings.TrimSuffix(base, "/") + "/" + dbName + "?collection=" + coll
	if !stringify {
		u = strings.TrimSuffix(base, "/") + "/" + dbName + "?collectionName=" + coll
	}
	l := live{url: u}
	if stringify {
		l.raw = func(t *testing.T, sid string) []byte {
			var d struct{ Session string }
			if err := c.Database(dbName).Collection(coll).FindOne(context.Background(), bson.D{{Key: "_id", Value: sid}}).Decode(&d); err != nil {
				t.Fatalf("mongo findOne: %v", err)
			}
			return []byte(d.Session)
		}
	} else {
		env["MONGO_STRINGIFY"] = "0"
		l.url += "&stringify=false"
	}
	l.app = nodetest.StartApp(t, env)
	return l
}

func liveMemcached(t *testing.T) live {
	addr := services.MemcachedAddr(t)
	prefix := uniq("sbcli:") + ":"
	c := memcache.New(addr)
	t.Cleanup(func() { _ = c.Close() })
	return live{
		app: nodetest.StartApp(t, map[string]string{"STORE": "memcached", "MEMCACHED_ADDR": addr, "MEMCACHED_PREFIX": prefix}),
		url: "memcached://" + addr + "?prefix=" + prefix,
		raw: func(t *testing.T, sid string) []byte {
			it, err := c.Get(prefix + sid)
			if err != nil {
				t.Fatalf("memcached get: %v", err)
			}
			return it.Value
		},
	}
}

func liveFile(t *testing.T) live {
	dir := t.TempDir()
	return live{
		app: nodetest.StartApp(t, map[string]string{"STORE": "file", "FILE_DIR": dir}),
		url: "file://" + dir,
		raw: func(t *testing.T, sid string) []byte {
			b, err := os.ReadFile(filepath.Join(dir, sid+".json"))
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
	}
}

var stores = map[string]func(t *testing.T) live{
	"redis":                 liveRedis,
	"redis-cluster":         liveRedisCluster,
	"postgres":              livePostgres,
	"mongo":                 func(t *testing.T) live { return liveMongo(t, true) },
	"mongo-stringify-false": func(t *testing.T) live { return liveMongo(t, false) },
	"memcached":             liveMemcached,
	"file":                  liveFile,
}

// sidOf returns the session id inside an encoded cookie value.
func sidOf(t *testing.T, cookie string) string {
	s, _ := cookiesig.NewSigner(secret)
	sid, err := s.SessionID("c="+cookie, "c")
	if err != nil {
		t.Fatalf("cookie from Node: %v", err)
	}
	return sid
}

// TestInspectNodeLogin: a real passport login on each store, then inspect
// finds the session: logged in as user 7, the record byte for byte.
func TestInspectNodeLogin(t *testing.T) {
	for name, start := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l := start(t)
			cookie := l.app.Login("alice", "secret")
			sid := sidOf(t, cookie)

			r := sb(t, "inspect", "--store", l.url, "--secret", secret, "_ga=GA1.1.1; connect.sid="+cookie).want(t, 0)
			got := decodeInspect(t, r)
			if got.Sid != sid || !got.LoggedIn || string(got.User) != "7" {
				t.Fatalf("inspect: %s", r.stdout)
			}
			var rec struct {
				Cookie struct{ Expires *string }
			}
			if l.raw != nil {
				stored := l.raw(t, sid)
				if string(got.Session) != string(stored) {
					t.Fatalf("session differs from the stored record:\n got %s\nwant %s", got.Session, stored)
				}
				_ = json.Unmarshal(stored, &rec)
			} else {
				// A subdocument: the record is Node's JSON.stringify of it.
				st, body, _ := l.app.Do("GET", "/raw", cookie, nil)
				var nodeView struct{ Record string }
				if err := json.Unmarshal(body, &nodeView); st != 200 || err != nil {
					t.Fatalf("/raw: %d %s", st, body)
				}
				if string(got.Session) != nodeView.Record {
					t.Fatalf("session differs from Node's view:\n got %s\nnode %s", got.Session, nodeView.Record)
				}
				_ = json.Unmarshal(got.Session, &rec)
			}
			if rec.Cookie.Expires == nil || got.Expires == nil || *got.Expires != *rec.Cookie.Expires {
				t.Fatalf("expires %v, record's %v", got.Expires, rec.Cookie.Expires)
			}
			if me := l.app.Me(cookie); me.Sid != got.Sid || !me.LoggedIn {
				t.Fatalf("Node's /me: %+v", me)
			}

			// After Node's logout the session is gone (passport regenerates
			// it): exit 3.
			l.app.Logout(cookie)
			sb(t, "inspect", "--store", l.url, "--secret", secret, cookie).want(t, 3)
			// With Node's cookie under the wrong secret: exit 2.
			sb(t, "inspect", "--store", l.url, "--secret", "not the secret", cookie).want(t, 2)
			t.Logf("%s: %s", l.url, r.stdout)
		})
	}
}

// TestMintNodeAccepts: a session minted on each store is a login for Node.
func TestMintNodeAccepts(t *testing.T) {
	for name, start := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l := start(t)
			for _, maxAge := range []string{"3600000", ""} {
				args := []string{"mint", "--store", l.url, "--secret", secret, "--user", "7", "--data", `{"cart":[1]}`}
				if maxAge != "" {
					args = append(args, "--max-age", maxAge)
				}
				m := decodeMint(t, sb(t, args...).want(t, 0))
				me := l.app.Me(m.Cookie)
				var user struct {
					ID       int
					Username string
				}
				_ = json.Unmarshal(me.User, &user)
				if !me.LoggedIn || user.ID != 7 || user.Username != "alice" || me.Sid != m.Sid {
					t.Fatalf("Node's /me for the minted cookie (max-age %q): %+v", maxAge, me)
				}
				if !strings.Contains(string(me.Session), `"passport":{"user":7},"cart":[1]`) {
					t.Fatalf("Node's session: %s", me.Session)
				}
				if maxAge == "" && (me.Expires != nil || !strings.Contains(string(me.Session), `"originalMaxAge":null`)) {
					t.Fatalf("without --max-age Node sees %v / %s, want a browser-session cookie", me.Expires, me.Session)
				}
				if maxAge != "" && (me.Expires == nil || !strings.Contains(string(me.Session), `"originalMaxAge":3600000`)) {
					t.Fatalf("with --max-age Node sees %v / %s", me.Expires, me.Session)
				}
				// And inspect reads back what Node now holds.
				got := decodeInspect(t, sb(t, "inspect", "--store", l.url, "--secret", secret, m.Cookie).want(t, 0))
				if got.Sid != m.Sid || !got.LoggedIn || string(got.User) != "7" {
					t.Fatalf("inspect of the minted session: %+v", got)
				}
			}
		})
	}
}
