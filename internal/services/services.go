// Package services finds the real servers the store tests talk to, on
// 127.0.0.1 by default or where the environment says. A missing server
// skips the test with the command that starts it, or fails it when CI is
// set (see nodetest.Unavailable).
package services

import (
	"context"
	"database/sql"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge/internal/nodetest"
)

const hint = "make services (scripts/services.sh)"

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func reachable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func need(tb testing.TB, what, addr string) {
	tb.Helper()
	if !reachable(addr) {
		nodetest.Unavailable(tb, what+" at "+addr, hint)
	}
}

// RedisAddr returns REDIS_ADDR (default 127.0.0.1:6379).
func RedisAddr(tb testing.TB) string {
	tb.Helper()
	a := env("REDIS_ADDR", "127.0.0.1:6379")
	need(tb, "Redis", a)
	return a
}

// RedisClusterAddrs returns REDIS_CLUSTER_ADDRS (default the three masters
// scripts/services.sh starts on 7001-7003).
func RedisClusterAddrs(tb testing.TB) []string {
	tb.Helper()
	addrs := strings.Split(env("REDIS_CLUSTER_ADDRS", "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003"), ",")
	for _, a := range addrs {
		need(tb, "Redis Cluster node", a)
	}
	return addrs
}

// PostgresURL returns PG_URL (default postgres://postgres@127.0.0.1:5432/postgres).
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	u := env("PG_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	need(tb, "PostgreSQL", hostOf(u, "127.0.0.1:5432"))
	return u
}

// MemcachedAddr returns MEMCACHED_ADDR (default 127.0.0.1:11211).
func MemcachedAddr(tb testing.TB) string {
	tb.Helper()
	a := env("MEMCACHED_ADDR", "127.0.0.1:11211")
	need(tb, "memcached", a)
	return a
}

// MariaDBDSN returns MARIADB_DSN, a github.com/go-sql-driver/mysql DSN
// (default root@tcp(127.0.0.1:3306)/test: MariaDB's root without a
// password, database test).
func MariaDBDSN(tb testing.TB) string {
	tb.Helper()
	dsn := env("MARIADB_DSN", "root@tcp(127.0.0.1:3306)/test")
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		tb.Fatalf("MARIADB_DSN is not a go-sql-driver/mysql DSN: %v", err)
	}
	if c, err := net.DialTimeout(cfg.Net, cfg.Addr, 2*time.Second); err != nil {
		nodetest.Unavailable(tb, "MariaDB at "+cfg.Net+" "+cfg.Addr, hint)
	} else {
		c.Close()
	}
	return dsn
}

// MariaDB returns the test MariaDB (MariaDBDSN) as a mysql:// store URL
// without a query, and a connection to it closed when the test ends.
func MariaDB(tb testing.TB) (storeURL string, db *sql.DB) {
	tb.Helper()
	dsn := MariaDBDSN(tb)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	db, err = sql.Open("mysql", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	ui := url.User(cfg.User)
	if cfg.Passwd != "" {
		ui = url.UserPassword(cfg.User, cfg.Passwd)
	}
	return "mysql://" + ui.String() + "@" + cfg.Addr + "/" + url.PathEscape(cfg.DBName), db
}

// MongoURL returns MONGODB_URI (a real mongod) or MONGO_URL (default the
// FerretDB server on 127.0.0.1:27017), and whether it is FerretDB.
func MongoURL(tb testing.TB) (url string, ferret bool) {
	tb.Helper()
	if u := os.Getenv("MONGODB_URI"); u != "" {
		return u, false
	}
	u := env("MONGO_URL", "mongodb://127.0.0.1:27017")
	need(tb, "MongoDB-wire server (FerretDB)", hostOf(u, "127.0.0.1:27017"))
	return u, true
}

// hostOf extracts host:port from a URL like scheme://user@host:port/db?x.
func hostOf(u, def string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if i := strings.IndexAny(u, "/?"); i >= 0 {
		u = u[:i]
	}
	if i := strings.LastIndexByte(u, '@'); i >= 0 {
		u = u[i+1:]
	}
	if i := strings.IndexByte(u, ','); i >= 0 {
		u = u[:i]
	}
	if u == "" {
		return def
	}
	if !strings.Contains(u, ":") {
		u += ":" + def[strings.LastIndexByte(def, ':')+1:]
	}
	return u
}

// WaitPSubscribed waits until the Redis connection named name (its
// ClientName) holds a pattern subscription (CLIENT LIST psub=1), so a test
// does not miss the first notification.
func WaitPSubscribed(tb testing.TB, rdb *redis.Client, name string) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		list, err := rdb.ClientList(context.Background()).Result()
		if err != nil {
			tb.Fatal(err)
		}
		for _, line := range strings.Split(list, "\n") {
			if strings.Contains(line, " name="+name+" ") && strings.Contains(line, " psub=1 ") {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Fatalf("connection %q did not subscribe within 5s", name)
}
