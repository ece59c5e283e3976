package mongodbsessionstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
	mongodbsessionstore "github.com/sessionbridge/sessionbridge/stores/mongodbsession"
)

// BenchmarkGet is one Get of a typical logged-in session from the local
// MongoDB-wire server: the query, the BSON to JSON conversion and the
// decode.
func BenchmarkGet(b *testing.B) {
	srv := connect(b)
	ctx := context.Background()
	st := newStore(b, srv.db, mongodbsessionstore.Options{Collection: collection(b, srv.db)})
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

// BenchmarkSet is one Set of the same session: the read of the stored
// session, the JSON to BSON conversion and the upsert.
func BenchmarkSet(b *testing.B) {
	srv := connect(b)
	ctx := context.Background()
	st := newStore(b, srv.db, mongodbsessionstore.Options{Collection: collection(b, srv.db)})
	s := sessionjson.New(sessionjson.NewCookie(time.Now(), 24*time.Hour))
	_ = s.Set("passport", map[string]any{"user": 7})
	b.ReportAllocs()
	for b.Loop() {
		if err := st.Set(ctx, "id", s); err != nil {
			b.Fatal(err)
		}
	}
}
