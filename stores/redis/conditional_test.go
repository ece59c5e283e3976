package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/condtest"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// modes are the clients every conditional test runs on: the script names
// one key, so a Cluster runs it like a single node.
var modes = []struct {
	name string
	mk   func(*testing.T) redis.UniversalClient
}{{"single", single}, {"cluster", cluster}}

func rawValue(t *testing.T, c redis.UniversalClient, key string) string {
	t.Helper()
	v, err := c.Get(context.Background(), key).Result()
	if errors.Is(err, redis.Nil) {
		return "<none>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSetIf: the compare-and-set's Tag is the bytes stored, it sets the
// TTL, and a key that became another Redis type is a conflict that keeps
// it. sessionbridgetest's Conditional checks (run on both modes by
// TestContract) cover the rest: the Version SetIf returns (Chain), a stale
// Version or another Set between (Stale), a Destroy (Destroyed), an empty
// Version (EmptyTag), and a done ctx (Context).
func TestSetIf(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := m.mk(t)
			ctx := context.Background()
			p := prefix(t)
			st := redisstore.New(c, redisstore.Options{Prefix: p})
			now := time.Now()
			if err := st.Set(ctx, "a", condtest.NewSession(t, now, time.Hour, "n", 0)); err != nil {
				t.Fatal(err)
			}

			s, v := condtest.GetVersion(t, st, "a")
			if v.Tag != rawValue(t, c, p+"a") {
				t.Fatal("Tag is not the bytes stored")
			}
			_ = s.Set("n", 1)
			v2, err := st.SetIf(ctx, "a", s, v)
			if err != nil {
				t.Fatalf("SetIf on the record read: %v", err)
			}
			if got := rawValue(t, c, p+"a"); v2.Tag != got || !strings.Contains(got, `"n":1`) {
				t.Fatalf("stored %s, returned Tag %s", got, v2.Tag)
			}
			if ttl := c.TTL(ctx, p+"a").Val(); ttl < 59*time.Minute || ttl > time.Hour {
				t.Fatalf("TTL after SetIf: %v, want about 1h", ttl)
			}

			// A key that became another Redis type is a conflict, and is kept.
			if err := st.Set(ctx, "h", condtest.NewSession(t, now, time.Hour)); err != nil {
				t.Fatal(err)
			}
			s, v = condtest.GetVersion(t, st, "h")
			c.Del(ctx, p+"h")
			c.HSet(ctx, p+"h", "f", "v")
			_, err = st.SetIf(ctx, "h", s, v)
			if !errors.Is(err, sessionbridge.ErrConflict) {
				t.Fatalf("SetIf on a hash: %v, want ErrConflict", err)
			}
			condtest.NotNamed(t, err, p+"h")
			if c.HGet(ctx, p+"h", "f").Val() != "v" {
				t.Fatal("SetIf damaged a key of another type")
			}
			c.Del(ctx, p+"h")
		})
	}
}

