package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/condtest"
	sqlstore "github.com/sessionbridge/sessionbridge/stores/sql"
)

// TestSizeLimit: records of exactly the Decoder's limit and one byte over
// it, for each preset (sequelize's TEXT column on MariaDB widened for the
// default 4 MiB limit), and a record of 8 MiB that the database must not
// send: the query returns only its length.
func TestSizeLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			f := e.table(t, k)
			st := f.store(t, sqlstore.Options{})
			if k.name == "sequelize" {
				if _, err := f.db.Exec("ALTER TABLE `" + f.name + "` MODIFY `data` LONGTEXT"); err != nil {
					t.Fatal(err)
				}
			}
			if k.name == "sequelize-pg" {
				if _, err := f.db.Exec(`ALTER TABLE "` + f.name + `" ALTER COLUMN "sid" TYPE VARCHAR(128)`); err != nil {
					t.Fatal(err)
				}
			}
			for _, limit := range []int{1000, sessionjson.DefaultMaxBytes} {
				maxBytes := limit
				if limit == sessionjson.DefaultMaxBytes {
					maxBytes = 0
				}
				lst := f.open(t, sqlstore.Options{Decoder: sessionjson.Decoder{MaxBytes: maxBytes}})
				storetest.SizeLimit(t, lst, limit, func(sid string, rec []byte) { f.put(t, st, sid, string(rec)) })
				if _, _, err := lst.GetVersion(context.Background(), "over1000"); limit == 1000 && !errors.Is(err, sessionjson.ErrTooLarge) {
					t.Fatalf("GetVersion of a record over the limit: %v", err)
				}
			}
		})
	}
}

// TestHugeRecordNotSent: a record of 8 MiB, over the default 4 MiB
// limit, that the database must not send: the query returns only its
// length, and Get allocates a trifle; with MaxBytes -1 it reads the whole
// record. Not parallel: the allocation count is the whole process's.
func TestHugeRecordNotSent(t *testing.T) {
	e := newEnv(t)
	for _, k := range kinds {
		switch k.name {
		case "express-mysql-session":
			continue // mediumtext: TestSizeLimit's 4 MiB limit and one byte over are the largest records it holds
		case "knex-sqlite", "sequelize-sqlite", "better-sqlite3-session-store":
			// The SQLite presets share one query (length(CAST(... AS
			// BLOB))), whatever the column's affinity; connect-sqlite3's
			// untyped column stands for them, as SQLite under the race
			// detector takes seconds to make and read 8 MiB.
			continue
		}
		t.Run(k.name, func(t *testing.T) {
			f := e.table(t, k)
			st := f.store(t, sqlstore.Options{})
			if k.name == "sequelize" {
				if _, err := f.db.Exec("ALTER TABLE `" + f.name + "` MODIFY `data` LONGTEXT"); err != nil {
					t.Fatal(err)
				}
			}
			// Made by the server, so the test does not send 8 MiB.
			tblq, id, data, exp := sqlstore.Names(st)
			huge := map[backend]string{
				mariadb:  "CONCAT('{\"cookie\":{},\"pad\":\"', REPEAT('x', 8 << 20), '\"}')",
				postgres: `'{"cookie":{},"pad":"' || repeat('x', 8 << 20) || '"}'`,
				sqlite:   `'{"cookie":{},"pad":"' || replace(hex(zeroblob(4 << 20)), '0', 'x') || '"}'`,
			}[k.db]
			if k.name == "knex-pg" {
				huge = "(" + huge + ")::json"
			}
			cols, vals := id+", "+data+", "+exp, "'huge', "+huge+", "+f.ph(1)
			args := []any{sqlstore.ExpiryParam(st, time.Now().Add(time.Hour).UnixMilli())}
			if k.pkg == "sequelize" {
				cols += ", " + f.quote("createdAt") + ", " + f.quote("updatedAt")
				vals += ", " + f.ph(2) + ", " + f.ph(3)
				stamp := sqlstore.StampParam(st, time.Now().UnixMilli())
				args = append(args, stamp, stamp)
			}
			if _, err := f.db.Exec("INSERT INTO "+tblq+" ("+cols+") SELECT "+vals, args...); err != nil {
				t.Fatal(err)
			}
			var err error
			alloc := storetest.Allocated(func() { _, err = st.Get(context.Background(), "huge") })
			if !errors.Is(err, sessionjson.ErrTooLarge) || errors.Is(err, sessionbridge.ErrNotFound) {
				t.Fatalf("8 MiB record: %v, want ErrTooLarge", err)
			}
			if alloc > 1<<20 {
				t.Fatalf("refusing an 8 MiB record allocated %d bytes; the database must not send it", alloc)
			}
			unlimited := f.open(t, sqlstore.Options{Decoder: sessionjson.Decoder{MaxBytes: -1}})
			if s, err := unlimited.Get(context.Background(), "huge"); err != nil || !s.Has("pad") {
				t.Fatalf("MaxBytes -1 on the 8 MiB record: %v", err)
			}
			t.Logf("8 MiB record refused (%v) after allocating %d bytes; read whole with MaxBytes -1", err, alloc)
		})
	}
}

