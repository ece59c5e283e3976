// Package storeurl opens the session store a Node app uses from one URL, with
// the store's options taken from the URL's query and, when not given,
// connect-*'s defaults:
//
//	redis://[user:pass@]host:port[/db][?prefix=sess:&ttl=86400]     connect-redis
//	redis://host1:port,host2:port[?prefix=...]                      connect-redis on a Redis Cluster
//	rediss://...                                                    the same over TLS
//	postgres://user@host:port/db[?table=session&schema=public&ttl=] connect-pg-simple
//	mongodb://host:port[,host:port]/db[?collection=sessions&stringify=true&ttl=] connect-mongo
//	memcached://host:port[,host:port][?prefix=&ttl=&timeout=]       connect-memcached
//	file:///abs/dir or file:rel/dir[?ttl=3600]                      session-file-store
//
// Store options and their defaults:
//   - prefix (Redis "sess:", memcached ""): the key prefix;
//   - table ("session") and schema (the search_path) of connect-pg-simple;
//   - collection ("sessions") and stringify (true; false reads and writes
//     sessions as subdocuments) of connect-mongo;
//   - ttl: the lifetime of browser-session cookies, in seconds as every
//     connect-* store takes it, or a Go duration ("24h"); defaults 1 day
//     (Redis, PostgreSQL, memcached), 14 days (MongoDB), 1 hour (file).
//     For memcached it is connect-memcached's ttl: the lifetime of every
//     session whatever its cookie says.
//
// Everything else in the query goes to the driver: go-redis's URL options
// (dial_timeout, ...), pgx's (sslmode, connect_timeout, pool_max_conns, and
// any run-time parameter), the MongoDB connection-string options (authSource,
// replicaSet, tls, ...), gomemcache's timeout for memcached. A query parameter
// neither the store nor the driver knows is an error, so a misspelt option is
// not silently ignored; pgx sends unknown parameters to the server as run-time
// parameters, which PostgreSQL refuses when connecting.
//
// MongoDB's database is the one in the URL's path, or "test" when there is
// none: what the Node driver's client.db() gives connect-mongo for the same
// URL. Several memcached servers are chosen by key exactly as the npm
// memcached client does (its ketama-compatible hashring), so Go looks on the
// server Node wrote to.
//
// Errors from Parse wrap ErrBadURL; errors from Open connecting or checking
// the store wrap ErrUnavailable. No error contains the URL's password.
package storeurl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"

	"github.com/sessionbridge/sessionbridge"
	filestore "github.com/sessionbridge/sessionbridge/stores/file"
	memcachedstore "github.com/sessionbridge/sessionbridge/stores/memcached"
	mongostore "github.com/sessionbridge/sessionbridge/stores/mongo"
	pgstore "github.com/sessionbridge/sessionbridge/stores/postgres"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// Errors of Parse and Open.
var (
	// ErrBadURL means the URL cannot name a store: unknown scheme, bad host
	// or port, unknown or invalid option. The message says which.
	ErrBadURL = errors.New("storeurl: invalid store URL")
	// ErrUnavailable means the store could not be reached or checked when
	// opening it (connection refused, authentication failed, ...).
	ErrUnavailable = errors.New("storeurl: store unavailable")
)

// Kind is a store type.
type Kind string

// The store types, named after the URL schemes.
const (
	Redis     Kind = "redis"
	Postgres  Kind = "postgres"
	Mongo     Kind = "mongodb"
	Memcached Kind = "memcached"
	File      Kind = "file"
)

// Default ports and the MongoDB database used when the URL names none.
const (
	DefaultRedisPort     = "6379"
	DefaultMemcachedPort = "11211"
	DefaultMongoDatabase = "test"
)

// Spec is a parsed store URL. Only the fields of its Kind are set; the
// store options are the ones passed to the store's New.
type Spec struct {
	Kind Kind
	// Addrs are the servers of a Redis or memcached URL (host:port, in
	// the URL's order).
	Addrs []string
	// Cluster is set for a Redis URL with several servers: a Cluster
	// client is used.
	Cluster bool
	// TLS is set for rediss://.
	TLS bool
	// RedisDB is the Redis database number (the URL's path).
	RedisDB int
	// MongoDatabase is the MongoDB database (the URL's path, default "test").
	MongoDatabase string

	Redis     redisstore.Options
	Postgres  pgstore.Options
	Mongo     mongostore.Options
	Memcached memcachedstore.Options
	File      filestore.Options

	redacted     string
	redisOpts    *redis.Options
	clusterOpts  *redis.ClusterOptions
	pgConfig     *pgxpool.Config
	mongoURI     string
	memcacheTime time.Duration
}

