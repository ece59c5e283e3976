// Package mongodbsessionstore reads and writes express-session records in
// MongoDB exactly as connect-mongodb-session (5.x, MongoDB's own store)
// does, so a Go service and a Node app share one sessions collection. It
// uses the official driver, go.mongodb.org/mongo-driver/v2.
//
//	import mongodbsessionstore "github.com/sessionbridge/sessionbridge/stores/mongodbsession"
//
// A session is one document, {<IDField>: sid, session, <ExpiresKey>}:
//   - session is an embedded document holding the session's values as
//     BSON, as the Node driver writes JavaScript values: an integral number
//     within int32 is an int32, every other number (a fraction, a negative
//     zero, an integer beyond int32, one beyond 2^53 already rounded by
//     JSON.parse) a double; cookie.expires is a Date;
//   - the expiry field (ExpiresKey, default "expires") is a Date:
//     cookie.expires, or now + Options.Expires (14 days by default) for a
//     browser-session cookie, saturated at the end of the JavaScript Date
//     range.
//
// Set is connect-mongodb-session's set: updateOne({<IDField>: sid},
// {$set: {<IDField>: sid, session, <ExpiresKey>}}, {upsert: true}). Get
// finds the document by IDField and serves it unless its expiry field holds
// a Date that is not after now; an expired document is deleted, as Node's
// get destroys it (Go deletes it only while it still holds the expiry it
// read). A document without an expiry, or with null there, never expires;
// one with another type there counts as expired (Node compares it as a
// number; it never writes one). Destroy is deleteOne.
//
// Reading, Go converts the session document to the JSON Node's
// JSON.stringify(req.session) gives: Dates become toISOString() strings,
// keys come in JavaScript's order, a repeated key keeps its last value;
// ObjectIds, binary data and the other BSON types show as the Node
// driver's values show (an int64 beyond 2^53, which the driver decodes as a
// Long object, shows as its exact integer). A string that is not valid
// UTF-8, which the driver refuses, is refused with [ErrWrongType]; so is
// such a key.
//
// Writing, Go converts the session's JSON back the way Node's driver
// writes what JSON.parse gives, with the cookie as the record holds it
// (express-session's Cookie.toJSON in Node also writes its unset fields as
// null; Go keeps nulls it read and writes no others) and cookie.expires as
// a Date. [Store.SetIf] also keeps every value of the document it read
// that JSON cannot carry (a Date elsewhere than cookie.expires, an
// ObjectId, binary data, a negative zero, an int64...) while its JSON is
// unchanged, and writes a changed toISOString() string where a Date was as
// a Date: a Node app that stored a Date reads a Date back after Go saved
// the session. [Store.Set] does the same with the session it finds stored
// (it reads it first: one round trip more than Node's set).
//
// connect-mongodb-session's get checks the field named expires whatever
// its expiresKey option says (with expiresKey: 'expireAt' Node serves an
// expired session until the TTL monitor deletes it); Go checks the
// configured ExpiresKey. connect-mongodb-session has no touch, so with
// resave: false Node never moves a session's expiry after login; Touch
// here sets the expiry field alone ($set), which Node's get honours and
// which keeps a session Go users are active in alive, without rewriting
// the session a concurrent writer stored.
//
// The Decoder's MaxBytes applies to the session's JSON as Go reads it; Go
// stops converting a larger one as soon as it passes the limit. The
// document itself arrives whole (at most the server's document size limit,
// 16 MiB on MongoDB).
//
// The Store is a [sessionbridge.ConditionalStore]. GetVersion is Get that
// also returns the session document as read (its BSON bytes) as
// Version.Tag, and SetIf is Set's update, without upsert, of the document
// only while it still holds that session and has not expired:
//
//	updateOne({<IDField>: sid, session: {$eq: <the document read>},
//	    $or: [{<ExpiresKey>: null}, {<ExpiresKey>: {$gt: now}}]}, <Set's update>)
//
// When no document matched (another writer changed or removed it, or it
// expired), SetIf reports sessionbridge.ErrConflict. MongoDB applies the
// filter and the update atomically; FerretDB 1.x does not (see the
// connect-mongo store's documentation). Version.Touched is the expiry
// minus the session's lifetime (cookie.originalMaxAge, or Options.Expires
// for a browser-session cookie), never after the clock's now.
package mongodbsessionstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/bsonjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/jsdate"
	"github.com/sessionbridge/sessionbridge/stores/internal/reclimit"
)

