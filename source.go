package sessionbridge

import (
	"context"
	"net/http"
)

// A SessionSource finds the session a client presents and loads sessions by
// id: what code that authorizes from a shared session needs of a session
// format (socketauth.Authorizer and socketauth.Tracker take one). A [Bridge]
// is the SessionSource of express-session and @fastify/session;
// cookiesession.Bridge and koasession.Bridge are those of cookie-session
// and koa-session, whose "id" in cookie mode is the signed cookie value
// itself (they keep no server record).
//
// The errors follow the Bridge's: a client without a valid session gets an
// error wrapping [ErrNoSession] and the reason (a cookiesig sentinel,
// [ErrNotFound] or [ErrExpired]); a store that failed gets one wrapping
// [ErrStore]. No error string contains a credential, an id or a secret.
type SessionSource interface {
	// SessionID returns the verified session id that r's Cookie header
	// carries. With no session cookie the error wraps ErrNoSession and
	// cookiesig.ErrNoCookie; with an unsigned, forged or malformed one it
	// wraps ErrNoSession and cookiesig.ErrNotSigned, ErrBadSignature or
	// ErrMalformed.
	SessionID(r *http.Request) (string, error)
	// SessionIDFromValue returns the verified session id of a session
	// cookie's value presented outside the Cookie header (a socket.io auth
	// payload, a query parameter), already URL-decoded: for express-session
	// "s:<id>.<signature>", for @fastify/session its cookiePrefix, the id
	// and the signature, for the keygrip formats (cookie-session,
	// koa-session) "<value>.<signature>", the two cookies' values. Errors
	// are SessionID's, except that an empty value is not "no cookie" but
	// cookiesig.ErrNotSigned or ErrMalformed.
	SessionIDFromValue(value string) (string, error)
	// LoadID loads the session of an id that SessionID or
	// SessionIDFromValue verified, or that a caller got from them earlier
	// (to re-validate an open connection); never an id a client sent
	// unverified. ctx bounds the whole load. A session that is gone or
	// expired gives ErrNoSession, a store failure ErrStore.
	LoadID(ctx context.Context, sid string) (*Session, error)
}

// A SessionKeeper is a [SessionSource] that can also extend a session's
// life without an HTTP request: what keeps the session of an open socket
// alive while its client is active (socketauth.TrackerOptions.KeepAlive).
// A [Bridge] is one: [Bridge.KeepAlive].
type SessionKeeper interface {
	SessionSource
	// KeepAlive extends the life of the session sid (an id SessionID or
	// SessionIDFromValue verified) as a request would, without changing
	// its data. A session that is gone or expired gives ErrNoSession, a
	// store failure ErrStore; ctx bounds the call.
	KeepAlive(ctx context.Context, sid string) error
}

// A SessionUpdater is a [SessionSource] that can also reload a session and
// change it outside an HTTP request without losing a change made meanwhile
// by another writer (Node, another Go instance): what a socket handler
// needs to read fresh session data and write to it
// (socketauth/socketio.Update). A [Bridge] is one: [Bridge.Update].
type SessionUpdater interface {
	SessionSource
	// Update loads the session sid (a verified id), calls fn with it, and
	// saves what fn changed, merging any change stored since the load as
	// the source's conflict rule says. An error from fn is returned as is
	// and nothing is saved; a session that is gone or expired gives
	// ErrNoSession, a store failure ErrStore, an unresolved conflict
	// ErrConflict. ctx bounds the call.
	Update(ctx context.Context, sid string, fn func(*Session) error) error
}

var (
	_ SessionSource  = (*Bridge)(nil)
	_ SessionKeeper  = (*Bridge)(nil)
	_ SessionUpdater = (*Bridge)(nil)
)
