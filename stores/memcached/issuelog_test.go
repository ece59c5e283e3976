package memcachedstore

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// issueRun drives an issueLog on a clock of milliseconds and records what
// it does as "kind@ms" words.
type issueRun struct {
	l    *issueLog
	t0   time.Time
	seen []string
}

func newIssueRun(o RingOptions) *issueRun {
	return &issueRun{l: newIssueLog(o.config()), t0: time.Unix(1_700_000_000, 0)}
}

func (r *issueRun) at(ms int) time.Time { return r.t0.Add(time.Duration(ms) * time.Millisecond) }

func (r *issueRun) emit(e issueEvent) {
	name := map[issueKind]string{issueIssue: "issue", issueDead: "dead", issueRemove: "remove", issueReconnect: "reconnect"}[e.kind]
	if e.kind == issueIssue {
		name += fmt.Sprint(e.failures)
	}
	r.seen = append(r.seen, fmt.Sprintf("%s@%d", name, e.at.Sub(r.t0).Milliseconds()))
}

// request is a call at ms: the client skips a failed server, else the
// call fails (the server is down) when down is true.
func (r *issueRun) request(ms int, down, connect bool) (skipped bool) {
	r.l.advance(r.at(ms), r.emit)
	if r.l.failed {
		return true
	}
	if down {
		r.l.fail(r.at(ms), connect, r.emit)
	} else {
		r.l.answered()
	}
	return false
}

func (r *issueRun) events() string { return strings.Join(r.seen, " ") }

// TestIssueLogCountdown: failures count down when a retry period ends, and
// the failure after the last one removes the server; the events and their
// failures are those the npm client emitted for the same requests (a
// request every 200 ms on a dead server, failures 2, retry 300 ms: issue
// 2, issue 1, remove).
func TestIssueLogCountdown(t *testing.T) {
	r := newIssueRun(RingOptions{Retries: -1, Failures: 2, Retry: 300 * time.Millisecond, Remove: true, FailuresTimeout: 10 * time.Second})
	var skipped []bool
	for ms := 0; ms <= 1000; ms += 200 {
		skipped = append(skipped, r.request(ms, true, true))
	}
	if got, want := r.events(), "issue2@0 issue1@400 remove@800"; got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
	if want := []bool{false, true, false, true, false, true}; fmt.Sprint(skipped) != fmt.Sprint(want) {
		t.Fatalf("skipped %v, want %v", skipped, want)
	}
}

// TestIssueLogConcurrentFailure: a failure logged while a retry is pending
// falls through to the end of IssueLog.log, as in the npm client: the
// server is removed at once whatever failures says.
func TestIssueLogConcurrentFailure(t *testing.T) {
	r := newIssueRun(RingOptions{Retries: -1, Remove: true})
	r.l.fail(r.at(0), true, r.emit)
	r.l.fail(r.at(5), true, r.emit)
	if got, want := r.events(), "issue5@0 remove@5"; got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
}

// TestIssueLogFailuresTimeout: failuresTimeout after the first failure,
// failures are back in full, though the server failed meanwhile.
func TestIssueLogFailuresTimeout(t *testing.T) {
	r := newIssueRun(RingOptions{Retries: -1, Failures: 2, Retry: 300 * time.Millisecond, Remove: true, FailuresTimeout: time.Second})
	r.request(0, true, true)     // issue 2, reset due at 1000
	r.request(400, false, false) // retry over (failures 1); answers
	r.request(1100, true, true)  // reset fired: failures 2 again
	if got, want := r.events(), "issue2@0 issue2@1100"; got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
	if r.l.failures != 2 || !r.l.failed {
		t.Fatalf("failures %d failed %v", r.l.failures, r.l.failed)
	}
}

