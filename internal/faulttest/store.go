package faulttest

import (
	"testing"

	"github.com/sessionbridge/sessionbridge"
)

// StoreOutage is one store's outage test, the whole of its package's
// TestStoreOutage: a private server is frozen, then stopped hard and
// restarted on the same port and data under a steady load of session loads
// and socket authorizations. Every call while it is frozen or down must
// fail as a store error within its deadline, none may be accepted, and the
// same client must serve the session again after the restart (RunOutage).
type StoreOutage struct {
	// Start starts the private server: StartRedis, StartPostgres,
	// StartFerret or StartMemcached.
	Start func(testing.TB) *Server
	// Connect builds the Store on srv through a client it makes once and
	// closes in tb.Cleanup; that client must reconnect by itself.
	Connect func(tb testing.TB, srv *Server) sessionbridge.Store
	// LosesData is Outage.LosesData: the server keeps nothing across a
	// restart.
	LosesData bool
}

// Run starts the server, connects the Store and runs RunOutage on them
// with the default workers, deadline and slack.
func (s StoreOutage) Run(t *testing.T) Report {
	t.Helper()
	srv := s.Start(t)
	return RunOutage(t, Outage{Server: srv, Store: s.Connect(t, srv), LosesData: s.LosesData})
}
