// Package mongostore reads and writes express-session records in MongoDB
// exactly as connect-mongo (5.x and 6.x) does, so a Go service and a Node app
// share one sessions collection. It uses the official driver,
// go.mongodb.org/mongo-driver/v2 (v1 is in maintenance mode).
//
//	import mongostore "github.com/sessionbridge/sessionbridge/stores/mongo"
//
// A session is one document, {_id: sid, session, expires[, lastModified]}:
//   - session is the session JSON as a string (stringify true, the default),
//     or a subdocument (stringify false) in which cookie.expires is a BSON
//     Date and unset cookie fields are null, as the Node driver writes them;
//   - expires is a BSON Date: cookie.expires, or now + TTL (14 days by
//     default) for a browser-session cookie.
//
// set is updateOne({_id}, {$set: {_id, session, expires}}, {upsert: true});
// get adds {$or: [{expires: {$exists: false}}, {expires: {$gt: now}}]};
// touch sets expires (and lastModified with TouchAfter) and fails when no
// document matched; destroy is deleteOne.
//
// With Options.Crypto (connect-mongo's crypto: {secret}), the session field
// is the record connect-mongo's kruptein 3.0.8 makes of the session JSON,
// whether stringify is true or false (connect-mongo stringifies before it
// encrypts): base64 of a DER structure holding the AES-256-GCM ciphertext of
// the JSON as a JSON string literal, with a key derived from the secret by
// PBKDF2-SHA512 (15000 iterations) over a random salt per write, and an
// HMAC-SHA512. Each Set derives a key for a fresh salt, as Node does (some
// milliseconds of CPU); Get keeps the keys of the last salts it read, so
// reading the same session again costs no derivation. Get compares the HMAC
// in constant time. With Crypto set, a session field that is not such a
// record is refused with [ErrNotEncrypted] (connect-mongo fails on a
// string too, but takes a plain subdocument as it is: Go refuses that, so
// that whoever can write to the collection cannot plant a session without
// the secret), and one sealed with another secret, or altered, with
// [ErrDecrypt]. Without Crypto, an encrypted record is refused with
// [ErrEncrypted]. connect-mongo's other crypto options (algorithm, hashing,
// ...) and its cryptoAdapter are not supported: leave them at their
// defaults.
//
// Reading a subdocument, Go converts it to the JSON Node's JSON.stringify
// would give for it: Dates become toISOString() strings, ObjectIds hex
// strings; integers are kept exact (Node's driver would round int64 values
// above 2^53).
//
// The Decoder's MaxBytes applies to the stored session: the bytes of the
// JSON string, or the BSON size of a subdocument (and then to the JSON made
// of it). With Crypto it applies to the decrypted JSON, and the stored
// string may be as long as the record of a JSON of MaxBytes that escapes
// every byte (a little over 3.5 times MaxBytes); a longer one is refused
// before it is decrypted. A server that evaluates aggregation expressions in find
// projections (MongoDB 4.4 and later) measures it ($strLenBytes,
// $bsonSize) and sends a session over the limit as null, so Go refuses it
// with sessionjson.ErrTooLarge without receiving it. Other servers
// (FerretDB 1.x answers NotImplemented) are detected on the first Get and
// then read plainly: there the whole document arrives (at most the
// server's document size limit, 16 MiB on MongoDB) and a session over the
// limit is refused before it is copied or decoded.
//
// expires is a BSON Date of cookie.expires saturated at the JavaScript Date
// range (year 275760), so a Go-made expiry beyond it stays a Date that Node
// can read, and nothing overflows.
//
// The Store is a [sessionbridge.ConditionalStore]. GetVersion is Get that
// also returns the session field as read (the JSON string, or the BSON
// bytes of the subdocument) as Version.Tag, and SetIf is Set's update,
// without upsert, on the document only while it still holds that value:
//
//	updateOne({_id, session: {$eq: <the value read>}, $or: [{expires:
//	    {$exists: false}}, {expires: {$gt: now}}]}, <Set's update>)
//
// A subdocument matches only with the same fields in the same order. When
// no document matched (another writer changed or removed it, or it
// expired), SetIf reports sessionbridge.ErrConflict. MongoDB applies this
// filter and update atomically. FerretDB 1.x does not: it reads the
// matching document and then writes it back, so a write landing between
// the two is lost there; SetIf then detects changes completed before it
// started, but not concurrent ones (as connect-mongo's own writes are not
// atomic there). Version.Touched is expires minus the session's lifetime
// (cookie.originalMaxAge, or Options.TTL for a browser-session cookie),
// never after the clock's now.
package mongostore

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/jsjson"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/jsdate"
	"github.com/sessionbridge/sessionbridge/stores/internal/kruptein"
	"github.com/sessionbridge/sessionbridge/stores/internal/reclimit"
)

// Defaults, as connect-mongo sets them.
const (
	DefaultCollection = "sessions"
	DefaultTTL        = 14 * 24 * time.Hour
)

