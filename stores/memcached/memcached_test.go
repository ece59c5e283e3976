package memcachedstore_test

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	"github.com/sessionbridge/sessionbridge/sessionbridgetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	memcachedstore "github.com/sessionbridge/sessionbridge/stores/memcached"
)

func client(t testing.TB) *memcache.Client {
	c := memcache.New(services.MemcachedAddr(t))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// prefix gives each test its own key space.
func prefix(t testing.TB) string {
	return fmt.Sprintf("sbtest:%s:%d:", t.Name(), time.Now().UnixNano())
}

// raw sends one command line (and data block) to memcached over TCP and
// returns the reader positioned at the reply.
func raw(t *testing.T, line string, data []byte) *bufio.Reader {
	t.Helper()
	c, err := net.DialTimeout("tcp", services.MemcachedAddr(t), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	msg := line + "\r\n"
	if data != nil {
		msg += string(data) + "\r\n"
	}
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	return bufio.NewReader(c)
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	l, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("memcached reply: %v", err)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// rawGet reads an item with a plain "get": its flags and value bytes exactly
// as stored, or ok false on a miss.
func rawGet(t *testing.T, key string) (flags int, value []byte, ok bool) {
	t.Helper()
	r := raw(t, "get "+key, nil)
	head := readLine(t, r)
	if head == "END" {
		return 0, nil, false
	}
	f := strings.Fields(head) // VALUE <key> <flags> <bytes>
	if len(f) != 4 || f[0] != "VALUE" || f[1] != key {
		t.Fatalf("get reply %q", head)
	}
	flags, _ = strconv.Atoi(f[2])
	n, _ := strconv.Atoi(f[3])
	value = make([]byte, n+2)
	if _, err := io.ReadFull(r, value); err != nil {
		t.Fatal(err)
	}
	if end := readLine(t, r); end != "END" {
		t.Fatalf("get trailer %q", end)
	}
	return flags, value[:n], true
}

// rawSet stores an item with a raw "set" and checks the reply.
func rawSet(t *testing.T, key string, flags int, exptime int64, value []byte) {
	t.Helper()
	r := raw(t, fmt.Sprintf("set %s %d %d %d", key, flags, exptime, len(value)), value)
	if l := readLine(t, r); l != "STORED" {
		t.Fatalf("raw set: %q", l)
	}
}

// ttl returns the item's remaining lifetime in seconds (-1: none) with the
// meta command "mg <key> t", or ok false on a miss.
func ttl(t *testing.T, key string) (secs int, ok bool) {
	t.Helper()
	l := readLine(t, raw(t, "mg "+key+" t", nil))
	if l == "EN" {
		return 0, false
	}
	for _, f := range strings.Fields(l)[1:] {
		if f[0] == 't' {
			n, err := strconv.Atoi(f[1:])
			if err != nil {
				t.Fatalf("mg reply %q", l)
			}
			return n, true
		}
	}
	t.Fatalf("mg reply without ttl: %q", l)
	return 0, false
}

// newSession returns a logged-in session (passport user 7) with a cookie
// set at now for maxAge.
func newSession(t *testing.T, now time.Time, maxAge time.Duration) *sessionjson.Session {
	s := sessionjson.New(sessionjson.NewCookie(now, maxAge))
	if err := s.Set("passport", map[string]any{"user": 7}); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	c := client(t)
	sessionbridgetest.TestStore(t, func(t *testing.T) sessionbridge.Store {
		return memcachedstore.New(c, memcachedstore.Options{Prefix: prefix(t)})
	}, sessionbridgetest.Options{})
}

// TestLifetime is connect-memcached's arithmetic:
// this.ttl || (typeof maxAge == "number" ? (maxAge/1000)|0 : 86400).
func TestLifetime(t *testing.T) {
	now := time.UnixMilli(1795000000123)
	clock := func() time.Time { return now }
	st := memcachedstore.New(nil, memcachedstore.Options{Now: clock})
	withTTL := memcachedstore.New(nil, memcachedstore.Options{Now: clock, TTL: 90*time.Second + 900*time.Millisecond})
	for _, c := range []struct {
		left time.Duration // until cookie.expires; 0 = browser-session cookie
		want time.Duration
	}{
		{90900 * time.Millisecond, 90 * time.Second}, // truncated, not rounded
		{999 * time.Millisecond, 0},
		{-999 * time.Millisecond, 0}, // toward zero
		{-1500 * time.Millisecond, -time.Second},
		{40 * 24 * time.Hour, 40 * 24 * time.Hour},
		{0, memcachedstore.DefaultTTL},
	} {
		var s *sessionjson.Session
		if c.left == 0 {
			s = sessionjson.New(sessionjson.NewCookie(now, 0))
		} else {
			s = sessionjson.New(sessionjson.NewCookie(now.Add(c.left-time.Hour), time.Hour))
		}
		if got := st.Lifetime(s); got != c.want {
			t.Errorf("cookie with %v left: lifetime %v, want %v", c.left, got, c.want)
		}
		if got := withTTL.Lifetime(s); got != 90*time.Second {
			t.Errorf("ttl option: lifetime %v, want 90s whatever the cookie", got)
		}
	}
}

// TestWire checks the bytes Go stores: key = prefix + sid, flags 2, value =
// the session JSON, exptime = the lifetime; and the npm client's CR/LF
// escaping on a record that holds raw newlines.
func TestWire(t *testing.T) {
	p := prefix(t)
	st := memcachedstore.New(client(t), memcachedstore.Options{Prefix: p})
	ctx := context.Background()
	s := newSession(t, time.Now(), 90*time.Second)
	if err := st.Set(ctx, "sid1", s); err != nil {
		t.Fatal(err)
	}
	want, _ := s.Encode()
	flags, value, ok := rawGet(t, p+"sid1")
	if !ok || flags != 2 || string(value) != string(want) {
		t.Fatalf("on the wire: ok=%v flags=%d value %s\nwant flags 2 value %s", ok, flags, value, want)
	}
	if secs, _ := ttl(t, p+"sid1"); secs < 87 || secs > 90 {
		t.Fatalf("exptime: %ds left, want 89-90", secs)
	}
	// A record with raw CR LF between members (Node never writes one, but
	// it is valid JSON): stored with the npm client's backslashes, read
	// back as it was.
	rec := []byte("{\"cookie\":{\"originalMaxAge\":null,\"expires\":null},\r\n\"a\":1}")
	d, err := sessionjson.Decode(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Set(ctx, "crlf", d); err != nil {
		t.Fatal(err)
	}
	if _, value, _ := rawGet(t, p+"crlf"); !strings.Contains(string(value), "},\\\r\\\n\"a\"") {
		t.Fatalf("CR LF not escaped as the npm client does: %q", value)
	}
	got, err := st.Get(ctx, "crlf")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := got.Encode(); string(b) != string(rec) {
		t.Fatalf("escaped record read back as %q", b)
	}
}

// TestLongLifetime: memcached reads an exptime above 30 days as a Unix
// time, so Node's relative 40 days kills the item at once; Go's absolute
// time keeps it.
func TestLongLifetime(t *testing.T) {
	p := prefix(t)
	st := memcachedstore.New(client(t), memcachedstore.Options{Prefix: p})
	ctx := context.Background()

	forty := int64(40 * 24 * 3600)
	rawSet(t, p+"node-way", 2, forty, []byte(`{}`))
	if _, _, ok := rawGet(t, p+"node-way"); ok {
		t.Fatal("premise: memcached should drop an item set with a relative 40-day exptime")
	}
	rawSet(t, p+"month", 2, 30*24*3600, []byte(`{}`))
	if _, _, ok := rawGet(t, p+"month"); !ok {
		t.Fatal("premise: exactly 30 days is still relative")
	}
	t.Log("memcached: exptime 3456000 (40 days) drops the item at once; 2592000 (30 days) keeps it")

	for name, left := range map[string]time.Duration{"40 days": 40 * 24 * time.Hour, "30 days": 30 * 24 * time.Hour} {
		if err := st.Set(ctx, name[:2], newSession(t, time.Now(), left)); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Get(ctx, name[:2]); err != nil {
			t.Fatalf("%s: Go's item is gone: %v", name, err)
		}
		secs, _ := ttl(t, p+name[:2])
		if want := int(left / time.Second); secs < want-3 || secs > want+2 { // memcached's clock lags by up to 2 s
			t.Fatalf("%s: %ds left, want about %d", name, secs, want)
		}
	}
	opt := memcachedstore.New(client(t), memcachedstore.Options{Prefix: p, TTL: 40 * 24 * time.Hour})
	if err := opt.Set(ctx, "opt", newSession(t, time.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	if secs, ok := ttl(t, p+"opt"); !ok || secs < int(forty)-3 {
		t.Fatalf("ttl option of 40 days: %ds left (found %v)", secs, ok)
	}
}

// TestNonPositiveLifetime: Node would send exptime 0 (kept forever by
// memcached) or a negative one; Go deletes the key.
func TestNonPositiveLifetime(t *testing.T) {
	p := prefix(t)
	st := memcachedstore.New(client(t), memcachedstore.Options{Prefix: p})
	ctx := context.Background()
	rawSet(t, p+"zero", 2, 0, []byte(`{}`))
	if secs, ok := ttl(t, p+"zero"); !ok || secs != -1 {
		t.Fatalf("premise: exptime 0 should never expire (ttl %d, found %v)", secs, ok)
	}
	rawSet(t, p+"negative", 2, -1, []byte(`{}`))
	if _, _, ok := rawGet(t, p+"negative"); ok {
		t.Fatal("premise: a negative exptime should drop the item at once")
	}
	now := time.Now()
	for name, s := range map[string]*sessionjson.Session{
		"half a second left": newSession(t, now.Add(-time.Hour+500*time.Millisecond), time.Hour),
		"expired":            newSession(t, now.Add(-2*time.Hour), time.Hour),
	} {
		if err := st.Set(ctx, "k", newSession(t, now, time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := st.Set(ctx, "k", s); err != nil {
			t.Fatal(err)
		}
		if _, _, ok := rawGet(t, p+"k"); ok {
			t.Fatalf("%s: the key should be deleted", name)
		}
	}
	// With the ttl option Node would store an expired session for ttl
	// seconds (and revive it); Go deletes it.
	opt := memcachedstore.New(client(t), memcachedstore.Options{Prefix: p, TTL: time.Minute})
	_ = opt.Set(ctx, "k", newSession(t, now, time.Hour))
	if err := opt.Set(ctx, "k", newSession(t, now.Add(-2*time.Hour), time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := rawGet(t, p+"k"); ok {
		t.Fatal("ttl option: an expired session was stored")
	}
}

// TestBadItems: other flags and bad JSON get typed errors; nothing else is
// touched, the item itself included.
func TestBadItems(t *testing.T) {
	p := prefix(t)
	st := memcachedstore.New(client(t), memcachedstore.Options{Prefix: p})
	ctx := context.Background()
	good, _ := newSession(t, time.Now(), time.Hour).Encode()
	rawSet(t, p+"other", 2, 60, []byte("keep"))
	for name, c := range map[string]struct {
		flags int
		value string
		want  error
	}{
		"flags 0 (a string for Node)":   {0, string(good), memcachedstore.ErrWrongFlags},
		"flags 4 (a Buffer for Node)":   {4, string(good), memcachedstore.ErrWrongFlags},
		"flags 8 (a number for Node)":   {8, "12", memcachedstore.ErrWrongFlags},
		"flags 2, not JSON":             {2, "not json", sessionjson.ErrInvalidJSON},
		"flags 2, no cookie":            {2, `{"passport":{"user":7}}`, sessionjson.ErrNoCookie},
		"flags 2, empty":                {2, "", sessionjson.ErrInvalidJSON},
		"flags 2, truncated":            {2, string(good[:len(good)-3]), sessionjson.ErrInvalidJSON},
		"flags 3 (not a Node flag too)": {3, string(good), memcachedstore.ErrWrongFlags},
	} {
		rawSet(t, p+"x", c.flags, 60, []byte(c.value))
		_, err := st.Get(ctx, "x")
		if !errors.Is(err, c.want) || !errors.Is(err, sessionjson.ErrMalformed) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
		if strings.Contains(fmt.Sprint(err), p) {
			t.Errorf("%s: error names the key: %v", name, err)
		}
		if _, v, ok := rawGet(t, p+"x"); !ok || string(v) != c.value {
			t.Errorf("%s: the bad item was changed", name)
		}
	}
	if _, v, _ := rawGet(t, p+"other"); string(v) != "keep" {
		t.Fatal("another key was damaged")
	}
	b, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"s"}, Store: st})
	if _, err := b.LoadID(ctx, "x"); !errors.Is(err, sessionbridge.ErrStore) {
		t.Fatalf("bad item through the Bridge: %v, want ErrStore", err)
	}
}

// TestLongKeys: like the npm client, keys over 250 characters become their
// MD5 in hex.
func TestLongKeys(t *testing.T) {
	p := prefix(t) + strings.Repeat("p", 230)
	st := memcachedstore.New(client(t), memcachedstore.Options{Prefix: p})
	sid := "wUSQkLG76IZV6i_SmQndn-U6jpP2yB8G"
	sum := md5.Sum([]byte(p + sid))
	if k := st.Key(sid); k != hex.EncodeToString(sum[:]) {
		t.Fatalf("long key %q", k)
	}
	if k := memcachedstore.New(nil, memcachedstore.Options{Prefix: "sess:"}).Key(sid); k != "sess:"+sid {
		t.Fatalf("short key %q", k)
	}
	sessionbridgetest.TestStore(t, func(*testing.T) sessionbridge.Store { return st }, sessionbridgetest.Options{})
}

func bridge(t *testing.T, st sessionbridge.Store, maxAge time.Duration) *sessionbridge.Bridge {
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: st, Cookie: sessionbridge.CookieOptions{MaxAge: maxAge}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func nodeEnv(t *testing.T, pfx string, extra ...string) map[string]string {
	env := map[string]string{"STORE": "memcached", "MEMCACHED_ADDR": services.MemcachedAddr(t), "MEMCACHED_PREFIX": pfx}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

// TestNodeBothWays runs the live connect-memcached harness with a prefix,
// without one, and with one long enough for hashed keys.
func TestNodeBothWays(t *testing.T) {
	for name, pfx := range map[string]string{
		"prefix":      prefix(t),
		"no prefix":   "",
		"hashed keys": prefix(t) + strings.Repeat("p", 230),
	} {
		t.Run(name, func(t *testing.T) {
			st := memcachedstore.New(client(t), memcachedstore.Options{Prefix: pfx})
			app := nodetest.StartApp(t, nodeEnv(t, pfx))
			rawFn := func(sid string) []byte {
				flags, v, ok := rawGet(t, st.Key(sid))
				if !ok {
					return nil
				}
				if flags != memcachedstore.FlagJSON {
					t.Errorf("item flags %d, want 2", flags)
				}
				return v
			}
			storetest.Peer{App: app, Bridge: bridge(t, st, time.Hour), Raw: rawFn}.BothWays(t)
			t.Logf("connect-memcached, prefix of %d bytes (key %d bytes): same keys, flags 2 and bytes both ways", len(pfx), len(st.Key("wUSQkLG76IZV6i_SmQndn-U6jpP2yB8G")))
		})
	}
}

// TestNodeFlags: Node's client hands a flags-0 item to express-session as a
// string, which fails (500); the same bytes with flags 2 log the user in.
func TestNodeFlags(t *testing.T) {
	p := prefix(t)
	st := memcachedstore.New(client(t), memcachedstore.Options{Prefix: p})
	app := nodetest.StartApp(t, nodeEnv(t, p))
	b := bridge(t, st, time.Hour)
	sid, _ := sessionbridge.NewID()
	rec, _ := newSession(t, time.Now(), time.Hour).Encode()
	cookie := b.Signer().CookieValue(sid)

	rawSet(t, p+sid, 0, 600, rec)
	if code, body, _ := app.Do("GET", "/me", cookie, nil); code != 500 {
		t.Fatalf("Node with a flags-0 item: %d %s, want 500", code, body)
	}
	rawSet(t, p+sid, 2, 600, rec)
	if me := app.Me(cookie); !me.LoggedIn {
		t.Fatal("Node with the flags-2 item is not logged in")
	}
	t.Log("Node: flags 0 -> express-session gets a string -> 500; flags 2 -> JSON.parse -> logged in")
}

// TestNodeLongLifetime shows Node's 30-day bug live and that Go avoids it.
func TestNodeLongLifetime(t *testing.T) {
	p := prefix(t)
	st := memcachedstore.New(client(t), memcachedstore.Options{Prefix: p})
	app := nodetest.StartApp(t, nodeEnv(t, p, "MAX_AGE_MS", strconv.Itoa(40*24*3600*1000)))
	b := bridge(t, st, 40*24*time.Hour)

	cookie := app.Login("alice", "secret")
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", "connect.sid="+cookie)
	if _, err := b.Load(r); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("Node's own 40-day session should be gone at once; Go loads: %v", err)
	}
	if app.Me(cookie).LoggedIn {
		t.Fatal("Node kept its 40-day session; the bug this package works around is gone?")
	}

	gs, _ := b.NewSession()
	_ = gs.Record.Set("passport", map[string]any{"user": 7})
	if err := b.Save(context.Background(), gs); err != nil {
		t.Fatal(err)
	}
	if me := app.Me(b.Signer().CookieValue(gs.ID)); !me.LoggedIn {
		t.Fatal("Node does not see Go's 40-day session")
	}
	t.Log("40-day cookie: Node's item dies at once (relative exptime > 30 days); Go's absolute exptime keeps it, Node reads it")
}
