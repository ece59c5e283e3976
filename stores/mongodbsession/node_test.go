package mongodbsessionstore_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/nodemongotest"
	mongodbsessionstore "github.com/sessionbridge/sessionbridge/stores/mongodbsession"
)

// optionSets are the option sets the both-way tests run with: the
// defaults, and every option changed.
var optionSets = []struct {
	name string
	opts mongodbsessionstore.Options
}{
	{"defaults", mongodbsessionstore.Options{}},
	{"idField+expiresKey+expires", mongodbsessionstore.Options{IDField: "sid", ExpiresKey: "expireAt", Expires: 2 * time.Hour}},
}

// nodeRecord is a session Node stores, with JavaScript values JSON cannot
// carry added by nodeJS.
func nodeRecord(exp time.Time) string {
	return `{"cookie":` + cookieJSON(exp) + `,"passport":{"user":7},"n":1.5,"big":2592000000,"i":42,"neg":-7,` +
		`"huge":9007199254740993,"nz":-0,"s":"é😀` + "\u2028" + `<&>","arr":[1,"x",null,{"b":true}],"o":{"b":1,"2":2}}`
}

const nodeJS = `s.when = new Date(1700000000123); s.z = -0; s.arr.push(new Date(0)); s.nested = {at: new Date(-1), n: 2**31}`

// nanJS adds NaN, which FerretDB refuses to store (it closes the
// connection), as it refuses the infinities.
const nanJS = `; s.nan = NaN`

// wantTypes are the BSON types of nodeRecord's values after Node's set.
var wantTypes = map[string]bson.Type{
	"session.cookie.originalMaxAge": bson.TypeInt32, "session.cookie.expires": bson.TypeDateTime, "session.cookie.domain": bson.TypeNull,
	"session.passport.user": bson.TypeInt32, "session.n": bson.TypeDouble, "session.big": bson.TypeDouble, "session.i": bson.TypeInt32,
	"session.neg": bson.TypeInt32, "session.huge": bson.TypeDouble, "session.nz": bson.TypeDouble, "session.s": bson.TypeString,
	"session.arr.0": bson.TypeInt32, "session.arr.2": bson.TypeNull, "session.arr.3.b": bson.TypeBoolean, "session.arr.4": bson.TypeDateTime,
	"session.o.2": bson.TypeInt32, "session.when": bson.TypeDateTime, "session.z": bson.TypeDouble, "session.nested.at": bson.TypeDateTime,
	"session.nested.n": bson.TypeDouble,
}

func checkTypes(t *testing.T, doc bson.Raw, want map[string]bson.Type, who string) {
	t.Helper()
	for path, typ := range want {
		if got := typeAt(doc, path); got != typ {
			t.Errorf("after %s: %s is %v, want %v", who, path, got, typ)
		}
	}
}

// negZero reports whether the double at path is -0.
func negZero(doc bson.Raw, path string) bool {
	f, ok := doc.Lookup(strings.Split(path, ".")...).DoubleOK()
	return ok && f == 0 && math.Signbit(f)
}

