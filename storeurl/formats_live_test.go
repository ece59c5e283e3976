package storeurl_test

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	sqlstore "github.com/sessionbridge/sessionbridge/stores/sql"
	"github.com/sessionbridge/sessionbridge/storeurl"
)

// dropTable drops table when the test ends.
func dropTable(t *testing.T, db *sql.DB, table string) {
	t.Cleanup(func() { _, _ = db.Exec("DROP TABLE IF EXISTS `" + table + "`") })
}

// columns lists the columns of table, in order.
func columns(t *testing.T, ctx context.Context, db *sql.DB, table string) string {
	t.Helper()
	rows, err := db.QueryContext(ctx, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	return strings.Join(cols, ",")
}

// setGet opens rawURL, stores a browser-session session with a user under
// a new id and reads it back through a second store opened from the same
// URL; the record must come back byte for byte.
func setGet(t *testing.T, ctx context.Context, rawURL string) string {
	t.Helper()
	open := func() sessionbridge.Store {
		st, closer, err := storeurl.Open(ctx, rawURL)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() {
			if err := closer.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return st
	}
	a, b := open(), open()
	sid, _ := sessionbridge.NewID()
	s := sessionjson.New(sessionjson.NewCookie(time.Now(), 0))
	if err := s.Set("passport", map[string]any{"user": "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Set(ctx, sid, s); err != nil {
		t.Fatalf("Set: %v", err)
	}
	want, _ := s.Encode()
	got, err := b.Get(ctx, sid)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if g, _ := got.Encode(); string(g) != string(want) {
		t.Fatalf("read back %s, want %s", g, want)
	}
	return sid
}

// TestLiveMySQLFormats: each MySQL preset, opened from its URL on MariaDB,
// creates its table where the URL's options say (knex's createTable,
// express-mysql-session's createDatabaseTable, with its column names) and
// round-trips a session; the expiry follows the URL's expiration.
func TestLiveMySQLFormats(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base, db := services.MariaDB(t)

	t.Run("connect-session-knex", func(t *testing.T) {
		table := uniq(t)
		dropTable(t, db, table)
		u := base + "?format=connect-session-knex&tableName=" + table + "&sidFieldName=id&createTable=true&cleanupInterval=0&timeout=5s&touchAfter=60"
		sid := setGet(t, ctx, u)
		if got := columns(t, ctx, db, table); got != "id,sess,expired" {
			t.Fatalf("columns %s, want id,sess,expired", got)
		}
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM `"+table+"` WHERE id = ? AND expired > UTC_TIMESTAMP() + INTERVAL 23 HOUR", sid).Scan(&n); err != nil || n != 1 {
			t.Fatalf("knex's row with a one-day expiry: %d (%v)", n, err)
		}
		// Negative control: without createTable, a missing table is an error.
		st, closer, err := storeurl.Open(ctx, base+"?format=connect-session-knex&createTable=false&tableName="+table+"_none")
		if err != nil {
			t.Fatal(err)
		}
		defer closer.Close()
		if err := st.Set(ctx, sid, sessionjson.New(sessionjson.NewCookie(time.Now(), 0))); !errors.Is(err, sqlstore.ErrNoTable) {
			t.Fatalf("createTable=false on a missing table: %v, want ErrNoTable", err)
		}
	})

	t.Run("express-mysql-session", func(t *testing.T) {
		table := uniq(t)
		dropTable(t, db, table)
		u := base + "?format=express-mysql-session&schema.tableName=" + table +
			"&schema.columnNames.session_id=sid&schema.columnNames.expires=exp&schema.columnNames.data=sess" +
			"&expiration=120000&createDatabaseTable=true&clearExpired=false&disableTouch=false&parseTime=true&interpolateParams=true"
		before := time.Now().Unix()
		sid := setGet(t, ctx, u)
		if got := columns(t, ctx, db, table); got != "sid,exp,sess" {
			t.Fatalf("columns %s, want sid,exp,sess", got)
		}
		var exp int64
		if err := db.QueryRowContext(ctx, "SELECT exp FROM `"+table+"` WHERE sid = ?", sid).Scan(&exp); err != nil {
			t.Fatal(err)
		}
		if exp < before+119 || exp > time.Now().Unix()+121 {
			t.Fatalf("expires %d, want now + 120 s (expiration=120000)", exp)
		}
	})

	t.Run("connect-session-sequelize", func(t *testing.T) {
		table := uniq(t)
		dropTable(t, db, table)
		// Node creates the table with sequelize's sync(); so does Go's
		// CreateTable.
		st, err := sqlstore.New(db, sqlstore.Options{Preset: sqlstore.Sequelize(sqlstore.MySQL), TableName: table})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateTable(ctx); err != nil {
			t.Fatal(err)
		}
		before := time.Now().UTC().Truncate(time.Second)
		sid := setGet(t, ctx, base+"?format=connect-session-sequelize&tableName="+table+"&expiration=3600000&disableTouch=true&checkExpirationInterval=0")
		var exp string
		if err := db.QueryRowContext(ctx, "SELECT CAST(expires AS CHAR) FROM `"+table+"` WHERE sid = ?", sid).Scan(&exp); err != nil {
			t.Fatal(err)
		}
		e, err := time.Parse(time.DateTime, exp)
		if err != nil || e.Before(before.Add(time.Hour)) || e.After(time.Now().Add(time.Hour+time.Second)) {
			t.Fatalf("expires %s (%v), want now + 1 h (expiration=3600000)", exp, err)
		}
	})
}

// TestLiveMySQLOpenErrors: a refused login and a closed port are
// ErrUnavailable, and the message shows neither the user name nor the
// password.
func TestLiveMySQLOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base, _ := services.MariaDB(t)
	host := base[strings.LastIndexByte(base, '@')+1:]
	for _, u := range []string{
		"mysql://nobodyUsrK9q:PwA7xSSW0RDZq8Jv@" + host + "?format=connect-session-knex&timeout=5s",
		"mysql://nobodyUsrK9q:PwA7xSSW0RDZq8Jv@127.0.0.1:1/test?format=express-mysql-session&timeout=2s",
	} {
		_, _, err := storeurl.Open(ctx, u)
		if !errors.Is(err, storeurl.ErrUnavailable) {
			t.Fatalf("Open: %v, want ErrUnavailable", err)
		}
		if piece, ok := leaked(err.Error()); ok || strings.Contains(err.Error(), "nobody") {
			t.Fatalf("the error shows %q: %v", piece, err)
		}
	}
}

// TestLiveMongoDBSessionFormat: format=connect-mongodb-session writes
// connect-mongodb-session's document where the URL's options say: the id
// in idField, the session as an embedded document, the expiry Date in
// expiresKey at now + expires; and reads it back.
func TestLiveMongoDBSessionFormat(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base, _ := services.MongoURL(t)
	c, err := mongo.Connect(options.Client().ApplyURI(base))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Disconnect(context.Background()) }()
	db, coll := "sessionbridge_test", uniq(t)
	t.Cleanup(func() { _ = c.Database(db).Collection(coll).Drop(context.Background()) })
	u := strings.TrimSuffix(base, "/") + "/notthisdb?format=connect-mongodb-session&databaseName=" + db +
		"&collection=" + coll + "&idField=sid&expiresKey=expireAt&expires=60000&touchAfter=60"
	before := time.Now().Truncate(time.Millisecond)
	sid := setGet(t, ctx, u)
	var doc bson.M
	if err := c.Database(db).Collection(coll).FindOne(ctx, bson.D{{Key: "sid", Value: sid}}).Decode(&doc); err != nil {
		t.Fatalf("no document with sid in %s.%s: %v", db, coll, err)
	}
	if _, ok := doc["session"].(bson.D); !ok {
		t.Errorf("session is %T, want an embedded document: %v", doc["session"], doc)
	}
	exp, ok := doc["expireAt"].(bson.DateTime)
	if !ok {
		t.Fatalf("expireAt is %T, want a Date: %v", doc["expireAt"], doc)
	}
	if e := exp.Time(); e.Before(before.Add(time.Minute)) || e.After(time.Now().Add(time.Minute)) {
		t.Errorf("expireAt %v, want now + 60 s (expires=60000)", e)
	}
	if _, ok := doc["expires"]; ok {
		t.Errorf("an expires field too: %v", doc)
	}
	if n, _ := c.Database("notthisdb").Collection(coll).CountDocuments(ctx, bson.D{}); n != 0 {
		t.Error("the session was written to the URL's database, not databaseName's")
	}
	// An idField the store cannot use is the URL's fault.
	_, _, err = storeurl.Open(ctx, strings.TrimSuffix(base, "/")+"/"+db+"?format=connect-mongodb-session&idField=$bad")
	if !errors.Is(err, storeurl.ErrBadURL) || !strings.Contains(err.Error(), "IDField") {
		t.Fatalf("idField=$bad: %v, want ErrBadURL", err)
	}
}

