package sessionbridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sessionbridge/sessionbridge/internal/backoff"
	"github.com/sessionbridge/sessionbridge/internal/hookwriter"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// defaultConflictRetries is Config.MaxConflictRetries when not set.
const defaultConflictRetries = 5

// errSessionGone marks a merge that found the session removed from the
// store (Node logged out or destroyed it during the request): the changes
// are dropped, never written back as a new session.
var errSessionGone = fmt.Errorf("%w: %w", ErrNoSession, ErrNotFound)

// lifecycle is the state express-session keeps for one request (its
// cookieId, originalId, originalHash, savedHash and touched), and what a
// merge needs: the record as last read or written, and its version.
type lifecycle struct {
	b *Bridge
	r *http.Request

	cookieID   string    // the id of the request's signed cookie, "" if none
	originalID string    // the id the request started with (loaded or generated)
	original   snapshot  // the data then (express-session's originalHash)
	saved      *snapshot // the data at the last save (savedHash), nil if none

	base    *sessionjson.Session // the record as last read or written, nil if never stored
	version Version              // base's version, empty Tag if unknown

	touched   bool // the cookie's expiry was reset for this response
	unset     bool // the handler unset the session (req.session = null)
	destroyed bool // the handler destroyed the session
}

// snapshot is a session's data without the cookie, the part of the record
// express-session hashes to notice a change: member names in order, and
// their JSON (shared with the record, which never changes it in place).
type snapshot struct {
	keys []string
	vals [][]byte
}

func takeSnapshot(rec *sessionjson.Session) snapshot {
	keys := rec.Keys()
	sn := snapshot{keys: keys[:0], vals: make([][]byte, 0, len(keys))}
	for _, k := range keys {
		if k == "cookie" {
			continue
		}
		v, _ := rec.Raw(k)
		sn.keys = append(sn.keys, k)
		sn.vals = append(sn.vals, v)
	}
	return sn
}

// matches reports whether rec holds the same data as sn, in the same order:
// JSON.stringify of the session without its cookie would be the same.
func (sn snapshot) matches(rec *sessionjson.Session) bool {
	keys := rec.Keys()
	if len(keys) != len(sn.keys)+1 {
		return false
	}
	i := 0
	for _, k := range keys {
		if k == "cookie" {
			continue
		}
		v, _ := rec.Raw(k)
		if k != sn.keys[i] || !bytes.Equal(v, sn.vals[i]) {
			return false
		}
		i++
	}
	return true
}

func (st *lifecycle) gone() bool { return st.unset || st.destroyed }

// isModified is express-session's isModified.
func (st *lifecycle) isModified(s *Session) bool {
	return st.originalID != s.ID || !st.original.matches(s.Record)
}

// isSaved is express-session's isSaved.
func (st *lifecycle) isSaved(s *Session) bool {
	return st.originalID == s.ID && st.saved != nil && st.saved.matches(s.Record)
}

// shouldSave is express-session's shouldSave.
func (st *lifecycle) shouldSave(s *Session) bool {
	if !st.b.saveUninit && st.saved == nil && st.cookieID != s.ID {
		return st.isModified(s)
	}
	return !st.isSaved(s)
}

// shouldTouch is express-session's shouldTouch.
func (st *lifecycle) shouldTouch(s *Session) bool {
	return st.cookieID == s.ID && !st.shouldSave(s)
}

// shouldSetCookie is express-session's shouldSetCookie.
func (st *lifecycle) shouldSetCookie(s *Session) bool {
	if st.cookieID != s.ID {
		return st.b.saveUninit || st.isModified(s)
	}
	return st.b.rolling || s.Record.Cookie.Expires != nil && st.isModified(s)
}

// shouldDestroy is express-session's shouldDestroy.
func (st *lifecycle) shouldDestroy(s *Session) bool {
	return s.ID != "" && st.b.unset == UnsetDestroy && st.gone()
}

// touch resets the cookie's expiry once per response, as express-session
// does just before it sets the cookie or ends the response.
func (st *lifecycle) touch(s *Session) {
	if !st.touched {
		s.Record.Touch(st.b.now())
		st.touched = true
	}
}