// TestNodeWritesGoReads: Node's MongoDBStore stores a session with numbers
// of every class, Dates in and out of the cookie, -0 and NaN; the BSON
// types are the driver's; Go's view is Node's JSON.stringify(req.session)
// byte for byte; Go changes it with SetIf and with Set, every other value
// keeps its BSON type, and Node reads back every JavaScript value as it
// wrote it.
func TestNodeWritesGoReads(t *testing.T) {
	srv := connect(t)
	ctx := context.Background()
	for _, o := range optionSets {
		t.Run(o.name, func(t *testing.T) {
			f := srv.open(t, o.opts)
			st, node, coll, idField, expKey := f.st, f.node, f.coll, f.idField, f.expKey
			exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)

			js, types := nodeJS, wantTypes
			if !srv.ferret {
				js += nanJS
				types = maps.Clone(wantTypes)
				types["session.nan"] = bson.TypeDouble
			}
			nodeSet(t, node, "n1", nodeRecord(exp), js)
			raw := rawDoc(t, coll, idField, "n1")
			checkTypes(t, raw, types, "Node's set")
			if ms, ok := raw.Lookup(expKey).DateTimeOK(); !ok || ms != exp.UnixMilli() {
				t.Fatalf("%s %v, want cookie.expires as a Date", expKey, raw.Lookup(expKey))
			}
			if idField != "_id" && typeAt(raw, "_id") != bson.TypeObjectID {
				t.Fatalf("with idField %s, _id is %v", idField, typeAt(raw, "_id"))
			}
			nodeNZ := negZero(raw, "session.nz") && negZero(raw, "session.z")
			if !srv.ferret && !nodeNZ {
				t.Fatal("mongod lost the -0 Node stored")
			}
			if srv.ferret && nodeNZ {
				t.Log("FerretDB kept -0 (it did not when this test was written)")
			}

			before := nodeGet(t, node, "n1")
			gs, v, err := st.GetVersion(ctx, "n1")
			if err != nil {
				t.Fatal(err)
			}
			goView, _ := gs.Encode()
			if string(goView) != before.JSON {
				t.Fatalf("Go's view differs from Node's JSON.stringify(req.session):\n  go %s\nnode %s", goView, before.JSON)
			}

			// Go changes one value and adds one, conditionally.
			_ = gs.Set("i", 43)
			_ = gs.Set("fromGo", "héllo")
			if _, err := st.SetIf(ctx, "n1", gs, v); err != nil {
				t.Fatal(err)
			}
			raw2 := rawDoc(t, coll, idField, "n1")
			checkTypes(t, raw2, types, "Go's SetIf")
			if negZero(raw2, "session.nz") != nodeNZ {
				t.Fatalf("-0 not kept: %v", raw2.Lookup("session", "nz"))
			}
			if f, ok := raw2.Lookup("session", "nan").DoubleOK(); !srv.ferret && (!ok || !math.IsNaN(f)) {
				t.Fatalf("NaN not kept: %v", raw2.Lookup("session", "nan"))
			}
			after := nodeGet(t, node, "n1")
			wantTyped := strings.Replace(string(before.Typed), `"i":{"$number":"42"}`, `"i":{"$number":"43"}`, 1)
			wantTyped = wantTyped[:len(wantTyped)-1] + `,"fromGo":"héllo"}`
			if string(after.Typed) != wantTyped {
				t.Fatalf("Node reads back other values than it wrote:\n got %s\nwant %s", after.Typed, wantTyped)
			}

			// The same through Set (it reads the stored session first).
			gs2, err := st.Get(ctx, "n1")
			if err != nil {
				t.Fatal(err)
			}
			_ = gs2.Set("i", 44)
			if err := st.Set(ctx, "n1", gs2); err != nil {
				t.Fatal(err)
			}
			checkTypes(t, rawDoc(t, coll, idField, "n1"), types, "Go's Set")
			after2 := nodeGet(t, node, "n1")
			if want := strings.Replace(wantTyped, `"i":{"$number":"43"}`, `"i":{"$number":"44"}`, 1); string(after2.Typed) != want {
				t.Fatalf("after Go's Set Node reads:\n got %s\nwant %s", after2.Typed, want)
			}
			t.Logf("%s, %s: Node wrote Dates, -0 (kept by the server: %v), NaN (not on FerretDB, which refuses it) and numbers beyond int32; Go read Node's view byte for byte, changed it with SetIf and Set, and Node read every value back with its JavaScript type", srv, o.name, nodeNZ)
		})
	}
}

// goRecord is a record Go stores, with numbers of every class the Node
// driver tells apart.
func goRecord(exp time.Time) string {
	return `{"cookie":` + cookieJSON(exp) + `,"a":0,"b":-0,"c":1.0,"d":2147483647,"e":2147483648,"f":-2147483649,"g":1.5,` +
		`"h":9007199254740993,"i":1e21,"j":-1e-400,"k":[1,2.5,"x",null,true],"l":{"b":-1,"1":"one"},"m":"é😀\u0000"}`
}

