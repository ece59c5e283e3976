package sessionbridge_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	memcachedstore "github.com/sessionbridge/sessionbridge/stores/memcached"
)

// TestBadInputMatrixEncrypted is the matrix for encrypted records
// (connect-memcached's secret, kruptein), on a real memcached: every
// tampered byte of the stored field, a wrong secret, a clear record where
// an encrypted one belongs, all refused with typed errors, never a panic or
// an empty session.
func TestBadInputMatrixEncrypted(t *testing.T) {
	ctx := context.Background()
	mc := memcache.New(services.MemcachedAddr(t))
	prefix := fmt.Sprintf("badcrypt:%d:", time.Now().UnixNano())
	const secret = "Squirrel-Acorn-42!"
	store := memcachedstore.New(mc, memcachedstore.Options{Prefix: prefix, Crypto: &memcachedstore.CryptoOptions{Secret: secret}})
	wrong := memcachedstore.New(mc, memcachedstore.Options{Prefix: prefix, Crypto: &memcachedstore.CryptoOptions{Secret: "Another-Secret-99!"}})
	clear := memcachedstore.New(mc, memcachedstore.Options{Prefix: prefix})
	sess := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
	_ = sess.Set("passport", map[string]int{"user": 7})
	if err := store.Set(ctx, "enc", sess); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mc.Delete(prefix + "enc"); _ = mc.Delete(prefix + "t") })
	if _, err := store.Get(ctx, "enc"); err != nil {
		t.Fatalf("control: %v", err)
	}
	if _, err := wrong.Get(ctx, "enc"); !errors.Is(err, memcachedstore.ErrDecrypt) || strings.Contains(err.Error(), secret) {
		t.Fatalf("wrong secret: %v", err)
	}
	if _, err := clear.Get(ctx, "enc"); !errors.Is(err, sessionjson.ErrMalformed) {
		t.Fatalf("encrypted record read without a secret: %v", err)
	}
	if err := clear.Set(ctx, "t", sess); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx, "t"); !errors.Is(err, memcachedstore.ErrNotEncrypted) {
		t.Fatalf("clear record read with a secret: %v", err)
	}

	item, err := mc.Get(prefix + "enc")
	if err != nil {
		t.Fatal(err)
	}
	der, err := base64.StdEncoding.DecodeString(string(item.Value))
	if err != nil {
		t.Fatalf("stored field is not base64: %v", err)
	}
	// Flip one bit in every fifth byte of the DER, and in each of the
	// first and last 32 (the framing and the AAD): the text of the
	// ciphertext, the HMAC, the IV, salt, tag and AAD. (A flip in the salt
	// costs a key derivation, hence not every byte.)
	accepted := 0
	for i := 0; i < len(der); i++ {
		if i%5 != 0 && i >= 32 && i < len(der)-32 {
			continue
		}
		bad := append([]byte(nil), der...)
		bad[i] ^= 0x01
		if err := mc.Set(&memcache.Item{Key: prefix + "t", Value: []byte(base64.StdEncoding.EncodeToString(bad))}); err != nil {
			t.Fatal(err)
		}
		_, err := store.Get(ctx, "t")
		switch {
		case err == nil:
			accepted++
			t.Errorf("byte %d of %d tampered, still accepted", i, len(der))
		case !errors.Is(err, sessionjson.ErrMalformed):
			t.Fatalf("byte %d: %v, want an error wrapping ErrMalformed", i, err)
		case errors.Is(err, sessionbridge.ErrNotFound):
			t.Fatalf("byte %d: a tampered record reads as not found", i)
		}
	}
	if accepted > 0 {
		t.Fatalf("%d tampered records accepted", accepted)
	}
}
