package mongostore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	"github.com/sessionbridge/sessionbridge/sessionbridgetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	mongostore "github.com/sessionbridge/sessionbridge/stores/mongo"
)

const dbName = "sessionbridge_test"

func database(t testing.TB) (*mongo.Database, string, bool) {
	t.Helper()
	url, ferret := services.MongoURL(t)
	c, err := mongo.Connect(options.Client().ApplyURI(url).SetTimeout(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	if err := c.Ping(context.Background(), nil); err != nil {
		nodetest.Unavailable(t, "MongoDB at "+url+" ("+err.Error()+")", "make services")
	}
	return c.Database(dbName), url, ferret
}

// collection returns a fresh collection name, dropped after the test.
func collection(t testing.TB, db *mongo.Database) string {
	name := fmt.Sprintf("s_%d", rand.Uint64()%1e12)
	t.Cleanup(func() { _ = db.Collection(name).Drop(context.Background()) })
	return name
}

func TestContract(t *testing.T) {
	db, _, ferret := database(t)
	name := collection(t, db)
	sessionbridgetest.TestStore(t, func(*testing.T) sessionbridge.Store {
		return mongostore.New(db, mongostore.Options{Collection: name})
	}, sessionbridgetest.Options{
		// FerretDB 1.x reads the matching document and writes it back
		// without excluding a concurrent update; MongoDB does not.
		SetIfNotAtomic: ferret,
	})
}

// TestSubdocumentRoundTrip: with stringify false, Go writes what the Node
// driver writes (all cookie keys, null where unset, expires a Date, int64
// integers exact) and reads it back as Node's JSON view.
func TestSubdocumentRoundTrip(t *testing.T) {
	db, _, _ := database(t)
	ctx := context.Background()
	name := collection(t, db)
	st := mongostore.New(db, mongostore.Options{Collection: name, Subdocument: true, TransformID: func(s string) string { return "x:" + s }})
	now := time.Now()
	s := sessionjson.New(sessionjson.NewCookie(now, time.Hour))
	_ = s.Set("passport", map[string]any{"user": int64(9007199254740993)})
	_ = s.Set("note", "é😀\u2028<&>")
	_ = s.Set("list", []any{1, 2.5, "x", nil, map[string]any{"b": true}})
	if err := st.Set(ctx, "sid", s); err != nil {
		t.Fatal(err)
	}
	doc, err := db.Collection(name).FindOne(ctx, bson.D{{Key: "_id", Value: "x:sid"}}).Raw()
	if err != nil {
		t.Fatalf("transformed _id: %v", err)
	}
	if typ := doc.Lookup("session", "cookie", "expires").Type; typ != bson.TypeDateTime {
		t.Fatalf("cookie.expires stored as %s", typ)
	}
	if typ := doc.Lookup("session", "cookie", "domain").Type; typ != bson.TypeNull {
		t.Fatalf("unset cookie.domain stored as %s, want null like the Node driver", typ)
	}
	got, err := st.Get(ctx, "sid")
	if err != nil {
		t.Fatal(err)
	}
	out, _ := got.Encode()
	want := `"passport":{"user":9007199254740993},"note":"é😀` + "\u2028" + `<&>","list":[1,2.5,"x",null,{"b":true}]}`
	if !strings.HasSuffix(string(out), want) || !strings.Contains(string(out), `"domain":null`) {
		t.Fatalf("round trip:\n got %s\nwant ...%s", out, want)
	}
	got.Touch(now.Add(time.Minute))
	if err := st.Touch(ctx, "sid", got); err != nil {
		t.Fatal(err)
	}
	if err := st.Destroy(ctx, "sid"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "sid"); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatal(err)
	}
}

func TestDocumentLayout(t *testing.T) {
	db, _, _ := database(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 10, 0, 0, 123e6, time.UTC)
	name := collection(t, db)
	st := mongostore.New(db, mongostore.Options{Collection: name, Now: func() time.Time { return now }})
	s := sessionjson.New(sessionjson.NewCookie(now, time.Hour))
	_ = s.Set("passport", map[string]any{"user": 7})
	if err := st.Set(ctx, "sid1", s); err != nil {
		t.Fatal(err)
	}
	var doc bson.M
	if err := db.Collection(name).FindOne(ctx, bson.D{{Key: "_id", Value: "sid1"}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	rec, _ := s.Encode()
	if doc["session"] != string(rec) {
		t.Fatalf("session field %v, want the JSON string", doc["session"])
	}
	if exp := doc["expires"].(bson.DateTime).Time(); !exp.Equal(now.Add(time.Hour)) {
		t.Fatalf("expires %v", exp)
	}
	browser := sessionjson.New(sessionjson.NewCookie(now, 0))
	_ = st.Set(ctx, "sid2", browser)
	_ = db.Collection(name).FindOne(ctx, bson.D{{Key: "_id", Value: "sid2"}}).Decode(&doc)
	if exp := doc["expires"].(bson.DateTime).Time(); !exp.Equal(now.Add(14 * 24 * time.Hour)) {
		t.Fatalf("browser-session expires %v, want now + 14 days", exp)
	}
	// Touch sets expires only.
	s.Touch(now.Add(time.Minute))
	if err := st.Touch(ctx, "sid1", s); err != nil {
		t.Fatal(err)
	}
	_ = db.Collection(name).FindOne(ctx, bson.D{{Key: "_id", Value: "sid1"}}).Decode(&doc)
	if doc["session"] != string(rec) || !doc["expires"].(bson.DateTime).Time().Equal(now.Add(time.Hour+time.Minute)) {
		t.Fatalf("touch: %v", doc)
	}
	// An expired document is not returned, and Prune deletes it.
	later := mongostore.New(db, mongostore.Options{Collection: name, Now: func() time.Time { return now.Add(2 * time.Hour) }})
	if _, err := later.Get(ctx, "sid1"); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("expired document: %v", err)
	}
	if n, err := later.Prune(ctx); err != nil || n != 1 {
		t.Fatalf("Prune = %d %v", n, err)
	}
	// A document without expires never expires (connect-mongo's $exists:false).
	_, _ = db.Collection(name).InsertOne(ctx, bson.D{{Key: "_id", Value: "noexp"}, {Key: "session", Value: string(rec)}})
	if _, err := later.Get(ctx, "noexp"); err != nil {
		t.Fatalf("document without expires: %v", err)
	}
}

func TestBadDocuments(t *testing.T) {
	db, _, _ := database(t)
	ctx := context.Background()
	name := collection(t, db)
	st := mongostore.New(db, mongostore.Options{Collection: name})
	future := bson.NewDateTimeFromTime(time.Now().Add(time.Hour))
	docs := map[string]struct {
		session any
		want    error
	}{
		"int":       {42, mongostore.ErrWrongType},
		"bool":      {true, mongostore.ErrWrongType},
		"array":     {bson.A{1}, mongostore.ErrWrongType},
		"bad json":  {"{not json", sessionjson.ErrInvalidJSON},
		"no cookie": {bson.D{{Key: "a", Value: 1}}, sessionjson.ErrNoCookie},
		"missing":   {nil, mongostore.ErrWrongType},
	}
	for id, d := range docs {
		doc := bson.D{{Key: "_id", Value: id}, {Key: "expires", Value: future}}
		if d.session != nil {
			doc = append(doc, bson.E{Key: "session", Value: d.session})
		}
		if _, err := db.Collection(name).InsertOne(ctx, doc); err != nil {
			t.Fatal(err)
		}
		_, err := st.Get(ctx, id)
		if !errors.Is(err, d.want) || !errors.Is(err, sessionjson.ErrMalformed) {
			t.Errorf("%s: %v, want %v", id, err, d.want)
		}
	}
	if n, _ := db.Collection(name).CountDocuments(ctx, bson.D{}); n != int64(len(docs)) {
		t.Fatalf("bad documents were removed: %d left", n)
	}
}

func TestTTLIndex(t *testing.T) {
	db, _, ferret := database(t)
	st := mongostore.New(db, mongostore.Options{Collection: collection(t, db)})
	err := st.CreateTTLIndex(context.Background())
	if ferret {
		if !errors.Is(err, mongostore.ErrTTLIndexUnsupported) {
			t.Fatalf("FerretDB: %v, want ErrTTLIndexUnsupported", err)
		}
		t.Logf("FerretDB refuses TTL indexes, reported as: %v", err)
		return
	}
	if err != nil {
		t.Fatalf("real mongod: %v", err)
	}
}

func TestTouchAfter(t *testing.T) {
	db, _, _ := database(t)
	ctx := context.Background()
	name := collection(t, db)
	now := time.Now().Truncate(time.Millisecond)
	st := mongostore.New(db, mongostore.Options{Collection: name, TouchAfter: time.Hour, Now: func() time.Time { return now }})
	s := sessionjson.New(sessionjson.NewCookie(now, 2*time.Hour))
	if err := st.Set(ctx, "a", s); err != nil {
		t.Fatal(err)
	}
	got, err := st.Get(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	var lm string
	if err := got.Get("lastModified", &lm); err != nil || lm != now.UTC().Format(sessionjson.ExpiresLayout) {
		t.Fatalf("lastModified %q %v", lm, err)
	}
	got.Touch(now.Add(time.Minute))
	if err := st.Touch(ctx, "a", got); err != nil {
		t.Fatal(err)
	}
	var doc struct{ Expires bson.DateTime }
	_ = db.Collection(name).FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&doc)
	if !doc.Expires.Time().Equal(now.Add(2 * time.Hour)) {
		t.Fatal("touch within touchAfter must not write")
	}
	if err := st.Set(ctx, "a", got); err != nil {
		t.Fatal(err)
	}
	var stored struct{ Session string }
	_ = db.Collection(name).FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&stored)
	if strings.Contains(stored.Session, "lastModified") {
		t.Fatalf("lastModified stored inside the session: %s", stored.Session)
	}
}

func app(t *testing.T, url, coll string, stringify bool) *nodetest.App {
	return appCrypto(t, url, coll, stringify, "")
}

// appCrypto is app with connect-mongo's crypto: {secret} when secret is
// not empty.
func appCrypto(t *testing.T, url, coll string, stringify bool, secret string) *nodetest.App {
	env := map[string]string{"STORE": "mongo", "MONGO_URL": strings.TrimSuffix(url, "/") + "/" + dbName, "MONGO_COLLECTION": coll, "MONGO_AUTOREMOVE": "interval"}
	if !stringify {
		env["MONGO_STRINGIFY"] = "0"
	}
	if secret != "" {
		env["MONGO_CRYPTO_SECRET"] = secret
	}
	return nodetest.StartApp(t, env)
}

func TestNodeBothWays(t *testing.T) {
	db, url, ferret := database(t)
	name := collection(t, db)
	st := mongostore.New(db, mongostore.Options{Collection: name})
	a := app(t, url, name, true)
	b, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: st, Cookie: sessionbridge.CookieOptions{MaxAge: time.Hour}})
	raw := func(sid string) []byte {
		var d struct{ Session string }
		if err := db.Collection(name).FindOne(context.Background(), bson.D{{Key: "_id", Value: sid}}).Decode(&d); err != nil {
			return nil
		}
		return []byte(d.Session)
	}
	peer := storetest.Peer{App: a, Bridge: b, Raw: raw}
	peer.BothWays(t)
	if ferret {
		// FerretDB v1 applies concurrent $set updates of different fields
		// non-atomically (a probe setting n=1..200 while another client sets
		// expires ends with n < 200), so a touch racing Node's write can lose
		// it there, for connect-mongo's own touch as much as for Go's.
		// MongoDB's single-document updates are atomic: run with
		// MONGODB_URI to check the race against a real mongod.
		t.Log("touch race not checked on FerretDB (non-atomic concurrent updates); set MONGODB_URI for a real mongod")
		return
	}
	peer.TouchRace(t)
}

