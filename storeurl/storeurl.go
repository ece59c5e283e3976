// Package storeurl opens the session store a Node app uses from one URL, with
// the store's options taken from the URL's query by the names the Node
// package gives them and, when not given, its defaults:
//
//	redis://[user:pass@]host:port[/db][?prefix=sess:&ttl=86400]       connect-redis
//	redis://host1:port,host2:port[?prefix=...]                        connect-redis on a Redis Cluster
//	rediss://...                                                      the same over TLS
//	redis+sentinel://[user:pass@]host:26379[,host:26379]/master[/db]  connect-redis through Redis Sentinel
//	rediss+sentinel://...                                             the same over TLS
//	postgres://user@host:port/db[?tableName=session&schemaName=public] connect-pg-simple
//	mongodb://host:port[,host:port]/db[?collectionName=sessions]      connect-mongo
//	memcached://host:port[,host:port][?prefix=&ttl=&timeout=]         connect-memcached
//	file:///abs/dir or file:rel/dir[?ttl=3600]                        session-file-store
//	mysql://user[:pass]@host[:3306]/db?format=<npm package>[&...]     MySQL, MariaDB (or mariadb://)
//	sqlite:rel/file.db or sqlite:///abs/file.db?format=<npm package>  SQLite
//
// # Formats
//
// The format= option names the npm package whose sessions the store reads
// and writes ([Spec.Format]); each kind of URL takes these:
//
//   - mysql:// (required): connect-session-knex, express-mysql-session,
//     connect-session-sequelize;
//   - postgres://: connect-pg-simple (the default), connect-session-knex,
//     connect-session-sequelize;
//   - sqlite: (required): connect-session-knex, connect-session-sequelize,
//     connect-sqlite3, better-sqlite3-session-store;
//   - mongodb://: connect-mongo (the default), connect-mongodb-session;
//   - redis://, memcached://, file:: their one package (connect-redis,
//     connect-memcached, session-file-store), the default.
//
// The SQL formats open the stores/sql store ([Spec.SQL]) on
// github.com/go-sql-driver/mysql, pgx's database/sql driver or
// modernc.org/sqlite; connect-mongodb-session opens the stores/mongodbsession
// store ([Spec.MongoDBSession]).
//
// # Redis Sentinel
//
// A redis+sentinel:// URL opens the connect-redis store on the master a
// set of sentinels monitors, through go-redis's failover client
// (redis.NewFailoverClient), which asks the sentinels for the master and
// follows it across failovers:
//
//	redis+sentinel://[user[:password]@]host[:port][,host[:port]...]/master[/db][?options]
//	rediss+sentinel://...  (TLS to the sentinels and to the master)
//
// Its parts:
//   - the hosts are the sentinels (default port 26379, [DefaultSentinelPort]);
//     list several, the client asks the next when one does not answer
//     (a sentinel listed twice is refused, as a Cluster node listed twice
//     in a redis:// URL is);
//   - the path's first segment is the master's name, as the sentinels
//     monitor it (sentinel monitor <name> ...), percent-encoded where it
//     needs to be; a second segment is the database (default 0);
//   - the userinfo is the user name and password of the master and its
//     replicas (requirepass, or an ACL user), the servers that hold the
//     sessions, as in a redis:// URL;
//   - sentinels that require a password of their own take
//     sentinel_password= (and sentinel_username= for an ACL user) in the
//     query; its value is treated as every password option is: never
//     shown;
//   - the query takes connect-redis's store options (below) and go-redis's
//     failover options (dial_timeout, read_timeout, write_timeout,
//     pool_size, max_retries, client_name, protocol, skip_verify with
//     rediss+sentinel, ...); it refuses master_name, addr, db, username and
//     password (the path, the host list and the userinfo say them) and
//     replica_only, use_disconnected_replicas, route_by_latency and
//     route_randomly: sessions are read from the master, since a replica
//     may lack a session written a moment ago and reading it there would
//     log the user out.
//
// go-redis's own ParseFailoverURL takes redis:// with master_name= and
// addr= instead, and reads the userinfo as the sentinels' credentials and
// password= as the master's; here the userinfo is the master's, as in
// every store URL, and the sentinels' are the sentinel_ options. Each TLS
// connection verifies the host it dials. Open makes the failover client
// with ContextTimeoutEnabled and PINGs the master. The Node side has no
// URL: node-redis's createSentinel takes the same pieces as {name,
// sentinelRootNodes, nodeClientOptions: {username, password},
// sentinelClientOptions: {username, password}}.
//
// # Store options
//
// Each option is the Node package's, spelt as it spells it; its default is
// the package's. Durations are in the Node package's unit (seconds, or
// milliseconds for expiration, expires and connect-memcached's timeout) or
// Go durations ("24h"); booleans are true or false.
//
// connect-redis (redis://, rediss://):
//   - prefix ("sess:"; empty: keys are the bare session ids)
//   - ttl (86400): the lifetime of a session whose cookie has no expires
//   - disableTTL (false): keys without expiry, and no touch
//   - disableTouch (false)
//   - scanCount (100): SCAN's COUNT when listing sessions
//
// connect-pg-simple (postgres://, postgresql://):
//   - tableName ("session"), alias table
//   - schemaName (none: the search_path), alias schema
//   - ttl (86400)
//   - disableTouch (false)
//   - createTableIfMissing (false): create the table on first use
//   - pruneSessionInterval: only false is accepted, as that is what the Go
//     store does (it deletes expired rows only when its Prune is called);
//     a number is refused
//
// connect-mongo (mongodb://, mongodb+srv://):
//   - collectionName ("sessions"), alias collection
//   - dbName (the URL's database, else "test")
//   - stringify (true; false: sessions stored as subdocuments)
//   - ttl (1209600, 14 days)
//   - touchAfter (0): the store writes lastModified and skips touches
//     within touchAfter of it, as connect-mongo does (see also below)
//   - timestamps (false): createdAt and updatedAt fields
//   - autoRemove: native makes Open create connect-mongo's TTL index, as
//     connect-mongo does when it starts (a server that cannot, such as
//     FerretDB, makes Open fail); disabled, or no autoRemove, creates
//     nothing (the Node app's connect-mongo creates the index by
//     default); interval is refused: the Go store deletes expired
//     sessions only when its Prune is called
//   - crypto is refused in the URL: give crypto.secret to [Spec.SetSecret],
//     which sets Mongo.Crypto (encrypted sessions as connect-mongo's
//     crypto: {secret} stores them); cryptoAdapter is not supported
//
// connect-memcached (memcached://, memcache://):
//   - prefix ("")
//   - ttl (none): the lifetime of every session, whatever its cookie says
//   - namespace (""): the npm memcached client's namespace, put before
//     prefix in every key
//   - timeout (500ms, not the npm client's 5000): the client's time limit
//     for each network step, in milliseconds as the npm client takes it,
//     or a Go duration
//   - retries (5), failures (5), retry (30000), remove (false),
//     failuresTimeout (300000), reconnect (18000000): the npm memcached
//     client's rules for servers that fail, which the Go store follows
//     (memcachedstore.RingOptions; delays in milliseconds as the npm
//     client takes them, or Go durations); with one server they change
//     nothing: its keys cannot move, and every call tries the server
//   - secret is refused in the URL: give it to [Spec.SetSecret], which sets
//     Memcached.Crypto (encrypted sessions as connect-memcached's secret
//     option stores them); hashing and algorithm are not supported
//
// session-file-store (file:):
//   - the URL's path is the path option
//   - ttl (3600): the idle lifetime of a browser-session cookie
//   - fileExtension (".json")
//   - fileMode (0600): the octal mode of new files; the Go store's own
//     option (session-file-store has none), see its documentation
//   - reapInterval: only -1 is accepted, as the Go store never deletes
//     expired files
//
// connect-mongodb-session (mongodb:// with format=connect-mongodb-session):
//   - collection ("sessions")
//   - databaseName (the URL's database, else "test")
//   - idField ("_id"), expiresKey ("expires")
//   - expires (1209600000, 14 days): in milliseconds, as the package takes
//     it, or a Go duration; the lifetime of a browser-session cookie
//   - expiresAfterSeconds is refused: it configures the TTL index, which
//     the Node app creates when it connects; Open creates none (the Go
//     store's CreateTTLIndex does); uri and connectionOptions are the URL
//
// connect-session-knex (mysql://, postgres://, sqlite:):
//   - tableName ("sessions"), sidFieldName ("sid")
//   - createTable (true): create the table on first use, as Node does when
//     it starts; with false, a missing table is sqlstore.ErrNoTable (and a
//     missing SQLite file is not created)
//   - cleanupInterval: only 0 is accepted: the Go store deletes expired
//     rows only when its Prune is called
//
// express-mysql-session (mysql://):
//   - schema.tableName ("sessions")
//   - schema.columnNames.session_id, schema.columnNames.expires,
//     schema.columnNames.data: the column names
//   - expiration (86400000): in milliseconds, or a Go duration
//   - disableTouch (false)
//   - createDatabaseTable (true)
//   - clearExpired: only false is accepted (checkExpirationInterval is
//     refused); mysql2's connection and pool options are the URL or refused
//
// connect-session-sequelize (mysql://, postgres://, sqlite:):
//   - tableName ("Sessions")
//   - expiration (86400000): in milliseconds, or a Go duration
//   - disableTouch (false)
//   - checkExpirationInterval: only 0 (or false) is accepted
//   - the table is the Node app's (sequelize's sync() creates it); a model
//     of one's own (table, extendDefaultFields) is refused
//
// connect-sqlite3 (sqlite:): table ("sessions"); the table is created when
// missing, as Node creates it; db and dir are the URL's path.
//
// better-sqlite3-session-store (sqlite:): no option; the table (sessions)
// is created when missing, as Node creates it.
//
// Every store also takes touchAfter (0, in seconds): [Spec.TouchAfter], for
// sessionbridge.Config.TouchAfter, which skips the store touch of an
// unchanged session whose expiry was set less than touchAfter ago.
//
// The short names table, schema and collection stay aliases of tableName,
// schemaName and collectionName; giving both, or one option twice
// (ttl=1&ttl=2), is an error. Option names are
// case-sensitive, as in Node: a store option written in another case
// (disablettl, TableName) is refused with the right spelling, never passed
// to the driver. MongoDB URLs are the exception: there every option name,
// the driver's and the store's, is case-insensitive, as the MongoDB
// connection string specification makes them, so collectionname= is
// collectionName= (and giving one option in two spellings is an error).
// The options of the Node packages (and of the clients they build) that the
// Go stores do not implement are refused with the reason: session-file-store's
// encryption, custom serializers, client objects, timer-driven cleanup, the
// npm memcached client's tuning options, and the like. An encryption secret
// (connect-mongo's crypto, crypto.secret or crypto[secret];
// connect-memcached's secret) is refused in the URL without being quoted:
// pass it with [Spec.SetSecret] instead.
//
// Everything else in the query goes to the driver: go-redis's URL options
// (dial_timeout, ...), pgx's (sslmode, connect_timeout, pool_max_conns, and
// any run-time parameter), the MongoDB connection-string options (authSource,
// replicaSet, tls, ...), and these of github.com/go-sql-driver/mysql:
// timeout, readTimeout, writeTimeout, tls (true, false, skip-verify,
// preferred), allowCleartextPasswords, allowNativePasswords,
// allowFallbackToPlaintext, checkConnLiveness, compress, interpolateParams,
// parseTime, maxAllowedPacket (charset, collation and loc are refused: the SQL
// store needs the driver's utf8mb4 connection and UTC). A query parameter
// neither the store nor the driver knows is an error, so a misspelt option is
// not silently ignored; pgx sends unknown parameters to the server as
// run-time parameters, which PostgreSQL refuses when connecting. memcached,
// file and sqlite URLs take no other parameter: Open sets SQLite's
// busy_timeout to 5 seconds, so that Go waits for a lock the Node app holds.
//
// MongoDB's database is the one in the URL's path, or "test" when there is
// none: what the Node driver's client.db() gives connect-mongo for the same
// URL. Several memcached servers are chosen by key exactly as the npm
// memcached client does (its ketama-compatible hashring, and its rules for
// servers that fail), so Go looks on the server Node wrote to.
//
// A store URL is at most [MaxURLLength] bytes (16 KiB, surrounding spaces
// not counted); a longer one is refused without being looked at, so that
// parsing it and removing its credentials from messages stay cheap.
//
// Errors from Parse wrap ErrBadURL; errors from Open connecting or checking
// the store wrap ErrUnavailable. No error, no [Spec.String] and no way of
// printing a Spec shows any part of the URL's userinfo (user or password), or
// the value of a password option (password=, sentinel_password=, sslpassword=,
// tlsCertificateKeyFilePassword=, authMechanismProperties=, ...): a URL whose
// userinfo is not well-formed is refused with a message that quotes none of
// it, driver messages are taken from the same URL with the credentials
// replaced, and the errors of Open have every form of them removed.
package storeurl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"

	"github.com/sessionbridge/sessionbridge"
	filestore "github.com/sessionbridge/sessionbridge/stores/file"
	memcachedstore "github.com/sessionbridge/sessionbridge/stores/memcached"
	mongostore "github.com/sessionbridge/sessionbridge/stores/mongo"
	mongodbsessionstore "github.com/sessionbridge/sessionbridge/stores/mongodbsession"
	pgstore "github.com/sessionbridge/sessionbridge/stores/postgres"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
	sqlstore "github.com/sessionbridge/sessionbridge/stores/sql"
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
	MySQL     Kind = "mysql"
	SQLite    Kind = "sqlite"
)

