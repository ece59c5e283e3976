package sessionbridge

import "context"

// A SessionEvent is a change to a stored session, as a [SessionFeed]
// reports it.
type SessionEvent struct {
	// ID is the session id (the store key without any prefix). Like every
	// session id it is a credential's core: never log it.
	ID string
	// Ended is true when the record is gone (destroyed, expired, evicted)
	// and false when it was written: its user may have logged out or
	// changed, so it needs reading again to know.
	Ended bool
}

// A SessionFeed reports changes to stored sessions as they happen, so that
// what a session authorized (open sockets, see socketauth.Tracker.Watch)
// ends with it instead of at the next periodic check. A store that can
// notify provides one (redisstore.Store.Feed: Redis keyspace
// notifications).
type SessionFeed interface {
	// Watch calls notify for each change until ctx ends, then returns nil;
	// it returns an error when it cannot start (notifications off, server
	// unreachable) or stops early. notify may be called from several
	// goroutines at once and should return quickly. A feed may report
	// changes to sessions the caller does not care about, and may miss
	// changes while it is not running (before Watch subscribed, across a
	// reconnection), so it complements periodic re-validation rather than
	// replacing it.
	Watch(ctx context.Context, notify func(SessionEvent)) error
}
