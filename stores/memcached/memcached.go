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
//   - touch: connect-memcached sets the whole session it is given again;
//     Go rewrites the record it finds instead (see below); destroy: delete.
//
// An item with other flags is refused with [ErrWrongFlags]: with flags 0 the
// npm client returns the raw string, express-session fails on it and Node
// answers 500.
//
// With Options.Crypto (connect-memcached's secret option), the value is the
// record connect-memcached's kruptein 3.1 makes of the session JSON, with
// flags 0 (a string): base64 of a DER structure holding the AES-256-GCM
// ciphertext of the JSON, with a key derived from the secret by
// PBKDF2-SHA512 (20000 iterations) over a random salt per write, and an
// HMAC-SHA512 of the ciphertext, salt and IV. Each write (Set, SetIf,
// Touch) derives a key for a fresh salt, as Node does (some milliseconds
// of CPU); reads keep the keys of the last salts seen. Go checks the HMAC
// in constant time (kruptein 3.1 computes it but ignores the result). With
// Crypto set, an item in clear (flags 2) is refused with
// [ErrNotEncrypted], one sealed with another secret, or altered, with
// [ErrDecrypt]; without it, an encrypted item is refused with
// [ErrEncrypted]. kruptein 3.1's set refuses a secret of fewer than 8
// characters or without 2 upper-case letters, 2 lower-case letters, 2
// digits and 2 of !@#$%^&*()_+-=[]{};':"\|,.<>/? (so Node cannot write
// with it); Go does not check. connect-memcached's other kruptein options
// (algorithm, hashing, ...) are not supported: leave them at their
// defaults.
//
// Conditional writes ([Store.SetIf], the [sessionbridge.ConditionalStore]
// the Bridge uses to merge concurrent changes) are memcached's CAS: the
// Version's Tag is the CAS id of the item read (gets), and SetIf is a cas
// command with it, so any write in between, by Node or by Go, on any
// client, makes it fail with [sessionbridge.ErrConflict]. The server must
// keep CAS ids (the default; memcached -C turns them off, and SetIf and
// Touch then fail with [ErrNoCAS]). memcached compares CAS ids atomically
// on the server that holds the key, so this is exact whatever the number
// of servers.
//
// Several servers: [NewRing] takes the servers as the Node app lists them
// and puts each key on the server the npm memcached client picks (its md5
// ketama hashring), following the client's rules for servers that fail
// ([RingOptions]: its retries, failures, retry, remove, failuresTimeout,
// reconnect and timeout options). A server the rules skip answers
// [ErrServerUnavailable], as Node answers "Server at ... not available";
// with Remove, a server whose failures are used up leaves the ring and its
// keys go to the next server, as in Node. Each Node process counts the
// failures it sees and Go those it sees, so for a while Node and Go may
// place a key differently: where that could turn into a logout, Go
// answers [ErrRingUncertain] (a store error, so a 503) and reports it to
// RingOptions.OnEvent and its log. docs/memcached-failover.md has the
// rules Go follows, the window and the recommended settings. With one
// server the rules are not applied: keys cannot move, so every call tries
// the server and the first one after it is back succeeds.
//
// [Store.Touch] differs from connect-memcached's touch, which sets the whole
// session it is given and so writes back the caller's stale copy over any
// change made since the caller read the session (Node's own touches do
// that too). Go reads the item with its CAS id, puts the caller's cookie on
// the record found (every other member stays as stored), and writes it with
// cas; on a conflict it reads again after a short random pause (up to 16
// times, then it fails with an error wrapping ErrConflict). It never creates a missing session: touching
// one reports sessionbridge.ErrNotFound. A touch to an expiry in the past
// removes the item, with cas as well.
//
// [Store.GetVersion] reports Version.Touched as cookie.expires -
// cookie.originalMaxAge: express-session sets that pair together (the
// cookie's expiry and the lifetime counted from that moment), every write
// of Node or Go sets the item's exptime to cookie.expires (to the second),
// and the moment the pair was set is never later than the write. It is
// zero when the exptime does not follow the cookie: with the TTL option, for
// a browser-session cookie, past memcached's 2038 limit, or when the cookie
// claims a moment still to come. memcached can report an item's remaining
// lifetime only through its meta commands, which gomemcache does not speak.
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
// the call. The abandoned call is not stopped: it ends by itself within the
// client's Timeout per network step (dial, then read/write; 500 ms each by
// default), and a write (Set, SetIf, Touch or Destroy) abandoned that way
// may still take effect, as with any store whose reply is lost. Keep the
// client's Timeout short so abandoned calls do not pile up while a server
// hangs.
package memcachedstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/backoff"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/jsdate"
	"github.com/sessionbridge/sessionbridge/stores/internal/kruptein"
	"github.com/sessionbridge/sessionbridge/stores/internal/reclimit"
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