var (
	// ErrWrongType means the document's session field is neither a string
	// nor a subdocument (or holds a BSON type Node's JSON cannot show). It
	// wraps sessionjson.ErrMalformed.
	ErrWrongType = fmt.Errorf("%w: mongo session field has the wrong BSON type", sessionjson.ErrMalformed)
	// ErrTTLIndexUnsupported is returned by CreateTTLIndex when the server
	// cannot create TTL indexes (FerretDB answers NotImplemented, code 238).
	// Use Prune periodically instead (connect-mongo's
	// autoRemove: 'interval').
	ErrTTLIndexUnsupported = errors.New("mongostore: this server does not support TTL indexes")

	// ErrDecrypt means that, with Options.Crypto, the session is an
	// encrypted record that does not decrypt with the secret: it was
	// encrypted with another secret, or altered. It wraps
	// sessionjson.ErrMalformed.
	ErrDecrypt = fmt.Errorf("%w: the encrypted session does not decrypt with this secret (another secret, or altered)", sessionjson.ErrMalformed)
	// ErrNotEncrypted means that, with Options.Crypto, the session field is
	// not an encrypted record (a subdocument, or a string in another
	// format): it was written without crypto. It wraps
	// sessionjson.ErrMalformed.
	ErrNotEncrypted = fmt.Errorf("%w: the session is not encrypted, but Options.Crypto is set", sessionjson.ErrMalformed)
	// ErrEncrypted means that, without Options.Crypto, the session field
	// is an encrypted record (connect-mongo's crypto option): set
	// Options.Crypto. It wraps sessionjson.ErrMalformed.
	ErrEncrypted = fmt.Errorf("%w: the session is encrypted (connect-mongo's crypto option); set Options.Crypto", sessionjson.ErrMalformed)
	// ErrNoSecret is returned by Get, GetVersion, Set and SetIf of a store
	// whose Options.Crypto has an empty Secret (connect-mongo throws on
	// it).
	ErrNoSecret = errors.New("mongostore: Options.Crypto has an empty Secret")
)

// Options mirror connect-mongo's options. The zero value is its defaults,
// except Stringify, whose default (true) is expressed by leaving
// Subdocument false.
type Options struct {
	// Collection name; default "sessions". (collectionName)
	Collection string
	// Subdocument stores the session as a BSON subdocument instead of a
	// JSON string. (stringify: false) With Crypto it changes nothing:
	// connect-mongo encrypts the JSON string either way.
	Subdocument bool
	// TTL is connect-mongo's ttl: the expires field of a session whose
	// cookie has no expires (a browser-session cookie) is now + TTL; default
	// 14 days (DefaultTTL). A session with cookie.expires expires then,
	// whatever TTL says. (ttl)
	TTL time.Duration
	// TouchAfter: Touch does nothing until this long after lastModified;
	// with it, set and touch write lastModified and Get adds it to the
	// session as Node does. (touchAfter)
	TouchAfter time.Duration
	// Timestamps adds createdAt/updatedAt like connect-mongo 6. (timestamps)
	Timestamps bool
	// TransformID maps a session id to the stored _id. (transformId)
	TransformID func(sid string) string
	// Decoder limits the records accepted.
	Decoder sessionjson.Decoder
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Crypto encrypts sessions as connect-mongo's crypto option does
	// (see the package documentation); nil stores them in clear.
	// (crypto)
	Crypto *CryptoOptions
}

// CryptoOptions are connect-mongo's crypto options the Go store supports.
// Printing them does not show the secret.
type CryptoOptions struct {
	// Secret is crypto.secret, the password keys are derived from; it
	// must not be empty. Keep it out of URLs, flags and logs.
	Secret string
}

// String does not show the secret.
func (c CryptoOptions) String() string { return "mongostore.CryptoOptions{Secret: xxxxx}" }

// GoString does not show the secret.
func (c CryptoOptions) GoString() string { return c.String() }

// Store is a connect-mongo compatible sessionbridge.Store.
type Store struct {
	coll  *mongo.Collection
	opts  Options
	limit int64 // the Decoder's MaxBytes; -1 for none

	// With Options.Crypto: the cipher (nil, and cryptoErr set, for an
	// empty secret), the longest plaintext accepted (the JSON string
	// literal of a record of limit bytes), and the longest stored field,
	// which the sized projection uses instead of limit.
	cipher     *kruptein.Cipher
	cryptoErr  error
	maxPlain   int
	fieldLimit int64 // -1 for none

	// sized finds with the projection that has the server measure the
	// session and leave out one over the limit (nil without a limit).
	sized *options.FindOneOptionsBuilder
	// noSized is set once the server has shown it cannot run sized.
	noSized atomic.Bool
}

// sizeField is the field the sized projection puts the session's size in.
const sizeField = "__sessionbridgeSize"

var (
	_ sessionbridge.Store            = (*Store)(nil)
	_ sessionbridge.ConditionalStore = (*Store)(nil)
)

