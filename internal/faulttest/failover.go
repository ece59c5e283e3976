package faulttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
)

// Secret is the cookie secret of the fault tests' Bridges and of the Node
// apps StartNode starts, so that Go reads the sessions Node logs in.
const Secret = "fault-test secret"

// StartNode starts the Node app (testdata/node/app.js: express-session,
// passport, connect-redis) with env, which names its store (STORE=...) and
// the store's settings, and with Secret as its cookie secret. Its logins
// (user alice, passport.user 7) are the Node half of RunFailover's load.
func StartNode(tb testing.TB, env map[string]string) *nodetest.App {
	tb.Helper()
	e := map[string]string{"SECRETS": `["` + Secret + `"]`}
	for k, v := range env {
		e[k] = v
	}
	return nodetest.StartApp(tb, e)
}

// Writer is a Go store that writes new sessions (Bridge.Save) during a
// RunFailover run, so that the sessions a failover loses can be counted
// per way of writing (with and without waiting for replicas, say).
type Writer struct {
	// Name names the writer in the report.
	Name string
	// Store is the store it saves its sessions through.
	Store sessionbridge.Store
}

// Failover configures RunFailover. Store, Node, Fault and Settle are
// required. Every store must talk to the setup through a client built once:
// RunFailover never recreates one, so recovery proves the clients follow
// the failover by themselves.
type Failover struct {
	// Name names the setup in the report.
	Name string
	// Store is the Go side's store: the reads go through it, and after the
	// run it tells which sessions the setup still holds.
	Store sessionbridge.Store
	// Writers write new sessions during the run; optional.
	Writers []Writer
	// Node is the Node app on the same setup (StartNode): its logins are
	// part of the load.
	Node *nodetest.App
	// Fault breaks the setup (kills the master, starts a manual failover)
	// and returns once the fault is in place.
	Fault func()
	// Settle returns once the setup has recovered: a new master serves
	// (and, if the test wants it, a replica is back).
	Settle func()
	// ReadWorkers is the number of goroutines reading sessions through the
	// Bridge and the socket Authorizer; default 4.
	ReadWorkers int
	// NodeWorkers is the number of goroutines logging in through the Node
	// app; default 2.
	NodeWorkers int
	// Deadline is each Go call's context deadline; default 300 ms.
	Deadline time.Duration
	// Slack is how far past its deadline a Go call may return before it
	// counts as overrunning it; default 2 s. A hang check, not a speed
	// target.
	Slack time.Duration
}

// FailoverReport is what RunFailover measured. Codes are HTTP statuses or
// their equivalents: a Go read that loaded the session or authorized user 7
// is 200, sessionbridge.ErrNoSession (or an anonymous authorization) 401,
// sessionbridge.ErrStore (a critical socketauth.Failure) 503; a Node login
// is the status the app answered, or "timeout".
type FailoverReport struct {
	Name string
	// Workers is the number of load goroutines; Duration how long the load
	// ran; Requests how many requests it made.
	Workers  int
	Duration time.Duration
	Requests int
	// Codes counts the requests by kind ("go read", "node login", "go
	// write <writer>") and code: "go read 503".
	Codes map[string]int
	// FalseLogouts counts Go reads answered 401 for a session the setup
	// still held after the run (or answered before the fault). Must be 0.
	FalseLogouts int
	// Overruns counts Go calls that returned later than their deadline
	// plus the slack; Panics those that panicked. Both must be 0.
	Overruns, Panics int
	// Settled is the time from the fault to Settle's return; GoRecovery
	// the time from the fault to the end of the last Go read that failed
	// (zero when none did); NodeRecovery the same for the Node logins
	// that failed or took longer than a second (node-redis queues
	// commands while it reconnects: Node's logins stall rather than fail).
	Settled, GoRecovery, NodeRecovery time.Duration
	// Acked counts, per writer ("node" and the Writers' names), the
	// sessions whose write was acknowledged; Lost those of them the setup
	// no longer held after the run.
	Acked, Lost map[string]int
}