// String returns the URL with its password replaced by "xxxxx".
func (s *Spec) String() string { return s.redacted }

// Open parses rawURL and opens its store; see [Spec.Open].
func Open(ctx context.Context, rawURL string) (sessionbridge.Store, io.Closer, error) {
	s, err := Parse(rawURL)
	if err != nil {
		return nil, nil, err
	}
	return s.Open(ctx)
}

func badf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadURL}, args...)...)
}

// Parse checks a store URL and resolves its options. It does no I/O (except
// the DNS lookups of a mongodb+srv:// URL).
func Parse(rawURL string) (*Spec, error) {
	rawURL = strings.TrimSpace(rawURL)
	if rawURL == "" {
		return nil, badf("empty URL")
	}
	scheme, rest, ok := strings.Cut(rawURL, ":")
	if !ok || scheme == "" || strings.ContainsAny(scheme, "/?#@") {
		return nil, badf("no scheme; want one of redis://, rediss://, postgres://, mongodb://, memcached://, file:")
	}
	if rest != "" && rest[0] >= '0' && rest[0] <= '9' {
		return nil, badf("no scheme before host:port; write redis://%s, memcached://%s, ...", rawURL, rawURL)
	}
	switch strings.ToLower(scheme) {
	case "redis", "rediss":
		return parseRedis(rawURL)
	case "postgres", "postgresql":
		return parsePostgres(rawURL)
	case "mongodb", "mongodb+srv":
		return parseMongo(rawURL)
	case "memcached", "memcache":
		return parseMemcached(rawURL)
	case "file":
		return parseFile(rawURL)
	}
	return nil, badf("unknown scheme %q; want one of redis://, rediss://, postgres://, mongodb://, memcached://, file:", scheme)
}

// parts is a URL split by hand: many store URLs list several hosts, which
// net/url cannot parse.
type parts struct {
	scheme   string
	userinfo string // without '@'; hasUser tells whether there was one
	hasUser  bool
	hosts    []string
	path     string // from the first '/', not decoded
	query    string // without '?'
}

func split(rawURL string) (parts, error) {
	var p parts
	scheme, rest, _ := strings.Cut(rawURL, ":")
	p.scheme = strings.ToLower(scheme)
	rest, ok := strings.CutPrefix(rest, "//")
	if !ok {
		return p, badf("%s URLs start with %s://", p.scheme, p.scheme)
	}
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		return p, badf("a fragment (#...) is not allowed")
	}
	rest, p.query, _ = strings.Cut(rest, "?")
	authority := rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, p.path = rest[:i], rest[i:]
	}
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		p.userinfo, p.hasUser, authority = authority[:i], true, authority[i+1:]
	}
	if authority == "" {
		if p.scheme != "postgres" && p.scheme != "postgresql" {
			return p, badf("no host")
		}
		return p, nil // pgx: the local socket, or host= in the query
	}
	p.hosts = strings.Split(authority, ",")
	return p, nil
}

// hostPort validates host[:port] and adds the default port.
func hostPort(h, defPort string) (string, error) {
	if h == "" {
		return "", badf("empty host in the host list")
	}
	host, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", badf("host %q: missing ']'", h)
		}
		host, port = h[1:end], h[end+1:]
		if port != "" && !strings.HasPrefix(port, ":") {
			return "", badf("host %q: want [ipv6]:port", h)
		}
		port = strings.TrimPrefix(port, ":")
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		host, port = h[:i], h[i+1:]
		if strings.Contains(host, ":") {
			return "", badf("host %q: write IPv6 addresses as [addr]:port", h)
		}
	}
	if host == "" {
		return "", badf("host %q: empty host name", h)
	}
	if strings.ContainsAny(host, " /\\%") {
		return "", badf("host %q: invalid host name", h)
	}
	if port == "" {
		port = defPort
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", badf("host %q: port must be a number from 1 to 65535", h)
	}
	return net.JoinHostPort(host, port), nil
}

// query is a URL query whose store options are taken out one by one; what
// remains goes to the driver.
type query struct {
	v url.Values
}

func parseQuery(raw string) (query, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return query{}, badf("query: %v", unwrapURLError(err))
	}
	return query{v}, nil
}

// take removes name and returns its (last) value.
func (q query) take(name string) (string, bool) {
	vs, ok := q.v[name]
	if !ok {
		return "", false
	}
	delete(q.v, name)
	return vs[len(vs)-1], true
}

