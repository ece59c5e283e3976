package mongostore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/stores/internal/condtest"
	mongostore "github.com/sessionbridge/sessionbridge/stores/mongo"
)

// document returns the stored document of _id id, or nil.
func document(t testing.TB, coll *mongo.Collection, id string) bson.Raw {
	t.Helper()
	doc, err := coll.FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// sessionField is the stored session field's type and bytes, or "<none>".
func sessionField(t testing.TB, coll *mongo.Collection, id string) string {
	t.Helper()
	doc := document(t, coll, id)
	if doc == nil {
		return "<none>"
	}
	v := doc.Lookup("session")
	return string([]byte{byte(v.Type)}) + string(v.Value)
}

// modes are the option sets every conditional test runs with.
var modes = []struct {
	name string
	opts mongostore.Options
}{
	{"stringify", mongostore.Options{}},
	{"subdocument", mongostore.Options{Subdocument: true}},
	{"subdocument+touchAfter+timestamps", mongostore.Options{Subdocument: true, TouchAfter: time.Hour, Timestamps: true, TransformID: func(s string) string { return "x:" + s }}},
	// With crypto the Tag is the ciphertext, new at every write.
	{"crypto", mongostore.Options{Crypto: &mongostore.CryptoOptions{Secret: "conditional secret"}}},
	{"crypto+subdocument+touchAfter+timestamps", mongostore.Options{Subdocument: true, TouchAfter: time.Hour, Timestamps: true, TransformID: func(s string) string { return "x:" + s }, Crypto: &mongostore.CryptoOptions{Secret: "conditional secret"}}},
}

// TestSetIf: the conditional write succeeds on the document read (and on
// the one it wrote itself), writes what Set writes, and conflicts, changing
// nothing, after another Set, a Destroy, an expiry, a reordering of the
// subdocument's keys, or with an empty, stale or forged Version.
// It runs in every mode because sessionbridgetest's Conditional checks run
// with the default options only (a subdocument does not keep a record byte
// for byte, as the contract requires); its Touch/KeepsData covers a Touch
// after another writer's Set.
func TestSetIf(t *testing.T) {
	db, _, _ := database(t)
	ctx := context.Background()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			opts := m.opts
			opts.Collection = collection(t, db)
			st := mongostore.New(db, opts)
			coll := db.Collection(opts.Collection)
			const sid = "conditional-sid-1"
			id := sid
			if opts.TransformID != nil {
				id = opts.TransformID(sid)
			}
			now := time.Now()
			if err := st.Set(ctx, sid, condtest.NewSession(t, now, time.Hour, "n", 0, "nested", map[string]any{"a": 1, "b": "x"})); err != nil {
				t.Fatal(err)
			}
			s, v := condtest.GetVersion(t, st, sid)
			if v.Tag != sessionField(t, coll, id) {
				t.Fatal("Tag is not the session field stored")
			}
			_ = s.Set("n", 1)
			v2, err := st.SetIf(ctx, sid, s, v)
			if err != nil {
				t.Fatalf("SetIf on the document read: %v", err)
			}
			if got := sessionField(t, coll, id); v2.Tag != got {
				t.Fatal("SetIf's Tag is not the session field it stored")
			}
			// SetIf wrote what Set writes.
			viaSetIf := document(t, coll, id)
			if err := st.Set(ctx, sid, s); err != nil {
				t.Fatal(err)
			}
			viaSet := document(t, coll, id)
			for _, f := range []string{"_id", "session", "expires"} {
				a, b := viaSetIf.Lookup(f), viaSet.Lookup(f)
				if f == "session" && opts.Crypto != nil {
					// Each write encrypts with a fresh salt and IV: compare
					// what they decrypt to.
					if pa, pb := opened(t, opts.Crypto.Secret, a.StringValue()), opened(t, opts.Crypto.Secret, b.StringValue()); pa != pb {
						t.Fatalf("session: SetIf wrote %s, Set %s", pa, pb)
					}
					continue
				}
				if !a.Equal(b) {
					t.Fatalf("%s: SetIf wrote %s, Set %s", f, a, b)
				}
			}
			for _, f := range []string{"lastModified", "updatedAt"} {
				want := bson.Type(0)
				if opts.TouchAfter > 0 {
					want = bson.TypeDateTime
				}
				if f == "updatedAt" && !opts.Timestamps {
					want = 0
				}
				if got := viaSetIf.Lookup(f).Type; got != want {
					t.Fatalf("%s written by SetIf has type %v, want %v", f, got, want)
				}
			}
			if typ := viaSetIf.Lookup("createdAt").Type; opts.Timestamps && typ != bson.TypeDateTime {
				t.Fatal("SetIf lost createdAt")
			}
			if ses, _ := st.Get(ctx, sid); !ses.Has("n") {
				t.Fatal("Get after SetIf")
			}

			// The Version SetIf returns is good for the next SetIf; the one
			// it replaced is not.
			s, v = condtest.GetVersion(t, st, sid)
			_ = s.Set("n", 2)
			v2, err = st.SetIf(ctx, sid, s, v)
			if err != nil {
				t.Fatal(err)
			}
			_ = s.Set("n", 3)
			if _, err := st.SetIf(ctx, sid, s, v2); err != nil {
				t.Fatalf("SetIf with the Version SetIf returned: %v", err)
			}
			_ = s.Set("n", 4)
			before := sessionField(t, coll, id)
			_, err = st.SetIf(ctx, sid, s, v)
			if !errors.Is(err, sessionbridge.ErrConflict) {
				t.Fatalf("SetIf with a stale Version: %v, want ErrConflict", err)
			}
			condtest.NotNamed(t, err, sid)
			if sessionField(t, coll, id) != before {
				t.Fatal("a conflicting SetIf changed the document")
			}

			// Another writer's Set between GetVersion and SetIf.
			s, v = condtest.GetVersion(t, st, sid)
			if err := st.Set(ctx, sid, condtest.NewSession(t, now, time.Hour, "other", true)); err != nil {
				t.Fatal(err)
			}
			_ = s.Set("n", 5)
			if _, err := st.SetIf(ctx, sid, s, v); !errors.Is(err, sessionbridge.ErrConflict) {
				t.Fatalf("SetIf after another Set: %v, want ErrConflict", err)
			}
			if got, _ := st.Get(ctx, sid); !got.Has("other") || got.Has("n") {
				t.Fatal("the other writer's document was overwritten")
			}

			if opts.Subdocument && opts.Crypto == nil {
				// The same fields in another order are another record: JSON
				// keeps key order, and so must the condition.
				_ = s.Set("z", 1)
				if err := st.Set(ctx, sid, s); err != nil {
					t.Fatal(err)
				}
				s, v = condtest.GetVersion(t, st, sid)
				var doc bson.D
				if err := document(t, coll, id).Lookup("session").Unmarshal(&doc); err != nil {
					t.Fatal(err)
				}
				doc[len(doc)-1], doc[len(doc)-2] = doc[len(doc)-2], doc[len(doc)-1]
				if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "session", Value: doc}}}}); err != nil {
					t.Fatal(err)
				}
				before = sessionField(t, coll, id)
				if before == v.Tag {
					t.Fatal("premise: the reordered subdocument is stored as before")
				}
				_ = s.Set("n", 6)
				if _, err := st.SetIf(ctx, sid, s, v); !errors.Is(err, sessionbridge.ErrConflict) {
					t.Fatalf("SetIf after the subdocument's keys were reordered: %v, want ErrConflict", err)
				}
				if sessionField(t, coll, id) != before {
					t.Fatal("a conflicting SetIf changed the reordered document")
				}
			}

			// A document that expired since it was read is gone for the
			// store: SetIf does not bring it back.
			s, v = condtest.GetVersion(t, st, sid)
			past := bson.NewDateTimeFromTime(now.Add(-time.Minute))
			if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "expires", Value: past}}}}); err != nil {
				t.Fatal(err)
			}
			if _, err := st.SetIf(ctx, sid, s, v); !errors.Is(err, sessionbridge.ErrConflict) {
				t.Fatalf("SetIf on an expired document: %v, want ErrConflict", err)
			}
			if _, err := st.Get(ctx, sid); !errors.Is(err, sessionbridge.ErrNotFound) {
				t.Fatalf("SetIf revived an expired document: %v", err)
			}

			// A Destroy between: the session stays gone.
			if err := st.Set(ctx, sid, condtest.NewSession(t, now, time.Hour)); err != nil {
				t.Fatal(err)
			}
			s, v = condtest.GetVersion(t, st, sid)
			if err := st.Destroy(ctx, sid); err != nil {
				t.Fatal(err)
			}
			if _, err := st.SetIf(ctx, sid, s, v); !errors.Is(err, sessionbridge.ErrConflict) {
				t.Fatalf("SetIf after Destroy: %v, want ErrConflict", err)
			}
			if document(t, coll, id) != nil {
				t.Fatal("SetIf recreated a destroyed session")
			}
			// Empty and forged Versions match nothing.
			for _, tag := range []string{"", "\x02", "\x02xyz", "\x03\x05\x00\x00\x00", "\x10\x01\x00\x00\x00", v.Tag[:len(v.Tag)-1]} {
				if _, err := st.SetIf(ctx, sid, s, sessionbridge.Version{Tag: tag}); !errors.Is(err, sessionbridge.ErrConflict) {
					t.Fatalf("SetIf with Tag %q: %v, want ErrConflict", tag, err)
				}
			}
			if document(t, coll, id) != nil {
				t.Fatal("SetIf with a forged Version created the session")
			}
		})
	}
}

