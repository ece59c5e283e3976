package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	sqlstore "github.com/sessionbridge/sessionbridge/stores/sql"
)

// Share sessions with a Node app configured as
//
//	const { ConnectSessionKnexStore } = require('connect-session-knex');
//	const knex = require('knex')({ client: 'mysql2', connection: { host: '127.0.0.1', user: 'app', database: 'app' } });
//	app.use(session({ secret: 'keyboard cat', store: new ConnectSessionKnexStore({ knex }) }));
//
// (It needs a MySQL or MariaDB server, so it has no Output and only
// compiles.)
func ExampleNew() {
	db, err := sql.Open("mysql", "app@tcp(127.0.0.1:3306)/app")
	if err != nil {
		log.Fatal(err)
	}
	store, err := sqlstore.New(db, sqlstore.Options{Preset: sqlstore.Knex(sqlstore.MySQL)})
	if err != nil {
		log.Fatal(err)
	}
	bridge, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: store})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/api/", bridge.RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, _ := sessionbridge.FromContext(r.Context())
		var p struct{ User int }
		_ = sess.Record.Get("passport", &p)
		fmt.Fprintf(w, "hello user %d\n", p.User)
	})))
	// The Node package cleans up expired rows itself; without it running,
	// prune from Go now and then.
	go func() { _, _ = store.Prune(context.Background()) }()
}

// The other presets, with options named after the Node packages'.
func ExampleOptions() {
	for _, opts := range []sqlstore.Options{
		// new MySQLStore({ expiration: 3600000, schema: { tableName: 'web_sessions' } })
		{Preset: sqlstore.ExpressMySQLSession(), TableName: "web_sessions", TTL: 3600e9},
		// new SequelizeStore({ db: sequelize, disableTouch: true })
		{Preset: sqlstore.Sequelize(sqlstore.MySQL), DisableTouch: true},
		// new ConnectSessionKnexStore({ knex, sidFieldName: 'id' })
		{Preset: sqlstore.Knex(sqlstore.MySQL), Columns: sqlstore.Columns{ID: "id"}},
		// new ConnectSessionKnexStore({ knex }) with knex({ client: 'pg', ... })
		{Preset: sqlstore.Knex(sqlstore.Postgres)},
		// new SequelizeStore({ db: new Sequelize({ dialect: 'sqlite', storage }), expiration: 3600000 })
		{Preset: sqlstore.Sequelize(sqlstore.SQLite), TTL: 3600e9},
		// new SqliteStore({ client: new Database('sessions.db') }) (better-sqlite3-session-store)
		{Preset: sqlstore.BetterSQLite3SessionStore()},
	} {
		fmt.Println(opts.Preset)
	}
	// Output:
	// express-mysql-session on MySQL
	// connect-session-sequelize on MySQL
	// connect-session-knex on MySQL
	// connect-session-knex on PostgreSQL
	// connect-session-sequelize on SQLite
	// better-sqlite3-session-store on SQLite
}

// Share sessions with a Node app on PostgreSQL through knex:
//
//	const knex = require('knex')({ client: 'pg', connection: 'postgres://app@127.0.0.1/app' });
//	app.use(session({ secret: 'keyboard cat', store: new ConnectSessionKnexStore({ knex }) }));
//
// (It needs a PostgreSQL server, so it has no Output and only compiles.)
func ExampleKnex() {
	db, err := sql.Open("pgx", "postgres://app@127.0.0.1/app")
	if err != nil {
		log.Fatal(err)
	}
	store, err := sqlstore.New(db, sqlstore.Options{Preset: sqlstore.Knex(sqlstore.Postgres)})
	if err != nil {
		log.Fatal(err)
	}
	bridge, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: store})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/api/", bridge.RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "logged in")
	})))
}

// A Node app's connect-sqlite3 file, shared with Go:
//
//	const SQLiteStore = require('connect-sqlite3')(session);
//	app.use(session({ secret: 'keyboard cat', store: new SQLiteStore({ db: 'sessions', dir: dir }) }));
//
// Here Go creates the table as connect-sqlite3 does, stores a session and
// reads it back; expired holds a number, as node-sqlite3 binds it.
func ExampleConnectSQLite3() {
	dir, err := os.MkdirTemp("", "sessions")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// The Node app and Go share the file: wait for the other's lock.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "sessions")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	store, err := sqlstore.New(db, sqlstore.Options{Preset: sqlstore.ConnectSQLite3(), CreateTableIfMissing: true})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	sess, err := sessionjson.Decode([]byte(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"passport":{"user":7}}`))
	if err != nil {
		log.Fatal(err)
	}
	if err := store.Set(ctx, "Yx2ZG8sVeqkHoIbAEp9QxF9l6-MSVm4e", sess); err != nil {
		log.Fatal(err)
	}
	got, err := store.Get(ctx, "Yx2ZG8sVeqkHoIbAEp9QxF9l6-MSVm4e")
	if err != nil {
		log.Fatal(err)
	}
	var passport struct{ User int }
	_ = got.Get("passport", &passport)
	var storage string
	if err := db.QueryRow("SELECT typeof(expired) FROM sessions").Scan(&storage); err != nil {
		log.Fatal(err)
	}
	fmt.Println("user", passport.User, "expired stored as", storage)
	// Output: user 7 expired stored as real
}
