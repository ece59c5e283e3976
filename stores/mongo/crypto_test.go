package mongostore_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/jsjson"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	"github.com/sessionbridge/sessionbridge/sessionbridgetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/kruptein"
	mongostore "github.com/sessionbridge/sessionbridge/stores/mongo"
)

const cryptoSecret = "correct horse battery staple"

func crypto(secret string) *mongostore.CryptoOptions {
	return &mongostore.CryptoOptions{Secret: secret}
}

// opened decrypts a stored session field as connect-mongo does (kruptein
// 3.0.8, then JSON.parse of the string literal), independently of the
// store.
func opened(t testing.TB, secret string, field string) string {
	t.Helper()
	c, err := kruptein.New(secret, kruptein.V30)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := c.Open([]byte(field), -1)
	if err != nil {
		t.Fatalf("the stored field does not open: %v", err)
	}
	var s string
	if err := json.Unmarshal(pt, &s); err != nil {
		t.Fatalf("the plaintext is not a JSON string literal: %.80q", pt)
	}
	if string(pt) != string(jsjson.AppendString(nil, s)) {
		t.Fatalf("the plaintext is not JSON.stringify's string literal: %.80q", pt)
	}
	return s
}

// sealed is the session field connect-mongo's crypto writes for the JSON
// record rec, made without the store.
func sealed(t testing.TB, secret string, rec []byte) string {
	t.Helper()
	c, err := kruptein.New(secret, kruptein.V30)
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.Seal(jsjson.AppendString(nil, string(rec)))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func storedString(t testing.TB, coll *mongo.Collection, id string) string {
	t.Helper()
	v := document(t, coll, id).Lookup("session")
	s, ok := v.StringValueOK()
	if !ok {
		t.Fatalf("session field is %s, want a string", v.Type)
	}
	return s
}

// TestCryptoContract runs the Store contract on an encrypted store. (With
// Crypto, Subdocument changes nothing: TestCryptoLayout checks that.)
func TestCryptoContract(t *testing.T) {
	db, _, ferret := database(t)
	name := collection(t, db)
	sessionbridgetest.TestStore(t, func(*testing.T) sessionbridge.Store {
		return mongostore.New(db, mongostore.Options{Collection: name, Crypto: crypto(cryptoSecret)})
	}, sessionbridgetest.Options{SetIfNotAtomic: ferret})
}

// TestCryptoLayout: with Crypto, stringify true or false, the session
// field is kruptein's record of the record's JSON string literal; expires
// is as without crypto; Touch leaves the field alone.
func TestCryptoLayout(t *testing.T) {
	db, _, _ := database(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 10, 0, 0, 123e6, time.UTC)
	for _, sub := range []bool{false, true} {
		name := collection(t, db)
		coll := db.Collection(name)
		st := mongostore.New(db, mongostore.Options{Collection: name, Subdocument: sub, Crypto: crypto(cryptoSecret), Now: func() time.Time { return now }})
		s := sessionjson.New(sessionjson.NewCookie(now, time.Hour))
		_ = s.Set("passport", map[string]any{"user": 7})
		_ = s.Set("note", "é😀\u2028\"\\<&>")
		if err := st.Set(ctx, "sid", s); err != nil {
			t.Fatal(err)
		}
		rec, _ := s.Encode()
		field := storedString(t, coll, "sid")
		if got := opened(t, cryptoSecret, field); got != string(rec) {
			t.Fatalf("subdocument=%v: decrypted %s, want %s", sub, got, rec)
		}
		if strings.Contains(field, "passport") {
			t.Fatal("the session is stored in clear")
		}
		if exp, _ := document(t, coll, "sid").Lookup("expires").DateTimeOK(); exp != now.Add(time.Hour).UnixMilli() {
			t.Fatalf("expires %d", exp)
		}
		got, err := st.Get(ctx, "sid")
		if err != nil {
			t.Fatal(err)
		}
		if enc, _ := got.Encode(); string(enc) != string(rec) {
			t.Fatalf("Get: %s, want %s", enc, rec)
		}
		got.Touch(now.Add(time.Minute))
		if err := st.Touch(ctx, "sid", got); err != nil {
			t.Fatal(err)
		}
		if storedString(t, coll, "sid") != field {
			t.Fatal("Touch rewrote the encrypted session")
		}
		if exp, _ := document(t, coll, "sid").Lookup("expires").DateTimeOK(); exp != now.Add(time.Hour+time.Minute).UnixMilli() {
			t.Fatalf("expires after Touch %d", exp)
		}
		// Every write draws a new salt and IV: the same session is stored
		// differently.
		if err := st.Set(ctx, "sid", s); err != nil {
			t.Fatal(err)
		}
		if storedString(t, coll, "sid") == field {
			t.Fatal("two writes stored the same ciphertext")
		}
	}
}

// TestCryptoErrors: a wrong secret, an altered record, a session in clear
// while Crypto is set, an encrypted one while it is not, and an empty
// secret are each a typed error; none shows the secret, the session id or
// the session.
func TestCryptoErrors(t *testing.T) {
	db, _, _ := database(t)
	ctx := context.Background()
	name := collection(t, db)
	coll := db.Collection(name)
	on := mongostore.New(db, mongostore.Options{Collection: name, Crypto: crypto(cryptoSecret)})
	off := mongostore.New(db, mongostore.Options{Collection: name})
	other := mongostore.New(db, mongostore.Options{Collection: name, Crypto: crypto("Other-Secret-9")})
	empty := mongostore.New(db, mongostore.Options{Collection: name, Crypto: crypto("")})

	const sid = "crypto-errors-sid-Zq9"
	s := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
	_ = s.Set("passport", map[string]any{"user": "private-user-name"})
	if err := on.Set(ctx, sid, s); err != nil {
		t.Fatal(err)
	}
	if _, err := on.Get(ctx, sid); err != nil {
		t.Fatalf("the right secret: %v", err)
	}
	field := storedString(t, coll, sid)
	rec, _ := s.Encode()
	exp := bson.NewDateTimeFromTime(time.Now().Add(time.Hour))
	put := func(id string, v any) {
		t.Helper()
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "session", Value: v}, {Key: "expires", Value: exp}}); err != nil {
			t.Fatal(err)
		}
	}
	// Change one character of the aad, the record's last field (base64
	// text), so that the record still parses.
	der, _ := base64.StdEncoding.DecodeString(field)
	if der[len(der)-10] == 'A' {
		der[len(der)-10] = 'B'
	} else {
		der[len(der)-10] = 'A'
	}
	put("altered", base64.StdEncoding.EncodeToString(der))
	put("clear", string(rec))
	put("subdoc", bson.D{{Key: "cookie", Value: bson.D{}}})
	put("garbage", "MIIBgarbage")

	check := func(what string, err error, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", what, err, want)
			return
		}
		if want != mongostore.ErrNoSecret && !errors.Is(err, sessionjson.ErrMalformed) {
			t.Errorf("%s: %v does not wrap sessionjson.ErrMalformed", what, err)
		}
		for _, leak := range []string{cryptoSecret, "Other-Secret-9", sid, "private-user-name"} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("%s: error shows %q: %v", what, leak, err)
			}
		}
		t.Logf("%s: %v", what, err)
	}
	_, err := other.Get(ctx, sid)
	check("another secret", err, mongostore.ErrDecrypt)
	_, _, err = other.GetVersion(ctx, sid)
	check("another secret, GetVersion", err, mongostore.ErrDecrypt)
	_, err = on.Get(ctx, "altered")
	check("altered aad", err, mongostore.ErrDecrypt)
	_, err = on.Get(ctx, "clear")
	check("a JSON string with Crypto", err, mongostore.ErrNotEncrypted)
	_, err = on.Get(ctx, "subdoc")
	check("a subdocument with Crypto", err, mongostore.ErrNotEncrypted)
	_, err = on.Get(ctx, "garbage")
	check("not a record", err, mongostore.ErrNotEncrypted)
	_, err = off.Get(ctx, sid)
	check("an encrypted session without Crypto", err, mongostore.ErrEncrypted)
	_, err = empty.Get(ctx, sid)
	check("empty secret, Get", err, mongostore.ErrNoSecret)
	check("empty secret, Set", empty.Set(ctx, "new", s), mongostore.ErrNoSecret)
	if document(t, coll, "new") != nil {
		t.Fatal("a store with an empty secret wrote")
	}
	// Nothing was removed or rewritten by the failed reads.
	if storedString(t, coll, sid) != field {
		t.Fatal("a failed read changed the document")
	}
	// The Bridge reports these as store errors, not as a missing session.
	b, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"s"}, Store: other})
	if _, err := b.LoadID(ctx, sid); !errors.Is(err, sessionbridge.ErrStore) || !errors.Is(err, mongostore.ErrDecrypt) || errors.Is(err, sessionbridge.ErrNoSession) {
		t.Fatalf("Bridge with another secret: %v", err)
	}
}

