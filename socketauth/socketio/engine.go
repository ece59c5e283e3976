package socketio

import (
	"net/http"

	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/sessionbridge/sessionbridge/socketauth"
)

// EngineMode returns the socketauth.Mode for the engine.io server of io, for
// socketauth.Authorizer.MiddlewareFor in front of io's handler:
//
//	h := io.ServeHandler(nil)
//	mux.Handle("/socket.io/", auth.MiddlewareFor(socketio.EngineMode(io), h))
//
// It looks a sid up in the engine's table of open connections
// (Engine().Clients()) when a request arrives, so it may be built before
// the engine exists; until then, and for a nil io, no sid is known. The
// request it returns for a connection is the engine's handshake request,
// the one the middleware authorized. With a nil io it returns the zero
// Mode, which authorizes every request.
//
// The net/http middleware keeps unauthorized clients from opening engine.io
// connections at all; the namespace middleware (Middleware) is still what
// authorizes each socket.io CONNECT, whatever the transport.
func EngineMode(io *socket.Server) socketauth.Mode {
	if io == nil {
		return socketauth.Mode{}
	}
	return socketauth.EngineIO(func(sid string) (*http.Request, bool) {
		e := io.Engine()
		if e == nil {
			return nil, false
		}
		c, ok := e.Clients().Load(sid)
		if !ok || c == nil {
			return nil, false
		}
		hc := c.Request()
		if hc == nil || hc.Request() == nil {
			return nil, false
		}
		return hc.Request(), true
	})
}