// ErrNoCAS means the memcached server holding the session gives out no CAS
// ids (it runs with -C), so [Store.SetIf] and [Store.Touch] cannot write
// conditionally and refuse to write at all.
var ErrNoCAS = errors.New("memcachedstore: the server keeps no CAS ids (memcached -C); conditional writes are impossible")

// touchAttempts bounds the reads and cas writes of one Touch.
const touchAttempts = 16

// ErrWrongFlags means the session's item has flags other than [FlagJSON]
// (0 with Options.Crypto), so Node would not read it. It wraps
// sessionjson.ErrMalformed.
var ErrWrongFlags = fmt.Errorf("%w: memcached item flags are not 2 (JSON)", sessionjson.ErrMalformed)

// Errors of encrypted sessions (Options.Crypto). The first three wrap
// sessionjson.ErrMalformed.
var (
	// ErrDecrypt: with Crypto, the item is an encrypted record that does
	// not decrypt with the secret: it was encrypted with another secret,
	// or altered.
	ErrDecrypt = fmt.Errorf("%w: the encrypted session does not decrypt with this secret (another secret, or altered)", sessionjson.ErrMalformed)
	// ErrNotEncrypted: with Crypto, the item is not an encrypted record
	// (JSON in clear, flags 2, or a string in another format): it was
	// written without the secret option.
	ErrNotEncrypted = fmt.Errorf("%w: the session is not encrypted, but Options.Crypto is set", sessionjson.ErrMalformed)
	// ErrEncrypted: without Crypto, the item is an encrypted record
	// (connect-memcached's secret option): set Options.Crypto.
	ErrEncrypted = fmt.Errorf("%w: the session is encrypted (connect-memcached's secret option); set Options.Crypto", sessionjson.ErrMalformed)
	// ErrNoSecret is returned by Get, GetVersion, Set, SetIf and Touch of
	// a store whose Options.Crypto has an empty Secret.
	ErrNoSecret = errors.New("memcachedstore: Options.Crypto has an empty Secret")
)

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
	// Crypto encrypts sessions as connect-memcached's secret option does
	// (see the package documentation); nil stores them in clear.
	// (connect-memcached: secret)
	Crypto *CryptoOptions
	// Ring holds the npm memcached client's options for its servers, for
	// a store made with NewRing. New ignores it: its client is the
	// caller's.
	Ring RingOptions
}

// CryptoOptions hold connect-memcached's secret. Printing them does not
// show it.
type CryptoOptions struct {
	// Secret is connect-memcached's secret option, the password keys are
	// derived from; it must not be empty. Keep it out of URLs, flags and
	// logs.
	Secret string
}

// String does not show the secret.
func (c CryptoOptions) String() string { return "memcachedstore.CryptoOptions{Secret: xxxxx}" }

// GoString does not show the secret.
func (c CryptoOptions) GoString() string { return c.String() }

// Store is a connect-memcached compatible sessionbridge.Store.
type Store struct {
	client *memcache.Client // New's; nil with NewRing
	ring   *ring            // NewRing's; nil with New
	opts   Options
	// With Options.Crypto: the cipher, or cryptoErr for an empty secret.
	cipher    *kruptein.Cipher
	cryptoErr error
	// abandoned counts the client calls left running at their context's
	// deadline (see call).
	abandoned sync.WaitGroup
}

