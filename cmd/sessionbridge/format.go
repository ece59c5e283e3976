package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesession"
	"github.com/sessionbridge/sessionbridge/koasession"
	"github.com/sessionbridge/sessionbridge/koasession/koaredis"
	"github.com/sessionbridge/sessionbridge/passportuser"
	"github.com/sessionbridge/sessionbridge/storeurl"
)

// The session formats, named as their npm packages are.
const (
	formatExpress       = "express-session"
	formatFastify       = "@fastify/session"
	formatCookieSession = "cookie-session"
	formatKoa           = "koa-session"
)

// formatFlagsUsage is the usage of the format flags inspect and mint share.
const formatFlagsUsage = `  --format NAME        the Node session middleware: express-session (default),
                       @fastify/session, cookie-session or koa-session
  --keys K             cookie-session's keys / Koa's app.keys (keygrip); repeat
                       for a rotated list (default $SESSIONBRIDGE_KEYS);
                       cookie-session also takes its secret as --secret
  --algorithm H        keygrip's hash: sha1 (default), sha256, sha384, sha512
  --cookie-prefix P    @fastify/session's cookiePrefix (default none)
  --prefix P           koa-session's prefix for store keys (store mode)
  --store-secret-file F  connect-mongo's crypto.secret or connect-memcached's
                       secret, read from F (default $SESSIONBRIDGE_STORE_SECRET)
`

const formatNames = formatExpress + ", " + formatFastify + ", " + formatCookieSession + " or " + formatKoa

// Environment variables for the keygrip keys and a store's own secret.
const (
	envKeys        = "SESSIONBRIDGE_KEYS"
	envStoreSecret = "SESSIONBRIDGE_STORE_SECRET"
)

// formatFlags are the flags that choose and configure the session format.
type formatFlags struct {
	format          string
	keys            secretList // cookie-session's keys, Koa's app.keys
	algorithm       string     // keygrip's hash
	cookiePrefix    string     // @fastify/session's cookiePrefix
	koaPrefix       string     // koa-session's prefix (store mode)
	storeSecretFile string
}

func (f *flags) addFormat(fs *flag.FlagSet) {
	fs.StringVar(&f.form.format, "format", formatExpress, "")
	fs.Var(&f.form.keys, "keys", "")
	fs.StringVar(&f.form.algorithm, "algorithm", "", "")
	fs.StringVar(&f.form.cookiePrefix, "cookie-prefix", "", "")
	fs.StringVar(&f.form.koaPrefix, "prefix", "", "")
	fs.StringVar(&f.form.storeSecretFile, "store-secret-file", "", "")
	// The npm packages' own names for the cookie name: express-session's
	// and cookie-session's name, koa-session's key.
	fs.Var(nameFlag{f}, "name", "")
	fs.Var(nameFlag{f}, "key", "")
}

// keygrip reports whether the format signs with keygrip (two cookies).
func (f *flags) keygrip() bool {
	return f.form.format == formatCookieSession || f.form.format == formatKoa
}

// checkFormat validates --format and the flags that go with it, and fills
// in the cookie name's default.
func (f *flags) checkFormat() error {
	switch f.form.format {
	case "":
		f.form.format = formatExpress
	case formatExpress, formatFastify, formatCookieSession, formatKoa:
	case "fastify-session", "fastify":
		f.form.format = formatFastify
	default:
		return usageErrorf("--format must be %s", formatNames)
	}
	if f.cookieName == "" {
		f.cookieName = map[string]string{
			formatExpress:       sessionbridge.DefaultCookieName,
			formatFastify:       "sessionId",
			formatCookieSession: "session",
			formatKoa:           koasession.DefaultKey,
		}[f.form.format]
	}
	if f.keygrip() {
		if len(f.secrets) > 0 && f.form.format == formatKoa {
			return usageErrorf("koa-session signs with Koa's app.keys: use --keys, not --secret")
		}
		// cookie-session's secret option is keys: [secret].
		f.form.keys = append(f.form.keys, f.secrets...)
		f.secrets = nil
		if len(f.form.keys) == 0 {
			if s := getenv(envKeys); s != "" {
				f.form.keys = secretList{s}
			}
		}
		if len(f.form.keys) == 0 {
			return usageErrorf("--keys is required for %s (or set $%s)", f.form.format, envKeys)
		}
	} else {
		if len(f.form.keys) > 0 || f.form.algorithm != "" {
			return usageErrorf("--keys and --algorithm are for cookie-session and koa-session; %s takes --secret", f.form.format)
		}
	}
	if f.form.cookiePrefix != "" && f.form.format != formatFastify {
		return usageErrorf("--cookie-prefix is @fastify/session's cookiePrefix; express-session always uses s:")
	}
	if f.form.koaPrefix != "" && f.form.format != formatKoa {
		return usageErrorf("--prefix is koa-session's; a store's key prefix goes in the store URL")
	}
	return nil
}

// session is a format opened for one command: what loads sessions, what
// creates and saves them, and how their cookies are written.
type session struct {
	src     sessionbridge.SessionSource
	manager passportuser.Manager
	// bridge is set for express-session and @fastify/session.
	bridge *sessionbridge.Bridge
	// writeCookie sends a saved session's cookies (the cookie formats).
	writeCookie func(w http.ResponseWriter, r *http.Request, s *sessionbridge.Session) error
	// stored is false for a format that keeps the session in its cookie.
	stored bool
	closer io.Closer
}

func (s *session) Close() error {
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}

