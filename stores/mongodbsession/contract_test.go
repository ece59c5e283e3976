package mongodbsessionstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/sessionbridgetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	mongodbsessionstore "github.com/sessionbridge/sessionbridge/stores/mongodbsession"
)

// contract runs sessionbridgetest.TestStore. The store keeps numbers as
// Node's driver does, as JavaScript numbers (JavaScriptNumbers). On
// FerretDB, which cannot store nested arrays (Node's set fails there too:
// TestFerretNestedArraysNode), the Nested records are checked without their
// nested arrays, and that the server refuses them.
func contract(t *testing.T, srv server, opts mongodbsessionstore.Options) {
	opts.Collection = collection(t, srv.db)
	sessionbridgetest.TestStore(t, func(t *testing.T) sessionbridge.Store {
		st := newStore(t, srv.db, opts)
		if name := t.Name(); srv.ferret && (strings.HasSuffix(name, "/SetGet/Nested") || strings.HasSuffix(name, "/Conditional/GetVersion/Nested")) {
			ferretNestedArrays(t, st)
		}
		return st
	}, sessionbridgetest.Options{SetIfNotAtomic: srv.ferret, JavaScriptNumbers: true})
}

func TestContract(t *testing.T) {
	srv := connect(t)
	t.Logf("on %s", srv)
	contract(t, srv, mongodbsessionstore.Options{})
}

// TestContractOptions: the contract with every option changed, a dotted
// id field included.
func TestContractOptions(t *testing.T) {
	srv := connect(t)
	contract(t, srv, mongodbsessionstore.Options{IDField: "meta.sid", ExpiresKey: "expireAt", Expires: time.Hour})
}

// nestedRecord is the contract's SetGet "Nested" record without its cookie
// and its nested arrays.
const nestedRecord = `"passport":{"user":{"id":7,"roles":["admin","user"],"profile":{"emails":[{"value":"a@example.com","verified":true}]}}},"cart":[{"sku":"a","qty":2},{"sku":"b","qty":1}],"empty":{},"none":[],"nil":null,"yes":true,"no":false}`

func ferretNestedArrays(t *testing.T, st *mongodbsessionstore.Store) {
	t.Helper()
	ctx := context.Background()
	rec := `{"cookie":{"originalMaxAge":3600000,"expires":"` + time.Now().Add(time.Hour).UTC().Format(sessionjson.ExpiresLayout) + `","httpOnly":true,"path":"/"},` + nestedRecord
	sid := "nested-" + strings.ReplaceAll(t.Name(), "/", "-")
	t.Cleanup(func() { _ = st.Destroy(context.Background(), sid) })
	s, err := sessionjson.Decode([]byte(rec))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Set(ctx, sid, s); err != nil {
		t.Fatal(err)
	}
	g, err := st.Get(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := g.Encode(); string(got) != rec {
		t.Fatalf("got  %s\nwant %s", got, rec)
	}
	_ = s.SetRaw("deep", []byte(`[[1]]`))
	if err := st.Set(ctx, sid, s); err == nil || !strings.Contains(err.Error(), "nested arrays") {
		t.Fatalf("FerretDB stored a nested array (%v): run the contract's Nested record there", err)
	}
	t.Skip("FerretDB 1.x cannot store nested arrays (neither can Node's set there); checked the record without them. Set MONGODB_URI for a real mongod")
}