// MaxURLLength is the length in bytes of the longest URL Parse accepts.
// A store URL is configuration: this leaves room for long host lists and
// long credentials (an AWS session token in authMechanismProperties, a
// certificate key password) while keeping Parse and Open cheap.
const MaxURLLength = 16 << 10

// Default ports and the MongoDB database used when the URL names none.
const (
	DefaultRedisPort     = "6379"
	DefaultMemcachedPort = "11211"
	DefaultMongoDatabase = "test"
)

// Spec is a parsed store URL. Only the fields of its Kind and Format (and
// TouchAfter) are set; the store options are the ones passed to the store's
// New.
type Spec struct {
	Kind Kind
	// Addrs are the servers of a Redis or memcached URL (host:port, in
	// the URL's order).
	Addrs []string
	// Cluster is set for a Redis URL with several servers: a Cluster
	// client is used.
	Cluster bool
	// Sentinel is set for a redis+sentinel:// URL: Addrs are the
	// sentinels, MasterName the master they monitor, and Open makes a
	// go-redis failover client (redis.NewFailoverClient).
	Sentinel bool
	// MasterName is the name of the master a redis+sentinel:// URL names
	// (its path).
	MasterName string
	// TLS is set for rediss:// and rediss+sentinel://.
	TLS bool
	// RedisDB is the Redis database number (the URL's path).
	RedisDB int
	// MongoDatabase is the MongoDB database (the URL's path, default "test").
	MongoDatabase string
	// Format is the npm session store whose sessions Open's store reads and
	// writes, as the URL's format= option names it (connect-redis,
	// connect-pg-simple, connect-session-knex, ...), or the kind's default.
	Format string

	// TouchAfter is the URL's touchAfter option (0 when absent), which
	// every kind takes: give it to sessionbridge.Config.TouchAfter, which
	// then skips the store touch of an unchanged session whose expiry the
	// store set less than TouchAfter ago. For MongoDB it is also
	// connect-mongo's touchAfter, set in Mongo.TouchAfter too. The
	// sessionbridge command passes it on.
	TouchAfter time.Duration

	// The options passed to the store's New.
	Redis     redisstore.Options
	Postgres  pgstore.Options
	Mongo     mongostore.Options
	Memcached memcachedstore.Options
	File      filestore.Options
	// SQL is for the SQL formats: connect-session-knex,
	// express-mysql-session, connect-session-sequelize, connect-sqlite3 and
	// better-sqlite3-session-store.
	SQL sqlstore.Options
	// MongoDBSession is for format=connect-mongodb-session.
	MongoDBSession mongodbsessionstore.Options

	redacted string
	// conn holds what Open needs, credentials included. It is a pointer so
	// that printing a Spec with any verb (%v, %+v, %#v, %d, ...) shows an
	// address, never a password.
	conn *driverConfig
}

