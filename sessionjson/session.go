package sessionjson

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"sort"
	"time"

	"github.com/sessionbridge/sessionbridge/internal/jsjson"
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
	// index holds the members' positions once there are more than
	// smallObject of them, so that finding a key takes constant time.
	index   map[string]int
	raw     []byte // the bytes decoded, nil for a new session
	orig    Cookie // Cookie as decoded
	rawCook []byte // cookie bytes as decoded
	dirty   bool   // a member other than cookie changed
	// outOfOrder: the decoded record was not in JavaScript property order
	// (Node never writes that); array-index keys are then placed by a
	// linear scan instead of a binary search, and Encode checks the order.
	outOfOrder bool
	// data marks a record that is all data (NewData, DecodeData): no cookie
	// member, "cookie" an ordinary key, and hidden (not isHidden) naming
	// the keys the format drops.
	data   bool
	hidden func(key string) bool
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

// NewData returns an empty record that is all data, without a cookie
// member: the session of a format that keeps no express-session cookie in
// its record (cookie-session, koa-session), where "cookie" is an ordinary
// key. hidden names the keys the Node package drops when it loads a
// session (nil for none): Set refuses them and decoding drops them.
func NewData(hidden func(key string) bool) *Session {
	return &Session{data: true, hidden: hidden, dirty: true}
}

// DecodeData decodes a record that is all data (see [NewData]) with the
// default limits. See [Decoder.DecodeData].
func DecodeData(data []byte, hidden func(key string) bool) (*Session, error) {
	return Decoder{}.DecodeData(data, hidden)
}

// DecodeData decodes a record that is all data (see [NewData]): a JSON
// object whose members, "cookie" included, are the application's, minus
// those hidden names (nil for none). data is copied. Its errors are
// Decode's, except that no cookie is required.
func (d Decoder) DecodeData(data []byte, hidden func(key string) bool) (*Session, error) {
	return d.decodeAs(context.Background(), bytes.Clone(data), true, hidden)
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
	return d.decode(context.Background(), bytes.Clone(data))
}

// DecodeOwned is Decode for a buffer the caller hands over (a store's
// freshly read value): it is kept, not copied, and must not be modified
// afterwards.
func (d Decoder) DecodeOwned(data []byte) (*Session, error) {
	return d.decode(context.Background(), data)
}

// DecodeOwnedContext is DecodeOwned bounded by ctx, for a store reading a
// record on behalf of a request: when ctx is done before or while the
// record is decoded, it stops and returns an error wrapping ctx.Err()
// (context.Canceled or context.DeadlineExceeded), not [ErrMalformed].
// Decoding takes time linear in the record's size; ctx is looked at before
// decoding starts and every 64 KiB of input.
func (d Decoder) DecodeOwnedContext(ctx context.Context, data []byte) (*Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sessionjson: decode abandoned: %w", err)
	}
	return d.decode(ctx, data)
}

// decode decodes data, which it keeps, giving up when ctx is done
// (context.Background, which never is, costs nothing). It makes one pass: each member's value is validated while it is collected. Errors about what
// the record means (duplicate keys, a bad cookie) wait until the whole text
// is known to be JSON, so invalid JSON always reports ErrInvalidJSON first.
func (d Decoder) decode(ctx context.Context, data []byte) (*Session, error) {
	return d.decodeAs(ctx, data, false, nil)
}

// decodeAs is decode for an express-session record or, with isData, a
// record that is all data.
func (d Decoder) decodeAs(ctx context.Context, data []byte, isData bool, hidden func(string) bool) (*Session, error) {
	maxDepth, err := d.limits(len(data))
	if err != nil {
		return nil, err
	}
	sc := scanner{data: data, maxDepth: maxDepth}
	if ctx != context.Background() {
		sc.ctx = ctx
		sc.next = pollEvery
	}
	i := sc.skipSpace(0)
	if i >= len(data) {
		return nil, fmt.Errorf("%w: empty", ErrInvalidJSON)
	}
	if data[i] != '{' {
		return nil, notObject(&sc, i)
	}
	if maxDepth < 1 {
		return nil, fmt.Errorf("%w: more than %d levels", ErrTooDeep, maxDepth)
	}
	rb := recordBuilder{s: &Session{raw: data, members: make([]member, 0, 4), data: isData, hidden: hidden}}
	end, err := rb.readObject(&sc, i)
	if err != nil {
		return nil, err
	}
	if k := sc.skipSpace(end); k != len(data) {
		return nil, sc.errAt(k, "data after the value")
	}
	return rb.finish()
}

