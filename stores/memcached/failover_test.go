package memcachedstore_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"go.uber.org/goleak"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/faulttest"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	memcachedstore "github.com/sessionbridge/sessionbridge/stores/memcached"
)

// The tests of this file run the npm memcached client (through
// connect-memcached, testdata/node/memcached-ring.js) and a store made
// with NewRing on the same three private memcached servers with the same
// options, and compare, request by request, the server each picks for a
// key and what each answers.

const ringPrefix = "sess:"

// nodeRing is one Node process running memcached-ring.js.
type nodeRing struct {
	t       *testing.T
	stdin   io.WriteCloser
	replies chan []byte
	stderr  *nodetest.LockedBuffer
}

// nodeReply is one answer of memcached-ring.js.
type nodeReply struct {
	Server  string          `json:"server"`
	Err     *string         `json:"err"`
	Found   bool            `json:"found"`
	Session json.RawMessage `json:"session"`
	Servers []string        `json:"servers"`
	Ring    []string        `json:"ring"`
	Events  []struct {
		Event  string `json:"event"`
		Server string `json:"server"`
	} `json:"events"`
}

func startNodeRing(t *testing.T, servers []string, options map[string]any) *nodeRing {
	t.Helper()
	nodetest.RequireNode(t)
	cmd := exec.Command("node", "memcached-ring.js")
	cmd.Dir = filepath.Join(nodetest.Root(t), "testdata", "node")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	n := &nodeRing{t: t, stdin: stdin, replies: make(chan []byte, 16), stderr: &nodetest.LockedBuffer{}}
	cmd.Stderr = n.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			n.replies <- slices.Clone(sc.Bytes())
		}
		close(n.replies)
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		timeout := time.After(10 * time.Second)
	drain:
		for {
			select {
			case _, ok := <-n.replies:
				if !ok {
					break drain
				}
			case <-timeout:
				_ = cmd.Process.Kill()
				break drain
			}
		}
		_ = cmd.Wait()
	})
	n.send(map[string]any{"servers": servers, "options": options, "prefix": ringPrefix})
	var ready struct{ Ready bool }
	if err := json.Unmarshal(n.recv(), &ready); err != nil || !ready.Ready {
		t.Fatalf("memcached-ring.js did not start: %v\n%s", err, n.stderr)
	}
	return n
}

func (n *nodeRing) send(req map[string]any) {
	b, err := json.Marshal(req)
	if err != nil {
		n.t.Fatal(err)
	}
	if _, err := n.stdin.Write(append(b, '\n')); err != nil {
		n.t.Fatalf("memcached-ring.js: %v\n%s", err, n.stderr)
	}
}

func (n *nodeRing) recv() []byte {
	select {
	case b, ok := <-n.replies:
		if !ok {
			n.t.Fatalf("memcached-ring.js exited\n%s", n.stderr)
		}
		return b
	case <-time.After(20 * time.Second):
		n.t.Fatalf("memcached-ring.js does not answer\n%s", n.stderr)
	}
	return nil
}

func (n *nodeRing) call(req map[string]any) nodeReply {
	n.send(req)
	var r nodeReply
	if err := json.Unmarshal(n.recv(), &r); err != nil {
		n.t.Fatal(err)
	}
	return r
}

