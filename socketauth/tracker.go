package socketauth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/passportuser"
)

// Reasons given to a revoke function.
const (
	ReasonSessionEnded = "session ended" // destroyed or expired
	ReasonLoggedOut    = "logged out"    // passport.user removed
	ReasonUserChanged  = "user changed"  // another user in the same session
)

// TrackerOptions configure a Tracker.
type TrackerOptions struct {
	// Interval between two re-validations of every tracked session by Run;
	// default one minute.
	Interval time.Duration
	// Concurrency is the number of store reads in flight during one
	// re-validation; default 8.
	Concurrency int
	// KeepAlive, when positive, makes client activity on a tracked
	// connection (Tracker.Activity; with socketauth/socketio, every event
	// the client emits) keep its session alive as HTTP requests do: the
	// session source's KeepAlive (sessionbridge.SessionKeeper, which a
	// *sessionbridge.Bridge is) runs at most once per KeepAlive per
	// session, however many connections and events the session has, so
	// an active client's session expires no earlier than its last activity
	// plus the session's lifetime minus KeepAlive. Keep it a small part of
	// the session's maxAge (a tenth, say): each keep-alive costs a store
	// read and a touch (none under the Bridge's Config.TouchAfter when the
	// store's expiry is recent). Zero, the default, leaves sessions to
	// HTTP traffic alone, as express-socket.io-session and
	// passport.socketio do: see docs/passport-socketio.md.
	//
	// A keep-alive that finds the session gone or expired revokes its
	// connections (ReasonSessionEnded); a store failure revokes nothing
	// and is logged (at most once per KeepAlive).
	KeepAlive time.Duration
}

// A Tracker knows which open connections belong to which session and
// disconnects them (through the revoke function given to Track) when the
// session is destroyed, expires or is logged out, on the Node side or the
// Go side. Run re-validates every tracked session periodically (one batch
// of store reads per interval, for any store); Watch acts on a store's
// change feed as changes happen (Redis: redisstore.Store.Feed); Check
// re-validates one session at once. With TrackerOptions.KeepAlive, the
// activity of the connections (Activity) keeps their sessions alive. It is
// safe for concurrent use.
type Tracker struct {
	a    *Authorizer
	opts TrackerOptions

	keeper sessionbridge.SessionKeeper // nil: no keep-alive
	now    func() time.Time
	keeps  sync.WaitGroup // keep-alives in flight

	mu       sync.Mutex
	sessions map[string]*tracked // by session id
	next     uint64
	// Keep-alive failures not yet logged, and when the last log was.
	keepFailures int
	keepLogged   time.Time
}

type tracked struct {
	user  string // passport.user as stored
	conns map[uint64]func(reason string)
	// keptAt is when the last keep-alive started (zero: none yet);
	// keeping cancels the one in flight (nil when none).
	keptAt  time.Time
	keeping context.CancelFunc
}

// NewTracker returns a Tracker that re-validates with a's session source.
// With opts.KeepAlive, a source that cannot keep sessions alive (not a
// sessionbridge.SessionKeeper) is logged to a's Logger and keep-alive is
// off.
func NewTracker(a *Authorizer, opts TrackerOptions) *Tracker {
	if opts.Interval <= 0 {
		opts.Interval = time.Minute
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	t := &Tracker{a: a, opts: opts, sessions: map[string]*tracked{}, now: time.Now}
	if opts.KeepAlive > 0 {
		if k, ok := a.cfg.Source.(sessionbridge.SessionKeeper); ok {
			t.keeper = k
		} else {
			a.log.LogAttrs(context.Background(), slog.LevelError,
				"socketauth: TrackerOptions.KeepAlive needs a session source that implements sessionbridge.SessionKeeper; keep-alive is off")
		}
	}
	return t
}

// Track registers a connection authorized by auth. revoke is called at most
// once, from any goroutine, when the session ends; it should disconnect the
// connection. Call the returned function when the connection closes. An
// anonymous Auth is not tracked.
func (t *Tracker) Track(auth *Auth, revoke func(reason string)) (untrack func()) {
	if auth == nil || auth.Session == nil {
		return func() {}
	}
	sid := auth.Session.ID
	t.mu.Lock()
	t.next++
	id := t.next
	s := t.sessions[sid]
	var stale *tracked
	if s != nil && !sameUser(auth.StoredUser, []byte(s.user)) {
		// Another user now holds this session: the connections tracked
		// under the old user are revoked (their keep-alive cancelled),
		// the new one starts afresh.
		stale, s = s, nil
		stale.stopKeeping()
	}
	if s == nil {
		s = &tracked{user: string(auth.StoredUser), conns: map[uint64]func(string){}}
		t.sessions[sid] = s
	}
	var once sync.Once
	s.conns[id] = func(reason string) { once.Do(func() { revoke(reason) }) }
	t.mu.Unlock()
	if stale != nil {
		for _, r := range stale.conns {
			r(ReasonUserChanged)
		}
	}
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if s := t.sessions[sid]; s != nil {
			delete(s.conns, id)
			if len(s.conns) == 0 {
				delete(t.sessions, sid)
				s.stopKeeping()
			}
		}
	}
}