type driverConfig struct {
	redisOpts    *redis.Options
	clusterOpts  *redis.ClusterOptions
	failoverOpts *redis.FailoverOptions
	pgConfig     *pgxpool.Config
	// pgConnConfig is a postgres URL's connection for an SQL format.
	pgConnConfig *pgx.ConnConfig
	mysql        *mysql.Config
	sqlitePath   string
	mongoURI     string
	mongoDBName  string // connect-mongo's dbName option, "" when absent
	// mongoTTLIndex is autoRemove=native: Open creates connect-mongo's
	// TTL index.
	mongoTTLIndex bool
	secrets       secretForms
}

// String returns the URL with its userinfo (user and password) replaced by
// "xxxxx" and the values of password options replaced the same way.
func (s Spec) String() string { return s.redacted }

// GoString is String, so that %#v does not show the fields either.
func (s Spec) GoString() string { return s.redacted }

// SetSecret sets the secret the Node store encrypts sessions with, which
// never goes in the URL (URLs end up in logs, and Parse refuses one there):
// connect-mongo's crypto.secret for a MongoDB URL (it sets Mongo.Crypto),
// connect-memcached's secret for a memcached URL (Memcached.Crypto). Call
// it between Parse and Open. It returns an error wrapping ErrBadURL when
// secret is empty or the URL's store has no encryption the Go stores
// support (session-file-store's secret is not supported; the Redis,
// PostgreSQL, SQL and connect-mongodb-session stores have none). Neither the error nor printing the Spec
// shows the secret.
func (s *Spec) SetSecret(secret string) error {
	if secret == "" {
		return fmt.Errorf("%w: the encryption secret is empty", ErrBadURL)
	}
	switch {
	case s.Kind == Mongo && s.Format == fmtMongoDBSession:
		return fmt.Errorf("%w: %s does not encrypt sessions, so it takes no secret", ErrBadURL, s.Format)
	case s.Kind == Mongo:
		s.Mongo.Crypto = &mongostore.CryptoOptions{Secret: secret}
	case s.Kind == Memcached:
		s.Memcached.Crypto = &memcachedstore.CryptoOptions{Secret: secret}
	case s.Kind == File:
		return fmt.Errorf("%w: %s: session-file-store's encrypted files (kruptein 2: scrypt, a JSON container) are not supported by the Go store", ErrBadURL, s.Kind)
	default:
		return fmt.Errorf("%w: %s: the Node store does not encrypt sessions, so it takes no secret", ErrBadURL, s.Kind)
	}
	return nil
}

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