// takeFold is take with a case-insensitive name (MongoDB options are).
// Two spellings of one option (ttl= and TTL=) are an error: which one wins
// would depend on map order.
func (q query) takeFold(name string) (string, bool, error) {
	var val string
	found := false
	for k, vs := range q.v {
		if strings.EqualFold(k, name) {
			if found {
				return "", false, badf("%s is given in two spellings", name)
			}
			val, found = vs[len(vs)-1], true
			delete(q.v, k)
		}
	}
	return val, found, nil
}

func (q query) ttl(fold bool) (time.Duration, error) {
	var v string
	var ok bool
	if fold {
		var err error
		if v, ok, err = q.takeFold("ttl"); err != nil {
			return 0, err
		}
	} else {
		v, ok = q.take("ttl")
	}
	if !ok {
		return 0, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 || n > 1<<31 {
			return 0, badf("ttl=%s: want a positive number of seconds", v)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Second {
		return 0, badf("ttl=%q: want seconds (86400) or a duration of at least 1s (24h)", v)
	}
	return d, nil
}

func (q query) nonEmpty(name, what string) (string, bool, error) {
	v, ok := q.take(name)
	if ok && v == "" {
		return "", false, badf("%s= is empty; leave it out for the default (%s)", name, what)
	}
	return v, ok, nil
}

func (q query) names() []string {
	var n []string
	for k := range q.v {
		n = append(n, k)
	}
	return n
}

func (q query) encode() string { return q.v.Encode() }

// unwrapURLError drops net/url's wrapper, which quotes the whole URL
// (password included).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redact returns rawURL with the password of its userinfo replaced.
func redact(p parts, rawURL string) string {
	if !p.hasUser {
		return rawURL
	}
	user, _, hasPass := strings.Cut(p.userinfo, ":")
	if !hasPass {
		return rawURL
	}
	i := strings.Index(rawURL, p.userinfo+"@")
	if i < 0 {
		return rawURL
	}
	return rawURL[:i] + user + ":xxxxx@" + rawURL[i+len(p.userinfo)+1:]
}

func join(p parts, hosts []string, path, query string) string {
	var b strings.Builder
	b.WriteString(p.scheme)
	b.WriteString("://")
	if p.hasUser {
		b.WriteString(p.userinfo)
		b.WriteByte('@')
	}
	b.WriteString(strings.Join(hosts, ","))
	b.WriteString(path)
	if query != "" {
		b.WriteByte('?')
		b.WriteString(query)
	}
	return b.String()
}

func parseRedis(rawURL string) (*Spec, error) {
	p, err := split(rawURL)
	if err != nil {
		return nil, err
	}
	s := &Spec{Kind: Redis, TLS: p.scheme == "rediss", redacted: redact(p, rawURL)}
	for _, h := range p.hosts {
		a, err := hostPort(h, DefaultRedisPort)
		if err != nil {
			return nil, err
		}
		s.Addrs = append(s.Addrs, a)
	}
	q, err := parseQuery(p.query)
	if err != nil {
		return nil, err
	}
	s.Redis.Prefix = redisstore.DefaultPrefix
	if v, ok := q.take("prefix"); ok {
		s.Redis.Prefix = v
		s.Redis.NoPrefix = v == "" // connect-redis's prefix:
	}
	if s.Redis.TTL, err = q.ttl(false); err != nil {
		return nil, err
	}
	path := strings.Trim(p.path, "/")
	if path != "" {
		if s.RedisDB, err = strconv.Atoi(path); err != nil || s.RedisDB < 0 {
			return nil, badf("path %q: a Redis URL's path is the database number (/0 to /15)", p.path)
		}
	}
	if len(s.Addrs) == 1 {
		u := join(p, s.Addrs, p.path, q.encode())
		o, err := redis.ParseURL(u)
		if err != nil {
			return nil, badf("%v", unwrapURLError(err))
		}
		s.RedisDB = o.DB
		o.ContextTimeoutEnabled = true // honour the caller's deadlines (see stores/redis)
		s.redisOpts = o
		return s, nil
	}
	s.Cluster = true
	if s.RedisDB != 0 {
		return nil, badf("a Redis Cluster has only database 0 (path %q)", p.path)
	}
	if _, ok := q.v["addr"]; ok {
		return nil, badf("list the Cluster nodes as host1:port,host2:port, not with addr=")
	}
	for _, a := range s.Addrs[1:] {
		q.v.Add("addr", a)
	}
	o, err := redis.ParseClusterURL(join(p, s.Addrs[:1], "", q.encode()))
	if err != nil {
		return nil, badf("%v", unwrapURLError(err))
	}
	o.ContextTimeoutEnabled = true
	s.clusterOpts = o
	return s, nil
}

func parsePostgres(rawURL string) (*Spec, error) {
	p, err := split(rawURL)
	if err != nil {
		return nil, err
	}
	s := &Spec{Kind: Postgres, redacted: redact(p, rawURL)}
	q, err := parseQuery(p.query)
	if err != nil {
		return nil, err
	}
	if s.Postgres.TableName, _, err = q.nonEmpty("table", pgstore.DefaultTableName); err != nil {
		return nil, err
	}
	if s.Postgres.TableName == "" {
		s.Postgres.TableName = pgstore.DefaultTableName
	}
	if s.Postgres.SchemaName, _, err = q.nonEmpty("schema", "the search_path"); err != nil {
		return nil, err
	}
	if s.Postgres.TTL, err = q.ttl(false); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(join(p, p.hosts, p.path, q.encode()))
	if err != nil {
		// pgconn's ParseConfigError redacts the password.
		return nil, badf("%v", err)
	}
	s.pgConfig = cfg
	return s, nil
}

func parseMongo(rawURL string) (*Spec, error) {
	p, err := split(rawURL)
	if err != nil {
		return nil, err
	}
	s := &Spec{Kind: Mongo, redacted: redact(p, rawURL)}
	q, err := parseQuery(p.query)
	if err != nil {
		return nil, err
	}
	coll, hasColl, err := q.takeFold("collection")
	if err != nil {
		return nil, err
	}
	if v, ok := coll, hasColl; ok {
		if v == "" {
			return nil, badf("collection= is empty; leave it out for the default (%s)", mongostore.DefaultCollection)
		}
		s.Mongo.Collection = v
	} else {
		s.Mongo.Collection = mongostore.DefaultCollection
	}
	str, hasStr, err := q.takeFold("stringify")
	if err != nil {
		return nil, err
	}
	if v, ok := str, hasStr; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, badf("stringify=%q: want true or false", v)
		}
		s.Mongo.Subdocument = !b
	}
	if s.Mongo.TTL, err = q.ttl(true); err != nil {
		return nil, err
	}
	s.mongoURI = join(p, p.hosts, p.path, q.encode())
	cs, err := connstring.ParseAndValidate(s.mongoURI)
	if err != nil {
		return nil, badf("%v", scrub(err.Error(), p))
	}
	if len(cs.UnknownOptions) > 0 {
		var names []string
		for k := range cs.UnknownOptions {
			names = append(names, k)
		}
		return nil, badf("unknown option %s (store options: collection, stringify, ttl)", strings.Join(names, ", "))
	}
	s.MongoDatabase = cs.Database
	if s.MongoDatabase == "" {
		s.MongoDatabase = DefaultMongoDatabase
	}
	return s, nil
}

