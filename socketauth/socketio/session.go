package socketio

import (
	"context"
	"errors"
	"fmt"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/socketauth"
)

// ErrUnsupported means the Authorizer's session source cannot do what was
// asked: Update needs a sessionbridge.SessionUpdater (a
// *sessionbridge.Bridge is one).
var ErrUnsupported = errors.New("socketio: the session source cannot update sessions")

// errNoSession is the cause for a socket without a session of its own.
var errNoSession = fmt.Errorf("%w: the socket has no session", socketauth.ErrUnauthorized)

// sessionOf returns how a local socket reaches its session: only a
// logged-in socket that Middleware accepted on this server has one.
func sessionOf(s *socket.Socket) (*sessionRef, error) {
	d, ok := dataOf(s)
	if !ok || d.ref == nil {
		return nil, errNoSession
	}
	return d.ref, nil
}

// LoadSession returns the session of a logged-in socket on this server as
// the store holds it now (express-session's req.session.reload), with the
// changes Node and other Go instances made since the handshake. It is a
// store read each time; ctx bounds it.
//
// A socket Middleware did not accept, or accepted as anonymous, gives an
// error wrapping socketauth.ErrUnauthorized. A session that is gone or
// expired gives one wrapping sessionbridge.ErrNoSession, and the socket,
// if tracked (Options.Tracker), is revoked with
// socketauth.ReasonSessionEnded; a store failure wraps
// sessionbridge.ErrStore and revokes nothing.
func LoadSession(ctx context.Context, s *socket.Socket) (*sessionbridge.Session, error) {
	ref, err := sessionOf(s)
	if err != nil {
		return nil, err
	}
	sess, err := ref.src.LoadID(ctx, ref.sid)
	if err != nil {
		ref.ended(err)
		return nil, err
	}
	if sess == nil {
		return nil, fmt.Errorf("%w: the session source returned no session and no error", sessionbridge.ErrStore)
	}
	return sess, nil
}

// Update changes the session of a logged-in socket on this server without
// losing anybody else's change: it loads the session as stored now, calls
// fn with it, and, if fn changed it, saves it through the source's Update
// (sessionbridge.Bridge.Update): when Node or another Go instance wrote
// the session between the load and the save, only the top-level keys fn
// changed are applied to what they wrote (Config.Conflict), so their
// changes to other keys survive. Node's next request sees fn's changes.
//
//	err := socketio.Update(ctx, s, func(sess *sessionbridge.Session) error {
//		return sess.Record.Set("theme", "dark")
//	})
//
// This is what express-socket.io-session's socket.handshake.session and
// save() are used for, without their lost updates: that session is the
// handshake's copy, and saving it writes every key back as it was then.
// fn is called once; after a conflict the source re-applies fn's changes
// to the newer record without calling fn again. Update does not extend the
// session's life (see socketauth.TrackerOptions.KeepAlive), nor change the
// socket's user (Auth, User): a session whose user fn changes or logs out
// is revoked by the Tracker's next re-validation, like a Node logout.
//
// An error from fn is returned as is and nothing is saved. A socket
// Middleware did not accept, or accepted as anonymous, gives an error
// wrapping socketauth.ErrUnauthorized; a source that cannot update
// sessions, ErrUnsupported. A session that is gone or expired gives an
// error wrapping sessionbridge.ErrNoSession, and the socket, if tracked, is
// revoked with socketauth.ReasonSessionEnded; a store failure wraps
// sessionbridge.ErrStore and revokes nothing; a conflict the source could
// not merge wraps sessionbridge.ErrConflict. ctx bounds the whole update.
func Update(ctx context.Context, s *socket.Socket, fn func(*sessionbridge.Session) error) error {
	ref, err := sessionOf(s)
	if err != nil {
		return err
	}
	up, ok := ref.src.(sessionbridge.SessionUpdater)
	if !ok {
		return ErrUnsupported
	}
	fnFailed := false // fn's own error is returned as is: not the source's word
	err = up.Update(ctx, ref.sid, func(sess *sessionbridge.Session) error {
		err := fn(sess)
		fnFailed = err != nil
		return err
	})
	if err != nil && !fnFailed {
		ref.ended(err)
	}
	return err
}

// ended revokes the socket's session when err, from the source, says it is
// gone.
func (ref *sessionRef) ended(err error) {
	if ref.tracker != nil && errors.Is(err, sessionbridge.ErrNoSession) {
		ref.tracker.Revoke(ref.sid, socketauth.ReasonSessionEnded)
	}
}
