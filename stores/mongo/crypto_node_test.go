package mongostore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/kruptein"
	"github.com/sessionbridge/sessionbridge/stores/internal/kruptein/krupteintest"
	mongostore "github.com/sessionbridge/sessionbridge/stores/mongo"
)

const nodeSecret = "Node and Go share this secret"

// TestCryptoNodeBothWays runs the live both-way checks with connect-mongo's
// crypto on, stringify true and false: Node logs in and Go reads, Go
// writes and Node reads, and the record Go reads is byte for byte the JSON
// Node encrypted.
func TestCryptoNodeBothWays(t *testing.T) {
	db, url, ferret := database(t)
	for _, stringify := range []bool{true, false} {
		t.Run(fmt.Sprintf("stringify=%v", stringify), func(t *testing.T) {
			name := collection(t, db)
			coll := db.Collection(name)
			st := mongostore.New(db, mongostore.Options{Collection: name, Subdocument: !stringify, Crypto: crypto(nodeSecret)})
			a := appCrypto(t, url, name, stringify, nodeSecret)
			b, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: st, Cookie: sessionbridge.CookieOptions{MaxAge: time.Hour}})
			raw := func(sid string) []byte {
				if document(t, coll, sid) == nil {
					return nil
				}
				return []byte(opened(t, nodeSecret, storedString(t, coll, sid)))
			}
			peer := storetest.Peer{App: a, Bridge: b, Raw: raw}
			peer.BothWays(t)

			// What Node stored is encrypted, in both modes a string.
			cookie := a.Login("alice", "secret")
			sid := strings.SplitN(strings.TrimPrefix(cookie, "s%3A"), ".", 2)[0]
			field := storedString(t, coll, sid)
			if !kruptein.IsRecord([]byte(field)) || strings.Contains(field, "alice") {
				t.Fatalf("connect-mongo did not encrypt: %.60s", field)
			}
			if !ferret {
				peer.TouchRace(t)
			}
		})
	}
}

// TestCryptoNodeWrongSecret: each side refuses what the other sealed with
// another secret: Go with ErrDecrypt, Node with an error (500).
func TestCryptoNodeWrongSecret(t *testing.T) {
	db, url, _ := database(t)
	ctx := context.Background()
	name := collection(t, db)
	a := appCrypto(t, url, name, true, nodeSecret)
	st := mongostore.New(db, mongostore.Options{Collection: name, Crypto: crypto("Go's own secret")})
	cookie := a.Login("alice", "secret")
	sid := strings.SplitN(strings.TrimPrefix(cookie, "s%3A"), ".", 2)[0]
	if _, err := st.Get(ctx, sid); !errors.Is(err, mongostore.ErrDecrypt) {
		t.Fatalf("Go reading Node's session with another secret: %v, want ErrDecrypt", err)
	}
	if me := a.Me(cookie); !me.LoggedIn {
		t.Fatal("premise: Node reads its own session")
	}
	s := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
	_ = s.Set("passport", map[string]any{"user": 7})
	if err := st.Set(ctx, sid, s); err != nil {
		t.Fatal(err)
	}
	status, body, _ := a.Do("GET", "/me", cookie, nil)
	if status != 500 || !a.StderrHas("Encrypted session was tampered with!") {
		t.Fatalf("Node reading Go's session sealed with another secret: %d %s", status, body)
	}
	t.Logf("Node answers %d: %s", status, body)
}