// scrub removes the userinfo from a driver's message.
func scrub(msg string, p parts) string {
	if p.hasUser && p.userinfo != "" {
		msg = strings.ReplaceAll(msg, p.userinfo, "xxxxx")
	}
	return msg
}

func parseMemcached(rawURL string) (*Spec, error) {
	p, err := split(rawURL)
	if err != nil {
		return nil, err
	}
	s := &Spec{Kind: Memcached, redacted: rawURL}
	if p.hasUser {
		return nil, badf("memcached URLs take no user or password")
	}
	if p.path != "" && p.path != "/" {
		return nil, badf("memcached URLs have no path (got %q)", p.path)
	}
	for _, h := range p.hosts {
		a, err := hostPort(h, DefaultMemcachedPort)
		if err != nil {
			return nil, err
		}
		s.Addrs = append(s.Addrs, a)
	}
	q, err := parseQuery(p.query)
	if err != nil {
		return nil, err
	}
	s.Memcached.Prefix, _ = q.take("prefix")
	if s.Memcached.TTL, err = q.ttl(false); err != nil {
		return nil, err
	}
	if v, ok := q.take("timeout"); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, badf("timeout=%q: want a duration such as 500ms", v)
		}
		s.memcacheTime = d
	}
	if n := q.names(); len(n) > 0 {
		return nil, badf("unknown option %s (memcached options: prefix, ttl, timeout)", strings.Join(n, ", "))
	}
	return s, nil
}