// New returns a store on db's collection. It does no I/O.
func New(db *mongo.Database, opts Options) *Store {
	if opts.Collection == "" {
		opts.Collection = DefaultCollection
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{coll: db.Collection(opts.Collection), opts: opts, limit: int64(reclimit.Of(opts.Decoder))}
	s.fieldLimit = s.limit
	if opts.Crypto != nil {
		var err error
		if s.cipher, err = kruptein.New(opts.Crypto.Secret, kruptein.V30); err != nil {
			s.cryptoErr = ErrNoSecret
		}
		// JSON.stringify of a record of limit bytes doubles at most each
		// byte ('"' and '\\' are escaped, and whitespace, the only raw
		// control characters JSON has), and adds two quotes.
		s.maxPlain, s.fieldLimit = -1, -1
		if s.limit >= 0 && s.limit <= int64(math.MaxInt-2)/2 {
			s.maxPlain = int(2*s.limit + 2)
			s.fieldLimit = int64(kruptein.MaxField(s.maxPlain))
		}
	}
	if s.fieldLimit >= 0 {
		typ := bson.D{{Key: "$type", Value: "$session"}}
		size := bson.D{{Key: "$switch", Value: bson.D{
			{Key: "branches", Value: bson.A{
				bson.D{{Key: "case", Value: bson.D{{Key: "$eq", Value: bson.A{typ, "string"}}}}, {Key: "then", Value: bson.D{{Key: "$strLenBytes", Value: "$session"}}}},
				bson.D{{Key: "case", Value: bson.D{{Key: "$eq", Value: bson.A{typ, "object"}}}}, {Key: "then", Value: bson.D{{Key: "$bsonSize", Value: "$session"}}}},
			}},
			{Key: "default", Value: 0},
		}}}
		proj, err := bson.Marshal(bson.D{
			{Key: "expires", Value: 1},
			{Key: "lastModified", Value: 1},
			{Key: sizeField, Value: size},
			{Key: "session", Value: bson.D{{Key: "$cond", Value: bson.A{bson.D{{Key: "$lte", Value: bson.A{size, s.fieldLimit}}}, "$session", nil}}}},
		})
		if err == nil { // a constant document: it always marshals
			s.sized = options.FindOne().SetProjection(bson.Raw(proj))
		}
	}
	return s
}

// Collection returns the underlying collection.
func (s *Store) Collection() *mongo.Collection { return s.coll }

func (s *Store) id(sid string) string {
	if s.opts.TransformID != nil {
		return s.opts.TransformID(sid)
	}
	return sid
}

// expiry returns the expires Date connect-mongo stores: cookie.expires, or
// now + TTL, saturated at the JavaScript Date range.
func (s *Store) expiry(sess *sessionjson.Session) time.Time {
	if e := sess.Cookie.Expires; e != nil {
		return jsdate.Time(jsdate.Millis(*e))
	}
	return s.opts.Now().Add(s.opts.TTL)
}

// date is t as a BSON Date, saturated at the JavaScript Date range
// (bson.NewDateTimeFromTime wraps beyond about 292 million years).
func date(t time.Time) bson.DateTime { return bson.DateTime(jsdate.Millis(t)) }

// Get implements sessionbridge.Store.
func (s *Store) Get(ctx context.Context, sid string) (*sessionjson.Session, error) {
	return s.get(ctx, sid, nil)
}

// GetVersion implements sessionbridge.ConditionalStore: Get, with the
// session field read as Version.Tag and Touched from expires.
func (s *Store) GetVersion(ctx context.Context, sid string) (*sessionjson.Session, sessionbridge.Version, error) {
	var v sessionbridge.Version
	sess, err := s.get(ctx, sid, &v)
	if err != nil {
		return nil, sessionbridge.Version{}, err
	}
	return sess, v, nil
}

// get is Get, and GetVersion when ver is not nil: then it fills in *ver.
func (s *Store) get(ctx context.Context, sid string, ver *sessionbridge.Version) (*sessionjson.Session, error) {
	if s.cryptoErr != nil {
		return nil, s.cryptoErr
	}
	// connect-mongo's filter is {_id, $or: [{expires: {$exists: false}},
	// {expires: {$gt: now}}]}; the same test is applied here after a plain
	// _id lookup, which every server answers from the primary key index.
	doc, err := s.find(ctx, sid)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, sessionbridge.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("mongostore: get: %w", err)
	}
	exp := doc.Lookup("expires")
	if exp.Type != 0 {
		ms, isDate := exp.DateTimeOK()
		if !isDate || ms <= s.opts.Now().UnixMilli() {
			return nil, sessionbridge.ErrNotFound // $gt: now matches only a later Date
		}
	}
	if n, ok := doc.Lookup(sizeField).AsInt64OK(); ok && n > s.fieldLimit {
		return nil, s.tooLarge(n)
	}
	v := doc.Lookup("session")
	if n := storedSize(v); s.fieldLimit >= 0 && n > s.fieldLimit {
		return nil, s.tooLarge(n)
	}
	var raw []byte
	if s.opts.Crypto != nil {
		raw, err = s.decrypt(v)
	} else {
		raw, err = sessionJSON(v)
	}
	if err != nil {
		return nil, fmt.Errorf("mongostore: %w", err)
	}
	sess, err := s.opts.Decoder.DecodeOwnedContext(ctx, raw) // built for it
	if err != nil {
		if s.opts.Crypto == nil && errors.Is(err, sessionjson.ErrInvalidJSON) && kruptein.IsRecord(stringBytes(v)) {
			return nil, fmt.Errorf("mongostore: %w", ErrEncrypted)
		}
		return nil, fmt.Errorf("mongostore: %w", err)
	}
	if ver != nil {
		*ver = sessionbridge.Version{Tag: tagOf(v)}
		if ms, ok := exp.DateTimeOK(); ok {
			ver.Touched = s.touched(&sess.Cookie, ms)
		}
	}
	if s.opts.TouchAfter > 0 {
		if lm, ok := doc.Lookup("lastModified").DateTimeOK(); ok {
			// connect-mongo puts the Date into req.session.lastModified;
			// its JSON is the ISO string (null for an Invalid Date).
			raw := []byte("null")
			if iso, ok := jsjson.AppendISO([]byte{'"'}, time.UnixMilli(lm)); ok {
				raw = append(iso, '"')
			}
			if err := sess.SetRaw("lastModified", raw); err != nil {
				return nil, fmt.Errorf("mongostore: %w", err)
			}
		}
	}
	return sess, nil
}

