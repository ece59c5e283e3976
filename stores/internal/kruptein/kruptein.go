// Package kruptein seals and opens records in the format of the npm package
// kruptein, which the Node session stores use to encrypt sessions:
// connect-mongo 6 (its crypto option, kruptein 3.0.8 pinned) and
// connect-memcached 3 (its secret option, kruptein 3.1.x).
//
// A record is base64 (standard alphabet, padded) of a DER SEQUENCE of six
// OCTET STRINGs:
//
//	ct    base64 text of the AES-256-GCM ciphertext (tag excluded)
//	hmac  base64 text of HMAC-SHA512(key, material): 88 characters
//	iv    the GCM nonce: 12 bytes (kruptein ignores the iv_size its callers
//	      pass, as it reads _iv_size)
//	salt  128 bytes
//	at    the GCM tag: 16 bytes
//	aad   base64 text of the additional data GCM authenticates: 64 bytes
//	      (an HMAC-SHA512 of the plaintext under a random key)
//
// The key is PBKDF2-HMAC-SHA512(secret as UTF-8, salt, iterations, 32
// bytes). The two formats differ in the iterations and in what the hmac
// field covers (see [V30] and [V31]); kruptein 3.4 is a different format,
// not supported.
//
// kruptein applies JSON.stringify to the value it is given: for a string,
// the plaintext is that string as a JSON string literal. This package seals
// and opens the plaintext bytes; the callers do that JSON layer as their
// Node store does.
//
// Open verifies the hmac in constant time (kruptein 3.0.8 compares with
// !==, 3.1.x computes a constant-time comparison and ignores its result);
// GCM authenticates the rest. Its errors never contain the secret or a byte
// of the plaintext.
package kruptein

import (
	"container/list"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/sessionbridge/sessionbridge/internal/jsbuf"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// Sizes of the record's fields, as kruptein makes them with the options its
// callers pass (aes-256-gcm, sha512).
const (
	keySize    = 32
	saltSize   = 128
	ivSize     = 12 // what kruptein writes
	ivSizeAlt  = 16 // also accepted on read: kruptein's decipher takes it
	tagSize    = 16
	hmacText   = 88 // base64 of a SHA-512 digest
	aadSize    = 64 // what kruptein writes: an HMAC-SHA512
	maxAADText = 88
)

var (
	// ErrNoSecret: the secret is empty (kruptein: "Must supply a
	// secret!").
	ErrNoSecret = errors.New("kruptein: empty secret")
	// ErrMalformed: the record is not in kruptein's format: not base64,
	// not a DER SEQUENCE of six OCTET STRINGs, a field of the wrong size,
	// or trailing data.
	ErrMalformed = errors.New("kruptein: not a kruptein record")
	// ErrDecrypt: the record is in kruptein's format but does not
	// authenticate: it was sealed with another secret, or altered.
	ErrDecrypt = errors.New("kruptein: the record does not decrypt with this secret (another secret, or altered)")
	// ErrTooLarge: the record, or its plaintext, is over the size limit
	// Open was given.
	ErrTooLarge = errors.New("kruptein: record too large")
)

// Format is one version of kruptein's record format.
type Format struct {
	name       string
	iterations int
	// hmacSaltIV: the hmac covers the ct text followed by the salt and
	// the iv each decoded as UTF-8 by Node (invalid sequences replaced),
	// not the ct text alone.
	hmacSaltIV bool
}

// String returns the kruptein versions the format is that of.
func (f Format) String() string { return f.name }

var (
	// V30 is kruptein 3.0.x, pinned at 3.0.8 by connect-mongo 6.0.0:
	// 15000 PBKDF2 iterations, and the hmac covers the ct text.
	V30 = Format{name: "kruptein 3.0", iterations: 15000}
	// V31 is kruptein 3.1.x (3.1.7 under connect-memcached 3.0.0): 20000
	// PBKDF2 iterations, and the hmac covers the ct text, then the salt
	// and the iv as Node's Buffer#toString decodes them as UTF-8.
	V31 = Format{name: "kruptein 3.1", iterations: 20000, hmacSaltIV: true}
)

// CacheSize is the number of derived keys a Cipher keeps, by salt.
const CacheSize = 1024

// A Cipher seals and opens records with one secret in one format. It keeps
// the keys it derived for the last CacheSize salts it saw, so that reading
// the same record on every request costs one PBKDF2 derivation, not one
// per read. It is safe for concurrent use.
type Cipher struct {
	secret string
	format Format
	cache  *keyCache // nil: derive every time
}

// New returns a Cipher for secret (its UTF-8 bytes are the PBKDF2
// password, as Node's crypto takes a string) in format f.
func New(secret string, f Format) (*Cipher, error) {
	if secret == "" {
		return nil, ErrNoSecret
	}
	if f.iterations == 0 {
		return nil, errors.New("kruptein: zero Format")
	}
	return &Cipher{secret: secret, format: f, cache: newKeyCache(CacheSize)}, nil
}

// Format returns the format c seals and opens.
func (c *Cipher) Format() Format { return c.format }

// String does not show the secret.
func (c *Cipher) String() string { return "kruptein.Cipher(" + c.format.name + ")" }

// GoString does not show the secret.
func (c *Cipher) GoString() string { return c.String() }

func (c *Cipher) derive(salt []byte) ([]byte, error) {
	if c.cache != nil {
		if k, ok := c.cache.get(salt); ok {
			return k, nil
		}
	}
	key, err := pbkdf2.Key(sha512.New, c.secret, salt, c.format.iterations, keySize)
	if err != nil {
		// Only a FIPS 140-only mode refusing the parameters gets here.
		return nil, fmt.Errorf("kruptein: deriving the key: %w", err)
	}
	if c.cache != nil {
		c.cache.put(salt, key)
	}
	return key, nil
}

// mac returns the base64 text of the record's hmac.
func (c *Cipher) mac(key, ctText, salt, iv []byte) []byte {
	h := hmac.New(sha512.New, key)
	h.Write(ctText)
	if c.format.hmacSaltIV {
		h.Write(jsbuf.AppendLossyUTF8(make([]byte, 0, 3*len(salt)), salt))
		h.Write(jsbuf.AppendLossyUTF8(make([]byte, 0, 3*len(iv)), iv))
	}
	return base64.StdEncoding.AppendEncode(make([]byte, 0, hmacText), h.Sum(nil))
}

func newGCM(key []byte, nonceSize int) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("kruptein: %w", err)
	}
	if nonceSize == ivSize {
		return cipher.NewGCM(block)
	}
	return cipher.NewGCMWithNonceSize(block, nonceSize)
}

