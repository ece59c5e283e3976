package mongodbsessionstore_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/bsonjson"
	mongodbsessionstore "github.com/sessionbridge/sessionbridge/stores/mongodbsession"
)

// TestNewOptions: field paths the store cannot use are refused at New.
func TestNewOptions(t *testing.T) {
	srv := connect(t)
	for _, o := range []mongodbsessionstore.Options{
		{IDField: "$id"}, {IDField: "a..b"}, {IDField: ".a"}, {IDField: "a."}, {IDField: "session"}, {IDField: "session.id"},
		{ExpiresKey: "session"}, {ExpiresKey: "x.$y"}, {IDField: "expires"}, {IDField: "e", ExpiresKey: "e.at"}, {IDField: "a\x00"},
	} {
		if _, err := mongodbsessionstore.New(srv.db, o); !errors.Is(err, mongodbsessionstore.ErrOption) {
			t.Errorf("IDField %q ExpiresKey %q: %v, want ErrOption", o.IDField, o.ExpiresKey, err)
		}
	}
	for _, o := range []mongodbsessionstore.Options{{}, {IDField: "meta.sid", ExpiresKey: "meta.expires"}, {IDField: "sessionId"}} {
		if _, err := mongodbsessionstore.New(srv.db, o); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

// TestDocumentLayout: the document's fields and expiry, with a fixed clock:
// cookie.expires, or now + Expires for a browser-session cookie; Touch
// moves the expiry alone; Version.Touched is the expiry minus the
// lifetime.
func TestDocumentLayout(t *testing.T) {
	srv := connect(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 10, 0, 0, 123e6, time.UTC)
	opts := mongodbsessionstore.Options{Collection: collection(t, srv.db), Expires: 3 * time.Hour, Now: func() time.Time { return now }}
	st := newStore(t, srv.db, opts)
	coll := srv.db.Collection(opts.Collection)
	s := sessionjson.New(sessionjson.NewCookie(now, time.Hour))
	_ = s.Set("passport", map[string]any{"user": 7})
	if err := st.Set(ctx, "sid1", s); err != nil {
		t.Fatal(err)
	}
	doc := rawDoc(t, coll, "_id", "sid1")
	elems, _ := doc.Elements()
	var keys []string
	for _, e := range elems {
		keys = append(keys, e.Key())
	}
	// MongoDB (5.0 and later) and FerretDB add the fields an update sets in
	// the order of their names, whatever the order of $set.
	slices.Sort(keys)
	if strings.Join(keys, ",") != "_id,expires,session" {
		t.Fatalf("fields %v", keys)
	}
	if ms := doc.Lookup("expires").DateTime(); ms != now.Add(time.Hour).UnixMilli() {
		t.Fatalf("expires %d", ms)
	}
	if got := bsonView(t, doc); got != `{"cookie":{"originalMaxAge":3600000,"expires":"2026-11-27T11:00:00.123Z","httpOnly":true,"path":"/"},"passport":{"user":7}}` {
		t.Fatalf("session %s", got)
	}
	_, v, err := st.GetVersion(ctx, "sid1")
	if err != nil || !v.Touched.Equal(now) {
		t.Fatalf("Touched %v (%v), want %v", v.Touched, err, now)
	}
	browser := sessionjson.New(sessionjson.NewCookie(now, 0))
	_ = st.Set(ctx, "sid2", browser)
	if ms := rawDoc(t, coll, "_id", "sid2").Lookup("expires").DateTime(); ms != now.Add(3*time.Hour).UnixMilli() {
		t.Fatalf("browser-session expires %v, want now + Expires", time.UnixMilli(ms))
	}
	session := rawDoc(t, coll, "_id", "sid1").Lookup("session")
	s.Touch(now.Add(time.Minute))
	if err := st.Touch(ctx, "sid1", s); err != nil {
		t.Fatal(err)
	}
	doc = rawDoc(t, coll, "_id", "sid1")
	if !doc.Lookup("session").Equal(session) || doc.Lookup("expires").DateTime() != now.Add(time.Hour+time.Minute).UnixMilli() {
		t.Fatalf("touch: %v", doc)
	}
	// A cookie.expires beyond the JavaScript Date range is saturated.
	far := time.Date(300_000_000, 1, 1, 0, 0, 0, 0, time.UTC)
	s.Cookie.Expires = &far
	if err := st.Touch(ctx, "sid1", s); err != nil {
		t.Fatal(err)
	}
	if ms := rawDoc(t, coll, "_id", "sid1").Lookup("expires").DateTime(); ms != 8.64e15 {
		t.Fatalf("far expiry %d, want the end of the JavaScript Date range", ms)
	}
}

func bsonView(t *testing.T, doc bson.Raw) string {
	t.Helper()
	b, err := bsonjson.AppendJSON(nil, doc.Lookup("session"), -1)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestExpiry: an expired document is not served and is deleted by Get, as
// Node's get destroys it; Prune deletes the expired ones; a document with
// no expiry or a null one never expires; another type counts as expired.
func TestExpiry(t *testing.T) {
	srv := connect(t)
	ctx := context.Background()
	now := time.Now()
	opts := mongodbsessionstore.Options{Collection: collection(t, srv.db)}
	st := newStore(t, srv.db, opts)
	coll := srv.db.Collection(opts.Collection)
	s := sessionjson.New(sessionjson.NewCookie(now, time.Hour))
	for _, sid := range []string{"a", "b", "c"} {
		if err := st.Set(ctx, sid, s); err != nil {
			t.Fatal(err)
		}
	}
	opts.Now = func() time.Time { return now.Add(2 * time.Hour) }
	later := newStore(t, srv.db, opts)
	if _, err := later.Get(ctx, "a"); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("expired: %v", err)
	}
	if rawDoc(t, coll, "_id", "a") != nil {
		t.Fatal("Get left the expired document")
	}
	if _, _, err := later.GetVersion(ctx, "b"); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("GetVersion of an expired session: %v", err)
	}
	if n, err := later.Prune(ctx); err != nil || n != 1 {
		t.Fatalf("Prune = %d %v, want 1 (c)", n, err)
	}
	session, _ := bsonjson.AppendObject(nil, []byte(`{"cookie":{"path":"/"}}`), bson.RawValue{})
	for sid, exp := range map[string]any{"none": nil, "null": bson.Null{}, "string": "2099-01-01T00:00:00.000Z", "number": 4e15} {
		d := bson.D{{Key: "_id", Value: sid}, {Key: "session", Value: bson.Raw(session)}}
		if exp != nil {
			d = append(d, bson.E{Key: "expires", Value: exp})
		}
		if _, err := coll.InsertOne(ctx, d); err != nil {
			t.Fatal(err)
		}
		_, err := later.Get(ctx, sid)
		if live := sid == "none" || sid == "null"; live != (err == nil) {
			t.Errorf("expiry %s: %v", sid, err)
		}
	}
}

// TestBadDocuments: session fields that are not a document Node can read
// are refused as malformed, and left where they are.
func TestBadDocuments(t *testing.T) {
	srv := connect(t)
	ctx := context.Background()
	opts := mongodbsessionstore.Options{Collection: collection(t, srv.db)}
	st := newStore(t, srv.db, opts)
	coll := srv.db.Collection(opts.Collection)
	future := bson.NewDateTimeFromTime(time.Now().Add(time.Hour))
	cases := map[string]struct {
		session any
		want    error
	}{
		"string":  {`{"cookie":{}}`, mongodbsessionstore.ErrWrongType},
		"int":     {42, mongodbsessionstore.ErrWrongType},
		"array":   {bson.A{1}, mongodbsessionstore.ErrWrongType},
		"missing": {nil, mongodbsessionstore.ErrWrongType},
		"cookie":  {bson.D{{Key: "a", Value: 1}}, sessionjson.ErrNoCookie},
	}
	if !srv.ferret { // FerretDB closes the connection on JavaScript code
		cases["code"] = struct {
			session any
			want    error
		}{bson.D{{Key: "cookie", Value: bson.D{}}, {Key: "f", Value: bson.JavaScript("x")}}, mongodbsessionstore.ErrWrongType}
	}
	for name, d := range cases {
		id := "bad-id-" + name
		doc := bson.D{{Key: "_id", Value: id}, {Key: "expires", Value: future}}
		if d.session != nil {
			doc = append(doc, bson.E{Key: "session", Value: d.session})
		}
		if _, err := coll.InsertOne(ctx, doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_, err := st.Get(ctx, id)
		if !errors.Is(err, d.want) || !errors.Is(err, sessionjson.ErrMalformed) || strings.Contains(err.Error(), id) {
			t.Errorf("%s: %v, want %v", name, err, d.want)
		}
	}
	if n, _ := coll.CountDocuments(ctx, bson.D{}); n != int64(len(cases)) {
		t.Fatalf("bad documents were removed: %d left", n)
	}
}

// TestUnstorable: a key with a NUL byte, which BSON cannot hold (Node's
// driver throws on it), is refused and nothing is written.
func TestUnstorable(t *testing.T) {
	srv := connect(t)
	ctx := context.Background()
	opts := mongodbsessionstore.Options{Collection: collection(t, srv.db)}
	st := newStore(t, srv.db, opts)
	s := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
	_ = s.Set("flash", map[string]any{"a\x00b": 1})
	if err := st.Set(ctx, "nul", s); !errors.Is(err, mongodbsessionstore.ErrUnstorable) {
		t.Fatalf("Set: %v, want ErrUnstorable", err)
	}
	if rawDoc(t, srv.db.Collection(opts.Collection), "_id", "nul") != nil {
		t.Fatal("a document was written")
	}
}

// TestSetIf: the conditional write conflicts after another writer's Set,
// after the session expired, and with a forged Version; it does not after
// a Touch (which moves the expiry alone); the Version it returns works for
// the next one.
func TestSetIf(t *testing.T) {
	srv := connect(t)
	ctx := context.Background()
	now := time.Now()
	clock := now
	opts := mongodbsessionstore.Options{Collection: collection(t, srv.db), IDField: "sid", Now: func() time.Time { return clock }}
	st := newStore(t, srv.db, opts)
	coll := srv.db.Collection(opts.Collection)
	s := sessionjson.New(sessionjson.NewCookie(now, time.Hour))
	_ = s.Set("n", 0)
	if err := st.Set(ctx, "x", s); err != nil {
		t.Fatal(err)
	}
	g, v, err := st.GetVersion(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Touch(ctx, "x", g); err != nil {
		t.Fatal(err)
	}
	_ = g.Set("n", 1)
	v2, err := st.SetIf(ctx, "x", g, v)
	if err != nil {
		t.Fatalf("SetIf after a Touch: %v", err)
	}
	if string(rawDoc(t, coll, "sid", "x").Lookup("session").Value) != v2.Tag {
		t.Fatal("the Tag SetIf returned is not the session it wrote")
	}
	_ = g.Set("n", 2)
	if _, err := st.SetIf(ctx, "x", g, v2); err != nil {
		t.Fatalf("SetIf with the Version SetIf returned: %v", err)
	}
	other, _ := st.Get(ctx, "x")
	_ = other.Set("n", 3)
	if err := st.Set(ctx, "x", other); err != nil {
		t.Fatal(err)
	}
	for name, ver := range map[string]sessionbridge.Version{"stale": v2, "forged": {Tag: "garbage"}, "empty": {}} {
		before := rawDoc(t, coll, "sid", "x").Lookup("session")
		if _, err := st.SetIf(ctx, "x", g, ver); !errors.Is(err, sessionbridge.ErrConflict) {
			t.Fatalf("%s Version: %v, want ErrConflict", name, err)
		}
		if !rawDoc(t, coll, "sid", "x").Lookup("session").Equal(before) {
			t.Fatalf("%s Version: the conflicting SetIf wrote", name)
		}
	}
	_, v3, _ := st.GetVersion(ctx, "x")
	clock = now.Add(2 * time.Hour)
	if _, err := st.SetIf(ctx, "x", g, v3); !errors.Is(err, sessionbridge.ErrConflict) {
		t.Fatalf("SetIf on an expired session: %v, want ErrConflict", err)
	}
	if n, _ := coll.CountDocuments(ctx, bson.D{}); n != 1 {
		t.Fatalf("%d documents, want 1 (with idField sid, nothing but the filter keeps ids unique)", n)
	}
}

// TestSizeLimit: sessions whose JSON is exactly the Decoder's limit and one
// byte over it, written as Node's driver writes them; and a session of 12
// MiB, refused without being converted whole.
func TestSizeLimit(t *testing.T) {
	srv := connect(t)
	ctx := context.Background()
	opts := mongodbsessionstore.Options{Collection: collection(t, srv.db)}
	coll := srv.db.Collection(opts.Collection)
	exp := bson.NewDateTimeFromTime(time.Now().Add(time.Hour))
	dateHint, _ := bson.Marshal(bson.D{{Key: "cookie", Value: bson.D{{Key: "expires", Value: bson.DateTime(0)}}}})
	put := func(sid string, rec []byte) {
		session, err := bsonjson.AppendObject(nil, rec, bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: dateHint})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: sid}, {Key: "session", Value: bson.Raw(session)}, {Key: "expires", Value: exp}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, limit := range []int{1000, sessionjson.DefaultMaxBytes} {
		o := opts
		if limit != sessionjson.DefaultMaxBytes {
			o.Decoder = sessionjson.Decoder{MaxBytes: limit}
		}
		storetest.SizeLimit(t, newStore(t, srv.db, o), limit, put)
	}
	const huge = 12 << 20
	put("huge", storetest.Record(huge, time.Now().Add(time.Hour)))
	var err error
	limited := storetest.Allocated(func() { _, err = newStore(t, srv.db, opts).Get(ctx, "huge") })
	if !errors.Is(err, sessionjson.ErrTooLarge) {
		t.Fatalf("12 MiB session: %v, want ErrTooLarge", err)
	}
	o := opts
	o.Decoder = sessionjson.Decoder{MaxBytes: -1}
	unlimited := storetest.Allocated(func() { _, err = newStore(t, srv.db, o).Get(ctx, "huge") })
	if err != nil {
		t.Fatal(err)
	}
	if unlimited < limited+huge {
		t.Fatalf("refusing the 12 MiB session allocated %d bytes, reading it %d: the refusal must not convert it", limited, unlimited)
	}
	t.Logf("12 MiB session refused after allocating %d bytes (reading it whole: %d)", limited, unlimited)
}
