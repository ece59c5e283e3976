package pgstore_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/faulttest"
	pgstore "github.com/sessionbridge/sessionbridge/stores/postgres"
)

// TestStoreOutage runs faulttest.StoreOutage on a private PostgreSQL
// cluster, crash-stopped with pg_ctl stop -m immediate. The pool has the
// default settings: no health check is needed to recover.
func TestStoreOutage(t *testing.T) {
	faulttest.StoreOutage{Start: faulttest.StartPostgres, Connect: func(tb testing.TB, srv *faulttest.Server) sessionbridge.Store {
		p, err := pgxpool.New(context.Background(), srv.URL)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(p.Close)
		return pgstore.New(p, pgstore.Options{CreateTableIfMissing: true})
	}}.Run(t)
}