var _ sessionbridge.ConditionalStore = (*Store)(nil)

// New returns a store on client. It does no I/O. For several servers,
// [NewRing] places the keys as the npm memcached client does through its
// servers' failures too; a client on [NewServerSelector] does so only
// while every server answers.
func New(client *memcache.Client, opts Options) *Store {
	opts.TTL = opts.TTL.Truncate(time.Second)
	if opts.TTL < 0 {
		opts.TTL = 0
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{client: client, opts: opts}
	if opts.Crypto != nil {
		var err error
		if s.cipher, err = kruptein.New(opts.Crypto.Secret, kruptein.V31); err != nil {
			s.cryptoErr = ErrNoSecret
		}
	}
	return s
}

// NewRing returns a store on the memcached servers the Node app lists
// (host:port, in the Node app's order; one is fine), with a connection
// pool per server. Each key goes to the server the npm memcached client
// picks for it, and Go follows the client's rules for servers that fail
// with opts.Ring (the client's retries, failures, retry, remove,
// failuresTimeout, reconnect and timeout options): a server the rules
// skip fails with [ErrServerUnavailable], a server they remove hands its
// keys to the next server on the ring, and where Go cannot tell on which
// server the Node app reads a session the answer is [ErrRingUncertain],
// never "not found". The rules count failures per process; what that
// means is in docs/memcached-failover.md. With one server the rules are
// not applied (its keys cannot move): every call tries it, as with New.
// It does no I/O; Close it when done.
func NewRing(servers []string, opts Options) (*Store, error) {
	s := New(nil, opts)
	r, err := newRing(servers, opts.Ring, s.opts.Now)
	if err != nil {
		return nil, err
	}
	s.ring = r
	return s, nil
}

// Close waits for the client calls left running at their context's
// deadline to end (each within the client's Timeout) and, for a store
// made with NewRing, closes its connections. A store made with New leaves
// its client to the caller. The store must not be used after Close.
func (s *Store) Close() error {
	s.abandoned.Wait()
	if s.ring != nil {
		return s.ring.close()
	}
	return nil
}

// Ping checks that every server answers.
func (s *Store) Ping(ctx context.Context) error {
	do := func(ctx context.Context, c *memcache.Client) error {
		_, err := call(ctx, s, func() (struct{}, error) { return struct{}{}, c.Ping() })
		return err
	}
	if s.ring != nil {
		return s.ring.ping(ctx, do)
	}
	if err := do(ctx, s.client); err != nil {
		return fmt.Errorf("memcachedstore: ping: %w", err)
	}
	return nil
}

// target is the server a call goes to: New's client, or one server of
// the ring.
type target struct {
	c   *memcache.Client
	srv *ringServer // nil for New's client
}

// route returns key's target and, with a ring, its route.
func (s *Store) route(key string) (target, route, error) {
	if s.ring == nil {
		return target{c: s.client}, route{}, nil
	}
	rt, err := s.ring.route(key)
	if err != nil {
		return target{}, route{}, err
	}
	return target{c: rt.srv.client, srv: rt.srv}, rt, nil
}

// send runs fn, one client call on t, within ctx (see call). On a ring
// server, a call that finds a kept connection closed by the server is
// made again on another (the npm client would have connected anew), and,
// with report, the outcome feeds the npm client's rules.
func send[T any](ctx context.Context, s *Store, t target, report bool, fn func(*memcache.Client) (T, error)) (T, error) {
	return call(ctx, s, func() (T, error) {
		v, err := fn(t.c)
		if t.srv == nil {
			return v, err
		}
		for range memcache.DefaultMaxIdleConns {
			if !closedConn(err) || ctx.Err() != nil {
				break
			}
			v, err = fn(t.c)
		}
		if report {
			s.ring.report(t.srv, err)
		}
		return v, err
	})
}

// confirmMiss answers a miss on rt.srv while the key's owner is
// unsettled: a Node process that placed the key on rt.alt may hold the
// session there.
func (s *Store) confirmMiss(ctx context.Context, key string, rt route) error {
	owner := rt.srv.name
	if rt.moved {
		owner = rt.alt.name
	}
	_, err := send(ctx, s, target{c: rt.alt.client, srv: rt.alt}, false, func(c *memcache.Client) (*memcache.Item, error) { return c.Get(key) })
	switch {
	case err == nil:
		return s.ring.uncertain(owner, "the session is on "+rt.alt.name+", where a Node process that placed the key otherwise keeps it")
	case errors.Is(err, memcache.ErrCacheMiss):
		return sessionbridge.ErrNotFound
	case ctx.Err() != nil:
		return ctx.Err()
	case rt.moved:
		return s.ring.uncertain(owner, "not on "+rt.srv.name+", and its server before the removal cannot be asked")
	}
	// Where a Node process that removed the owner would look cannot be
	// asked: such a process cannot read it either.
	return sessionbridge.ErrNotFound
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
	sess, _, _, err := s.get(ctx, s.Key(sid))
	return sess, err
}

// GetVersion implements sessionbridge.ConditionalStore: Get, with the
// item's CAS id as the Version's Tag and Touched as the package
// documentation describes.
func (s *Store) GetVersion(ctx context.Context, sid string) (*sessionjson.Session, sessionbridge.Version, error) {
	sess, cas, _, err := s.get(ctx, s.Key(sid))
	if err != nil {
		return nil, sessionbridge.Version{}, err
	}
	return sess, sessionbridge.Version{Tag: strconv.FormatUint(cas, 10), Touched: s.touched(sess.Cookie)}, nil
}

// get reads key's item and decodes it, returning its CAS id and the
// server it is on too.
func (s *Store) get(ctx context.Context, key string) (*sessionjson.Session, uint64, target, error) {
	var t target
	if err := ctx.Err(); err != nil {
		return nil, 0, t, err
	}
	if s.cryptoErr != nil {
		return nil, 0, t, s.cryptoErr
	}
	t, rt, err := s.route(key)
	if err != nil {
		return nil, 0, t, err
	}
	it, err := send(ctx, s, t, true, func(c *memcache.Client) (*memcache.Item, error) { return c.Get(key) })
	switch {
	case errors.Is(err, memcache.ErrCacheMiss) && rt.alt != nil:
		return nil, 0, t, s.confirmMiss(ctx, key, rt)
	case errors.Is(err, memcache.ErrCacheMiss):
		return nil, 0, t, sessionbridge.ErrNotFound
	case err != nil:
		return nil, 0, t, wrap("get", key, err)
	}
	var raw []byte
	switch {
	case s.cipher != nil:
		if raw, err = s.decrypt(it); err != nil {
			return nil, 0, t, fmt.Errorf("memcachedstore: %w", err)
		}
	case it.Flags == 0 && kruptein.IsRecord(it.Value):
		return nil, 0, t, fmt.Errorf("memcachedstore: %w", ErrEncrypted)
	case it.Flags != FlagJSON:
		return nil, 0, t, fmt.Errorf("memcachedstore: %w (flags %d)", ErrWrongFlags, it.Flags)
	default:
		raw = unescape(it.Value) // the client allocates each value
	}
	sess, err := s.opts.Decoder.DecodeOwnedContext(ctx, raw)
	if err != nil {
		return nil, 0, t, fmt.Errorf("memcachedstore: %w", err)
	}
	return sess, it.CasID, t, nil
}

// decrypt returns the session JSON of an encrypted item: connect-memcached
// reads it with kruptein's get, then JSON.parse, so the plaintext is the
// session JSON itself.
func (s *Store) decrypt(it *memcache.Item) ([]byte, error) {
	switch it.Flags {
	case 0:
	case FlagJSON:
		return nil, fmt.Errorf("%w: the item is JSON in clear", ErrNotEncrypted)
	default:
		return nil, fmt.Errorf("%w (flags %d)", ErrWrongFlags, it.Flags)
	}
	return s.cipher.OpenAs(unescape(it.Value), reclimit.Of(s.opts.Decoder), ErrNotEncrypted, ErrDecrypt)
}

// touched is Version.Touched for a record holding cookie c: the moment
// express-session set cookie.expires, when the item's exptime follows
// cookie.expires (see the package documentation), else zero.
func (s *Store) touched(c sessionjson.Cookie) time.Time {
	if s.opts.TTL > 0 || c.Expires == nil || c.OriginalMaxAge == nil || *c.OriginalMaxAge <= 0 {
		return time.Time{}
	}
	exp := jsdate.Millis(*c.Expires)
	if exp/1000 >= math.MaxInt32 { // the exptime was capped in 2038
		return time.Time{}
	}
	at := jsdate.Time(exp - *c.OriginalMaxAge)
	if at.After(s.opts.Now()) {
		return time.Time{}
	}
	return at
}

// item is the item Set writes for sess under key: its JSON with flags 2
// and the session's lifetime. ok is false when that lifetime is not
// positive or the cookie has expired: the session must not be stored.
func (s *Store) item(key string, sess *sessionjson.Session) (it *memcache.Item, ok bool, err error) {
	life := s.lifetimeSeconds(sess)
	if life <= 0 || sess.Expired(s.opts.Now()) {
		return nil, false, nil
	}
	val, err := sess.Encode()
	if err != nil {
		return nil, false, fmt.Errorf("memcachedstore: %w", err)
	}
	if s.opts.Crypto != nil {
		if s.cryptoErr != nil {
			return nil, false, s.cryptoErr
		}
		// connect-memcached: kruptein's set of the session object, so the
		// plaintext is JSON.stringify(session); stored as a string.
		field, err := s.cipher.Seal(val)
		if err != nil {
			return nil, false, fmt.Errorf("memcachedstore: %w", err)
		}
		return &memcache.Item{Key: key, Value: []byte(field), Flags: 0, Expiration: s.expiration(life)}, true, nil
	}
	return &memcache.Item{Key: key, Value: escape(val), Flags: FlagJSON, Expiration: s.expiration(life)}, true, nil
}

// Set implements sessionbridge.Store: set key json with flags 2 and the
// session's lifetime. When the lifetime is not positive, or the cookie has
// expired (even with the TTL option), it deletes the key instead.
func (s *Store) Set(ctx context.Context, sid string, sess *sessionjson.Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key := s.Key(sid)
	item, ok, err := s.item(key, sess)
	if err != nil {
		return err
	}
	if !ok {
		return s.Destroy(ctx, sid)
	}
	t, _, err := s.route(key)
	if err != nil {
		return err
	}
	if _, err := send(ctx, s, t, true, func(c *memcache.Client) (struct{}, error) { return struct{}{}, c.Set(item) }); err != nil {
		return wrap("set", key, err)
	}
	return nil
}

// SetIf implements sessionbridge.ConditionalStore: Set as a cas with the
// CAS id v.Tag holds, so it stores sess only if nobody wrote or removed
// the item since GetVersion read it; otherwise it fails with an error
// wrapping sessionbridge.ErrConflict. A session Set would delete is
// removed the same way, conditionally. A Tag GetVersion did not make,
// the empty one included, never matches. gomemcache does not return the
// new CAS id, so the Version returned has an empty Tag (Touched is set
// as GetVersion would set it).
func (s *Store) SetIf(ctx context.Context, sid string, sess *sessionjson.Session, v sessionbridge.Version) (sessionbridge.Version, error) {
	if err := ctx.Err(); err != nil {
		return sessionbridge.Version{}, err
	}
	cas, err := strconv.ParseUint(v.Tag, 10, 64)
	if err != nil {
		return sessionbridge.Version{}, fmt.Errorf("memcachedstore: set: %w (the version is not a CAS id)", sessionbridge.ErrConflict)
	}
	key := s.Key(sid)
	t, _, err := s.route(key)
	if err != nil {
		return sessionbridge.Version{}, err
	}
	stored, err := s.cas(ctx, t, key, cas, sess)
	switch {
	case errors.Is(err, memcache.ErrCASConflict), errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCacheMiss):
		return sessionbridge.Version{}, fmt.Errorf("memcachedstore: set: %w", sessionbridge.ErrConflict)
	case err != nil:
		return sessionbridge.Version{}, err
	case !stored:
		return sessionbridge.Version{}, nil
	}
	return sessionbridge.Version{Touched: s.touched(sess.Cookie)}, nil
}