// Defaults, as connect-mongodb-session sets them.
const (
	DefaultCollection = "sessions"
	DefaultIDField    = "_id"
	DefaultExpiresKey = "expires"
	DefaultExpires    = 14 * 24 * time.Hour
)

var (
	// ErrWrongType means the document's session field is not an embedded
	// document, or holds a value Node's driver cannot decode (a string
	// that is not valid UTF-8) or JSON cannot show (JavaScript code,
	// MinKey, ...). It wraps sessionjson.ErrMalformed.
	ErrWrongType = fmt.Errorf("%w: the session field is not a document Node can read", sessionjson.ErrMalformed)
	// ErrUnstorable is returned by Set and SetIf for a session the Node
	// driver cannot store either: a key holding a NUL byte.
	ErrUnstorable = errors.New("mongodbsessionstore: the session cannot be stored as BSON")
	// ErrOption is returned by New for an IDField or ExpiresKey that is not
	// a usable field path (empty, starting with '$', an empty part), or
	// that overlaps the session field or the other one.
	ErrOption = errors.New("mongodbsessionstore: invalid option")
	// ErrTTLIndexUnsupported is returned by CreateTTLIndex when the server
	// cannot create TTL indexes (FerretDB 1.x). Use Prune periodically
	// instead.
	ErrTTLIndexUnsupported = errors.New("mongodbsessionstore: this server does not support TTL indexes")
)