// TestGoWritesNodeReads: Go stores records; the session document is
// byte for byte the one Node's set writes for the same record (numbers as
// int32 or double as the driver chooses, keys in JavaScript's order,
// cookie.expires a Date), the expiry is the same, and Node's view is Go's.
func TestGoWritesNodeReads(t *testing.T) {
	srv := connect(t)
	ctx := context.Background()
	for _, o := range optionSets {
		t.Run(o.name, func(t *testing.T) {
			f := srv.open(t, o.opts)
			opts, st, node, coll, idField, expKey := f.opts, f.st, f.node, f.coll, f.idField, f.expKey
			exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
			records := map[string]string{
				"numbers":  goRecord(exp),
				"passport": `{"cookie":` + cookieJSON(exp) + `,"passport":{"user":{"id":7,"roles":["admin"]}},"flash":{}}`,
				"browser":  `{"cookie":{"originalMaxAge":null,"partitioned":null,"priority":null,"expires":null,"secure":null,"httpOnly":true,"domain":null,"path":"/","sameSite":null},"x":1}`,
				"fields":   `{"cookie":{"originalMaxAge":2592000000,"partitioned":true,"priority":"high","expires":"` + exp.UTC().Format(sessionjson.ExpiresLayout) + `","secure":true,"httpOnly":false,"domain":"example.com","path":"/app","sameSite":"strict"}}`,
			}
			names := slices.Sorted(maps.Keys(records))
			var sets, gets []nodetest.Op
			for _, name := range names {
				s, err := sessionjson.Decode([]byte(records[name]))
				if err != nil {
					t.Fatal(err)
				}
				if err := st.Set(ctx, "go-"+name, s); err != nil {
					t.Fatal(err)
				}
				sets = append(sets, nodemongotest.Op("set", map[string]any{"store": node, "sid": "node-" + name, "session": records[name]}))
				gets = append(gets, nodemongotest.Op("get", map[string]any{"store": node, "sid": "go-" + name}))
			}
			for i, r := range nodemongotest.Run(t, sets...) {
				if !r.OK {
					t.Fatalf("Node set %s: %s", names[i], r.Error)
				}
			}
			nodeViews := nodemongotest.Run(t, gets...)
			for i, name := range names {
				g, n := rawDoc(t, coll, idField, "go-"+name), rawDoc(t, coll, idField, "node-"+name)
				if gs, ns := g.Lookup("session"), n.Lookup("session"); !bytes.Equal(gs.Value, ns.Value) {
					t.Fatalf("%s: Go's session document differs from Node's:\n  go %v\nnode %v", name, gs, ns)
				}
				ge, ne := g.Lookup(expKey), n.Lookup(expKey)
				if ge.Type != bson.TypeDateTime || ne.Type != bson.TypeDateTime {
					t.Fatalf("%s: expiry types go %v node %v", name, ge.Type, ne.Type)
				}
				if name == "browser" { // now + expires, each side at its own now
					if d := time.Duration(ge.DateTime()-ne.DateTime()) * time.Millisecond; d < -time.Minute || d > time.Minute {
						t.Fatalf("browser-session expiry: go %v node %v", ge, ne)
					}
					want := time.Now().Add(cmp.Or(opts.Expires, 14*24*time.Hour))
					if d := time.UnixMilli(ge.DateTime()).Sub(want); d < -time.Minute || d > time.Minute {
						t.Fatalf("browser-session expiry %v, want about %v", time.UnixMilli(ge.DateTime()), want)
					}
				} else if ge.DateTime() != ne.DateTime() {
					t.Fatalf("%s: expiry go %v node %v", name, ge, ne)
				}
				gv, err := st.Get(ctx, "go-"+name)
				if err != nil {
					t.Fatal(err)
				}
				goView, _ := gv.Encode()
				var nv *nodeGot
				nodemongotest.Value(t, nodeViews[i], &nv)
				if nv == nil || nv.JSON != string(goView) {
					t.Fatalf("%s: Node's view of Go's session differs from Go's:\n  go %s\nnode %+v", name, goView, nv)
				}
			}
			doc := rawDoc(t, coll, idField, "go-numbers")
			for path, typ := range map[string]bson.Type{
				"session.a": bson.TypeInt32, "session.b": bson.TypeDouble, "session.c": bson.TypeInt32, "session.d": bson.TypeInt32,
				"session.e": bson.TypeDouble, "session.f": bson.TypeDouble, "session.g": bson.TypeDouble, "session.h": bson.TypeDouble,
				"session.i": bson.TypeDouble, "session.j": bson.TypeDouble, "session.k.0": bson.TypeInt32, "session.k.1": bson.TypeDouble,
				"session.l.b": bson.TypeInt32, "session.cookie.expires": bson.TypeDateTime, "session.cookie.originalMaxAge": bson.TypeInt32,
			} {
				if got := typeAt(doc, path); got != typ {
					t.Errorf("%s is %v, want %v", path, got, typ)
				}
			}
			if typeAt(rawDoc(t, coll, idField, "go-fields"), "session.cookie.originalMaxAge") != bson.TypeDouble {
				t.Error("a 30-day originalMaxAge (2592000000) must be a double")
			}
			elems, _ := doc.Lookup("session", "l").Document().Elements()
			if len(elems) != 2 || elems[0].Key() != "1" {
				t.Errorf("array-index keys must come first, as JSON.parse orders them: %v", doc.Lookup("session", "l"))
			}
			if h := doc.Lookup("session", "h").Double(); h != 9007199254740992 {
				t.Errorf("9007199254740993 stored as %v, want the double JavaScript reads, 9007199254740992", h)
			}
			t.Logf("%s, %s: Go's session documents are Node's byte for byte (int32/double as the driver chooses, -0 and 1e21 doubles, array-index keys first), expiry equal, Node's view is Go's", srv, o.name)
		})
	}
}

