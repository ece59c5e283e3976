package memcachedstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// RingOptions are the npm memcached client's options for its servers, as
// it names them, for a store made with [NewRing]; the zero value is the
// client's defaults, except Timeout. See docs/memcached-failover.md for
// what Go follows of the client's rules and what it cannot. With one
// server (listed once or more) only Timeout applies: its keys cannot move,
// so every call tries the server, as with [New].
type RingOptions struct {
	// Timeout bounds each network step (connect, then each read or write)
	// of a call. Default 500 ms, gomemcache's (the npm client's timeout
	// option, whose default is 5000 ms).
	Timeout time.Duration
	// Retries is the number of times the npm client retries connecting
	// before it counts a failure, backing off 1 s, 3 s, 9 s, 27 s, then
	// 60 s. Go does not retry (a call fails at once, within its deadline);
	// it counts the failure when the client's retries would have ended.
	// Default 5 (100 s); -1 for none. (npm: retries)
	Retries int
	// Failures is how many more failures, one per Retry period, a server
	// may have before it is taken out: removed from the ring with Remove,
	// otherwise skipped until Reconnect. Default 5; -1 for 0.
	// (npm: failures)
	Failures int
	// Retry is how long a server that failed is skipped (its calls fail
	// with ErrServerUnavailable) before it is tried again. Default 30 s;
	// negative for 0. (npm: retry)
	Retry time.Duration
	// Remove takes a server out of the ring for good once its failures
	// are used up, so that its keys go to the next server on the ring, as
	// the npm client does with remove: true. Default false: the server
	// keeps its keys, whose calls fail until Reconnect. (npm: remove)
	Remove bool
	// FailuresTimeout restores Failures that long after the first failure
	// counted. Default 300 s; negative for 0. (npm: failuresTimeout)
	FailuresTimeout time.Duration
	// Reconnect is how long a server whose failures are used up (without
	// Remove) is skipped before it is tried again. Default 18000 s (5 h);
	// negative for 0. (npm: reconnect)
	Reconnect time.Duration
	// Settle is Go's own: how long after a server's last failure (or its
	// removal) a Node process may still place its keys otherwise than Go,
	// with Remove. Meanwhile a session Go does not find is looked for on
	// the other server too, and the answer is [ErrRingUncertain] where Go
	// cannot tell which server the Node app reads. Default the time the
	// npm client needs to take a server out when every request fails:
	// (Failures+1) x the retries' backoff + Failures x Retry (750 s with
	// the defaults); negative for 0.
	Settle time.Duration
	// OnEvent, if set, is called (synchronously: keep it fast) for each
	// change of a server's state and each ErrRingUncertain answer: the
	// metric hook.
	OnEvent func(RingEvent)
	// Logger receives the same events as log lines (never keys, ids or
	// session data); default slog.Default().
	Logger *slog.Logger
}

// RingEvent is a change of a server's state in a store made with
// [NewRing], or an answer it could not give.
type RingEvent struct {
	Kind RingEventKind
	// Server is the server's host:port as given to NewRing.
	Server string
	// At is when the npm client would have made the change.
	At time.Time
	// Failures is, for RingIssue, the failures left (the npm client's
	// details.failures).
	Failures int
}

// RingEventKind is the kind of a RingEvent.
type RingEventKind int

// The kinds of RingEvent.
const (
	// RingIssue: a failure was counted; the server is skipped until Retry
	// ends (the npm client's issue event).
	RingIssue RingEventKind = iota + 1
	// RingDead: the server's failures are used up without Remove; it is
	// skipped until Reconnect ends.
	RingDead
	// RingRemoved: the server's failures are used up with Remove; it is
	// out of the ring and its keys go to the next server (the npm
	// client's remove event).
	RingRemoved
	// RingReconnected: Reconnect ended; the server is tried again with its
	// failures restored (the npm client's reconnect event).
	RingReconnected
	// RingUncertain: a call answered ErrRingUncertain.
	RingUncertain
)

// String returns the kind's name.
func (k RingEventKind) String() string {
	switch k {
	case RingIssue:
		return "issue"
	case RingDead:
		return "dead"
	case RingRemoved:
		return "removed"
	case RingReconnected:
		return "reconnected"
	case RingUncertain:
		return "uncertain"
	}
	return fmt.Sprintf("RingEventKind(%d)", int(k))
}

