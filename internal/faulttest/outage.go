package faulttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/passportuser"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/socketauth"
)

// Outage configures RunOutage. Server and Store are required; the Store
// must talk to Server through a client the test built once: RunOutage
// never recreates it, so recovery proves the client reconnects by itself.
type Outage struct {
	Server *Server
	Store  sessionbridge.Store
	// LosesData says the server keeps nothing across a restart
	// (memcached): after the restart the session is written again through
	// the same Store, and calls between the restart and that write may
	// answer "no session", which is then the truth.
	LosesData bool
	// Workers is the number of goroutines calling; default 8.
	Workers int
	// Deadline is each call's context deadline; default 300 ms.
	Deadline time.Duration
	// Slack is how far past its deadline a call may return before it
	// counts as hanging; default 2 s. A hang check, not a speed target.
	Slack time.Duration
}

// Phase lengths.
const (
	healthyFor = 500 * time.Millisecond
	// frozenExtra: the server stays frozen this much longer than a call's
	// deadline plus slack, so a call that ignores its deadline and waits
	// for the server is caught as hanging.
	frozenExtra = 700 * time.Millisecond
	downFor     = 1500 * time.Millisecond
	afterFor    = 500 * time.Millisecond
	recoverWait = 20 * time.Second
	// freezeMargin: calls starting this soon after Freeze returned (every
	// server process stopped) are not counted as hang calls: an answer the
	// server wrote just before it stopped may still be on its way.
	freezeMargin = 20 * time.Millisecond
)

// Report is what RunOutage measured.
type Report struct {
	Store string
	// Calls is every call made; OutageCalls those that started after the
	// server was confirmed down and ended before its restart began;
	// HangCalls those made entirely while it was frozen.
	Calls, OutageCalls, HangCalls int
	// FalseAccepts counts successes (a loaded session, an authorization,
	// logged in or anonymous) while the server was down or frozen, and
	// anonymous accepts when the session existed. Must be 0.
	FalseAccepts int
	// Panics counts calls that panicked. Must be 0.
	Panics int
	// SlowestFailure is the longest a failing call took.
	SlowestFailure time.Duration
	// Recovery is the time from the restarted server accepting
	// connections to the end of the first successful call started after
	// that (after the session was written again, with LosesData);
	// FreezeRecovery the same from the thaw.
	Recovery, FreezeRecovery time.Duration
	// ErrorsAfterRecovery counts failed calls that started after the
	// first success after the restart (reported, not asserted).
	ErrorsAfterRecovery int
}

type result int

const (
	resOK        result = iota // session loaded, or authorized as user 7
	resNoSession               // ErrNoSession / ErrUnauthorized, or an anonymous accept
	resStore                   // ErrStore / critical failure
	resOther                   // anything else: a wrong answer
	resPanic
)

var resultNames = [...]string{"ok", "no session", "store error", "other", "panic"}

func (r result) String() string { return resultNames[r] }

type opKind int

const (
	opLoadID opKind = iota
	opAuthorize
	opLoad
)

var opNames = [...]string{"Bridge.LoadID", "Authorizer.Authorize", "Bridge.Load"}

type call struct {
	op         opKind
	res        result
	start, end time.Duration // since the run began
	err        error
	anonymous  bool // Authorize accepted an anonymous client
	hookCalled bool
	hookCrit   bool
	why        string // for resOther and resPanic
}

func (c call) dur() time.Duration { return c.end - c.start }

type hookKey struct{}

type hookRec struct{ called, critical bool }