// find reads sid's document, with the sized projection unless the server
// has shown it cannot run it.
func (s *Store) find(ctx context.Context, sid string) (bson.Raw, error) {
	filter := bson.D{{Key: "_id", Value: s.id(sid)}}
	if s.sized == nil || s.noSized.Load() {
		return s.coll.FindOne(ctx, filter).Raw()
	}
	doc, err := s.coll.FindOne(ctx, filter, s.sized).Raw()
	var ce mongo.CommandError
	if !errors.As(err, &ce) {
		return doc, err
	}
	// The server refused the query itself: read plainly. If that works and
	// the refusal was of the projection (FerretDB: NotImplemented; MongoDB
	// before 4.4: BadValue; an unknown operator), the server cannot
	// evaluate it: read plainly from now on.
	doc, err = s.coll.FindOne(ctx, filter).Raw()
	if (err == nil || errors.Is(err, mongo.ErrNoDocuments)) && projectionRefused(ce) {
		s.noSized.Store(true)
	}
	return doc, err
}

// projectionRefused reports whether the server's error says it cannot run
// the sized projection: NotImplemented (238, FerretDB), BadValue (2,
// "Unsupported projection option" before MongoDB 4.4), FailedToParse (9),
// InvalidPipelineOperator (168, an unknown operator).
func projectionRefused(ce mongo.CommandError) bool {
	for _, code := range []int{238, 2, 9, 168} {
		if ce.HasErrorCode(code) {
			return true
		}
	}
	return false
}

// storedSize is the size the limit applies to: the bytes of a string, the
// BSON size of a subdocument, 0 for anything else.
func storedSize(v bson.RawValue) int64 {
	switch v.Type {
	case bson.TypeString:
		return int64(len(v.Value)) - 5 // int32 length, the bytes, NUL
	case bson.TypeEmbeddedDocument:
		return int64(len(v.Value))
	}
	return 0
}

func (s *Store) tooLarge(n int64) error { return reclimit.Error("mongostore", n, s.fieldLimit) }

// stringBytes is the bytes of a BSON string value, or nil for another
// type.
func stringBytes(v bson.RawValue) []byte {
	if _, ok := v.StringValueOK(); !ok || len(v.Value) < 5 {
		return nil
	}
	return v.Value[4 : len(v.Value)-1]
}

// decrypt returns the session JSON of an encrypted session field, as
// connect-mongo's get with crypto reads it: kruptein's plaintext is the
// JSON string literal of the session JSON (connect-mongo parses a plain
// JSON object too, which Go accepts as well).
func (s *Store) decrypt(v bson.RawValue) ([]byte, error) {
	switch v.Type {
	case bson.TypeString:
	case bson.TypeEmbeddedDocument:
		return nil, fmt.Errorf("%w: the session is a subdocument", ErrNotEncrypted)
	case 0:
		return nil, fmt.Errorf("%w: no session field", ErrWrongType)
	default:
		return nil, fmt.Errorf("%w: %s", ErrWrongType, v.Type)
	}
	field := stringBytes(v)
	if field == nil {
		return nil, fmt.Errorf("%w: invalid BSON string", ErrWrongType)
	}
	pt, err := s.cipher.OpenAs(field, s.maxPlain, ErrNotEncrypted, ErrDecrypt)
	if err != nil {
		return nil, err
	}
	return plaintextJSON(pt)
}