// TestLiveSQLiteFormats: each SQLite preset, opened from its URL on a
// database file, creates its table (connect-sqlite3 and
// better-sqlite3-session-store always, knex with createTable) and
// round-trips a session; without createTable no file is created.
func TestLiveSQLiteFormats(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	for _, tc := range []struct{ format, query, table string }{
		{"connect-session-knex", "&tableName=knex_s&sidFieldName=id&cleanupInterval=0", "knex_s"},
		{"connect-sqlite3", "&table=sq3", "sq3"},
		{"better-sqlite3-session-store", "", "sessions"},
		{"connect-session-sequelize", "&tableName=Seq&expiration=60000", "Seq"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			file := dir + "/" + tc.format + " #1.db"
			u := "sqlite://" + strings.ReplaceAll(url.PathEscape(file), "%2F", "/") + "?format=" + tc.format + tc.query
			if tc.format == "connect-session-sequelize" {
				// Node creates the table with sequelize's sync(); so
				// does Go's CreateTable.
				db, err := sql.Open("sqlite", storeurl.SQLiteDSNForTest(file))
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				st, err := sqlstore.New(db, sqlstore.Options{Preset: sqlstore.Sequelize(sqlstore.SQLite), TableName: tc.table})
				if err != nil {
					t.Fatal(err)
				}
				if err := st.CreateTable(ctx); err != nil {
					t.Fatal(err)
				}
			}
			sid := setGet(t, ctx, u)
			db, err := sql.Open("sqlite", storeurl.SQLiteDSNForTest(file))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var n int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+tc.table+`"`).Scan(&n); err != nil || n != 1 {
				t.Fatalf("%s holds %d rows (%v), want the session %s", tc.table, n, err, sid)
			}
		})
	}
	// Negative control: knex with createTable=false neither creates the
	// file nor the table.
	file := dir + "/none.db"
	_, _, err := storeurl.Open(ctx, "sqlite://"+file+"?format=connect-session-knex&createTable=false")
	if !errors.Is(err, storeurl.ErrUnavailable) {
		t.Fatalf("createTable=false on a missing file: %v, want ErrUnavailable", err)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the file was created: %v", err)
	}
}