// openSession opens the format of f with the store of spec (nil for a
// cookie-only format), for sessions of maxAge (0: the format's default).
func openSession(ctx context.Context, f *flags, spec *storeurl.Spec, maxAge time.Duration) (*session, error) {
	quiet := slog.New(slog.DiscardHandler)
	switch f.form.format {
	case formatCookieSession:
		b, err := cookiesession.New(cookiesession.Config{
			Name: f.cookieName, Keys: f.form.keys, Algorithm: f.form.algorithm, MaxAge: maxAge, Logger: quiet,
		})
		if err != nil {
			return nil, usageErrorf("%v", err)
		}
		return &session{src: b, manager: b, writeCookie: b.WriteCookie}, nil
	case formatKoa:
		cfg := koasession.Config{
			Keys: f.form.keys, Algorithm: f.form.algorithm, Key: f.cookieName, MaxAge: maxAge,
			Prefix: f.form.koaPrefix, Logger: quiet,
		}
		var closer io.Closer
		if spec != nil {
			client, c, err := koaRedis(ctx, f, spec)
			if err != nil {
				return nil, err
			}
			cfg.Store, closer = koaredis.New(client, koaredis.Options{}), c
		}
		b, err := koasession.New(cfg)
		if err != nil {
			if closer != nil {
				closer.Close()
			}
			return nil, usageErrorf("%v", err)
		}
		return &session{src: b, manager: b, writeCookie: b.WriteCookie, stored: spec != nil, closer: closer}, nil
	}
	if err := f.storeSecret(spec); err != nil {
		return nil, err
	}
	store, closer, err := spec.Open(ctx)
	if err != nil {
		return nil, fail(errStore, "store error: %s", redact(err.Error(), f, ""))
	}
	cfg := bridgeConfig(f, spec, store, maxAge)
	if f.form.format == formatFastify {
		cfg.Format = sessionbridge.FastifySession
		cfg.CookiePrefix = f.form.cookiePrefix
	}
	b, err := sessionbridge.New(cfg)
	if err != nil {
		closer.Close()
		return nil, usageErrorf("%v", err)
	}
	return &session{src: b, manager: b, bridge: b, writeCookie: b.WriteCookie, stored: true, closer: closer}, nil
}

// storeSecret gives the store URL's own secret (connect-mongo's
// crypto.secret, connect-memcached's secret) from --store-secret-file or
// $SESSIONBRIDGE_STORE_SECRET to spec.
func (f *flags) storeSecret(spec *storeurl.Spec) error {
	secret := getenv(envStoreSecret)
	if f.form.storeSecretFile != "" {
		b, err := os.ReadFile(f.form.storeSecretFile)
		if err != nil {
			return usageErrorf("--store-secret-file: cannot read the file")
		}
		secret = strings.TrimRight(string(b), "\r\n")
	}
	if secret == "" {
		return nil
	}
	if err := spec.SetSecret(secret); err != nil {
		return usageErrorf("%s", redact(err.Error(), f, ""))
	}
	return nil
}

// koaRedis is the Redis client of a redis:// store URL, for koa-redis's
// format: the key as koa-session makes it, no connect-redis prefix.
func koaRedis(ctx context.Context, f *flags, spec *storeurl.Spec) (redis.UniversalClient, io.Closer, error) {
	if spec.Kind != storeurl.Redis {
		return nil, nil, usageErrorf("koa-session's store must be a redis:// URL (koa-redis)")
	}
	if spec.Redis.Prefix != "" && spec.Redis.Prefix != "sess:" || spec.TouchAfter != 0 {
		return nil, nil, usageErrorf("koa-redis takes no store options: give koa-session's key prefix with --prefix")
	}
	_, closer, err := spec.Open(ctx)
	if err != nil {
		return nil, nil, fail(errStore, "store error: %s", redact(err.Error(), f, ""))
	}
	client, ok := closer.(redis.UniversalClient)
	if !ok {
		closer.Close()
		return nil, nil, errors.New("internal error: a Redis store URL opened something else")
	}
	return client, closer, nil
}

// cookies returns the Cookie header fragment and Set-Cookie headers that
// carry s, as the format's middleware would send them over HTTPS (so that
// a Secure cookie is written too).
func (s *session) cookies(f *flags, sess *sessionbridge.Session) (cookie string, setCookie []string, err error) {
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "https://localhost/", nil)
	if err := s.writeCookie(rec, r, sess); err != nil {
		return "", nil, fail(errStore, "%s", redact(err.Error(), f, ""))
	}
	setCookie = rec.Result().Header.Values("Set-Cookie")
	pairs := make([]string, 0, len(setCookie))
	for _, h := range setCookie {
		pair, _, _ := strings.Cut(h, ";")
		pairs = append(pairs, pair)
	}
	return strings.Join(pairs, "; "), setCookie, nil
}

// sessionID verifies the session a COOKIE argument presents: a Cookie
// header or name=value (see cookieHeader), or for the keygrip formats also
// "<value>.<signature>", the form SessionIDFromValue takes.
func (s *session) sessionID(f *flags, arg string) (string, error) {
	header := cookieHeader(arg, f.cookieName)
	if f.keygrip() && !looksLikeHeader(arg, f.cookieName) {
		return s.src.SessionIDFromValue(strings.TrimSpace(arg))
	}
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", header)
	return s.src.SessionID(r)
}

// looksLikeHeader reports whether a keygrip format's COOKIE argument is a
// header (or name=value) rather than "<value>.<signature>", whose base64
// may end in "=".
func looksLikeHeader(arg, name string) bool {
	s := strings.TrimSpace(arg)
	return strings.ContainsRune(s, ';') || strings.HasPrefix(s, name+"=") ||
		len(s) >= 7 && strings.EqualFold(s[:7], "cookie:")
}