// Row is the report as one line of a table.
func (r FailoverReport) Row() string {
	var failed []string
	keys := make([]string, 0, len(r.Codes))
	for k := range r.Codes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.HasSuffix(k, " 200") {
			failed = append(failed, fmt.Sprintf("%s: %d", k, r.Codes[k]))
		}
	}
	if len(failed) == 0 {
		failed = []string{"none"}
	}
	var lost []string
	names := make([]string, 0, len(r.Acked))
	for k := range r.Acked {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		lost = append(lost, fmt.Sprintf("%s %d of %d", k, r.Lost[k], r.Acked[k]))
	}
	rate := float64(r.Requests) / max(r.Duration.Seconds(), 1e-9)
	return fmt.Sprintf("| %s | %.0f req/s, %d workers | %s | %d | Go %v, Node %v (settled %v) | %s |",
		r.Name, rate, r.Workers, strings.Join(failed, ", "), r.FalseLogouts,
		r.GoRecovery.Round(time.Millisecond), r.NodeRecovery.Round(time.Millisecond), r.Settled.Round(time.Millisecond),
		strings.Join(lost, ", "))
}

// Run lengths.
const (
	// warmFor: the load runs healthy at least this long before the fault.
	warmFor = 500 * time.Millisecond
	// settledFor: the load goes on this long after every operation
	// succeeded again.
	settledFor = 500 * time.Millisecond
	// nodeSlow: a Node login slower than this counts as not served in
	// time (node-redis queues commands while it reconnects, so Node's
	// logins stall rather than fail).
	nodeSlow = time.Second
	// nodeTimeout bounds one Node login (node-redis queues commands while
	// it reconnects, so a login may wait for the failover).
	nodeTimeout = 10 * time.Second
)

// RunFailover runs a steady load on a replicated setup while o.Fault breaks
// it: Node logins through o.Node, reads of the sessions logged in (Node's
// and the writers') through a Bridge and a socket Authorizer on o.Store,
// and writes of new sessions through each of o.Writers. It
//
//  1. lets the setup run healthy (at least half a second, and until
//     every operation succeeded);
//  2. calls o.Fault, then o.Settle, and waits until every operation has
//     succeeded again in a call started after Settle returned, with the
//     same clients;
//  3. keeps the load half a second longer, then reads every
//     acknowledged session through o.Store to see which the setup lost.
//
// It then asserts that no Go call panicked or returned later than its
// deadline plus o.Slack; every failed Go call failed as a store error
// (ErrStore; for authorizations a critical Failure the Fail hook saw as
// critical), and never as "no session" for a session the setup still held
// (a false logout); no error or log line holds a session id; and Go read
// sessions Node logged in after Settle. It logs the report as a table row
// and returns it; the sessions lost are reported, not asserted.
func RunFailover(t *testing.T, o Failover) FailoverReport {
	t.Helper()
	o.setDefaults()
	f := newFixture(t, o.Store)
	r := startRun(t, o, f)
	defer r.halt()
	at, err := r.phases()
	r.halt()
	if err != nil {
		t.Errorf("%s: %v", o.Name, err)
	}
	held := r.held()
	a := r.assess(at, held)
	t.Logf("failover %s", a.rep.Row())
	if os.Getenv("FAULTTEST_DEBUG") != "" {
		t.Logf("phases: fault %v faulted %v settled %v recovered %v end %v", at.fault, at.faulted, at.settled, at.recovered, at.end)
		r.logDebug(at)
	}
	if len(a.problems) > 0 {
		t.Errorf("%s: %d problems (first %d):\n  %s", o.Name, a.count, len(a.problems), strings.Join(a.problems, "\n  "))
	}
	return a.rep
}

// setDefaults fills in the zero workers, deadline and slack.
func (o *Failover) setDefaults() {
	if o.ReadWorkers <= 0 {
		o.ReadWorkers = 4
	}
	if o.NodeWorkers <= 0 {
		o.NodeWorkers = 2
	}
	callDefaults(&o.Deadline, &o.Slack)
}

// A stored session the load reads: written by Node (by == byNode), by a
// writer (its index), or the fixture's seed (bySeed).
type stored struct {
	sid, header string
	at          time.Duration // when its write was acknowledged
	by          int
}

const (
	byNode = -1
	bySeed = -2
)

// pool is the sessions whose writes were acknowledged, for the readers.
type pool struct {
	mu   sync.RWMutex
	list []stored
}

func (p *pool) add(s stored) {
	p.mu.Lock()
	p.list = append(p.list, s)
	p.mu.Unlock()
}

// pick returns a session to read and its index: half the time one of the
// 64 latest, so that fresh writes are read soon after they were made.
func (p *pool) pick() (int, stored) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	n := len(p.list)
	i := rand.IntN(n)
	if rand.IntN(2) == 0 {
		i = n - 1 - rand.IntN(min(n, 64))
	}
	return i, p.list[i]
}