// onHeaders runs when the response's header is about to be sent: it adds
// the session cookie when express-session would.
func (st *lifecycle) onHeaders(h http.Header, s *Session) {
	if st.gone() || !st.shouldSetCookie(s) {
		return
	}
	if st.b.insecureRequest(st.r, s) {
		return
	}
	st.touch(s)
	v, err := s.Record.Cookie.SetCookie(st.b.name, st.b.cookieValue(s.ID))
	if err != nil {
		st.b.log.LogAttrs(st.r.Context(), slog.LevelError, "session cookie not sent", slog.Any("error", err))
		return
	}
	h.Add("Set-Cookie", v)
}

// end does what express-session does when the response ends: destroy,
// save or touch the stored session.
func (st *lifecycle) end(ctx context.Context, s *Session) error {
	if st.shouldDestroy(s) {
		return st.b.destroyStored(ctx, s.ID)
	}
	if st.gone() {
		return nil
	}
	if st.b.format == FastifySession && st.b.insecureRequest(st.r, s) {
		// @fastify/session neither saves nor sends a Secure session's
		// cookie over plain HTTP: storing it would leave a record no
		// client can ever present.
		return nil
	}
	st.touch(s)
	switch {
	case st.shouldSave(s):
		sn := takeSnapshot(s.Record)
		st.saved = &sn
		err := st.b.commit(ctx, s, st)
		if errors.Is(err, errSessionGone) {
			// Node ended the session meanwhile; its logout wins.
			st.b.log.LogAttrs(ctx, slog.LevelInfo, "session ended elsewhere during the request; its changes were dropped")
			return nil
		}
		return err
	case st.shouldTouch(s):
		return st.b.touchStored(ctx, s, st.version)
	}
	return nil
}

// LoadAndSave is the express-session middleware in Go: for every request
// it does what express-session with the Bridge's options (Config: Resave,
// SaveUninitialized, Rolling, Unset, the cookie options, TrustProxy,
// CookieName, Secrets) does for the same request.
//
// It loads the session of the request's signed cookie, or generates a new
// one (with no cookie, a forged one, or one whose session is gone), and
// puts it in the request context ([FromContext]): under LoadAndSave there
// is always a session. Change its Record in the handler; nothing else is
// needed. When the response's header is written, the cookie is sent if
// express-session would send it (a new session that was changed or
// saveUninitialized, rolling, a changed session with a maxAge cookie),
// never for a Secure cookie over plain HTTP. When the handler returns, the
// session is destroyed (unset with UnsetDestroy), saved (changed, resave,
// saveUninitialized) or touched in the store (unchanged), as express-session
// decides, before the end of the response reaches the client: a client
// that has the whole response can rely on the session being stored. If
// that write fails, a response not yet started gets Config.ErrorHandler,
// and one already started is aborted (http.ErrAbortHandler), so the
// client never sees it complete.
//
// A change is noticed the way express-session notices it: the data without
// the cookie, compared with what was loaded. Saves of a loaded session
// never silently overwrite a change Node made in the meantime: see
// Config.Conflict.
//
// Inside the handler use [Bridge.Regenerate], [Bridge.Destroy],
// [Bridge.Unset], [Bridge.Save] and [Bridge.Reload] as req.session's
// methods, and passportuser's Login and Logout as req.login and req.logout.
// Requests whose path is outside Cookie.Path pass through without a session,
// as express-session lets them. A store failure while loading is answered
// by Config.ErrorHandler (503 by default), never as "logged out".
//
// With FastifySession the decisions stay express-session's (set Rolling and
// SaveUninitialized as the fastify app sets them), with @fastify/session's
// cookie, path rule and expiry rule, a touch that rewrites the record's
// cookie, and a Secure session on a plain HTTP request left unsaved; see
// [FastifySession].
//
// A handler that panics saves nothing. A hijacked connection (a websocket
// upgrade) saves nothing at the end: call Save before hijacking.
func (b *Bridge) LoadAndSave(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := FromContext(r.Context()); ok || !b.inCookiePath(r) {
			next.ServeHTTP(w, r)
			return
		}
		st := &lifecycle{b: b, r: r}
		s, err := st.load(r)
		if err != nil {
			b.storeFailed(w, r, err)
			return
		}
		lw := &lifecycleWriter{Writer: hookwriter.Writer{ResponseWriter: w, HoldLastByte: true}, st: st, s: s}
		lw.Hook = lw
		next.ServeHTTP(lw, r.WithContext(NewContext(r.Context(), s)))
		lw.finish(r)
	})
}

