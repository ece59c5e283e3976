// Package sessionbridge lets a Go service share sessions with a Node.js
// Express app that uses express-session (and passport): it reads the signed
// session cookie exactly as express-session does, loads the record from the
// same store, enforces its expiry, and can create, save, touch and destroy
// sessions that Node then accepts as its own.
//
// The layers, each usable alone:
//   - [github.com/sessionbridge/sessionbridge/cookiesig]: cookie-signature
//     signing and express-session's cookie parsing;
//   - [github.com/sessionbridge/sessionbridge/sessionjson]: the session
//     record, decoded and re-encoded without losing or reordering anything;
//   - stores/...: the connect-* store formats behind the [Store] interface;
//   - this package: from an *http.Request to a [Session], and middleware.
//
// A [Bridge] is configured like express-session: a cookie name (default
// "connect.sid"), the secrets (the first signs, all verify) and a store.
// Errors tell a client without a valid session ([ErrNoSession], with the
// precise reason wrapped) from a store that failed ([ErrStore]); the two
// never mix, so an outage is never mistaken for "logged out".
//
// Two middlewares: [Bridge.Middleware] only reads the session, for
// services that never change it; [Bridge.LoadAndSave] is express-session's
// request lifecycle with its options (Config.Resave, SaveUninitialized,
// Rolling, Unset), so a Go service keeps sessions alive, saves what its
// handlers change and sends the cookie exactly as the Node app would. Its
// saves never silently overwrite a change Node made meanwhile
// (Config.Conflict, [ConditionalStore]), and Config.TouchAfter spares the
// store most touches.
package sessionbridge