// TestLivePostgresSQLFormats: knex and sequelize on PostgreSQL, opened
// from postgres:// URLs with format=, round-trip a session in the table
// the URL names (knex creating it).
func TestLivePostgresSQLFormats(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := services.PostgresURL(t)
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	for _, tc := range []struct{ format, query string }{
		{"connect-session-knex", "&createTable=true&tableName="},
		{"connect-session-sequelize", "&tableName="},
	} {
		t.Run(tc.format, func(t *testing.T) {
			table := uniq(t)
			t.Cleanup(func() { _, _ = db.Exec(`DROP TABLE IF EXISTS "` + table + `"`) })
			if tc.format == "connect-session-sequelize" {
				st, err := sqlstore.New(db, sqlstore.Options{Preset: sqlstore.Sequelize(sqlstore.Postgres), TableName: table})
				if err != nil {
					t.Fatal(err)
				}
				if err := st.CreateTable(ctx); err != nil {
					t.Fatal(err)
				}
			}
			sid := setGet(t, ctx, base+sep+"format="+tc.format+tc.query+table)
			var n int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+table+`" WHERE sid = $1`, sid).Scan(&n); err != nil || n != 1 {
				t.Fatalf("%s holds %d rows for the session (%v)", table, n, err)
			}
		})
	}
}