// inCookiePath is express-session's check that the request's original path
// starts with the cookie's path, or with FastifySession @fastify/session's
// that it is the cookie's path or below it.
func (b *Bridge) inCookiePath(r *http.Request) bool {
	path := r.URL.EscapedPath()
	if r.RequestURI != "" && r.RequestURI != "*" {
		path, _, _ = strings.Cut(r.RequestURI, "?")
		if i := strings.Index(path, "://"); i >= 0 {
			// An absolute-form target: the path starts after the host.
			rest := path[i+3:]
			path = "/"
			if j := strings.IndexByte(rest, '/'); j >= 0 {
				path = rest[j:]
			}
		}
	}
	if path == "" {
		path = "/"
	}
	if b.format == FastifySession {
		return fastifyPathMatch(path, b.cookie.Path)
	}
	return strings.HasPrefix(path, b.cookie.Path)
}

// load finds the request's session or generates one. Only a store failure
// is an error.
func (st *lifecycle) load(r *http.Request) (*Session, error) {
	b := st.b
	if sid, err := b.SessionID(r); err == nil {
		st.cookieID = sid
		rec, v, err := b.getVersion(r.Context(), sid)
		switch {
		case err == nil:
			s := &Session{ID: sid, Record: rec, lc: st}
			st.originalID = sid
			st.original = takeSnapshot(rec)
			if !b.resave {
				st.saved = &st.original
			}
			st.base, st.version = rec.Clone(), v
			return s, nil
		case !errors.Is(err, ErrNoSession):
			return nil, err
		}
	}
	s := &Session{lc: st}
	if err := b.generate(r, s); err != nil {
		return nil, err
	}
	st.originalID = s.ID
	st.original = takeSnapshot(s.Record)
	return s, nil
}

// getVersion is LoadID with the record's version when the store has one.
func (b *Bridge) getVersion(ctx context.Context, sid string) (*sessionjson.Session, Version, error) {
	cs, ok := b.store.(ConditionalStore)
	if !ok {
		s, err := b.LoadID(ctx, sid)
		if err != nil {
			return nil, Version{}, err
		}
		return s.Record, Version{}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, Version{}, fmt.Errorf("%w: %w", ErrStore, err)
	}
	rec, v, err := cs.GetVersion(ctx, sid)
	if err = b.checkLoaded(ctx, rec, err); err != nil {
		return nil, Version{}, err
	}
	return rec, v, nil
}

// checkLoaded turns what a store's Get returned into LoadID's errors.
func (b *Bridge) checkLoaded(ctx context.Context, rec *sessionjson.Session, err error) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNoSession, ErrNotFound)
	case err != nil:
		return fmt.Errorf("%w: %w", ErrStore, err)
	case rec == nil:
		return fmt.Errorf("%w: store returned no session and no error", ErrStore)
	}
	if err := ctx.Err(); err != nil {
		// The store answered too late (or ignored ctx while decoding).
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	if (!b.storeExpires || b.format == FastifySession) && rec.Expired(b.now()) {
		return fmt.Errorf("%w: %w", ErrNoSession, ErrExpired)
	}
	return nil
}

// generate gives s a new id and a new record, as express-session's
// store.generate does.
func (b *Bridge) generate(r *http.Request, s *Session) error {
	sid, err := b.genID(r)
	if err != nil {
		return err
	}
	s.ID, s.Record = sid, sessionjson.New(b.newCookie())
	return nil
}

