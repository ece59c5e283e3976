package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/storeurl"
)

// Exit statuses, as the package documentation lists them.
const (
	exitOK        = 0
	exitFailure   = 1 // usage or store error
	exitNoCookie  = 2 // cookie missing, unsigned or forged
	exitNoSession = 3 // no such session, or expired
)

// Kinds of failure. A command returns an *exitError wrapping one of them;
// exitStatus maps the kind to the exit status.
var (
	errUsage     = errors.New("usage error")             // bad flags or arguments; the usage follows the message
	errStore     = errors.New("store error")             // the store (or writing the result) failed
	errNoCookie  = errors.New("no valid session cookie") // missing, unsigned or forged
	errNoSession = errors.New("no such session")         // not in the store, or expired
)

// exitError is a command's failure: the message for standard error (never
// a secret, cookie, session id or store password) and its kind.
type exitError struct {
	kind error // errUsage, errStore, errNoCookie or errNoSession
	msg  string
}

// Error returns the message for standard error.
func (e *exitError) Error() string { return e.msg }

// Unwrap returns the kind of failure.
func (e *exitError) Unwrap() error { return e.kind }

// fail returns an *exitError of the given kind with a formatted message.
func fail(kind error, format string, args ...any) error {
	return &exitError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// usageErrorf returns a usage error; an empty message prints the usage
// alone.
func usageErrorf(format string, args ...any) error {
	return fail(errUsage, format, args...)
}

// exitStatus maps a command's result to the tool's exit status: nil and
// flag.ErrHelp (a help request) are success, and an error of no known kind
// counts as a store error.
func exitStatus(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errNoCookie):
		return exitNoCookie
	case errors.Is(err, errNoSession):
		return exitNoSession
	default:
		return exitFailure
	}
}

// exit reports the result of command name ("" for the tool itself) and
// returns the exit status. A help request prints usage on standard output;
// an error prints "sessionbridge [name]: message" on standard error,
// followed by usage for a usage error. Only an *exitError's message is
// printed: any other error's text (a store's, say) may hold a secret.
func (c *cli) exit(name, usage string, err error) int {
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(c.stdout, usage)
	default:
		prefix := "sessionbridge"
		if name != "" {
			prefix += " " + name
		}
		msg := "unexpected error (not shown)"
		if e := (*exitError)(nil); errors.As(err, &e) {
			msg = e.msg
		}
		if msg != "" {
			fmt.Fprintf(c.stderr, "%s: %s\n", prefix, msg)
		}
		if errors.Is(err, errUsage) {
			if msg != "" {
				fmt.Fprintln(c.stderr)
			}
			fmt.Fprint(c.stderr, usage)
		}
	}
	return exitStatus(err)
}

// Environment variables read when the flag is not given (they keep secrets
// and store passwords out of the process list and shell history).
const (
	envStore  = "SESSIONBRIDGE_STORE"
	envSecret = "SESSIONBRIDGE_SECRET"
)

const defaultTimeout = 10 * time.Second

// getenv is os.Getenv; tests may replace it.
var getenv = os.Getenv