// Errors of a store made with NewRing. Both are store failures, never
// "not found": the Bridge answers them with ErrStore (503), not a logout.
var (
	// ErrServerUnavailable: the key's server is skipped by the npm
	// client's rules (it failed and its Retry or Reconnect time is not
	// over, or it was removed and no server is left), as the npm client
	// answers "Server at ... not available".
	ErrServerUnavailable = errors.New("memcachedstore: memcached server not available")
	// ErrRingUncertain: with Remove, a server's keys are being moved and
	// Go cannot tell which server the Node app reads this session from:
	// it was found on the server a Node process that placed the key
	// otherwise would use, or it was not found and that server could not
	// be asked.
	ErrRingUncertain = errors.New("memcachedstore: cannot tell which memcached server the Node app keeps this session on")
)

// ringConfig is RingOptions with the defaults filled in.
type ringConfig struct {
	failures        int
	retry           time.Duration
	failuresTimeout time.Duration
	reconnect       time.Duration
	retriesDelay    time.Duration // the backoff of Retries connection retries
	settle          time.Duration
	remove          bool
}

// npm memcached 2.2's defaults.
const (
	npmRetries         = 5
	npmFailures        = 5
	npmRetry           = 30 * time.Second
	npmFailuresTimeout = 300 * time.Second
	npmReconnect       = 18000 * time.Second
	npmMinTimeout      = time.Second // the connection retries' backoff
	npmMaxTimeout      = 60 * time.Second
	npmFactor          = 3
)

func (o RingOptions) config() ringConfig {
	dur := func(d, def time.Duration) time.Duration {
		switch {
		case d == 0:
			return def
		case d < 0:
			return 0
		}
		return d
	}
	count := func(n, def int) int {
		switch {
		case n == 0:
			return def
		case n < 0:
			return 0
		}
		return n
	}
	c := ringConfig{
		failures:        count(o.Failures, npmFailures),
		retry:           dur(o.Retry, npmRetry),
		failuresTimeout: dur(o.FailuresTimeout, npmFailuresTimeout),
		reconnect:       dur(o.Reconnect, npmReconnect),
		remove:          o.Remove,
	}
	// The retry package's timeouts: minTimeout * factor^i, at most
	// maxTimeout, not randomized (the npm client's randomize: false).
	step := npmMinTimeout
	for range count(o.Retries, npmRetries) {
		c.retriesDelay += min(step, npmMaxTimeout)
		if step < npmMaxTimeout {
			step *= npmFactor
		}
	}
	n := time.Duration(c.failures)
	c.settle = dur(o.Settle, (n+1)*c.retriesDelay+n*c.retry)
	return c
}

// ring is the servers of a store made with NewRing: the npm client's
// HashRing, with an issueLog per server that failed.
type ring struct {
	cfg     ringConfig
	now     func() time.Time
	onEvent func(RingEvent)
	log     *slog.Logger
	names   []string      // as given, the order and any repetition kept
	servers []*ringServer // one per name
	byName  map[string]*ringServer
	full    []ketamaPoint // every server; nil with one
	// single is the server of a ring of one (listed once or more): its
	// keys cannot move, so the failure rules are not applied to it.
	single *ringServer

	mu      sync.Mutex
	points  []ketamaPoint            // the servers not removed
	without map[string][]ketamaPoint // points without one more server, by its name
}

// ringServer is one server of a ring.
type ringServer struct {
	name   string
	client *memcache.Client
	// Under ring.mu:
	issues  *issueLog // nil until its first failure
	removed bool
	// troubled is the time of its last failure or its removal: with
	// Remove, Node processes may place its keys otherwise until Settle
	// after it. Zero when it never failed.
	troubled time.Time
}

// failed reports whether the npm client would skip the server now.
func (s *ringServer) failed() bool { return s.issues != nil && s.issues.failed }

func newRing(servers []string, o RingOptions, now func() time.Time) (*ring, error) {
	k, err := newKetama(servers)
	if err != nil {
		return nil, err
	}
	r := &ring{cfg: o.config(), now: now, onEvent: o.OnEvent, log: o.Logger, byName: map[string]*ringServer{}}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.names = slices.Clone(servers)
	for _, name := range servers {
		if _, ok := r.byName[name]; ok { // listed twice: twice the weight, as in Node
			continue
		}
		c := memcache.NewFromSelector(fixedServer{k.byName[name]})
		if o.Timeout > 0 {
			c.Timeout = o.Timeout
		}
		s := &ringServer{name: name, client: c}
		r.servers = append(r.servers, s)
		r.byName[name] = s
	}
	if len(r.servers) == 1 {
		r.single = r.servers[0]
	} else {
		r.full = k.ring
		r.points = r.full
	}
	return r, nil
}