// plaintextJSON returns the session JSON in a decrypted plaintext: the
// value of a JSON string literal (what connect-mongo writes), or anything
// else as it is, for the decoder to take or refuse (connect-mongo's get
// also takes a JSON object).
func plaintextJSON(pt []byte) ([]byte, error) {
	if i := bytes.IndexFunc(pt, func(r rune) bool { return !strings.ContainsRune(" \t\n\r", r) }); i < 0 || pt[i] != '"' {
		return pt, nil
	}
	var str string
	if err := json.Unmarshal(pt, &str); err != nil {
		return nil, fmt.Errorf("%w: the decrypted session is not valid JSON", sessionjson.ErrInvalidJSON)
	}
	return []byte(str), nil
}

// sessionJSON returns the session field as JSON text.
func sessionJSON(v bson.RawValue) ([]byte, error) {
	switch v.Type {
	case bson.TypeString:
		// A BSON string is int32 length, the bytes, NUL: copy the bytes
		// once (DecodeOwned keeps them).
		if _, ok := v.StringValueOK(); !ok || len(v.Value) < 5 {
			return nil, fmt.Errorf("%w: invalid BSON string", ErrWrongType)
		}
		return bytes.Clone(v.Value[4 : len(v.Value)-1]), nil
	case bson.TypeEmbeddedDocument:
		return appendJSON(nil, v, 0)
	case 0:
		return nil, fmt.Errorf("%w: no session field", ErrWrongType)
	}
	return nil, fmt.Errorf("%w: %s", ErrWrongType, v.Type)
}

// appendJSON writes v as Node's JSON.stringify shows the value the Node
// driver decodes from it.
func appendJSON(b []byte, v bson.RawValue, depth int) ([]byte, error) {
	if depth > sessionjson.DefaultMaxDepth {
		return nil, sessionjson.ErrTooDeep
	}
	switch v.Type {
	case bson.TypeEmbeddedDocument, bson.TypeArray:
		isArr := v.Type == bson.TypeArray
		var elems []bson.RawElement
		var err error
		if isArr {
			arr, _ := v.ArrayOK()
			elems, err = bson.Raw(arr).Elements()
		} else {
			doc, _ := v.DocumentOK()
			elems, err = doc.Elements()
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrWrongType, err)
		}
		open, close := byte('{'), byte('}')
		if isArr {
			open, close = '[', ']'
		}
		b = append(b, open)
		n := 0
		for _, e := range elems {
			ev := e.Value()
			if ev.Type == bson.TypeUndefined && !isArr {
				continue // undefined members vanish in JSON
			}
			if n > 0 {
				b = append(b, ',')
			}
			n++
			if !isArr {
				b = jsjson.AppendString(b, e.Key())
				b = append(b, ':')
			}
			if b, err = appendJSON(b, ev, depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, close), nil
	case bson.TypeString:
		str, _ := v.StringValueOK()
		return jsjson.AppendString(b, str), nil
	case bson.TypeDouble:
		f, _ := v.DoubleOK()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(b, "null"...), nil
		}
		enc, _ := json.Marshal(f) // ES6 number formatting, as JavaScript
		return append(b, enc...), nil
	case bson.TypeInt32:
		i, _ := v.Int32OK()
		return strconv.AppendInt(b, int64(i), 10), nil
	case bson.TypeInt64:
		i, _ := v.Int64OK()
		return strconv.AppendInt(b, i, 10), nil
	case bson.TypeBoolean:
		t, _ := v.BooleanOK()
		return strconv.AppendBool(b, t), nil
	case bson.TypeNull, bson.TypeUndefined:
		return append(b, "null"...), nil
	case bson.TypeDateTime:
		ms, _ := v.DateTimeOK()
		if iso, ok := jsjson.AppendISO(append(b, '"'), time.UnixMilli(ms)); ok {
			return append(iso, '"'), nil // ISO strings need no escaping
		}
		return append(b, "null"...), nil
	case bson.TypeObjectID:
		oid, _ := v.ObjectIDOK()
		return jsjson.AppendString(b, oid.Hex()), nil
	case bson.TypeDecimal128:
		d, _ := v.Decimal128OK()
		b = jsjson.AppendString(append(b, `{"$numberDecimal":`...), d.String())
		return append(b, '}'), nil
	case bson.TypeBinary:
		_, data := v.Binary()
		return jsjson.AppendString(b, base64.StdEncoding.EncodeToString(data)), nil
	}
	return nil, fmt.Errorf("%w: %s", ErrWrongType, v.Type)
}

// tagOf is the Version.Tag of a session field read as v: its BSON type
// and value bytes.
func tagOf(v bson.RawValue) string { return string([]byte{byte(v.Type)}) + string(v.Value) }