// RunOutage seeds a logged-in session (passport.user 7) through o.Store,
// builds a Bridge and an Authorizer on it (whose Fail hook accepts every
// failure, to prove a critical one is still refused), and runs a steady
// load of Bridge.LoadID, Bridge.Load and Authorizer.Authorize calls, each
// with its own deadline, while it
//
//  1. lets the server run healthy (at least 0.5 s, and until every
//     operation succeeded once);
//  2. freezes it (SIGSTOP) for longer than a call's deadline plus
//     o.Slack, then thaws it and waits for a success;
//  3. stops it hard, keeps the load going, restarts it on the same port
//     and data, and waits for the first success (the session written again
//     first when o.LosesData); then keeps the load a little longer.
//
// It then asserts that while the server is frozen or down every call fails
// as a store error (ErrStore; for authorizations a critical Failure
// wrapping ErrCritical that the Fail hook saw as critical), never as "no
// session" and never as a success; no call panics; no call, failing or
// not, returns later than its deadline plus o.Slack; no error string or log
// line holds the session id; and after the restart the same Store answers
// again. It logs one line of counts.
func RunOutage(t *testing.T, o Outage) Report {
	t.Helper()
	o.setDefaults()
	f := newFixture(t, o.Store)
	l := startLoad(f, o.Workers, o.Deadline)
	defer l.halt()
	at, err := runPhases(o, f, l)
	l.halt()
	if err != nil {
		t.Fatalf("%s: %v", o.Server.Name, err)
	}

	all := l.calls()
	a := assess(o, f.sid, at, all, l.since())
	a.checkRun(f.logs.Bytes())
	a.logSummary(t)
	if os.Getenv("FAULTTEST_DEBUG") != "" {
		a.logDebug(t, all, l.since())
	}
	if len(a.problems) > 0 {
		t.Errorf("%s: %d problems (first %d):\n  %s", o.Server.Name, len(a.problems), min(len(a.problems), maxCallProblems), strings.Join(a.problems, "\n  "))
	}
	return a.rep
}

// setDefaults fills in the zero Workers, Deadline and Slack.
func (o *Outage) setDefaults() {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	callDefaults(&o.Deadline, &o.Slack)
}

// callDefaults fills in a zero per-call deadline (300 ms) and hang slack
// (2 s), the defaults of Outage and Failover.
func callDefaults(deadline, slack *time.Duration) {
	if *deadline <= 0 {
		*deadline = 300 * time.Millisecond
	}
	if *slack <= 0 {
		*slack = 2 * time.Second
	}
}

// fixture is the code under test on the store: a Bridge, an Authorizer
// whose Fail hook accepts every failure (a critical one must still be
// refused), and the logged-in session the load asks for. Both log into
// logs, which must never show the session id.
type fixture struct {
	bridge *sessionbridge.Bridge
	auth   *socketauth.Authorizer
	logs   nodetest.LockedBuffer
	sess   *sessionbridge.Session
	sid    string
	header string // the Cookie header with the signed session id
}

