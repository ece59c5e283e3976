// Package forwardauth answers a reverse proxy's authorization subrequests
// (nginx auth_request, Traefik ForwardAuth, Caddy forward_auth) from the
// sessions a Node app keeps, and can itself be the reverse proxy in front
// of a service. It is the HTTP side of the "sessionbridge serve" command.
//
// # Forward-auth mode
//
// The proxy asks GET /auth (any method is answered) with the client's
// headers. The Cookie header decides, through the session format's own
// request lifecycle (Config.LoadAndSave: a Bridge's LoadAndSave), so the
// session is read, touched and its cookie re-sent (rolling) exactly as the
// Node middleware would for a request of its own:
//
//   - a logged-in session (passport.user present and not null, false or
//     ""): 200 with an empty body, the user header (X-Auth-User) holding
//     passport.user as stored and every Config.Headers header (sent empty
//     when its field is missing, so that a proxy copying them always
//     overwrites what the client sent);
//   - no valid session (no cookie, unsigned, forged, unknown, expired,
//     logged out): 401, or with Config.LoginURL a 302 to the login page
//     for a browser (Accept names text/html and X-Requested-With is not
//     XMLHttpRequest), with rd= the original URL when it is known;
//   - the store failed, or holds a record that cannot be read (an
//     unreadable record, a session.passport that is not an object): 503,
//     never 200 and never 401.
//
// The original request is what the proxy reports: X-Forwarded-Proto,
// X-Forwarded-Host and X-Forwarded-Uri (Traefik and Caddy always set them,
// replacing a client's; nginx must be told to); only when X-Forwarded-Uri
// is absent, X-Original-URL (a full URL, as ingress-nginx sends it), else
// X-Original-URI with X-Forwarded-Proto and X-Forwarded-Host. A proxy that
// sets X-Forwarded-Uri thus decides even when the client sent X-Original-*
// of its own. The original path is the one the session cookie's path is
// checked against; without it the path is "/". These headers are believed
// as sent: /auth must be reachable only from the proxy, which sets them,
// never from clients, which could then put any host in the login redirect.
//
// # Reverse-proxy mode
//
// With Config.Upstream every request is authorized the same way (its own
// URL is the original URL; X-Forwarded-Proto and X-Forwarded-Host count
// only with Config.TrustProxy), then an allowed one is proxied to the
// upstream with the identity headers set and X-Forwarded-For, -Host and
// -Proto added; a denied one never reaches it. A rolling session's
// Set-Cookie goes on the proxied response.
//
// In both modes every identity header a client sent is deleted before
// anything reads the request: names are compared case-insensitively and
// with "_" taken as "-" (CGI turns both into the same variable), and every
// copy goes; in reverse-proxy mode trailers of those names go too.
//
// # Header values
//
// The user header is passport.user as compact JSON kept to printable
// ASCII: a character outside 0x20-0x7e is written \uXXXX (a surrogate pair
// above U+FFFF, \ufffd for bytes that are not UTF-8), numbers exactly as
// stored (an id above 2^53 stays exact): 7, "abc", {"id":7,"name":"Zo\u00eb"}.
// A Header's field that is a string is sent without its quotes, escaped
// the same way (alice@example.com stays as it is; a quote becomes \");
// any other field is its ASCII JSON. No value can hold CR or LF.
package forwardauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/passportuser"
)

// DefaultUserHeader is the header that carries passport.user.
const DefaultUserHeader = "X-Auth-User"

// AuthPath is the path of the forward-auth endpoint.
const AuthPath = "/auth"