// tagValue is the session field a Tag made by tagOf holds; ok is false for
// a string tagOf cannot have made.
func tagValue(tag string) (v bson.RawValue, ok bool) {
	if len(tag) < 2 {
		return v, false
	}
	v = bson.RawValue{Type: bson.Type(tag[0]), Value: []byte(tag[1:])}
	if (v.Type != bson.TypeString && v.Type != bson.TypeEmbeddedDocument) || v.Validate() != nil {
		return v, false
	}
	return v, true
}

// touched is when an expiry of expMs (epoch milliseconds) was set for a
// session with cookie c (see jsdate.Touched).
func (s *Store) touched(c *sessionjson.Cookie, expMs int64) time.Time {
	return jsdate.Touched(*c, expMs, s.opts.TTL, s.opts.Now())
}

// Set implements sessionbridge.Store (an upsert).
func (s *Store) Set(ctx context.Context, sid string, sess *sessionjson.Session) error {
	sess, value, err := s.record(sess)
	if err != nil {
		return err
	}
	update, _ := s.update(sid, sess, value, true)
	_, err = s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: s.id(sid)}}, update, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("mongostore: set: %w", err)
	}
	return nil
}

// SetIf implements sessionbridge.ConditionalStore: Set's update, without
// upsert, of the document only while its session field is still the one
// GetVersion read with v and it has not expired. Otherwise it changes
// nothing and returns an error wrapping sessionbridge.ErrConflict (see the
// package documentation for FerretDB). The Version returned is that of the
// document written.
func (s *Store) SetIf(ctx context.Context, sid string, sess *sessionjson.Session, v sessionbridge.Version) (sessionbridge.Version, error) {
	if err := ctx.Err(); err != nil {
		return sessionbridge.Version{}, err
	}
	read, ok := tagValue(v.Tag)
	if !ok { // not a Version GetVersion made: it matches no document
		return sessionbridge.Version{}, fmt.Errorf("mongostore: set: %w", sessionbridge.ErrConflict)
	}
	sess, value, err := s.record(sess)
	if err != nil {
		return sessionbridge.Version{}, err
	}
	// The written value as the server returns it, for the new Tag.
	var written bson.RawValue
	switch value := value.(type) {
	case string:
		written = bson.RawValue{Type: bson.TypeString, Value: appendBSONString(make([]byte, 0, len(value)+5), value)}
	case bson.D:
		doc, err := bson.Marshal(value)
		if err != nil {
			return sessionbridge.Version{}, fmt.Errorf("mongostore: %w", err)
		}
		written = bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: doc}
	}
	update, expires := s.update(sid, sess, written, false)
	filter := bson.D{
		{Key: "_id", Value: s.id(sid)},
		{Key: "session", Value: bson.D{{Key: "$eq", Value: read}}},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "expires", Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: "expires", Value: bson.D{{Key: "$gt", Value: bson.DateTime(s.opts.Now().UnixMilli())}}}},
		}},
	}
	res, err := s.coll.UpdateOne(ctx, filter, update)
	if err != nil {
		return sessionbridge.Version{}, fmt.Errorf("mongostore: set: %w", err)
	}
	if res.MatchedCount == 0 {
		return sessionbridge.Version{}, fmt.Errorf("mongostore: set: %w", sessionbridge.ErrConflict)
	}
	return sessionbridge.Version{Tag: tagOf(written), Touched: s.touched(&sess.Cookie, int64(expires))}, nil
}