func (b *Bridge) genID(r *http.Request) (string, error) {
	if b.genid == nil {
		return NewID()
	}
	sid, err := b.genid(r)
	if err != nil {
		return "", fmt.Errorf("sessionbridge: generating a session id: %w", err)
	}
	if sid == "" {
		return "", errors.New("sessionbridge: GenerateID returned an empty id")
	}
	if !utf8.ValidString(sid) {
		// Its cookie could not be URL-decoded back (by Node or by us): the
		// client would get a new session on every request.
		return "", errors.New("sessionbridge: GenerateID returned an id that is not valid UTF-8")
	}
	return sid, nil
}

// commit writes s, the way Config.Conflict says when the stored record
// changed since st read it. st is nil outside LoadAndSave and Update.
func (b *Bridge) commit(ctx context.Context, s *Session, st *lifecycle) error {
	return b.commitAs(ctx, s, st, b.conflict)
}

// commitAs is commit with the conflict policy given.
func (b *Bridge) commitAs(ctx context.Context, s *Session, st *lifecycle, policy ConflictPolicy) error {
	cs, conditional := b.store.(ConditionalStore)
	if !conditional || policy == ConflictOverwrite || st == nil || st.base == nil {
		if err := b.store.Set(ctx, s.ID, s.Record); err != nil {
			return fmt.Errorf("%w: %w", ErrStore, err)
		}
		if st != nil && st.base != nil {
			// A loaded session: later saves merge against what was written.
			// A new one has no other writer to merge with.
			st.base, st.version = s.Record.Clone(), Version{}
		}
		return nil
	}
	for attempt := 0; ; attempt++ {
		if st.version.Tag != "" {
			v, err := cs.SetIf(ctx, s.ID, s.Record, st.version)
			if err == nil {
				st.base, st.version = s.Record.Clone(), v
				return nil
			}
			if !errors.Is(err, ErrConflict) {
				return fmt.Errorf("%w: %w", ErrStore, err)
			}
			if policy == ConflictFail {
				return fmt.Errorf("sessionbridge: save refused: %w", ErrConflict)
			}
			if attempt >= b.retries {
				return fmt.Errorf("sessionbridge: save still conflicting after %d merges: %w", attempt, ErrConflict)
			}
			if attempt > 0 {
				if err := backoff.Wait(ctx, attempt); err != nil {
					return fmt.Errorf("%w: %w", ErrStore, err)
				}
			}
		}
		fresh, v, err := cs.GetVersion(ctx, s.ID)
		if errors.Is(err, ErrNotFound) {
			return errSessionGone
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrStore, err)
		}
		merged, err := merge(st.base, s.Record, fresh, b.now)
		if err != nil {
			return err
		}
		s.Record, st.base, st.version = merged, fresh, v
		if v.Tag == "" {
			return fmt.Errorf("%w: the store gave no version to write against", ErrStore)
		}
	}
}

// merge applies to fresh (the stored record now) the changes mine made to
// base (the record as read): the top-level keys set, changed or deleted,
// and the cookie when mine changed more than its expiry. It returns a new
// record; fresh is left as read.
func merge(base, mine, fresh *sessionjson.Session, now func() time.Time) (*sessionjson.Session, error) {
	out := fresh.Clone()
	var deleted map[string]bool
	for _, k := range base.Keys() {
		if k != "cookie" && !mine.Has(k) {
			if deleted == nil {
				deleted = make(map[string]bool)
			}
			deleted[k] = true
		}
	}
	if deleted != nil {
		// Rebuild out without the deleted keys in one pass: a Delete per
		// key would cost the length of the record each time.
		out.Clear()
		for _, k := range fresh.Keys() {
			if k == "cookie" || deleted[k] {
				continue
			}
			fv, _ := fresh.Raw(k)
			if err := out.SetRaw(k, fv); err != nil {
				return nil, fmt.Errorf("sessionbridge: merging %w", err)
			}
		}
	}
	for _, k := range mine.Keys() {
		if k == "cookie" {
			continue
		}
		mv, _ := mine.Raw(k)
		if bv, ok := base.Raw(k); ok && bytes.Equal(mv, bv) {
			continue
		}
		if err := out.SetRaw(k, mv); err != nil {
			return nil, fmt.Errorf("sessionbridge: merging %w", err)
		}
	}
	mc, bc := mine.Cookie, base.Cookie
	mc.Expires, bc.Expires = nil, nil
	switch {
	case !mc.Equal(bc):
		out.Cookie = mine.Cookie // the handler changed the cookie itself
	case !mine.Cookie.Equal(base.Cookie):
		out.Cookie.Touch(now()) // only its expiry was reset: reset the stored one's
	}
	return out, nil
}

