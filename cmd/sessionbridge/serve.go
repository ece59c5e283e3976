package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesession"
	"github.com/sessionbridge/sessionbridge/internal/forwardauth"
	"github.com/sessionbridge/sessionbridge/koasession"
	"github.com/sessionbridge/sessionbridge/koasession/koaredis"
	"github.com/sessionbridge/sessionbridge/storeurl"
)

const serveUsage = `Usage: sessionbridge serve --store URL --secret S [--secret S2 ...] [--listen 127.0.0.1:4180] [flags]

An auth server for reverse proxies (nginx auth_request, Traefik ForwardAuth,
Caddy forward_auth) that decides from the Node app's sessions, or with
--upstream an authorizing reverse proxy in front of a service. It serves
until SIGTERM or SIGINT, then finishes the requests in flight and exits 0.

Forward-auth mode (no --upstream), on --listen:
  /auth      any method. The Cookie header decides, as the Node middleware
             would (the session is touched, and re-sent with --rolling):
             200 and X-Auth-User: passport.user as stored (compact JSON,
             non-ASCII as \uXXXX; 7, "abc", {"id":7}) when logged in;
             401 when not (302 to --login-url?rd=ORIGINAL-URL for a
             browser); 503 when the store fails, never 200 or 401.
             The original URL is read from X-Forwarded-Proto +
             X-Forwarded-Host + X-Forwarded-Uri (Traefik and Caddy set
             them; set them in nginx); only without X-Forwarded-Uri from
             X-Original-URL, else X-Original-URI. Let only the proxy
             reach /auth.
  /healthz   200 "ok" when the store answers, else 503
  /metrics   Prometheus metrics (sessionbridge_auth_decisions_total, ...)
With --internal-listen, /healthz and /metrics move to that address.

Reverse-proxy mode (--upstream URL): every request on --listen is authorized
as /auth would, then proxied to URL with the identity headers set (denied:
401 or the login redirect; store failure: 503). /healthz and /metrics are
only on --internal-listen.

In both modes the identity headers a client sends are deleted (any case, "_"
for "-", every copy).

Flags:
  --listen ADDR        address to serve on (default 127.0.0.1:4180; port 0
                       picks one: the "listening" log record shows it)
  --internal-listen ADDR  serve /healthz and /metrics here instead
  --store URL          the Node app's session store (default $SESSIONBRIDGE_STORE);
                       see 'sessionbridge help stores'; its touchAfter option
                       skips recent touches
  --secret S           express-session's secret; repeat it for a rotated list
                       (default $SESSIONBRIDGE_SECRET)
  --secret-file F      the secrets, one per line (blank lines ignored)
  --cookie-name NAME   the session cookie's name (default connect.sid, and
                       sessionId, session, koa.sess for the other formats)
  --user-header NAME   the header carrying passport.user (default X-Auth-User)
  --header NAME=FIELD  also send FIELD of an object user (a dotted path such
                       as profile.email) as header NAME: a string without
                       quotes, other values as JSON, empty when missing;
                       repeatable
  --login-url URL      send browsers without a session there (302), with
                       rd= the original URL
  --upstream URL       reverse-proxy mode: proxy allowed requests to URL
  --cookie-path PATH   the session cookie's path (express-session's
                       cookie.path, default /): a request whose original
                       path is outside it has no session, as in Node
  --trust-proxy        X-Forwarded-Proto says whether the request is HTTPS
                       (express's trust proxy: a Secure cookie is re-sent,
                       and a @fastify/session one touched, only then); with
                       --upstream, X-Forwarded-Proto and -Host also give the
                       original URL
  --rolling            express-session's (or koa-session's) rolling: the
                       answer carries the Set-Cookie Node would send
  --timeout D          give up on a store call after D (default 10s)
  --shutdown-timeout D wait up to D for requests in flight (default 10s)
  --log-format F       text (default) or json, on standard error
  --log-level L        debug (one record per decision), info (default),
                       warn or error
` + formatFlagsUsage + `
Exit status: 0 stopped by a signal; 1 usage error, bad store URL, store not
reachable at startup, address in use, or a failure while serving.
`

// errServe is the kind of a failure to start or keep serving.
var errServe = errors.New("serve error")

