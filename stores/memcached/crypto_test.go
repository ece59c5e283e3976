package memcachedstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	"github.com/sessionbridge/sessionbridge/sessionbridgetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/kruptein"
	"github.com/sessionbridge/sessionbridge/stores/internal/kruptein/krupteintest"
	memcachedstore "github.com/sessionbridge/sessionbridge/stores/memcached"
)

// cryptoSecret passes kruptein 3.1's complexity rule, so that Node's set
// takes it too.
const cryptoSecret = "Go&Node!Sh4re1t"

func crypto(secret string) *memcachedstore.CryptoOptions {
	return &memcachedstore.CryptoOptions{Secret: secret}
}

// opened decrypts an item's value as connect-memcached does (kruptein
// 3.1), independently of the store.
func opened(t testing.TB, secret string, value []byte) string {
	t.Helper()
	c, err := kruptein.New(secret, kruptein.V31)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := c.Open(value, -1)
	if err != nil {
		t.Fatalf("the item does not open: %v", err)
	}
	return string(pt)
}

func sealed(t testing.TB, secret string, rec []byte) []byte {
	t.Helper()
	c, err := kruptein.New(secret, kruptein.V31)
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.Seal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(f)
}

// TestCryptoContract runs the Store contract on an encrypted store.
func TestCryptoContract(t *testing.T) {
	c := client(t)
	// Each write derives a key (PBKDF2, tens of milliseconds, more under
	// the race detector): with the contract's concurrent writers on few
	// CPUs, the client's 500 ms per network step is too short.
	c.Timeout = 10 * time.Second
	sessionbridgetest.TestStore(t, func(t *testing.T) sessionbridge.Store {
		return memcachedstore.New(c, memcachedstore.Options{Prefix: prefix(t), Crypto: crypto(cryptoSecret)})
	}, sessionbridgetest.Options{})
}

// TestCryptoWire: with Crypto the item is kruptein 3.1's record of the
// session JSON, flags 0; Touch rewrites it (connect-memcached's touch is
// a set), keeping the data.
func TestCryptoWire(t *testing.T) {
	ctx := context.Background()
	p := prefix(t)
	st := memcachedstore.New(client(t), memcachedstore.Options{Prefix: p, Crypto: crypto(cryptoSecret)})
	s := newSession(t, time.Now(), time.Hour)
	_ = s.Set("note", "é😀\u2028\"\\<&>")
	if err := st.Set(ctx, "sid", s); err != nil {
		t.Fatal(err)
	}
	rec, _ := s.Encode()
	flags, value, ok := rawGet(t, p+"sid")
	if !ok || flags != 0 {
		t.Fatalf("item flags %d (found %v), want 0: a string", flags, ok)
	}
	if got := opened(t, cryptoSecret, value); got != string(rec) {
		t.Fatalf("decrypted %s, want %s", got, rec)
	}
	got, err := st.Get(ctx, "sid")
	if err != nil {
		t.Fatal(err)
	}
	if enc, _ := got.Encode(); string(enc) != string(rec) {
		t.Fatalf("Get %s", enc)
	}
	got.Touch(time.Now().Add(time.Minute))
	if err := st.Touch(ctx, "sid", got); err != nil {
		t.Fatal(err)
	}
	_, after, _ := rawGet(t, p+"sid")
	if string(after) == string(value) {
		t.Fatal("Touch did not rewrite the item")
	}
	want, _ := got.Encode()
	if got := opened(t, cryptoSecret, after); got != string(want) {
		t.Fatalf("after Touch: %s, want %s", got, want)
	}
}