// TestExpiresKeyNode: connect-mongodb-session's get checks the field named
// expires whatever expiresKey says. With expiresKey 'expireAt', Node serves
// a session whose expireAt has passed, and destroys one whose (foreign)
// expires field has passed though its expireAt has not; Go applies
// expireAt both times. With the default key both agree, and both delete
// an expired document.
func TestExpiresKeyNode(t *testing.T) {
	srv := connect(t)
	ctx := context.Background()
	past := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	future := time.Now().Add(time.Hour).Truncate(time.Millisecond)

	f := srv.open(t, mongodbsessionstore.Options{ExpiresKey: "expireAt"})
	st, node, coll := f.st, f.node, f.coll
	nodeSet(t, node, "old", `{"cookie":`+cookieJSON(past)+`,"a":1}`, "")
	if typeAt(rawDoc(t, coll, "_id", "old"), "expireAt") != bson.TypeDateTime || typeAt(rawDoc(t, coll, "_id", "old"), "expires") != 0 {
		t.Fatal("Node did not write expireAt alone")
	}
	if g := nodeGet(t, node, "old"); g == nil || !strings.Contains(g.JSON, `"a":1`) {
		t.Fatalf("Node's get should serve the expired session (it checks expires, not expireAt): %+v", g)
	}
	if _, err := st.Get(ctx, "old"); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("Go's Get of a session whose expireAt passed: %v, want ErrNotFound", err)
	}
	if rawDoc(t, coll, "_id", "old") != nil {
		t.Fatal("Go's Get left the expired document (Node's get destroys one)")
	}
	// A live expireAt, and an expires field in the past.
	nodeSet(t, node, "live", `{"cookie":`+cookieJSON(future)+`,"a":2}`, "")
	if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "live"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "expires", Value: bson.DateTime(past.UnixMilli())}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "live"); err != nil {
		t.Fatalf("Go's Get of a session whose expireAt is ahead: %v", err)
	}
	if g := nodeGet(t, node, "live"); g != nil {
		t.Fatalf("Node's get served a session whose expires field passed: %+v", g)
	}
	if rawDoc(t, coll, "_id", "live") != nil {
		t.Fatal("Node's get should have destroyed it")
	}

	// Default key: both refuse and delete an expired session.
	d := srv.open(t, mongodbsessionstore.Options{})
	dst, dnode, dcoll := d.st, d.node, d.coll
	for _, reader := range []string{"node", "go"} {
		nodeSet(t, dnode, reader, `{"cookie":`+cookieJSON(past)+`}`, "")
		if reader == "node" {
			if g := nodeGet(t, dnode, reader); g != nil {
				t.Fatalf("Node served an expired session: %+v", g)
			}
		} else if _, err := dst.Get(ctx, reader); !errors.Is(err, sessionbridge.ErrNotFound) {
			t.Fatalf("Go: %v", err)
		}
		if rawDoc(t, dcoll, "_id", reader) != nil {
			t.Fatalf("%s's get left the expired document", reader)
		}
	}
	t.Logf("%s: Node's get checks expires even with expiresKey expireAt (served an expired session, destroyed a live one); Go checks expireAt; with the default key both refuse and delete an expired session", srv)
}

