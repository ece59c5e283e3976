package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	"github.com/sessionbridge/sessionbridge/sessionbridgetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

func single(t *testing.T) redis.UniversalClient {
	c := redis.NewClient(&redis.Options{Addr: services.RedisAddr(t)})
	t.Cleanup(func() { c.Close() })
	return c
}

func cluster(t *testing.T) redis.UniversalClient {
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: services.RedisClusterAddrs(t)})
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		nodetest.Unavailable(t, "Redis Cluster ("+err.Error()+")", "make services")
	}
	return c
}

// prefix gives each test its own key space.
func prefix(t *testing.T) string {
	return fmt.Sprintf("sbtest:%s:%d:", t.Name(), time.Now().UnixNano())
}

func TestContract(t *testing.T) {
	for name, mk := range map[string]func(*testing.T) redis.UniversalClient{"single": single, "cluster": cluster} {
		t.Run(name, func(t *testing.T) {
			c := mk(t)
			sessionbridgetest.TestStore(t, func(t *testing.T) sessionbridge.Store {
				return redisstore.New(c, redisstore.Options{Prefix: prefix(t)})
			}, sessionbridgetest.Options{})
		})
	}
}

// TestConnectRedisRules checks the exact commands' effects: EX ttl rounded
// up from cookie.expires, the ttl option for browser-session cookies, DEL
// for ttl <= 0, EXPIRE on touch, and the disable options.
func TestConnectRedisRules(t *testing.T) {
	c := single(t)
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	p := prefix(t)
	st := redisstore.New(c, redisstore.Options{Prefix: p, Now: clock})

	s := sessionjson.New(sessionjson.NewCookie(now, 90500*time.Millisecond))
	if ttl := st.Lifetime(s); ttl != 91*time.Second {
		t.Fatalf("TTL for 90.5s left = %v, want 91s (Math.ceil)", ttl)
	}
	if err := st.Set(ctx, "a", s); err != nil {
		t.Fatal(err)
	}
	if ttl := c.TTL(ctx, p+"a").Val(); ttl != 91*time.Second {
		t.Fatalf("redis TTL %v, want 91s", ttl)
	}
	browser := sessionjson.New(sessionjson.NewCookie(now, 0))
	if err := st.Set(ctx, "b", browser); err != nil {
		t.Fatal(err)
	}
	if ttl := c.TTL(ctx, p+"b").Val(); ttl != 86400*time.Second {
		t.Fatalf("browser-session TTL %v, want the 1 day default", ttl)
	}
	custom := redisstore.New(c, redisstore.Options{Prefix: p, TTL: time.Minute, Now: clock})
	if err := custom.Set(ctx, "b", browser); err != nil {
		t.Fatal(err)
	}
	if ttl := c.TTL(ctx, p+"b").Val(); ttl != time.Minute {
		t.Fatalf("ttl option: %v", ttl)
	}
	// Touch moves only the TTL, never the stored bytes.
	before := c.Get(ctx, p+"a").Val()
	s.Touch(now.Add(time.Hour))
	if err := st.Touch(ctx, "a", s); err != nil {
		t.Fatal(err)
	}
	if ttl := c.TTL(ctx, p+"a").Val(); ttl < time.Hour {
		t.Fatalf("touch TTL %v", ttl)
	}
	if after := c.Get(ctx, p+"a").Val(); after != before {
		t.Fatal("touch rewrote the record")
	}
	// ttl <= 0: set deletes, touch deletes.
	expired := sessionjson.New(sessionjson.NewCookie(now.Add(-time.Hour), time.Hour))
	if err := st.Set(ctx, "a", expired); err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, p+"a").Val(); n != 0 {
		t.Fatal("set with an expired cookie must DEL")
	}
	// DisableTTL: no expiry in Redis, touch is a no-op, the Bridge checks.
	noTTL := redisstore.New(c, redisstore.Options{Prefix: p, DisableTTL: true, Now: clock})
	if err := noTTL.Set(ctx, "c", s); err != nil {
		t.Fatal(err)
	}
	if ttl := c.TTL(ctx, p+"c").Val(); ttl != -1 {
		t.Fatalf("DisableTTL left a TTL: %v", ttl)
	}
	if noTTL.EnforcesExpiry() || !st.EnforcesExpiry() {
		t.Fatal("EnforcesExpiry must follow DisableTTL")
	}
	noTouch := redisstore.New(c, redisstore.Options{Prefix: p, DisableTouch: true, Now: clock})
	_ = c.Expire(ctx, p+"c", time.Minute)
	if err := noTouch.Touch(ctx, "c", s); err != nil || c.TTL(ctx, p+"c").Val() > time.Minute {
		t.Fatalf("DisableTouch touched: %v", err)
	}
}