const wantSchemes = "want one of redis://, rediss://, redis+sentinel://, postgres://, mongodb://, mysql://, memcached://, file:, sqlite:"

// Parse checks a store URL and resolves its options. It does no I/O (except
// the DNS lookups of a mongodb+srv:// URL).
func Parse(rawURL string) (*Spec, error) {
	rawURL = strings.TrimSpace(rawURL)
	if rawURL == "" {
		return nil, badf("empty URL")
	}
	if len(rawURL) > MaxURLLength {
		return nil, badf("the URL is longer than %d bytes (the URL is not shown)", MaxURLLength)
	}
	// Whatever stands before the first ':' may be a user name (a URL
	// without its scheme), and whatever follows it a password: quote
	// neither unless they are clearly a scheme and "//".
	scheme, rest, ok := strings.Cut(rawURL, ":")
	if ok && rest != "" && rest[0] >= '0' && rest[0] <= '9' {
		return nil, badf("no scheme before host:port; write redis://host:port, memcached://host:port, ...")
	}
	if !ok || !validScheme(scheme) {
		return nil, badf("no scheme; %s", wantSchemes)
	}
	switch strings.ToLower(scheme) {
	case "redis", "rediss":
		return parseRedis(rawURL)
	case "redis+sentinel", "rediss+sentinel":
		return parseSentinel(rawURL)
	case "postgres", "postgresql":
		return parsePostgres(rawURL)
	case "mongodb", "mongodb+srv":
		return parseMongo(rawURL)
	case "memcached", "memcache":
		return parseMemcached(rawURL)
	case "file":
		return parseFile(rawURL)
	case "mysql", "mariadb":
		return parseMySQL(rawURL)
	case "sqlite", "sqlite3":
		return parseSQLite(rawURL)
	}
	if strings.HasPrefix(rest, "//") {
		return nil, badf("unknown scheme %q; %s", scheme, wantSchemes)
	}
	return nil, badf("unknown scheme; %s", wantSchemes)
}

// validScheme reports whether s has the syntax of a URL scheme:
// ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// parts is a URL split by hand: many store URLs list several hosts, which
// net/url cannot parse.
type parts struct {
	scheme   string
	userinfo string // without '@'; hasUser tells whether there was one
	hasUser  bool
	user     string // the userinfo before the first ':', not decoded
	pass     string // after it; hasPass tells whether there was a ':'
	hasPass  bool
	// driverUserinfo is the userinfo the drivers get: user and password
	// decoded and re-encoded so that they hold no delimiter at all, not
	// even the '@' and ':' that net/url tolerates but pgx's host-list
	// parser and the MongoDB driver split on.
	driverUserinfo string
	hosts          []string
	path           string // from the first '/', not decoded
	query          string // without '?'
	hasQuery       bool
	redacted       string // the URL as String shows it
	secrets        secretForms
}

// errAtAfterHost is the error for an '@' after the end of the host list.
// Such a URL is not well-formed, and parsing it as it stands would take part
// of the password for a host name, a path or a query; the message quotes
// nothing of it.
func errAtAfterHost() error {
	return badf(`"@" after the host list: percent-encode "/", "?", "#", "@" and "%%" in a user name or password (%%2F, %%3F, %%23, %%40, %%25), and "@" in the path or query (%%40); the URL is not shown`)
}

func split(rawURL string) (parts, error) {
	var p parts
	scheme, rest, _ := strings.Cut(rawURL, ":")
	p.scheme = strings.ToLower(scheme)
	rest, ok := strings.CutPrefix(rest, "//")
	if !ok {
		return p, badf("%s URLs start with %s://", p.scheme, p.scheme)
	}
	// The authority (userinfo and hosts) ends at the first '/', '?' or '#'.
	// An '@' after that point means the userinfo holds one of them
	// unescaped (or the path or query holds an '@'): refuse it before
	// anything else looks at, or quotes, the pieces.
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if strings.LastIndexByte(rest, '@') >= end {
		return p, errAtAfterHost()
	}
	authority, after := rest[:end], rest[end:]
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		p.userinfo, p.hasUser, authority = authority[:i], true, authority[i+1:]
		p.user, p.pass, p.hasPass = strings.Cut(p.userinfo, ":")
		if err := checkUserinfo(p.userinfo); err != nil {
			return p, err
		}
		p.driverUserinfo = canonicalUserinfo(p)
	}
	if strings.IndexByte(after, '#') >= 0 {
		return p, badf("a fragment (#...) is not allowed; write # as %%23")
	}
	after, p.query, p.hasQuery = strings.Cut(after, "?")
	p.path = after
	redactedQuery, err := p.secrets.addQuery(p.query)
	if err != nil {
		return p, err
	}
	if p.hasUser {
		p.secrets.addUserinfo(p)
	}
	var b strings.Builder
	b.WriteString(rawURL[:len(scheme)+3])
	if p.hasUser {
		b.WriteString("xxxxx@")
	}
	b.WriteString(authority)
	b.WriteString(p.path)
	if p.hasQuery {
		b.WriteByte('?')
		b.WriteString(redactedQuery)
	}
	p.redacted = b.String()
	if authority == "" {
		if p.scheme != "postgres" && p.scheme != "postgresql" {
			return p, badf("no host")
		}
		return p, nil // pgx: the local socket, or host= in the query
	}
	p.hosts = strings.Split(authority, ",")
	return p, nil
}

// checkUserinfo accepts what RFC 3986 allows in a userinfo (unreserved and
// sub-delims characters, ':', %XX escapes), plus '@' as net/url does. Its
// messages say what is wrong, never where.
func checkUserinfo(u string) error {
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case c == '%':
			if i+2 >= len(u) || !ishex(u[i+1]) || !ishex(u[i+2]) {
				return badf(`the user name or password has a "%%" that does not start a %%XX escape; write "%%" as %%25 (the value is not shown)`)
			}
			i += 2
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0:
		default:
			return badf("the user name or password holds a character that must be percent-encoded (a space, a quote, a control or non-ASCII character, ...); the value is not shown")
		}
	}
	return nil
}