// Config configures a Handler. LoadAndSave is required.
type Config struct {
	// LoadAndSave is the session format's request lifecycle: the
	// LoadAndSave method of a sessionbridge.Bridge (express-session,
	// @fastify/session), cookiesession.Bridge or koasession.Bridge, set up
	// as the Node app sets up its middleware. The bridge's ErrorHandler
	// must be this package's ErrorHandler, so that a store failure becomes
	// this request's 503.
	LoadAndSave func(http.Handler) http.Handler
	// UserHeader is the header that carries passport.user. Default
	// DefaultUserHeader.
	UserHeader string
	// Headers are more identity headers, each from a field of an object
	// user.
	Headers []Header
	// LoginURL, when set, is where a browser without a session is
	// redirected, with rd= the original URL added to its query. An
	// absolute http(s) URL or an absolute path. Default: none (401).
	LoginURL *url.URL
	// Upstream, when set, switches to reverse-proxy mode: allowed requests
	// are proxied to it. An absolute http(s) URL.
	Upstream *url.URL
	// Transport carries the proxied requests. Default: a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
	// TrustProxy makes X-Forwarded-Proto decide whether a request is HTTPS
	// (a Secure session cookie is re-sent only then; give the same value to
	// the bridge's TrustProxy), and in reverse-proxy mode also makes
	// X-Forwarded-Proto and X-Forwarded-Host the original URL's scheme and
	// host and keeps the incoming X-Forwarded-For chain.
	TrustProxy bool
	// ServeOps makes ServeHTTP answer /healthz and /metrics too, as Ops
	// does. Forward-auth mode only: in reverse-proxy mode every path
	// belongs to the upstream.
	ServeOps bool
	// Health checks the session store for /healthz; nil means there is no
	// store to check (the cookie formats).
	Health func(context.Context) error
	// Metrics receives the decisions; nil: no metrics, and /metrics is 404.
	Metrics *Metrics
	// Logger receives one Debug record per decision and the failures;
	// default slog.Default(). No record holds a cookie, a session id, a
	// secret or the user.
	Logger *slog.Logger
}

// Handler is the forward-auth server (or, with Config.Upstream, the
// authorizing reverse proxy). It is safe for concurrent use.
type Handler struct {
	userHeader string
	headers    []Header
	spoof      map[string]bool // normName of every identity header
	login      *url.URL
	trust      bool
	serveOps   bool
	health     func(context.Context) error
	metrics    *Metrics
	log        *slog.Logger
	lifecycle  http.Handler
	proxy      *httputil.ReverseProxy
	upstream   *url.URL
	ops        http.Handler
}

