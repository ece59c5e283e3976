package sessionbridge_test

import (
	"net/http/httptest"
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
