package mongostore_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
	mongostore "github.com/sessionbridge/sessionbridge/stores/mongo"
)

// BenchmarkGet is one Get of a typical logged-in session (about 150 bytes)
// from the local MongoDB-wire server: the query, the read and the decode.
func BenchmarkGet(b *testing.B) {
	db, _, _ := database(b)
	ctx := context.Background()
	st := mongostore.New(db, mongostore.Options{Collection: collection(b, db)})
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
// the same query, and the Version.
func BenchmarkGetVersion(b *testing.B) {
	db, _, _ := database(b)
	ctx := context.Background()
	st := mongostore.New(db, mongostore.Options{Collection: collection(b, db)})
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
