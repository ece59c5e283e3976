package pgstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	pgstore "github.com/sessionbridge/sessionbridge/stores/postgres"
)

// hookDB runs after once a query's row has been read.
type hookDB struct {
	pgstore.DB
	after func(sql string)
}

func (h hookDB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return hookRow{h.DB.QueryRow(ctx, sql, args...), func() { h.after(sql) }}
}

type hookRow struct {
	row   pgx.Row
	after func()
}

func (r hookRow) Scan(dst ...any) error {
	err := r.row.Scan(dst...)
	r.after()
	return err
}

// TestGetMiss: Get selects only records within the limit, so when no row
// comes back a second query decides. A 150 KB record that PostgreSQL
// stores compressed in fewer bytes than the limit is refused as too large
// without being sent (a pg_column_size shortcut would let it through), an
// expired row is not found whatever its size, and a row written between
// the two queries is read as it is then.
func TestGetMiss(t *testing.T) {
	p := pool(t, nil)
	ctx := context.Background()
	sch := schema(t, p)
	const limit = 2000
	for _, tz := range []string{"", "Asia/Tokyo"} {
		st := pgstore.New(p, pgstore.Options{SchemaName: sch, TimeZone: tz, Decoder: sessionjson.Decoder{MaxBytes: limit}})
		if err := st.CreateTable(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Exec(ctx, `TRUNCATE `+st.Table()); err != nil {
			t.Fatal(err)
		}
		// A day away, expire is on the same side of now in the server zone
		// and in Tokyo.
		put := func(sid string, pad int, expire string) {
			t.Helper()
			if _, err := p.Exec(ctx, `INSERT INTO `+st.Table()+` VALUES ($1, ('{"cookie":{},"pad":"' || repeat('x', $2) || '"}')::json, now() + $3::interval)`, sid, pad, expire); err != nil {
				t.Fatal(err)
			}
		}
		put("compressed", 150_000, "1 day")
		put("expired-large", 150_000, "-1 day")
		put("expired", 1, "-1 day")
		var stored int
		if err := p.QueryRow(ctx, `SELECT pg_column_size(sess) FROM `+st.Table()+` WHERE sid = 'compressed'`).Scan(&stored); err != nil || stored >= limit {
			t.Fatalf("premise: the compressed record takes %d bytes (%v), want fewer than %d", stored, err, limit)
		}
		for sid, want := range map[string]error{
			"compressed":    sessionjson.ErrTooLarge,
			"expired-large": sessionbridge.ErrNotFound,
			"expired":       sessionbridge.ErrNotFound,
			"nobody":        sessionbridge.ErrNotFound,
		} {
			var err error
			alloc := storetest.Allocated(func() { _, err = st.Get(ctx, sid) })
			if !errors.Is(err, want) {
				t.Fatalf("TimeZone %q, %s: %v, want %v", tz, sid, err, want)
			}
			if alloc > 64<<10 {
				t.Fatalf("TimeZone %q, %s: Get allocated %d bytes; PostgreSQL must not send the record", tz, sid, alloc)
			}
		}

		late := pgstore.New(hookDB{p, func(sql string) {
			if strings.HasPrefix(sql, "SELECT sess ") {
				put("late", 1, "1 day")
			}
		}}, pgstore.Options{SchemaName: sch, TimeZone: tz, Decoder: sessionjson.Decoder{MaxBytes: limit}})
		if s, err := late.Get(ctx, "late"); err != nil || !s.Has("pad") {
			t.Fatalf("TimeZone %q: a row written between the two queries: %v", tz, err)
		}
	}
}