// TestTouchNode: connect-mongodb-session has no touch (express-session
// then never refreshes the stored expiry of an unmodified session). Go's
// Touch moves the expiry field alone; Node reads the session unchanged and
// serves it past its old expiry.
func TestTouchNode(t *testing.T) {
	srv := connect(t)
	ctx := context.Background()
	for _, o := range optionSets {
		t.Run(o.name, func(t *testing.T) {
			opts := o.opts
			now := time.Now().Truncate(time.Millisecond)
			clock := now
			opts.Now = func() time.Time { return clock }
			f := srv.open(t, opts)
			st, node, coll, idField, expKey := f.st, f.node, f.coll, f.idField, f.expKey
			res := nodemongotest.Run(t, nodemongotest.Op("open", map[string]any{"store": node}))
			var open struct{ HasTouch bool }
			nodemongotest.Value(t, res[0], &open)
			if open.HasTouch {
				t.Fatal("MongoDBStore has a touch method now: compare Go's Touch with it")
			}
			// Node stores a session that expires in 2 s.
			nodeSet(t, node, "t1", `{"cookie":`+cookieJSON(now.Add(2*time.Second))+`,"a":1}`, `s.when = new Date(0)`)
			before := rawDoc(t, coll, idField, "t1")
			s, err := st.Get(ctx, "t1")
			if err != nil {
				t.Fatal(err)
			}
			s.Touch(now.Add(time.Hour - 2*time.Second)) // expires = that + 1 h
			if err := st.Touch(ctx, "t1", s); err != nil {
				t.Fatal(err)
			}
			after := rawDoc(t, coll, idField, "t1")
			if !bytes.Equal(before.Lookup("session").Value, after.Lookup("session").Value) {
				t.Fatal("Touch rewrote the session")
			}
			if ms := after.Lookup(expKey).DateTime(); ms != s.Cookie.Expires.UnixMilli() {
				t.Fatalf("expiry %d, want the touched cookie.expires %d", ms, s.Cookie.Expires.UnixMilli())
			}
			time.Sleep(2100*time.Millisecond - time.Since(now))
			if expKey == "expires" {
				if g := nodeGet(t, node, "t1"); g == nil || !strings.Contains(g.JSON, `"a":1`) {
					t.Fatalf("Node lost the session Go touched: %+v", g)
				}
			}
			clock = now.Add(3 * time.Second)
			if _, err := st.Get(ctx, "t1"); err != nil {
				t.Fatalf("Go lost the session it touched: %v", err)
			}
			if err := st.Touch(ctx, "missing", s); !errors.Is(err, sessionbridge.ErrNotFound) {
				t.Fatalf("Touch of a missing session: %v", err)
			}
			if rawDoc(t, coll, idField, "missing") != nil {
				t.Fatal("Touch created a session")
			}
			served := "Node still served the session after its old expiry"
			if expKey != "expires" {
				served = "Node's get does not look at " + expKey
			}
			t.Logf("%s, %s: MongoDBStore has no touch; Go's Touch moved %s alone and Go served the session after its old expiry; %s", srv, o.name, expKey, served)
		})
	}
}