// TestSetIfNode: the Version of a document connect-mongo wrote (a JSON
// string, or a subdocument with stringify false) is good for SetIf, its
// Touched is when Node's request set the cookie, and a
// write by the Node app between Go's GetVersion and SetIf is a conflict;
// re-read and re-applied, Go's change and Node's both survive, and Node
// reads Go's write.
func TestSetIfNode(t *testing.T) {
	db, url, _ := database(t)
	ctx := context.Background()
	for _, mode := range []struct {
		stringify bool
		secret    string
	}{{true, ""}, {false, ""}, {true, "Node crypto secret"}, {false, "Node crypto secret"}} {
		stringify := mode.stringify
		t.Run(fmt.Sprintf("stringify=%v,crypto=%v", stringify, mode.secret != ""), func(t *testing.T) {
			name := collection(t, db)
			opts := mongostore.Options{Collection: name, Subdocument: !stringify}
			if mode.secret != "" {
				opts.Crypto = &mongostore.CryptoOptions{Secret: mode.secret}
			}
			st := mongostore.New(db, opts)
			a := appCrypto(t, url, name, stringify, mode.secret)
			before := time.Now().Truncate(time.Millisecond)
			cookie := a.Login("alice", "secret")
			after := time.Now()
			sid := condtest.SessionID(t, cookie)

			s, v := condtest.GetVersion(t, st, sid)
			if v.Tag != sessionField(t, db.Collection(name), sid) {
				t.Fatal("Tag is not the session field connect-mongo stored")
			}
			if v.Touched.Before(before) || v.Touched.After(after) {
				t.Fatalf("Touched of Node's document %v, want within [%v, %v]", v.Touched, before, after)
			}
			_ = s.Set("fromGo", 1)
			if _, err := st.SetIf(ctx, sid, s, v); err != nil {
				t.Fatalf("SetIf on the document Node wrote: %v", err)
			}
			if me := a.Me(cookie); !me.LoggedIn || !strings.Contains(string(me.Session), `"fromGo":1`) {
				t.Fatalf("Node after Go's SetIf: %+v", me)
			}

			s, v = condtest.GetVersion(t, st, sid)
			a.SetData(cookie, map[string]any{"fromNode": 2})
			_ = s.Set("fromGo", 3)
			_, err := st.SetIf(ctx, sid, s, v)
			if !errors.Is(err, sessionbridge.ErrConflict) {
				t.Fatalf("SetIf after Node's write: %v, want ErrConflict", err)
			}
			condtest.NotNamed(t, err, sid)
			if got, err := st.Get(ctx, sid); err != nil || !got.Has("fromNode") {
				t.Fatalf("Node's write was overwritten (%v)", err)
			}
			s, v = condtest.GetVersion(t, st, sid)
			_ = s.Set("fromGo", 3)
			if _, err := st.SetIf(ctx, sid, s, v); err != nil {
				t.Fatalf("SetIf after re-reading: %v", err)
			}
			me := a.Me(cookie)
			if !me.LoggedIn || !strings.Contains(string(me.Session), `"fromGo":3`) || !strings.Contains(string(me.Session), `"fromNode":2`) {
				t.Fatalf("Node sees %s", me.Session)
			}
		})
	}
}

