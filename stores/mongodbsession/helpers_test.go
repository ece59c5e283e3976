package mongodbsessionstore_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/nodemongotest"
	mongodbsessionstore "github.com/sessionbridge/sessionbridge/stores/mongodbsession"
)

const dbName = "sessionbridge_test"

// server is the MongoDB-wire server the tests run on: a real mongod when
// MONGODB_URI is set, else the FerretDB server.
type server struct {
	db     *mongo.Database
	url    string
	ferret bool
}

func (s server) String() string {
	if s.ferret {
		return "FerretDB 1.x"
	}
	return "mongod (MONGODB_URI)"
}

func connect(t testing.TB) server {
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
	return server{db: c.Database(dbName), url: url, ferret: ferret}
}

// collection returns a fresh collection name, dropped after the test.
func collection(t testing.TB, db *mongo.Database) string {
	name := fmt.Sprintf("cms_%d", rand.Uint64()%1e12)
	t.Cleanup(func() { _ = db.Collection(name).Drop(context.Background()) })
	return name
}

func newStore(t testing.TB, db *mongo.Database, opts mongodbsessionstore.Options) *mongodbsessionstore.Store {
	t.Helper()
	st, err := mongodbsessionstore.New(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// fixture is one fresh collection seen from Go and from Node.
type fixture struct {
	opts    mongodbsessionstore.Options // Collection set
	st      *mongodbsessionstore.Store
	node    map[string]any // Node's MongoDBStore options
	coll    *mongo.Collection
	idField string // the id field, opts.IDField or _id
	expKey  string // the expiry field, opts.ExpiresKey or expires
}

// open returns a fixture for opts on a fresh collection, dropped after the
// test.
func (s server) open(t testing.TB, opts mongodbsessionstore.Options) fixture {
	t.Helper()
	opts.Collection = collection(t, s.db)
	return fixture{
		opts: opts, st: newStore(t, s.db, opts), node: s.nodeStore(opts), coll: s.db.Collection(opts.Collection),
		idField: cmp.Or(opts.IDField, "_id"), expKey: cmp.Or(opts.ExpiresKey, "expires"),
	}
}

// nodeStore is the MongoDBStore options Node uses for the same collection
// and options as a Go store.
func (s server) nodeStore(opts mongodbsessionstore.Options) map[string]any {
	m := map[string]any{"uri": s.url, "databaseName": dbName, "collection": opts.Collection}
	if opts.IDField != "" {
		m["idField"] = opts.IDField
	}
	if opts.ExpiresKey != "" {
		m["expiresKey"] = opts.ExpiresKey
	}
	if opts.Expires != 0 {
		m["expires"] = opts.Expires.Milliseconds()
	}
	return m
}

// rawDoc returns the document whose field idField is sid, or nil.
func rawDoc(t testing.TB, coll *mongo.Collection, idField, sid string) bson.Raw {
	t.Helper()
	doc, err := coll.FindOne(context.Background(), bson.D{{Key: idField, Value: sid}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// nodeGot is what cli.js's get answers.
type nodeGot struct {
	JSON  string          `json:"json"`
	Typed json.RawMessage `json:"typed"`
}

// nodeGet runs Node's get of sid; nil when it answered nothing.
func nodeGet(t testing.TB, store map[string]any, sid string) *nodeGot {
	t.Helper()
	res := nodemongotest.Run(t, nodemongotest.Op("get", map[string]any{"store": store, "sid": sid}))
	var g *nodeGot
	nodemongotest.Value(t, res[0], &g)
	return g
}

// nodeSet runs Node's set of the record rec, with js run on the session
// first (when not empty).
func nodeSet(t testing.TB, store map[string]any, sid, rec, js string) {
	t.Helper()
	args := map[string]any{"store": store, "sid": sid, "session": rec}
	if js != "" {
		args["js"] = js
	}
	res := nodemongotest.Run(t, nodemongotest.Op("set", args))
	if !res[0].OK {
		t.Fatalf("Node set: %s", res[0].Error)
	}
}

// typeAt returns the BSON type at the dotted path of doc.
func typeAt(doc bson.Raw, path string) bson.Type {
	return doc.Lookup(strings.Split(path, ".")...).Type
}

// cookieJSON is an express-session cookie of a one-hour maxAge expiring
// at exp, with all of Cookie.toJSON's keys (as Node's view of a stored
// cookie has them).
func cookieJSON(exp time.Time) string {
	return `{"originalMaxAge":3600000,"partitioned":null,"priority":null,"expires":"` + exp.UTC().Format(sessionjson.ExpiresLayout) +
		`","secure":null,"httpOnly":true,"domain":null,"path":"/","sameSite":null}`
}