// TestBadRecords stores what Node never writes and checks each gets a
// typed error, without touching other keys.
func TestBadRecords(t *testing.T) {
	c := single(t)
	ctx := context.Background()
	p := prefix(t)
	st := redisstore.New(c, redisstore.Options{Prefix: p})
	c.Set(ctx, p+"other", "keep", time.Minute)
	cases := map[string]struct {
		setup func()
		want  error
	}{
		"not json":     {func() { c.Set(ctx, p+"x", "not json", time.Minute) }, sessionjson.ErrInvalidJSON},
		"no cookie":    {func() { c.Set(ctx, p+"x", `{"a":1}`, time.Minute) }, sessionjson.ErrNoCookie},
		"cookie type":  {func() { c.Set(ctx, p+"x", `{"cookie":{"originalMaxAge":"1"}}`, time.Minute) }, sessionjson.ErrBadCookie},
		"a redis hash": {func() { c.HSet(ctx, p+"x", "f", "v") }, redisstore.ErrWrongType},
		"a list":       {func() { c.RPush(ctx, p+"x", "v") }, redisstore.ErrWrongType},
	}
	for name, cs := range cases {
		c.Del(ctx, p+"x")
		cs.setup()
		_, err := st.Get(ctx, "x")
		if !errors.Is(err, cs.want) || !errors.Is(err, sessionjson.ErrMalformed) {
			t.Errorf("%s: %v, want %v", name, err, cs.want)
		}
		if strings.Contains(fmt.Sprint(err), p) {
			t.Errorf("%s: error names the key: %v", name, err)
		}
	}
	if c.Get(ctx, p+"other").Val() != "keep" {
		t.Fatal("another key was damaged")
	}
	// Through the Bridge a bad record is a store error, not a logout.
	b, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"s"}, Store: st})
	c.Set(ctx, p+"x", "not json", time.Minute)
	if _, err := b.LoadID(ctx, "x"); !errors.Is(err, sessionbridge.ErrStore) || errors.Is(err, sessionbridge.ErrNoSession) {
		t.Fatalf("bad record through the Bridge: %v", err)
	}
}

func TestScanHelpers(t *testing.T) {
	for name, mk := range map[string]func(*testing.T) redis.UniversalClient{"single": single, "cluster": cluster} {
		t.Run(name, func(t *testing.T) {
			c := mk(t)
			ctx := context.Background()
			p := prefix(t)
			st := redisstore.New(c, redisstore.Options{Prefix: p, ScanCount: 7})
			c.Set(ctx, "unrelated:"+p, "x", time.Minute)
			defer c.Del(ctx, "unrelated:"+p)
			for i := 0; i < 40; i++ {
				s := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
				_ = s.Set("i", i)
				if err := st.Set(ctx, fmt.Sprintf("id%02d", i), s); err != nil {
					t.Fatal(err)
				}
			}
			n, err := st.Len(ctx)
			if err != nil || n != 40 {
				t.Fatalf("Len = %d, %v", n, err)
			}
			all, err := st.All(ctx)
			if err != nil || len(all) != 40 {
				t.Fatalf("All = %d, %v", len(all), err)
			}
			if err := st.Clear(ctx); err != nil {
				t.Fatal(err)
			}
			if n, _ := st.Len(ctx); n != 0 {
				t.Fatalf("after Clear Len = %d", n)
			}
			if c.Get(ctx, "unrelated:"+p).Val() != "x" {
				t.Fatal("Clear removed a key outside the prefix")
			}
		})
	}
}