// newFixture builds the fixture on store and seeds its session
// (passport.user 7) through it.
func newFixture(t *testing.T, store sessionbridge.Store) *fixture {
	t.Helper()
	f := &fixture{}
	logger := slog.New(slog.NewTextHandler(&f.logs, nil))
	var err error
	f.bridge, err = sessionbridge.New(sessionbridge.Config{
		Secrets: []string{Secret},
		Store:   store,
		Logger:  logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.auth, err = socketauth.New(socketauth.Config{
		Source: f.bridge,
		Logger: logger,
		Fail: func(ctx context.Context, fail *socketauth.Failure) error {
			if r, ok := ctx.Value(hookKey{}).(*hookRec); ok {
				r.called, r.critical = true, fail.Critical
			}
			return nil // accept anything: a critical failure must still be refused
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	f.sess, err = f.bridge.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.sess.Record.Set("passport", map[string]any{"user": 7}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = f.seed(ctx)
	cancel()
	if err != nil {
		t.Fatalf("seed the session: %v", err)
	}
	f.sid = f.sess.ID
	f.header = f.bridge.CookieName() + "=" + f.bridge.Signer().CookieValue(f.sid)
	return f
}

// seed writes the session through the store.
func (f *fixture) seed(ctx context.Context) error { return f.bridge.Save(ctx, f.sess) }

// reseed writes the session again through the same store (and client),
// each try with its own deadline, until it succeeds or recoverWait passed.
func (f *fixture) reseed(deadline time.Duration) error {
	giveUp := time.Now().Add(recoverWait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		err := f.seed(ctx)
		cancel()
		if err == nil || time.Now().After(giveUp) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// crew runs the goroutines of a load, RunOutage's and RunFailover's:
// each makes its calls 2 ms apart until halt. Times are on its clock
// (since).
type crew struct {
	base   time.Time
	stop   chan struct{}
	wg     sync.WaitGroup
	halted bool
}

// newCrew starts the clock.
func newCrew() crew { return crew{base: time.Now(), stop: make(chan struct{})} }

// since is the crew's clock: the time since it started.
func (c *crew) since() time.Duration { return time.Since(c.base) }

// start runs a worker that calls next(first), next(first+1), ... until
// halt.
func (c *crew) start(first int, next func(i int)) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for i := first; ; i++ {
			select {
			case <-c.stop:
				return
			default:
			}
			next(i)
			time.Sleep(2 * time.Millisecond) // a steady load, not a spin
		}
	}()
}

// halt stops the workers and waits for them; calling it again does nothing.
func (c *crew) halt() {
	if !c.halted {
		c.halted = true
		close(c.stop)
		c.wg.Wait()
	}
}

// readCycle is the operations a reader makes in turn.
var readCycle = [...]opKind{opLoadID, opAuthorize, opLoad, opAuthorize}

// load is the steady load on a fixture: goroutines calling the operations
// of readCycle in turn, each call with its own deadline, every call
// recorded.
type load struct {
	crew
	f         *fixture
	deadline  time.Duration
	perWorker [][]call
	// per operation, the latest start (ns since base, +1) of a success
	lastOK [len(opNames)]atomic.Int64
}

// startLoad starts the clock and the workers.
func startLoad(f *fixture, workers int, deadline time.Duration) *load {
	l := &load{crew: newCrew(), f: f, deadline: deadline, perWorker: make([][]call, workers)}
	for w := range workers {
		l.start(w, func(i int) {
			c := l.do(readCycle[i%len(readCycle)])
			l.perWorker[w] = append(l.perWorker[w], c)
			if c.res == resOK {
				markOK(&l.lastOK[c.op], c.start)
			}
		})
	}
	return l
}

// do makes one call of op on the fixture's session.
func (l *load) do(op opKind) call { return l.f.do(op, l.f.sid, l.f.header, l.deadline, l.since) }

// do makes one call of op for the session sid, whose Cookie header is
// header, with its own deadline, and classifies its answer; a panic is
// recovered and recorded as resPanic. Its times are on clock.
func (f *fixture) do(op opKind, sid, header string, deadline time.Duration, clock func() time.Duration) (c call) {
	c.op = op
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	rec := &hookRec{}
	ctx = context.WithValue(ctx, hookKey{}, rec)
	c.start = clock()
	defer func() {
		c.end = clock()
		if p := recover(); p != nil {
			c.res, c.why = resPanic, fmt.Sprintf("panic: %v\n%s", p, debug.Stack())
		}
		c.hookCalled, c.hookCrit = rec.called, rec.critical
	}()
	switch op {
	case opLoadID, opLoad:
		var s *sessionbridge.Session
		if op == opLoadID {
			s, c.err = f.bridge.LoadID(ctx, sid)
		} else {
			r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
			r.Header.Set("Cookie", header)
			s, c.err = f.bridge.Load(r)
		}
		c.res, c.why = classifyLoad(s, c.err)
	case opAuthorize:
		r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/socket.io/?EIO=4&transport=websocket", nil)
		r.Header.Set("Cookie", header)
		a, err := f.auth.Authorize(ctx, r, nil)
		c.err = err
		c.res, c.anonymous, c.why = classifyAuth(a, err)
	}
	return c
}

// successAfter waits until every operation has succeeded in a call that
// started at or after from; false after recoverWait.
func (l *load) successAfter(from time.Duration) bool { return awaitSuccess(l.lastOK[:], from) }

// markOK records a success of a call that started at start in last: the
// latest such start (ns since the load's base, +1 so that zero means none).
func markOK(last *atomic.Int64, start time.Duration) {
	for v := last.Load(); int64(start)+1 > v && !last.CompareAndSwap(v, int64(start)+1); v = last.Load() {
	}
}

// awaitSuccess waits until every entry of last (see markOK) records a
// success of a call that started at or after from; false after
// recoverWait.
func awaitSuccess(last []atomic.Int64, from time.Duration) bool {
	deadline := time.Now().Add(recoverWait)
	for time.Now().Before(deadline) {
		all := true
		for i := range last {
			all = all && last[i].Load() > int64(from)
		}
		if all {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// calls returns every call made, worker after worker; only after halt.
func (l *load) calls() []call {
	var all []call
	for _, cs := range l.perWorker {
		all = append(all, cs...)
	}
	return all
}

// timeline is when each phase of the run began, on the load's clock.
type timeline struct {
	frozenFor  time.Duration // how long the server stayed frozen
	frozenAt   time.Duration // SIGSTOP sent
	thawAt     time.Duration // SIGCONT about to be sent
	downAt     time.Duration // stopped: the port refuses from here on
	restartAt  time.Duration // the restart began
	upAt       time.Duration // the restarted server accepts connections
	reseededAt time.Duration // the session written again (LosesData), else upAt
}

// runPhases takes the server under load through the healthy, frozen and
// down phases, then keeps the load going for afterFor. An error says the
// store did not answer when it should have.
func runPhases(o Outage, f *fixture, l *load) (timeline, error) {
	var at timeline
	if err := warmUp(l); err != nil {
		return at, err
	}
	if err := at.freeze(o, l); err != nil {
		return at, err
	}
	if err := at.crash(o, f, l); err != nil {
		return at, err
	}
	time.Sleep(afterFor)
	return at, nil
}

// warmUp lets the server run healthy for at least healthyFor and until
// every operation succeeded (a fresh client may spend the first deadlines
// connecting).
func warmUp(l *load) error {
	if !l.successAfter(0) {
		return fmt.Errorf("not every operation succeeded within %v of a healthy run", recoverWait)
	}
	time.Sleep(healthyFor - min(healthyFor, l.since()))
	return nil
}

// freeze freezes the server for longer than a call's deadline plus slack,
// thaws it and waits for every operation to succeed again.
func (at *timeline) freeze(o Outage, l *load) error {
	at.frozenFor = o.Deadline + o.Slack + frozenExtra
	o.Server.Freeze()
	at.frozenAt = l.since()
	time.Sleep(at.frozenFor)
	at.thawAt = l.since()
	o.Server.Thaw()
	if !l.successAfter(at.thawAt) {
		return fmt.Errorf("no success within %v after the thaw", recoverWait)
	}
	return nil
}

// crash stops the server hard for downFor, restarts it on the same port
// and data, writes the session again when the server lost it
// (o.LosesData), and waits for every operation to succeed through the
// same store.
func (at *timeline) crash(o Outage, f *fixture, l *load) error {
	o.Server.Stop()
	at.downAt = l.since()
	time.Sleep(downFor)
	at.restartAt = l.since()
	o.Server.Start()
	at.upAt = l.since()
	at.reseededAt = at.upAt
	if o.LosesData {
		if err := f.reseed(o.Deadline); err != nil {
			return fmt.Errorf("could not write the session again after the restart: %w", err)
		}
		at.reseededAt = l.since()
	}
	if !l.successAfter(at.reseededAt) {
		return fmt.Errorf("the same store did not recover within %v after the restart", recoverWait)
	}
	return nil
}

// windows places c in the timeline: hang, made entirely while the server
// was frozen; outage, made entirely while it was down; mayBeGone, it may
// truthfully answer "no session" because the server lost the record
// between its restart and the write that restored it.
func (at timeline) windows(c call, losesData bool) (hang, outage, mayBeGone bool) {
	hang = c.start >= at.frozenAt+freezeMargin && c.end <= at.thawAt
	outage = c.start >= at.downAt && c.end <= at.restartAt
	mayBeGone = losesData && c.end >= at.restartAt && c.start < at.reseededAt
	return hang, outage, mayBeGone
}

// maxCallProblems caps the problems listed about single calls.
const maxCallProblems = 20

// assessment is what the recorded calls show against the timeline.
type assessment struct {
	o   Outage
	at  timeline
	sid string

	rep      Report
	problems []string
	// recoveredAt and thawedOK end the first success after the restart
	// (and rewrite) and after the thaw.
	recoveredAt, thawedOK time.Duration
	// afterRecovery counts the calls started at or after recoveredAt,
	// afterRecoveryOK the successes among them.
	afterRecovery, afterRecoveryOK int
	// per operation: successes before the freeze, calls inside the outage
	// window and inside the freeze window
	healthyOK, outageByOp, hangByOp [len(opNames)]int
}

// assess measures the recoveries and checks every call; now is the
// load's clock after halt.
func assess(o Outage, sid string, at timeline, all []call, now time.Duration) *assessment {
	a := &assessment{o: o, at: at, sid: sid, rep: Report{Store: o.Server.Name, Calls: len(all)}}
	a.recoveredAt, a.thawedOK = now, now
	for _, c := range all {
		if c.res == resOK && c.start >= at.reseededAt {
			a.recoveredAt = min(a.recoveredAt, c.end)
		}
		if c.res == resOK && c.start >= at.thawAt && c.end <= at.downAt {
			a.thawedOK = min(a.thawedOK, c.end)
		}
	}
	a.rep.Recovery, a.rep.FreezeRecovery = a.recoveredAt-at.upAt, a.thawedOK-at.thawAt
	for _, c := range all {
		a.checkCall(c)
	}
	return a
}

// problem records what is wrong with c, up to maxCallProblems.
func (a *assessment) problem(c call, what string) {
	if len(a.problems) >= maxCallProblems {
		return
	}
	msg := fmt.Sprintf("%s at %v (%v): %s: %s", opNames[c.op], c.start.Round(time.Millisecond), c.dur().Round(time.Millisecond), c.res, what)
	if c.err != nil {
		msg += ": " + c.err.Error()
	}
	if c.why != "" {
		msg += " (" + c.why + ")"
	}
	a.problems = append(a.problems, msg)
}

// checkCall counts c into the report and records what is wrong with it.
func (a *assessment) checkCall(c call) {
	hang, outage, mayBeGone := a.at.windows(c, a.o.LosesData)
	if c.res == resOK && c.end <= a.at.frozenAt {
		a.healthyOK[c.op]++
	}
	if c.res == resPanic {
		a.rep.Panics++
		a.problem(c, "panicked")
	}
	if c.res == resOther {
		a.problem(c, "neither a session, nor no session, nor a store error")
	}
	if c.res == resNoSession && !mayBeGone {
		a.problem(c, "an existing session was reported missing (an outage served as a logout)")
	}
	if c.anonymous && !mayBeGone {
		a.rep.FalseAccepts++
		a.problem(c, "accepted as anonymous")
	}
	if hang {
		a.rep.HangCalls++
		a.hangByOp[c.op]++
	}
	if outage {
		a.rep.OutageCalls++
		a.outageByOp[c.op]++
	}
	if hang || outage {
		if c.res == resOK {
			a.rep.FalseAccepts++
			a.problem(c, "succeeded while the server was frozen or down")
		} else if c.res != resStore {
			a.problem(c, "not a store error while the server was frozen or down")
		}
	}
	if c.res == resStore && c.op == opAuthorize && !(c.hookCalled && c.hookCrit) {
		a.problem(c, "the Fail hook did not see the failure as critical")
	}
	if c.res != resOK {
		a.rep.SlowestFailure = max(a.rep.SlowestFailure, c.dur())
	}
	if c.dur() > a.o.Deadline+a.o.Slack {
		a.problem(c, fmt.Sprintf("returned %v after its %v deadline: it hung", c.dur()-a.o.Deadline, a.o.Deadline))
	}
	if c.start >= a.recoveredAt {
		a.afterRecovery++
		if c.res == resOK {
			a.afterRecoveryOK++
		} else {
			a.rep.ErrorsAfterRecovery++
		}
	}
	if c.err != nil && strings.Contains(c.err.Error(), a.sid) {
		a.problem(c, "the error string contains the session id")
	}
}

// checkRun records what is wrong with the run as a whole: the session id
// in logs, an operation that never succeeded before the freeze or never
// fell inside a window, no success after the recovery.
func (a *assessment) checkRun(logs []byte) {
	if bytes.Contains(logs, []byte(a.sid)) {
		a.problems = append(a.problems, "a log line contains the session id")
	}
	for op, n := range a.healthyOK {
		if n == 0 {
			a.problems = append(a.problems, fmt.Sprintf("no %s succeeded before the freeze: the setup is broken", opNames[op]))
		}
		if a.outageByOp[op] == 0 {
			a.problems = append(a.problems, fmt.Sprintf("no %s call fell inside the outage window", opNames[op]))
		}
		if a.hangByOp[op] == 0 {
			a.problems = append(a.problems, fmt.Sprintf("no %s call fell inside the freeze window", opNames[op]))
		}
	}
	if a.afterRecoveryOK == 0 {
		a.problems = append(a.problems, "no call succeeded after the recovery")
	}
}

// logSummary logs the run's one line of counts.
func (a *assessment) logSummary(t *testing.T) {
	t.Helper()
	name, rep := a.o.Server.Name, a.rep
	rewritten := ""
	if a.o.LosesData {
		rewritten = " (the session written again: " + name + " keeps no data)"
	}
	t.Logf("store faults %s: down %v: %d requests, %d false accepts, %d panics; "+
		"frozen %v: %d requests; slowest failure %v (deadline %v); "+
		"recovered %v after the restart%s (%v after the thaw), %d of %d calls after that failed; %d calls in all",
		name, downFor, rep.OutageCalls, rep.FalseAccepts, rep.Panics,
		a.at.frozenFor, rep.HangCalls, rep.SlowestFailure.Round(time.Millisecond), a.o.Deadline,
		rep.Recovery.Round(time.Millisecond), rewritten, rep.FreezeRecovery.Round(time.Millisecond),
		rep.ErrorsAfterRecovery, a.afterRecovery, rep.Calls)
}

// logDebug logs the phase times, the slowest calls and the calls that
// failed after the recovery (FAULTTEST_DEBUG); it sorts all. now is the
// load's clock.
func (a *assessment) logDebug(t *testing.T, all []call, now time.Duration) {
	t.Helper()
	at := a.at
	t.Logf("phases: frozen %v thaw %v thawedOK %v down %v restart %v up %v reseeded %v recovered %v end %v", at.frozenAt, at.thawAt, a.thawedOK, at.downAt, at.restartAt, at.upAt, at.reseededAt, a.recoveredAt, now)
	sort.Slice(all, func(i, j int) bool { return all[i].dur() > all[j].dur() })
	for _, c := range all[:min(8, len(all))] {
		t.Logf("slow: %s %v start %v dur %v err %v", opNames[c.op], c.res, c.start, c.dur(), c.err)
	}
	for _, c := range all {
		if c.start >= a.recoveredAt && c.res != resOK {
			t.Logf("failed after recovery: %s %v start %v dur %v err %v", opNames[c.op], c.res, c.start, c.dur(), c.err)
		}
	}
}

// classifyLoad sorts a Bridge.LoadID/Load answer.
func classifyLoad(s *sessionbridge.Session, err error) (result, string) {
	switch {
	case err == nil:
		if s == nil || s.Record == nil {
			return resOther, "nil session and nil error"
		}
		if u, uerr := passportuser.Raw(s); uerr != nil || string(u) != "7" {
			return resOther, fmt.Sprintf("loaded the wrong session: passport.user %s (%v)", u, uerr)
		}
		return resOK, ""
	case errors.Is(err, sessionbridge.ErrNoSession) && errors.Is(err, sessionbridge.ErrStore):
		return resOther, "both ErrNoSession and ErrStore"
	case errors.Is(err, sessionbridge.ErrNoSession):
		return resNoSession, ""
	case errors.Is(err, sessionbridge.ErrStore):
		if errors.Is(err, sessionjson.ErrMalformed) {
			return resOther, "the store returned a malformed record"
		}
		return resStore, ""
	}
	return resOther, "neither ErrNoSession nor ErrStore"
}

// classifyAuth sorts an Authorizer.Authorize answer.
func classifyAuth(a *socketauth.Auth, err error) (res result, anonymous bool, why string) {
	if err == nil {
		switch {
		case a == nil:
			return resOther, false, "nil Auth and nil error"
		case !a.LoggedIn:
			return resNoSession, true, ""
		case string(a.StoredUser) != "7":
			return resOther, false, "authorized as the wrong user " + string(a.StoredUser)
		}
		return resOK, false, ""
	}
	var f *socketauth.Failure
	if !errors.As(err, &f) {
		return resOther, false, "not a *socketauth.Failure"
	}
	crit := errors.Is(err, socketauth.ErrCritical)
	unauth := errors.Is(err, socketauth.ErrUnauthorized)
	switch {
	case crit && unauth:
		return resOther, false, "both ErrCritical and ErrUnauthorized"
	case f.Critical && crit:
		if !errors.Is(err, sessionbridge.ErrStore) {
			return resOther, false, "critical, but not caused by ErrStore"
		}
		return resStore, false, ""
	case !f.Critical && unauth:
		return resNoSession, false, ""
	}
	return resOther, false, fmt.Sprintf("Critical %v with ErrCritical %v, ErrUnauthorized %v", f.Critical, crit, unauth)
}