func main() {
	// go-redis logs failed dials on its own; the error reaches the user anyway.
	redis.SetLogger(quietLogger{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

type command struct {
	name  string
	short string
	usage string
	run   func(ctx context.Context, c *cli, args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"inspect", "show the session a cookie points to", inspectUsage, runInspect},
		{"mint", "create a (logged-in) session Node accepts", mintUsage, runMint},
		{"serve", "answer a proxy's auth requests from the sessions (forward auth)", serveUsage, runServe},
		{"sign", "sign a value like cookie-signature's sign()", signUsage, runSign},
		{"unsign", "verify a signed value like cookie-signature's unsign()", unsignUsage, runUnsign},
	}
}

func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

const toolUsage = `Usage: sessionbridge <command> [flags] [arguments]

Inspect, create and sign the sessions of a Node app (express-session +
passport, and with --format @fastify/session, cookie-session or koa-session)
in the store it uses, byte for byte as Node reads and writes them, and
authorize requests from them for a reverse proxy (serve).

Commands:
%s
  help [command|stores]  show help for a command, or the store URL syntax

Examples:
  sessionbridge inspect --store redis://127.0.0.1:6379 --secret 'keyboard cat' 's%%3A...'
  sessionbridge mint --store file:sessions --secret 'keyboard cat' --max-age 3600000 --user 7
  sessionbridge inspect --format cookie-session --keys key1 'session=eyJ...; session.sig=...'
  sessionbridge sign --secret 'keyboard cat' abc
  sessionbridge serve --store redis://127.0.0.1:6379 --secret-file /run/secrets/session --listen :4180

Exit status: 0 success; 1 usage or store error; 2 cookie missing, unsigned or
forged; 3 no such session, or expired. serve runs until SIGTERM or SIGINT
and then exits 0.
Run 'sessionbridge <command> --help' for the flags of a command.
`

func toolUsageText() string {
	var b strings.Builder
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-22s %s\n", c.name, c.short)
	}
	return fmt.Sprintf(toolUsage, strings.TrimSuffix(b.String(), "\n"))
}

const storesUsage = `Store URLs (--store, or $SESSIONBRIDGE_STORE):

  redis://[user:pass@]host:port[/db][?prefix=sess:&ttl=86400]      connect-redis
  redis://host1:port,host2:port,...[?prefix=...]                   the same on a Redis Cluster
  rediss://...                                                     the same over TLS
  postgres://user[:pass]@host:port/db[?tableName=session&schemaName=public&sslmode=...]
                                                                   connect-pg-simple
  mongodb://host:port[,host:port]/db[?collectionName=sessions&stringify=true&...]
                                                                   connect-mongo
  mongodb://host:port/db?format=connect-mongodb-session[&collection=sessions&...]
                                                                   connect-mongodb-session
  mysql://user[:pass]@host:port/db?format=FORMAT[&...]             MySQL, MariaDB (or mariadb://)
  memcached://host:port[,host:port][?prefix=&ttl=&timeout=500]     connect-memcached
  file:///abs/dir  or  file:rel/dir[?ttl=3600]                     session-file-store
  sqlite:///abs/file.db  or  sqlite:rel/file.db?format=FORMAT      SQLite

format= names the npm package the Node app stores its sessions with:

  mysql://     connect-session-knex, express-mysql-session,
               connect-session-sequelize (required: no default)
  postgres://  connect-pg-simple (the default), connect-session-knex,
               connect-session-sequelize
  mongodb://   connect-mongo (the default), connect-mongodb-session
  sqlite:      connect-session-knex, connect-session-sequelize,
               connect-sqlite3, better-sqlite3-session-store (required)

Store options, named and spelt as the Node package names them (defaults in
parentheses; durations in seconds or as 24h, except where the package takes
milliseconds; booleans true or false):

  connect-redis       prefix (sess:), ttl (86400), disableTTL, disableTouch,
                      scanCount (100)
  connect-pg-simple   tableName (session; alias table), schemaName (the
                      search_path; alias schema), ttl (86400), disableTouch,
                      createTableIfMissing, pruneSessionInterval (false only)
  connect-mongo       collectionName (sessions; alias collection), dbName (the
                      URL's database, else test), stringify (true), ttl
                      (1209600), touchAfter, timestamps, autoRemove (native:
                      create the TTL index when opening; or disabled)
  connect-mongodb-session
                      collection (sessions), databaseName (the URL's
                      database, else test), idField (_id), expiresKey
                      (expires), expires (milliseconds; 1209600000)
  connect-session-knex
                      tableName (sessions), sidFieldName (sid), createTable
                      (true: create the table on first use), cleanupInterval
                      (0 only)
  express-mysql-session
                      schema.tableName (sessions),
                      schema.columnNames.session_id|expires|data, expiration
                      (milliseconds; 86400000), disableTouch,
                      createDatabaseTable (true), clearExpired (false only)
  connect-session-sequelize
                      tableName (Sessions), expiration (milliseconds;
                      86400000), disableTouch, checkExpirationInterval (0
                      only); the Node app creates the table (sync())
  connect-sqlite3     table (sessions); the table is created when missing
  better-sqlite3-session-store
                      none but touchAfter; the table is created when missing
  connect-memcached   prefix (""), ttl (none: the cookie's), namespace (""),
                      timeout (milliseconds; 500)
  session-file-store  ttl (3600), fileExtension (.json), fileMode (0600, the
                      Go store's own), reapInterval (-1 only)
  every store         touchAfter (0): the Bridge skips touching a session
                      whose expiry the store set less than this long ago

Option names are case-sensitive except in MongoDB URLs, whose options are all
case-insensitive; giving an option twice, or with its alias, is an error. Options the Go
stores do not implement (serializer, autoRemove=interval, session-file-store's
secret, cleanup timers, ...) are refused, never ignored: the Go stores delete
expired sessions only when their Prune is called. Encryption secrets never go in the
URL: connect-mongo's crypto.secret and connect-memcached's secret are read
from --store-secret-file FILE or $SESSIONBRIDGE_STORE_SECRET. For memcached, ttl is the lifetime of every
session; elsewhere it is the lifetime of browser-session cookies.

The MongoDB database is dbName (databaseName), else the URL's path, else
"test" (what the Node driver's client.db() uses). Other query parameters go
to the driver (go-redis: dial_timeout, ...; pgx: sslmode, connect_timeout,
...; MongoDB: authSource, replicaSet, tls, ...; MySQL: timeout, readTimeout,
writeTimeout, tls, parseTime, interpolateParams, ...); a parameter nobody
knows is an error. Several memcached servers are picked per key as the npm
memcached client does: list them as the Node app lists its hosts.

Percent-encode "/", "?", "#", "@", ":" and "%" in a user name or password
(%2F, %3F, %23, %40, %3A, %25); a URL where they are not is refused, and no
message ever shows the user name or password.
`

// cli is one run of the tool.
type cli struct {
	stdout, stderr io.Writer
}

// run runs the tool with args and returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr}
	name, usage, err := c.dispatch(ctx, args)
	return c.exit(name, usage, err)
}

