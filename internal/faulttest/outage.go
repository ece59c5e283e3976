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
	// freezeMargin: calls starting this soon after SIGSTOP are not
	// counted as hang calls (the signal takes effect asynchronously).
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
// It then asserts what issue 8 asks: while the server is frozen or down
// every call fails as a store error (ErrStore; for authorizations a
// critical Failure wrapping ErrCritical that the Fail hook saw as
// critical), never as "no session" and never as a success; no call panics;
// no call, failing or not, returns later than its deadline plus o.Slack;
// no error string or log line holds the session id; and after the restart
// the same Store answers again. It logs one line of counts.
func RunOutage(t *testing.T, o Outage) Report {
	t.Helper()
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Deadline <= 0 {
		o.Deadline = 300 * time.Millisecond
	}
	if o.Slack <= 0 {
		o.Slack = 2 * time.Second
	}
	srv := o.Server
	var logs nodetest.LockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	bridge, err := sessionbridge.New(sessionbridge.Config{
		Secrets: []string{"fault-test secret"},
		Store:   o.Store,
		Logger:  logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := socketauth.New(socketauth.Config{
		Bridge: bridge,
		Logger: logger,
		Fail: func(ctx context.Context, f *socketauth.Failure) error {
			if r, ok := ctx.Value(hookKey{}).(*hookRec); ok {
				r.called, r.critical = true, f.Critical
			}
			return nil // accept anything: a critical failure must still be refused
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	sess, err := bridge.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Set("passport", map[string]any{"user": 7}); err != nil {
		t.Fatal(err)
	}
	seed := func(ctx context.Context) error { return bridge.Save(ctx, sess) }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = seed(ctx)
	cancel()
	if err != nil {
		t.Fatalf("seed the session: %v", err)
	}
	sid := sess.ID
	cookie := bridge.Signer().CookieValue(sid)
	header := bridge.CookieName() + "=" + cookie

	base := time.Now()
	since := func() time.Duration { return time.Since(base) }
	var (
		stop      = make(chan struct{})
		wg        sync.WaitGroup
		perWorker = make([][]call, o.Workers)
		// per operation, the latest start (ns since base, +1) of a success
		lastOK [len(opNames)]atomic.Int64
	)
	one := func(op opKind) (c call) {
		c.op = op
		ctx, cancel := context.WithTimeout(context.Background(), o.Deadline)
		defer cancel()
		rec := &hookRec{}
		ctx = context.WithValue(ctx, hookKey{}, rec)
		c.start = since()
		defer func() {
			c.end = since()
			if p := recover(); p != nil {
				c.res, c.why = resPanic, fmt.Sprintf("panic: %v\n%s", p, debug.Stack())
			}
			c.hookCalled, c.hookCrit = rec.called, rec.critical
		}()
		switch op {
		case opLoadID, opLoad:
			var s *sessionbridge.Session
			if op == opLoadID {
				s, c.err = bridge.LoadID(ctx, sid)
			} else {
				r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
				r.Header.Set("Cookie", header)
				s, c.err = bridge.Load(r)
			}
			c.res, c.why = classifyLoad(s, c.err)
		case opAuthorize:
			r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/socket.io/?EIO=4&transport=websocket", nil)
			r.Header.Set("Cookie", header)
			a, err := auth.Authorize(ctx, r, nil)
			c.err = err
			c.res, c.anonymous, c.why = classifyAuth(a, err)
		}
		return c
	}
	for w := range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ops := [...]opKind{opLoadID, opAuthorize, opLoad, opAuthorize}
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c := one(ops[i%len(ops)])
				perWorker[w] = append(perWorker[w], c)
				if c.res == resOK {
					last := &lastOK[c.op]
					for v := last.Load(); int64(c.start)+1 > v && !last.CompareAndSwap(v, int64(c.start)+1); v = last.Load() {
					}
				}
				time.Sleep(2 * time.Millisecond) // a steady load, not a spin
			}
		}()
	}
	stopped := false
	halt := func() {
		if !stopped {
			stopped = true
			close(stop)
			wg.Wait()
		}
	}
	defer halt()
	// successAfter waits until every operation has succeeded in a call
	// that started at or after from; false after recoverWait.
	successAfter := func(from time.Duration) bool {
		deadline := time.Now().Add(recoverWait)
		for time.Now().Before(deadline) {
			all := true
			for i := range lastOK {
				all = all && lastOK[i].Load() > int64(from)
			}
			if all {
				return true
			}
			time.Sleep(5 * time.Millisecond)
		}
		return false
	}

	// 1. Healthy: at least healthyFor, and until every operation succeeded
	// (a fresh client may spend the first deadlines connecting).
	if !successAfter(0) {
		halt()
		t.Fatalf("%s: not every operation succeeded within %v of a healthy run", srv.Name, recoverWait)
	}
	time.Sleep(healthyFor - min(healthyFor, since()))
	// 2. Frozen.
	frozenFor := o.Deadline + o.Slack + frozenExtra
	srv.Freeze()
	frozenAt := since()
	time.Sleep(frozenFor)
	thawAt := since()
	srv.Thaw()
	if !successAfter(thawAt) {
		halt()
		t.Fatalf("%s: no success within %v after the thaw", srv.Name, recoverWait)
	}
	// 3. Down.
	srv.Stop()
	downAt := since() // the port refuses from here on
	time.Sleep(downFor)
	restartAt := since()
	srv.Start()
	upAt := since()
	reseededAt := upAt
	if o.LosesData {
		// memcached came back empty: write the session again through the
		// same store (and client).
		deadline := time.Now().Add(recoverWait)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), o.Deadline)
			err := seed(ctx)
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				halt()
				t.Fatalf("%s: could not write the session again after the restart: %v", srv.Name, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		reseededAt = since()
	}
	if !successAfter(reseededAt) {
		halt()
		t.Fatalf("%s: the same store did not recover within %v after the restart", srv.Name, recoverWait)
	}
	time.Sleep(afterFor)
	halt()

	// Assertions.
	rep := Report{Store: srv.Name}
	var all []call
	for _, cs := range perWorker {
		all = append(all, cs...)
	}
	// The first success after the thaw and after the restart (and rewrite).
	recoveredAt, thawedOK := since(), since()
	for _, c := range all {
		if c.res == resOK && c.start >= reseededAt {
			recoveredAt = min(recoveredAt, c.end)
		}
		if c.res == resOK && c.start >= thawAt && c.end <= downAt {
			thawedOK = min(thawedOK, c.end)
		}
	}
	rep.Recovery, rep.FreezeRecovery = recoveredAt-upAt, thawedOK-thawAt
	rep.Calls = len(all)
	var (
		healthyOK                      [3]int
		outageByOp, hangByOp           [3]int
		bad                            []string
		afterRecovery, afterRecoveryOK int
	)
	report := func(c call, what string) {
		if len(bad) < 20 {
			msg := fmt.Sprintf("%s at %v (%v): %s: %s", opNames[c.op], c.start.Round(time.Millisecond), c.dur().Round(time.Millisecond), c.res, what)
			if c.err != nil {
				msg += ": " + c.err.Error()
			}
			if c.why != "" {
				msg += " (" + c.why + ")"
			}
			bad = append(bad, msg)
		}
	}
	for _, c := range all {
		hang := c.start >= frozenAt+freezeMargin && c.end <= thawAt
		outage := c.start >= downAt && c.end <= restartAt
		// Calls that may truthfully answer "no session": memcached lost
		// the record between its restart and the write that restored it.
		mayBeGone := o.LosesData && c.end >= restartAt && c.start < reseededAt
		if c.res == resOK && c.end <= frozenAt {
			healthyOK[c.op]++
		}
		if c.res == resPanic {
			rep.Panics++
			report(c, "panicked")
		}
		if c.res == resOther {
			report(c, "neither a session, nor no session, nor a store error")
		}
		if c.res == resNoSession && !mayBeGone {
			report(c, "an existing session was reported missing (an outage served as a logout)")
		}
		if c.anonymous && !mayBeGone {
			rep.FalseAccepts++
			report(c, "accepted as anonymous")
		}
		if hang {
			rep.HangCalls++
			hangByOp[c.op]++
		}
		if outage {
			rep.OutageCalls++
			outageByOp[c.op]++
		}
		if hang || outage {
			if c.res == resOK {
				rep.FalseAccepts++
				report(c, "succeeded while the server was frozen or down")
			} else if c.res != resStore {
				report(c, "not a store error while the server was frozen or down")
			}
		}
		if c.res == resStore && c.op == opAuthorize && !(c.hookCalled && c.hookCrit) {
			report(c, "the Fail hook did not see the failure as critical")
		}
		if c.res != resOK {
			rep.SlowestFailure = max(rep.SlowestFailure, c.dur())
		}
		if c.dur() > o.Deadline+o.Slack {
			report(c, fmt.Sprintf("returned %v after its %v deadline: it hung", c.dur()-o.Deadline, o.Deadline))
		}
		if c.start >= recoveredAt {
			afterRecovery++
			if c.res == resOK {
				afterRecoveryOK++
			} else {
				rep.ErrorsAfterRecovery++
			}
		}
		if c.err != nil && strings.Contains(c.err.Error(), sid) {
			report(c, "the error string contains the session id")
		}
	}
	if bytes.Contains(logs.Bytes(), []byte(sid)) {
		bad = append(bad, "a log line contains the session id")
	}
	for op, n := range healthyOK {
		if n == 0 {
			bad = append(bad, fmt.Sprintf("no %s succeeded before the freeze: the setup is broken", opNames[op]))
		}
		if outageByOp[op] == 0 {
			bad = append(bad, fmt.Sprintf("no %s call fell inside the outage window", opNames[op]))
		}
		if hangByOp[op] == 0 {
			bad = append(bad, fmt.Sprintf("no %s call fell inside the freeze window", opNames[op]))
		}
	}
	if afterRecoveryOK == 0 {
		bad = append(bad, "no call succeeded after the recovery")
	}
	rewritten := ""
	if o.LosesData {
		rewritten = " (the session written again: " + srv.Name + " keeps no data)"
	}
	t.Logf("store faults %s: down %v: %d requests, %d false accepts, %d panics; "+
		"frozen %v: %d requests; slowest failure %v (deadline %v); "+
		"recovered %v after the restart%s (%v after the thaw), %d of %d calls after that failed; %d calls in all",
		srv.Name, downFor, rep.OutageCalls, rep.FalseAccepts, rep.Panics,
		frozenFor, rep.HangCalls, rep.SlowestFailure.Round(time.Millisecond), o.Deadline,
		rep.Recovery.Round(time.Millisecond), rewritten, rep.FreezeRecovery.Round(time.Millisecond),
		rep.ErrorsAfterRecovery, afterRecovery, rep.Calls)
	if os.Getenv("FAULTTEST_DEBUG") != "" {
		t.Logf("phases: frozen %v thaw %v thawedOK %v down %v restart %v up %v reseeded %v recovered %v end %v", frozenAt, thawAt, thawedOK, downAt, restartAt, upAt, reseededAt, recoveredAt, since())
		sort.Slice(all, func(i, j int) bool { return all[i].dur() > all[j].dur() })
		for _, c := range all[:min(8, len(all))] {
			t.Logf("slow: %s %v start %v dur %v err %v", opNames[c.op], c.res, c.start, c.dur(), c.err)
		}
		for _, c := range all {
			if c.start >= recoveredAt && c.res != resOK {
				t.Logf("failed after recovery: %s %v start %v dur %v err %v", opNames[c.op], c.res, c.start, c.dur(), c.err)
			}
		}
	}
	if len(bad) > 0 {
		t.Errorf("%s: %d problems (first %d):\n  %s", srv.Name, len(bad), min(len(bad), 20), strings.Join(bad, "\n  "))
	}
	return rep
}

// classifyLoad sorts a Bridge.LoadID/Load answer.
func classifyLoad(s *sessionbridge.Session, err error) (result, string) {
	switch {
	case err == nil:
		if s == nil || s.Session == nil {
			return resOther, "nil session and nil error"
		}
		if u, uerr := passportuser.Raw(s.Session); uerr != nil || string(u) != "7" {
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