func (p *pool) all() []stored {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return slices.Clone(p.list)
}

// Kinds of request, beside the reads (opKind): a Node login, and the
// writes of o.Writers[i] as kindWrite+i.
const (
	kindNode  = int(opLoad) + 1
	kindWrite = kindNode + 1
)

// req is one request of the load.
type req struct {
	call       // a Go call (a read, or a write with op unused)
	kind   int // an opKind, kindNode or kindWrite+i
	sess   int // the pool index of the session read or written; -1 for none
	status int // a Node login's HTTP status; 0 when it got no answer
	sid    string
}

// run is one RunFailover load.
type run struct {
	crew
	t       *testing.T
	o       Failover
	f       *fixture
	writers []*sessionbridge.Bridge
	http    *http.Client
	pool    pool
	reqs    [][]req        // per worker
	lastOK  []atomic.Int64 // per kind, see markOK
	workers int
}

// startRun starts the clock and the workers.
func startRun(t *testing.T, o Failover, f *fixture) *run {
	t.Helper()
	r := &run{crew: newCrew(), t: t, o: o, f: f}
	r.http = &http.Client{Timeout: nodeTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: o.NodeWorkers}}
	for _, w := range o.Writers {
		b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{Secret}, Store: w.Store})
		if err != nil {
			t.Fatal(err)
		}
		r.writers = append(r.writers, b)
	}
	r.lastOK = make([]atomic.Int64, kindWrite+len(o.Writers))
	r.pool.add(stored{sid: f.sid, header: f.header, by: bySeed})
	r.workers = o.ReadWorkers + o.NodeWorkers + len(o.Writers)
	r.reqs = make([][]req, r.workers)
	w := 0
	for range o.ReadWorkers {
		r.worker(w, r.read)
		w++
	}
	for range o.NodeWorkers {
		r.worker(w, r.login)
		w++
	}
	for i := range o.Writers {
		r.worker(w, func(int) req { return r.write(i) })
		w++
	}
	return r
}

// worker starts worker w, which records the requests next makes.
func (r *run) worker(w int, next func(i int) req) {
	r.start(w, func(i int) {
		q := next(i)
		r.reqs[w] = append(r.reqs[w], q)
		if q.res == resOK {
			markOK(&r.lastOK[q.kind], q.start)
		}
	})
}

// read reads a session of the pool with the i-th operation of readCycle.
func (r *run) read(i int) req {
	idx, s := r.pool.pick()
	op := readCycle[i%len(readCycle)]
	return req{call: r.f.do(op, s.sid, s.header, r.o.Deadline, r.since), kind: int(op), sess: idx, sid: s.sid}
}