// cas writes sess under key on t if the item still has CAS id cas; a
// session Set would delete is written with a negative exptime, which
// memcached drops at once: a conditional delete. stored reports whether
// the session is now held. The errors memcache.ErrCASConflict,
// ErrNotStored and ErrCacheMiss (the item is gone) come back unwrapped.
func (s *Store) cas(ctx context.Context, t target, key string, cas uint64, sess *sessionjson.Session) (stored bool, err error) {
	if cas == 0 {
		return false, ErrNoCAS
	}
	item, stored, err := s.item(key, sess)
	if err != nil {
		return false, err
	}
	if !stored {
		item = &memcache.Item{Key: key, Value: []byte("{}"), Flags: FlagJSON, Expiration: -1}
	}
	item.CasID = cas
	_, err = send(ctx, s, t, true, func(c *memcache.Client) (struct{}, error) { return struct{}{}, c.CompareAndSwap(item) })
	switch {
	case errors.Is(err, memcache.ErrCASConflict), errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCacheMiss):
		return false, err
	case err != nil:
		return false, wrap("cas", key, err)
	}
	return stored, nil
}

// Touch implements sessionbridge.Store. Unlike connect-memcached's touch,
// it never writes the caller's copy of the data: it reads the item, puts
// sess's cookie on the record found, and writes that back with cas and the
// lifetime of the new cookie; on a conflict it reads again after a short
// random pause (up to 16 attempts, then the error wraps
// sessionbridge.ErrConflict). A missing session is
// sessionbridge.ErrNotFound and is not created; an expiry in the past
// removes the item. sess is not changed.
func (s *Store) Touch(ctx context.Context, sid string, sess *sessionjson.Session) error {
	key := s.Key(sid)
	for attempt := range touchAttempts {
		if attempt > 0 {
			if err := backoff.Wait(ctx, attempt); err != nil {
				return err
			}
		}
		stored, cas, t, err := s.get(ctx, key)
		if err != nil {
			return err
		}
		stored.Cookie = sess.Cookie
		_, err = s.cas(ctx, t, key, cas, stored)
		switch {
		case errors.Is(err, memcache.ErrCASConflict):
			continue // written meanwhile: read it again
		case errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCacheMiss):
			return sessionbridge.ErrNotFound
		}
		return err
	}
	return fmt.Errorf("memcachedstore: touch: %w (still changing after %d attempts)", sessionbridge.ErrConflict, touchAttempts)
}