// Defaults of serve's flags.
const (
	defaultListen          = "127.0.0.1:4180"
	defaultShutdownTimeout = 10 * time.Second
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// serveFlags are serve's own flags.
type serveFlags struct {
	listen, internalListen string
	secretFile             string
	headers                stringList
	userHeader             string
	loginURL, upstream     string
	cookiePath             string
	trustProxy, rolling    bool
	logFormat, logLevel    string
	shutdownTimeout        time.Duration
}

// serveConfig is what runServe checked: the flags turned into values.
type serveConfig struct {
	f                  flags
	s                  serveFlags
	spec               *storeurl.Spec // nil for a cookie-only format
	headers            []forwardauth.Header
	loginURL, upstream *url.URL
	level              slog.Level
	worldReadable      bool // --secret-file is readable by everyone
}

// runServe is the serve command.
func runServe(ctx context.Context, c *cli, args []string) error {
	cfg, err := parseServe(args)
	if err != nil {
		return err
	}
	log := newServeLogger(c.stderr, cfg.s.logFormat, cfg.level)
	if cfg.worldReadable {
		log.Warn("the secret file is readable by every user of this machine; chmod 600 it")
	}
	openCtx, cancel := context.WithTimeout(ctx, cfg.f.timeout)
	metrics := forwardauth.NewMetrics()
	fm, err := openServed(openCtx, cfg, log, metrics)
	cancel()
	if err != nil {
		return err
	}
	defer fm.Close()
	h, err := forwardauth.New(forwardauth.Config{
		LoadAndSave: fm.loadAndSave,
		UserHeader:  cfg.s.userHeader,
		Headers:     cfg.headers,
		LoginURL:    cfg.loginURL,
		Upstream:    cfg.upstream,
		TrustProxy:  cfg.s.trustProxy,
		ServeOps:    cfg.upstream == nil && cfg.s.internalListen == "",
		Health:      fm.health,
		Metrics:     metrics,
		Logger:      log,
	})
	if err != nil {
		return usageErrorf("%v", err)
	}
	return serveUntilDone(ctx, cfg, log, h)
}

// parseServe parses and checks serve's flags.
func parseServe(args []string) (*serveConfig, error) {
	cfg := &serveConfig{}
	f, s := &cfg.f, &cfg.s
	fs := newFlagSet("serve")
	f.addStore(fs)
	fs.StringVar(&s.listen, "listen", defaultListen, "")
	fs.StringVar(&s.internalListen, "internal-listen", "", "")
	fs.StringVar(&s.secretFile, "secret-file", "", "")
	fs.Var(&s.headers, "header", "")
	fs.StringVar(&s.userHeader, "user-header", forwardauth.DefaultUserHeader, "")
	fs.StringVar(&s.loginURL, "login-url", "", "")
	fs.StringVar(&s.upstream, "upstream", "", "")
	fs.StringVar(&s.cookiePath, "cookie-path", "", "")
	fs.BoolVar(&s.trustProxy, "trust-proxy", false, "")
	fs.BoolVar(&s.rolling, "rolling", false, "")
	fs.StringVar(&s.logFormat, "log-format", "text", "")
	fs.StringVar(&s.logLevel, "log-level", "info", "")
	fs.DurationVar(&s.shutdownTimeout, "shutdown-timeout", defaultShutdownTimeout, "")
	pos, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != 0 {
		// Not quoted: a secret with an unquoted space arrives split.
		return nil, usageErrorf("serve takes no arguments, got %d (quote a value that has spaces)", len(pos))
	}
	if s.secretFile != "" {
		if len(f.secrets) > 0 {
			return nil, usageErrorf("give the secrets with --secret or --secret-file, not both")
		}
		if f.secrets, cfg.worldReadable, err = readSecretFile(s.secretFile); err != nil {
			return nil, err
		}
	}
	if cfg.spec, err = spec(f); err != nil {
		return nil, err
	}
	if !f.keygrip() {
		if _, err := signer(f); err != nil {
			return nil, err
		}
	}
	if s.rolling && f.form.format == formatCookieSession {
		return nil, usageErrorf("--rolling: cookie-session has no rolling option (it rewrites its cookies only when the session changes)")
	}
	if err := cfg.checkServeFlags(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// checkServeFlags checks the flags of the HTTP side.
func (cfg *serveConfig) checkServeFlags() error {
	s := &cfg.s
	for _, a := range []struct{ name, addr string }{{"--listen", s.listen}, {"--internal-listen", s.internalListen}} {
		if a.addr == "" && a.name == "--internal-listen" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return usageErrorf("%s must be HOST:PORT (port 0 picks a free one)", a.name)
		}
	}
	for _, v := range s.headers {
		hd, err := forwardauth.ParseHeader(v)
		if err != nil {
			return usageErrorf("--header: %s", strings.TrimPrefix(err.Error(), "forwardauth: "))
		}
		cfg.headers = append(cfg.headers, hd)
	}
	var err error
	if s.loginURL != "" {
		if cfg.loginURL, err = url.Parse(s.loginURL); err != nil {
			return usageErrorf("--login-url is not a URL")
		}
	}
	if s.upstream != "" {
		if cfg.upstream, err = url.Parse(s.upstream); err != nil {
			return usageErrorf("--upstream is not a URL")
		}
	}
	switch s.logFormat {
	case "text", "json":
	default:
		return usageErrorf("--log-format must be text or json")
	}
	switch s.logLevel {
	case "debug":
		cfg.level = slog.LevelDebug
	case "info":
		cfg.level = slog.LevelInfo
	case "warn":
		cfg.level = slog.LevelWarn
	case "error":
		cfg.level = slog.LevelError
	default:
		return usageErrorf("--log-level must be debug, info, warn or error")
	}
	if s.cookiePath != "" && !strings.HasPrefix(s.cookiePath, "/") {
		return usageErrorf("--cookie-path must start with /")
	}
	if s.shutdownTimeout <= 0 {
		return usageErrorf("--shutdown-timeout must be positive")
	}
	if err := forwardauth.CheckHeaderName(s.userHeader); err != nil {
		return usageErrorf("--user-header: %s", strings.TrimPrefix(err.Error(), "forwardauth: "))
	}
	// What else forwardauth.New refuses (a header given twice, a login URL
	// or upstream it cannot use), found before the store is opened.
	_, err = forwardauth.New(forwardauth.Config{
		LoadAndSave: func(h http.Handler) http.Handler { return h },
		UserHeader:  s.userHeader, Headers: cfg.headers, LoginURL: cfg.loginURL, Upstream: cfg.upstream,
	})
	if err != nil {
		return usageErrorf("%s", strings.TrimPrefix(err.Error(), "forwardauth: "))
	}
	return nil
}

// readSecretFile reads the secrets of --secret-file: one per line (a
// trailing CR dropped), blank lines ignored. It reports whether the file
// is readable by every user. No error shows the file's content.
func readSecretFile(path string) (secrets secretList, worldReadable bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false, usageErrorf("--secret-file: cannot read %s: %s", path, osReason(err))
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		secrets = append(secrets, string(line))
	}
	if len(secrets) == 0 {
		return nil, false, usageErrorf("--secret-file: %s holds no secret", path)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o004 != 0 {
		worldReadable = true
	}
	return secrets, worldReadable, nil
}

// osReason is the reason of a file error, without the path it repeats.
func osReason(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return "error"
}

// newServeLogger is the logger of --log-format and --log-level on w.
func newServeLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// served is the session format opened for serve: its request lifecycle,
// its store's health check (nil without a store) and what to close.
type served struct {
	loadAndSave func(http.Handler) http.Handler
	health      func(context.Context) error
	closer      io.Closer
}

// Close releases the store's client.
func (s *served) Close() error {
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}

// openServed opens the session format of cfg with its store, every store
// call timed into metrics and bounded by --timeout, set up as the Node
// middleware is (rolling, trust proxy) and with forwardauth.ErrorHandler
// as its error handler.
func openServed(ctx context.Context, cfg *serveConfig, log *slog.Logger, metrics *forwardauth.Metrics) (*served, error) {
	f, spec := &cfg.f, cfg.spec
	switch f.form.format {
	case formatCookieSession:
		b, err := cookiesession.New(cookiesession.Config{
			Name: f.cookieName, Keys: f.form.keys, Algorithm: f.form.algorithm, Path: cfg.s.cookiePath,
			TrustProxy: cfg.s.trustProxy, Logger: log,
		})
		if err != nil {
			return nil, usageErrorf("%v", err)
		}
		return &served{loadAndSave: b.LoadAndSave}, nil
	case formatKoa:
		kc := koasession.Config{
			Keys: f.form.keys, Algorithm: f.form.algorithm, Key: f.cookieName, Prefix: f.form.koaPrefix, Path: cfg.s.cookiePath,
			Rolling: cfg.s.rolling, TrustProxy: cfg.s.trustProxy, Logger: log, ErrorHandler: forwardauth.ErrorHandler,
		}
		out := &served{}
		if spec != nil {
			client, closer, err := koaRedis(ctx, f, spec)
			if err != nil {
				return nil, err
			}
			raw := koaredis.New(client, koaredis.Options{})
			kc.Store = forwardauth.InstrumentKoaStore(raw, metrics, f.timeout)
			out.health, out.closer = forwardauth.KoaStoreHealth(raw, f.timeout), closer
		}
		b, err := koasession.New(kc)
		if err != nil {
			out.Close()
			return nil, usageErrorf("%v", err)
		}
		out.loadAndSave = b.LoadAndSave
		return out, nil
	}
	if err := f.storeSecret(spec); err != nil {
		return nil, err
	}
	store, closer, err := spec.Open(ctx)
	if err != nil {
		return nil, fail(errStore, "store error: %s", redact(err.Error(), f, ""))
	}
	bc := bridgeConfig(f, spec, forwardauth.InstrumentStore(store, metrics, f.timeout), 0)
	bc.Logger = log
	bc.Rolling = cfg.s.rolling
	bc.TrustProxy = cfg.s.trustProxy
	bc.Cookie.Path = cfg.s.cookiePath
	bc.ErrorHandler = forwardauth.ErrorHandler
	if f.form.format == formatFastify {
		bc.Format = sessionbridge.FastifySession
		bc.CookiePrefix = f.form.cookiePrefix
	}
	b, err := sessionbridge.New(bc)
	if err != nil {
		closer.Close()
		return nil, usageErrorf("%v", redact(err.Error(), f, ""))
	}
	return &served{loadAndSave: b.LoadAndSave, health: forwardauth.StoreHealth(store, f.timeout), closer: closer}, nil
}

// serveUntilDone listens, logs the "listening" record and serves h until
// ctx is done or a server fails, then shuts down gracefully.
func serveUntilDone(ctx context.Context, cfg *serveConfig, log *slog.Logger, h *forwardauth.Handler) error {
	main, err := net.Listen("tcp", cfg.s.listen)
	if err != nil {
		return fail(errServe, "cannot listen on %s: %s", cfg.s.listen, listenReason(err))
	}
	servers := []*http.Server{newHTTPServer(h, log)}
	listeners := []net.Listener{main}
	if cfg.s.internalListen != "" {
		ln, err := net.Listen("tcp", cfg.s.internalListen)
		if err != nil {
			main.Close()
			return fail(errServe, "cannot listen on %s (--internal-listen): %s", cfg.s.internalListen, listenReason(err))
		}
		servers = append(servers, newHTTPServer(h.Ops(), log))
		listeners = append(listeners, ln)
	}
	attrs := []slog.Attr{slog.String("addr", main.Addr().String())}
	if len(listeners) > 1 {
		attrs = append(attrs, slog.String("internal", listeners[1].Addr().String()))
	}
	mode := "forward-auth"
	if cfg.upstream != nil {
		mode = "reverse-proxy"
		attrs = append(attrs, slog.String("upstream", cfg.upstream.Redacted()))
	}
	store := "none"
	if cfg.spec != nil {
		store = cfg.spec.String()
	}
	attrs = append(attrs, slog.String("mode", mode), slog.String("format", cfg.f.form.format), slog.String("store", store))
	log.LogAttrs(ctx, slog.LevelInfo, "listening", attrs...)
	if cfg.upstream != nil && len(listeners) == 1 {
		log.Info("no /healthz or /metrics in reverse-proxy mode without --internal-listen")
	}

	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(listeners[i]) }()
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	log.Info("shutting down", slog.Duration("timeout", cfg.s.shutdownTimeout))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.s.shutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range servers {
		wg.Go(func() {
			if err := srv.Shutdown(sctx); err != nil {
				log.Warn("requests still in flight at the shutdown timeout were cut off")
				srv.Close()
			}
		})
	}
	wg.Wait()
	h.CloseIdleConnections()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fail(errServe, "serving failed: %v", serveErr)
	}
	log.Info("stopped")
	return nil
}

// newHTTPServer is an http.Server for h with timeouts against slow
// clients and its errors in log.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// listenReason is why a listen failed, without the address it repeats.
func listenReason(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}