// fixedServer is the selector of one server's client.
type fixedServer struct{ addr net.Addr }

func (f fixedServer) PickServer(string) (net.Addr, error) { return f.addr, nil }
func (f fixedServer) Each(fn func(net.Addr) error) error  { return fn(f.addr) }

// route is where a call on a key goes.
type route struct {
	srv *ringServer // the server the npm client's rules pick
	// alt, with Remove while the key's owner is unsettled, is the other
	// server a Node process may hold the key on: the owner when Go took
	// it out, else where the key goes if the owner is taken out.
	alt   *ringServer
	moved bool // srv is not the key's owner: Go took the owner out
}

// route picks key's server as the npm client does now. A ring of one
// server needs neither the clock nor the lock.
func (r *ring) route(key string) (route, error) {
	if r.single != nil {
		return route{srv: r.single}, nil
	}
	now := r.now()
	var evs []RingEvent
	r.mu.Lock()
	r.advance(now, &evs)
	rt, err := r.pick(key, now)
	r.mu.Unlock()
	r.emit(evs)
	return rt, err
}

func (r *ring) pick(key string, now time.Time) (route, error) {
	if len(r.points) == 0 {
		return route{}, fmt.Errorf("%w: every server was removed from the ring", ErrServerUnavailable)
	}
	h := ketamaHash(key)
	owner := r.byName[ketamaServer(r.full, h)]
	s := owner
	if len(r.points) != len(r.full) { // a server was removed
		s = r.byName[ketamaServer(r.points, h)]
	}
	if s.failed() {
		return route{}, fmt.Errorf("%w: %s", ErrServerUnavailable, s.name)
	}
	rt := route{srv: s, moved: s != owner}
	if r.cfg.remove && !owner.troubled.IsZero() && now.Before(owner.troubled.Add(r.cfg.settle)) {
		if rt.moved {
			rt.alt = owner
		} else if pts := r.pointsWithout(owner.name); len(pts) > 0 {
			rt.alt = r.byName[ketamaServer(pts, h)]
		}
	}
	return rt, nil
}

// pointsWithout returns the ring of the servers not removed, less name.
func (r *ring) pointsWithout(name string) []ketamaPoint {
	if pts, ok := r.without[name]; ok {
		return pts
	}
	names := r.live(name)
	var pts []ketamaPoint
	if len(names) > 0 {
		pts = ketamaRing(names)
	}
	if r.without == nil {
		r.without = map[string][]ketamaPoint{}
	}
	r.without[name] = pts
	return pts
}

// outcome is what a call's error says of its server.
type outcome int

const (
	outcomeNone     outcome = iota // says nothing: a timeout, the context
	outcomeAnswered                // the server answered
	outcomeConnect                 // could not connect
	outcomeFailed                  // failed on an open connection, or a server error
)

// classify sorts a gomemcache error as the npm client's connectionIssue
// calls do: a connection that cannot be made counts (after the client's
// connection retries), so do errors on an open connection and
// SERVER_ERROR replies; a server that keeps the connection but does not
// answer makes the npm client wait without counting anything, so a
// timeout on an open connection counts nothing.
func classify(err error) outcome {
	switch {
	case err == nil, errors.Is(err, memcache.ErrCacheMiss), errors.Is(err, memcache.ErrCASConflict),
		errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrMalformedKey):
		return outcomeAnswered
	case connectError(err):
		return outcomeConnect
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), timeoutError(err):
		return outcomeNone
	}
	return outcomeFailed
}

// connectError reports whether err says no connection could be made. (The
// targets of errors.As live on the heap: kept out of classify, they cost
// the calls that answer nothing.)
func connectError(err error) bool {
	var ce *memcache.ConnectTimeoutError
	var oe *net.OpError
	return errors.As(err, &ce) || errors.As(err, &oe) && oe.Op == "dial"
}

// timeoutError reports whether err is a network timeout.
func timeoutError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// closedConn reports whether err says the server closed a connection the
// client had kept. The npm client notices a closed connection when it
// closes and connects anew for the next call; gomemcache finds out by
// using it, so such a call is made again on a new connection.
func closedConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// report feeds a call's outcome on s to the npm client's rules (none for
// a ring of one server).
func (r *ring) report(s *ringServer, err error) {
	if r.single != nil {
		return
	}
	o := classify(err)
	if o == outcomeNone {
		return
	}
	now := r.now()
	var evs []RingEvent
	r.mu.Lock()
	r.advance(now, &evs)
	if o == outcomeAnswered {
		if s.issues != nil {
			s.issues.answered()
		}
	} else {
		if s.issues == nil {
			s.issues = newIssueLog(r.cfg)
		}
		if now.After(s.troubled) {
			s.troubled = now
		}
		s.issues.fail(now, o == outcomeConnect, r.emitter(s, &evs))
	}
	r.mu.Unlock()
	r.emit(evs)
}