// login logs alice in through the Node app.
func (r *run) login(int) (q req) {
	q.kind, q.sess, q.res = kindNode, -1, resStore
	q.start = r.since()
	defer func() {
		if q.end == 0 {
			q.end = r.since()
		}
	}()
	body := strings.NewReader(`{"username":"alice","password":"secret"}`)
	resp, err := r.http.Post(r.o.Node.URL+"/login", "application/json", body)
	if err != nil {
		q.err = err
		return q
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	q.status = resp.StatusCode
	if q.status != http.StatusOK {
		return q
	}
	var out struct {
		Sid string `json:"sid"`
	}
	cookie := ""
	for _, c := range resp.Cookies() {
		if c.Name == "connect.sid" {
			cookie = c.Value
		}
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Sid == "" || cookie == "" {
		q.res, q.why = resOther, "a login answered 200 without a session id or cookie"
		return q
	}
	q.res, q.sid, q.end = resOK, out.Sid, r.since()
	r.pool.add(stored{sid: out.Sid, header: "connect.sid=" + cookie, at: q.end, by: byNode})
	return q
}

// write saves a new logged-in session (passport.user 7) through writer w.
func (r *run) write(w int) (q req) {
	b := r.writers[w]
	q.kind, q.sess = kindWrite+w, -1
	s, err := b.NewSession()
	if err != nil {
		r.t.Error(err)
		return q
	}
	_ = s.Record.Set("passport", map[string]any{"user": 7})
	q.sid = s.ID
	ctx, cancel := context.WithTimeout(context.Background(), r.o.Deadline)
	defer cancel()
	q.start = r.since()
	func() {
		defer func() {
			if p := recover(); p != nil {
				q.res, q.why = resPanic, fmt.Sprint("panic: ", p)
			}
		}()
		q.err = b.Save(ctx, s)
	}()
	q.end = r.since()
	switch {
	case q.res == resPanic:
	case q.err == nil:
		q.res = resOK
		r.pool.add(stored{sid: s.ID, header: b.CookieName() + "=" + b.Signer().CookieValue(s.ID), at: q.end, by: w})
	case errors.Is(q.err, sessionbridge.ErrStore):
		q.res = resStore
	default:
		q.res, q.why = resOther, "a failed write is not ErrStore"
	}
	return q
}

// halt stops the workers, waits for them and closes the idle Node
// connections; calling it again does nothing more.
func (r *run) halt() {
	r.crew.halt()
	r.http.CloseIdleConnections()
}

// failoverTimes is when each phase of a run began, on the run's clock.
type failoverTimes struct {
	fault     time.Duration // o.Fault called
	faulted   time.Duration // o.Fault returned
	settled   time.Duration // o.Settle returned
	recovered time.Duration // every operation succeeded again
	end       time.Duration // the load stopped
}

// phases runs the healthy, fault and recovery phases.
func (r *run) phases() (failoverTimes, error) {
	var at failoverTimes
	if !awaitSuccess(r.lastOK, 0) {
		return at, fmt.Errorf("not every operation succeeded within %v of a healthy run", recoverWait)
	}
	time.Sleep(warmFor - min(warmFor, r.since()))
	at.fault = r.since()
	r.o.Fault()
	at.faulted = r.since()
	r.o.Settle()
	at.settled = r.since()
	ok := awaitSuccess(r.lastOK, at.settled)
	at.recovered = r.since()
	if ok {
		time.Sleep(settledFor)
	}
	at.end = r.since()
	if !ok {
		var missing []string
		for k := range r.lastOK {
			if r.lastOK[k].Load() <= int64(at.settled) {
				missing = append(missing, r.kindName(k))
			}
		}
		return at, fmt.Errorf("no success within %v after the setup settled, with the same clients: %s", recoverWait, strings.Join(missing, ", "))
	}
	return at, nil
}

// kindName names a kind of request in messages and the report.
func (r *run) kindName(k int) string {
	switch {
	case k < kindNode:
		return opNames[k]
	case k == kindNode:
		return "node login"
	}
	return "go write " + r.o.Writers[k-kindWrite].Name
}

// group names a kind's group in the report's codes.
func (r *run) group(k int) string {
	if k < kindNode {
		return "go read"
	}
	return r.kindName(k)
}

// held reads every acknowledged session through o.Store, after the run:
// true for those the setup still holds. A read that fails otherwise than
// with ErrNotFound is tried again for recoverWait, then fails the test.
func (r *run) held() []bool {
	all := r.pool.all()
	out := make([]bool, len(all))
	giveUp := time.Now().Add(recoverWait)
	for i, s := range all {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := r.o.Store.Get(ctx, s.sid)
			cancel()
			if err == nil || errors.Is(err, sessionbridge.ErrNotFound) {
				out[i] = err == nil
				break
			}
			if time.Now().After(giveUp) {
				r.t.Fatalf("%s: the store does not answer after the run: %v", r.o.Name, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return out
}

// failoverAssessment is what the requests show.
type failoverAssessment struct {
	rep      FailoverReport
	problems []string
	count    int // problems found, listed or not
}

func (a *failoverAssessment) problem(format string, args ...any) {
	a.count++
	if len(a.problems) < maxCallProblems {
		a.problems = append(a.problems, fmt.Sprintf(format, args...))
	}
}

// assess counts the requests into the report and checks each.
func (r *run) assess(at failoverTimes, held []bool) *failoverAssessment {
	all := r.pool.all()
	a := &failoverAssessment{rep: FailoverReport{
		Name: r.o.Name, Workers: r.workers, Duration: at.end,
		Codes: map[string]int{}, Acked: map[string]int{}, Lost: map[string]int{},
		Settled: at.settled - at.fault,
	}}
	writer := func(by int) string {
		if by == byNode {
			return "node"
		}
		return r.o.Writers[by].Name
	}
	for i, s := range all {
		if s.by == bySeed {
			continue
		}
		a.rep.Acked[writer(s.by)]++
		if !held[i] {
			a.rep.Lost[writer(s.by)]++
		}
	}
	var freshNodeReads int
	failedSids := map[string]bool{}
	for _, reqs := range r.reqs {
		for _, q := range reqs {
			a.rep.Requests++
			code := r.code(q)
			a.rep.Codes[r.group(q.kind)+" "+code]++
			if q.kind == kindNode {
				if (code != "200" || q.dur() > nodeSlow) && q.end >= at.fault {
					a.rep.NodeRecovery = max(a.rep.NodeRecovery, q.end-at.fault)
				}
				continue
			}
			r.check(a, q, at, held)
			if q.res != resOK && q.sid != "" && len(failedSids) < 200 {
				failedSids[q.sid] = true
			}
			if q.kind < kindNode && q.res == resOK && all[q.sess].by == byNode && all[q.sess].at >= at.settled {
				freshNodeReads++
			}
		}
	}
	logs := r.f.logs.String()
	for sid := range failedSids {
		if strings.Contains(logs, sid) {
			a.problem("a log line contains a session id")
			break
		}
	}
	if freshNodeReads == 0 {
		a.problem("Go read no session Node logged in after the setup settled")
	}
	if a.rep.Codes["node login 200"] == 0 {
		a.problem("Node logged no one in")
	}
	return a
}

// code is a request's status or its equivalent.
func (r *run) code(q req) string {
	if q.kind == kindNode {
		if q.status == 0 {
			return "timeout"
		}
		return strconv.Itoa(q.status)
	}
	switch q.res {
	case resOK:
		return "200"
	case resNoSession:
		return "401"
	case resStore:
		return "503"
	}
	return q.res.String()
}

// check records what is wrong with a Go request.
func (r *run) check(a *failoverAssessment, q req, at failoverTimes, held []bool) {
	what := r.kindName(q.kind)
	describe := func(msg string) string {
		s := fmt.Sprintf("%s at %v (%v): %s: %s", what, q.start.Round(time.Millisecond), q.dur().Round(time.Millisecond), q.res, msg)
		if q.err != nil {
			s += ": " + q.err.Error()
		}
		if q.why != "" {
			s += " (" + q.why + ")"
		}
		return s
	}
	if q.kind < kindNode && q.res == resStore {
		a.rep.GoRecovery = max(a.rep.GoRecovery, q.end-at.fault)
	}
	switch q.res {
	case resPanic:
		a.rep.Panics++
		a.problem("%s", describe("panicked"))
	case resOther:
		a.problem("%s", describe("neither a session, nor no session, nor a store error"))
	case resNoSession:
		if held[q.sess] || q.end <= at.fault {
			a.rep.FalseLogouts++
			a.problem("%s", describe("a false logout: the setup holds the session"))
		}
	case resStore:
		if q.kind == int(opAuthorize) && !(q.hookCalled && q.hookCrit) {
			a.problem("%s", describe("the Fail hook did not see the failure as critical"))
		}
	}
	if q.dur() > r.o.Deadline+r.o.Slack {
		a.rep.Overruns++
		a.problem("%s", describe(fmt.Sprintf("returned %v after its %v deadline", q.dur()-r.o.Deadline, r.o.Deadline)))
	}
	if q.err != nil && q.sid != "" && strings.Contains(q.err.Error(), q.sid) {
		a.problem("%s", describe("the error string contains the session id"))
	}
}

// logDebug logs, per kind of request, the successes and failures before
// the fault, during it, and after the setup settled (FAULTTEST_DEBUG).
func (r *run) logDebug(at failoverTimes) {
	type counts struct {
		before, during, after [2]int
		firstOK               time.Duration // after the setup settled
	}
	per := map[string]*counts{}
	for _, reqs := range r.reqs {
		for _, q := range reqs {
			k := r.kindName(q.kind)
			if per[k] == nil {
				per[k] = &counts{}
			}
			ok := 0
			if q.res != resOK {
				ok = 1
			}
			switch {
			case q.start < at.fault:
				per[k].before[ok]++
			case q.start < at.settled:
				per[k].during[ok]++
			default:
				per[k].after[ok]++
				if ok == 0 && (per[k].firstOK == 0 || q.end < per[k].firstOK) {
					per[k].firstOK = q.end
				}
			}
		}
	}
	for k, c := range per {
		r.t.Logf("%s: ok/failed before %v, during %v, after %v; first success after settling at %v", k, c.before, c.during, c.after, c.firstOK)
	}
}
