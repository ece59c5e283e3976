package mongostore_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	mongostore "github.com/sessionbridge/sessionbridge/stores/mongo"
)

// TestHugeLifetimes: Node (connect-mongo) writes sessions whose cookie
// lives 1000 years and 10^15 ms; Go reads, touches and saves them, and the
// expires Date must stay cookie.expires each time.
func TestHugeLifetimes(t *testing.T) {
	db, url, _ := database(t)
	for _, maxAge := range []int64{1000 * 365 * 86400 * 1000, 1e15} {
		t.Run(strconv.FormatInt(maxAge, 10), func(t *testing.T) {
			name := collection(t, db)
			st := mongostore.New(db, mongostore.Options{Collection: name})
			app := nodetest.StartApp(t, map[string]string{"STORE": "mongo", "MONGO_URL": strings.TrimSuffix(url, "/") + "/" + dbName, "MONGO_COLLECTION": name, "MAX_AGE_MS": strconv.FormatInt(maxAge, 10)})
			b, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: st})
			cookie := app.Login("alice", "secret")
			storetest.Peer{App: app, Bridge: b}.LongLived(t, cookie, func(t *testing.T, s *sessionbridge.Session) {
				t.Helper()
				doc, err := db.Collection(name).FindOne(context.Background(), bson.D{{Key: "_id", Value: s.ID}}).Raw()
				if err != nil {
					t.Fatal(err)
				}
				if ms, ok := doc.Lookup("expires").DateTimeOK(); !ok || ms != s.Record.Cookie.Expires.UnixMilli() {
					t.Fatalf("expires %d (a Date: %v), want cookie.expires %d", ms, ok, s.Record.Cookie.Expires.UnixMilli())
				}
			})
		})
	}
}

// TestExpiresSaturates: a cookie.expires beyond the JavaScript Date range
// (only Go can hold year 3e8) is stored as the range's end, a Date Node can
// read, and the session stays live; bson.NewDateTimeFromTime wrapped it into
// the past, so the session was gone.
func TestExpiresSaturates(t *testing.T) {
	db, _, _ := database(t)
	ctx := context.Background()
	name := collection(t, db)
	for _, sub := range []bool{false, true} {
		st := mongostore.New(db, mongostore.Options{Collection: name, Subdocument: sub})
		for what, exp := range map[string]time.Time{
			"year 999999": time.Date(999999, 1, 1, 0, 0, 0, 0, time.UTC),
			"year 3e8":    time.Date(300_000_000, 1, 1, 0, 0, 0, 0, time.UTC),
		} {
			s := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
			s.Cookie.Expires = &exp
			if err := st.Set(ctx, "x", s); err != nil {
				t.Fatal(err)
			}
			if err := st.Touch(ctx, "x", s); err != nil {
				t.Fatalf("%s: Touch: %v", what, err)
			}
			if _, err := st.Get(ctx, "x"); err != nil {
				t.Fatalf("%s (subdocument %v): Get: %v", what, sub, err)
			}
			doc, _ := db.Collection(name).FindOne(ctx, bson.D{{Key: "_id", Value: "x"}}).Raw()
			if ms, _ := doc.Lookup("expires").DateTimeOK(); ms != 8_640_000_000_000_000 {
				t.Fatalf("%s: expires %d, want the end of the JavaScript Date range", what, ms)
			}
		}
	}
}

// TestSizeLimit: string sessions just under and over the Decoder's limit, a
// subdocument over it, and one of 32 MiB. A server that can measure the
// session (MongoDB 4.4+) must not send it at all; FerretDB cannot, so there
// it arrives once and must be refused before it is copied (the old code
// copied it, then decoded: twice its size).
func TestSizeLimit(t *testing.T) {
	db, _, ferret := database(t)
	ctx := context.Background()
	name := collection(t, db)
	coll := db.Collection(name)
	exp := bson.NewDateTimeFromTime(time.Now().Add(time.Hour))
	put := func(sid string, rec []byte) {
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: sid}, {Key: "session", Value: string(rec)}, {Key: "expires", Value: exp}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, limit := range []int{1000, sessionjson.DefaultMaxBytes} {
		max := limit
		if limit == sessionjson.DefaultMaxBytes {
			max = 0
		}
		storetest.SizeLimit(t, mongostore.New(db, mongostore.Options{Collection: name, Decoder: sessionjson.Decoder{MaxBytes: max}}), limit, put)
	}

	sub := mongostore.New(db, mongostore.Options{Collection: name, Subdocument: true, Decoder: sessionjson.Decoder{MaxBytes: 1000}})
	big := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
	_ = big.Set("pad", strings.Repeat("x", 2000))
	if err := mongostore.New(db, mongostore.Options{Collection: name, Subdocument: true}).Set(ctx, "subdoc", big); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Get(ctx, "subdoc"); !errors.Is(err, sessionjson.ErrTooLarge) {
		t.Fatalf("subdocument over the limit: %v, want ErrTooLarge", err)
	}

	const huge = 32 << 20
	put("huge", []byte(`{"cookie":{},"pad":"`+strings.Repeat("x", huge)+`"}`))
	st := mongostore.New(db, mongostore.Options{Collection: name})
	var err error
	alloc := storetest.Allocated(func() { _, err = st.Get(ctx, "huge") })
	if !errors.Is(err, sessionjson.ErrTooLarge) || errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("32 MiB record: %v, want ErrTooLarge", err)
	}
	measured := mongostore.ServerMeasures(st)
	switch {
	case measured && alloc > 1<<20:
		t.Fatalf("the server measures sessions, yet refusing a 32 MiB one allocated %d bytes", alloc)
	case !measured && ferret && alloc > huge+huge/4:
		t.Fatalf("refusing a 32 MiB record allocated %d bytes; it must not be copied after the driver read it", alloc)
	case !measured && !ferret:
		t.Fatalf("a MongoDB server should evaluate the size projection (4.4+)")
	}
	t.Logf("32 MiB record refused (%v) after allocating %d bytes; server measures the session: %v", err, alloc, measured)
}