// TestCryptoSizeLimit: the limit applies to the decrypted JSON (a record
// of exactly the limit reads, one over is ErrTooLarge, also one whose JSON
// string literal escapes nearly every byte), and a stored string longer
// than the longest encrypted record of the limit is refused before it is
// decrypted.
func TestCryptoSizeLimit(t *testing.T) {
	db, _, _ := database(t)
	ctx := context.Background()
	name := collection(t, db)
	coll := db.Collection(name)
	exp := bson.NewDateTimeFromTime(time.Now().Add(time.Hour))
	put := func(sid string, rec []byte) {
		t.Helper()
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: sid}, {Key: "session", Value: sealed(t, cryptoSecret, rec)}, {Key: "expires", Value: exp}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, limit := range []int{1000, sessionjson.DefaultMaxBytes} {
		max := limit
		if limit == sessionjson.DefaultMaxBytes {
			max = 0
		}
		st := mongostore.New(db, mongostore.Options{Collection: name, Decoder: sessionjson.Decoder{MaxBytes: max}, Crypto: crypto(cryptoSecret)})
		storetest.SizeLimit(t, st, limit, put)

		// The worst case for the string literal: a record of backslashes
		// and quotes, each escaped.
		head := `{"cookie":{},"p":"`
		n := (limit - len(head) - 2) / 2
		rec := []byte(head + strings.Repeat(`\\`, n) + strings.Repeat("x", limit-len(head)-2-2*n) + `"}`)
		if len(rec) != limit {
			t.Fatalf("premise: record of %d bytes", len(rec))
		}
		id := fmt.Sprint("escaped", limit)
		put(id, rec)
		if _, err := st.Get(ctx, id); err != nil {
			t.Fatalf("limit %d: an escaped record of exactly the limit: %v", limit, err)
		}
	}
	// A stored string over the field limit is refused unread: the error is
	// ErrTooLarge, not ErrNotEncrypted.
	st := mongostore.New(db, mongostore.Options{Collection: name, Decoder: sessionjson.Decoder{MaxBytes: 1000}, Crypto: crypto(cryptoSecret)})
	fieldLimit := kruptein.MaxField(2*1000 + 2)
	for n, want := range map[int]error{fieldLimit: mongostore.ErrNotEncrypted, fieldLimit + 1: sessionjson.ErrTooLarge} {
		id := fmt.Sprint("field", n)
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "session", Value: strings.Repeat("A", n)}, {Key: "expires", Value: exp}}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Get(ctx, id); !errors.Is(err, want) {
			t.Fatalf("a stored string of %d bytes (field limit %d): %v, want %v", n, fieldLimit, err, want)
		}
	}
}