// TestNodeBothWays runs the live connect-redis harness against a single
// node and against the Cluster.
func TestNodeBothWays(t *testing.T) {
	for _, mode := range []string{"single", "cluster"} {
		t.Run(mode, func(t *testing.T) {
			var c redis.UniversalClient
			env := map[string]string{"REDIS_PREFIX": prefix(t), "MAX_AGE_MS": "3600000"}
			if mode == "single" {
				c = single(t)
				env["STORE"] = "redis"
				env["REDIS_URL"] = "redis://" + services.RedisAddr(t)
			} else {
				c = cluster(t)
				env["STORE"] = "redis-cluster"
				env["REDIS_CLUSTER_ADDRS"] = strings.Join(services.RedisClusterAddrs(t), ",")
			}
			st := redisstore.New(c, redisstore.Options{Prefix: env["REDIS_PREFIX"]})
			app := nodetest.StartApp(t, env)
			b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: st, Cookie: sessionbridge.CookieOptions{MaxAge: time.Hour}})
			if err != nil {
				t.Fatal(err)
			}
			raw := func(sid string) []byte {
				v, err := c.Get(context.Background(), st.Key(sid)).Bytes()
				if err != nil {
					return nil
				}
				return v
			}
			peer := storetest.Peer{App: app, Bridge: b, Raw: raw}
			peer.BothWays(t)
			peer.TouchRace(t)

			// Touch: Go moves the TTL the way connect-redis would.
			ctx := context.Background()
			cookie := app.Login("alice", "secret")
			s, err := b.Load(reqWith(b, cookie))
			if err != nil {
				t.Fatal(err)
			}
			c.Expire(ctx, st.Key(s.ID), time.Minute)
			if err := b.Touch(ctx, s); err != nil {
				t.Fatal(err)
			}
			if ttl := c.TTL(ctx, st.Key(s.ID)).Val(); ttl < 59*time.Minute {
				t.Fatalf("after Go touch the TTL is %v, want about 1h", ttl)
			}
			if me := app.Me(cookie); !me.LoggedIn {
				t.Fatal("Node lost the session after Go's touch")
			}
			t.Logf("Go touch: EXPIRE moved the TTL to %v; Node still logged in", c.TTL(ctx, st.Key(s.ID)).Val())
		})
	}
}

// TestExpiredWithTTLDisabled: connect-redis with disableTTL keeps expired
// records forever and Node revives them; Go refuses them.
func TestExpiredWithTTLDisabled(t *testing.T) {
	c := single(t)
	p := prefix(t)
	env := map[string]string{"STORE": "redis", "REDIS_URL": "redis://" + services.RedisAddr(t), "REDIS_PREFIX": p, "REDIS_DISABLE_TTL": "1", "MAX_AGE_MS": "1500"}
	app := nodetest.StartApp(t, env)
	st := redisstore.New(c, redisstore.Options{Prefix: p, DisableTTL: true})
	b, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: st})
	cookie := app.Login("alice", "secret")
	if _, err := b.Load(reqWith(b, cookie)); err != nil {
		t.Fatalf("fresh session: %v", err)
	}
	time.Sleep(1600 * time.Millisecond) // the cookie's 1.5 s lifetime passes
	_, err := b.Load(reqWith(b, cookie))
	if !errors.Is(err, sessionbridge.ErrExpired) {
		t.Fatalf("expired record: Go gets %v, want ErrExpired", err)
	}
	if c.Exists(context.Background(), st.Key(strings.Split(strings.TrimPrefix(cookie, "s%3A"), ".")[0])).Val() != 1 {
		t.Fatal("the record should still be in Redis (TTL disabled)")
	}
	if me := app.Me(cookie); !me.LoggedIn {
		t.Log("note: Node no longer revives it either")
	} else {
		t.Logf("Node revives the expired session (logged in as %s); Go refuses it with ErrExpired", me.User)
	}
}

// TestNodeTouchKeepsSessionAlive: with resave false, express-session
// touches an unmodified session with EXPIRE only, so the record's
// cookie.expires lags behind while the key lives on. Node keeps the user
// logged in; so must Go (the store's TTL is the expiry, as for Node).
func TestNodeTouchKeepsSessionAlive(t *testing.T) {
	c := single(t)
	p := prefix(t)
	app := nodetest.StartApp(t, map[string]string{"STORE": "redis", "REDIS_URL": "redis://" + services.RedisAddr(t), "REDIS_PREFIX": p, "MAX_AGE_MS": "2000"})
	st := redisstore.New(c, redisstore.Options{Prefix: p})
	b, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: st})
	cookie := app.Login("alice", "secret")
	for i := 0; i < 3; i++ { // 3 x 1.2 s: well past the first 2 s expiry
		time.Sleep(1200 * time.Millisecond)
		if me := app.Me(cookie); !me.LoggedIn {
			t.Fatal("Node lost its own session")
		}
	}
	s, err := b.Load(reqWith(b, cookie))
	if err != nil {
		t.Fatalf("Go refuses a session Node keeps alive: %v", err)
	}
	if !s.Record.Expired(time.Now()) {
		t.Fatal("test premise: the record's cookie.expires should lag behind")
	}
	t.Logf("record says expired at %s, Redis TTL says alive; Go follows Redis like Node", s.Record.Cookie.Expires.Format(time.RFC3339Nano))
}