// New returns a Handler for cfg. A bad header name, login URL or upstream
// gives an error (wrapping ErrBadHeader for a header).
func New(cfg Config) (*Handler, error) {
	if cfg.LoadAndSave == nil {
		return nil, errors.New("forwardauth: Config.LoadAndSave is required")
	}
	h := &Handler{
		userHeader: cfg.UserHeader,
		headers:    cfg.Headers,
		login:      cfg.LoginURL,
		trust:      cfg.TrustProxy,
		serveOps:   cfg.ServeOps,
		health:     cfg.Health,
		metrics:    cfg.Metrics,
		log:        cfg.Logger,
		upstream:   cfg.Upstream,
		spoof:      map[string]bool{},
	}
	if h.userHeader == "" {
		h.userHeader = DefaultUserHeader
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if err := CheckHeaderName(h.userHeader); err != nil {
		return nil, err
	}
	h.spoof[normName(h.userHeader)] = true
	for _, hd := range h.headers {
		if err := CheckHeaderName(hd.Name); err != nil {
			return nil, err
		}
		if len(hd.Path) == 0 {
			return nil, fmt.Errorf("%w: %s: no field", ErrBadHeader, hd.Name)
		}
		if h.spoof[normName(hd.Name)] {
			return nil, fmt.Errorf("%w: %s is given twice (or is the user header)", ErrBadHeader, hd.Name)
		}
		h.spoof[normName(hd.Name)] = true
	}
	if u := h.login; u != nil {
		absolute := (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
		path := u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(u.Path, "//")
		if !absolute && !path || u.User != nil {
			return nil, errors.New("forwardauth: the login URL must be an absolute http(s) URL or an absolute path")
		}
	}
	if u := h.upstream; u != nil {
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil {
			return nil, errors.New("forwardauth: the upstream must be an absolute http(s) URL without user info")
		}
		if cfg.ServeOps {
			return nil, errors.New("forwardauth: in reverse-proxy mode /healthz and /metrics belong to the upstream; serve them with Ops on another address")
		}
		h.proxy = h.newProxy(cfg.Transport)
	}
	h.lifecycle = cfg.LoadAndSave(http.HandlerFunc(h.decide))
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", h.serveHealth)
	if h.metrics != nil {
		mux.Handle("/metrics", h.metrics.Handler())
	}
	h.ops = mux
	return h, nil
}

// ServeHTTP serves the main address: in forward-auth mode /auth (and with
// Config.ServeOps /healthz and /metrics; any other path is 404), in
// reverse-proxy mode every path.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.stripSpoofs(r.Header)
	if h.proxy != nil {
		h.serveProxied(w, r)
		return
	}
	switch r.URL.Path {
	case AuthPath:
		h.serveAuth(w, r)
	case "/healthz", "/metrics":
		if h.serveOps {
			h.ops.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	default:
		http.NotFound(w, r)
	}
}

// CloseIdleConnections closes the idle connections to the upstream
// (reverse-proxy mode), for a clean shutdown.
func (h *Handler) CloseIdleConnections() {
	if h.proxy == nil {
		return
	}
	if c, ok := h.proxy.Transport.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Ops returns the handler of the operations endpoints: /healthz (200 "ok"
// when the store answers, 503 when it does not) and /metrics (Prometheus).
func (h *Handler) Ops() http.Handler { return h.ops }

// state is one request's authorization, shared by the handler, the
// session lifecycle it runs in and ErrorHandler through the request's
// context.
type state struct {
	start   time.Time
	orig    string // the original URL, "" when unknown
	user    []byte // passport.user when logged in
	value   string // the user header's value
	fields  []string
	err     error // why the store or the record failed
	proxied bool
}

type stateKey struct{}

func stateFrom(ctx context.Context) *state {
	st, _ := ctx.Value(stateKey{}).(*state)
	return st
}

// ErrorHandler is the ErrorHandler to give the session bridges (their
// Config.ErrorHandler): it hands the failure to the Handler, which answers
// 503. Outside a Handler's request it answers 503 itself.
func ErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if st := stateFrom(r.Context()); st != nil {
		if st.err == nil {
			st.err = err
		}
		return
	}
	http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
}

// serveAuth answers a forward-auth request.
func (h *Handler) serveAuth(w http.ResponseWriter, r *http.Request) {
	st := &state{start: time.Now()}
	uri, orig := forwardedOriginal(r.Header)
	st.orig = orig
	r2 := r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
	r2.URL, r2.RequestURI = originalTarget(uri)
	h.lifecycle.ServeHTTP(w, r2)
	status, outcome := h.respond(w, r, st, true)
	h.decided(r, st, outcome, status)
}

// serveProxied authorizes a request in reverse-proxy mode and proxies it
// when allowed.
func (h *Handler) serveProxied(w http.ResponseWriter, r *http.Request) {
	st := &state{start: time.Now(), orig: h.ownURL(r)}
	sw := &statusWriter{ResponseWriter: w}
	h.lifecycle.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
	if st.proxied {
		h.logDecision(r, st, OutcomeAllowed, sw.status)
		return
	}
	status, outcome := h.respond(sw, r, st, false)
	h.decided(r, st, outcome, status)
}

// decide runs inside the session lifecycle: it reads passport.user from
// the request's session. In reverse-proxy mode an allowed request is
// proxied from here, so that the lifecycle's cookie goes on the proxied
// response.
func (h *Handler) decide(w http.ResponseWriter, r *http.Request) {
	st := stateFrom(r.Context())
	if st == nil {
		http.Error(w, "forwardauth: request outside the Handler", http.StatusInternalServerError)
		return
	}
	s, ok := sessionbridge.FromContext(r.Context())
	if !ok {
		return // outside the cookie's path: no session, as in Node
	}
	user, err := passportuser.Raw(s)
	switch {
	case errors.Is(err, passportuser.ErrNotLoggedIn):
		return
	case err != nil:
		st.err = fmt.Errorf("%w: the session record cannot be used: %w", sessionbridge.ErrStore, err)
		return
	}
	value, err := UserValue(user)
	if err != nil {
		st.err = fmt.Errorf("%w: passport.user: %w", sessionbridge.ErrStore, err)
		return
	}
	st.user, st.value = user, value
	st.fields = make([]string, len(h.headers))
	for i, hd := range h.headers {
		st.fields[i] = hd.FieldValue(user)
	}
	if h.proxy != nil {
		st.proxied = true
		h.metrics.decided(OutcomeAllowed, time.Since(st.start))
		h.proxy.ServeHTTP(w, r)
	}
}

// respond writes the answer of a request that was not proxied, and
// returns its status and outcome.
func (h *Handler) respond(w http.ResponseWriter, r *http.Request, st *state, forward bool) (int, string) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	switch {
	case st.err != nil:
		hdr.Del("Set-Cookie")
		h.logFailure(r, st.err)
		http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
		return http.StatusServiceUnavailable, OutcomeError
	case st.user != nil && forward:
		h.setIdentity(hdr, st)
		w.WriteHeader(http.StatusOK)
		return http.StatusOK, OutcomeAllowed
	case h.login != nil && isBrowser(r):
		hdr.Set("Location", h.loginLocation(st.orig))
		w.WriteHeader(http.StatusFound)
		return http.StatusFound, OutcomeRedirected
	}
	http.Error(w, "unauthorized", http.StatusUnauthorized)
	return http.StatusUnauthorized, OutcomeDenied
}

// logFailure logs a failure the session bridge did not log itself: an
// unusable record. Store failures are logged by the bridge.
func (h *Handler) logFailure(r *http.Request, err error) {
	if errors.Is(err, passportuser.ErrBadPassport) || errors.Is(err, ErrInvalidJSON) {
		h.log.LogAttrs(r.Context(), slog.LevelError, "session record cannot be used",
			slog.String("method", r.Method), slog.Any("error", err))
	}
}

// decided counts and logs a decision answered here.
func (h *Handler) decided(r *http.Request, st *state, outcome string, status int) {
	h.metrics.decided(outcome, time.Since(st.start))
	h.logDecision(r, st, outcome, status)
}

func (h *Handler) logDecision(r *http.Request, st *state, outcome string, status int) {
	h.log.LogAttrs(r.Context(), slog.LevelDebug, "auth decision",
		slog.String("outcome", outcome), slog.String("method", r.Method),
		slog.Int("status", status), slog.Duration("duration", time.Since(st.start)))
}

// setIdentity sets every identity header from st's user.
func (h *Handler) setIdentity(hdr http.Header, st *state) {
	hdr.Set(h.userHeader, st.value)
	for i, hd := range h.headers {
		hdr.Set(hd.Name, st.fields[i])
	}
}

// stripSpoofs deletes every identity header from hdr, whatever its case
// and with "_" for "-".
func (h *Handler) stripSpoofs(hdr http.Header) {
	for k := range hdr {
		if h.spoof[normName(k)] {
			delete(hdr, k)
		}
	}
}

// loginLocation is the login URL with rd= orig added to its query.
func (h *Handler) loginLocation(orig string) string {
	u := *h.login
	if orig != "" {
		rd := "rd=" + url.QueryEscape(orig)
		if u.RawQuery == "" {
			u.RawQuery = rd
		} else {
			u.RawQuery += "&" + rd
		}
	}
	return u.String()
}

// isBrowser reports whether r looks like a browser's navigation: it
// accepts text/html and is not an XMLHttpRequest.
func isBrowser(r *http.Request) bool {
	if strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Requested-With")), "XMLHttpRequest") {
		return false
	}
	for _, a := range r.Header.Values("Accept") {
		if strings.Contains(strings.ToLower(a), "text/html") {
			return true
		}
	}
	return false
}

// serveHealth is /healthz.
func (h *Handler) serveHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if h.health != nil {
		if err := h.health(r.Context()); err != nil {
			h.log.LogAttrs(r.Context(), slog.LevelWarn, "store health check failed", slog.Any("error", err))
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// statusWriter records the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader implements http.ResponseWriter.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (flushes,
// upgrades).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
