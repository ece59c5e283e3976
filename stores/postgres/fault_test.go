package pgstore_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionbridge/sessionbridge/internal/faulttest"
	pgstore "github.com/sessionbridge/sessionbridge/stores/postgres"
)

// TestStoreOutage freezes, then crash-stops (pg_ctl stop -m immediate) a
// private PostgreSQL cluster under a steady load of session loads and socket
// authorizations, and restarts it on the same port and data directory: every
// call while it is frozen or down must fail as a store error within its
// deadline, none may be accepted, and the same pool (default settings, no
// health check needed) must serve the surviving session again after the
// restart.
func TestStoreOutage(t *testing.T) {
	srv := faulttest.StartPostgres(t)
	p, err := pgxpool.New(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	st := pgstore.New(p, pgstore.Options{CreateTableIfMissing: true})
	faulttest.RunOutage(t, faulttest.Outage{Server: srv, Store: st})
}