// TestTTLIndexNode: Go's CreateTTLIndex makes the index Node's
// MongoDBStore makes when it connects; FerretDB refuses both.
func TestTTLIndexNode(t *testing.T) {
	srv := connect(t)
	ctx := context.Background()
	opts := mongodbsessionstore.Options{Collection: collection(t, srv.db), ExpiresKey: "expireAt", ExpiresAfterSeconds: 30}
	goColl := mongodbsessionstore.Options{Collection: collection(t, srv.db), ExpiresKey: "expireAt", ExpiresAfterSeconds: 30}
	node := srv.nodeStore(opts)
	node["expiresAfterSeconds"] = 30
	res := nodemongotest.Run(t, nodemongotest.Op("open", map[string]any{"store": node}))
	var open struct{ IndexError *string }
	nodemongotest.Value(t, res[0], &open)
	err := newStore(t, srv.db, goColl).CreateTTLIndex(ctx)
	if srv.ferret {
		if open.IndexError == nil || !errors.Is(err, mongodbsessionstore.ErrTTLIndexUnsupported) {
			t.Fatalf("FerretDB: Node %v, Go %v; want both refused", open.IndexError, err)
		}
		t.Logf("FerretDB refuses the TTL index: Node's callback got %q, Go %v", *open.IndexError, err)
		return
	}
	if open.IndexError != nil || err != nil {
		t.Fatalf("mongod: Node %v, Go %v", open.IndexError, err)
	}
	spec := func(name string) string {
		cur, err := srv.db.Collection(name).Indexes().List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var idx []bson.M
		if err := cur.All(ctx, &idx); err != nil {
			t.Fatal(err)
		}
		for _, i := range idx {
			if i["name"] != "_id_" {
				return bsonString(i["key"]) + " expireAfterSeconds=" + bsonString(i["expireAfterSeconds"])
			}
		}
		return "none"
	}
	if n, g := spec(opts.Collection), spec(goColl.Collection); n != g || n == "none" {
		t.Fatalf("TTL index: Node %s, Go %s", n, g)
	}
	t.Logf("mongod: Node and Go create the same TTL index (%s)", spec(opts.Collection))
}

func bsonString(v any) string {
	b, _ := bson.MarshalExtJSON(bson.D{{Key: "v", Value: v}}, false, false)
	return string(b)
}

// TestBridgeNode: through a Bridge (LoadAndSave's conditional save in
// Update, and Save after LoadID), Go changes a session Node stored with
// Dates, and Node reads its Dates back as Dates.
func TestBridgeNode(t *testing.T) {
	srv := connect(t)
	ctx := context.Background()
	f := srv.open(t, mongodbsessionstore.Options{})
	st, node := f.st, f.node
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	nodeSet(t, node, "b1", `{"cookie":`+cookieJSON(exp)+`,"passport":{"user":7}}`, `s.lastLogin = new Date(1700000000000); s.history = [new Date(1), new Date(2)]`)
	before := nodeGet(t, node, "b1")
	if err := b.Update(ctx, "b1", func(s *sessionbridge.Session) error { return s.Record.Set("cart", []int{1, 2}) }); err != nil {
		t.Fatal(err)
	}
	s, err := b.LoadID(ctx, "b1")
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Record.Set("theme", "dark")
	if err := b.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	after := nodeGet(t, node, "b1")
	want := string(before.Typed[:len(before.Typed)-1]) + `,"cart":[{"$number":"1"},{"$number":"2"}],"theme":"dark"}`
	if string(after.Typed) != want {
		t.Fatalf("Node reads back:\n got %s\nwant %s", after.Typed, want)
	}
	if !strings.Contains(want, `"lastLogin":{"$date":"2023-11-14T22:13:20.000Z"}`) {
		t.Fatalf("the check cannot fail: %s", want)
	}
	t.Logf("%s: Bridge.Update and LoadID+Save changed a session Node stored with Dates; Node reads them back as Dates", srv)
}