// TestCryptoNodeStore drives the real connect-mongo MongoStore get and set
// (kruptein-cli.js) with crypto, stringify true and false: Node writes and
// Go reads, Go writes and Node reads, Node saves what it read and Go reads
// again, for non-ASCII and large sessions. It also checks what
// connect-mongo does with records of the other kind.
func TestCryptoNodeStore(t *testing.T) {
	db, url, _ := database(t)
	ctx := context.Background()
	dbURL := strings.TrimSuffix(url, "/") + "/" + dbName
	exp := time.Now().Add(time.Hour).UTC().Format(sessionjson.ExpiresLayout)
	records := map[string]string{
		"ascii":  `{"cookie":{"originalMaxAge":3600000,"expires":"` + exp + `","httpOnly":true,"path":"/"},"passport":{"user":7}}`,
		"utf8":   `{"cookie":{"originalMaxAge":3600000,"expires":"` + exp + `","httpOnly":true,"path":"/"},"note":"é😀` + "\u2028" + ` \"q\" \\ 中文 <&>","n":[1,2.5,null]}`,
		"large":  `{"cookie":{"originalMaxAge":3600000,"expires":"` + exp + `","httpOnly":true,"path":"/"},"pad":"` + strings.Repeat("ü€x\\\"", 100_000) + `"}`,
		"browse": `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"x":1}`,
	}
	keys := slices.Sorted(maps.Keys(records))
	for _, stringify := range []bool{true, false} {
		t.Run(fmt.Sprintf("stringify=%v", stringify), func(t *testing.T) {
			name := collection(t, db)
			coll := db.Collection(name)
			st := mongostore.New(db, mongostore.Options{Collection: name, Subdocument: !stringify, Crypto: crypto(nodeSecret)})
			args := func(sid string, extra ...any) map[string]any {
				m := map[string]any{"url": dbURL, "collection": name, "secret": nodeSecret, "stringify": stringify, "sid": sid}
				for i := 0; i+1 < len(extra); i += 2 {
					m[extra[i].(string)] = extra[i+1]
				}
				return m
			}
			// Node writes.
			var ops []nodetest.Op
			for k, rec := range records {
				ops = append(ops, krupteintest.Op("mongo.set", args("node-"+k, "session", rec)))
			}
			for _, r := range krupteintest.Run(t, ops...) {
				if !r.OK {
					t.Fatalf("Node set: %s", r.Error)
				}
			}
			// Go reads; then Go writes each under another id.
			for k, rec := range records {
				field := storedString(t, coll, "node-"+k)
				if got := opened(t, nodeSecret, field); got != rec {
					t.Fatalf("%s: Node encrypted %.80s, want %.80s", k, got, rec)
				}
				s, err := st.Get(ctx, "node-"+k)
				if err != nil {
					t.Fatalf("%s: Go reading Node's session: %v", k, err)
				}
				if enc, _ := s.Encode(); string(enc) != rec {
					t.Fatalf("%s: Go read %.80s", k, enc)
				}
				if err := st.Set(ctx, "go-"+k, s); err != nil {
					t.Fatal(err)
				}
			}
			// Node reads Go's, and saves what it read; Go reads that again.
			ops = nil
			for _, k := range keys {
				ops = append(ops, krupteintest.Op("mongo.get", args("go-"+k)))
			}
			res := krupteintest.Run(t, ops...)
			ops = nil
			for i, k := range keys {
				got := krupteintest.String(t, res[i])
				if got != records[k] {
					t.Fatalf("%s: Node read Go's session as %.80s", k, got)
				}
				ops = append(ops, krupteintest.Op("mongo.set", args("go-"+k, "session", got)))
			}
			before := storedString(t, coll, "go-ascii")
			for _, r := range krupteintest.Run(t, ops...) {
				if !r.OK {
					t.Fatalf("Node re-save: %s", r.Error)
				}
			}
			if storedString(t, coll, "go-ascii") == before {
				t.Fatal("premise: Node re-encrypted the session")
			}
			for k, rec := range records {
				s, err := st.Get(ctx, "go-"+k)
				if err != nil {
					t.Fatalf("%s: Go reading Node's re-save: %v", k, err)
				}
				if enc, _ := s.Encode(); string(enc) != rec {
					t.Fatalf("%s: after Node's re-save Go read %.80s", k, enc)
				}
			}
		})
	}

	// connect-mongo on records of the other kind, and on another secret.
	name := collection(t, db)
	coll := db.Collection(name)
	rec := records["ascii"]
	future := bson.NewDateTimeFromTime(time.Now().Add(time.Hour))
	var sub bson.D
	if err := bson.UnmarshalExtJSON([]byte(rec), false, &sub); err != nil {
		t.Fatal(err)
	}
	for id, v := range map[string]any{"clear": rec, "subdoc": sub, "sealed": sealed(t, nodeSecret, []byte(rec))} {
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "session", Value: v}, {Key: "expires", Value: future}}); err != nil {
			t.Fatal(err)
		}
	}
	get := func(sid, secret string, stringify bool) map[string]any {
		m := map[string]any{"url": dbURL, "collection": name, "stringify": stringify, "sid": sid}
		if secret != "" {
			m["secret"] = secret
		}
		return m
	}
	res := krupteintest.Run(t,
		krupteintest.Op("mongo.get", get("sealed", nodeSecret, true)),  // 0: the control
		krupteintest.Op("mongo.get", get("sealed", "other", true)),     // 1: another secret
		krupteintest.Op("mongo.get", get("sealed", "", true)),          // 2: crypto off
		krupteintest.Op("mongo.get", get("clear", nodeSecret, true)),   // 3: a JSON string, crypto on
		krupteintest.Op("mongo.get", get("subdoc", nodeSecret, false)), // 4: a subdocument, crypto on
		krupteintest.Op("mongo.get", get("clear", nodeSecret, false)),  // 5
	)
	if got := krupteintest.String(t, res[0]); got != rec {
		t.Fatalf("Node reading a Go-sealed record: %s", got)
	}
	for i, what := range map[int]string{1: "another secret", 2: "crypto off", 3: "a JSON string with crypto", 5: "a JSON string with crypto, stringify false"} {
		if res[i].OK {
			t.Fatalf("connect-mongo read %s: %s", what, res[i].Value)
		}
		t.Logf("connect-mongo on %s: %s", what, res[i].Error)
	}
	// connect-mongo decrypts only string fields: it reads a plain
	// subdocument with crypto on. Go refuses it (ErrNotEncrypted).
	var subGot string
	if err := json.Unmarshal(res[4].Value, &subGot); !res[4].OK || err != nil || !strings.Contains(subGot, `"passport":{"user":7}`) {
		t.Fatalf("connect-mongo with crypto on a plain subdocument: %+v", res[4])
	}
	st := mongostore.New(db, mongostore.Options{Collection: name, Subdocument: true, Crypto: crypto(nodeSecret)})
	if _, err := st.Get(ctx, "subdoc"); !errors.Is(err, mongostore.ErrNotEncrypted) {
		t.Fatalf("Go on a plain subdocument with Crypto: %v", err)
	}
}