// TestIssueLogReconnect: without remove, the failure after the last one
// marks the server dead until reconnect, then it is tried again with its
// failures restored (the npm client, with ping answering, did the same:
// issue, then after the retry the next failure scheduled a reconnect).
func TestIssueLogReconnect(t *testing.T) {
	r := newIssueRun(RingOptions{Retries: -1, Failures: 1, Retry: 300 * time.Millisecond, Reconnect: time.Second})
	for ms := 0; ms <= 1500; ms += 100 {
		r.request(ms, true, true)
	}
	if got, want := r.events(), "issue1@0 dead@300 reconnect@1300 issue1@1300"; got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
	if !r.l.failed {
		t.Fatal("the server failed again at 1300 ms and its retry period is not over at 1500 ms")
	}
	r.request(1700, false, false)
	if r.l.failed || r.l.failures != 0 {
		t.Fatalf("after the retry: failed %v failures %d (want false 0: failures count down at each retry)", r.l.failed, r.l.failures)
	}
}

// TestIssueLogRetries: a connection failure counts once the npm client's
// connection retries would have ended (retries 2: 1 s + 3 s), unless the
// server answers meanwhile.
func TestIssueLogRetries(t *testing.T) {
	r := newIssueRun(RingOptions{Retries: 2, Remove: true})
	r.request(0, true, true) // counts at 4000
	if r.request(3999, true, false) {
		t.Fatal("skipped before the connection retries ended")
	} // an error on an open connection counts at once
	r.request(4000, false, false) // the first failure counts while a retry is pending
	if got, want := r.events(), "issue5@3999 remove@4000"; got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
	r = newIssueRun(RingOptions{Retries: 2, Remove: true})
	r.request(0, true, true)
	r.request(2000, false, false)
	r.request(5000, false, false)
	if r.events() != "" || r.l.failed {
		t.Fatalf("the server answered during the retries, yet: %q failed %v", r.events(), r.l.failed)
	}
}

// TestRingOptionsDefaults: the npm client's defaults, and Settle derived
// from them.
func TestRingOptionsDefaults(t *testing.T) {
	c := RingOptions{}.config()
	want := ringConfig{failures: 5, retry: 30 * time.Second, failuresTimeout: 300 * time.Second,
		reconnect: 18000 * time.Second, retriesDelay: 100 * time.Second, settle: 750 * time.Second}
	if c != want {
		t.Fatalf("defaults %+v, want %+v", c, want)
	}
	c = RingOptions{Retries: -1, Failures: -1, Retry: -1, Settle: -1}.config()
	if c.retriesDelay != 0 || c.failures != 0 || c.retry != 0 || c.settle != 0 {
		t.Fatalf("negative values must mean 0: %+v", c)
	}
	if d := (RingOptions{Retries: 7}).config().retriesDelay; d != 220*time.Second {
		t.Fatalf("retries 7: %v, want 1+3+9+27+60+60+60 s", d)
	}
}

// TestIssueLogManyPending: a dead server under heavy traffic during the
// connection retries (100 000 calls in the 4 s of retries 2) keeps at
// most maxPending failures pending, and the earliest ones (a call that
// ends late included), which decide as the npm client does: issue when
// the first counts, removed when the second counts inside its retry
// period. The bound keeps each call's cost bounded too.
func TestIssueLogManyPending(t *testing.T) {
	r := newIssueRun(RingOptions{Retries: 2, Remove: true})
	const calls = 100_000
	for i := range calls {
		r.l.fail(r.t0.Add(time.Duration(i)*40*time.Microsecond), true, r.emit)
		if len(r.l.pending) > maxPending {
			t.Fatalf("%d failures pending after %d calls", len(r.l.pending), i+1)
		}
	}
	r.l.fail(r.t0.Add(-time.Millisecond), true, r.emit) // a call that ended late
	if len(r.l.pending) != maxPending || !r.l.pending[0].Equal(r.at(3999)) {
		t.Fatalf("%d pending, first due %v", len(r.l.pending), r.l.pending[0].Sub(r.t0))
	}
	r.l.advance(r.at(10_000), r.emit)
	if len(r.seen) != maxPending || strings.Join(r.seen[:2], " ") != "issue5@3999 remove@4000" {
		t.Fatalf("%d events, first %q, want %d: issue5@3999 remove@4000, then removes", len(r.seen), r.seen[:min(2, len(r.seen))], maxPending)
	}
	for _, e := range r.seen[2:] { // the npm client removes it again: the ring ignores those
		if !strings.HasPrefix(e, "remove@") {
			t.Fatalf("%s after the removal", e)
		}
	}
}