// TestFerretNestedArraysNode: FerretDB 1.x cannot store an array in an
// array, for Node's set as for Go's; on mongod both store it alike.
func TestFerretNestedArraysNode(t *testing.T) {
	srv := connect(t)
	ctx := context.Background()
	f := srv.open(t, mongodbsessionstore.Options{})
	st, node := f.st, f.node
	rec := `{"cookie":` + cookieJSON(time.Now().Add(time.Hour)) + `,"deep":[[1,[2]]]}`
	res := nodemongotest.Run(t, nodemongotest.Op("set", map[string]any{"store": node, "sid": "node", "session": rec}))
	s, _ := sessionjson.Decode([]byte(rec))
	goErr := st.Set(ctx, "go", s)
	if srv.ferret {
		if res[0].OK || goErr == nil || !strings.Contains(res[0].Error, "nested arrays") || !strings.Contains(goErr.Error(), "nested arrays") {
			t.Fatalf("FerretDB: Node %+v, Go %v; want both refused", res[0], goErr)
		}
		t.Logf("FerretDB refuses nested arrays from Node and Go alike: %v", goErr)
		return
	}
	if !res[0].OK || goErr != nil {
		t.Fatalf("mongod: Node %+v, Go %v", res[0], goErr)
	}
	coll := f.coll
	if g, n := rawDoc(t, coll, "_id", "go").Lookup("session"), rawDoc(t, coll, "_id", "node").Lookup("session"); !bytes.Equal(g.Value, n.Value) {
		t.Fatalf("go %v\nnode %v", g, n)
	}
}

// TestNodeCookieNulls: Node's set writes every key of express-session's
// Cookie.toJSON, unset ones as null, where Go writes the cookie as the
// record holds it; Node's view of either is the same session, and a cookie
// Node wrote keeps its nulls through Go.
func TestNodeCookieNulls(t *testing.T) {
	srv := connect(t)
	ctx := context.Background()
	f := srv.open(t, mongodbsessionstore.Options{})
	st, node, coll := f.st, f.node, f.coll
	exp := time.Now().Add(time.Hour).UTC().Format(sessionjson.ExpiresLayout)
	rec := `{"cookie":{"originalMaxAge":3600000,"expires":"` + exp + `","httpOnly":true,"path":"/"},"a":1}`
	nodeSet(t, node, "node", rec, "")
	s, _ := sessionjson.Decode([]byte(rec))
	if err := st.Set(ctx, "go", s); err != nil {
		t.Fatal(err)
	}
	nodeCookie := bsonView(t, rawDoc(t, coll, "_id", "node"))
	goCookie := bsonView(t, rawDoc(t, coll, "_id", "go"))
	if want := `{"cookie":{"originalMaxAge":3600000,"partitioned":null,"priority":null,"expires":"` + exp + `","secure":null,"httpOnly":true,"domain":null,"path":"/","sameSite":null},"a":1}`; nodeCookie != want {
		t.Fatalf("Node wrote %s\nwant %s", nodeCookie, want)
	}
	if goCookie != rec {
		t.Fatalf("Go wrote %s\nwant the record %s", goCookie, rec)
	}
	if g := nodeGet(t, node, "go"); g == nil || g.JSON != rec {
		t.Fatalf("Node's view of Go's session: %+v", g)
	}
	// Go keeps the nulls of the cookie Node wrote.
	gs, v, err := st.GetVersion(ctx, "node")
	if err != nil {
		t.Fatal(err)
	}
	_ = gs.Set("b", 2)
	gs.Touch(time.Now())
	if _, err := st.SetIf(ctx, "node", gs, v); err != nil {
		t.Fatal(err)
	}
	if got := bsonView(t, rawDoc(t, coll, "_id", "node")); !strings.Contains(got, `"partitioned":null,"priority":null,"expires":"`) || !strings.Contains(got, `"sameSite":null},"a":1,"b":2}`) {
		t.Fatalf("Go's save of Node's session: %s", got)
	}
	t.Logf("%s: Node writes unset cookie fields as null (%s); Go writes the cookie as the record has it and keeps Node's nulls", srv, nodeCookie)
}
