package cookiesig

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// ErrUnknownAlgorithm is a usage error: a Keygrip was asked for a hash it
// does not offer.
var ErrUnknownAlgorithm = errors.New("cookiesig: unknown keygrip hash algorithm")

// DefaultKeygripAlgorithm is keygrip's default hash.
const DefaultKeygripAlgorithm = "sha1"

// keygripHashes are the hashes a Keygrip offers, under Node's names.
var keygripHashes = map[string]func() hash.Hash{
	"sha1":   sha1.New,
	"sha224": sha256.New224,
	"sha256": sha256.New,
	"sha384": sha512.New384,
	"sha512": sha512.New,
}

// A Keygrip signs with its first key and verifies with every key, exactly
// like the npm keygrip package as the cookies package uses it for signed
// cookies (cookie-session, koa-session): the signature of data is
// HMAC(key, data) in URL-safe base64 without padding ("/" becomes "_",
// "+" becomes "-", "=" is dropped). A signed cookie NAME=VALUE travels with
// a second cookie NAME.sig holding the signature of "NAME=VALUE".
//
// It is safe for concurrent use. Verification compares in constant time.
type Keygrip struct {
	keys []*key
}

// NewKeygrip returns a Keygrip for keys, the first of which signs, with
// the HMAC hash named as Node names it: "sha1" (keygrip's default, used
// when algorithm is empty), "sha224", "sha256", "sha384" or "sha512"
// (case does not matter). Every key must be non-empty and at least one is
// required (an error wrapping [ErrNoSecret]); another algorithm is an
// error wrapping [ErrUnknownAlgorithm].
func NewKeygrip(algorithm string, keys ...string) (*Keygrip, error) {
	if algorithm == "" {
		algorithm = DefaultKeygripAlgorithm
	}
	h, ok := keygripHashes[strings.ToLower(algorithm)]
	if !ok {
		return nil, fmt.Errorf("%w: want sha1, sha224, sha256, sha384 or sha512", ErrUnknownAlgorithm)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no keys given", ErrNoSecret)
	}
	kg := &Keygrip{keys: make([]*key, len(keys))}
	for i, k := range keys {
		if k == "" {
			return nil, fmt.Errorf("%w: key %d of %d is empty", ErrNoSecret, i+1, len(keys))
		}
		kg.keys[i] = newKeyFor(k, h, base64.RawURLEncoding)
	}
	return kg, nil
}

// Sign returns the signature of data with the first key, like keygrip's
// sign(data). data is the UTF-8 encoding of the JavaScript string.
func (kg *Keygrip) Sign(data string) string {
	return kg.keys[0].digest(data)
}

// Index returns the position of the key whose signature of data is digest,
// or -1, like keygrip's index(data, digest).
func (kg *Keygrip) Index(data, digest string) int {
	for i, k := range kg.keys {
		if k.verify(data, digest) {
			return i
		}
	}
	return -1
}

// SigSuffix is appended to a cookie's name to name the cookie that holds
// its keygrip signature.
const SigSuffix = ".sig"

// Get reads the signed cookie name from a Cookie header the way the
// cookies package's get(name, {signed: true}) does, and returns its value
// and the position of the key that verified it (0 is the signing key; a
// larger one means cookies would re-issue NAME.sig signed with the first).
//
// It takes the first "name=" that starts the header or follows a ";" and
// spaces, up to the next ";", strips a leading double quote and the last
// character with it (cookies' slice(1, -1)), and does not URL-decode. The
// signature is NAME.sig's value, read the same way, checked over
// "NAME=VALUE". Header bytes are read as Node reads them (latin1, see
// [CookieValue]) and the value is returned as the UTF-8 encoding of the
// resulting JavaScript string; it may be empty. Errors:
//   - ErrNoCookie: there is no cookie called name;
//   - ErrNotSigned: NAME.sig is missing or empty;
//   - ErrBadSignature: no key verifies it (cookies then clears NAME.sig);
//   - ErrMalformed: the header is longer than maxHeaderBytes (0 or less
//     means no limit), or name cannot be a cookie name.
func (kg *Keygrip) Get(header, name string, maxHeaderBytes int) (value string, keyIndex int, err error) {
	if maxHeaderBytes > 0 && len(header) > maxHeaderBytes {
		return "", -1, fmt.Errorf("%w: cookie header of %d bytes, limit %d", ErrMalformed, len(header), maxHeaderBytes)
	}
	lname, ok := latin1Name(name)
	if !ok || lname == "" || strings.ContainsAny(lname, ";=") {
		return "", -1, fmt.Errorf("%w: unusable cookie name", ErrMalformed)
	}
	raw, found := cookiesValue(header, lname)
	if !found {
		return "", -1, ErrNoCookie
	}
	sig, found := cookiesValue(header, lname+SigSuffix)
	if !found || sig == "" {
		return "", -1, ErrNotSigned
	}
	value = latin1ToUTF8(raw)
	sig = latin1ToUTF8(sig)
	// Index(name+"="+value, sig), without building the signed string.
	for i, k := range kg.keys {
		if k.verifyParts(sig, name, "=", value) {
			return value, i, nil
		}
	}
	return "", -1, ErrBadSignature
}

// cookiesValue finds cookie name in header as the cookies package does:
// the regular expression (?:^|;) *NAME=([^;]*), then one pair of quotes
// stripped by position. It takes time linear in the header's length.
func cookiesValue(header, name string) (string, bool) {
	for start := 0; start <= len(header); {
		i := start
		for i < len(header) && header[i] == ' ' {
			i++
		}
		if strings.HasPrefix(header[i:], name) && i+len(name) < len(header) && header[i+len(name)] == '=' {
			v := header[i+len(name)+1:]
			if end := strings.IndexByte(v, ';'); end >= 0 {
				v = v[:end]
			}
			if v != "" && v[0] == '"' {
				if len(v) < 2 {
					return "", true
				}
				v = v[1 : len(v)-1]
			}
			return v, true
		}
		next := strings.IndexByte(header[start:], ';')
		if next < 0 {
			break
		}
		start += next + 1
	}
	return "", false
}
