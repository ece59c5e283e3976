package kruptein

import (
	"crypto/rand"
	"encoding/base64"
)

// Fields are a record's six DER fields, in kruptein's order: ct, hmac, iv,
// salt, at, aad.
type Fields [6][]byte

// Split decodes a record (standard base64) into its fields, or reports false.
func Split(field string) (Fields, bool) {
	der, err := base64.StdEncoding.DecodeString(field)
	if err != nil {
		return Fields{}, false
	}
	r, err := parseRecord(der)
	if err != nil {
		return Fields{}, false
	}
	return Fields{r.ct, r.hmac, r.iv, r.salt, r.tag, r.aad}, true
}

// Join encodes fields as a record, whatever their sizes.
func Join(f Fields) string {
	r := record{f[0], f[1], f[2], f[3], f[4], f[5]}
	return base64.StdEncoding.EncodeToString(r.marshal())
}

// SealWith is Seal with an IV of ivLen bytes and the given AAD bytes
// (kruptein writes 12 and 64 random ones).
func SealWith(c *Cipher, plaintext []byte, ivLen int, aad []byte) string {
	r := record{salt: make([]byte, saltSize), iv: make([]byte, ivLen)}
	_, _ = rand.Read(r.salt)
	_, _ = rand.Read(r.iv)
	key, err := c.derive(r.salt)
	if err != nil {
		panic(err)
	}
	gcm, err := newGCM(key, ivLen)
	if err != nil {
		panic(err)
	}
	sealed := gcm.Seal(nil, r.iv, plaintext, aad)
	r.ct = base64.StdEncoding.AppendEncode(nil, sealed[:len(sealed)-tagSize])
	r.tag = sealed[len(sealed)-tagSize:]
	r.hmac = c.mac(key, r.ct, r.salt, r.iv)
	r.aad = base64.StdEncoding.AppendEncode(nil, aad)
	return base64.StdEncoding.EncodeToString(r.marshal())
}

// Remac recomputes the hmac of fields (as a writer holding the key would),
// so that a change to another field reaches GCM.
func Remac(c *Cipher, f Fields) Fields {
	key, err := c.derive(f[3])
	if err != nil {
		panic(err)
	}
	f[1] = c.mac(key, f[0], f[3], f[2])
	return f
}

// CacheLen returns the number of keys c keeps.
func CacheLen(c *Cipher) int { return c.cache.len() }

// WithoutCache returns a copy of c that derives the key on every call.
func WithoutCache(c *Cipher) *Cipher {
	d := *c
	d.cache = nil
	return &d
}

// DecodeBase64 is Open's base64 decoder.
func DecodeBase64(s []byte) ([]byte, bool) { return decodeBase64(nil, s) }

// SmallCache returns a copy of c with an empty cache of n keys.
func SmallCache(c *Cipher, n int) *Cipher {
	d := *c
	d.cache = newKeyCache(n)
	return &d
}

// Cached reports whether c holds the key of field's salt.
func Cached(c *Cipher, field string) bool {
	f, ok := Split(field)
	if !ok {
		return false
	}
	_, ok = c.cache.get(f[3])
	return ok
}

// Cheap returns f with one PBKDF2 iteration, for the fuzz target: the
// fuzzing instrumentation makes 15000 iterations take seconds.
func Cheap(f Format) Format {
	f.iterations = 1
	f.name += " (1 iteration)"
	return f
}
