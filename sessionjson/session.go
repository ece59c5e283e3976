package sessionjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Default limits of [Decode]. A session record written by express-session is
// usually well under a kilobyte.
const (
	DefaultMaxBytes = 4 << 20 // 4 MiB
	DefaultMaxDepth = 1000
)

// A Decoder decodes records with configurable limits. The zero value uses the
// defaults.
type Decoder struct {
	// MaxBytes is the longest record accepted (ErrTooLarge beyond it);
	// 0 means DefaultMaxBytes, a negative value means no limit.
	MaxBytes int
	// MaxDepth is the deepest nesting accepted (ErrTooDeep beyond it);
	// 0 means DefaultMaxDepth.
	MaxDepth int
}

// Session is an express-session record: the "cookie" object plus the
// application's data, the members of JSON.stringify(req.session).
//
// Decoding keeps every member as the bytes Node wrote, in order. Encoding a
// record nobody changed returns those bytes unchanged; after a change it
// returns what Node's JSON.stringify would write for the changed session:
// same key order (new keys last, or among the array-index keys as
// JavaScript orders them), null kept apart from absent, numbers as written
// (integers above 2^53 survive), no HTML escaping, U+2028 and U+2029 raw.
//
// A Session is not safe for concurrent use.
type Session struct {
	// Cookie is the record's cookie. Change it directly; Encode notices.
	Cookie Cookie

	members []member // in order; the cookie's place has value == nil
	raw     []byte   // the bytes decoded, nil for a new session
	orig    Cookie   // Cookie as decoded
	rawCook []byte   // cookie bytes as decoded
	dirty   bool     // a member other than cookie changed
}

type member struct {
	key   string
	value []byte // compact or as written; nil marks the cookie
}

// New returns a session holding only the cookie, as express-session's
// generate() creates it.
func New(c Cookie) *Session {
	return &Session{Cookie: c, members: []member{{key: "cookie"}}, dirty: true}
}

// Decode decodes a record with the default limits. See [Decoder.Decode].
func Decode(data []byte) (*Session, error) {
	return Decoder{}.Decode(data)
}

// Decode parses a record. data is copied. It returns an error wrapping
// [ErrMalformed] (and a more specific sentinel) when data is not a JSON
// object with a valid "cookie" object, has a repeated top-level or cookie
// key, or exceeds the limits.
func (d Decoder) Decode(data []byte) (*Session, error) {
	return d.decode(bytes.Clone(data))
}

// DecodeOwned is Decode for a buffer the caller hands over (a store's
// freshly read value): it is kept, not copied, and must not be modified
// afterwards.
func (d Decoder) DecodeOwned(data []byte) (*Session, error) {
	return d.decode(data)
}

func (d Decoder) decode(data []byte) (*Session, error) {
	maxBytes := d.MaxBytes
	if maxBytes == 0 {
		maxBytes = DefaultMaxBytes
	}
	if maxBytes > 0 && len(data) > maxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), maxBytes)
	}
	maxDepth := d.MaxDepth
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	sc := scanner{data: data, maxDepth: maxDepth}
	i := sc.skipSpace(0)
	if i >= len(data) {
		return nil, fmt.Errorf("%w: empty", ErrInvalidJSON)
	}
	if data[i] != '{' {
		end, err := sc.value(i, 0)
		if err != nil {
			return nil, err
		}
		if sc.skipSpace(end) != len(data) {
			return nil, sc.errAt(sc.skipSpace(end), "data after the value")
		}
		return nil, ErrNotObject
	}
	// One pass: validate each member's value while collecting it. Errors
	// about what the record means (duplicate keys, a bad cookie) wait until
	// the whole text is known to be JSON, so invalid JSON always reports
	// ErrInvalidJSON first.
	s := &Session{raw: data, members: make([]member, 0, 4)}
	cookieFound := false
	var semErr error
	add := func(key string, v []byte) error {
		for _, m := range s.members {
			if m.key == key {
				return fmt.Errorf("%w: %q", ErrDuplicateKey, key)
			}
		}
		switch {
		case key == "cookie":
			if cookieFound {
				return fmt.Errorf("%w: %q", ErrDuplicateKey, key)
			}
			cookieFound = true
			if v[0] != '{' {
				return fmt.Errorf("%w: cookie is not an object", ErrBadCookie)
			}
			c, err := decodeCookie(v)
			if err != nil {
				return err
			}
			s.Cookie, s.rawCook = c, v
			s.members = append(s.members, member{key: key})
		case hiddenKeys[key]:
			// express-session's Session constructor skips these (they are
			// `in` every Session), so Node never writes them back.
		default:
			s.members = append(s.members, member{key: key, value: v})
		}
		return nil
	}
	if maxDepth < 1 {
		return nil, fmt.Errorf("%w: more than %d levels", ErrTooDeep, maxDepth)
	}
	j := sc.skipSpace(i + 1)
	if j < len(data) && data[j] == '}' {
		j++
	} else {
		for {
			if j >= len(data) || data[j] != '"' {
				return nil, sc.errAt(j, "expected a key")
			}
			kend, escaped, err := sc.str(j)
			if err != nil {
				return nil, err
			}
			key := unquote(data[j:kend], escaped)
			j = sc.skipSpace(kend)
			if j >= len(data) || data[j] != ':' {
				return nil, sc.errAt(j, "expected ':'")
			}
			vs := sc.skipSpace(j + 1)
			ve, err := sc.value(vs, 1)
			if err != nil {
				return nil, err
			}
			if semErr == nil {
				semErr = add(key, data[vs:ve])
			}
			j = sc.skipSpace(ve)
			if j >= len(data) {
				return nil, sc.errAt(j, "unexpected end")
			}
			if data[j] == ',' {
				j = sc.skipSpace(j + 1)
				continue
			}
			if data[j] != '}' {
				return nil, sc.errAt(j, "expected ',' or '}'")
			}
			j++
			break
		}
	}
	if k := sc.skipSpace(j); k != len(data) {
		return nil, sc.errAt(k, "data after the value")
	}
	if semErr != nil {
		return nil, semErr
	}
	if !cookieFound {
		return nil, ErrNoCookie
	}
	s.orig = s.Cookie.clone()
	return s, nil
}

