package koasession

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/bridgekit"
	"github.com/sessionbridge/sessionbridge/internal/hookwriter"
	"github.com/sessionbridge/sessionbridge/internal/jscookies"
)

// ErrNotSaved is returned by WriteCookie for a session that has no cookie
// value yet: a cookie-mode session that was never saved.
var ErrNotSaved = errors.New("koasession: the session was never saved")

// epoch is when a cleared cookie expires.
var epoch = time.UnixMilli(0).UTC()

// ctxKey carries the request's *reqState.
type ctxKey struct{}

// reqState is what koa-session's ContextSession keeps for one request.
type reqState struct {
	b *Bridge
	r *http.Request
	w *hookwriter.Writer
	s *sessionbridge.Session

	loaded   bool   // the session came from the cookie or the store
	prevHash uint32 // util.hash of the data as loaded
	meta     loadedMeta
	base     maxAge // the maxAge as loaded or last saved, to notice a change

	removed    bool   // ctx.session = null (Destroy)
	committed  bool   // the commit at the response's header ran
	commitHash uint32 // the data's hash then
}

// maxAge is a session's maxAge as koa-session holds it: 'session', or
// milliseconds (0: the option left out).
type maxAge struct {
	session bool
	ms      int64
}

func maxAgeOf(s *sessionbridge.Session) maxAge {
	if m := s.Record.Cookie.OriginalMaxAge; m != nil {
		return maxAge{ms: *m}
	}
	return maxAge{session: true}
}

// stateFor returns the LoadAndSave state of ctx when s is its session.
func (b *Bridge) stateFor(ctx context.Context, s *sessionbridge.Session) *reqState {
	if ctx == nil {
		return nil
	}
	st, _ := ctx.Value(ctxKey{}).(*reqState)
	if st == nil || st.b != b || st.s != s {
		return nil
	}
	return st
}

// LoadAndSave is koa-session's middleware in Go. It reads the request's
// signed cookie as koa-session does (a bad signature queues the clearing
// of NAME.sig and a signature by an older key its re-signing, as the
// cookies package's get does), loads the session (the payload in cookie
// mode, the store's record in store mode) unless it has expired, or starts
// a new one, and puts it in the request context
// (sessionbridge.FromContext): under LoadAndSave there is always a
// session. Change its Record in the handler.
//
// When the handler writes the response's header (or returns without
// writing), the session is committed as koa-session commits it after the
// downstream middleware: a destroyed session clears both cookies; a
// session is saved (store mode: written to the store, then its key's
// cookie sent; cookie mode: its cookie sent) when Save, Regenerate or a
// change of its maxAge forced it, or when its data's CRC-32 differs from
// the loaded one, or with Rolling, or with Renew and less than half of
// maxAge left; a new session that stayed empty is not saved. A session
// changed after that point is saved again when the handler returns in
// store mode (a failure then aborts the response); in cookie mode the
// change is lost and logged, so change the session before writing.
//
// Differences from Node: the session is always loaded, as when the Koa app
// reads ctx.session on every request (koa-passport's passport.session()
// does); a store failure while loading, and a commit that fails, are
// answered by Config.ErrorHandler (503 for the store) with no session
// cookie, where Koa answers 500.
//
// Inside the handler use the Bridge's Save, Regenerate and Destroy as
// ctx.session's save(), regenerate() and ctx.session = null, and
// passportuser's Login and Logout as koa-passport's ctx.login and
// ctx.logout. A hijacked connection commits nothing at the end.
func (b *Bridge) LoadAndSave(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st, _ := r.Context().Value(ctxKey{}).(*reqState); st != nil && st.b == b {
			next.ServeHTTP(w, r)
			return
		}
		st := &reqState{b: b}
		ctx := context.WithValue(r.Context(), ctxKey{}, st)
		st.r = r.WithContext(ctx)
		s, fixes, err := st.load()
		if err != nil {
			b.fail(w, r, err, "session store failed")
			return
		}
		for _, v := range fixes {
			w.Header().Add("Set-Cookie", v)
		}
		st.s = s
		st.base = maxAgeOf(s)
		st.w = &hookwriter.Writer{ResponseWriter: w, Hook: st}
		r = st.r.WithContext(sessionbridge.NewContext(ctx, s))
		st.r = r
		next.ServeHTTP(st.w, r)
		st.finish()
	})
}