// dispatch runs the command args[0] names. It returns what c.exit needs to
// report the result: the command's name ("" for the tool itself) and usage.
func (c *cli) dispatch(ctx context.Context, args []string) (name, usage string, err error) {
	if len(args) == 0 {
		return "", toolUsageText(), usageErrorf("")
	}
	switch arg := args[0]; arg {
	case "-h", "-help", "--help":
		return "", toolUsageText(), flag.ErrHelp
	case "help":
		return "help", toolUsageText(), c.help(args[1:])
	default:
		cmd := lookup(arg)
		if cmd == nil {
			if strings.HasPrefix(arg, "-") {
				return "", toolUsageText(), usageErrorf("flags go after the command: %s", arg)
			}
			return "", toolUsageText(), usageErrorf("unknown command %q", arg)
		}
		return cmd.name, cmd.usage, cmd.run(ctx, c, args[1:])
	}
}

// help prints the help for a command, or the store URL syntax.
func (c *cli) help(args []string) error {
	switch {
	case len(args) == 0:
		fmt.Fprint(c.stdout, toolUsageText())
	case len(args) == 1 && (args[0] == "stores" || args[0] == "store"):
		fmt.Fprint(c.stdout, storesUsage)
	case len(args) == 1 && lookup(args[0]) != nil:
		fmt.Fprint(c.stdout, lookup(args[0]).usage)
	default:
		return usageErrorf("unknown topic %q", strings.Join(args, " "))
	}
	return nil
}

// secretList is the repeatable --secret flag. String never shows a secret.
type secretList []string

func (s *secretList) String() string { return "" }

func (s *secretList) Set(v string) error {
	if v == "" {
		return errors.New("a secret must not be empty")
	}
	*s = append(*s, v)
	return nil
}

// flags are the flags the commands share.
type flags struct {
	store      string
	secrets    secretList
	cookieName string
	nameSet    bool // a cookie-name flag was given (maybe empty)
	timeout    time.Duration
	form       formatFlags
}

// nameFlag is --cookie-name and its npm-named aliases.
type nameFlag struct{ f *flags }

func (n nameFlag) String() string { return "" }