// Options mirror connect-mongodb-session's options; the zero value is its
// defaults. Its databaseName is the database given to New; its uri and
// connectionOptions are the client's.
type Options struct {
	// Collection is the collection's name; default "sessions".
	// (collection)
	Collection string
	// IDField is the field holding the session id; default "_id". With
	// another field, MongoDB gives each document an ObjectId _id and, as
	// in Node, nothing makes the id unique. (idField)
	IDField string
	// ExpiresKey is the field holding the expiry Date; default "expires".
	// (expiresKey)
	ExpiresKey string
	// Expires is the lifetime of a session whose cookie has no expires (a
	// browser-session cookie); zero or less means the default, 14 days.
	// (expires, there in milliseconds)
	Expires time.Duration
	// ExpiresAfterSeconds is the TTL index's expireAfterSeconds
	// (CreateTTLIndex); default 0. (expiresAfterSeconds)
	ExpiresAfterSeconds int32
	// Decoder limits the records accepted.
	Decoder sessionjson.Decoder
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Store is a connect-mongodb-session compatible sessionbridge.Store.
type Store struct {
	coll    *mongo.Collection
	opts    Options
	expPath []string // ExpiresKey split at its dots, for reading a document
	limit   int      // the Decoder's MaxBytes; -1 for none
	// cookieHint makes the cookie's expires a Date, as Node's driver
	// writes the Date express-session's Cookie.toJSON holds.
	cookieHint bson.RawValue
}

var (
	_ sessionbridge.ConditionalStore = (*Store)(nil)
	_ sessionbridge.ExpiryEnforcer   = (*Store)(nil)
)

// New returns a store on db's collection. It does no I/O. It fails with an
// error wrapping ErrOption when IDField or ExpiresKey is not a field path
// the store can use.
func New(db *mongo.Database, opts Options) (*Store, error) {
	if opts.Collection == "" {
		opts.Collection = DefaultCollection
	}
	if opts.IDField == "" {
		opts.IDField = DefaultIDField
	}
	if opts.ExpiresKey == "" {
		opts.ExpiresKey = DefaultExpiresKey
	}
	if opts.Expires <= 0 {
		opts.Expires = DefaultExpires
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	for _, f := range []struct{ name, path string }{{"IDField", opts.IDField}, {"ExpiresKey", opts.ExpiresKey}} {
		if err := checkPath(f.path); err != nil {
			return nil, fmt.Errorf("%w: %s %q: %v", ErrOption, f.name, f.path, err)
		}
	}
	for _, p := range [][2]string{{opts.IDField, "session"}, {opts.ExpiresKey, "session"}, {opts.IDField, opts.ExpiresKey}} {
		if overlaps(p[0], p[1]) {
			return nil, fmt.Errorf("%w: the fields %q and %q overlap", ErrOption, p[0], p[1])
		}
	}
	hint, _ := bson.Marshal(bson.D{{Key: "expires", Value: bson.DateTime(0)}}) // a constant: it marshals
	return &Store{
		coll:       db.Collection(opts.Collection),
		opts:       opts,
		expPath:    strings.Split(opts.ExpiresKey, "."),
		limit:      reclimit.Of(opts.Decoder),
		cookieHint: bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: hint},
	}, nil
}

// checkPath reports what makes p unusable as a document field path.
func checkPath(p string) error {
	for _, part := range strings.Split(p, ".") {
		switch {
		case part == "":
			return errors.New("an empty part")
		case part[0] == '$':
			return errors.New("a part starting with '$'")
		case strings.IndexByte(part, 0) >= 0:
			return errors.New("a NUL byte")
		}
	}
	return nil
}

// overlaps reports whether paths a and b name the same field, or one
// holds the other.
func overlaps(a, b string) bool {
	return a == b || strings.HasPrefix(a, b+".") || strings.HasPrefix(b, a+".")
}

// Collection returns the underlying collection.
func (s *Store) Collection() *mongo.Collection { return s.coll }

// EnforcesExpiry implements sessionbridge.ExpiryEnforcer: the expiry field
// decides, and Touch moves it without rewriting cookie.expires.
func (s *Store) EnforcesExpiry() bool { return true }

func (s *Store) filter(sid string) bson.D { return bson.D{{Key: s.opts.IDField, Value: sid}} }

// nowMs is the clock's now in JavaScript milliseconds.
func (s *Store) nowMs() int64 { return jsdate.Millis(s.opts.Now()) }

// expiry is the expiry Date connect-mongodb-session writes for sess:
// cookie.expires, or now + Expires, saturated at the JavaScript Date range.
func (s *Store) expiry(sess *sessionjson.Session) bson.DateTime {
	if e := sess.Cookie.Expires; e != nil {
		return bson.DateTime(jsdate.Millis(*e))
	}
	ms := s.nowMs() + min(s.opts.Expires.Milliseconds(), 2*jsdate.MaxMillis)
	return bson.DateTime(min(ms, jsdate.MaxMillis))
}

// Get implements sessionbridge.Store.
func (s *Store) Get(ctx context.Context, sid string) (*sessionjson.Session, error) {
	return s.get(ctx, sid, nil)
}

// GetVersion implements sessionbridge.ConditionalStore: Get, with the
// session document read as Version.Tag and Touched from the expiry.
func (s *Store) GetVersion(ctx context.Context, sid string) (*sessionjson.Session, sessionbridge.Version, error) {
	var v sessionbridge.Version
	sess, err := s.get(ctx, sid, &v)
	if err != nil {
		return nil, sessionbridge.Version{}, err
	}
	return sess, v, nil
}

// expired reports whether an expiry field read as exp has passed.
func (s *Store) expired(exp bson.RawValue) bool {
	switch exp.Type {
	case 0, bson.TypeNull, bson.TypeUndefined:
		return false // Node: !doc.expires
	case bson.TypeDateTime:
		ms, ok := exp.DateTimeOK()
		return !ok || ms <= s.nowMs() // Node serves it while new Date < expires
	}
	return true
}

func (s *Store) get(ctx context.Context, sid string, ver *sessionbridge.Version) (*sessionjson.Session, error) {
	doc, err := s.coll.FindOne(ctx, s.filter(sid)).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, sessionbridge.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("mongodbsessionstore: get: %w", err)
	}
	exp := doc.Lookup(s.expPath...)
	if s.expired(exp) {
		// Node's get destroys an expired session. Delete it only while it
		// still holds the expiry read: a writer may have renewed it since.
		// A failure leaves it to the TTL index or Prune.
		_, _ = s.coll.DeleteOne(ctx, append(s.filter(sid), bson.E{Key: s.opts.ExpiresKey, Value: bson.D{{Key: "$eq", Value: exp}}}))
		return nil, sessionbridge.ErrNotFound
	}
	v := doc.Lookup("session")
	if v.Type != bson.TypeEmbeddedDocument {
		return nil, fmt.Errorf("mongodbsessionstore: %w: %s", ErrWrongType, describe(v.Type))
	}
	raw, err := bsonjson.AppendJSON(nil, v, s.limit)
	switch {
	case errors.Is(err, bsonjson.ErrTooLong):
		return nil, reclimit.Error("mongodbsessionstore", -1, s.limit)
	case errors.Is(err, sessionjson.ErrTooDeep):
		return nil, fmt.Errorf("mongodbsessionstore: %w", err)
	case err != nil:
		return nil, fmt.Errorf("mongodbsessionstore: %w: %v", ErrWrongType, err)
	}
	sess, err := s.opts.Decoder.DecodeOwnedContext(ctx, raw) // built for it
	if err != nil {
		return nil, fmt.Errorf("mongodbsessionstore: %w", err)
	}
	if ver != nil {
		*ver = sessionbridge.Version{Tag: string(v.Value)}
		if ms, ok := exp.DateTimeOK(); ok {
			ver.Touched = jsdate.Touched(sess.Cookie, ms, s.opts.Expires, s.opts.Now())
		}
	}
	return sess, nil
}