// limits returns the depth limit, or an error wrapping ErrTooLarge when a
// record of n bytes exceeds the size limit.
func (d Decoder) limits(n int) (maxDepth int, err error) {
	maxBytes := d.MaxBytes
	if maxBytes == 0 {
		maxBytes = DefaultMaxBytes
	}
	if maxBytes > 0 && n > maxBytes {
		return 0, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, maxBytes)
	}
	maxDepth = d.MaxDepth
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	return maxDepth, nil
}

// notObject returns the error for a record whose top-level value, at
// offset i, is not an object: the syntax error when it is not valid JSON
// either, otherwise ErrNotObject.
func notObject(sc *scanner, i int) error {
	end, err := sc.value(i, 0)
	if err != nil {
		return err
	}
	if sc.skipSpace(end) != len(sc.data) {
		return sc.errAt(sc.skipSpace(end), "data after the value")
	}
	return ErrNotObject
}

// recordBuilder collects the members of a record while decode scans it.
type recordBuilder struct {
	s           *Session
	cookieFound bool
	semErr      error // the first error about what the record means
	// seenName, haveIndex and last follow JavaScript property order (array
	// indexes ascending, then names).
	seenName, haveIndex bool
	last                uint64
	work                int // for testHookKeyWork
}

// readObject scans the top-level object starting at offset i (its '{'),
// hands each member to add until a semantic error is found, and returns the
// offset after the closing '}'.
func (rb *recordBuilder) readObject(sc *scanner, i int) (int, error) {
	data := sc.data
	j := sc.skipSpace(i + 1)
	if j < len(data) && data[j] == '}' {
		return j + 1, nil
	}
	for {
		key, value, end, err := readMember(sc, j)
		if err != nil {
			return 0, err
		}
		if rb.semErr == nil {
			rb.semErr = rb.add(key, value)
		}
		if err := sc.poll(end); err != nil {
			return 0, err
		}
		j = sc.skipSpace(end)
		if j >= len(data) {
			return 0, sc.errAt(j, "unexpected end")
		}
		if data[j] == ',' {
			j = sc.skipSpace(j + 1)
			continue
		}
		if data[j] != '}' {
			return 0, sc.errAt(j, "expected ',' or '}'")
		}
		return j + 1, nil
	}
}

// readMember scans the member whose key starts at offset j and returns its
// key, its validated value and the offset after the value.
func readMember(sc *scanner, j int) (key string, value []byte, end int, err error) {
	data := sc.data
	if j >= len(data) || data[j] != '"' {
		return "", nil, 0, sc.errAt(j, "expected a key")
	}
	kend, escaped, err := sc.str(j)
	if err != nil {
		return "", nil, 0, err
	}
	key = unquote(data[j:kend], escaped)
	j = sc.skipSpace(kend)
	if j >= len(data) || data[j] != ':' {
		return "", nil, 0, sc.errAt(j, "expected ':'")
	}
	vs := sc.skipSpace(j + 1)
	ve, err := sc.value(vs, 1)
	if err != nil {
		return "", nil, 0, err
	}
	return key, data[vs:ve], ve, nil
}

// add appends member key with value v to the session, decoding the cookie,
// or returns the semantic error the member causes.
func (rb *recordBuilder) add(key string, v []byte) error {
	if rb.s.isHidden(key) {
		// express-session's Session constructor skips these (they are `in`
		// every Session), so Node never writes them back. A cookie-based
		// format compares what it would write with what it read, so there
		// the record has changed.
		if rb.s.data {
			rb.s.dirty = true
		}
		return nil
	}
	if err := rb.checkRepeat(key); err != nil {
		return err
	}
	m := member{key: key, value: v}
	if key == "cookie" && !rb.s.data {
		if err := rb.addCookie(v); err != nil {
			return err
		}
		m.value = nil
	}
	rb.trackOrder(key)
	s := rb.s
	s.grow()
	s.members = append(s.members, m)
	if s.index == nil && len(s.members) > smallObject {
		s.buildIndex()
	}
	return nil
}