// TestBadInput: a missing table is ErrNoTable (through a Bridge, a store
// failure), a record Node's JSON.parse would refuse is malformed and left
// in place, and a NULL record is no session, as the Node packages' get
// answers (null).
func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			f := e.table(t, k)
			missingF := *f
			missingF.name = "sbtest_missing_table"
			if k.pkg == "better-sqlite3-session-store" {
				missingF.name = "" // its fixed name, in a file without it
			}
			missing := missingF.open(t, sqlstore.Options{})
			s := condtest.NewSession(t, time.Now(), time.Hour)
			if _, err := missing.Get(ctx, "x"); !errors.Is(err, sqlstore.ErrNoTable) {
				t.Fatalf("missing table: %v", err)
			}
			for op, err := range map[string]error{
				"set": missing.Set(ctx, "x", s), "touch": missing.Touch(ctx, "x", s), "destroy": missing.Destroy(ctx, "x"),
			} {
				if !errors.Is(err, sqlstore.ErrNoTable) {
					t.Fatalf("%s on a missing table: %v", op, err)
				}
			}
			b, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"s"}, Store: missing})
			if _, err := b.LoadID(ctx, "x"); !errors.Is(err, sessionbridge.ErrStore) || !errors.Is(err, sqlstore.ErrNoTable) {
				t.Fatalf("missing table through the Bridge: %v", err)
			}
			// In another schema or attached database that is not there.
			if k.db != mariadb && k.pkg != "better-sqlite3-session-store" && k.pkg != "sequelize" {
				other := f.open(t, sqlstore.Options{TableName: "sbtest_no_schema.t"})
				if _, err := other.Get(ctx, "x"); !errors.Is(err, sqlstore.ErrNoTable) {
					t.Fatalf("missing schema: %v", err)
				}
			}

			st := f.store(t, sqlstore.Options{})
			// Only JSON on knex's json column (MariaDB's json_valid check,
			// PostgreSQL's json type).
			jsonOnly := k.pkg == "knex" && k.db != sqlite
			for sid, rec := range map[string]string{
				"nocookie": `{"passport":{"user":1}}`,
				"badtype":  `{"cookie":{"expires":12}}`,
				"array":    `[1,2]`,
				"nonjson":  `{"cookie":`,
			} {
				if jsonOnly && sid == "nonjson" {
					continue
				}
				f.put(t, st, sid, rec)
				if _, err := st.Get(ctx, sid); !errors.Is(err, sessionjson.ErrMalformed) {
					t.Errorf("%s: %v, want ErrMalformed", sid, err)
				}
				if _, _, ok := f.raw(t, st, sid); !ok {
					t.Errorf("%s: the bad row was removed; Go must leave it", sid)
				}
			}
			// sess is NOT NULL for knex and better-sqlite3-session-store.
			if k.pkg != "knex" && k.pkg != "better-sqlite3-session-store" {
				f.put(t, st, "null", nil)
				if _, err := st.Get(ctx, "null"); !errors.Is(err, sessionbridge.ErrNotFound) {
					t.Errorf("NULL record: %v, want ErrNotFound", err)
				}
				if k.db == sqlite {
					if got := str(t, f.node(t).do(t, "get", map[string]any{"store": f.spec(nil), "sid": "null"})); got != "" {
						t.Errorf("Node read the NULL record as %q", got)
					}
				}
			}
		})
	}
}