func describe(t bson.Type) string {
	if t == 0 {
		return "no session field"
	}
	return "the session field has BSON type " + t.String()
}

// document returns the session document Node's set writes for sess, with
// the values of read (the session document read, or nothing) kept where
// JSON cannot carry them, and cookie.expires a Date. Every member of the
// record is written, those express-session drops on load included, so
// that Go reads back the record it wrote.
func (s *Store) document(sess *sessionjson.Session, read bson.RawValue) (bson.Raw, error) {
	rec, err := sess.Encode()
	if err != nil {
		return nil, fmt.Errorf("mongodbsessionstore: %w", err)
	}
	doc, err := bsonjson.AppendObject(nil, rec, s.hint(read))
	if err != nil {
		return nil, s.unstorable(err)
	}
	return doc, nil
}

// hint is read with its cookie member replaced by one whose expires is a
// Date, so that the record's cookie.expires, when set, is written as a
// Date, as Node's driver writes the Date express-session's Cookie.toJSON
// holds.
func (s *Store) hint(read bson.RawValue) bson.RawValue {
	var elems []bson.RawElement
	if doc, ok := read.DocumentOK(); ok && read.Type == bson.TypeEmbeddedDocument {
		elems, _ = doc.Elements()
	}
	b := make([]byte, 4, len(read.Value)+len(s.cookieHint.Value)+16)
	for _, e := range elems {
		if e.Key() != "cookie" {
			b = append(b, e...)
		}
	}
	b = append(append(b, byte(bson.TypeEmbeddedDocument)), "cookie\x00"...)
	b = append(append(b, s.cookieHint.Value...), 0)
	binary.LittleEndian.PutUint32(b, uint32(len(b)))
	return bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: b}
}

func (s *Store) unstorable(err error) error {
	if errors.Is(err, bsonjson.ErrKey) {
		return fmt.Errorf("%w: %v", ErrUnstorable, err)
	}
	return fmt.Errorf("mongodbsessionstore: %w", err)
}

// update is connect-mongodb-session's set update of sid with the session
// document doc, and the expiry it sets.
func (s *Store) update(sid string, sess *sessionjson.Session, doc bson.Raw) (bson.D, bson.DateTime) {
	exp := s.expiry(sess)
	set := bson.D{{Key: s.opts.IDField, Value: sid}, {Key: "session", Value: doc}, {Key: s.opts.ExpiresKey, Value: exp}}
	return bson.D{{Key: "$set", Value: set}}, exp
}

// Set implements sessionbridge.Store: connect-mongodb-session's upsert.
// It first reads the stored session, if any, to keep the values of it JSON
// cannot carry (see the package documentation): one round trip more than
// Node's set.
func (s *Store) Set(ctx context.Context, sid string, sess *sessionjson.Session) error {
	var hint bson.RawValue
	stored, err := s.coll.FindOne(ctx, s.filter(sid), options.FindOne().SetProjection(bson.D{{Key: "session", Value: 1}})).Raw()
	switch {
	case err == nil:
		if v := stored.Lookup("session"); v.Type == bson.TypeEmbeddedDocument {
			hint = v
		}
	case !errors.Is(err, mongo.ErrNoDocuments):
		return fmt.Errorf("mongodbsessionstore: set: %w", err)
	}
	doc, err := s.document(sess, hint)
	if err != nil {
		return err
	}
	update, _ := s.update(sid, sess, doc)
	if _, err := s.coll.UpdateOne(ctx, s.filter(sid), update, options.UpdateOne().SetUpsert(true)); err != nil {
		return fmt.Errorf("mongodbsessionstore: set: %w", err)
	}
	return nil
}