// stopKeeping cancels the keep-alive in flight, if any. The caller holds
// the Tracker's lock.
func (s *tracked) stopKeeping() {
	if s.keeping != nil {
		s.keeping()
		s.keeping = nil
	}
}

// Len returns the number of tracked sessions and connections.
func (t *Tracker) Len() (sessions, conns int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.sessions {
		conns += len(s.conns)
	}
	return len(t.sessions), conns
}

// Revoke disconnects every tracked connection of the session now.
func (t *Tracker) Revoke(sid, reason string) int {
	return t.revoke(sid, nil, reason)
}

// revoke is Revoke; with only set, it revokes only while the session's
// connections are still those of only (not a set tracked since).
func (t *Tracker) revoke(sid string, only *tracked, reason string) int {
	t.mu.Lock()
	s := t.sessions[sid]
	if s == nil || only != nil && s != only {
		t.mu.Unlock()
		return 0
	}
	delete(t.sessions, sid)
	s.stopKeeping()
	t.mu.Unlock()
	for _, revoke := range s.conns {
		revoke(reason)
	}
	return len(s.conns)
}

// Activity reports activity from the client of a tracked connection of
// the session sid: with TrackerOptions.KeepAlive, it starts a keep-alive
// of the session (the source's KeepAlive, bounded by the Authorizer's
// Timeout) unless one started less than KeepAlive ago or is still in
// flight. It never blocks on the store: the keep-alive runs in the
// background, and is cancelled when the session's last connection is
// untracked or revoked, so nothing outlives the connections. It does
// nothing for a session without tracked connections, or without
// KeepAlive.
//
// Report what the client does, not what the server sends it nor the
// transport's heartbeats: a browser answers pings in an idle tab too, and
// counting them would keep an abandoned session alive for as long as the
// tab stays open. socketauth/socketio reports the events a client emits.
func (t *Tracker) Activity(sid string) {
	if t.keeper == nil {
		return
	}
	now := t.now()
	t.mu.Lock()
	s := t.sessions[sid]
	if s == nil || s.keeping != nil || !s.keptAt.IsZero() && now.Sub(s.keptAt) < t.opts.KeepAlive {
		t.mu.Unlock()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.a.cfg.Timeout)
	s.keptAt, s.keeping = now, cancel
	t.keeps.Add(1)
	t.mu.Unlock()
	go t.keepAlive(ctx, sid, s)
}

// keepAlive runs one keep-alive of the session sid, tracked as s.
func (t *Tracker) keepAlive(ctx context.Context, sid string, s *tracked) {
	defer t.keeps.Done()
	err := t.keeper.KeepAlive(ctx, sid)
	t.mu.Lock()
	cancelled := s.keeping == nil // untracked or revoked meanwhile
	s.stopKeeping()
	t.mu.Unlock()
	switch {
	case err == nil, cancelled:
	case errors.Is(err, sessionbridge.ErrNoSession):
		t.revoke(sid, s, ReasonSessionEnded)
	default:
		t.keepFailed(err)
	}
}

// keepFailed logs a keep-alive that failed (a store outage), at most once
// per KeepAlive for the whole Tracker, with the number of failures since
// the last log. Nothing is revoked: an outage is not a logout.
func (t *Tracker) keepFailed(err error) {
	now := t.now()
	t.mu.Lock()
	t.keepFailures++
	n := t.keepFailures
	if !t.keepLogged.IsZero() && now.Sub(t.keepLogged) < t.opts.KeepAlive {
		t.mu.Unlock()
		return
	}
	t.keepFailures, t.keepLogged = 0, now
	t.mu.Unlock()
	t.a.log.LogAttrs(context.Background(), slog.LevelWarn, "socketauth: session keep-alive failed; connections stay open",
		slog.Int("failures", n), slog.Any("error", err))
}