// TestSetIfTTLRules: SetIf writes with exactly Set's connect-redis rules:
// EX rounded up from cookie.expires, the ttl option for a browser-session
// cookie, no expiry with DisableTTL, and a delete (still conditional) for a
// cookie that has expired.
func TestSetIfTTLRules(t *testing.T) {
	c := single(t)
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	p := prefix(t)
	st := redisstore.New(c, redisstore.Options{Prefix: p, TTL: time.Minute, Now: clock})
	if err := st.Set(ctx, "a", condtest.NewSession(t, now, time.Hour)); err != nil {
		t.Fatal(err)
	}

	s, v := condtest.GetVersion(t, st, "a")
	s.Cookie = sessionjson.NewCookie(now, 90500*time.Millisecond)
	if _, err := st.SetIf(ctx, "a", s, v); err != nil {
		t.Fatal(err)
	}
	if ttl := c.TTL(ctx, p+"a").Val(); ttl != 91*time.Second {
		t.Fatalf("TTL for 90.5 s left: %v, want 91s (Math.ceil)", ttl)
	}

	s, v = condtest.GetVersion(t, st, "a")
	s.Cookie = sessionjson.NewCookie(now, 0)
	if _, err := st.SetIf(ctx, "a", s, v); err != nil {
		t.Fatal(err)
	}
	if ttl := c.TTL(ctx, p+"a").Val(); ttl != time.Minute {
		t.Fatalf("browser-session TTL: %v, want the ttl option", ttl)
	}

	noTTL := redisstore.New(c, redisstore.Options{Prefix: p, DisableTTL: true, Now: clock})
	s, v = condtest.GetVersion(t, noTTL, "a")
	_ = s.Set("k", 1)
	v2, err := noTTL.SetIf(ctx, "a", s, v)
	if err != nil {
		t.Fatal(err)
	}
	if ttl := ttlSeconds(t, c, p+"a"); ttl != -1 {
		t.Fatalf("DisableTTL: TTL %d s, want none (SET drops the old TTL)", ttl)
	}
	if !v2.Touched.IsZero() {
		t.Fatalf("DisableTTL: Touched %v, want zero", v2.Touched)
	}

	// An expired cookie deletes, as Set does, but only the record read.
	s, v = condtest.GetVersion(t, st, "a")
	s.Cookie = sessionjson.NewCookie(now.Add(-2*time.Hour), time.Hour)
	if err := st.Set(ctx, "a", condtest.NewSession(t, now, time.Hour, "other", 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetIf(ctx, "a", s, v); !errors.Is(err, sessionbridge.ErrConflict) {
		t.Fatalf("expired SetIf after another Set: %v, want ErrConflict", err)
	}
	if c.Exists(ctx, p+"a").Val() != 1 {
		t.Fatal("a conflicting expired SetIf deleted the other writer's record")
	}
	_, v = condtest.GetVersion(t, st, "a")
	v3, err := st.SetIf(ctx, "a", s, v)
	if err != nil {
		t.Fatal(err)
	}
	if c.Exists(ctx, p+"a").Val() != 0 {
		t.Fatal("SetIf with an expired cookie must DEL, as Set does")
	}
	if v3 != (sessionbridge.Version{}) {
		t.Fatalf("Version after a delete: %+v, want empty", v3)
	}
}

// TestSetIfNode: a write by the real connect-redis between Go's GetVersion
// and SetIf is a conflict that keeps Node's data; Go's retry then keeps
// both. Node's touch (EXPIRE, the record unchanged) is no conflict.
func TestSetIfNode(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := m.mk(t)
			env := map[string]string{"REDIS_PREFIX": prefix(t), "MAX_AGE_MS": "3600000"}
			if m.name == "single" {
				env["STORE"] = "redis"
				env["REDIS_URL"] = "redis://" + services.RedisAddr(t)
			} else {
				env["STORE"] = "redis-cluster"
				env["REDIS_CLUSTER_ADDRS"] = strings.Join(services.RedisClusterAddrs(t), ",")
			}
			app := nodetest.StartApp(t, env)
			st := redisstore.New(c, redisstore.Options{Prefix: env["REDIS_PREFIX"]})
			ctx := context.Background()
			cookie := app.Login("alice", "secret")
			sid := app.Me(cookie).Sid

			s, v := condtest.GetVersion(t, st, sid)
			app.SetData(cookie, map[string]any{"node": "n1"})
			_ = s.Set("go", "g1")
			if _, err := st.SetIf(ctx, sid, s, v); !errors.Is(err, sessionbridge.ErrConflict) {
				t.Fatalf("SetIf after Node's write: %v, want ErrConflict", err)
			}
			if got := rawValue(t, c, st.Key(sid)); !strings.Contains(got, `"node":"n1"`) || strings.Contains(got, `"go"`) {
				t.Fatalf("Node's write was overwritten: %s", got)
			}

			s, v = condtest.GetVersion(t, st, sid)
			if me := app.Me(cookie); !me.LoggedIn { // Node touches: EXPIRE only
				t.Fatal("Node lost the session")
			}
			_ = s.Set("go", "g1")
			if _, err := st.SetIf(ctx, sid, s, v); err != nil {
				t.Fatalf("SetIf after a Node touch: %v", err)
			}
			me := app.Me(cookie)
			if !me.LoggedIn || !strings.Contains(string(me.Session), `"node":"n1"`) || !strings.Contains(string(me.Session), `"go":"g1"`) {
				t.Fatalf("Node sees %s (logged in %v), want both writes", me.Session, me.LoggedIn)
			}
		})
	}
}

