package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
	pgstore "github.com/sessionbridge/sessionbridge/stores/postgres"
)

// BenchmarkGet is one Get of a typical logged-in session (about 150 bytes)
// from the local PostgreSQL: the query, the read and the decode.
func BenchmarkGet(b *testing.B) {
	p := pool(b, nil)
	ctx := context.Background()
	st := pgstore.New(p, pgstore.Options{SchemaName: schema(b, p), CreateTableIfMissing: true})
	s := sessionjson.New(sessionjson.NewCookie(time.Now(), 24*time.Hour))
	_ = s.Set("passport", map[string]any{"user": 7})
	if err := st.Set(ctx, "id", s); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Get(ctx, "id"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetVersion is GetVersion of the same session as BenchmarkGet:
// Get's query selecting expire too, and the Version.
func BenchmarkGetVersion(b *testing.B) {
	p := pool(b, nil)
	ctx := context.Background()
	st := pgstore.New(p, pgstore.Options{SchemaName: schema(b, p), CreateTableIfMissing: true})
	s := sessionjson.New(sessionjson.NewCookie(time.Now(), 24*time.Hour))
	_ = s.Set("passport", map[string]any{"user": 7})
	if err := st.Set(ctx, "id", s); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := st.GetVersion(ctx, "id"); err != nil {
			b.Fatal(err)
		}
	}
}