// TestCryptoErrors: another secret, an altered item, an item in clear with
// Crypto, an encrypted one without, an empty secret: typed errors that
// show neither the secret nor the session.
func TestCryptoErrors(t *testing.T) {
	ctx := context.Background()
	p := prefix(t)
	c := client(t)
	on := memcachedstore.New(c, memcachedstore.Options{Prefix: p, Crypto: crypto(cryptoSecret)})
	off := memcachedstore.New(c, memcachedstore.Options{Prefix: p})
	other := memcachedstore.New(c, memcachedstore.Options{Prefix: p, Crypto: crypto("Other$Secret!99")})
	empty := memcachedstore.New(c, memcachedstore.Options{Prefix: p, Crypto: crypto("")})
	s := newSession(t, time.Now(), time.Hour)
	_ = s.Set("private", "private-user-name")
	if err := on.Set(ctx, "sid", s); err != nil {
		t.Fatal(err)
	}
	if _, err := on.Get(ctx, "sid"); err != nil {
		t.Fatalf("the right secret: %v", err)
	}
	_, value, _ := rawGet(t, p+"sid")
	rec, _ := s.Encode()
	rawSet(t, p+"clear", memcachedstore.FlagJSON, 60, rec)
	rawSet(t, p+"garbage", 0, 60, []byte("MIIBgarbage"))
	// Another writer holding the key but not the secret's format: a
	// record sealed in kruptein 3.0's format.
	c30, _ := kruptein.New(cryptoSecret, kruptein.V30)
	f30, _ := c30.Seal(rec)
	rawSet(t, p+"v30", 0, 60, []byte(f30))

	check := func(what string, err error, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", what, err, want)
			return
		}
		if want != memcachedstore.ErrNoSecret && !errors.Is(err, sessionjson.ErrMalformed) {
			t.Errorf("%s: %v does not wrap sessionjson.ErrMalformed", what, err)
		}
		for _, leak := range []string{cryptoSecret, "Other$Secret!99", "private-user-name"} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("%s: error shows %q: %v", what, leak, err)
			}
		}
		t.Logf("%s: %v", what, err)
	}
	_, err := other.Get(ctx, "sid")
	check("another secret", err, memcachedstore.ErrDecrypt)
	check("another secret, Touch", other.Touch(ctx, "sid", s), memcachedstore.ErrDecrypt)
	_, err = on.Get(ctx, "v30")
	check("kruptein 3.0's format", err, memcachedstore.ErrDecrypt)
	_, err = on.Get(ctx, "clear")
	check("JSON in clear with Crypto", err, memcachedstore.ErrNotEncrypted)
	_, err = on.Get(ctx, "garbage")
	check("not a record", err, memcachedstore.ErrNotEncrypted)
	_, err = off.Get(ctx, "sid")
	check("an encrypted item without Crypto", err, memcachedstore.ErrEncrypted)
	_, err = off.Get(ctx, "garbage")
	check("a string that is no record, without Crypto", err, memcachedstore.ErrWrongFlags)
	_, err = empty.Get(ctx, "sid")
	check("empty secret, Get", err, memcachedstore.ErrNoSecret)
	check("empty secret, Set", empty.Set(ctx, "new", s), memcachedstore.ErrNoSecret)
	if _, _, ok := rawGet(t, p+"new"); ok {
		t.Fatal("a store with an empty secret wrote")
	}
	if _, after, _ := rawGet(t, p+"sid"); string(after) != string(value) {
		t.Fatal("a failed read or touch changed the item")
	}
}

// TestCryptoSizeLimit: the Decoder's limit applies to the decrypted JSON.
func TestCryptoSizeLimit(t *testing.T) {
	p := prefix(t)
	put := func(sid string, rec []byte) { rawSet(t, p+sid, 0, 60, sealed(t, cryptoSecret, rec)) }
	st := memcachedstore.New(client(t), memcachedstore.Options{Prefix: p, Decoder: sessionjson.Decoder{MaxBytes: 100 << 10}, Crypto: crypto(cryptoSecret)})
	storetest.SizeLimit(t, st, 100<<10, put)
}