// TestVersionTouched: Touched is when the key's TTL was set, within the
// clock's tolerance and never after the call returned: after a Set, a SetIf
// and a Touch, for a record whose cookie lags behind its TTL, and for a
// lifetime far beyond time.Duration. It is zero when it cannot be known.
func TestVersionTouched(t *testing.T) {
	c := single(t)
	ctx := context.Background()
	p := prefix(t)
	st := redisstore.New(c, redisstore.Options{Prefix: p})
	const tolerance = 1500 * time.Millisecond // Math.ceil to seconds, and the clocks' reading
	within := func(t *testing.T, what string, got, from, to time.Time) {
		t.Helper()
		if got.IsZero() || got.Before(from.Add(-tolerance)) || got.After(to) {
			t.Fatalf("%s: Touched %s, want within [%s - %v, %s]", what, got.Format(time.RFC3339Nano), from.Format(time.RFC3339Nano), tolerance, to.Format(time.RFC3339Nano))
		}
	}

	t.Run("Set", func(t *testing.T) {
		before := time.Now()
		if err := st.Set(ctx, "a", condtest.NewSession(t, before, time.Hour)); err != nil {
			t.Fatal(err)
		}
		_, v := condtest.GetVersion(t, st, "a")
		within(t, "after Set", v.Touched, before, time.Now())
	})

	t.Run("SetIfAndTouch", func(t *testing.T) {
		// Written 30 minutes into a one-hour life: the TTL was set then.
		now := time.Now()
		s := condtest.NewSession(t, now.Add(-30*time.Minute), time.Hour)
		if err := st.Set(ctx, "b", s); err != nil {
			t.Fatal(err)
		}
		s, v := condtest.GetVersion(t, st, "b")
		within(t, "half-lived record", v.Touched, now.Add(-30*time.Minute), time.Now().Add(-30*time.Minute))

		// Touch moves the TTL, not the record: the record lags behind,
		// Touched follows the TTL, and the Version read before stays good.
		tag := v.Tag
		before := time.Now()
		s.Touch(before)
		if err := st.Touch(ctx, "b", s); err != nil {
			t.Fatal(err)
		}
		s2, v2 := condtest.GetVersion(t, st, "b")
		within(t, "after Touch", v2.Touched, before, time.Now())
		if v2.Tag != tag {
			t.Fatal("Touch rewrote the record")
		}
		if fallback := s2.Cookie.Expires.Add(-time.Hour); !fallback.Before(v2.Touched.Add(-20 * time.Minute)) {
			t.Fatalf("the record's cookie should lag: expires - maxAge = %s", fallback)
		}

		// SetIf with the Version read before the Touch, and the Version it
		// returns, agree with a fresh read.
		before = time.Now()
		_ = s.Set("x", 1)
		v3, err := st.SetIf(ctx, "b", s, v)
		if err != nil {
			t.Fatalf("SetIf after Touch: %v", err)
		}
		after := time.Now()
		within(t, "returned by SetIf", v3.Touched, before, after)
		_, v4 := condtest.GetVersion(t, st, "b")
		within(t, "read after SetIf", v4.Touched, before, time.Now())
	})

	t.Run("BrowserSessionCookie", func(t *testing.T) {
		short := redisstore.New(c, redisstore.Options{Prefix: p, TTL: time.Minute})
		before := time.Now()
		if err := short.Set(ctx, "c", condtest.NewSession(t, before, 0)); err != nil {
			t.Fatal(err)
		}
		c.Expire(ctx, p+"c", 45*time.Second) // as if set 15 s ago
		_, v := condtest.GetVersion(t, short, "c")
		within(t, "browser-session cookie", v.Touched, before.Add(-15*time.Second), time.Now().Add(-15*time.Second))
	})

	t.Run("Huge", func(t *testing.T) {
		before := time.Now()
		s := condtest.NewSession(t, before, 0)
		thousandYears := int64(1000 * 365 * 86400 * 1000)
		exp := time.UnixMilli(before.UnixMilli() + thousandYears)
		s.Cookie.Expires, s.Cookie.OriginalMaxAge = &exp, &thousandYears
		if err := st.Set(ctx, "d", s); err != nil {
			t.Fatal(err)
		}
		_, v := condtest.GetVersion(t, st, "d")
		within(t, "1000-year cookie", v.Touched, before, time.Now())
	})

	t.Run("Unknown", func(t *testing.T) {
		exp := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
		c.Set(ctx, p+"e", `{"cookie":{"originalMaxAge":null,"expires":"`+exp+`","httpOnly":true,"path":"/"}}`, time.Hour)
		if _, v := condtest.GetVersion(t, st, "e"); !v.Touched.IsZero() {
			t.Fatalf("expires without originalMaxAge: Touched %v, want zero", v.Touched)
		}
		c.Persist(ctx, p+"a")
		if _, v := condtest.GetVersion(t, st, "a"); !v.Touched.IsZero() {
			t.Fatalf("no TTL: Touched %v, want zero", v.Touched)
		}
		noTTL := redisstore.New(c, redisstore.Options{Prefix: p, DisableTTL: true})
		if _, v := condtest.GetVersion(t, noTTL, "b"); !v.Touched.IsZero() || v.Tag == "" {
			t.Fatalf("DisableTTL: %+v, want a Tag and zero Touched", v)
		}
	})
}