// TestTouched: Version.Touched is when expires was last set: by Set, SetIf
// or Touch, for a cookie with expires and for a browser-session cookie
// (TTL). TestSetIfNode checks it on a document Node wrote.
func TestTouched(t *testing.T) {
	db, _, _ := database(t)
	ctx := context.Background()
	t0 := time.Now().Truncate(time.Millisecond)
	for _, m := range modes {
		opts := m.opts
		opts.Collection = collection(t, db)
		opts.TTL = 3 * time.Hour
		at := func(d time.Duration) *mongostore.Store {
			o := opts
			o.Now = func() time.Time { return t0.Add(d) }
			return mongostore.New(db, o)
		}
		// Lifetimes of 3 hours, so that the touches below, after
		// TouchAfter (an hour), leave the session alive.
		s := condtest.NewSession(t, t0, 3*time.Hour)
		if err := at(0).Set(ctx, "a", s); err != nil {
			t.Fatal(err)
		}
		if err := at(0).Set(ctx, "browser", condtest.NewSession(t, t0, 0)); err != nil {
			t.Fatal(err)
		}
		later := at(10 * time.Minute)
		if _, v := condtest.GetVersion(t, later, "a"); !v.Touched.Equal(t0) {
			t.Fatalf("%s: Touched after Set %v, want %v", m.name, v.Touched, t0)
		}
		if _, v := condtest.GetVersion(t, later, "browser"); !v.Touched.Equal(t0) {
			t.Fatalf("%s: browser-session Touched after Set %v, want %v", m.name, v.Touched, t0)
		}
		// Touch moves expires, not the stored cookie: Touched follows
		// expires.
		got, _ := condtest.GetVersion(t, later, "a")
		got.Touch(t0.Add(70 * time.Minute))
		if err := at(70*time.Minute).Touch(ctx, "a", got); err != nil { // past TouchAfter
			t.Fatal(err)
		}
		got, v := condtest.GetVersion(t, at(75*time.Minute), "a")
		if !v.Touched.Equal(t0.Add(70 * time.Minute)) {
			t.Fatalf("%s: Touched after Touch %v, want %v", m.name, v.Touched, t0.Add(70*time.Minute))
		}
		got.Touch(t0.Add(75 * time.Minute))
		v2, err := at(75*time.Minute).SetIf(ctx, "a", got, v)
		if err != nil || !v2.Touched.Equal(t0.Add(75*time.Minute)) {
			t.Fatalf("%s: SetIf returned Touched %v (%v)", m.name, v2.Touched, err)
		}
		if _, v := condtest.GetVersion(t, at(80*time.Minute), "a"); !v.Touched.Equal(v2.Touched) {
			t.Fatalf("%s: Touched after SetIf %v, want %v", m.name, v.Touched, v2.Touched)
		}
		// A clock behind the writer's never gets a Touched in its future.
		if _, v := condtest.GetVersion(t, at(74*time.Minute), "a"); v.Touched.After(t0.Add(74 * time.Minute)) {
			t.Fatalf("%s: Touched %v is after the reader's now", m.name, v.Touched)
		}
	}
}
