package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/stores/internal/condtest"
	sqlstore "github.com/sessionbridge/sessionbridge/stores/sql"
)

// BenchmarkGet is one Get of a typical logged-in session (about 150
// bytes) per preset: the query, the read and the decode, from the local
// MariaDB and PostgreSQL, and from a SQLite file through
// modernc.org/sqlite.
func BenchmarkGet(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			st := e.table(b, k).store(b, sqlstore.Options{})
			if err := st.Set(ctx, "id", condtest.NewSession(b, time.Now(), 24*time.Hour, "passport", map[string]any{"user": 7})); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := st.Get(ctx, "id"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSet is one Set (the package's upsert) of that session, over
// 100 ids. On SQLite each is a committed write to the file (its fsync).
func BenchmarkSet(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	s := condtest.NewSession(b, time.Now(), 24*time.Hour, "passport", map[string]any{"user": 7})
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprintf("id-%d", i)
	}
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			st := e.table(b, k).store(b, sqlstore.Options{})
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := st.Set(ctx, ids[i%len(ids)], s); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