// hiddenKeys are the names for which `prop in session` is true in
// express-session: Session's own non-enumerable properties, its prototype's
// methods and Object.prototype's members. A record may hold them, but Node
// drops them when it loads the session.
var hiddenKeys = map[string]bool{
	"id": true, "req": true,
	"touch": true, "resetMaxAge": true, "save": true, "reload": true, "destroy": true, "regenerate": true,
	"constructor": true, "__proto__": true, "__defineGetter__": true, "__defineSetter__": true,
	"__lookupGetter__": true, "__lookupSetter__": true, "hasOwnProperty": true, "isPrototypeOf": true,
	"propertyIsEnumerable": true, "toString": true, "toLocaleString": true, "valueOf": true,
}

// members iterates over the members of a validated object without
// allocating: keys without escapes are strings sharing obj's memory, which
// is safe because a Session never modifies the bytes it decoded.
type members struct {
	sc scanner
	i  int
}

func newMembers(obj []byte) members {
	it := members{sc: scanner{data: obj, maxDepth: 1 << 30}}
	it.i = it.sc.skipSpace(1)
	return it
}

func (it *members) next() (key string, value []byte, ok bool) {
	obj := it.sc.data
	if it.i >= len(obj) || obj[it.i] == '}' {
		return "", nil, false
	}
	kend, escaped, _ := it.sc.str(it.i)
	key = unquote(obj[it.i:kend], escaped)
	i := it.sc.skipSpace(kend)
	i = it.sc.skipSpace(i + 1) // ':'
	vend, _ := it.sc.value(i, 0)
	value = obj[i:vend]
	i = it.sc.skipSpace(vend)
	if obj[i] == ',' {
		i = it.sc.skipSpace(i + 1)
	}
	it.i = i
	return key, value, true
}

// Modified reports whether Encode would return something other than the
// bytes decoded.
func (s *Session) Modified() bool {
	return s.raw == nil || s.dirty || !s.Cookie.equal(&s.orig)
}

// Encode returns the record as JSON.stringify(req.session) would write it.
// An unmodified decoded record comes back byte-for-byte.
func (s *Session) Encode() ([]byte, error) {
	if !s.Modified() {
		return bytes.Clone(s.raw), nil
	}
	cookieChanged := s.raw == nil || !s.Cookie.equal(&s.orig)
	size := 2
	for _, m := range s.members {
		size += len(m.key) + len(m.value) + 4
	}
	tmp := make([]byte, 0, size+len(s.rawCook)+64)
	tmp = append(tmp, '{')
	for k, m := range s.members {
		if k > 0 {
			tmp = append(tmp, ',')
		}
		tmp = appendString(tmp, m.key)
		tmp = append(tmp, ':')
		switch {
		case m.value != nil:
			tmp = append(tmp, m.value...)
		case cookieChanged:
			tmp = s.Cookie.appendJSON(tmp)
		default:
			tmp = append(tmp, s.rawCook...)
		}
	}
	tmp = append(tmp, '}')
	out, _ := appendNode(make([]byte, 0, len(tmp)), tmp, 0)
	return out, nil
}

// MarshalJSON implements json.Marshaler with Encode. Note that
// encoding/json re-escapes the result for HTML; use Encode for storage.
func (s *Session) MarshalJSON() ([]byte, error) { return s.Encode() }

// Keys returns the record's member names in order, "cookie" included.
func (s *Session) Keys() []string {
	keys := make([]string, len(s.members))
	for i, m := range s.members {
		keys[i] = m.key
	}
	return keys
}