// advance fires every server's timers due by now.
func (r *ring) advance(now time.Time, evs *[]RingEvent) {
	for _, s := range r.servers {
		if s.issues != nil {
			s.issues.advance(now, r.emitter(s, evs))
		}
	}
}

// emitter applies what s's issue log does to the ring and records it.
func (r *ring) emitter(s *ringServer, evs *[]RingEvent) func(issueEvent) {
	return func(e issueEvent) {
		ev := RingEvent{Server: s.name, At: e.at, Failures: e.failures}
		switch e.kind {
		case issueIssue:
			ev.Kind = RingIssue
		case issueDead:
			ev.Kind = RingDead
		case issueReconnect:
			ev.Kind = RingReconnected
		case issueRemove:
			if s.removed { // the client removes it again: nothing changes
				return
			}
			ev.Kind = RingRemoved
			s.removed = true
			if e.at.After(s.troubled) {
				s.troubled = e.at
			}
			r.rebuild()
		}
		*evs = append(*evs, ev)
	}
}

// live returns the names of the servers not removed, less except.
func (r *ring) live(except string) []string {
	var names []string
	for _, n := range r.names {
		if !r.byName[n].removed && n != except {
			names = append(names, n)
		}
	}
	return names
}

// rebuild makes the ring of the servers not removed: hashring's remove.
func (r *ring) rebuild() {
	r.without = nil
	names := r.live("")
	r.points = nil
	if len(names) > 0 {
		r.points = ketamaRing(names)
	}
}

// emit hands events to OnEvent and the log, outside the lock.
func (r *ring) emit(evs []RingEvent) {
	for _, ev := range evs {
		r.logEvent(ev, "")
		if r.onEvent != nil {
			r.onEvent(ev)
		}
	}
}

func (r *ring) logEvent(ev RingEvent, why string) {
	ctx := context.Background()
	srv := slog.String("server", ev.Server)
	switch ev.Kind {
	case RingIssue:
		r.log.LogAttrs(ctx, slog.LevelWarn, "memcachedstore: memcached server failed; its keys fail until the retry time, as in the npm memcached client",
			srv, slog.Int("failures_left", ev.Failures), slog.Duration("retry", r.cfg.retry))
	case RingDead:
		r.log.LogAttrs(ctx, slog.LevelError, "memcachedstore: memcached server failed too often; its keys fail until the reconnect time, as in the npm memcached client",
			srv, slog.Duration("reconnect", r.cfg.reconnect))
	case RingRemoved:
		r.log.LogAttrs(ctx, slog.LevelError, "memcachedstore: memcached server removed from the ring, as the npm memcached client does with remove: true; its keys go to the next server",
			srv, slog.Duration("settle", r.cfg.settle))
	case RingReconnected:
		r.log.LogAttrs(ctx, slog.LevelInfo, "memcachedstore: memcached server back after the reconnect time", srv)
	case RingUncertain:
		r.log.LogAttrs(ctx, slog.LevelWarn, "memcachedstore: Go and the Node app may place this session on different memcached servers; answering a store error, not \"not found\"",
			srv, slog.String("why", why))
	}
}

// uncertain records an ErrRingUncertain answer for a key of server srv.
func (r *ring) uncertain(srv, why string) error {
	ev := RingEvent{Kind: RingUncertain, Server: srv, At: r.now()}
	r.logEvent(ev, why)
	if r.onEvent != nil {
		r.onEvent(ev)
	}
	return fmt.Errorf("%w (server %s: %s)", ErrRingUncertain, srv, why)
}

// close closes every server's idle connections.
func (r *ring) close() error {
	var errs []error
	for _, s := range r.servers {
		errs = append(errs, s.client.Close())
	}
	return errors.Join(errs...)
}

// ping checks every server answers, as memcache.Client.Ping does.
func (r *ring) ping(ctx context.Context, do func(ctx context.Context, c *memcache.Client) error) error {
	for _, s := range r.servers {
		if err := do(ctx, s.client); err != nil {
			return fmt.Errorf("memcachedstore: ping %s: %w", s.name, err)
		}
	}
	return nil
}
