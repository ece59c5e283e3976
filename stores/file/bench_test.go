package filestore_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
	filestore "github.com/sessionbridge/sessionbridge/stores/file"
)

// benchStore returns a store in a temporary directory holding one typical
// logged-in session (about 180 bytes with __lastAccess) under sid.
func benchStore(b *testing.B) *filestore.Store {
	st, err := filestore.New(filestore.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	s := sessionjson.New(sessionjson.NewCookie(time.Now(), 24*time.Hour))
	_ = s.Set("passport", map[string]any{"user": 7})
	if err := st.Set(context.Background(), sid, s); err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkGet is one Get: stat, open, read, decode, expiry check.
func BenchmarkGet(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Get(ctx, sid); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetVersion is Get plus the SHA-256 of the file's bytes.
func BenchmarkGetVersion(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := st.GetVersion(ctx, sid); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSet is one Set: lock, temporary file, fsync, rename, unlock.
func BenchmarkSet(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	s, err := st.Get(ctx, sid)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := st.Set(ctx, sid, s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSetIf is Set with the conditional read under the lock, on the
// Version the previous SetIf returned.
func BenchmarkSetIf(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	s, v, err := st.GetVersion(ctx, sid)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if v, err = st.SetIf(ctx, sid, s, v); err != nil {
			b.Fatal(err)
		}
	}
}
