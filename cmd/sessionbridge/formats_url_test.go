package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/services"
)

// TestHelpStoresFormats: the store help names every format= and the
// options of the SQL presets and of connect-mongodb-session.
func TestHelpStoresFormats(t *testing.T) {
	u := sb(t, "help", "stores").want(t, 0).stdout
	for _, s := range []string{
		"mysql://user[:pass]@host:port/db?format=", "mariadb://", "sqlite:///abs/file.db", "sqlite:rel/file.db",
		"connect-session-knex", "express-mysql-session", "connect-session-sequelize", "connect-sqlite3",
		"better-sqlite3-session-store", "connect-mongodb-session",
		"sidFieldName", "createTable", "cleanupInterval", "schema.tableName", "schema.columnNames.session_id|expires|data",
		"expiration", "createDatabaseTable", "clearExpired", "checkExpirationInterval",
		"idField", "expiresKey", "databaseName", "readTimeout", "interpolateParams",
	} {
		if !strings.Contains(u, s) {
			t.Errorf("help stores lacks %s", s)
		}
	}
}

// TestBridgeConfigFormats: the Bridge gets the touchAfter of the new URLs.
func TestBridgeConfigFormats(t *testing.T) {
	for u, want := range map[string]time.Duration{
		"mysql://root@h/test?format=connect-session-knex&touchAfter=120":            2 * time.Minute,
		"mysql://root@h/test?format=express-mysql-session":                          0,
		"mongodb://h/db?format=connect-mongodb-session&touchAfter=60":               time.Minute,
		"mariadb://root@h/test?format=connect-session-sequelize&touchAfter=1h30m0s": 90 * time.Minute,
	} {
		f := flags{store: u, cookieName: "sid", timeout: time.Second, secrets: secretList{secret}}
		spec, err := spec(&f)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if cfg := bridgeConfig(&f, spec, sessionbridge.NewMemoryStore(), time.Hour); cfg.TouchAfter != want {
			t.Errorf("%s: TouchAfter %v, want %v", u, cfg.TouchAfter, want)
		}
	}
}

// TestMintInspectMariaDB: mint writes a session through each MySQL preset
// of the URL (express-mysql-session creating its table, as with
// createDatabaseTable), and inspect reads it back: the record the table
// holds, the user, the cookie's expiry; a forged cookie and an unknown
// session are refused.
func TestMintInspectMariaDB(t *testing.T) {
	ctx := context.Background()
	base, db := services.MariaDB(t)
	for _, tc := range []struct{ format, query, table, data, id string }{
		{"express-mysql-session", "&createDatabaseTable=true&schema.tableName=", "", "data", "session_id"},
		{"connect-session-knex", "&createTable=true&tableName=", "", "sess", "sid"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			table := uniq("sbcli_")
			t.Cleanup(func() { _, _ = db.Exec("DROP TABLE IF EXISTS `" + table + "`") })
			storeURL := base + "?format=" + tc.format + tc.query + table
			m := decodeMint(t, sb(t, "mint", "--store", storeURL, "--secret", secret, "--max-age", "3600000",
				"--user", `{"id":7,"name":"Alice"}`, "--data", `{"cart":[1,2]}`).want(t, 0))
			var rec string
			if err := db.QueryRowContext(ctx, "SELECT `"+tc.data+"` FROM `"+table+"` WHERE `"+tc.id+"` = ?", m.Sid).Scan(&rec); err != nil {
				t.Fatalf("the minted session is not in %s: %v", table, err)
			}
			got := decodeInspect(t, sb(t, "inspect", "--store", storeURL, "--secret", secret, m.Cookie).want(t, 0))
			if got.Sid != m.Sid || !got.LoggedIn || string(got.User) != `{"id":7,"name":"Alice"}` || string(got.Session) != rec {
				t.Fatalf("inspect: %+v\nrecord %s", got, rec)
			}
			if got.Expires == nil {
				t.Fatalf("inspect shows no expiry: %+v", got)
			}
			if !strings.Contains(rec, `"cart":[1,2]`) {
				t.Fatalf("record %s", rec)
			}
			// Negative controls: another secret, an id with no session.
			sb(t, "inspect", "--store", storeURL, "--secret", "another secret", m.Cookie).want(t, 2)
			sb(t, "inspect", "--store", storeURL, "--secret", secret, cookieFor(fakeSid)).want(t, 3)
		})
	}
}

// TestMintInspectMongoDBSession: mint and inspect through
// format=connect-mongodb-session on the MongoDB-wire server: the document
// is connect-mongodb-session's (an embedded session, a Date expiry).
func TestMintInspectMongoDBSession(t *testing.T) {
	ctx := context.Background()
	base, _ := services.MongoURL(t)
	c, err := mongo.Connect(options.Client().ApplyURI(base).SetTimeout(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	const dbName = "sessionbridge_cli_test"
	coll := uniq("s_")
	t.Cleanup(func() { _ = c.Database(dbName).Collection(coll).Drop(context.Background()) })
	storeURL := strings.TrimSuffix(base, "/") + "/" + dbName + "?format=connect-mongodb-session&collection=" + coll
	m := decodeMint(t, sb(t, "mint", "--store", storeURL, "--secret", secret, "--max-age", "3600000", "--user", "7").want(t, 0))
	var doc struct {
		Session bson.M
		Expires bson.DateTime
	}
	if err := c.Database(dbName).Collection(coll).FindOne(ctx, bson.D{{Key: "_id", Value: m.Sid}}).Decode(&doc); err != nil {
		t.Fatalf("the minted document: %v", err)
	}
	if doc.Session["passport"] == nil || doc.Expires.Time().Before(time.Now().Add(59*time.Minute)) {
		t.Fatalf("document %+v", doc)
	}
	got := decodeInspect(t, sb(t, "inspect", "--store", storeURL, "--secret", secret, m.Cookie).want(t, 0))
	if got.Sid != m.Sid || !got.LoggedIn || string(got.User) != "7" {
		t.Fatalf("inspect: %+v", got)
	}
	sb(t, "inspect", "--store", storeURL, "--secret", secret, cookieFor(fakeSid)).want(t, 3)
}

// TestMintInspectSQLite: mint then inspect through each sqlite format
// that creates its table (connect-sqlite3, better-sqlite3-session-store,
// connect-session-knex), on a new database file.
func TestMintInspectSQLite(t *testing.T) {
	dir := t.TempDir()
	for _, format := range []string{"connect-sqlite3", "better-sqlite3-session-store", "connect-session-knex"} {
		t.Run(format, func(t *testing.T) {
			storeURL := "sqlite://" + dir + "/" + format + ".db?format=" + format
			m := decodeMint(t, sb(t, "mint", "--store", storeURL, "--secret", secret, "--max-age", "600000", "--user", "7").want(t, 0))
			got := decodeInspect(t, sb(t, "inspect", "--store", storeURL, "--secret", secret, m.Cookie).want(t, 0))
			if got.Sid != m.Sid || !got.LoggedIn || string(got.User) != "7" || got.Expires == nil {
				t.Fatalf("inspect: %+v", got)
			}
			sb(t, "inspect", "--store", storeURL, "--secret", secret, cookieFor(fakeSid)).want(t, 3)
		})
	}
	// sequelize's table comes from the Node app's sync(): inspect on a
	// file without it is a store error, and creates no file.
	r := sb(t, "inspect", "--store", "sqlite://"+dir+"/none.db?format=connect-session-sequelize", "--secret", secret, cookieFor(fakeSid)).want(t, 1)
	if !strings.Contains(r.stderr, "store") {
		t.Fatalf("stderr %q", r.stderr)
	}
}