// load is initFromCookie / initFromExternal: the request's session, or a
// new one, and the Set-Cookie headers the cookies package's get queues.
// Only a store failure is an error.
func (st *reqState) load() (*sessionbridge.Session, []string, error) {
	b, r := st.b, st.r
	value, idx, err := b.kg.Get(bridgekit.CookieHeader(r), b.name, b.maxHdr)
	var fixes []string
	switch {
	case errors.Is(err, cookiesig.ErrBadSignature):
		fixes = append(fixes, jscookies.Header(b.name+cookiesig.SigSuffix, "", b.getAttrs(r)))
	case err == nil && idx > 0:
		fixes = append(fixes, jscookies.Header(b.name+cookiesig.SigSuffix, b.kg.Sign(b.name+"="+value), b.getAttrs(r)))
	}
	if err == nil && value != "" {
		s, m, err := b.load(r.Context(), value)
		switch {
		case err == nil:
			st.loaded, st.meta = true, m
			data, err := s.Record.Encode()
			if err != nil {
				return nil, nil, fmt.Errorf("%w: %w", sessionbridge.ErrStore, err)
			}
			st.prevHash = hashData(data)
			return s, fixes, nil
		case errors.Is(err, sessionbridge.ErrStore):
			return nil, nil, err
		}
	}
	s, err := b.NewSession()
	if err != nil {
		return nil, nil, err
	}
	return s, fixes, nil
}

// getAttrs are the attributes of the NAME.sig cookies the cookies
// package's get sets: its defaults, secure as the request is.
func (b *Bridge) getAttrs(r *http.Request) jscookies.Attrs {
	return jscookies.Attrs{HTTPOnly: true, Secure: b.isSecure(r)}
}

// isSecure is Koa's ctx.request.secure: TLS, or with app.proxy the first
// X-Forwarded-Proto value.
func (b *Bridge) isSecure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if !b.trust {
		return false
	}
	proto := strings.Join(r.Header.Values("X-Forwarded-Proto"), ", ")
	if proto == "" {
		return false
	}
	proto, _, _ = strings.Cut(proto, ",")
	return strings.ToLower(strings.TrimSpace(proto)) == "https"
}

// attrs are the session cookies' attributes for r: koa-session's options,
// an expires maxAgeMs after nowMs when maxAgeMs is not 0 (the cookies
// package's maxAge), and secure as the cookies package decides it.
func (b *Bridge) attrs(r *http.Request, maxAgeMs, nowMs int64) (jscookies.Attrs, error) {
	a := b.cattrs
	switch b.secure {
	case SecureAuto:
		a.Secure = b.isSecure(r)
	case SecureAlways:
		if !b.isSecure(r) {
			return a, ErrInsecureRequest
		}
		a.Secure = true
	}
	if maxAgeMs != 0 {
		a.Expires = time.UnixMilli(nowMs + maxAgeMs)
	}
	return a, nil
}

// put sets one cookie in h, replacing an earlier one of the same name
// unless overwrite is off.
func (b *Bridge) put(h http.Header, name, value string, a jscookies.Attrs) {
	if b.overwrite {
		jscookies.Set(h, name, value, a)
		return
	}
	h.Add("Set-Cookie", jscookies.Header(name, value, a))
}

// putSigned sets the session cookie and its signature, as cookies'
// set(name, value, {signed: true, ...}).
func (b *Bridge) putSigned(h http.Header, value string, a jscookies.Attrs) {
	b.put(h, b.name, value, a)
	b.put(h, b.name+cookiesig.SigSuffix, b.kg.Sign(b.name+"="+value), a)
}

// setSessionCookie sends the cookie of a saved session.
func (b *Bridge) setSessionCookie(h http.Header, r *http.Request, value string, maxAgeMs, nowMs int64) error {
	a, err := b.attrs(r, maxAgeMs, nowMs)
	if err != nil {
		return err
	}
	b.putSigned(h, value, a)
	return nil
}

// clearCookies is koa-session's remove() on the cookies: both set empty,
// expiring at the epoch.
func (b *Bridge) clearCookies(h http.Header, r *http.Request) error {
	a, err := b.attrs(r, 0, 0)
	if err != nil {
		return err
	}
	a.Expires = epoch
	b.putSigned(h, "", a)
	return nil
}

// commit is koa-session's commit() at the end of the request.
func (st *reqState) commit() error {
	st.committed = true
	if st.removed {
		return st.b.clearCookies(st.w.Header(), st.r)
	}
	data, err := st.s.Record.Encode()
	if err != nil {
		return err
	}
	st.commitHash = hashData(data)
	if maxAgeOf(st.s) == st.base && !st.shouldSave(data, st.commitHash) {
		return nil
	}
	return st.b.save(context.WithoutCancel(st.r.Context()), st.s, st)
}

