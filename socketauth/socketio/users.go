package socketio

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/sessionbridge/sessionbridge/passportuser"
)

// RoomPrefix starts the name of every per-user room.
const RoomPrefix = "sessionbridge:user:"

// ErrNoUser means the value given as a user is not a passport user (it is
// JSON null, false or "", which passport treats as "not logged in").
var ErrNoUser = errors.New("socketio: not a passport user")

// Scope is where sockets are looked up: a *socket.Server (its main
// namespace "/") or a socket.Namespace (io.Of(name, nil)). Both also reach
// the sockets of other servers through the installed adapter.
type Scope interface {
	In(room ...socket.Room) *socket.BroadcastOperator
	FetchSockets() func(func([]*socket.RemoteSocket, error))
}

var (
	_ Scope = (*socket.Server)(nil)
	_ Scope = (socket.Namespace)(nil)
)

// UserRoom returns the room every socket of a passport user joins:
// RoomPrefix followed by the hex SHA-256 of the user's canonical JSON. The
// hash keeps user data (names, e-mail addresses in an object user) out of
// room names, which adapters publish to every server; no session id is ever
// part of a room name.
//
// user is the stored passport user as json.RawMessage (Data.User,
// socketauth.Auth.StoredUser), a *Data, or any Go value that marshals to
// the same JSON passport stored: 7 and json.RawMessage("7") name the same
// user, "7" (a JSON string) another one. Canonical JSON has object keys
// sorted and no insignificant space, so an object's key order does not
// matter; numbers are compared by their JSON text, as JavaScript writes it
// (integers without exponent).
func UserRoom(user any) (socket.Room, error) {
	var raw []byte
	switch u := user.(type) {
	case json.RawMessage:
		raw = u
	case *Data:
		if u == nil {
			return "", ErrNoUser
		}
		raw = u.User
	default:
		b, err := json.Marshal(u)
		if err != nil {
			return "", fmt.Errorf("socketio: user: %w", err)
		}
		raw = b
	}
	canon, err := canonicalJSON(raw)
	if err != nil {
		return "", err
	}
	switch string(canon) {
	case "null", "false", `""`:
		return "", ErrNoUser
	}
	sum := sha256.Sum256(canon)
	return socket.Room(RoomPrefix + hex.EncodeToString(sum[:])), nil
}

func canonicalJSON(raw []byte) ([]byte, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, ErrNoUser
	}
	return passportuser.Canonical(raw)
}

// fetch waits for a FetchSockets callback or for ctx.
func fetch(ctx context.Context, f func(func([]*socket.RemoteSocket, error))) ([]*socket.RemoteSocket, error) {
	type result struct {
		sockets []*socket.RemoteSocket
		err     error
	}
	ch := make(chan result, 1)
	f(func(rs []*socket.RemoteSocket, err error) {
		select {
		case ch <- result{rs, err}:
		default: // a second answer: ignore
		}
	})
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("socketio: fetch sockets: %w", r.err)
		}
		return r.sockets, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("socketio: fetch sockets: %w", ctx.Err())
	}
}

// SocketsOfUser returns the connected sockets of a passport user (see
// UserRoom for what user may be), on this server and on every server
// sharing the scope's adapter: In(UserRoom(user)).FetchSockets(), waited
// for until ctx ends. Read each socket's Data with FromRemote; act on it
// with RemoteSocket.Emit, Join, Leave or Disconnect.
func SocketsOfUser(ctx context.Context, scope Scope, user any) ([]*socket.RemoteSocket, error) {
	room, err := UserRoom(user)
	if err != nil {
		return nil, err
	}
	return fetch(ctx, scope.In(room).FetchSockets())
}

// FilterSockets returns the sockets accepted by Middleware, on this server
// and on every server sharing the scope's adapter, whose Data satisfies
// keep: passport.socketio's filterSocketsByUser, which has returned nothing
// since socket.io 3. It fetches every socket of the scope; prefer
// SocketsOfUser to find one user's sockets.
func FilterSockets(ctx context.Context, scope Scope, keep func(*Data) bool) ([]*socket.RemoteSocket, error) {
	all, err := fetch(ctx, scope.FetchSockets())
	if err != nil {
		return nil, err
	}
	var out []*socket.RemoteSocket
	for _, rs := range all {
		if d, ok := FromRemote(rs); ok && keep(d) {
			out = append(out, rs)
		}
	}
	return out, nil
}

// DisconnectUser disconnects every socket of a passport user, on this
// server and on every server sharing the scope's adapter, with
// Disconnect(false) (socket.io-client does not reconnect on its own). To
// tell the clients why, emit first: scope.In(room).Emit(event, reason),
// with room from UserRoom (an adapter without cross-server broadcast, like
// the test adapter, delivers that emit only locally).
func DisconnectUser(scope Scope, user any) error {
	room, err := UserRoom(user)
	if err != nil {
		return err
	}
	scope.In(room).DisconnectSockets(false)
	return nil
}
