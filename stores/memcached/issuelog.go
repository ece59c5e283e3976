package memcachedstore

import (
	"slices"
	"time"
)

// issueLog is the npm memcached client's IssueLog for one server, as a
// clocked state machine: the client's timers (retry, failuresTimeout,
// reconnect) are due times that advance fires in order when the ring is
// next used, so the model needs no goroutine. It follows the client line
// by line, quirks included:
//   - failures counts down only when a retry timer ends, not when a
//     failure is logged; the first failure sets the failuresTimeout timer
//     that restores it;
//   - a failure logged while a retry is pending (several requests failing
//     at once) falls through to the end as if failures were used up: the
//     server is removed (remove) or marked dead until reconnect;
//   - reconnect runs ping on the host in Node; the model takes the host
//     as answering (what ping says of any machine that is up), so the
//     server is back when reconnect ends.
//
// A connection failure is logged when the client's connection retries
// (retries, backed off 1 s, 3 s, 9 s, ... up to 60 s) would have ended:
// pending holds those due times. The server answering meanwhile drops
// them, as a retry of the client's would have connected.
type issueLog struct {
	cfg ringConfig

	failures     int
	failed       bool
	locked       bool
	reconnecting bool // isScheduledToReconnect

	retryAt     time.Time // attemptRetry's due time; zero when none
	reconnectAt time.Time // attemptReconnect's due time; zero when none
	resets      []resetTimer
	lastReset   int // failuresResetId: the last reset timer set, 0 when none
	nextID      int

	pending []time.Time // failures still in the client's connection retries
}

type resetTimer struct {
	at time.Time
	id int
}

// issueKind is what the client emits.
type issueKind int

const (
	issueIssue     issueKind = iota + 1 // 'issue': the server is skipped until retry ends
	issueDead                           // remove false, failures used up: skipped until reconnect
	issueRemove                         // remove true, failures used up: 'remove'
	issueReconnect                      // reconnect ended: 'reconnect'
)

// issueEvent is one thing the log did, at the time the client would have.
type issueEvent struct {
	kind     issueKind
	at       time.Time
	failures int
}

func newIssueLog(cfg ringConfig) *issueLog {
	return &issueLog{cfg: cfg, failures: cfg.failures}
}

// maxPending bounds issueLog.pending, which grows with every call that
// cannot connect during the connection retries (100 s by default). Only
// the earliest pending failures are kept: with remove, the first few to
// fire decide the removal (two within a retry period remove the server);
// without it, the keys never move and the later ones only keep the
// server failed a little longer.
const maxPending = 1024

// fail records a failure observed at t. A connection failure (connect is
// true) counts once the client's connection retries would have ended.
func (l *issueLog) fail(t time.Time, connect bool, emit func(issueEvent)) {
	if connect && l.cfg.retriesDelay > 0 {
		due := t.Add(l.cfg.retriesDelay)
		// Calls end almost in order: the place is nearly always the end.
		i := len(l.pending)
		for i > 0 && l.pending[i-1].After(due) {
			i--
		}
		if i < maxPending {
			l.pending = slices.Insert(l.pending, i, due)
			l.pending = l.pending[:min(len(l.pending), maxPending)]
		}
		return
	}
	l.log(t, emit)
}

// answered records that the server answered: failures still in their
// connection retries would have connected.
func (l *issueLog) answered() { l.pending = l.pending[:0] }

// log is IssueLog.log.
func (l *issueLog) log(t time.Time, emit func(issueEvent)) {
	l.failed = true
	if l.failures != 0 && l.failures == l.cfg.failures {
		l.nextID++
		l.resets = append(l.resets, resetTimer{at: t.Add(l.cfg.failuresTimeout), id: l.nextID})
		l.lastReset = l.nextID
	}
	if l.failures != 0 && !l.locked {
		l.locked = true
		l.retryAt = t.Add(l.cfg.retry)
		emit(issueEvent{kind: issueIssue, at: t, failures: l.failures})
		return
	}
	l.resets = slices.DeleteFunc(l.resets, func(r resetTimer) bool { return r.id == l.lastReset })
	if l.cfg.remove {
		emit(issueEvent{kind: issueRemove, at: t})
		return
	}
	if !l.reconnecting {
		l.reconnecting = true
		l.reconnectAt = t.Add(l.cfg.reconnect)
		emit(issueEvent{kind: issueDead, at: t})
	}
}

// advance fires, in order, every timer and pending failure due by now.
func (l *issueLog) advance(now time.Time, emit func(issueEvent)) {
	for {
		kind, at := l.next()
		if kind == timerNone || at.After(now) {
			return
		}
		switch kind {
		case timerPending:
			l.pending = l.pending[1:]
			l.log(at, emit)
		case timerRetry: // attemptRetry
			l.retryAt = time.Time{}
			l.failures--
			l.failed = false
			l.locked = false
		case timerReset: // failuresReset
			l.resets = l.resets[1:]
			l.failures = l.cfg.failures
		case timerReconnect: // attemptReconnect, ping answered
			l.reconnectAt = time.Time{}
			emit(issueEvent{kind: issueReconnect, at: at})
			l.failed = false
			l.reconnecting = false
			l.failures = l.cfg.failures
		}
	}
}

type timerKind int

const (
	timerNone timerKind = iota
	timerPending
	timerRetry
	timerReset
	timerReconnect
)

// next returns the earliest timer. resets stay sorted: each is set
// failuresTimeout after a later log than the one before.
func (l *issueLog) next() (timerKind, time.Time) {
	kind, at := timerNone, time.Time{}
	consider := func(k timerKind, t time.Time) {
		if !t.IsZero() && (kind == timerNone || t.Before(at)) {
			kind, at = k, t
		}
	}
	if len(l.pending) > 0 {
		consider(timerPending, l.pending[0])
	}
	consider(timerRetry, l.retryAt)
	if len(l.resets) > 0 {
		consider(timerReset, l.resets[0].at)
	}
	consider(timerReconnect, l.reconnectAt)
	return kind, at
}