// TestSequelizeLimits: connect-session-sequelize's table holds ids of 36
// characters on MariaDB and PostgreSQL (VARCHAR(36)) and records of
// 65,535 bytes on MariaDB (TEXT; PostgreSQL's is unlimited; SQLite
// enforces neither). The database (MariaDB strict, its default) refuses a
// 37-character id and, on MariaDB, a 65,536-byte record, to Node as to
// Go; Go's error names neither the id nor the record.
func TestSequelizeLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for _, k := range kinds {
		if k.pkg != "sequelize" {
			continue
		}
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			f := e.table(t, k)
			st := f.store(t, sqlstore.Options{})
			node := f.node(t)
			sp := f.spec(nil)
			id36, id37 := strings.Repeat("a", 36), "SECRETID"+strings.Repeat("b", 29)
			rec := func(n int) string {
				return string(storetest.Record(n, time.Now().Add(time.Hour)))
			}
			for _, c := range []struct {
				name, sid, rec string
				ok             bool
			}{
				{"36-character id", id36, rec(200), true},
				{"37-character id", id37, rec(200), k.db == sqlite},
				{"65,535-byte record", "r1", rec(65535), true},
				{"65,536-byte record", "r2", rec(65536), k.db != mariadb},
			} {
				_, nodeErr := node.try(t, "set", map[string]any{"store": sp, "sid": c.sid, "record": c.rec})
				node.do(t, "destroy", map[string]any{"store": sp, "sid": c.sid})
				s, err := sessionjson.Decode([]byte(c.rec))
				if err != nil {
					t.Fatal(err)
				}
				goErr := st.Set(ctx, c.sid, s)
				if (nodeErr == nil) != c.ok || (goErr == nil) != c.ok {
					t.Fatalf("%s: Node %v, Go %v; want success %t for both", c.name, nodeErr, goErr, c.ok)
				}
				if goErr != nil && (strings.Contains(goErr.Error(), c.sid) || strings.Contains(goErr.Error(), "xxxxxxxxxx")) {
					t.Fatalf("%s: the error names the id or the record: %v", c.name, goErr)
				}
				if c.ok {
					if _, err := st.Get(ctx, c.sid); err != nil {
						t.Fatalf("%s: %v", c.name, err)
					}
				}
				t.Logf("%s: Node %v; Go %v", c.name, nodeErr, goErr)
			}
		})
	}
}

// TestOptions: what New refuses (ErrOptions): no preset, an option the
// npm package does not have, a column it cannot rename, a table name it
// cannot change; and the columns it can rename, used by Node and Go
// alike.
func TestOptions(t *testing.T) {
	t.Parallel()
	db := &sql.DB{} // New does no I/O
	knex, mysql, sequelize := sqlstore.Knex(sqlstore.MySQL), sqlstore.ExpressMySQLSession(), sqlstore.Sequelize(sqlstore.MySQL)
	csqlite3, better := sqlstore.ConnectSQLite3(), sqlstore.BetterSQLite3SessionStore()
	for name, opts := range map[string]sqlstore.Options{
		"no preset":                                {},
		"unknown dialect":                          {Preset: sqlstore.Knex(sqlstore.Dialect(99))},
		"knex TTL":                                 {Preset: knex, TTL: time.Hour},
		"knex DisableTouch":                        {Preset: knex, DisableTouch: true},
		"knex Columns.Data":                        {Preset: knex, Columns: sqlstore.Columns{Data: "d"}},
		"knex Columns.Expires":                     {Preset: knex, Columns: sqlstore.Columns{Expires: "e"}},
		"knex-pg TTL":                              {Preset: sqlstore.Knex(sqlstore.Postgres), TTL: time.Hour},
		"knex-sqlite Columns.Data":                 {Preset: sqlstore.Knex(sqlstore.SQLite), Columns: sqlstore.Columns{Data: "d"}},
		"sequelize Columns.ID":                     {Preset: sequelize, Columns: sqlstore.Columns{ID: "id"}},
		"sequelize-pg Columns.Expires":             {Preset: sqlstore.Sequelize(sqlstore.Postgres), Columns: sqlstore.Columns{Expires: "e"}},
		"express-mysql-session TTL < 0":            {Preset: mysql, TTL: -time.Second},
		"connect-sqlite3 TTL":                      {Preset: csqlite3, TTL: time.Hour},
		"connect-sqlite3 DisableTouch":             {Preset: csqlite3, DisableTouch: true},
		"connect-sqlite3 Columns.ID":               {Preset: csqlite3, Columns: sqlstore.Columns{ID: "id"}},
		"better-sqlite3-session-store TableName":   {Preset: better, TableName: "web_sessions"},
		"better-sqlite3-session-store TTL":         {Preset: better, TTL: time.Hour},
		"better-sqlite3-session-store Columns.Exp": {Preset: better, Columns: sqlstore.Columns{Expires: "expired"}},
	} {
		if _, err := sqlstore.New(db, opts); !errors.Is(err, sqlstore.ErrOptions) {
			t.Errorf("%s: %v, want ErrOptions", name, err)
		}
	}
	if _, err := sqlstore.New(nil, sqlstore.Options{Preset: knex}); !errors.Is(err, sqlstore.ErrOptions) {
		t.Errorf("nil db: %v", err)
	}
	for _, opts := range []sqlstore.Options{
		{Preset: knex, Columns: sqlstore.Columns{ID: "sid"}}, // the default, named
		{Preset: mysql, TTL: time.Hour, DisableTouch: true, Columns: sqlstore.Columns{ID: "i", Data: "d", Expires: "e"}},
		{Preset: sequelize, TTL: time.Hour, DisableTouch: true},
		{Preset: sqlstore.Sequelize(sqlstore.SQLite), TTL: time.Hour, DisableTouch: true},
		{Preset: sqlstore.Knex(sqlstore.Postgres), Columns: sqlstore.Columns{ID: "id"}},
		{Preset: csqlite3, TableName: "web_sessions"},
		{Preset: better, TableName: "sessions"}, // the fixed name, named
	} {
		if _, err := sqlstore.New(db, opts); err != nil {
			t.Errorf("%v: %v", opts.Preset, err)
		}
	}
	for p, want := range map[sqlstore.Preset]string{
		sqlstore.Knex(sqlstore.Dialect(99)):     "connect-session-knex on Dialect(99)",
		sqlstore.Knex(sqlstore.Postgres):        "connect-session-knex on PostgreSQL",
		sqlstore.Sequelize(sqlstore.SQLite):     "connect-session-sequelize on SQLite",
		csqlite3:                                "connect-sqlite3 on SQLite",
		better:                                  "better-sqlite3-session-store on SQLite",
		sqlstore.Preset{}:                       "no preset",
		sqlstore.ExpressMySQLSession():          "express-mysql-session on MySQL",
		sqlstore.Knex(sqlstore.SQLite):          "connect-session-knex on SQLite",
		sqlstore.Sequelize(sqlstore.Postgres):   "connect-session-sequelize on PostgreSQL",
		sqlstore.Sequelize(sqlstore.Dialect(0)): "connect-session-sequelize on Dialect(0)",
	} {
		if got := p.String(); got != want {
			t.Errorf("String: %q, want %q", got, want)
		}
	}
}