// checkRepeat returns ErrDuplicateKey when key was already seen: pairwise
// comparison for the few members of a typical record, then the index of
// member positions (built once there are more than smallObject members), so
// the cost stays linear however many keys a record has. With the index,
// key is recorded at the position it is about to take.
func (rb *recordBuilder) checkRepeat(key string) error {
	s := rb.s
	if s.index == nil {
		rb.work += len(s.members)
		for _, m := range s.members {
			if m.key == key {
				return fmt.Errorf("%w: %q", ErrDuplicateKey, key)
			}
		}
		return nil
	}
	rb.work++
	if !s.addIndex(key, len(s.members)) {
		return fmt.Errorf("%w: %q", ErrDuplicateKey, key)
	}
	return nil
}

// addCookie decodes the "cookie" member's value v into the session.
func (rb *recordBuilder) addCookie(v []byte) error {
	if rb.cookieFound {
		return fmt.Errorf("%w: %q", ErrDuplicateKey, "cookie")
	}
	rb.cookieFound = true
	if v[0] != '{' {
		return fmt.Errorf("%w: cookie is not an object", ErrBadCookie)
	}
	c, err := decodeCookie(v)
	if err != nil {
		return err
	}
	rb.s.Cookie, rb.s.rawCook = c, v
	return nil
}

// trackOrder notes whether key breaks JavaScript property order, which Node
// never does; the session is then marked outOfOrder.
func (rb *recordBuilder) trackOrder(key string) {
	if n, ok := arrayIndex(key); ok {
		if rb.seenName || (rb.haveIndex && n < rb.last) {
			rb.s.outOfOrder = true
		}
		rb.haveIndex, rb.last = true, n
	} else {
		rb.seenName = true
	}
}

// finish returns the session once the whole record is known to be valid
// JSON, or the first semantic error.
func (rb *recordBuilder) finish() (*Session, error) {
	countKeyWork(rb.work)
	if rb.semErr != nil {
		return nil, rb.semErr
	}
	if !rb.cookieFound && !rb.s.data {
		return nil, ErrNoCookie
	}
	rb.s.orig = rb.s.Cookie.clone()
	return rb.s, nil
}

// isHidden reports whether the record's format drops key when it loads a
// session.
func (s *Session) isHidden(key string) bool {
	switch {
	case s.data:
		return s.hidden != nil && s.hidden(key)
	case s.Cookie.Layout == FastifyLayout:
		// @fastify/session copies every key of the stored record but
		// these two (and JavaScript cannot own __proto__ that way). Its
		// records start with the cookie, so the layout is known by then.
		return key == "sessionId" || key == "encryptedSessionId" || key == "__proto__"
	}
	return isHidden(key)
}

// HasCookie reports whether the record has a cookie member: true for an
// express-session record, false for one that is all data ([NewData],
// [DecodeData]), whose Cookie field is not part of the record.
func (s *Session) HasCookie() bool { return !s.data }

// isHidden reports whether `key in session` is true in express-session:
// Session's own non-enumerable properties, its prototype's methods and
// Object.prototype's members. A record may hold them, but Node drops them
// when it loads the session.
func isHidden(key string) bool {
	switch key {
	case "id", "req",
		"touch", "resetMaxAge", "save", "reload", "destroy", "regenerate",
		"constructor", "__proto__", "__defineGetter__", "__defineSetter__",
		"__lookupGetter__", "__lookupSetter__", "hasOwnProperty", "isPrototypeOf",
		"propertyIsEnumerable", "toString", "toLocaleString", "valueOf":
		return true
	}
	return false
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
	return s.raw == nil || s.dirty || (!s.data && !s.Cookie.equal(&s.orig))
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
		tmp = jsjson.AppendString(tmp, m.key)
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
	if s.outOfOrder {
		out, _ := appendNode(make([]byte, 0, len(tmp)), tmp, 0)
		return out, nil
	}
	// Members are distinct, and in JavaScript order unless the decoded
	// record was not.
	return appendNodeOrdered(make([]byte, 0, len(tmp)), tmp), nil
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
	if s.index != nil {
		countKeyWork(1)
		if i, ok := s.index[key]; ok {
			return i
		}
		return -1
	}
	countKeyWork(len(s.members))
	for i, m := range s.members {
		if m.key == key {
			return i
		}
	}
	return -1
}

// addIndex records key's position and reports whether key was new, hashing
// it once.
func (s *Session) addIndex(key string, pos int) bool {
	n := len(s.index)
	s.index[key] = pos
	return len(s.index) > n
}

