package sessionbridge_test

import (
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
)

// BenchmarkLoadMemory is the whole request -> session path with the
// in-memory store: Cookie header, unsign, store get, decode, expiry check.
func BenchmarkLoadMemory(b *testing.B) {
	store, _ := exampleStore()
	now := time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)
	bridge, _ := sessionbridge.New(sessionbridge.Config{
		Secrets: []string{"keyboard cat"}, Store: store, Now: func() time.Time { return now },
	})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", "_ga=1; connect.sid=s%3AwUSQkLG76IZV6i_SmQndn-U6jpP2yB8G.HySvsH9RRevbDO6GrU0Y4z4k7URYkXaHc2YY0EENLqg")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bridge.Load(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadManyKeys is the request -> session path for a record of
// about 320 KB with 30k top-level keys (a session users can add keys to);
// it reports ns/key. Comparing each key with every earlier one made this
// 1.8 s per request.
func BenchmarkLoadManyKeys(b *testing.B) {
	store, sid := exampleStore()
	const keys = 30_000
	rec := []byte(`{"cookie":{"originalMaxAge":3600000,"expires":"2026-11-18T12:30:00.000Z","httpOnly":true,"path":"/"},"passport":{"user":7}`)
	for i := range keys {
		rec = append(rec, `,"item`...)
		rec = strconv.AppendInt(rec, int64(i), 10)
		rec = append(rec, `":1`...)
	}
	now := time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)
	store.SetClock(func() time.Time { return now })
	store.SetRaw(sid, append(rec, '}'))
	bridge, _ := sessionbridge.New(sessionbridge.Config{
		Secrets: []string{"keyboard cat"}, Store: store, Now: func() time.Time { return now },
	})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", "_ga=1; connect.sid=s%3AwUSQkLG76IZV6i_SmQndn-U6jpP2yB8G.HySvsH9RRevbDO6GrU0Y4z4k7URYkXaHc2YY0EENLqg")
	b.SetBytes(int64(len(rec) + 1))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bridge.Load(r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/keys, "ns/key")
}
