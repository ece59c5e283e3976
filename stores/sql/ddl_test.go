package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	sqlstore "github.com/sessionbridge/sessionbridge/stores/sql"
)

// describe is what the database's catalog says of the fixture's table,
// with its name replaced by TABLE: the CREATE statement where the
// database keeps one, and the columns, constraints and indexes.
func describe(t *testing.T, f *fixture) (create, catalog string) {
	t.Helper()
	switch f.k.db {
	case postgres:
		return "", describePG(t, f.db, f.name)
	case sqlite:
		return describeSQLite(t, f.db, f.name)
	}
	return describeMariaDB(t, f.db, f.name)
}

// lines runs q and writes each row, its columns joined by " | ", prefixed.
func lines(t *testing.T, b *strings.Builder, db *sql.DB, prefix, q string, args ...any) {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out := make([]string, len(vals))
		for i, v := range vals {
			out[i] = v.String
			if !v.Valid {
				out[i] = "NULL"
			}
		}
		fmt.Fprintf(b, "%s %s\n", prefix, strings.Join(out, " | "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// describeMariaDB: SHOW CREATE TABLE and information_schema's columns,
// indexes and table options.
func describeMariaDB(t *testing.T, db *sql.DB, table string) (create, catalog string) {
	t.Helper()
	var name string
	if err := db.QueryRow("SHOW CREATE TABLE `"+table+"`").Scan(&name, &create); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	lines(t, &b, db, "column", `SELECT column_name, column_type, is_nullable, coalesce(column_default, 'NULL'),
		coalesce(character_set_name, ''), coalesce(collation_name, ''), column_key, extra
		FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position`, table)
	lines(t, &b, db, "index", `SELECT index_name, non_unique, seq_in_index, column_name, index_type
		FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? ORDER BY index_name, seq_in_index`, table)
	lines(t, &b, db, "table", `SELECT engine, table_collation, create_options FROM information_schema.tables
		WHERE table_schema = DATABASE() AND table_name = ?`, table)
	norm := strings.NewReplacer(table, "TABLE")
	return norm.Replace(create), norm.Replace(b.String())
}

// describePG: information_schema's columns, pg_catalog's constraints and
// pg_indexes' definitions.
func describePG(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	var b strings.Builder
	lines(t, &b, db, "column", `SELECT column_name, data_type, character_maximum_length, datetime_precision, is_nullable,
		column_default, collation_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
	lines(t, &b, db, "constraint", `SELECT c.conname, c.contype, pg_get_constraintdef(c.oid) FROM pg_catalog.pg_constraint c
		JOIN pg_catalog.pg_class r ON r.oid = c.conrelid
		WHERE r.relname = $1 AND r.relnamespace = current_schema()::regnamespace ORDER BY c.conname`, table)
	lines(t, &b, db, "index", `SELECT indexname, indexdef FROM pg_catalog.pg_indexes
		WHERE schemaname = current_schema() AND tablename = $1 ORDER BY indexname`, table)
	return strings.NewReplacer(table, "TABLE").Replace(b.String())
}

// describeSQLite: sqlite_master's statements, PRAGMA table_info and the
// indexes' PRAGMA index_list and index_info.
func describeSQLite(t *testing.T, db *sql.DB, table string) (create, catalog string) {
	t.Helper()
	var b, c strings.Builder
	lines(t, &c, db, "master", `SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ? ORDER BY type DESC, name`, table)
	lines(t, &b, db, "column", `SELECT cid, name, type, "notnull", dflt_value, pk FROM pragma_table_info(?)`, table)
	lines(t, &b, db, "index", `SELECT l.name, l."unique", l.origin, l.partial, i.seqno, i.name
		FROM pragma_index_list(?) l, pragma_index_info(l.name) i ORDER BY l.name, i.seqno`, table)
	norm := strings.NewReplacer(table, "TABLE")
	return norm.Replace(c.String()), norm.Replace(b.String())
}

// TestSameDDLAsNode lets each npm package create its table (as it does
// when it starts: connect-session-knex's constructor, express-mysql-
// session's createDatabaseTable, sequelize's sync(), connect-sqlite3's
// and better-sqlite3-session-store's constructors) and Go's CreateTable
// create another, and compares what the catalog says of the two:
// MariaDB's SHOW CREATE TABLE and information_schema; PostgreSQL's
// information_schema, pg_constraint and pg_indexes; SQLite's
// sqlite_master (the statements as written) and PRAGMA table_info,
// index_list and index_info. For connect-session-knex it also compares,
// as text, the statements Go runs with those knex builds.
func TestSameDDLAsNode(t *testing.T) {
	e := newEnv(t)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			nodeF, goF := e.table(t, k), e.table(t, k)
			nodeF.node(t).do(t, "open", map[string]any{"store": nodeF.spec(nil)})
			st := goF.store(t, sqlstore.Options{})
			// A second CreateTable finds the table and leaves it.
			if err := st.CreateTable(context.Background()); err != nil {
				t.Fatalf("CreateTable on an existing table: %v", err)
			}
			nodeCreate, nodeCatalog := describe(t, nodeF)
			goCreate, goCatalog := describe(t, goF)
			if nodeCreate != goCreate || nodeCatalog != goCatalog {
				t.Fatalf("tables differ:\nNode %s\n%s\n  Go %s\n%s", nodeCreate, nodeCatalog, goCreate, goCatalog)
			}
			if goCatalog == "" || (k.db != postgres && goCreate == "") {
				t.Fatalf("nothing read from the catalog: the check proves nothing")
			}
			// A control: the comparison sees one column more.
			other := e.table(t, k)
			other.store(t, sqlstore.Options{})
			if _, err := other.db.Exec("ALTER TABLE " + other.quote(other.name) + " ADD COLUMN extra TEXT"); err != nil {
				t.Fatal(err)
			}
			if otherCreate, otherCatalog := describe(t, other); otherCreate == nodeCreate && otherCatalog == nodeCatalog {
				t.Fatal("a table with another column compares equal: the check proves nothing")
			}
			t.Logf("%s: the same table as Node's:\n%s\n%s", k.preset, goCreate, goCatalog)
		})
	}
	for _, c := range []struct {
		k            kind
		table, sidFn string
	}{
		// The index name lowers case and replaces - and . (a dot is a
		// database or schema: knex's statements for one are broken on
		// PostgreSQL and SQLite, where Go writes working ones).
		{kindNamed("knex"), "Sb-Test.x_%s", ""},
		{kindNamed("knex-pg"), "Sb-Test_%s", ""},
		{kindNamed("knex-pg"), "sessions", "session_key"},
		{kindNamed("knex-sqlite"), "Sb-Test_%s", ""},
		{kindNamed("knex-sqlite"), "sessions", "session_key"},
	} {
		t.Run(c.k.name+"/statements", func(t *testing.T) {
			f := e.table(t, c.k)
			tbl := c.table
			if strings.Contains(tbl, "%s") {
				tbl = fmt.Sprintf(tbl, strings.ToLower(f.name))
			}
			args := map[string]any{"pkg": "knex", "table": tbl, "sidFieldName": c.sidFn}
			if c.k.db == postgres {
				args["db"] = "postgres"
			}
			var want []string
			if err := json.Unmarshal(f.node(t).do(t, "ddl", args), &want); err != nil {
				t.Fatal(err)
			}
			got := sqlstore.CreateStatements(t, f.db, c.k.preset, tbl, sqlstore.Columns{ID: c.sidFn})
			if strings.Join(got, ";\n") != strings.Join(want, ";\n") {
				t.Fatalf("statements differ:\nknex %q\n  Go %q", want, got)
			}
			t.Logf("the statements knex builds for table %q: %q", tbl, got)
		})
	}
}