// SetIf implements sessionbridge.ConditionalStore: Set's update, without
// upsert, of the document only while its session is still the one
// GetVersion read with v and it has not expired; the values of that
// session JSON cannot carry are kept where the JSON still shows them (see
// the package documentation). Otherwise it changes nothing and returns an
// error wrapping sessionbridge.ErrConflict. The Version returned is that of
// the document written.
func (s *Store) SetIf(ctx context.Context, sid string, sess *sessionjson.Session, v sessionbridge.Version) (sessionbridge.Version, error) {
	if err := ctx.Err(); err != nil {
		return sessionbridge.Version{}, err
	}
	read := bson.Raw(v.Tag)
	if len(read) < 5 || read.Validate() != nil { // not a Version GetVersion made
		return sessionbridge.Version{}, fmt.Errorf("mongodbsessionstore: set: %w", sessionbridge.ErrConflict)
	}
	readValue := bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: read}
	doc, err := s.document(sess, readValue)
	if err != nil {
		return sessionbridge.Version{}, err
	}
	update, exp := s.update(sid, sess, doc)
	filter := append(s.filter(sid),
		bson.E{Key: "session", Value: bson.D{{Key: "$eq", Value: readValue}}},
		bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: s.opts.ExpiresKey, Value: nil}},
			bson.D{{Key: s.opts.ExpiresKey, Value: bson.D{{Key: "$gt", Value: bson.DateTime(s.nowMs())}}}},
		}},
	)
	res, err := s.coll.UpdateOne(ctx, filter, update)
	if err != nil {
		return sessionbridge.Version{}, fmt.Errorf("mongodbsessionstore: set: %w", err)
	}
	if res.MatchedCount == 0 {
		return sessionbridge.Version{}, fmt.Errorf("mongodbsessionstore: set: %w", sessionbridge.ErrConflict)
	}
	return sessionbridge.Version{Tag: string(doc), Touched: jsdate.Touched(sess.Cookie, int64(exp), s.opts.Expires, s.opts.Now())}, nil
}

// Touch implements sessionbridge.Store. connect-mongodb-session has no
// touch; this one sets the expiry field alone to what Set would write
// (cookie.expires, or now + Expires), so it never rewrites the session
// another writer stored. It reports sessionbridge.ErrNotFound when no
// document matched.
func (s *Store) Touch(ctx context.Context, sid string, sess *sessionjson.Session) error {
	update := bson.D{{Key: "$set", Value: bson.D{{Key: s.opts.ExpiresKey, Value: s.expiry(sess)}}}}
	res, err := s.coll.UpdateOne(ctx, s.filter(sid), update)
	if err != nil {
		return fmt.Errorf("mongodbsessionstore: touch: %w", err)
	}
	if res.MatchedCount == 0 {
		return sessionbridge.ErrNotFound
	}
	return nil
}

// Destroy implements sessionbridge.Store.
func (s *Store) Destroy(ctx context.Context, sid string) error {
	if _, err := s.coll.DeleteOne(ctx, s.filter(sid)); err != nil {
		return fmt.Errorf("mongodbsessionstore: destroy: %w", err)
	}
	return nil
}

// Prune deletes the documents whose expiry has passed (the ones Get would
// not serve) and returns how many it deleted. Call it periodically where
// no TTL index removes them (FerretDB; see CreateTTLIndex).
func (s *Store) Prune(ctx context.Context) (int64, error) {
	res, err := s.coll.DeleteMany(ctx, bson.D{{Key: s.opts.ExpiresKey, Value: bson.D{{Key: "$lte", Value: bson.DateTime(s.nowMs())}}}})
	if err != nil {
		return 0, fmt.Errorf("mongodbsessionstore: prune: %w", err)
	}
	return res.DeletedCount, nil
}

// CreateTTLIndex creates the index connect-mongodb-session creates when it
// connects: {<ExpiresKey>: 1} with expireAfterSeconds
// Options.ExpiresAfterSeconds, with which MongoDB deletes expired
// documents itself. A server that cannot (FerretDB 1.x) gives
// ErrTTLIndexUnsupported (Node's store reports its error to the
// constructor's callback, then works on without the index).
func (s *Store) CreateTTLIndex(ctx context.Context) error {
	_, err := s.coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: s.opts.ExpiresKey, Value: 1}},
		Options: options.Index().SetExpireAfterSeconds(s.opts.ExpiresAfterSeconds),
	})
	var ce mongo.CommandError
	if errors.As(err, &ce) && (ce.HasErrorCode(238) || ce.HasErrorCode(115)) {
		return fmt.Errorf("%w: %v", ErrTTLIndexUnsupported, ce.Message)
	}
	if err != nil {
		return fmt.Errorf("mongodbsessionstore: create TTL index: %w", err)
	}
	return nil
}