// Check re-validates one tracked session and revokes its connections if it
// ended. A store failure revokes nothing (an outage is not a logout) and is
// returned.
func (t *Tracker) Check(ctx context.Context, sid string) (revoked int, err error) {
	t.mu.Lock()
	s := t.sessions[sid]
	var user string
	if s != nil {
		user = s.user
	}
	t.mu.Unlock()
	if s == nil {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, t.a.cfg.Timeout)
	defer cancel()
	sess, err := t.a.cfg.Source.LoadID(ctx, sid)
	switch {
	case errors.Is(err, sessionbridge.ErrNoSession):
		return t.Revoke(sid, ReasonSessionEnded), nil
	case err != nil:
		return 0, err
	case sess == nil:
		return 0, errNilSession
	}
	stored, err := passportuser.Raw(sess)
	switch {
	case errors.Is(err, passportuser.ErrNotLoggedIn):
		return t.Revoke(sid, ReasonLoggedOut), nil
	case err != nil:
		return 0, err
	case !sameUser(stored, []byte(user)):
		return t.Revoke(sid, ReasonUserChanged), nil
	}
	return 0, nil
}

// Watch follows feed until ctx ends and acts on tracked sessions at once:
// an ended session (sessionbridge.SessionEvent.Ended: destroyed, expired,
// evicted) has its connections revoked with ReasonSessionEnded without a
// store read; a changed one is re-validated with Check (a Node logout, for
// instance, first writes "passport":{}) off the feed's goroutine, with at
// most Options.Concurrency store reads in flight, store failures being
// logged. Events for untracked sessions cost no store read. Watch returns
// feed.Watch's error (nil when ctx ended) once its re-validations are done.
//
// A feed can miss changes (before it subscribed, across a reconnection, or
// when its server does not publish them), so run Run beside Watch: its
// periodic re-validation catches every ended session within its interval.
func (t *Tracker) Watch(ctx context.Context, feed sessionbridge.SessionFeed) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, t.opts.Concurrency)
	return feed.Watch(ctx, func(ev sessionbridge.SessionEvent) {
		switch {
		case ev.Ended:
			t.Revoke(ev.ID, ReasonSessionEnded)
		case t.tracked(ev.ID):
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case sem <- struct{}{}:
					defer func() { <-sem }()
				case <-ctx.Done():
					return // Run re-validates it later
				}
				if _, err := t.Check(ctx, ev.ID); err != nil {
					t.a.log.LogAttrs(ctx, slog.LevelWarn, "socketauth: re-validation after a session write failed", slog.Any("error", err))
				}
			}()
		}
	})
}

// tracked reports whether the session has tracked connections.
func (t *Tracker) tracked(sid string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sessions[sid] != nil
}

// sameUser compares two passport users as JSON values (key order and
// spacing aside, numbers exact).
func sameUser(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	ca, errA := passportuser.Canonical(a)
	cb, errB := passportuser.Canonical(b)
	return errA == nil && errB == nil && bytes.Equal(ca, cb)
}

// Revalidate checks every tracked session once, with at most
// Options.Concurrency store reads in flight, and returns how many sessions
// it checked and connections it revoked. Store failures are logged and
// revoke nothing.
func (t *Tracker) Revalidate(ctx context.Context) (checked, revoked int) {
	t.mu.Lock()
	sids := make([]string, 0, len(t.sessions))
	for sid := range t.sessions {
		sids = append(sids, sid)
	}
	t.mu.Unlock()
	var mu sync.Mutex
	var failures int
	sem := make(chan struct{}, t.opts.Concurrency)
	var wg sync.WaitGroup
	for _, sid := range sids {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(sid string) {
			defer func() { <-sem; wg.Done() }()
			n, err := t.Check(ctx, sid)
			mu.Lock()
			checked++
			revoked += n
			if err != nil {
				failures++
			}
			mu.Unlock()
		}(sid)
	}
	wg.Wait()
	if failures > 0 {
		t.a.log.LogAttrs(ctx, slog.LevelWarn, "socket session re-validation: store failures, nothing revoked for them",
			slog.Int("failures", failures), slog.Int("checked", checked))
	}
	return checked, revoked
}

// Run re-validates every Interval until ctx ends.
func (t *Tracker) Run(ctx context.Context) {
	tick := time.NewTicker(t.opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.Revalidate(ctx)
		}
	}
}