// canonicalUserinfo decodes the user name and password of a checked
// userinfo and encodes every byte but the unreserved ones.
func canonicalUserinfo(p parts) string {
	user, _ := url.PathUnescape(p.user)
	out := escapeAll(user)
	if p.hasPass {
		pass, _ := url.PathUnescape(p.pass)
		out += ":" + escapeAll(pass)
	}
	return out
}

func escapeAll(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// maskedUserinfo is the userinfo with its user name and password (when not
// empty) replaced by placeholders, for a driver whose errors may quote them.
func (p parts) maskedUserinfo() string {
	var b strings.Builder
	if p.user != "" {
		b.WriteString("xxxxx")
	}
	if p.hasPass {
		b.WriteByte(':')
		if p.pass != "" {
			b.WriteString("xxxxx")
		}
	}
	return b.String()
}

// secretForms are the strings an error must not contain: the userinfo, the
// user name and password as written, decoded and re-encoded, and the values
// of password options. Each form is kept once; the set makes that check
// constant-time, however many password options a URL repeats.
type secretForms struct {
	list []string
	seen map[string]struct{}
}

func (f *secretForms) add(vs ...string) {
	for _, v := range vs {
		if v == "" {
			continue
		}
		countFormWork(1)
		if _, ok := f.seen[v]; ok {
			continue
		}
		if f.seen == nil {
			f.seen = make(map[string]struct{})
		}
		f.seen[v] = struct{}{}
		f.list = append(f.list, v)
	}
}

// testHookFormWork, set only by tests, receives the number of look-ups
// made to keep each secret form once, so tests can check that the work
// grows linearly with the number of password options.
var testHookFormWork func(n int)

func countFormWork(n int) {
	if h := testHookFormWork; h != nil {
		h(n)
	}
}

func (f *secretForms) addEncodings(raw string) {
	f.add(raw)
	if d, err := url.PathUnescape(raw); err == nil {
		f.add(d, url.PathEscape(d), url.QueryEscape(d), escapeAll(d))
		if u := url.User(d).String(); u != "" {
			f.add(u)
		}
	}
}

func (f *secretForms) addUserinfo(p parts) {
	f.add(p.userinfo, p.driverUserinfo)
	f.addEncodings(p.user)
	f.addEncodings(p.pass)
	if d, err := url.PathUnescape(p.pass); err == nil {
		// url.UserPassword escapes a password differently from a user name.
		f.add(strings.TrimPrefix(url.UserPassword("", d).String(), ":"))
	}
}

// passwordOptions are the query options, in lower case, whose values are
// credentials: libpq's password and sslpassword, MongoDB's key-file
// passwords and mechanism properties (AWS_SESSION_TOKEN, ...), and the
// encryption secrets of connect-memcached and session-file-store (and
// connect-mongo's crypto, see isPasswordOption), which Parse refuses
// without quoting them.
var passwordOptions = []string{
	"password",
	"sentinel_password", // a redis+sentinel:// URL's sentinels'
	"secret",            // connect-memcached's and session-file-store's (refused: see Spec.SetSecret)
	"sslpassword",
	"tlscertificatekeyfilepassword",
	"sslclientcertificatekeypassword",
	"authmechanismproperties",
}

func isPasswordOption(name string) bool {
	n := strings.ToLower(name)
	// connect-mongo's crypto: {secret}, as a query writes it (refused).
	return slices.Contains(passwordOptions, n) || n == "crypto" || strings.HasPrefix(n, "crypto.") || strings.HasPrefix(n, "crypto[")
}

// maskValue replaces a password option's value; mechanism properties keep
// their names ("AWS_SESSION_TOKEN:xxxxx") so the driver still parses them.
func maskValue(name, value string) string {
	if !strings.EqualFold(name, "authMechanismProperties") {
		return "xxxxx"
	}
	props := strings.Split(value, ",")
	for i, kv := range props {
		if k, _, ok := strings.Cut(kv, ":"); ok {
			props[i] = k + ":xxxxx"
		} else {
			props[i] = "xxxxx"
		}
	}
	return strings.Join(props, ",")
}

// addQuery records the values of the password options in a raw query and
// returns the query with them masked. It also checks every %-escape, so
// that url.ParseQuery never quotes a piece of a value.
func (f *secretForms) addQuery(raw string) (string, error) {
	if raw == "" {
		return raw, nil
	}
	pairs := strings.Split(raw, "&")
	for i, kv := range pairs {
		k, v, hasValue := strings.Cut(kv, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return "", badf("query: an option name has a %%-escape that is not %%XX; write %% as %%25")
		}
		if _, err := url.QueryUnescape(v); err != nil {
			return "", badf("query: the value of %q has a %%-escape that is not %%XX; write %% as %%25", name)
		}
		if !hasValue || !isPasswordOption(name) {
			continue
		}
		d, _ := url.QueryUnescape(v)
		f.addEncodings(v)
		f.add(d, url.QueryEscape(d))
		if strings.EqualFold(name, "authMechanismProperties") {
			for _, prop := range strings.Split(d, ",") {
				if _, pv, ok := strings.Cut(prop, ":"); ok {
					f.add(pv)
				}
			}
		}
		pairs[i] = k + "=" + url.QueryEscape(maskValue(name, d))
	}
	return strings.Join(pairs, "&"), nil
}

// scrub removes every secret form from a driver's message. Forms of four
// bytes or more are removed wherever they occur; shorter ones only where
// they stand alone (not inside a word), so that a one-letter user name does
// not blank every letter of the message.
func (f secretForms) scrub(msg string) string {
	forms := slices.Clone(f.list)
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
	for _, s := range forms {
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
			continue
		}
		if !strings.Contains(msg, s) {
			continue
		}
		var b strings.Builder
		for {
			i := strings.Index(msg, s)
			if i < 0 {
				break
			}
			j := i + len(s)
			alone := (i == 0 || !isWordByte(msg[i-1])) && (j == len(msg) || !isWordByte(msg[j]))
			b.WriteString(msg[:i])
			if alone {
				b.WriteString("xxxxx")
			} else {
				b.WriteString(s)
			}
			msg = msg[j:]
		}
		b.WriteString(msg)
		msg = b.String()
	}
	return msg
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c >= 0x80
}

