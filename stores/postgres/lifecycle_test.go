package pgstore_test

import (
	"context"
	"testing"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	pgstore "github.com/sessionbridge/sessionbridge/stores/postgres"
)

// TestLifecycleWithNode: Go behind Bridge.LoadAndSave and Node's
// connect-pg-simple on one table, as express-session peers.
func TestLifecycleWithNode(t *testing.T) {
	p := pool(t, nil)
	storetest.Lifecycle(t, 0, func(t *testing.T, env map[string]string) (*nodetest.App, sessionbridge.Store) {
		sch := schema(t, p)
		st := pgstore.New(p, pgstore.Options{SchemaName: sch, CreateTableIfMissing: true})
		if err := st.CreateTable(context.Background()); err != nil {
			t.Fatal(err)
		}
		env["STORE"] = "postgres"
		env["PG_URL"] = services.PostgresURL(t)
		env["PG_SCHEMA"] = sch
		return nodetest.StartApp(t, env), st
	})
}