// Seal encrypts plaintext as kruptein's set does, with a fresh random salt,
// a 12-byte random IV and 64 random bytes of additional data, and returns
// the record.
func (c *Cipher) Seal(plaintext []byte) (string, error) {
	var r record
	r.salt = make([]byte, saltSize)
	r.iv = make([]byte, ivSize)
	aad := make([]byte, aadSize)
	_, _ = rand.Read(r.salt) // crypto/rand.Read never fails
	_, _ = rand.Read(r.iv)
	_, _ = rand.Read(aad)
	key, err := c.derive(r.salt)
	if err != nil {
		return "", err
	}
	gcm, err := newGCM(key, ivSize)
	if err != nil {
		return "", err
	}
	sealed := gcm.Seal(nil, r.iv, plaintext, aad)
	ct, tag := sealed[:len(sealed)-tagSize], sealed[len(sealed)-tagSize:]
	r.ct = base64.StdEncoding.AppendEncode(nil, ct)
	r.hmac = c.mac(key, r.ct, r.salt, r.iv)
	r.tag = tag
	r.aad = base64.StdEncoding.AppendEncode(nil, aad)
	return base64.StdEncoding.EncodeToString(r.marshal()), nil
}

// Open decrypts a record kruptein's set (or Seal) made and returns the
// plaintext, which it does not check further (kruptein decodes it as
// UTF-8). maxPlaintext bounds the plaintext accepted, and through
// MaxField the record's length, which is checked before anything is
// decoded; a negative maxPlaintext means no limit.
//
// The record may be standard or URL-safe base64, padded or not (Node's
// Buffer.from(s, 'base64') reads both), but nothing else: Node skips
// characters outside the alphabet, Open refuses them. It returns an error
// wrapping ErrTooLarge, ErrMalformed or ErrDecrypt.
func (c *Cipher) Open(field []byte, maxPlaintext int) ([]byte, error) {
	if maxPlaintext >= 0 && len(field) > MaxField(maxPlaintext) {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(field), MaxField(maxPlaintext))
	}
	der, ok := decodeBase64(nil, field)
	if !ok {
		return nil, fmt.Errorf("%w: not base64", ErrMalformed)
	}
	r, err := parseRecord(der)
	if err != nil {
		return nil, err
	}
	ctLen, ok := decodedLen(r.ct)
	if !ok {
		return nil, fmt.Errorf("%w: ct is not base64", ErrMalformed)
	}
	if maxPlaintext >= 0 && ctLen > maxPlaintext {
		return nil, fmt.Errorf("%w: plaintext of %d bytes, limit %d", ErrTooLarge, ctLen, maxPlaintext)
	}
	aad, ok := decodeBase64(nil, r.aad)
	if !ok || len(aad) == 0 {
		// kruptein 3.0.8 fails on an empty AAD ("Unable to decrypt").
		return nil, fmt.Errorf("%w: aad is empty or not base64", ErrMalformed)
	}
	buf, ok := decodeBase64(make([]byte, 0, ctLen+tagSize), r.ct)
	if !ok {
		return nil, fmt.Errorf("%w: ct is not base64", ErrMalformed)
	}
	buf = append(buf, r.tag...)
	key, err := c.derive(r.salt)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(c.mac(key, r.ct, r.salt, r.iv), r.hmac) {
		return nil, ErrDecrypt
	}
	gcm, err := newGCM(key, len(r.iv))
	if err != nil {
		return nil, err
	}
	pt, err := gcm.Open(buf[:0], r.iv, buf, aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// OpenAs is Open with its errors as a session store reports them:
// ErrTooLarge as sessionjson.ErrTooLarge, ErrMalformed as notEncrypted
// (both with Open's detail, which holds no byte of the record) and
// ErrDecrypt as decryptErr alone.
func (c *Cipher) OpenAs(field []byte, maxPlaintext int, notEncrypted, decryptErr error) ([]byte, error) {
	pt, err := c.Open(field, maxPlaintext)
	switch {
	case errors.Is(err, ErrTooLarge):
		return nil, fmt.Errorf("%w: %v", sessionjson.ErrTooLarge, err)
	case errors.Is(err, ErrMalformed):
		return nil, fmt.Errorf("%w (%v)", notEncrypted, err)
	case errors.Is(err, ErrDecrypt):
		return nil, decryptErr
	case err != nil:
		return nil, err
	}
	return pt, nil
}

// IsRecord reports whether field has the form of a kruptein record (base64
// of the DER structure with fields of the right sizes), without decrypting
// it.
func IsRecord(field []byte) bool {
	der, ok := decodeBase64(nil, field)
	if !ok {
		return false
	}
	_, err := parseRecord(der)
	return err == nil
}

// MaxField returns the length of the longest record Open accepts for a
// plaintext of at most maxPlaintext bytes: one with a 16-byte IV and the
// longest AAD, in padded base64. It grows linearly (about 16/9 of
// maxPlaintext), and saturates at math.MaxInt.
func MaxField(maxPlaintext int) int {
	if maxPlaintext < 0 {
		return math.MaxInt
	}
	if maxPlaintext > math.MaxInt/4 {
		return math.MaxInt
	}
	ct := 4 * ((maxPlaintext + 2) / 3)
	body := 0
	for _, n := range []int{ct, hmacText, ivSizeAlt, saltSize, tagSize, maxAADText} {
		body += 1 + lenLen(n) + n
	}
	der := 1 + lenLen(body) + body
	return 4 * ((der + 2) / 3)
}

// keyCache is a least-recently-used map from salt to derived key.
type keyCache struct {
	mu  sync.Mutex
	max int
	m   map[string]*list.Element
	l   list.List // of *keyEntry, most recent first
}

type keyEntry struct {
	salt string
	key  []byte
}

func newKeyCache(max int) *keyCache {
	return &keyCache{max: max, m: make(map[string]*list.Element, max)}
}

func (k *keyCache) get(salt []byte) ([]byte, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.m[string(salt)]
	if !ok {
		return nil, false
	}
	k.l.MoveToFront(e)
	return e.Value.(*keyEntry).key, true
}

func (k *keyCache) put(salt, key []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e, ok := k.m[string(salt)]; ok {
		k.l.MoveToFront(e)
		return
	}
	if k.l.Len() >= k.max {
		last := k.l.Back()
		k.l.Remove(last)
		delete(k.m, last.Value.(*keyEntry).salt)
	}
	s := string(salt)
	k.m[s] = k.l.PushFront(&keyEntry{salt: s, key: key})
}

func (k *keyCache) len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.l.Len()
}
