package cookiesig

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"hash"
	"strings"
	"sync"
	"unsafe"
)

// SignatureLen is the length of a cookie-signature signature: 32 bytes of
// HMAC-SHA256 in base64 without padding.
const SignatureLen = 43

// Sign returns value + "." + base64(HMAC-SHA256(secret, value)) with the
// padding removed, exactly like cookie-signature's sign(value, secret).
// The secret is used as given, even when empty; use [NewSigner] for the
// checks express-session makes. value and secret are the UTF-8 encodings of
// the JavaScript strings, the bytes Node's HMAC sees.
func Sign(value, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(value))
	var enc [SignatureLen]byte
	base64.RawStdEncoding.Encode(enc[:], m.Sum(nil))
	return value + "." + string(enc[:])
}

// Unsign verifies a value signed with a single secret and returns the
// original value, like cookie-signature's unsign(signed, secret). It splits
// on the last "." and compares in constant time.
func Unsign(signed, secret string) (string, error) {
	if secret == "" {
		return "", ErrNoSecret
	}
	return newKey(secret).unsign(signed)
}

// A Signer signs with its first secret and verifies with every secret, in
// order, the way express-session and cookie-parser treat a list of secrets
// when rotating them. It is safe for concurrent use.
type Signer struct {
	keys []*key
}

// NewSigner returns a signer for the secrets, the first of which signs.
// Every secret must be non-empty (express-session refuses empty ones) and at
// least one is required; otherwise it returns an error wrapping [ErrNoSecret].
func NewSigner(secrets ...string) (*Signer, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: no secrets given", ErrNoSecret)
	}
	s := &Signer{keys: make([]*key, len(secrets))}
	for i, secret := range secrets {
		if secret == "" {
			return nil, fmt.Errorf("%w: secret %d of %d is empty", ErrNoSecret, i+1, len(secrets))
		}
		s.keys[i] = newKey(secret)
	}
	return s, nil
}

// Sign signs value with the first secret.
func (s *Signer) Sign(value string) string {
	return s.keys[0].sign(value)
}

// Unsign verifies signed (value.signature, without the "s:" prefix) against
// every secret in order and returns the value. It does not allocate.
//
// signed is taken as the UTF-8 encoding of the JavaScript string
// cookie-signature would be given, and the HMAC is computed over those
// bytes, as Node computes it over the UTF-8 of its string. That is what a
// socket.io auth payload or any other JSON string already is: Node decoded
// the UTF-8 of the frame, and Go's decoders do the same. Bytes taken
// straight from an HTTP header are not: Node reads those as latin1, so go
// through [Signer.SessionID] or [CookieValue] for a Cookie header.
func (s *Signer) Unsign(signed string) (string, error) {
	v, _, err := s.UnsignIndex(signed)
	return v, err
}

// UnsignIndex is like Unsign and also reports which secret matched (0 is the
// signing secret). A value verified by an older secret is still valid, but a
// caller may choose to re-issue the cookie signed with the current one.
func (s *Signer) UnsignIndex(signed string) (value string, secret int, err error) {
	dot := strings.LastIndexByte(signed, '.')
	if dot < 0 {
		return "", -1, fmt.Errorf("%w: no signature", ErrMalformed)
	}
	value, sig := signed[:dot], signed[dot+1:]
	if len(sig) != SignatureLen {
		// No secret can match; still a forgery or truncation, not a shape error.
		return "", -1, ErrBadSignature
	}
	for i, k := range s.keys {
		if k.verify(value, sig) {
			return value, i, nil
		}
	}
	return "", -1, ErrBadSignature
}

// key holds one secret's HMAC state, for one hash and one encoding of the
// digest: HMAC-SHA256 in unpadded standard base64 for cookie-signature, the
// configured hash in unpadded URL-safe base64 for keygrip. hmac.New
// computes the padded key blocks once; crypto/hmac then restores them on
// Reset without rehashing the secret, and the pool keeps those states (and
// the output buffers) allocated. Every signature this package checks goes
// through key.verify, the one constant-time comparison.
type key struct {
	pool   sync.Pool
	enc    *base64.Encoding
	size   int // digest bytes
	encLen int // encoded digest bytes
}

// maxDigest is the largest digest a key makes (SHA-512).
const maxDigest = 64

type macState struct {
	h   hash.Hash
	sum [maxDigest]byte
	enc [(maxDigest*8 + 5) / 6]byte
}

func newKey(secret string) *key {
	return newKeyFor(secret, sha256.New, base64.RawStdEncoding)
}

func newKeyFor(secret string, h func() hash.Hash, enc *base64.Encoding) *key {
	k := &key{enc: enc}
	secretBytes := []byte(secret)
	k.pool.New = func() any {
		return &macState{h: hmac.New(h, secretBytes)}
	}
	// Warm the pool so the first request pays nothing.
	st := k.pool.Get().(*macState)
	st.h.Reset()
	k.size = st.h.Size()
	k.encLen = enc.EncodedLen(k.size)
	k.pool.Put(st)
	return k
}

// mac computes the encoded signature of the concatenation of parts into
// st.enc[:k.encLen], without building that string.
func (k *key) mac(st *macState, parts ...string) []byte {
	st.h.Reset()
	for _, v := range parts {
		st.h.Write(unsafe.Slice(unsafe.StringData(v), len(v)))
	}
	st.h.Sum(st.sum[:0])
	out := st.enc[:k.encLen]
	k.enc.Encode(out, st.sum[:k.size])
	return out
}

func (k *key) sign(value string) string {
	st := k.pool.Get().(*macState)
	out := value + "." + string(k.mac(st, value))
	k.pool.Put(st)
	return out
}

// digest returns the encoded signature of value alone.
func (k *key) digest(value string) string {
	st := k.pool.Get().(*macState)
	out := string(k.mac(st, value))
	k.pool.Put(st)
	return out
}

// verify reports whether sig is value's signature, in time independent of
// where the two differ.
func (k *key) verify(value, sig string) bool {
	return k.verifyParts(sig, value)
}

// verifyParts is verify for the concatenation of parts.
func (k *key) verifyParts(sig string, parts ...string) bool {
	st := k.pool.Get().(*macState)
	ok := subtle.ConstantTimeCompare(k.mac(st, parts...), unsafe.Slice(unsafe.StringData(sig), len(sig))) == 1
	k.pool.Put(st)
	return ok
}

// verifyBytes is verify for a signature held in an array.
func (k *key) verifyBytes(value string, sig *[SignatureLen]byte) bool {
	return k.verify(value, unsafe.String(&sig[0], len(sig)))
}

func (k *key) unsign(signed string) (string, error) {
	dot := strings.LastIndexByte(signed, '.')
	if dot < 0 {
		return "", fmt.Errorf("%w: no signature", ErrMalformed)
	}
	value, sig := signed[:dot], signed[dot+1:]
	if len(sig) != SignatureLen || !k.verify(value, sig) {
		return "", ErrBadSignature
	}
	return value, nil
}