// TestNodeBothWaysSubdocument runs connect-mongo with stringify false: the
// session is a subdocument with a BSON Date; Go's view of it must be the
// JSON Node's JSON.stringify(req.session) gives.
func TestNodeBothWaysSubdocument(t *testing.T) {
	db, url, _ := database(t)
	name := collection(t, db)
	st := mongostore.New(db, mongostore.Options{Collection: name, Subdocument: true})
	a := app(t, url, name, false)
	b, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: st, Cookie: sessionbridge.CookieOptions{MaxAge: time.Hour}})
	storetest.Peer{App: a, Bridge: b, Raw: func(string) []byte { return nil }}.BothWays(t)

	cookie := a.Login("alice", "secret")
	a.SetData(cookie, map[string]any{"n": 1.5, "big": 1700000000000, "s": "é\u2028"})
	st2, body, _ := a.Do("GET", "/raw", cookie, nil)
	if st2 != 200 {
		t.Fatalf("/raw %d", st2)
	}
	var nodeView struct{ Record string }
	if err := jsonUnmarshal(body, &nodeView); err != nil {
		t.Fatal(err)
	}
	sid := strings.SplitN(strings.TrimPrefix(cookie, "s%3A"), ".", 2)[0]
	gs, err := st.Get(context.Background(), sid)
	if err != nil {
		t.Fatal(err)
	}
	goView, _ := gs.Encode()
	if string(goView) != nodeView.Record {
		t.Fatalf("Go's view of the subdocument differs from Node's:\n  go %s\nnode %s", goView, nodeView.Record)
	}
	var doc bson.Raw
	doc, _ = db.Collection(name).FindOne(context.Background(), bson.D{{Key: "_id", Value: sid}}).Raw()
	if typ := doc.Lookup("session", "cookie", "expires").Type; typ != bson.TypeDateTime {
		t.Fatalf("cookie.expires stored as %s", typ)
	}
	t.Logf("stringify false: Go reads %s", goView)
}
