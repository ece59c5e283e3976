// Package memcachedstore reads and writes express-session records in
// memcached exactly as connect-memcached 3.0.0 (with the npm memcached 2.2
// client) does, so a Go service and a Node app share one session store.
//
//	import memcachedstore "github.com/sessionbridge/sessionbridge/stores/memcached"
//
// Layout and rules, read from connect-memcached's and memcached's source and
// checked against them running:
//   - key = prefix + session id (prefix "" by default); a key longer than
//     250 characters is replaced by its MD5 in hex, as the npm client does;
//   - value = the session JSON, item flags 2: the npm client's JSON flag, so
//     Node's get parses it. The npm client puts a backslash before every raw
//     CR or LF of a value and removes it on read; JSON.stringify never writes
//     one, so the stored bytes are the JSON itself, and Go does the same;
//   - lifetime: the TTL option if set, else the seconds left until
//     cookie.expires truncated toward zero ((maxAge/1000)|0), else one day
//     for a browser-session cookie;
//   - touch: the whole value is set again (so touching a missing session
//     creates it, as in Node); destroy: delete.
//
// An item with other flags is refused with [ErrWrongFlags]: with flags 0 the
// npm client returns the raw string, express-session fails on it and Node
// answers 500; connect-memcached's encrypted values (the secret option) are
// stored that way and are not supported.
//
// Deliberate differences from Node, where Node's behaviour is a bug:
//   - memcached reads an expiration above 30 days (2592000 s) as an absolute
//     Unix time. Node sends longer lifetimes as relative seconds, a time in
//     1970, so the item dies at once; Go sends now + lifetime instead (as the
//     Go clock sees now; keep the clocks in sync).
//   - A lifetime of zero or less: Node sends it as is, and memcached keeps an
//     exptime of 0 forever (a session with less than a second left never
//     expires) and drops a negative one at once. Go deletes the key in both
//     cases, and also when the cookie has already expired but the TTL
//     option would have stored it (which would revive it for Node).
//   - Node's |0 wraps lifetimes beyond 2^31 s; Go does not (the absolute
//     time is capped at the largest 32-bit exptime, in 2038). Go computes
//     lifetimes in integer seconds, so a cookie of 1000 years or 10^15 ms
//     is stored until 2038, never deleted as expired. (Node stores such a
//     session with a wrapped exptime, in the past or negative, and loses it
//     at once unless the TTL option is set.)
//
// memcached refuses items over its item size (-I, 1 MiB by default) when
// they are stored, so a record can never be larger than that; the client
// reads an item whole, and the Decoder's MaxBytes is applied after it.
//
// The gomemcache client has no context support. The store still honours
// ctx deadlines: when ctx's deadline is sooner than the client's Timeout, the
// client call runs in a goroutine and the method returns ctx's error
// (wrapped) as soon as ctx is done; otherwise the client's Timeout bounds
// the call. The abandoned call is
// not stopped: it ends by itself within the client's Timeout per network step
// (dial, then read/write; 500 ms each by default), and a Set or Delete
// abandoned that way may still take effect, as with any store whose reply is
// lost. Keep the client's Timeout short so abandoned calls do not pile up
// while a server hangs.
package memcachedstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/jsdate"
)

// Constants of connect-memcached, the npm memcached client and memcached.
const (
	// DefaultTTL is connect-memcached's lifetime for browser-session cookies.
	DefaultTTL = 86400 * time.Second
	// FlagJSON is the npm memcached client's flag for JSON values (1<<1).
	FlagJSON = 2
	// MaxRelativeExpiration is the longest lifetime memcached takes as
	// relative seconds; above it an expiration is an absolute Unix time.
	MaxRelativeExpiration = 30 * 24 * time.Hour
	// MaxKeyLength is the npm client's maxKeySize: longer keys are hashed.
	MaxKeyLength = 250
)

// ErrWrongFlags means the session's item has flags other than [FlagJSON],
// so Node would not parse it as JSON. It wraps sessionjson.ErrMalformed.
var ErrWrongFlags = fmt.Errorf("%w: memcached item flags are not 2 (JSON)", sessionjson.ErrMalformed)