// nodeSession is a session as Node stores it, with a version number.
func nodeSession(v int) map[string]any {
	return map[string]any{
		"cookie": map[string]any{"originalMaxAge": 3600000, "expires": time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000Z"), "httpOnly": true, "path": "/"},
		"v":      v,
	}
}

func (n *nodeRing) set(sid string, v int) nodeReply {
	r := n.call(map[string]any{"op": "set", "sid": sid, "session": nodeSession(v)})
	if r.Err != nil {
		n.t.Fatalf("node set: %s", *r.Err)
	}
	return r
}

// startRing starts three private memcached servers.
func startRing(t *testing.T) ([]*faulttest.Server, []string) {
	var srvs []*faulttest.Server
	var addrs []string
	for range 3 {
		s := faulttest.StartMemcached(t)
		srvs = append(srvs, s)
		addrs = append(addrs, s.Addr)
	}
	return srvs, addrs
}

// sidsOn returns n session ids whose keys Node places on server.
func sidsOn(t *testing.T, node *nodeRing, server string, n int) []string {
	var sids []string
	for i := 0; len(sids) < n && i < 1000; i += 50 {
		var batch []string
		for j := range 50 {
			batch = append(batch, fmt.Sprintf("sid-%d", i+j))
		}
		for j, s := range node.call(map[string]any{"op": "where", "sids": batch}).Servers {
			if s == server && len(sids) < n {
				sids = append(sids, batch[j])
			}
		}
	}
	if len(sids) < n {
		t.Fatalf("found only %d keys on %s", len(sids), server)
	}
	return sids
}

// TestRingNodeAndGoAgree: with every server up, Go reads each session
// Node wrote from the server Node wrote it to, and Node reads each one Go
// wrote.
func TestRingNodeAndGoAgree(t *testing.T) {
	t.Parallel()
	_, addrs := startRing(t)
	opts := map[string]any{"retries": 0, "timeout": 2000}
	node := startNodeRing(t, addrs, opts)
	st, err := memcachedstore.NewRing(addrs, memcachedstore.Options{Prefix: ringPrefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx := context.Background()
	spread := map[string]int{}
	for i := range 60 {
		sid := fmt.Sprintf("node-%d", i)
		w := node.set(sid, i)
		if got := st.RingServer(sid); got != w.Server {
			t.Fatalf("%s: Node wrote to %s, Go looks on %s", sid, w.Server, got)
		}
		spread[w.Server]++
		sess, err := st.Get(ctx, sid)
		if err != nil {
			t.Fatalf("Go reads %s: %v", sid, err)
		}
		var v int
		if err := sess.Get("v", &v); err != nil || v != i {
			t.Fatalf("Go reads %s: v=%d %v, want %d", sid, v, err, i)
		}
	}
	for i := range 30 {
		sid := fmt.Sprintf("go-%d", i)
		sess := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
		if err := sess.Set("v", 1000+i); err != nil {
			t.Fatal(err)
		}
		if err := st.Set(ctx, sid, sess); err != nil {
			t.Fatal(err)
		}
		r := node.call(map[string]any{"op": "get", "sid": sid})
		if r.Err != nil || !r.Found || r.Server != st.RingServer(sid) {
			t.Fatalf("Node reads %s Go wrote to %s: server %s found %v err %v", sid, st.RingServer(sid), r.Server, r.Found, r.Err)
		}
		var got struct{ V int }
		if err := json.Unmarshal(r.Session, &got); err != nil || got.V != 1000+i {
			t.Fatalf("Node reads %s: %s", sid, r.Session)
		}
	}
	if len(spread) != 3 {
		t.Fatalf("sessions on %d servers, want 3: %v", len(spread), spread)
	}
	t.Logf("60 sessions written by Node, 30 by Go, each read from the server it was written to: %v", spread)
}

// ---------------------------------------------------------------- steps

// probe is a session the steps read on both sides.
type probe struct {
	name, sid string
}

// answer is what one side answered for a probe at a step.
type answer struct {
	server string
	kind   string // "found", "miss" or "error"
	v      int    // the version found
	why    string // the error, short
}

func (a answer) String() string {
	switch a.kind {
	case "found":
		return fmt.Sprintf("found(v%d)", a.v)
	case "miss":
		return "miss"
	}
	return "err:" + a.why
}

type stepRow struct {
	at      time.Duration
	note    string
	node    []answer
	goSide  []answer
	nodeEvs []string
}

// scenario runs steps on a Node process and a Go store and keeps the table.
type scenario struct {
	t      *testing.T
	node   *nodeRing
	st     *memcachedstore.Store
	bridge *sessionbridge.Bridge
	short  map[string]string // server -> s1, s2, s3
	probes []probe
	t0     time.Time
	rows   []stepRow
}

func newScenario(t *testing.T, node *nodeRing, st *memcachedstore.Store, addrs []string, probes []probe) *scenario {
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"ring secret"}, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	short := map[string]string{"": "-"}
	for i, a := range addrs {
		short[a] = fmt.Sprintf("s%d", i+1)
	}
	return &scenario{t: t, node: node, st: st, bridge: b, short: short, probes: probes, t0: time.Now()}
}

// step reads every probe, Go first, then Node: a failure Go sees first
// counts first, so that where the two clocks race Go is the one that
// errs.
func (sc *scenario) step(note string) stepRow {
	row := stepRow{at: time.Since(sc.t0).Round(time.Millisecond), note: note}
	for _, p := range sc.probes {
		g := answer{server: sc.st.RingServer(p.sid)}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		sess, err := sc.bridge.LoadID(ctx, p.sid)
		cancel()
		switch {
		case err == nil:
			g.kind = "found"
			_ = sess.Record.Get("v", &g.v)
		case errors.Is(err, sessionbridge.ErrNoSession) && errors.Is(err, sessionbridge.ErrNotFound):
			g.kind = "miss"
		case errors.Is(err, sessionbridge.ErrStore):
			g.kind, g.why = "error", "503 "+goWhy(err)
		default:
			sc.t.Fatalf("Go load: %v", err)
		}
		r := sc.node.call(map[string]any{"op": "get", "sid": p.sid})
		n := answer{server: r.Server}
		switch {
		case r.Err != nil:
			n.kind, n.why = "error", nodeWhy(*r.Err)
		case r.Found:
			var s struct{ V int }
			_ = json.Unmarshal(r.Session, &s)
			n.kind, n.v = "found", s.V
		default:
			n.kind = "miss"
		}
		for _, e := range r.Events {
			row.nodeEvs = append(row.nodeEvs, e.Event+" "+sc.short[e.Server])
		}
		row.node = append(row.node, n)
		row.goSide = append(row.goSide, g)
	}
	sc.rows = append(sc.rows, row)
	return row
}

func goWhy(err error) string {
	switch {
	case errors.Is(err, memcachedstore.ErrServerUnavailable):
		return "unavailable"
	case errors.Is(err, memcachedstore.ErrRingUncertain):
		return "uncertain"
	case strings.Contains(err.Error(), "connection refused"):
		return "refused"
	}
	return err.Error()
}

func nodeWhy(msg string) string {
	switch {
	case strings.Contains(msg, "ECONNREFUSED"):
		return "refused"
	case strings.Contains(msg, "not available"):
		return "unavailable"
	}
	return msg
}

// log prints the step table.
func (sc *scenario) log(title string) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nstep     t |", title)
	for _, p := range sc.probes {
		fmt.Fprintf(&b, " %s: node/go server, agree, node answer, Go answer |", p.name)
	}
	b.WriteString(" Node events; note\n")
	for i, r := range sc.rows {
		fmt.Fprintf(&b, "%4d %5dms |", i, r.at.Milliseconds())
		for j := range sc.probes {
			n, g := r.node[j], r.goSide[j]
			agree := "yes"
			if n.server != g.server {
				agree = "NO "
			}
			fmt.Fprintf(&b, " %s/%s %s %-15s %-18s |", sc.short[n.server], sc.short[g.server], agree, n, g)
		}
		fmt.Fprintf(&b, " %s; %s\n", strings.Join(r.nodeEvs, ", "), r.note)
	}
	sc.t.Log(b.String())
}

// checkSafe: Go never answers "no session" where Node found one or
// failed, and never a session Node does not read; an error is always
// allowed (it is a 503, not a logout).
func (sc *scenario) checkSafe() {
	for i, r := range sc.rows {
		for j, p := range sc.probes {
			n, g := r.node[j], r.goSide[j]
			switch {
			case g.kind == "miss" && n.kind != "miss":
				sc.t.Errorf("step %d, %s: Go answers not found (a logout) where Node answers %s", i, p.name, n)
			case g.kind == "found" && (n.kind != "found" || n.v != g.v):
				sc.t.Errorf("step %d, %s: Go reads %s where Node answers %s", i, p.name, g, n)
			}
		}
	}
}

// disagreements counts the steps where Node and Go pick different servers
// for probe j.
func (sc *scenario) disagreements(j int) int {
	n := 0
	for _, r := range sc.rows {
		if r.node[j].server != r.goSide[j].server {
			n++
		}
	}
	return n
}

// eventLog collects a store's RingEvents and log lines.
type eventLog struct {
	mu   sync.Mutex
	evs  []memcachedstore.RingEvent
	text nodetest.LockedBuffer
}

func (e *eventLog) on(ev memcachedstore.RingEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evs = append(e.evs, ev)
}

func (e *eventLog) kinds(server string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var k []string
	for _, ev := range e.evs {
		if ev.Server == server {
			k = append(k, ev.Kind.String())
		}
	}
	return k
}

func (e *eventLog) options(o memcachedstore.RingOptions) memcachedstore.RingOptions {
	o.OnEvent = e.on
	o.Logger = slog.New(slog.NewTextHandler(&e.text, nil))
	return o
}

// TestRingFailoverRemove: with remove: true, a dead server is taken out
// of the ring by the npm client after its failures (each counted when the
// client's connection retries end), and its keys go to the next server;
// Go counts the same failures and does the same. While Go cannot tell
// where Node reads a session of the moved keys it answers a store error
// (503), never "not found". A server the npm client removed is never put
// back, even once it runs again, and neither does Go.
func TestRingFailoverRemove(t *testing.T) {
	t.Parallel()
	srvs, addrs := startRing(t)
	const retry = 500 * time.Millisecond
	node := startNodeRing(t, addrs, map[string]any{"retries": 1, "failures": 1, "retry": retry.Milliseconds(), "remove": true, "failuresTimeout": 60000, "timeout": 2000})
	var evs eventLog
	ro := evs.options(memcachedstore.RingOptions{Retries: 1, Failures: 1, Retry: retry, Remove: true, FailuresTimeout: time.Minute, Timeout: 2 * time.Second})
	st, err := memcachedstore.NewRing(addrs, memcachedstore.Options{Prefix: ringPrefix, Ring: ro})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	victim, next := srvs[0], ""
	onVictim := sidsOn(t, node, victim.Addr, 2)
	other := sidsOn(t, node, addrs[1], 1)
	probes := []probe{{"A", onVictim[0]}, {"B", onVictim[1]}, {"C", other[0]}}
	for _, p := range probes {
		node.set(p.sid, 1)
	}
	sc := newScenario(t, node, st, addrs, probes)
	sc.step("all up")
	victim.Stop()
	sc.t0 = time.Now()
	// settle: RingOptions.Settle's default, (failures+1) x 1 s + failures x retry.
	const settle = 2*time.Second + retry
	var removed, restarted time.Time
	rewritten := false
	for i := 0; i < 200; i++ {
		note := ""
		switch {
		case removed.IsZero():
			note = "victim down"
		case !rewritten:
			w := node.set(probes[0].sid, 2)
			next, rewritten = w.Server, true
			note = "Node writes A again, to " + sc.short[w.Server]
		case restarted.IsZero() && time.Since(removed) > settle+300*time.Millisecond:
			victim.Start()
			restarted = time.Now()
			note = "victim restarted"
		}
		row := sc.step(note)
		if removed.IsZero() && slices.Contains(row.nodeEvs, "remove "+sc.short[victim.Addr]) {
			removed = time.Now()
		}
		if !restarted.IsZero() && time.Since(restarted) > time.Second {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	sc.log(fmt.Sprintf("remove: true, retries 1, failures 1, retry %v; victim %s; Go's Settle %v", retry, sc.short[victim.Addr], settle))
	if removed.IsZero() || restarted.IsZero() {
		t.Fatalf("Node never removed the dead server (removed %v, restarted %v)", removed, restarted)
	}
	sc.checkSafe()
	if k := evs.kinds(victim.Addr); !slices.Contains(k, "issue") || !slices.Contains(k, "removed") || !slices.Contains(k, "uncertain") {
		t.Errorf("Go's events for the victim: %v, want issue, removed and uncertain", k)
	}
	for _, line := range []string{"memcached server removed from the ring", "may place this session on different memcached servers"} {
		if !strings.Contains(evs.text.String(), line) {
			t.Errorf("no log line %q:\n%s", line, evs.text.String())
		}
	}
	// The servers differ only around the removal, when the two clocks race.
	for j := range 2 {
		if d := sc.disagreements(j); d > int(retry/(100*time.Millisecond))+1 {
			t.Errorf("%s: Node and Go picked different servers at %d steps", probes[j].name, d)
		}
	}
	last := sc.rows[len(sc.rows)-1]
	want := []string{"found(v2)", "miss", "found(v1)"}
	for j, p := range probes {
		n, g := last.node[j], last.goSide[j]
		if n.server != g.server || n.String() != want[j] || g.String() != want[j] {
			t.Errorf("%s at the end: Node %s on %s, Go %s on %s, want %s on the same server", p.name, n, n.server, g, g.server, want[j])
		}
	}
	if last.node[0].server != next || last.goSide[0].server != next {
		t.Errorf("A at the end is on %s (Node) and %s (Go), want %s: a removed server is never put back", last.node[0].server, last.goSide[0].server, next)
	}
}

// TestRingFailoverKeep: with remove: false (the npm client's default) the
// dead server keeps its keys: they fail on both sides, never "not found"
// in Go, until the npm client's reconnect time; then both read the server
// again (empty after its restart: both answer not found), and Go reads
// what Node writes there.
func TestRingFailoverKeep(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ping"); err != nil {
		// The npm client runs ping on the host to reconnect; without it,
		// the Node process dies of an unhandled spawn error.
		nodetest.Unavailable(t, "ping (the npm memcached client runs it to reconnect)", "apt-get install iputils-ping")
	}
	srvs, addrs := startRing(t)
	const retry, reconnect = 400 * time.Millisecond, 1200 * time.Millisecond
	node := startNodeRing(t, addrs, map[string]any{"retries": 0, "failures": 1, "retry": retry.Milliseconds(), "reconnect": reconnect.Milliseconds(), "failuresTimeout": 60000, "timeout": 2000})
	var evs eventLog
	ro := evs.options(memcachedstore.RingOptions{Retries: -1, Failures: 1, Retry: retry, Reconnect: reconnect, FailuresTimeout: time.Minute, Timeout: 2 * time.Second})
	st, err := memcachedstore.NewRing(addrs, memcachedstore.Options{Prefix: ringPrefix, Ring: ro})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	victim := srvs[1]
	onVictim := sidsOn(t, node, victim.Addr, 2)
	other := sidsOn(t, node, addrs[2], 1)
	probes := []probe{{"A", onVictim[0]}, {"B", onVictim[1]}, {"C", other[0]}}
	for _, p := range probes {
		node.set(p.sid, 1)
	}
	sc := newScenario(t, node, st, addrs, probes)
	sc.step("all up")
	victim.Stop()
	sc.t0 = time.Now()
	var restarted, reconnected time.Time
	rewritten := 0
	for i := 0; i < 100 && (rewritten == 0 || i < rewritten+3); i++ {
		note := ""
		switch {
		case restarted.IsZero() && time.Since(sc.t0) > time.Second:
			victim.Start()
			restarted = time.Now()
			note = "victim restarted"
		case restarted.IsZero():
			note = "victim down"
		case !reconnected.IsZero() && rewritten == 0:
			node.set(probes[0].sid, 3)
			rewritten = i
			note = "Node writes A again"
		}
		row := sc.step(note)
		if restarted.IsZero() {
			for j := range 2 {
				if row.goSide[j].kind != "error" || row.node[j].kind != "error" {
					t.Errorf("%s while its server is down: Node %s, Go %s; want an error on both sides", probes[j].name, row.node[j], row.goSide[j])
				}
			}
		}
		if reconnected.IsZero() && slices.Contains(row.nodeEvs, "reconnect "+sc.short[victim.Addr]) {
			reconnected = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
	sc.log(fmt.Sprintf("remove: false, retries 0, failures 1, retry %v, reconnect %v; victim %s", retry, reconnect, sc.short[victim.Addr]))
	if reconnected.IsZero() {
		t.Fatal("Node never reconnected to the server")
	}
	sc.checkSafe()
	for j := range probes {
		if d := sc.disagreements(j); d != 0 {
			t.Errorf("%s: Node and Go picked different servers at %d steps; with remove: false the keys never move", probes[j].name, d)
		}
	}
	if k := strings.Join(evs.kinds(victim.Addr), " "); !strings.HasPrefix(k, "issue dead reconnected") {
		t.Errorf("Go's events for the victim: %q, want issue dead reconnected ...", k)
	}
	last := sc.rows[len(sc.rows)-1]
	want := []string{"found(v3)", "miss", "found(v1)"}
	for j, p := range probes {
		if last.node[j].String() != want[j] || last.goSide[j].String() != want[j] {
			t.Errorf("%s at the end: Node %s, Go %s, want %s", p.name, last.node[j], last.goSide[j], want[j])
		}
	}
}

// TestRingDeadlinesAndLeaks: while a server hangs and then while one is
// dead, every call ends by its context's deadline (with slack), a key of
// the failed server is never "not found" before Go moved it and settled,
// and is once Settle is over,
// a hung server counts no failure (the npm client waits on it without
// counting one), and no goroutine outlives Close.
func TestRingDeadlinesAndLeaks(t *testing.T) {
	srvs, addrs := startRing(t)
	leaks := goleak.IgnoreCurrent()
	var evs eventLog
	const settle = 500 * time.Millisecond
	ro := evs.options(memcachedstore.RingOptions{Retries: -1, Failures: 1, Retry: 300 * time.Millisecond, Remove: true, Settle: settle, Timeout: time.Second})
	st, err := memcachedstore.NewRing(addrs, memcachedstore.Options{Ring: ro})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = st.Close()
		}
	})
	bg := context.Background()
	sidOn := map[string]string{}
	for i := 0; len(sidOn) < 3; i++ {
		sid := fmt.Sprintf("k%d", i)
		if _, ok := sidOn[st.RingServer(sid)]; !ok {
			sidOn[st.RingServer(sid)] = sid
		}
	}
	sess := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
	for _, sid := range sidOn {
		if err := st.Set(bg, sid, sess); err != nil {
			t.Fatal(err)
		}
	}
	const deadline, slack = 200 * time.Millisecond, time.Second
	ops := func(sid string) map[string]func(context.Context) error {
		return map[string]func(context.Context) error{
			"Get":        func(ctx context.Context) error { _, err := st.Get(ctx, sid); return err },
			"GetVersion": func(ctx context.Context) error { _, _, err := st.GetVersion(ctx, sid); return err },
			"Set":        func(ctx context.Context) error { return st.Set(ctx, sid, sess) },
			"SetIf": func(ctx context.Context) error {
				_, err := st.SetIf(ctx, sid, sess, sessionbridge.Version{Tag: "1"})
				return err
			},
			"Touch":   func(ctx context.Context) error { return st.Touch(ctx, sid, sess) },
			"Destroy": func(ctx context.Context) error { return st.Destroy(ctx, sid) },
		}
	}
	timed := func(name string, op func(context.Context) error) error {
		ctx, cancel := context.WithTimeout(bg, deadline)
		defer cancel()
		start := time.Now()
		err := op(ctx)
		if took := time.Since(start); took > deadline+slack {
			t.Errorf("%s took %v with a %v deadline", name, took, deadline)
		}
		return err
	}

	hung := srvs[0]
	hung.Freeze()
	for name, op := range ops(sidOn[hung.Addr]) {
		if err := timed(name, op); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s on a hung server: %v, want context.DeadlineExceeded", name, err)
		}
	}
	hung.Thaw()
	if k := evs.kinds(hung.Addr); len(k) != 0 {
		t.Errorf("a hung server counted failures: %v", k)
	}

	dead := srvs[1]
	dead.Stop()
	sid := sidOn[dead.Addr]
	var removedAt time.Time
	for start := time.Now(); time.Since(start) < 3*time.Second && (removedAt.IsZero() || time.Since(removedAt) < settle+200*time.Millisecond); time.Sleep(50 * time.Millisecond) {
		err := timed("Get", ops(sid)["Get"])
		if removedAt.IsZero() && slices.Contains(evs.kinds(dead.Addr), "removed") {
			removedAt = time.Now()
		}
		if errors.Is(err, sessionbridge.ErrNotFound) && (removedAt.IsZero() || time.Since(removedAt) < settle-50*time.Millisecond) {
			t.Fatalf("a key of the dead server is not found %v after its removal (Settle %v)", time.Since(removedAt), settle)
		}
		if err == nil {
			t.Fatal("a session of the dead server was read")
		}
	}
	if removedAt.IsZero() {
		t.Fatalf("the dead server was never removed: %v", evs.kinds(dead.Addr))
	}
	if time.Since(removedAt) < settle {
		t.Fatalf("the loop ended %v after the removal, before Settle", time.Since(removedAt))
	}
	// The uncertain window is over: the key is missing where it went.
	if err := timed("Get", ops(sid)["Get"]); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Errorf("Get %v after the removal (Settle %v): %v, want ErrNotFound", time.Since(removedAt), settle, err)
	}
	for name, op := range ops(sid) {
		if err := timed(name, op); errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s after the dead server was removed: %v", name, err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	goleak.VerifyNone(t, leaks)
}

