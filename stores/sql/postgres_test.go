package sqlstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/stores/internal/condtest"
	sqlstore "github.com/sessionbridge/sessionbridge/stores/sql"
)

// TestPostgresSchemaTable: connect-session-knex with a table "schema.table"
// on PostgreSQL. knex's createTable writes a schema-qualified constraint
// name, which PostgreSQL refuses, so Node cannot start on it; Go creates
// the table in that schema (constraint <table>_pkey, knex's index name)
// and sets, reads, touches and prunes there.
func TestPostgresSchemaTable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k := kindNamed("knex-pg")
	f := e.table(t, k)
	schema := fmt.Sprintf("sbtest_schema_%d", rand.Uint64()%1e12)
	if _, err := f.db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = f.db.Exec("DROP SCHEMA " + schema + " CASCADE") })
	name := schema + ".sessions"

	_, nodeErr := f.node(t).try(t, "open", map[string]any{"store": map[string]any{"pkg": "knex", "db": "postgres", "table": name}})
	if nodeErr == nil {
		t.Fatal("connect-session-knex created a schema-qualified table: the difference is gone")
	}
	t.Logf("connect-session-knex on %q: %v", name, nodeErr)

	ctx := context.Background()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	st := f.store(t, sqlstore.Options{TableName: name, Now: clock(now)})
	var constraints, indexes string
	if err := f.db.QueryRow(`SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint
		WHERE conrelid = $1::regclass`, name).Scan(&constraints); err != nil {
		t.Fatal(err)
	}
	if err := f.db.QueryRow(`SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes
		WHERE schemaname = $1 AND tablename = 'sessions'`, schema).Scan(&indexes); err != nil {
		t.Fatal(err)
	}
	if constraints != "sessions_pkey" || indexes != schema+"_sessions_expired_index,sessions_pkey" {
		t.Fatalf("constraints %s, indexes %s", constraints, indexes)
	}
	s := condtest.NewSession(t, now, time.Hour, "n", 1)
	if err := st.Set(ctx, "a", s); err != nil {
		t.Fatal(err)
	}
	if err := st.Set(ctx, "a", s); err != nil { // the upsert's update
		t.Fatal(err)
	}
	got, v := condtest.GetVersion(t, st, "a")
	_ = got.Set("n", 2)
	if _, err := st.SetIf(ctx, "a", got, v); err != nil {
		t.Fatal(err)
	}
	if err := st.Touch(ctx, "a", got); err != nil {
		t.Fatal(err)
	}
	late := f.open(t, sqlstore.Options{TableName: name, Now: clock(now.Add(2 * time.Hour))})
	if n, err := late.Prune(ctx); err != nil || n != 1 {
		t.Fatalf("Prune: %d %v", n, err)
	}
	if tbl, _, _, _ := sqlstore.Names(st); !strings.HasPrefix(tbl, `"`+schema+`".`) {
		t.Fatalf("table %s", tbl)
	}
}