// Options mirror connect-memcached's options. The zero value is its
// defaults.
type Options struct {
	// Prefix of every key; default "". (connect-memcached: prefix; the npm
	// client's namespace option is an outer prefix, fold it in here.)
	Prefix string
	// TTL is connect-memcached's ttl: if at least a second, the lifetime of
	// every session whatever its cookie says (a cookie that has expired is
	// still deleted); whole seconds. Unlike the other stores' TTL it has no
	// default: when zero, a session lives until cookie.expires, and a
	// browser-session cookie for DefaultTTL (one day). (connect-memcached:
	// ttl)
	TTL time.Duration
	// Decoder limits the records accepted.
	Decoder sessionjson.Decoder
	// Now is the clock for lifetimes; default time.Now.
	Now func() time.Time
}

// Store is a connect-memcached compatible sessionbridge.Store.
type Store struct {
	client *memcache.Client
	opts   Options
}

var _ sessionbridge.Store = (*Store)(nil)

// New returns a store on client. It does no I/O.
func New(client *memcache.Client, opts Options) *Store {
	opts.TTL = opts.TTL.Truncate(time.Second)
	if opts.TTL < 0 {
		opts.TTL = 0
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{client: client, opts: opts}
}

// Key returns the memcached key of a session id: prefix + id, or its MD5 in
// hex when that is longer than 250 UTF-16 code units (the npm client's
// keyCompression).
func (s *Store) Key(sid string) string {
	key := s.opts.Prefix + sid
	if len(key) > MaxKeyLength && len(utf16.Encode([]rune(key))) > MaxKeyLength {
		sum := md5.Sum([]byte(key))
		return hex.EncodeToString(sum[:])
	}
	return key
}

// lifetimeSeconds is the lifetime connect-memcached gives a session, in
// integer seconds: the TTL option, else the time left until cookie.expires
// truncated toward zero to whole seconds, else DefaultTTL for a
// browser-session cookie; zero or negative for a cookie that expires within
// a second or has expired. It is (maxAge / 1000) | 0
// without the wrap to 32 bits, and with cookie.expires and now saturated at
// the JavaScript Date range, so it never overflows.
func (s *Store) lifetimeSeconds(sess *sessionjson.Session) int64 {
	if s.opts.TTL > 0 {
		return int64(s.opts.TTL / time.Second)
	}
	if sess.Cookie.Expires == nil {
		return int64(DefaultTTL / time.Second)
	}
	return jsdate.TruncSeconds(jsdate.Until(*sess.Cookie.Expires, s.opts.Now()))
}

// expiration is the exptime sent for a positive lifetime in seconds:
// relative seconds up to 30 days, an absolute Unix time beyond, capped at
// the largest one memcached's 32-bit exptime holds (2038-01-19T03:14:07Z).
func (s *Store) expiration(secs int64) int32 {
	if secs <= int64(MaxRelativeExpiration/time.Second) {
		return int32(secs)
	}
	abs := s.opts.Now().Unix()
	if secs >= math.MaxInt32-abs {
		return math.MaxInt32
	}
	return int32(abs + secs)
}

// Get implements sessionbridge.Store: get, check the flags, decode.
func (s *Store) Get(ctx context.Context, sid string) (*sessionjson.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	key := s.Key(sid)
	it, err := call(ctx, s.clientTimeout(), func() (*memcache.Item, error) { return s.client.Get(key) })
	switch {
	case errors.Is(err, memcache.ErrCacheMiss):
		return nil, sessionbridge.ErrNotFound
	case err != nil:
		return nil, wrap("get", key, err)
	case it.Flags != FlagJSON:
		return nil, fmt.Errorf("memcachedstore: %w (flags %d)", ErrWrongFlags, it.Flags)
	}
	sess, err := s.opts.Decoder.DecodeOwnedContext(ctx, unescape(it.Value)) // the client allocates each value
	if err != nil {
		return nil, fmt.Errorf("memcachedstore: %w", err)
	}
	return sess, nil
}

// Set implements sessionbridge.Store: set key json with flags 2 and the
// session's lifetime. When the lifetime is not positive, or the cookie has
// expired (even with the TTL option), it deletes the key instead.
func (s *Store) Set(ctx context.Context, sid string, sess *sessionjson.Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	life := s.lifetimeSeconds(sess)
	if life <= 0 || sess.Expired(s.opts.Now()) {
		return s.Destroy(ctx, sid)
	}
	val, err := sess.Encode()
	if err != nil {
		return fmt.Errorf("memcachedstore: %w", err)
	}
	key := s.Key(sid)
	item := &memcache.Item{Key: key, Value: escape(val), Flags: FlagJSON, Expiration: s.expiration(life)}
	if _, err := call(ctx, s.clientTimeout(), func() (struct{}, error) { return struct{}{}, s.client.Set(item) }); err != nil {
		return wrap("set", key, err)
	}
	return nil
}

// Touch implements sessionbridge.Store as connect-memcached does: it sets
// the whole session again with a fresh lifetime, so touching a missing
// session creates it.
func (s *Store) Touch(ctx context.Context, sid string, sess *sessionjson.Session) error {
	return s.Set(ctx, sid, sess)
}

// Destroy implements sessionbridge.Store: delete; a missing key is fine.
func (s *Store) Destroy(ctx context.Context, sid string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key := s.Key(sid)
	_, err := call(ctx, s.clientTimeout(), func() (struct{}, error) { return struct{}{}, s.client.Delete(key) })
	if err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		return wrap("delete", key, err)
	}
	return nil
}