// TestRenamedColumns: the renames the packages allow (sidFieldName;
// express-mysql-session's columnNames), Node writing and Go reading and
// the other way round, on tables each created.
func TestRenamedColumns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	sidFn := map[string]any{"sidFieldName": "session_key"}
	for _, c := range []struct {
		k       kind
		cols    sqlstore.Columns
		options map[string]any
	}{
		{kindNamed("knex"), sqlstore.Columns{ID: "session_key"}, sidFn},
		{kindNamed("knex-pg"), sqlstore.Columns{ID: "session_key"}, sidFn},
		{kindNamed("knex-sqlite"), sqlstore.Columns{ID: "session_key"}, sidFn},
		{kindNamed("express-mysql-session"), sqlstore.Columns{ID: "i`d", Data: "payload", Expires: "until"}, map[string]any{"schema": map[string]any{"columnNames": map[string]any{"session_id": "i`d", "data": "payload", "expires": "until"}}}},
	} {
		t.Run(c.k.name, func(t *testing.T) {
			t.Parallel()
			nodeF := e.table(t, c.k)
			goF := nodeF.sibling(t)
			st := goF.store(t, sqlstore.Options{Columns: c.cols})
			nst := nodeF.open(t, sqlstore.Options{Columns: c.cols})
			node := nodeF.node(t)
			node.do(t, "open", map[string]any{"store": nodeF.spec(c.options)})
			nodeCreate, nodeCatalog := describe(t, nodeF)
			goCreate, goCatalog := describe(t, goF)
			if nodeCreate != goCreate || nodeCatalog != goCatalog {
				t.Fatalf("tables differ:\nNode %s\n%s\n  Go %s\n%s", nodeCreate, nodeCatalog, goCreate, goCatalog)
			}
			rec := record(time.Now().Add(time.Hour), 3600000, `"passport":{"user":7}`)
			node.do(t, "set", map[string]any{"store": nodeF.spec(c.options), "sid": "n", "record": rec})
			if s, err := nst.Get(ctx, "n"); err != nil {
				t.Fatalf("Go cannot read Node's row: %v", err)
			} else if b, _ := s.Encode(); string(b) != rec {
				t.Fatalf("Go read %s", b)
			}
			s, _ := sessionjson.Decode([]byte(rec))
			if err := st.Set(ctx, "g", s); err != nil {
				t.Fatal(err)
			}
			if _, err := nodeF.db.Exec("INSERT INTO " + nodeF.quote(nodeF.name) + " SELECT * FROM " + goF.quote(goF.name)); err != nil {
				t.Fatal(err)
			}
			if got := str(t, node.do(t, "get", map[string]any{"store": nodeF.spec(c.options), "sid": "g"})); got != rec {
				t.Fatalf("Node read Go's row as %q", got)
			}
		})
	}
}
