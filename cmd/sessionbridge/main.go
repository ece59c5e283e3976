package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/storeurl"
)

// Exit statuses.
const (
	exitOK        = 0
	exitError     = 1 // usage or store error
	exitNoCookie  = 2 // cookie missing, unsigned or forged
	exitNoSession = 3 // no such session, or expired
)

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
	run   func(ctx context.Context, c *cli, args []string) int
}

var commands []command

func init() {
	commands = []command{
		{"inspect", "show the session a cookie points to", inspectUsage, runInspect},
		{"mint", "create a (logged-in) session Node accepts", mintUsage, runMint},
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

Inspect, create and sign express-session sessions (Node Express + passport)
in the store a Node app uses, byte for byte as Node reads and writes them.

Commands:
%s
  help [command|stores]  show help for a command, or the store URL syntax

Examples:
  sessionbridge inspect --store redis://127.0.0.1:6379 --secret 'keyboard cat' 's%%3A...'
  sessionbridge mint --store file:sessions --secret 'keyboard cat' --max-age 3600000 --user 7
  sessionbridge sign --secret 'keyboard cat' abc

Exit status: 0 success; 1 usage or store error; 2 cookie missing, unsigned or
forged; 3 no such session, or expired.
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
  postgres://user[:pass]@host:port/db[?table=session&schema=public&ttl=86400&sslmode=...]
                                                                   connect-pg-simple
  mongodb://host:port[,host:port]/db[?collection=sessions&stringify=true&ttl=1209600&...]
                                                                   connect-mongo
  memcached://host:port[,host:port][?prefix=&ttl=&timeout=500ms]   connect-memcached
  file:///abs/dir  or  file:rel/dir[?ttl=3600]                     session-file-store

Options not given take the Node store's defaults: Redis prefix "sess:",
memcached prefix "", table "session" in the search_path, collection "sessions"
with stringify true, directory as given. ttl is the lifetime of
browser-session cookies in seconds (or a Go duration such as 24h): 1 day for
Redis, PostgreSQL and memcached, 14 days for MongoDB, 1 hour for files; for
memcached it is connect-memcached's ttl, the lifetime of every session.

The MongoDB database is the URL's path, or "test" when there is none (what
the Node driver's client.db() uses). Other query parameters go to the driver
(go-redis: dial_timeout, ...; pgx: sslmode, connect_timeout, ...; MongoDB:
authSource, replicaSet, tls, ...); a parameter nobody knows is an error.
Several memcached servers are picked per key as the npm memcached client
does: list them as the Node app lists its hosts.

Percent-encode "/", "?", "#", "@", ":" and "%" in a user name or password
(%2F, %3F, %23, %40, %3A, %25); a URL where they are not is refused, and no
message ever shows the user name or password.
`

// cli is one run of the tool.
type cli struct {
	stdout, stderr io.Writer
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, toolUsageText())
		return exitError
	}
	switch name := args[0]; name {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, toolUsageText())
		return exitOK
	case "help":
		return c.help(args[1:])
	default:
		cmd := lookup(name)
		if cmd == nil {
			if strings.HasPrefix(name, "-") {
				fmt.Fprintf(stderr, "sessionbridge: flags go after the command: %s\n\n", name)
			} else {
				fmt.Fprintf(stderr, "sessionbridge: unknown command %q\n\n", name)
			}
			fmt.Fprint(stderr, toolUsageText())
			return exitError
		}
		return cmd.run(ctx, c, args[1:])
	}
}

func (c *cli) help(args []string) int {
	switch {
	case len(args) == 0:
		fmt.Fprint(c.stdout, toolUsageText())
		return exitOK
	case len(args) == 1 && (args[0] == "stores" || args[0] == "store"):
		fmt.Fprint(c.stdout, storesUsage)
		return exitOK
	case len(args) == 1 && lookup(args[0]) != nil:
		fmt.Fprint(c.stdout, lookup(args[0]).usage)
		return exitOK
	}
	fmt.Fprintf(c.stderr, "sessionbridge help: unknown topic %q\n\n", strings.Join(args, " "))
	fmt.Fprint(c.stderr, toolUsageText())
	return exitError
}

// usageError prints a message and the command's usage on stderr.
func (c *cli) usageError(cmd, usage, format string, args ...any) int {
	fmt.Fprintf(c.stderr, "sessionbridge %s: %s\n\n", cmd, fmt.Sprintf(format, args...))
	fmt.Fprint(c.stderr, usage)
	return exitError
}

// fail prints a message (never a secret, cookie or session id) on stderr.
func (c *cli) fail(code int, cmd, format string, args ...any) int {
	fmt.Fprintf(c.stderr, "sessionbridge %s: %s\n", cmd, fmt.Sprintf(format, args...))
	return code
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
	timeout    time.Duration
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
	fs.StringVar(&f.cookieName, "cookie-name", "connect.sid", "")
	fs.DurationVar(&f.timeout, "timeout", defaultTimeout, "")
	f.addSecret(fs)
}

// parse parses flags and returns the positional arguments, which may come
// before, between or after the flags ("--" ends the flags). code is -1 to go
// on, or the exit status.
func (c *cli) parse(fs *flag.FlagSet, usage string, args []string) (pos []string, code int) {
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(c.stdout, usage)
			return nil, exitOK
		}
		if err != nil {
			return nil, c.usageError(fs.Name(), usage, "%s", flagError(err))
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), -1
		}
		if len(rest) == 0 {
			return pos, -1
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
func (c *cli) signer(cmd, usage string, f *flags) (*cookiesig.Signer, int) {
	if len(f.secrets) == 0 {
		if s := getenv(envSecret); s != "" {
			f.secrets = secretList{s}
		}
	}
	if len(f.secrets) == 0 {
		return nil, c.usageError(cmd, usage, "--secret is required (or set $%s)", envSecret)
	}
	s, err := cookiesig.NewSigner(f.secrets...)
	if err != nil {
		return nil, c.usageError(cmd, usage, "%v", err)
	}
	return s, -1
}

// spec parses --store, or $SESSIONBRIDGE_STORE.
func (c *cli) spec(cmd, usage string, f *flags) (*storeurl.Spec, int) {
	if f.store == "" {
		f.store = getenv(envStore)
	}
	if f.store == "" {
		return nil, c.usageError(cmd, usage, "--store is required (or set $%s); see 'sessionbridge help stores'", envStore)
	}
	if f.cookieName == "" {
		return nil, c.usageError(cmd, usage, "--cookie-name must not be empty")
	}
	if f.timeout <= 0 {
		return nil, c.usageError(cmd, usage, "--timeout must be positive")
	}
	s, err := storeurl.Parse(f.store)
	if err != nil {
		return nil, c.fail(exitError, cmd, "--store: %s\n(see 'sessionbridge help stores')", strings.TrimPrefix(err.Error(), "storeurl: "))
	}
	return s, -1
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