// destroyStored removes sid from the store.
func (b *Bridge) destroyStored(ctx context.Context, sid string) error {
	if err := b.store.Destroy(ctx, sid); err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

// touchStored is express-session's store.touch, skipped when Config.TouchAfter
// says the store's expiry is recent enough. v is the version s was read
// with (for the time of the store's last expiry change).
func (b *Bridge) touchStored(ctx context.Context, s *Session, v Version) error {
	read := s.Record
	if s.lc != nil && s.lc.base != nil {
		read = s.lc.base
	}
	if b.touchAfter > 0 && b.recentlyTouched(read, v) {
		return nil
	}
	if b.format == FastifySession {
		// The expiry lives in the record: rewrite its cookie, merging
		// whatever another writer stored since the load.
		err := b.commitAs(ctx, s, s.lc, ConflictMerge)
		if err != nil && !errors.Is(err, errSessionGone) {
			return err
		}
		return nil
	}
	err := b.store.Touch(ctx, s.ID, s.Record)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	return nil
}

// storeFailed answers a request whose session the store could not load.
func (b *Bridge) storeFailed(w http.ResponseWriter, r *http.Request, err error) {
	level, msg := slog.LevelError, "session store failed"
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away during the load: no outage to report.
		level, msg = slog.LevelDebug, "request canceled during the session load"
	}
	b.log.LogAttrs(r.Context(), level, msg,
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
	b.onError(w, r, err)
}

// lifecycleWriter is the ResponseWriter of a LoadAndSave request: it adds
// the cookie when the header goes out (express-session's onHeaders) and
// holds back the last byte of a body of known length until the session is
// stored, so that a client never has the whole response before that.
type lifecycleWriter struct {
	hookwriter.Writer
	st *lifecycle
	s  *Session
}

// BeforeHeader is express-session's onHeaders listener.
func (w *lifecycleWriter) BeforeHeader(h http.Header) error {
	w.st.onHeaders(h, w.s)
	return nil
}

// finish runs when the handler has returned: it stores the session and
// releases the end of the response.
func (w *lifecycleWriter) finish(r *http.Request) {
	if w.Hijacked() {
		return
	}
	st, b := w.st, w.st.b
	// Like express-session, the session is stored even when the client has
	// gone away meanwhile.
	err := st.end(context.WithoutCancel(r.Context()), w.s)
	if err != nil {
		b.log.LogAttrs(r.Context(), slog.LevelError, "session not stored at the end of the request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
		if !w.WroteHeader() {
			b.onError(w.ResponseWriter, r, err)
			return
		}
		// The response has started: abort it, so that the client cannot
		// take it for a complete one.
		panic(http.ErrAbortHandler)
	}
	w.Finish()
}

// recentlyTouched reports whether the store set the expiry of rec (a record
// as read, with its version v) less than TouchAfter ago.
func (b *Bridge) recentlyTouched(rec *sessionjson.Session, v Version) bool {
	touched := v.Touched
	if c := rec.Cookie; touched.IsZero() && c.OriginalMaxAge != nil && c.Expires != nil {
		// No word from the store: the record's own expiry, as last
		// written, dates its last extension at the latest.
		touched = c.Expires.Add(-time.Duration(*c.OriginalMaxAge) * time.Millisecond)
	}
	return !touched.IsZero() && b.now().Sub(touched) < b.touchAfter
}