// TestRecordWithoutTTL: a record Redis will never expire (no TTL) is
// refused once its cookie.expires has passed, by Get and GetVersion,
// unless the store has DisableTTL (the Bridge checks then). A record with a
// TTL is alive while the TTL lasts, whatever its cookie says (Node's touch
// moves only the TTL).
func TestRecordWithoutTTL(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := m.mk(t)
			ctx := context.Background()
			p := prefix(t)
			st := redisstore.New(c, redisstore.Options{Prefix: p})
			past := time.Now().Add(-time.Minute)
			lapsed, err := condtest.NewSession(t, past.Add(-time.Hour), time.Hour, "u", 1).Encode()
			if err != nil {
				t.Fatal(err)
			}
			c.Set(ctx, p+"gone", lapsed, 0)            // no TTL: expired
			c.Set(ctx, p+"lagging", lapsed, time.Hour) // a TTL: alive
			fresh, _ := condtest.NewSession(t, time.Now(), time.Hour).Encode()
			c.Set(ctx, p+"fresh", fresh, 0) // no TTL, not expired yet
			t.Cleanup(func() { c.Del(context.Background(), p+"gone", p+"lagging", p+"fresh") })

			if _, err := st.Get(ctx, "gone"); !errors.Is(err, sessionbridge.ErrNotFound) {
				t.Fatalf("Get of an expired record without TTL: %v, want ErrNotFound", err)
			}
			if _, _, err := st.GetVersion(ctx, "gone"); !errors.Is(err, sessionbridge.ErrNotFound) {
				t.Fatalf("GetVersion of an expired record without TTL: %v, want ErrNotFound", err)
			}
			for _, id := range []string{"lagging", "fresh"} {
				if _, err := st.Get(ctx, id); err != nil {
					t.Fatalf("Get %s: %v", id, err)
				}
				if _, _, err := st.GetVersion(ctx, id); err != nil {
					t.Fatalf("GetVersion %s: %v", id, err)
				}
			}
			if !st.EnforcesExpiry() {
				t.Fatal("a store with TTLs enforces expiry")
			}
			noTTL := redisstore.New(c, redisstore.Options{Prefix: p, DisableTTL: true})
			if _, err := noTTL.Get(ctx, "gone"); err != nil {
				t.Fatalf("DisableTTL Get returns records as stored: %v", err)
			}
			if _, _, err := noTTL.GetVersion(ctx, "gone"); err != nil {
				t.Fatalf("DisableTTL GetVersion returns records as stored: %v", err)
			}
			if c.Exists(ctx, p+"gone").Val() != 1 {
				t.Fatal("reading must not delete")
			}
		})
	}
}