// appendBSONString appends the BSON encoding of the string v: its int32
// length with the NUL, the bytes, NUL.
func appendBSONString(b []byte, v string) []byte {
	n := uint32(len(v) + 1)
	b = append(b, byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
	return append(append(b, v...), 0)
}

// record returns the session as Set stores it, without the lastModified
// Get adds with TouchAfter, and the session field's value: the JSON string,
// or the subdocument.
func (s *Store) record(sess *sessionjson.Session) (*sessionjson.Session, any, error) {
	if s.opts.TouchAfter > 0 && sess.Has("lastModified") {
		// connect-mongo deletes the injected lastModified before storing.
		clone, err := reDecode(sess)
		if err != nil {
			return nil, nil, err
		}
		_ = clone.Delete("lastModified")
		sess = clone
	}
	if s.opts.Crypto != nil {
		field, err := s.encrypt(sess)
		if err != nil {
			return nil, nil, err
		}
		return sess, field, nil
	}
	if s.opts.Subdocument {
		doc, err := s.subdocument(sess)
		if err != nil {
			return nil, nil, err
		}
		return sess, doc, nil
	}
	rec, err := sess.Encode()
	if err != nil {
		return nil, nil, fmt.Errorf("mongostore: %w", err)
	}
	return sess, string(rec), nil
}

// encrypt returns the session field connect-mongo's set writes with
// crypto: kruptein's record of the session JSON's JSON string literal.
func (s *Store) encrypt(sess *sessionjson.Session) (string, error) {
	if s.cryptoErr != nil {
		return "", s.cryptoErr
	}
	rec, err := sess.Encode()
	if err != nil {
		return "", fmt.Errorf("mongostore: %w", err)
	}
	field, err := s.cipher.Seal(jsjson.AppendString(make([]byte, 0, len(rec)+len(rec)/8+16), string(rec)))
	if err != nil {
		return "", fmt.Errorf("mongostore: %w", err)
	}
	return field, nil
}

// update is connect-mongo's set update of sess, whose session field is
// value, and the expires it sets. $setOnInsert (Timestamps) is only there
// for an upsert, where it can apply.
func (s *Store) update(sid string, sess *sessionjson.Session, value any, upsert bool) (bson.D, bson.DateTime) {
	now := s.opts.Now()
	expires := date(s.expiry(sess))
	set := bson.D{
		{Key: "_id", Value: s.id(sid)},
		{Key: "session", Value: value},
		{Key: "expires", Value: expires},
	}
	if s.opts.TouchAfter > 0 {
		set = append(set, bson.E{Key: "lastModified", Value: bson.NewDateTimeFromTime(now)})
	}
	update := bson.D{{Key: "$set", Value: set}}
	if s.opts.Timestamps {
		if upsert {
			update = append(update, bson.E{Key: "$setOnInsert", Value: bson.D{{Key: "createdAt", Value: bson.NewDateTimeFromTime(now)}}})
		}
		update = append(update, bson.E{Key: "$currentDate", Value: bson.D{{Key: "updatedAt", Value: true}}})
	}
	return update, expires
}

func reDecode(sess *sessionjson.Session) (*sessionjson.Session, error) {
	rec, err := sess.Encode()
	if err != nil {
		return nil, fmt.Errorf("mongostore: %w", err)
	}
	return sessionjson.Decoder{MaxBytes: -1}.Decode(rec)
}

// Touch implements sessionbridge.Store: $set of expires (and lastModified)
// only, as connect-mongo's touch, so it never rewrites the session another
// writer stored (on a server whose updates are atomic). It reports sessionbridge.ErrNotFound when no document matched, as
// connect-mongo reports an error.
func (s *Store) Touch(ctx context.Context, sid string, sess *sessionjson.Session) error {
	now := s.opts.Now()
	fields := bson.D{}
	if s.opts.TouchAfter > 0 {
		var lm string
		if err := sess.Get("lastModified", &lm); err == nil {
			if t, err := time.Parse(time.RFC3339Nano, lm); err == nil && now.Sub(t) < s.opts.TouchAfter {
				return nil
			}
		}
		fields = append(fields, bson.E{Key: "lastModified", Value: bson.NewDateTimeFromTime(now)})
	}
	fields = append(fields, bson.E{Key: "expires", Value: date(s.expiry(sess))})
	update := bson.D{{Key: "$set", Value: fields}}
	if s.opts.Timestamps {
		update = append(update, bson.E{Key: "$currentDate", Value: bson.D{{Key: "updatedAt", Value: true}}})
	}
	res, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: s.id(sid)}}, update)
	if err != nil {
		return fmt.Errorf("mongostore: touch: %w", err)
	}
	if res.MatchedCount == 0 {
		return sessionbridge.ErrNotFound
	}
	return nil
}

// Destroy implements sessionbridge.Store.
func (s *Store) Destroy(ctx context.Context, sid string) error {
	if _, err := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: s.id(sid)}}); err != nil {
		return fmt.Errorf("mongostore: destroy: %w", err)
	}
	return nil
}

// Prune deletes documents whose expires has passed, like connect-mongo's
// autoRemove: 'interval', and returns how many it deleted. Call it
// periodically where no TTL index removes them (see CreateTTLIndex).
func (s *Store) Prune(ctx context.Context) (int64, error) {
	res, err := s.coll.DeleteMany(ctx, bson.D{{Key: "expires", Value: bson.D{{Key: "$lt", Value: bson.NewDateTimeFromTime(s.opts.Now())}}}})
	if err != nil {
		return 0, fmt.Errorf("mongostore: prune: %w", err)
	}
	return res.DeletedCount, nil
}

// CreateTTLIndex creates connect-mongo's TTL index ({expires: 1},
// expireAfterSeconds 0: autoRemove 'native'). A server that cannot
// (FerretDB) gives ErrTTLIndexUnsupported.
func (s *Store) CreateTTLIndex(ctx context.Context) error {
	_, err := s.coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "expires", Value: 1}},
		Options: options.Index().SetExpireAfterSeconds(0),
	})
	var ce mongo.CommandError
	if errors.As(err, &ce) && (ce.HasErrorCode(238) || ce.HasErrorCode(115)) {
		return fmt.Errorf("%w: %v", ErrTTLIndexUnsupported, ce.Message)
	}
	if err != nil {
		return fmt.Errorf("mongostore: create TTL index: %w", err)
	}
	return nil
}