func (n nameFlag) Set(v string) error {
	n.f.cookieName, n.f.nameSet = v, true
	return nil
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

func (f *flags) addSecret(fs *flag.FlagSet) {
	fs.Var(&f.secrets, "secret", "")
}

func (f *flags) addStore(fs *flag.FlagSet) {
	fs.StringVar(&f.store, "store", "", "")
	fs.Var(nameFlag{f}, "cookie-name", "")
	fs.DurationVar(&f.timeout, "timeout", defaultTimeout, "")
	f.addSecret(fs)
	f.addFormat(fs)
}

// parse parses flags and returns the positional arguments, which may come
// before, between or after the flags ("--" ends the flags). -h and --help
// return flag.ErrHelp.
func parse(fs *flag.FlagSet, args []string) (pos []string, err error) {
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			return nil, flag.ErrHelp
		}
		if err != nil {
			return nil, usageErrorf("%s", flagError(err))
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// flagError is the flag package's message without the values it quotes: a
// store URL or secret given to the wrong flag, or split by the shell at a
// space, must not be echoed. The name of an undefined flag is kept only
// when it looks like one.
func flagError(err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		name = strings.TrimPrefix(name, "-")
		if len(name) <= 20 && name != "" && strings.Trim(name, "abcdefghijklmnopqrstuvwxyz-") == "" {
			return msg
		}
		return "a flag that is not defined (not shown)"
	}
	for _, prefix := range []string{"invalid value ", "invalid boolean value "} {
		if strings.HasPrefix(msg, prefix) {
			if i := strings.LastIndex(msg, " for flag -"); i >= 0 {
				return "invalid value for flag -" + msg[i+len(" for flag -"):]
			}
			if i := strings.LastIndex(msg, " for -"); i >= 0 {
				return "invalid value for flag -" + msg[i+len(" for -"):]
			}
			return "invalid flag value (not shown)"
		}
	}
	return msg
}

// signer returns the signer of --secret, or $SESSIONBRIDGE_SECRET.
func signer(f *flags) (*cookiesig.Signer, error) {
	if len(f.secrets) == 0 {
		if s := getenv(envSecret); s != "" {
			f.secrets = secretList{s}
		}
	}
	if len(f.secrets) == 0 {
		return nil, usageErrorf("--secret is required (or set $%s)", envSecret)
	}
	s, err := cookiesig.NewSigner(f.secrets...)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return s, nil
}

// spec checks the format flags and parses --store, or
// $SESSIONBRIDGE_STORE. It returns nil for a format that keeps the session
// in its cookie: cookie-session, and koa-session without a store.
func spec(f *flags) (*storeurl.Spec, error) {
	if f.nameSet && f.cookieName == "" {
		return nil, usageErrorf("--cookie-name must not be empty")
	}
	if err := f.checkFormat(); err != nil {
		return nil, err
	}
	if f.timeout <= 0 {
		return nil, usageErrorf("--timeout must be positive")
	}
	switch {
	case f.form.format == formatCookieSession && f.store != "":
		return nil, usageErrorf("cookie-session keeps sessions in the cookie: it takes no --store")
	case f.form.format == formatCookieSession:
		return nil, nil
	case f.form.format == formatKoa && f.store == "":
		// Cookie mode; $SESSIONBRIDGE_STORE is for the connect-* stores.
		return nil, nil
	}
	if f.store == "" {
		f.store = getenv(envStore)
	}
	if f.store == "" {
		return nil, usageErrorf("--store is required (or set $%s); see 'sessionbridge help stores'", envStore)
	}
	s, err := storeurl.Parse(f.store)
	if err != nil {
		return nil, fail(errStore, "--store: %s\n(see 'sessionbridge help stores')", strings.TrimPrefix(err.Error(), "storeurl: "))
	}
	return s, nil
}

// bridgeConfig is the configuration of the Bridge a command loads or saves
// sessions with: the flags, the store, a cookie maxAge for new sessions,
// and the store URL's touchAfter as Config.TouchAfter, so that the Bridge
// is set up as the Node app's store is.
func bridgeConfig(f *flags, spec *storeurl.Spec, store sessionbridge.Store, maxAge time.Duration) sessionbridge.Config {
	return sessionbridge.Config{
		CookieName: f.cookieName,
		Secrets:    f.secrets,
		Store:      store,
		Cookie:     sessionbridge.CookieOptions{MaxAge: maxAge},
		Logger:     slog.New(slog.DiscardHandler),
		TouchAfter: spec.TouchAfter,
	}
}

// redact removes the secrets and the session id from a message (a store's
// error text is not ours to trust).
func redact(msg string, f *flags, sid string) string {
	if sid != "" {
		msg = strings.ReplaceAll(msg, sid, "<sid>")
	}
	for _, s := range f.secrets {
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, s, "<secret>")
		}
	}
	return strings.TrimPrefix(msg, "storeurl: ")
}
