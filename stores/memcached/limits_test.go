package memcachedstore_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	memcachedstore "github.com/sessionbridge/sessionbridge/stores/memcached"
)

// untilMaxExptime is the lifetime left until memcached's largest exptime,
// 2^31-1 (2038-01-19T03:14:07Z).
func untilMaxExptime() int { return int(math.MaxInt32 - time.Now().Unix()) }

// TestHugeLifetimes: Node writes sessions whose cookie lives 1000 years and
// 10^15 ms (with connect-memcached's ttl option: without it Node's (x/1000)|0
// wraps and memcached drops its own item at once, see below); Go, without
// the ttl option, reads, touches and saves them. Each Go write must keep the
// item until 2038 (the largest 32-bit exptime). A lifetime computed in
// time.Duration wrapped to a negative one for 1000 years, and Go deleted the
// session on touch.
func TestHugeLifetimes(t *testing.T) {
	for _, maxAge := range []int64{1000 * 365 * 86400 * 1000, 1e15} {
		t.Run(strconv.FormatInt(maxAge, 10), func(t *testing.T) {
			p := prefix(t)
			st := memcachedstore.New(client(t), memcachedstore.Options{Prefix: p})
			if d := st.Lifetime(newSession(t, time.Now(), 0)); d != memcachedstore.DefaultTTL {
				t.Fatalf("browser-session lifetime %v", d)
			}
			// Node on its own loses the session at once.
			plain := nodetest.StartApp(t, nodeEnv(t, p, "MAX_AGE_MS", strconv.FormatInt(maxAge, 10)))
			if c := plain.Login("alice", "secret"); plain.Me(c).LoggedIn {
				t.Log("note: Node now keeps its own long-lived session in memcached")
			} else {
				t.Logf("Node without the ttl option: its (maxAge/1000)|0 wraps, the session is gone at once")
			}

			app := nodetest.StartApp(t, nodeEnv(t, p, "MAX_AGE_MS", strconv.FormatInt(maxAge, 10), "MEMCACHED_TTL", "3600"))
			cookie := app.Login("alice", "secret")
			peer := storetest.Peer{App: app, Bridge: bridge(t, st, 0)}
			first := true
			peer.LongLived(t, cookie, func(t *testing.T, s *sessionbridge.Session) {
				t.Helper()
				secs, ok := ttl(t, st.Key(s.ID))
				switch {
				case !ok:
					t.Fatal("the item is gone")
				case first: // as Node stored it, with its ttl option
					if secs < 3590 || secs > 3600 {
						t.Fatalf("Node's item: %d s left, want 3600", secs)
					}
					first = false
				case secs < untilMaxExptime()-5:
					t.Fatalf("after a Go write %d s left, want until 2038 (%d s)", secs, untilMaxExptime())
				}
			})
			if d := st.Lifetime(peerLoad(t, peer, cookie)); d <= 0 {
				t.Fatalf("Lifetime() = %v for a live session; it must saturate, not wrap", d)
			}
		})
	}
}

func newRequest(b *sessionbridge.Bridge, cookie string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", b.CookieName()+"="+cookie)
	return r
}

func peerLoad(t *testing.T, p storetest.Peer, cookie string) *sessionjson.Session {
	t.Helper()
	r := newRequest(p.Bridge, cookie)
	s, err := p.Bridge.Load(r)
	if err != nil {
		t.Fatal(err)
	}
	return s.Record
}

// TestLifetimeSaturates: cookie expiries beyond the JavaScript Date range
// and beyond time.Duration (which only Go can hold) store the item until
// 2038, and an expired cookie still deletes it.
func TestLifetimeSaturates(t *testing.T) {
	p := prefix(t)
	st := memcachedstore.New(client(t), memcachedstore.Options{Prefix: p})
	ctx := context.Background()
	for name, exp := range map[string]time.Time{
		"300 years":   time.Now().AddDate(300, 0, 0),
		"year 999999": time.Date(999999, 1, 1, 0, 0, 0, 0, time.UTC),
		"year 3e8":    time.Date(300_000_000, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		s := newSession(t, time.Now(), time.Hour)
		s.Cookie.Expires = &exp
		if err := st.Set(ctx, "x", s); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if secs, ok := ttl(t, p+"x"); !ok || secs < untilMaxExptime()-5 {
			t.Fatalf("%s: %d s left (found %v), want until 2038", name, secs, ok)
		}
		if d := st.Lifetime(s); d != time.Duration(math.MaxInt64/int64(time.Second))*time.Second {
			t.Fatalf("%s: Lifetime() = %v, want the largest whole-second Duration", name, d)
		}
	}
	old := newSession(t, time.Now().Add(-2*time.Hour), time.Hour)
	if err := st.Set(ctx, "x", old); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "x"); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("expired cookie: %v, want the item deleted", err)
	}
}

// TestSizeLimit: memcached itself refuses items over its item size (1 MiB
// by default), so a record can never be larger; the Decoder's limit still
// applies to what it holds.
func TestSizeLimit(t *testing.T) {
	p := prefix(t)
	put := func(sid string, rec []byte) { rawSet(t, p+sid, memcachedstore.FlagJSON, 60, rec) }
	st := memcachedstore.New(client(t), memcachedstore.Options{Prefix: p, Decoder: sessionjson.Decoder{MaxBytes: 100 << 10}})
	storetest.SizeLimit(t, st, 100<<10, put)
	l := readLine(t, raw(t, "set "+p+"huge 2 60 "+strconv.Itoa(2<<20), make([]byte, 2<<20)))
	if l == "STORED" {
		t.Fatal("premise: memcached should refuse a 2 MiB item (item size limit, -I)")
	}
	t.Logf("memcached refuses a 2 MiB item: %s", l)
}