// Destroy implements sessionbridge.Store: delete; a missing key is fine.
// With NewRing, while the key's server is unsettled (see
// RingOptions.Settle), the key is also deleted, if it can be, on the
// other server a Node process may keep it on.
func (s *Store) Destroy(ctx context.Context, sid string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key := s.Key(sid)
	t, rt, err := s.route(key)
	if err != nil {
		return err
	}
	del := func(c *memcache.Client) (struct{}, error) { return struct{}{}, c.Delete(key) }
	_, err = send(ctx, s, t, true, del)
	if err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		return wrap("delete", key, err)
	}
	if rt.alt != nil {
		_, _ = send(ctx, s, target{c: rt.alt.client, srv: rt.alt}, false, del)
	}
	return nil
}

// clientTimeout is the gomemcache client's own bound on one call.
func (s *Store) clientTimeout() time.Duration {
	switch {
	case s.ring != nil && s.opts.Ring.Timeout > 0:
		return s.opts.Ring.Timeout
	case s.client != nil && s.client.Timeout > 0:
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
func call[T any](ctx context.Context, s *Store, fn func() (T, error)) (T, error) {
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	if d, ok := ctx.Deadline(); !ok || time.Until(d) >= s.clientTimeout() {
		return fn()
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1) // buffered: an abandoned call never blocks
	s.abandoned.Add(1)
	go func() {
		defer s.abandoned.Done()
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