func (s *Session) find(key string) int {
	for i, m := range s.members {
		if m.key == key {
			return i
		}
	}
	return -1
}

// Has reports whether the record has a member called key.
func (s *Session) Has(key string) bool { return s.find(key) >= 0 }

// Raw returns the JSON of member key as stored, or false. The cookie member
// is returned as it will be encoded. The result must not be modified.
func (s *Session) Raw(key string) (json.RawMessage, bool) {
	i := s.find(key)
	if i < 0 {
		return nil, false
	}
	if s.members[i].value == nil {
		if s.Cookie.equal(&s.orig) && s.rawCook != nil {
			return s.rawCook, true
		}
		return s.Cookie.appendJSON(nil), true
	}
	return s.members[i].value, true
}

// Get decodes member key into v with encoding/json, numbers as json.Number
// where v leaves the type open, so large integers stay exact. It returns an
// error wrapping [ErrNoField] when there is no such member.
func (s *Session) Get(key string, v any) error {
	raw, ok := s.Raw(key)
	if !ok {
		return fmt.Errorf("%w: %q", ErrNoField, key)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("sessionjson: field %q: %w", key, err)
	}
	return nil
}

// Set stores v, encoded as JSON the way JSON.stringify would write the same
// value, as member key. An existing member keeps its place; a new one goes
// where JavaScript would put it. Setting "cookie", or a name express-session
// drops on load ("id", "req", "save", "constructor", ...), returns
// [ErrReservedKey].
func (s *Session) Set(key string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("sessionjson: field %q: %w", key, err)
	}
	return s.SetRaw(key, bytes.TrimRight(buf.Bytes(), "\n"))
}

// SetRaw stores raw JSON as member key, rewritten in Node's form (see Set).
func (s *Session) SetRaw(key string, raw json.RawMessage) error {
	if key == "cookie" {
		return ErrReservedKey
	}
	if hiddenKeys[key] {
		return fmt.Errorf("%w: express-session drops %q when it loads a session", ErrReservedKey, key)
	}
	sc := scanner{data: raw, maxDepth: DefaultMaxDepth}
	i := sc.skipSpace(0)
	end, err := sc.value(i, 0)
	if err != nil {
		return fmt.Errorf("sessionjson: field %q: %w", key, err)
	}
	if sc.skipSpace(end) != len(raw) {
		return fmt.Errorf("sessionjson: field %q: %w", key, sc.errAt(end, "data after the value"))
	}
	value, _ := appendNode(nil, raw, i)
	s.dirty = true
	if j := s.find(key); j >= 0 {
		s.members[j].value = value
		return nil
	}
	m := member{key: key, value: value}
	if n, ok := arrayIndex([]byte(`"` + key + `"`)); ok {
		// JavaScript puts array-index keys first, in ascending order.
		pos := 0
		for pos < len(s.members) {
			q, isIdx := arrayIndex([]byte(`"` + s.members[pos].key + `"`))
			if !isIdx || q > n {
				break
			}
			pos++
		}
		s.members = append(s.members, member{})
		copy(s.members[pos+1:], s.members[pos:])
		s.members[pos] = m
		return nil
	}
	s.members = append(s.members, m)
	return nil
}

// Delete removes member key, like JavaScript's delete. Deleting "cookie"
// returns [ErrReservedKey]; deleting a missing key does nothing.
func (s *Session) Delete(key string) error {
	if key == "cookie" {
		return ErrReservedKey
	}
	if i := s.find(key); i >= 0 {
		s.members = append(s.members[:i], s.members[i+1:]...)
		s.dirty = true
	}
	return nil
}

// Clear removes every member but the cookie.
func (s *Session) Clear() {
	kept := s.members[:0]
	for _, m := range s.members {
		if m.value == nil {
			kept = append(kept, m)
		}
	}
	if len(kept) != len(s.members) {
		s.dirty = true
	}
	s.members = kept
}

// Touch resets the cookie's expiry from now, like express-session does on
// every response. See [Cookie.Touch].
func (s *Session) Touch(now time.Time) { s.Cookie.Touch(now) }

// Expired reports whether the session's cookie has expired at now.
func (s *Session) Expired(now time.Time) bool { return s.Cookie.Expired(now) }

// Member returns the value of member key of a JSON object that was
// validated by Decode (a value Session.Raw returned), the last one when the
// key repeats (as JSON.parse keeps it), without allocating.
func Member(obj []byte, key string) (json.RawMessage, bool) {
	if len(obj) == 0 || obj[0] != '{' {
		return nil, false
	}
	var out []byte
	found := false
	for it := newMembers(obj); ; {
		k, v, ok := it.next()
		if !ok {
			break
		}
		if k == key {
			out, found = v, true
		}
	}
	return out, found
}