// shouldSave is koa-session's _shouldSaveSession.
func (st *reqState) shouldSave(data []byte, hash uint32) bool {
	if (!st.loaded || st.prevHash == 0) && len(st.s.Record.Keys()) == 0 {
		return false // new (or hashed to 0, which is falsy) and empty
	}
	if !st.loaded || hash != st.prevHash {
		return true // changed
	}
	if st.b.rolling {
		return true
	}
	if st.b.renew && st.meta.hasExpire && st.meta.expire != 0 {
		m := maxAgeOf(st.s)
		if !m.session && m.ms != 0 && st.meta.expire-float64(st.b.nowMs()) < float64(m.ms)/2 {
			return true
		}
	}
	return false
}

// late saves, when the handler returns, a store-mode session changed after
// the commit at the response's header.
func (st *reqState) late() error {
	if st.removed {
		return nil
	}
	data, err := st.s.Record.Encode()
	if err != nil {
		return err
	}
	if hashData(data) == st.commitHash && maxAgeOf(st.s) == st.base {
		return nil
	}
	if st.b.store == nil {
		st.b.log.LogAttrs(st.r.Context(), slog.LevelWarn, "koasession: the session changed after the response started; in cookie mode the change is lost",
			slog.String("method", st.r.Method), slog.String("path", st.r.URL.Path))
		return nil
	}
	_, err = st.b.storeSave(context.WithoutCancel(st.r.Context()), st.s, st)
	return err
}

// save is koa-session's save(): store mode writes the record and sends the
// key's cookie, cookie mode sends the data's cookie. st is the request's
// state under LoadAndSave, nil elsewhere (the caller then sends the cookie
// with WriteCookie).
func (b *Bridge) save(ctx context.Context, s *sessionbridge.Session, st *reqState) error {
	p, err := b.storeSave(ctx, s, st)
	if err != nil {
		return err
	}
	if st == nil {
		return nil
	}
	if st.w.WroteHeader() {
		return ErrResponseStarted
	}
	return b.setSessionCookie(st.w.Header(), st.r, s.ID, p.cookieMs, p.nowMs)
}

// saved is a prepared save and its clock.
type saved struct {
	prepared
	nowMs int64
}

// storeSave prepares the save and, in store mode, writes the record; s.ID
// becomes the cookie's value (the key, or the encoded data).
func (b *Bridge) storeSave(ctx context.Context, s *sessionbridge.Session, st *reqState) (saved, error) {
	now := b.nowMs()
	p, err := b.prepare(s.Record, now)
	if err != nil {
		return saved{}, err
	}
	if st != nil {
		st.base = maxAgeOf(s)
	}
	if b.store == nil {
		s.ID = encodeCookie(p.json)
		return saved{p, now}, nil
	}
	if p.session {
		return saved{}, fmt.Errorf("%w: koa-redis cannot store a session whose maxAge is 'session'", sessionbridge.ErrStore)
	}
	if s.ID == "" {
		if s.ID, err = b.newKey(); err != nil {
			return saved{}, err
		}
	}
	if err := b.store.Set(ctx, s.ID, p.json, p.ttl); err != nil {
		return saved{}, fmt.Errorf("%w: %w", sessionbridge.ErrStore, err)
	}
	return saved{p, now}, nil
}

// Save saves the session now, as ctx.session.save() does: in store mode
// the record is written to the store (with a fresh _expire; the store
// keeps it for maxAge plus 10 seconds); in cookie mode s.ID becomes the
// new cookie value. Under LoadAndSave (ctx is the request's) the cookie is
// queued in the response; elsewhere send it with WriteCookie. A store
// failure wraps sessionbridge.ErrStore.
func (b *Bridge) Save(ctx context.Context, s *sessionbridge.Session) error {
	st := b.stateFor(ctx, s)
	if st != nil {
		st.removed = false
	}
	return b.save(ctx, s, st)
}

// Regenerate is ctx.session.regenerate(): the stored record of the old key
// is destroyed (store mode), the cookies are cleared, and the session,
// with its data unchanged, is saved again, under a fresh key in store
// mode. koa-session keeps the data, so passport's login and logout through
// passportuser keep it too, as koa-passport does. Under LoadAndSave the
// cookies go in the response; elsewhere send them with WriteCookie.
func (b *Bridge) Regenerate(ctx context.Context, s *sessionbridge.Session) error {
	st, err := b.dropStored(ctx, s, false)
	if err != nil {
		return err
	}
	if st != nil {
		if err := b.clearCookies(st.w.Header(), st.r); err != nil {
			return err
		}
	}
	s.ID = ""
	if b.store != nil {
		key, err := b.newKey()
		if err != nil {
			return err
		}
		s.ID = key
	}
	return b.save(ctx, s, st)
}