// TestCryptoNode drives the real connect-memcached 3.0.0 store with its
// secret option (kruptein 3.1.7): Node writes and Go reads, Go writes and
// Node reads, Node saves what it read and Go reads again, for non-ASCII and
// large sessions; each side refuses the other's records made with another
// secret.
func TestCryptoNode(t *testing.T) {
	ctx := context.Background()
	addr := services.MemcachedAddr(t)
	p := prefix(t)
	st := memcachedstore.New(client(t), memcachedstore.Options{Prefix: p, Crypto: crypto(cryptoSecret)})
	exp := time.Now().Add(time.Hour).UTC().Format(sessionjson.ExpiresLayout)
	keys := []string{"ascii", "utf8", "large"}
	records := map[string]string{
		"ascii": `{"cookie":{"originalMaxAge":3600000,"expires":"` + exp + `","httpOnly":true,"path":"/"},"passport":{"user":7}}`,
		"utf8":  `{"cookie":{"originalMaxAge":3600000,"expires":"` + exp + `","httpOnly":true,"path":"/"},"note":"é😀` + "\u2028" + ` \"q\" \\ 中文 <&>","n":[1,2.5,null]}`,
		// About 330 KB of JSON: encrypted, under memcached's 1 MiB items.
		"large": `{"cookie":{"originalMaxAge":3600000,"expires":"` + exp + `","httpOnly":true,"path":"/"},"pad":"` + strings.Repeat("ü€x\\\"", 30_000) + `"}`,
	}
	args := func(sid, secret string, extra ...string) map[string]any {
		m := map[string]any{"addr": addr, "prefix": p, "secret": secret, "sid": sid}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	var ops []nodetest.Op
	for _, k := range keys {
		ops = append(ops, krupteintest.Op("memcached.set", args("node-"+k, cryptoSecret, "session", records[k])))
	}
	for _, r := range krupteintest.Run(t, ops...) {
		if !r.OK {
			t.Fatalf("Node set: %s", r.Error)
		}
	}
	for _, k := range keys {
		flags, value, _ := rawGet(t, p+"node-"+k)
		if flags != 0 || opened(t, cryptoSecret, value) != records[k] {
			t.Fatalf("%s: connect-memcached stored flags %d, %.80s", k, flags, opened(t, cryptoSecret, value))
		}
		s, err := st.Get(ctx, "node-"+k)
		if err != nil {
			t.Fatalf("%s: Go reading Node's session: %v", k, err)
		}
		if enc, _ := s.Encode(); string(enc) != records[k] {
			t.Fatalf("%s: Go read %.80s", k, enc)
		}
		if err := st.Set(ctx, "go-"+k, s); err != nil {
			t.Fatal(err)
		}
	}
	ops = nil
	for _, k := range keys {
		ops = append(ops, krupteintest.Op("memcached.get", args("go-"+k, cryptoSecret)))
	}
	ops = append(ops,
		krupteintest.Op("memcached.get", args("go-ascii", "Wr0ng!Secret#X9")),                          // another secret
		krupteintest.Op("memcached.get", map[string]any{"addr": addr, "prefix": p, "sid": "go-ascii"}), // no secret
	)
	res := krupteintest.Run(t, ops...)
	ops = nil
	for i, k := range keys {
		got := krupteintest.String(t, res[i])
		if got != records[k] {
			t.Fatalf("%s: Node read Go's session as %.80s", k, got)
		}
		ops = append(ops, krupteintest.Op("memcached.set", args("go-"+k, cryptoSecret, "session", got)))
	}
	if wrong := res[len(keys)]; wrong.OK {
		t.Fatalf("connect-memcached read Go's session with another secret: %s", wrong.Value)
	} else {
		t.Logf("connect-memcached with another secret: %s", wrong.Error)
	}
	// Without the secret connect-memcached hands the raw string to
	// express-session (which then fails on it).
	if noSecret := krupteintest.String(t, res[len(keys)+1]); !strings.HasPrefix(noSecret, `"MII`) {
		t.Fatalf("connect-memcached without the secret: %s", noSecret)
	}
	_, before, _ := rawGet(t, p+"go-ascii")
	for _, r := range krupteintest.Run(t, ops...) {
		if !r.OK {
			t.Fatalf("Node re-save: %s", r.Error)
		}
	}
	if _, after, _ := rawGet(t, p+"go-ascii"); string(after) == string(before) {
		t.Fatal("premise: Node re-encrypted the session")
	}
	for _, k := range keys {
		s, err := st.Get(ctx, "go-"+k)
		if err != nil {
			t.Fatalf("%s: Go reading Node's re-save: %v", k, err)
		}
		if enc, _ := s.Encode(); string(enc) != records[k] {
			t.Fatalf("%s: after Node's re-save Go read %.80s", k, enc)
		}
	}
	// Node with another secret writes; Go refuses.
	res = krupteintest.Run(t, krupteintest.Op("memcached.set", args("other", "Wr0ng!Secret#X9", "session", records["ascii"])))
	if !res[0].OK {
		t.Fatal(res[0].Error)
	}
	if _, err := st.Get(ctx, "other"); !errors.Is(err, memcachedstore.ErrDecrypt) {
		t.Fatalf("Go reading a session Node sealed with another secret: %v", err)
	}
	// kruptein 3.1's set refuses a weak secret: Node cannot write with it.
	res = krupteintest.Run(t, krupteintest.Op("memcached.set", args("weak", "keyboard cat", "session", records["ascii"])))
	if res[0].OK {
		t.Fatal("connect-memcached wrote with a secret kruptein 3.1 should refuse")
	}
	t.Logf("connect-memcached with the secret \"keyboard cat\": %s", res[0].Error)
}