// TestRingRestartCountsNothing: a server restarted between two calls
// closes the connections the client keeps; the npm client notices the
// close and connects anew, counting no failure, and so does Go: the call
// is made again on a new connection and answers (not found: memcached
// kept nothing).
func TestRingRestartCountsNothing(t *testing.T) {
	t.Parallel()
	srvs, addrs := startRing(t)
	var evs eventLog
	st, err := memcachedstore.NewRing(addrs, memcachedstore.Options{Ring: evs.options(memcachedstore.RingOptions{Retries: -1, Failures: 1})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx := context.Background()
	sid := "restart"
	srv := srvs[slices.Index(addrs, st.RingServer(sid))]
	sess := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
	for range 2 { // two calls: a kept connection
		if err := st.Set(ctx, sid, sess); err != nil {
			t.Fatal(err)
		}
	}
	srv.Stop()
	srv.Start()
	if _, err := st.Get(ctx, sid); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("Get after the restart: %v, want ErrNotFound", err)
	}
	if k := evs.kinds(srv.Addr); len(k) != 0 {
		t.Fatalf("a restart between two calls counted: %v", k)
	}
}

// TestRingFoundElsewhere: with Remove, after its server failed, a session
// Go does not find on it but finds where a Node process that removed the
// server keeps it is ErrRingUncertain (a 503), not "not found"; Destroy
// deletes it on both servers.
func TestRingFoundElsewhere(t *testing.T) {
	t.Parallel()
	srvs, addrs := startRing(t)
	var evs eventLog
	ro := evs.options(memcachedstore.RingOptions{Retries: -1, Retry: 100 * time.Millisecond, Remove: true, Settle: time.Minute})
	st, err := memcachedstore.NewRing(addrs, memcachedstore.Options{Prefix: ringPrefix, Ring: ro})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx := context.Background()
	owner := srvs[0]
	sid := ""
	for i := 0; sid == ""; i++ {
		if s := fmt.Sprintf("elsewhere-%d", i); st.RingServer(s) == owner.Addr {
			sid = s
		}
	}
	sel, err := memcachedstore.NewServerSelector(addrs[1], addrs[2])
	if err != nil {
		t.Fatal(err)
	}
	next, err := sel.PickServer(ringPrefix + sid)
	if err != nil {
		t.Fatal(err)
	}
	owner.Stop()
	if _, err := st.Get(ctx, sid); err == nil || errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("Get on a stopped server: %v", err)
	}
	owner.Start()
	time.Sleep(150 * time.Millisecond) // the retry period ends
	mc := memcache.New(next.String())
	t.Cleanup(func() { _ = mc.Close() })
	raw, err := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour)).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.Set(&memcache.Item{Key: ringPrefix + sid, Value: raw, Flags: memcachedstore.FlagJSON, Expiration: 3600}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, sid); !errors.Is(err, memcachedstore.ErrRingUncertain) {
		t.Fatalf("Get of a session on the next server: %v, want ErrRingUncertain", err)
	}
	if k := evs.kinds(owner.Addr); !slices.Equal(k, []string{"issue", "uncertain"}) {
		t.Fatalf("events %v, want issue, uncertain", k)
	}
	if err := st.Destroy(ctx, sid); err != nil {
		t.Fatal(err)
	}
	if _, err := mc.Get(ringPrefix + sid); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("Destroy left the copy on the next server: %v", err)
	}
	if _, err := st.Get(ctx, sid); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("Get after Destroy: %v, want ErrNotFound", err)
	}
}