// TestGetVersionRecords: GetVersion reads as Get does: the same typed
// errors for what Node never writes, ErrNotFound for no key or an empty
// value, the same size limit (a record past the first read's window is read
// whole, into the Tag too; a 64 MiB one is refused unread).
func TestGetVersionRecords(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := m.mk(t)
			ctx := context.Background()
			p := prefix(t)
			st := redisstore.New(c, redisstore.Options{Prefix: p})
			t.Cleanup(func() { c.Del(context.Background(), p+"x") })
			cases := map[string]struct {
				setup func()
				want  error
			}{
				"missing":  {func() {}, sessionbridge.ErrNotFound},
				"empty":    {func() { c.Set(ctx, p+"x", "", time.Minute) }, sessionbridge.ErrNotFound},
				"not json": {func() { c.Set(ctx, p+"x", "not json", time.Minute) }, sessionjson.ErrInvalidJSON},
				"a hash":   {func() { c.HSet(ctx, p+"x", "f", "v") }, redisstore.ErrWrongType},
				"too large": {func() {
					c.Set(ctx, p+"x", storetest.Record(sessionjson.DefaultMaxBytes+1, time.Now().Add(time.Hour)), time.Minute)
				}, sessionjson.ErrTooLarge},
			}
			for name, cs := range cases {
				c.Del(ctx, p+"x")
				cs.setup()
				_, v, err := st.GetVersion(ctx, "x")
				if !errors.Is(err, cs.want) || v != (sessionbridge.Version{}) {
					t.Errorf("%s: %v (%d-byte Tag), want %v", name, err, len(v.Tag), cs.want)
				}
				condtest.NotNamed(t, err, p+"x")
			}

			rec := storetest.Record(200<<10, time.Now().Add(time.Hour))
			c.Set(ctx, p+"x", rec, time.Minute)
			s, v, err := st.GetVersion(ctx, "x")
			if err != nil || v.Tag != string(rec) {
				t.Fatalf("200 KiB record: %v, Tag of %d bytes, want %d", err, len(v.Tag), len(rec))
			}
			_ = s.Set("k", 1)
			if _, err := st.SetIf(ctx, "x", s, v); err != nil {
				t.Fatalf("SetIf of a 200 KiB record: %v", err)
			}

			const huge = 64 << 20
			c.Del(ctx, p+"x")
			if err := c.SetRange(ctx, p+"x", huge-1, "x").Err(); err != nil {
				t.Fatal(err)
			}
			c.Expire(ctx, p+"x", time.Minute)
			alloc := storetest.Allocated(func() { _, _, err = st.GetVersion(ctx, "x") })
			if !errors.Is(err, sessionjson.ErrTooLarge) || alloc > 1<<20 {
				t.Fatalf("64 MiB record: %v after allocating %d bytes, want ErrTooLarge without reading it", err, alloc)
			}
		})
	}
}
