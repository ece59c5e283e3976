package cookiesession

import (
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/hookwriter"
	"github.com/sessionbridge/sessionbridge/internal/jscookies"
)

// epoch is when a cleared cookie expires.
var epoch = time.UnixMilli(0).UTC()

// request is cookie-session's state for one request under LoadAndSave.
type request struct {
	m *Bridge
	r *http.Request
	s *sessionbridge.Session

	orig  string // the cookie value the session was loaded from (Node's _val)
	isNew bool   // no valid session came with the request

	mu    sync.Mutex // Unset may run on another goroutine of the handler
	unset bool
}

func (st *request) setUnset() {
	st.mu.Lock()
	st.unset = true
	st.mu.Unlock()
}

func (st *request) isUnset() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.unset
}

// LoadAndSave is the cookie-session middleware in Go. For every request it
// puts a session in the request context ([sessionbridge.FromContext]): the
// one the cookies carry, or a new, empty one (no cookie, a bad signature,
// a payload that does not decode, or one past Config.ExpiryMember's
// expiry). Change its Record in the handler; nothing else is needed, but
// change it before the response's header goes out (the first Write,
// WriteHeader or Flush): the session travels in that header.
//
// As cookie-session does, with the cookies package's headers byte for byte:
//   - a bad signature clears NAME.sig (NAME= is left alone);
//   - a signature made with an older key re-issues NAME.sig alone, signed
//     with the first key and without Expires;
//   - when the response's header is written, both cookies are written
//     (Expires = now + MaxAge) if the session as JSON.stringify writes it
//     differs from the cookie that came in, except for a new session
//     nobody put anything in;
//   - after [Bridge.Unset] both are cleared.
//
// Go reads the session on every request, so the first two happen on every
// request, as in a Node app with passport, which reads req.session on
// every request. Nothing is written for a Secure cookie over plain HTTP, or
// for a session larger than [MaxCookieBytes] (logged).
//
// Go differs where Node's cookies package would set the wrong cookie: the
// re-issued and the cleared NAME.sig carry the configured Path, Domain,
// SameSite, Priority, Partitioned and HttpOnly, so they replace the cookie
// the browser holds (Node sends them with path=/ and no domain).
//
// Inside the handler use passportuser.Login and Logout as req.login and
// req.logout. A request that already has a session in its context passes
// through untouched. A hijacked connection writes no cookie.
func (m *Bridge) LoadAndSave(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := sessionbridge.FromContext(r.Context()); ok {
			next.ServeHTTP(w, r)
			return
		}
		st := &request{m: m, r: r}
		st.load(w.Header())
		m.requests.Store(st.s, st)
		defer m.requests.Delete(st.s)
		rw := &hookwriter.Writer{ResponseWriter: w, Hook: st}
		next.ServeHTTP(rw, r.WithContext(sessionbridge.NewContext(r.Context(), st.s)))
		rw.Finish()
	})
}

// load is cookie-session's getSession: the cookies' signed get (which
// clears or re-issues NAME.sig in h), then the payload.
func (st *request) load(h http.Header) {
	m := st.m
	v, keyIndex, err := m.get(st.r)
	switch {
	case err == nil:
		if keyIndex > 0 && st.canWrite() {
			jscookies.Set(h, m.name+cookiesig.SigSuffix, m.kg.Sign(m.name+"="+v), m.attrsFor(st.r, time.Time{}))
		}
		if rec, err := m.decode(v); err == nil {
			st.s = &sessionbridge.Session{ID: v, Record: rec}
			st.orig = v
			return
		}
	case errors.Is(err, cookiesig.ErrBadSignature):
		if st.canWrite() {
			jscookies.Set(h, m.name+cookiesig.SigSuffix, "", m.attrsFor(st.r, epoch))
		}
	}
	st.s, _ = m.NewSession()
	st.isNew = true
}

// canWrite reports whether cookies may be written in the response.
func (st *request) canWrite() bool {
	return !st.m.secure || st.m.isSecure(st.r)
}

// BeforeHeader is cookie-session's on-headers listener: it writes or
// clears the cookies in h when cookie-session would. It never fails: a
// cookie it cannot write is logged.
func (st *request) BeforeHeader(h http.Header) error {
	m, s := st.m, st.s
	if !st.canWrite() {
		return nil
	}
	now := m.now()
	if st.isUnset() {
		jscookies.SetSigned(h, m.kg, m.name, "", m.attrsFor(st.r, epoch))
		return nil
	}
	if s.Record == nil {
		return nil
	}
	if st.isNew && len(s.Record.Keys()) == 0 {
		return nil // a new session nobody populated
	}
	enc, err := encodeNode(s.Record)
	if err != nil {
		m.log.LogAttrs(st.r.Context(), slog.LevelError, "session cookie not written", slog.Any("error", err))
		return nil
	}
	if !st.isNew && base64.StdEncoding.EncodeToString(enc) == st.orig {
		return nil // unchanged
	}
	if m.expiry != "" {
		if err := m.stamp(s.Record, now); err != nil {
			m.log.LogAttrs(st.r.Context(), slog.LevelError, "session cookie not written", slog.Any("error", err))
			return nil
		}
	}
	v, err := m.value(s.Record)
	if err != nil {
		m.log.LogAttrs(st.r.Context(), slog.LevelError, "session cookie not written", slog.Any("error", err))
		return nil
	}
	jscookies.SetSigned(h, m.kg, m.name, v, m.attrsFor(st.r, m.expires(now)))
	return nil
}