// Destroy is ctx.session = null: in store mode the record is deleted from
// the store now, the session's data is cleared, and under LoadAndSave both
// cookies are cleared at the end of the request (nothing is saved then,
// unless Save or Regenerate revives the session). Elsewhere clear the
// cookies with ClearCookie. A store failure wraps sessionbridge.ErrStore.
func (b *Bridge) Destroy(ctx context.Context, s *sessionbridge.Session) error {
	if _, err := b.dropStored(ctx, s, true); err != nil {
		return err
	}
	s.Record.Clear()
	return nil
}

// dropStored begins Regenerate and Destroy: it refuses a session whose
// response has started under LoadAndSave, deletes the stored record, and
// marks the session removed (Destroy) or not (Regenerate) for the commit
// at the response's header. It returns the request's state, nil outside
// LoadAndSave.
func (b *Bridge) dropStored(ctx context.Context, s *sessionbridge.Session, removed bool) (*reqState, error) {
	st := b.stateFor(ctx, s)
	if st != nil && st.w.WroteHeader() {
		return nil, ErrResponseStarted
	}
	if err := b.destroyStored(ctx, s); err != nil {
		return nil, err
	}
	if st != nil {
		st.removed = removed
	}
	return st, nil
}

func (b *Bridge) destroyStored(ctx context.Context, s *sessionbridge.Session) error {
	if b.store == nil || s.ID == "" {
		return nil
	}
	if err := b.store.Destroy(ctx, s.ID); err != nil {
		return fmt.Errorf("%w: %w", sessionbridge.ErrStore, err)
	}
	return nil
}

// WriteCookie adds to w the cookies of s as its last Save left it (outside
// LoadAndSave, where nothing else sends them): NAME=<value> and NAME.sig,
// with koa-session's attributes and, when the session's maxAge is a
// number, expires that far from now. A cookie-mode session never saved
// gives ErrNotSaved; a SecureAlways cookie on a request that is not HTTPS
// gives ErrInsecureRequest and sends nothing.
func (b *Bridge) WriteCookie(w http.ResponseWriter, r *http.Request, s *sessionbridge.Session) error {
	if s.ID == "" {
		return ErrNotSaved
	}
	var ms int64
	if m := s.Record.Cookie.OriginalMaxAge; m != nil {
		ms = *m
	}
	return b.setSessionCookie(w.Header(), r, s.ID, ms, b.nowMs())
}

// ClearCookie adds to w the two headers koa-session sends for a destroyed
// session: NAME= and NAME.sig, expiring at the epoch.
func (b *Bridge) ClearCookie(w http.ResponseWriter, r *http.Request) error {
	return b.clearCookies(w.Header(), r)
}

// fail logs err and answers with the ErrorHandler, without the session
// cookies (Koa's error handling drops every header it had set).
func (b *Bridge) fail(w http.ResponseWriter, r *http.Request, err error, msg string) {
	level := slog.LevelError
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		level, msg = slog.LevelDebug, "request canceled during the session load"
	}
	b.log.LogAttrs(r.Context(), level, "koasession: "+msg,
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
	w.Header().Del("Set-Cookie")
	b.onError(w, r, err)
}

// errFailed is what the handler's writes get after a commit failed and
// the ErrorHandler answered instead.
var errFailed = errors.New("koasession: the session could not be committed; the response was replaced")

// BeforeHeader commits the session before the response's header goes out,
// or answers with the ErrorHandler when that fails.
func (st *reqState) BeforeHeader(http.Header) error {
	if err := st.commit(); err != nil {
		st.b.fail(st.w.ResponseWriter, st.r, err, "session not committed")
		return errFailed
	}
	return nil
}

// finish runs when the handler has returned.
func (st *reqState) finish() {
	w := st.w
	switch {
	case w.Hijacked() || w.Failed():
	case !w.WroteHeader():
		w.Finish()
	default:
		if err := st.late(); err != nil {
			r := st.r
			st.b.log.LogAttrs(r.Context(), slog.LevelError, "koasession: session not stored at the end of the request",
				slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
			panic(http.ErrAbortHandler)
		}
	}
}