// clientTimeout is the gomemcache client's own bound on one call.
func (s *Store) clientTimeout() time.Duration {
	if s.client.Timeout > 0 {
		return s.client.Timeout
	}
	return memcache.DefaultTimeout
}

// call runs fn, one gomemcache call, and returns its result, or ctx's error
// as soon as ctx is done (see the package documentation: the call then goes
// on in its goroutine until the client's Timeout ends it). When ctx has no
// deadline sooner than the client's own timeout (a plain request context),
// fn runs in place: the client's timeout bounds it, and the hot path pays
// for no goroutine.
func call[T any](ctx context.Context, clientTimeout time.Duration, fn func() (T, error)) (T, error) {
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	if d, ok := ctx.Deadline(); !ok || time.Until(d) >= clientTimeout {
		return fn()
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1) // buffered: an abandoned call never blocks
	go func() {
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		select {
		case r := <-done: // finished at the same moment: keep its answer
			return r.v, r.err
		default:
		}
		var zero T
		return zero, ctx.Err()
	}
}

// EnforcesExpiry implements sessionbridge.ExpiryEnforcer: memcached drops
// items when their lifetime ends.
func (s *Store) EnforcesExpiry() bool { return true }

// escape is the npm client's Utils.escapeValue: a backslash before every
// CR and LF. JSON.stringify output has none, so it is usually a no-op.
func escape(v []byte) []byte {
	if !bytes.ContainsAny(v, "\r\n") {
		return v
	}
	out := make([]byte, 0, len(v)+8)
	for _, c := range v {
		if c == '\r' || c == '\n' {
			out = append(out, '\\')
		}
		out = append(out, c)
	}
	return out
}

// unescape is the npm client's Utils.unescapeValue: it drops a backslash
// before a CR or LF.
func unescape(v []byte) []byte {
	if !bytes.ContainsAny(v, "\r\n") {
		return v
	}
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) && (v[i+1] == '\r' || v[i+1] == '\n') {
			i++
		}
		out = append(out, v[i])
	}
	return out
}

// wrap adds context to a client error and hides the key (which holds the
// session id) should the client's message quote it.
func wrap(op, key string, err error) error {
	return &clientError{op: op, key: key, err: err}
}

type clientError struct {
	op, key string
	err     error
}

func (e *clientError) Error() string {
	msg := e.err.Error()
	if e.key != "" {
		msg = strings.ReplaceAll(msg, e.key, "<key>")
	}
	return "memcachedstore: " + e.op + ": " + msg
}

func (e *clientError) Unwrap() error { return e.err }
