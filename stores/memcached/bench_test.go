package memcachedstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/internal/faulttest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	memcachedstore "github.com/sessionbridge/sessionbridge/stores/memcached"
)

// benchStore returns a store holding one typical logged-in session (about
// 150 bytes) under "id".
func benchStore(b *testing.B) *memcachedstore.Store {
	st := memcachedstore.New(client(b), memcachedstore.Options{Prefix: prefix(b)})
	s := sessionjson.New(sessionjson.NewCookie(time.Now(), 24*time.Hour))
	_ = s.Set("passport", map[string]any{"user": 7})
	if err := st.Set(context.Background(), "id", s); err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkGet is one Get from the local memcached: the get, the flags
// check and the decode.
func BenchmarkGet(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Get(ctx, "id"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetVersion is Get plus the CAS id (gomemcache always reads it)
// and Touched.
func BenchmarkGetVersion(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := st.GetVersion(ctx, "id"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTouch is one Touch: a get and a cas of the record found.
func BenchmarkTouch(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	s, err := st.Get(ctx, "id")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := st.Touch(ctx, "id", s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRingGet is BenchmarkGet on a store made with NewRing, as the
// memcached:// store URL opens it: one server, and the same server listed
// with two private ones (the ring's lookup and its rules on every call).
func BenchmarkRingGet(b *testing.B) {
	one := services.MemcachedAddr(b)
	for _, tc := range []struct {
		name    string
		servers []string
	}{
		{"one", []string{one}},
		{"three", []string{one, faulttest.StartMemcached(b).Addr, faulttest.StartMemcached(b).Addr}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			st, err := memcachedstore.NewRing(tc.servers, memcachedstore.Options{Prefix: prefix(b)})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = st.Close() })
			s := sessionjson.New(sessionjson.NewCookie(time.Now(), 24*time.Hour))
			_ = s.Set("passport", map[string]any{"user": 7})
			ctx := context.Background()
			if err := st.Set(ctx, "id", s); err != nil {
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