// EnforcesExpiry implements sessionbridge.ExpiryEnforcer: the expires field
// decides, and touch moves it without rewriting cookie.expires.
func (s *Store) EnforcesExpiry() bool { return true }

// subdocument converts a session to the BSON document connect-mongo writes
// with stringify false: the cookie with all of toJSON's keys (null where
// unset) and expires as a Date, then the app data converted from JSON the
// way the Node driver stores JavaScript values (integers within int32 as
// int32, other numbers as doubles; integers beyond 2^53 as int64 so they
// stay exact).
func (s *Store) subdocument(sess *sessionjson.Session) (bson.D, error) {
	doc := bson.D{}
	for _, key := range sess.Keys() {
		if key == "cookie" {
			doc = append(doc, bson.E{Key: "cookie", Value: cookieDoc(&sess.Cookie)})
			continue
		}
		raw, _ := sess.Raw(key)
		v, err := jsonToBSON(raw)
		if err != nil {
			return nil, fmt.Errorf("mongostore: field %q: %w", key, err)
		}
		doc = append(doc, bson.E{Key: key, Value: v})
	}
	return doc, nil
}

func cookieDoc(c *sessionjson.Cookie) bson.D {
	opt := func(p any, isNil bool) any {
		if isNil {
			return nil
		}
		return p
	}
	var oma any
	if c.OriginalMaxAge != nil {
		oma = jsNumber(*c.OriginalMaxAge)
	}
	var exp any
	if c.Expires != nil {
		exp = date(*c.Expires)
	}
	var sameSite any
	if c.SameSite != nil {
		if c.SameSite.Mode != "" {
			sameSite = c.SameSite.Mode
		} else {
			sameSite = c.SameSite.Bool
		}
	}
	return bson.D{
		{Key: "originalMaxAge", Value: oma},
		{Key: "partitioned", Value: opt(deref(c.Partitioned), c.Partitioned == nil)},
		{Key: "priority", Value: opt(deref(c.Priority), c.Priority == nil)},
		{Key: "expires", Value: exp},
		{Key: "secure", Value: opt(deref(c.Secure), c.Secure == nil)},
		{Key: "httpOnly", Value: opt(deref(c.HTTPOnly), c.HTTPOnly == nil)},
		{Key: "domain", Value: opt(deref(c.Domain), c.Domain == nil)},
		{Key: "path", Value: opt(deref(c.Path), c.Path == nil)},
		{Key: "sameSite", Value: sameSite},
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// jsNumber is how the Node driver stores an integer JavaScript number.
func jsNumber(i int64) any {
	switch {
	case i >= math.MinInt32 && i <= math.MaxInt32:
		return int32(i)
	case i >= -(1<<53) && i <= 1<<53:
		return float64(i)
	}
	return i // beyond 2^53 Node has already lost it; Go keeps it exact
}

// jsonToBSON converts one JSON value, keeping object key order.
func jsonToBSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytesReader(raw))
	dec.UseNumber()
	return readValue(dec)
}

// smallObject is the number of keys up to which readValue compares an
// object's keys pairwise; larger objects use a map of positions (Go
// randomizes map hashing per map, so no input can force collisions).
const smallObject = 16

// testHookKeyWork, set only by tests, receives the number of key comparisons
// and map operations readValue made for each object, so tests can check that
// the work grows linearly with the number of keys.
var testHookKeyWork func(n int)

func countKeyWork(n int) {
	if h := testHookKeyWork; h != nil {
		h(n)
	}
}

// readValue reads one JSON value from dec as the Node driver stores it.
func readValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			arr := bson.A{}
			for dec.More() {
				v, err := readValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token()
			return arr, err
		}
		// A repeated key keeps its first position and takes the last value,
		// as JSON.parse does. Keys are compared pairwise while the object
		// has at most smallObject of them, then looked up in a map of
		// positions, so the cost stays linear in the number of keys.
		doc := bson.D{}
		var pos map[string]int
		work := 0 // for testHookKeyWork
	members:
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key := kt.(string)
			v, err := readValue(dec)
			if err != nil {
				return nil, err
			}
			if pos == nil {
				work += len(doc)
				for i := range doc {
					if doc[i].Key == key {
						doc[i].Value = v
						continue members
					}
				}
			} else {
				work++
				if i, ok := pos[key]; ok {
					doc[i].Value = v
					continue members
				}
				pos[key] = len(doc)
			}
			doc = append(doc, bson.E{Key: key, Value: v})
			if pos == nil && len(doc) > smallObject {
				pos = make(map[string]int, 2*len(doc))
				for i, e := range doc {
					pos[e.Key] = i
				}
				work += len(doc)
			}
		}
		countKeyWork(work)
		_, err := dec.Token()
		return doc, err
	case json.Number:
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return jsNumber(i), nil
		}
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil && !math.IsInf(f, 0) {
			return nil, err
		}
		return f, nil
	default: // string, bool, nil
		return t, nil
	}
}