// TestRingOneServer: a ring of one server (listed once or twice) keeps no
// failure rules, even the harshest (no retries, no failures left, remove):
// its keys cannot move, so every call tries the server, as a store made
// with New does. While it is down a call fails with its connection error
// (a store error, never "not found" nor ErrServerUnavailable); the first
// call after it is back answers, and no event is reported.
func TestRingOneServer(t *testing.T) {
	t.Parallel()
	srv := faulttest.StartMemcached(t)
	for _, servers := range [][]string{{srv.Addr}, {srv.Addr, srv.Addr}} {
		var evs eventLog
		ro := evs.options(memcachedstore.RingOptions{Retries: -1, Failures: -1, Retry: time.Hour, Remove: true, Settle: time.Hour})
		st, err := memcachedstore.NewRing(servers, memcachedstore.Options{Ring: ro})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		ctx := context.Background()
		sess := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
		if err := st.Set(ctx, "one", sess); err != nil {
			t.Fatal(err)
		}
		srv.Stop()
		for range 3 {
			_, err := st.Get(ctx, "one")
			if err == nil || errors.Is(err, sessionbridge.ErrNotFound) || errors.Is(err, memcachedstore.ErrServerUnavailable) {
				t.Fatalf("%d listed, Get while the server is down: %v, want its connection error", len(servers), err)
			}
		}
		srv.Start()
		if err := st.Set(ctx, "one", sess); err != nil {
			t.Fatalf("%d listed, Set once the server is back: %v", len(servers), err)
		}
		if _, err := st.Get(ctx, "one"); err != nil {
			t.Fatalf("%d listed, Get once the server is back: %v", len(servers), err)
		}
		if k := evs.kinds(srv.Addr); len(k) != 0 || evs.text.String() != "" {
			t.Fatalf("%d listed: events %v, log %q", len(servers), k, evs.text.String())
		}
	}
}