func parseFile(rawURL string) (*Spec, error) {
	s := &Spec{Kind: File, redacted: rawURL}
	_, rest, _ := strings.Cut(rawURL, ":")
	if strings.Contains(rest, "#") {
		return nil, badf("a fragment (#...) is not allowed; write # in a directory name as %%23")
	}
	rest, rawQuery, _ := strings.Cut(rest, "?")
	var dir string
	if after, ok := strings.CutPrefix(rest, "//"); ok {
		host, path, _ := strings.Cut(after, "/")
		if host != "" && host != "localhost" {
			return nil, badf("file://%s names a host; write file:%s for a relative directory or file:///abs/dir for an absolute one", host, after)
		}
		if path == "" {
			return nil, badf("no directory; write file:///abs/dir or file:rel/dir")
		}
		dir = "/" + path
	} else {
		dir = rest
	}
	dir, err := url.PathUnescape(dir)
	if err != nil {
		return nil, badf("directory: %v", err)
	}
	if dir == "" {
		return nil, badf("no directory; write file:///abs/dir or file:rel/dir")
	}
	if strings.ContainsRune(dir, 0) {
		return nil, badf("directory contains a NUL byte")
	}
	q, err := parseQuery(rawQuery)
	if err != nil {
		return nil, err
	}
	s.File.Dir = dir
	if s.File.TTL, err = q.ttl(false); err != nil {
		return nil, err
	}
	if n := q.names(); len(n) > 0 {
		return nil, badf("unknown option %s (file options: ttl)", strings.Join(n, ", "))
	}
	return s, nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

func unavailable(s *Spec, err error) error {
	return fmt.Errorf("%w: %s %s: %v", ErrUnavailable, s.Kind, s.hostList(), err)
}

func (s *Spec) hostList() string {
	switch s.Kind {
	case Redis, Memcached:
		return strings.Join(s.Addrs, ",")
	case Postgres:
		if s.pgConfig != nil {
			return net.JoinHostPort(s.pgConfig.ConnConfig.Host, strconv.Itoa(int(s.pgConfig.ConnConfig.Port)))
		}
	case File:
		return s.File.Dir
	}
	return ""
}

// Open connects to the store, checks that it answers (PING, SELECT 1, ...;
// for the file store, that the directory exists, is created if missing, and
// is a directory), and returns it with a Closer that releases the client.
func (s *Spec) Open(ctx context.Context) (sessionbridge.Store, io.Closer, error) {
	switch s.Kind {
	case Redis:
		var c redis.UniversalClient
		if s.Cluster {
			c = redis.NewClusterClient(s.clusterOpts)
		} else {
			c = redis.NewClient(s.redisOpts)
		}
		if err := c.Ping(ctx).Err(); err != nil {
			c.Close()
			return nil, nil, unavailable(s, err)
		}
		return redisstore.New(c, s.Redis), c, nil
	case Postgres:
		pool, err := pgxpool.NewWithConfig(ctx, s.pgConfig)
		if err != nil {
			return nil, nil, unavailable(s, err)
		}
		if err := pool.Ping(ctx); err != nil {
			pool.Close()
			return nil, nil, unavailable(s, err)
		}
		return pgstore.New(pool, s.Postgres), closerFunc(func() error { pool.Close(); return nil }), nil
	case Mongo:
		c, err := mongo.Connect(options.Client().ApplyURI(s.mongoURI))
		if err != nil {
			return nil, nil, unavailable(s, err)
		}
		closer := closerFunc(func() error { return c.Disconnect(context.Background()) })
		if err := c.Ping(ctx, nil); err != nil {
			_ = closer()
			return nil, nil, unavailable(s, err)
		}
		return mongostore.New(c.Database(s.MongoDatabase), s.Mongo), closer, nil
	case Memcached:
		sel, err := memcachedstore.NewServerSelector(s.Addrs...)
		if err != nil {
			return nil, nil, unavailable(s, err)
		}
		c := memcache.NewFromSelector(sel)
		if s.memcacheTime > 0 {
			c.Timeout = s.memcacheTime
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if err := c.Ping(); err != nil {
			c.Close()
			return nil, nil, unavailable(s, err)
		}
		return memcachedstore.New(c, s.Memcached), closerFunc(c.Close), nil
	case File:
		st, err := filestore.New(s.File)
		if err != nil {
			return nil, nil, unavailable(s, err)
		}
		return st, closerFunc(func() error { return nil }), nil
	}
	return nil, nil, fmt.Errorf("storeurl: unknown kind %q", s.Kind)
}