// buildIndex indexes the members' positions.
func (s *Session) buildIndex() {
	s.index = make(map[string]int, 2*len(s.members))
	for i, m := range s.members {
		s.index[m.key] = i
	}
}

// reindex updates the positions of the members from position from on.
func (s *Session) reindex(from int) {
	switch {
	case s.index != nil:
		countKeyWork(len(s.members) - from)
		for i := from; i < len(s.members); i++ {
			s.index[s.members[i].key] = i
		}
	case len(s.members) > smallObject:
		s.buildIndex()
	}
}

// grow makes room for one more member, doubling the capacity when full
// (append grows long slices by a quarter, allocating five times the final
// size when members are added one by one).
func (s *Session) grow() {
	if len(s.members) == cap(s.members) {
		s.members = slices.Grow(s.members, max(len(s.members), 4))
	}
}

// indexPosition returns where a new array-index key n goes: JavaScript puts
// array-index keys first, in ascending order.
func (s *Session) indexPosition(n uint64) int {
	after := func(i int) bool {
		q, isIdx := arrayIndex(s.members[i].key)
		return !isIdx || q > n
	}
	if !s.outOfOrder {
		// Index keys first, ascending, then names: after is monotone.
		pos := sort.Search(len(s.members), after)
		countKeyWork(bits.Len(uint(len(s.members))))
		return pos
	}
	pos := 0
	for pos < len(s.members) && !after(pos) {
		pos++
	}
	countKeyWork(pos)
	return pos
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
// where JavaScript would put it. Setting "cookie" in an express-session
// record, or a name the format drops on load (for express-session "id",
// "req", "save", "constructor", ...), returns [ErrReservedKey].
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
	if key == "cookie" && !s.data {
		return ErrReservedKey
	}
	if s.isHidden(key) {
		return fmt.Errorf("%w: the Node package drops %q when it loads a session", ErrReservedKey, key)
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
	pos := len(s.members)
	if n, ok := arrayIndex(key); ok {
		pos = s.indexPosition(n)
	}
	s.grow()
	s.members = slices.Insert(s.members, pos, member{key: key, value: value})
	s.reindex(pos)
	return nil
}

// Delete removes member key, like JavaScript's delete. Deleting "cookie"
// from an express-session record returns [ErrReservedKey]; deleting a
// missing key does nothing. It takes time linear in the number of members
// after key; Clear removes them all at once.
func (s *Session) Delete(key string) error {
	if key == "cookie" && !s.data {
		return ErrReservedKey
	}
	if i := s.find(key); i >= 0 {
		s.members = slices.Delete(s.members, i, i+1)
		if s.index != nil {
			delete(s.index, key)
			s.reindex(i)
		}
		s.dirty = true
	}
	return nil
}

// Clear removes every member but an express-session record's cookie.
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
	clear(s.members[len(kept):])
	s.members = kept
	s.index = nil
}

// Touch resets the cookie's expiry from now, like express-session does on
// every response. See [Cookie.Touch].
func (s *Session) Touch(now time.Time) { s.Cookie.Touch(now) }

// Expired reports whether the session's cookie has expired at now; a
// record that is all data has no cookie and never expires by it.
func (s *Session) Expired(now time.Time) bool { return !s.data && s.Cookie.Expired(now) }

// Member returns the value of member key of a JSON object that was
// validated by Decode (a value Session.Raw returned), the last one when the
// key repeats (as JSON.parse keeps it), without allocating. It reads one
// field of an object the Node app keeps in the session (passport's
// {"user": ...}, a flash object) without decoding the rest.
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

// testHookKeyWork, set only by tests, receives the number of key
// comparisons and map probes each decode and each written value took, so
// tests can check that the work grows linearly with the number of keys.
var testHookKeyWork func(n int)

func countKeyWork(n int) {
	if h := testHookKeyWork; h != nil {
		h(n)
	}
}

// Clone returns a copy of s that can be changed without affecting s. The
// members' JSON is shared, not copied (neither copy ever changes it in
// place), so a clone costs one slice of member headers, not the record.
func (s *Session) Clone() *Session {
	c := *s
	c.Cookie = s.Cookie.clone()
	c.orig = s.orig.clone()
	c.members = slices.Clone(s.members)
	c.index = maps.Clone(s.index) // nil stays nil
	return &c
}