// viaDriver parses real, the URL with the credentials, with a driver's
// parser. When that fails, the error reported is the one the parser gives
// for masked, the same URL with the credentials replaced, so that no driver
// message can quote them; when masked parses, the driver refused the
// credentials themselves, and a fixed message says so.
func viaDriver[T any](driver, real, masked string, parse func(string) (T, error)) (T, error) {
	v, err := parse(real)
	if err == nil {
		return v, nil
	}
	var zero T
	if real == masked {
		return zero, badf("%v", unwrapURLError(err))
	}
	if _, err := parse(masked); err != nil {
		return zero, badf("%v", unwrapURLError(err))
	}
	return zero, badf(`%s refuses the user name, password or a password option (not shown); percent-encode ":", "/", "?", "#", "[", "]", "@" and "%%" in them`, driver)
}

// hostPort validates host[:port] and adds the default port. Its messages do
// not quote the host: when the '@' of a URL is missing, what stands there is
// the user name and password.
func hostPort(h, defPort string, i, n int) (string, error) {
	where := "host"
	if n > 1 {
		where = fmt.Sprintf("host %d of %d", i+1, n)
	}
	if h == "" {
		return "", badf("%s: empty host in the host list", where)
	}
	host, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", badf("%s: missing ']'", where)
		}
		host, port = h[1:end], h[end+1:]
		if port != "" && !strings.HasPrefix(port, ":") {
			return "", badf("%s: want [ipv6]:port", where)
		}
		port = strings.TrimPrefix(port, ":")
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		host, port = h[:i], h[i+1:]
		if strings.Contains(host, ":") {
			return "", badf("%s: write IPv6 addresses as [addr]:port", where)
		}
	}
	if host == "" {
		return "", badf("%s: empty host name", where)
	}
	if strings.ContainsAny(host, " /\\%") {
		return "", badf("%s: invalid host name", where)
	}
	if port == "" {
		port = defPort
	}
	n2, err := strconv.Atoi(port)
	if err != nil || n2 < 1 || n2 > 65535 {
		return "", badf("%s: port must be a number from 1 to 65535", where)
	}
	return net.JoinHostPort(host, port), nil
}

// query is a URL query whose store options are taken out one by one; what
// remains goes to the driver.
type query struct {
	v url.Values
}

// parseQuery parses a query whose escapes split has checked.
func parseQuery(raw string) (query, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return query{}, badf("query: %v", unwrapURLError(err))
	}
	return query{v}, nil
}

// masked returns the query with the values of password options replaced.
func (q query) masked() string {
	m := make(url.Values, len(q.v))
	for k, vs := range q.v {
		if isPasswordOption(k) {
			vs = slices.Clone(vs)
			for i := range vs {
				vs[i] = maskValue(k, vs[i])
			}
		}
		m[k] = vs
	}
	return m.Encode()
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

// join builds the URL a driver parses, with the given userinfo.
func join(p parts, userinfo string, hosts []string, path, query string) string {
	var b strings.Builder
	b.WriteString(p.scheme)
	b.WriteString("://")
	if p.hasUser {
		b.WriteString(userinfo)
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

// parseRedisCommon parses what redis://, rediss:// and their +sentinel
// forms share: the host list (defPort where a host names none; a server
// listed twice is refused, as a typo that would otherwise make a Cluster
// of one server or ask one sentinel twice), the query, and connect-redis's
// store options, which it takes out of the query.
func parseRedisCommon(rawURL, defPort string) (parts, *Spec, query, error) {
	p, err := split(rawURL)
	if err != nil {
		return p, nil, query{}, err
	}
	s := &Spec{Kind: Redis, TLS: strings.HasPrefix(p.scheme, "rediss"), redacted: p.redacted, conn: &driverConfig{secrets: p.secrets}}
	seen := make(map[string]int, len(p.hosts))
	for i, h := range p.hosts {
		a, err := hostPort(h, defPort, i, len(p.hosts))
		if err != nil {
			return p, nil, query{}, err
		}
		if j, ok := seen[a]; ok {
			return p, nil, query{}, badf("host %d of %d is host %d again: list each server once", i+1, len(p.hosts), j+1)
		}
		seen[a] = i
		s.Addrs = append(s.Addrs, a)
	}
	q, err := parseQuery(p.query)
	if err != nil {
		return p, nil, query{}, err
	}
	s.Redis.Prefix = redisstore.DefaultPrefix
	if _, err := q.format(s, false); err != nil {
		return p, nil, query{}, err
	}
	if err := q.storeOptions(s, &redisOptions); err != nil {
		return p, nil, query{}, err
	}
	return p, s, q, nil
}

func parseRedis(rawURL string) (*Spec, error) {
	p, s, q, err := parseRedisCommon(rawURL, DefaultRedisPort)
	if err != nil {
		return nil, err
	}
	path := strings.Trim(p.path, "/")
	if path != "" {
		if s.RedisDB, err = strconv.Atoi(path); err != nil || s.RedisDB < 0 {
			return nil, badf("path: a Redis URL's path is the database number (/0 to /15)")
		}
	}
	masked := p.maskedUserinfo()
	if len(s.Addrs) == 1 {
		o, err := viaDriver("go-redis",
			join(p, p.driverUserinfo, s.Addrs, p.path, q.encode()),
			join(p, masked, s.Addrs, p.path, q.masked()),
			redis.ParseURL)
		if err != nil {
			return nil, err
		}
		s.RedisDB = o.DB
		o.ContextTimeoutEnabled = true // honour the caller's deadlines (see stores/redis)
		s.conn.redisOpts = o
		return s, nil
	}
	s.Cluster = true
	if s.RedisDB != 0 {
		return nil, badf("a Redis Cluster has only database 0 (path /%d)", s.RedisDB)
	}
	if _, ok := q.v["addr"]; ok {
		return nil, badf("list the Cluster nodes as host1:port,host2:port, not with addr=")
	}
	for _, a := range s.Addrs[1:] {
		q.v.Add("addr", a)
	}
	o, err := viaDriver("go-redis",
		join(p, p.driverUserinfo, s.Addrs[:1], "", q.encode()),
		join(p, masked, s.Addrs[:1], "", q.masked()),
		redis.ParseClusterURL)
	if err != nil {
		return nil, err
	}
	o.ContextTimeoutEnabled = true
	s.conn.clusterOpts = o
	return s, nil
}

func parsePostgres(rawURL string) (*Spec, error) {
	p, err := split(rawURL)
	if err != nil {
		return nil, err
	}
	s := &Spec{Kind: Postgres, redacted: p.redacted, conn: &driverConfig{secrets: p.secrets}}
	q, err := parseQuery(p.query)
	if err != nil {
		return nil, err
	}
	f, err := q.format(s, false)
	if err != nil {
		return nil, err
	}
	if f.name != fmtConnectPgSimple {
		if err := q.storeOptions(s, f.opts); err != nil {
			return nil, err
		}
		if err := s.checkSQL(f); err != nil {
			return nil, err
		}
		cfg, err := viaDriver("pgx",
			join(p, p.driverUserinfo, p.hosts, p.path, q.encode()),
			join(p, p.maskedUserinfo(), p.hosts, p.path, q.masked()),
			pgx.ParseConfig)
		if err != nil {
			return nil, err
		}
		s.conn.pgConnConfig = cfg
		return s, nil
	}
	s.Postgres.TableName = pgstore.DefaultTableName
	if err := q.storeOptions(s, &postgresOptions); err != nil {
		return nil, err
	}
	// pgconn's ParseConfigError redacts passwords only as far as it can
	// tell where they are (it quotes a password whose '?' made it fall back
	// to the key=value syntax, and always the user): viaDriver never lets
	// it see them.
	cfg, err := viaDriver("pgx",
		join(p, p.driverUserinfo, p.hosts, p.path, q.encode()),
		join(p, p.maskedUserinfo(), p.hosts, p.path, q.masked()),
		pgxpool.ParseConfig)
	if err != nil {
		return nil, err
	}
	s.conn.pgConfig = cfg
	return s, nil
}

func parseMongo(rawURL string) (*Spec, error) {
	p, err := split(rawURL)
	if err != nil {
		return nil, err
	}
	s := &Spec{Kind: Mongo, redacted: p.redacted, conn: &driverConfig{secrets: p.secrets}}
	q, err := parseQuery(p.query)
	if err != nil {
		return nil, err
	}
	f, err := q.format(s, true)
	if err != nil {
		return nil, err
	}
	if f.name == fmtConnectMongo {
		s.Mongo.Collection = mongostore.DefaultCollection
	} else {
		s.MongoDBSession.Collection = mongodbsessionstore.DefaultCollection
	}
	if err := q.storeOptions(s, f.opts); err != nil {
		return nil, err
	}
	s.conn.mongoURI = join(p, p.driverUserinfo, p.hosts, p.path, q.encode())
	cs, err := viaDriver("the MongoDB driver",
		s.conn.mongoURI,
		join(p, p.maskedUserinfo(), p.hosts, p.path, q.masked()),
		connstring.ParseAndValidate)
	if err != nil {
		return nil, err
	}
	if len(cs.UnknownOptions) > 0 {
		var names []string
		for k := range cs.UnknownOptions {
			names = append(names, k)
		}
		slices.Sort(names)
		return nil, badf("unknown option %s (store options: %s)", strings.Join(names, ", "), f.opts.names())
	}
	s.MongoDatabase = cs.Database
	if s.conn.mongoDBName != "" {
		s.MongoDatabase = s.conn.mongoDBName // connect-mongo: client.db(dbName)
	}
	if s.MongoDatabase == "" {
		s.MongoDatabase = DefaultMongoDatabase
	}
	return s, nil
}

func parseMemcached(rawURL string) (*Spec, error) {
	p, err := split(rawURL)
	if err != nil {
		return nil, err
	}
	s := &Spec{Kind: Memcached, redacted: p.redacted, conn: &driverConfig{}}
	if p.hasUser {
		return nil, badf("memcached URLs take no user or password")
	}
	for i, h := range p.hosts {
		a, err := hostPort(h, DefaultMemcachedPort, i, len(p.hosts))
		if err != nil {
			return nil, err
		}
		s.Addrs = append(s.Addrs, a)
	}
	if p.path != "" && p.path != "/" {
		return nil, badf("memcached URLs have no path")
	}
	q, err := parseQuery(p.query)
	if err != nil {
		return nil, err
	}
	if _, err := q.format(s, false); err != nil {
		return nil, err
	}
	if err := q.storeOptions(s, &memcachedOptions); err != nil {
		return nil, err
	}
	if n := q.names(); len(n) > 0 {
		slices.Sort(n)
		return nil, badf("unknown option %s (memcached options: %s)", strings.Join(n, ", "), memcachedOptions.names())
	}
	return s, nil
}

func parseFile(rawURL string) (*Spec, error) {
	s := &Spec{Kind: File, redacted: rawURL, conn: &driverConfig{}}
	_, rest, _ := strings.Cut(rawURL, ":")
	var dir string
	if after, ok := strings.CutPrefix(rest, "//"); ok {
		// A file URL has no userinfo, but one written there anyway must
		// not be echoed: refuse any '@' after "//" without quoting.
		if strings.IndexByte(after, '@') >= 0 {
			return nil, badf(`file:// URLs take no user or password; write "@" in a directory name as %%40 (the URL is not shown)`)
		}
		if strings.Contains(rest, "#") {
			return nil, badf("a fragment (#...) is not allowed; write # in a directory name as %%23")
		}
		after, _, _ = strings.Cut(after, "?")
		host, path, _ := strings.Cut(after, "/")
		if host != "" && host != "localhost" {
			return nil, badf("file://%s names a host; write file:%s for a relative directory or file:///abs/dir for an absolute one", host, after)
		}
		if path == "" {
			return nil, badf("no directory; write file:///abs/dir or file:rel/dir")
		}
		dir = "/" + path
	} else {
		if strings.Contains(rest, "#") {
			return nil, badf("a fragment (#...) is not allowed; write # in a directory name as %%23")
		}
		dir, _, _ = strings.Cut(rest, "?")
	}
	_, rawQuery, _ := strings.Cut(rest, "?")
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
	var secrets secretForms
	if _, err := secrets.addQuery(rawQuery); err != nil {
		return nil, err
	}
	q, err := parseQuery(rawQuery)
	if err != nil {
		return nil, err
	}
	s.File.Dir = dir
	if _, err := q.format(s, false); err != nil {
		return nil, err
	}
	if err := q.storeOptions(s, &fileOptions); err != nil {
		return nil, err
	}
	if n := q.names(); len(n) > 0 {
		slices.Sort(n)
		return nil, badf("unknown option %s (file options: %s)", strings.Join(n, ", "), fileOptions.names())
	}
	return s, nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// unavailable reports a failure to open the store. The driver's error is
// not wrapped: its text goes through scrub (pgx, for one, quotes the user
// name, and the server's own messages may too), and Unwrap would hand out
// the original.
func unavailable(s *Spec, err error) error {
	return fmt.Errorf("%w: %s %s: %s", ErrUnavailable, s.Kind, s.hostList(), s.conn.secrets.scrub(err.Error()))
}

func (s *Spec) hostList() string {
	switch s.Kind {
	case Redis, Memcached:
		if s.Sentinel {
			return strings.Join(s.Addrs, ",") + " (sentinels of " + s.MasterName + ")"
		}
		return strings.Join(s.Addrs, ",")
	case Postgres:
		if s.conn.pgConfig != nil {
			return net.JoinHostPort(s.conn.pgConfig.ConnConfig.Host, strconv.Itoa(int(s.conn.pgConfig.ConnConfig.Port)))
		}
		if c := s.conn.pgConnConfig; c != nil {
			return net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port)))
		}
	case MySQL:
		if s.conn.mysql != nil {
			return s.conn.mysql.Addr
		}
	case SQLite:
		return s.conn.sqlitePath
	case File:
		return s.File.Dir
	}
	return ""
}

// Open connects to the store, checks that it answers (PING, SELECT 1, ...;
// for the file store, that the directory exists, is created if missing, and
// is a directory), and returns it with a Closer that releases the client
// (for an SQL format, the *sql.DB; for MongoDB, the client). An option
// the store's New refuses (connect-mongodb-session's idField or expiresKey
// that is not a usable field path) gives an error wrapping ErrBadURL.
// For a MongoDB URL with autoRemove=native it also creates connect-mongo's
// TTL index; a server that cannot gives an error wrapping both
// ErrUnavailable and mongostore.ErrTTLIndexUnsupported.
func (s *Spec) Open(ctx context.Context) (sessionbridge.Store, io.Closer, error) {
	notParsed := fmt.Errorf("%w: the Spec was not made by Parse", ErrBadURL)
	if s.conn == nil {
		return nil, nil, notParsed
	}
	switch s.Kind {
	case Redis:
		var c redis.UniversalClient
		switch {
		case s.Sentinel && s.conn.failoverOpts != nil:
			c = redis.NewFailoverClient(s.conn.failoverOpts)
		case s.Sentinel:
			return nil, nil, notParsed
		case s.Cluster && s.conn.clusterOpts != nil:
			c = redis.NewClusterClient(s.conn.clusterOpts)
		case !s.Cluster && s.conn.redisOpts != nil:
			c = redis.NewClient(s.conn.redisOpts)
		default:
			return nil, nil, notParsed
		}
		if err := c.Ping(ctx).Err(); err != nil {
			c.Close()
			return nil, nil, unavailable(s, err)
		}
		return redisstore.New(c, s.Redis), c, nil
	case MySQL, SQLite:
		return s.openSQL(ctx, notParsed)
	case Postgres:
		if s.Format != fmtConnectPgSimple {
			return s.openSQL(ctx, notParsed)
		}
		if s.conn.pgConfig == nil {
			return nil, nil, notParsed
		}
		pool, err := pgxpool.NewWithConfig(ctx, s.conn.pgConfig)
		if err != nil {
			return nil, nil, unavailable(s, err)
		}
		if err := pool.Ping(ctx); err != nil {
			pool.Close()
			return nil, nil, unavailable(s, err)
		}
		return pgstore.New(pool, s.Postgres), closerFunc(func() error { pool.Close(); return nil }), nil
	case Mongo:
		if s.conn.mongoURI == "" {
			return nil, nil, notParsed
		}
		c, err := mongo.Connect(options.Client().ApplyURI(s.conn.mongoURI))
		if err != nil {
			return nil, nil, unavailable(s, err)
		}
		closer := closerFunc(func() error { return c.Disconnect(context.Background()) })
		var session *mongodbsessionstore.Store
		if s.Format == fmtMongoDBSession {
			// New checks idField and expiresKey, without I/O.
			if session, err = mongodbsessionstore.New(c.Database(s.MongoDatabase), s.MongoDBSession); err != nil {
				_ = closer()
				return nil, nil, fmt.Errorf("%w: format=%s: %v", ErrBadURL, s.Format, err)
			}
		}
		if err := c.Ping(ctx, nil); err != nil {
			_ = closer()
			return nil, nil, unavailable(s, err)
		}
		if session != nil {
			return session, closer, nil
		}
		st := mongostore.New(c.Database(s.MongoDatabase), s.Mongo)
		if s.conn.mongoTTLIndex {
			if err := st.CreateTTLIndex(ctx); err != nil {
				_ = closer()
				if errors.Is(err, mongostore.ErrTTLIndexUnsupported) {
					return nil, nil, fmt.Errorf("%w: mongodb: autoRemove=native: %w; give autoRemove=disabled and let the Node app or Prune remove expired sessions", ErrUnavailable, mongostore.ErrTTLIndexUnsupported)
				}
				return nil, nil, unavailable(s, err)
			}
		}
		return st, closer, nil
	case Memcached:
		st, err := memcachedstore.NewRing(s.Addrs, s.Memcached)
		if err != nil {
			return nil, nil, unavailable(s, err)
		}
		if err := ctx.Err(); err != nil {
			_ = st.Close()
			return nil, nil, err
		}
		if err := st.Ping(ctx); err != nil {
			_ = st.Close()
			return nil, nil, unavailable(s, err)
		}
		return st, closerFunc(st.Close), nil
	case File:
		st, err := filestore.New(s.File)
		if err != nil {
			return nil, nil, unavailable(s, err)
		}
		return st, closerFunc(func() error { return nil }), nil
	}
	return nil, nil, fmt.Errorf("storeurl: unknown kind %q", s.Kind)
}
