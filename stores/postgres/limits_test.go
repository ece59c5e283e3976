package pgstore_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	pgstore "github.com/sessionbridge/sessionbridge/stores/postgres"
)

// TestHugeLifetimes: Node (connect-pg-simple) writes sessions whose cookie
// lives 1000 years and 10^15 ms; Go reads, touches and saves them, and
// expire must stay ceil(cookie.expires) each time.
func TestHugeLifetimes(t *testing.T) {
	p := pool(t, nil) // the server's TimeZone, as Node's connections
	for _, maxAge := range []int64{1000 * 365 * 86400 * 1000, 1e15} {
		t.Run(strconv.FormatInt(maxAge, 10), func(t *testing.T) {
			sch := schema(t, p)
			st := pgstore.New(p, pgstore.Options{SchemaName: sch})
			app := nodetest.StartApp(t, map[string]string{"STORE": "postgres", "PG_URL": services.PostgresURL(t), "PG_SCHEMA": sch, "MAX_AGE_MS": strconv.FormatInt(maxAge, 10)})
			b, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: st})
			cookie := app.Login("alice", "secret")
			storetest.Peer{App: app, Bridge: b}.LongLived(t, cookie, func(t *testing.T, s *sessionbridge.Session) {
				t.Helper()
				var got int64
				err := p.QueryRow(context.Background(), `SELECT extract(epoch FROM expire::timestamptz)::bigint FROM `+st.Table()+` WHERE sid=$1`, s.ID).Scan(&got)
				if want := (s.Record.Cookie.Expires.UnixMilli() + 999) / 1000; err != nil || got != want {
					t.Fatalf("expire %d (%v), want ceil(cookie.expires) %d", got, err, want)
				}
			})
		})
	}
}

// TestExpireSaturates: cookie expiries beyond the JavaScript Date range
// (year 999999 parses; only Go can hold year 3e8) are stored as its end,
// inside PostgreSQL's timestamp range, instead of failing with "timestamp
// out of range"; expiries before 1970 as 1970, still expired.
func TestExpireSaturates(t *testing.T) {
	p := pool(t, map[string]string{"timezone": "UTC"})
	ctx := context.Background()
	for _, tz := range []string{"", "Pacific/Kiritimati", "Etc/GMT+12"} {
		st := pgstore.New(p, pgstore.Options{SchemaName: schema(t, p), CreateTableIfMissing: true, TimeZone: tz})
		for name, exp := range map[string]time.Time{
			"year 999999": time.Date(999999, 1, 1, 0, 0, 0, 0, time.UTC),
			"year 3e8":    time.Date(300_000_000, 1, 1, 0, 0, 0, 0, time.UTC),
		} {
			s := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
			s.Cookie.Expires = &exp
			if err := st.Set(ctx, "x", s); err != nil {
				t.Fatalf("%s (TimeZone %q): Set: %v", name, tz, err)
			}
			if err := st.Touch(ctx, "x", s); err != nil {
				t.Fatalf("%s (TimeZone %q): Touch: %v", name, tz, err)
			}
			if _, err := st.Get(ctx, "x"); err != nil {
				t.Fatalf("%s (TimeZone %q): Get: %v", name, tz, err)
			}
			if got := st.Expiry(s); got != 8_640_000_000_000 {
				t.Fatalf("%s: ExpireAt %d, want the end of the JavaScript Date range", name, got)
			}
		}
		old := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
		past := time.Date(-270000, 1, 1, 0, 0, 0, 0, time.UTC)
		old.Cookie.Expires = &past
		if err := st.Set(ctx, "old", old); err != nil {
			t.Fatalf("year -270000 (TimeZone %q): Set: %v", tz, err)
		}
		if _, err := st.Get(ctx, "old"); !errors.Is(err, sessionbridge.ErrNotFound) {
			t.Fatalf("year -270000: Get %v, want ErrNotFound", err)
		}
	}
}

// TestSizeLimit: records just under and over the Decoder's limit, and one
// of 64 MiB, which PostgreSQL must not send: the old SELECT sess made Go
// read all 64 MiB.
func TestSizeLimit(t *testing.T) {
	p := pool(t, nil)
	ctx := context.Background()
	sch := schema(t, p)
	st := pgstore.New(p, pgstore.Options{SchemaName: sch, CreateTableIfMissing: true})
	if err := st.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	put := func(sid string, rec []byte) {
		if _, err := p.Exec(ctx, `INSERT INTO `+st.Table()+` VALUES ($1, $2::json, now() + interval '1 hour')`, sid, string(rec)); err != nil {
			t.Fatal(err)
		}
	}
	for _, limit := range []int{1000, sessionjson.DefaultMaxBytes} {
		max := limit
		if limit == sessionjson.DefaultMaxBytes {
			max = 0
		}
		lst := pgstore.New(p, pgstore.Options{SchemaName: sch, Decoder: sessionjson.Decoder{MaxBytes: max}})
		storetest.SizeLimit(t, lst, limit, put)
	}
	// Made by the server, so the test itself does not hold 64 MiB.
	if _, err := p.Exec(ctx, `INSERT INTO `+st.Table()+` VALUES ('huge', ('{"cookie":{},"pad":"' || repeat('x', 64 << 20) || '"}')::json, now() + interval '1 hour')`); err != nil {
		t.Fatal(err)
	}
	var err error
	alloc := storetest.Allocated(func() { _, err = st.Get(ctx, "huge") })
	if !errors.Is(err, sessionjson.ErrTooLarge) || errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("64 MiB record: %v, want ErrTooLarge", err)
	}
	if alloc > 1<<20 {
		t.Fatalf("refusing a 64 MiB record allocated %d bytes; PostgreSQL must not send it", alloc)
	}
	t.Logf("64 MiB record refused (%v) after allocating %d bytes", err, alloc)
	// A NULL sess (only in a table altered to allow it) is a bad record, not
	// one too large.
	if _, err := p.Exec(ctx, `ALTER TABLE `+st.Table()+` ALTER sess DROP NOT NULL`); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Exec(ctx, `INSERT INTO `+st.Table()+` VALUES ('null', NULL, now() + interval '1 hour')`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "null"); !errors.Is(err, sessionjson.ErrInvalidJSON) || errors.Is(err, sessionjson.ErrTooLarge) {
		t.Fatalf("NULL sess: %v, want ErrInvalidJSON", err)
	}
	// An unlimited decoder still reads it.
	unlimited := pgstore.New(p, pgstore.Options{SchemaName: sch, Decoder: sessionjson.Decoder{MaxBytes: -1}})
	if s, err := unlimited.Get(ctx, "huge"); err != nil || !s.Has("pad") {
		t.Fatalf("MaxBytes -1: %v", err)
	}
}

// TestTimeZoneParameter: with standard_conforming_strings off, a backslash
// in a string literal is an escape, so splicing the TimeZone option into the
// SQL with doubled quotes let a value with a backslash and a quote end the
// literal and change the statement. Sent as a parameter, the value reaches
// PostgreSQL intact whatever the setting: a real zone works, and this one is
// reported as the unknown zone it is.
func TestTimeZoneParameter(t *testing.T) {
	p := pool(t, map[string]string{"standard_conforming_strings": "off", "timezone": "Asia/Tokyo"})
	ctx := context.Background()
	var scs string
	if err := p.QueryRow(ctx, "SHOW standard_conforming_strings").Scan(&scs); err != nil || scs != "off" {
		t.Fatalf("premise: standard_conforming_strings %q (%v), want off", scs, err)
	}
	sch := schema(t, p)
	good := pgstore.New(p, pgstore.Options{SchemaName: sch, TimeZone: "America/New_York", CreateTableIfMissing: true})
	now := time.Now()
	s := sessionjson.New(sessionjson.NewCookie(now, time.Hour))
	if err := good.Set(ctx, "victim", s); err != nil {
		t.Fatal(err)
	}
	var ny time.Time
	if err := p.QueryRow(ctx, `SELECT expire AT TIME ZONE 'America/New_York' FROM `+good.Table()+` WHERE sid='victim'`).Scan(&ny); err != nil {
		t.Fatal(err)
	}
	if d := ny.Sub(*s.Cookie.Expires); d < 0 || d >= time.Second {
		t.Fatalf("expire read as New York time is %v off cookie.expires", d)
	}
	if _, err := good.Get(ctx, "victim"); err != nil {
		t.Fatalf("a real zone with standard_conforming_strings off: %v", err)
	}

	const evil = `UTC\' ) OR (true`
	bad := pgstore.New(p, pgstore.Options{SchemaName: sch, TimeZone: evil})
	for op, run := range map[string]func() error{
		"get":   func() error { _, err := bad.Get(ctx, "nobody"); return err },
		"set":   func() error { return bad.Set(ctx, "x", s) },
		"touch": func() error { return bad.Touch(ctx, "victim", s) },
		"prune": func() error { _, err := bad.Prune(ctx); return err },
	} {
		err := run()
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "22023" || !strings.Contains(pgErr.Message, `"`+evil+`"`) {
			t.Fatalf("%s with TimeZone %s: %v, want PostgreSQL to see that exact zone name and refuse it (22023)", op, evil, err)
		}
	}
	var n int
	_ = p.QueryRow(ctx, `SELECT count(*) FROM `+good.Table()).Scan(&n)
	if n != 1 {
		t.Fatalf("%d rows, want only the victim's", n)
	}
	t.Logf("TimeZone %s with standard_conforming_strings off: refused as an unknown zone, the statement unchanged", evil)
}

// TestLongNames: PostgreSQL truncates identifiers to 63 bytes, so two
// longer names sharing their first 63 bytes would be one table. A 63-byte
// name works (and gets its own constraint and index, whose derived names
// would be too long); longer table or schema names are refused with
// ErrNameTooLong, counted in bytes, not characters.
func TestLongNames(t *testing.T) {
	p := pool(t, nil)
	ctx := context.Background()
	sch := schema(t, p)
	s := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))

	fit := []string{
		strings.Repeat("a", 62) + "1",
		strings.Repeat("a", 62) + "2", // same first 62 bytes: a distinct table
		strings.Repeat("é", 31) + "x", // 32 characters, 63 bytes
	}
	for _, name := range fit {
		st := pgstore.New(p, pgstore.Options{SchemaName: sch, TableName: name, CreateTableIfMissing: true})
		if err := st.Set(ctx, "sid-"+name[len(name)-1:], s); err != nil {
			t.Fatalf("%d-byte table name: %v", len(name), err)
		}
		var got string
		var idx int
		if err := p.QueryRow(ctx, `SELECT c.relname, (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid)
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`, sch, name).Scan(&got, &idx); err != nil {
			t.Fatalf("%d-byte table %q not found whole: %v", len(name), name, err)
		}
		if idx != 2 {
			t.Fatalf("%d-byte table has %d indexes, want the primary key and the expire index", len(name), idx)
		}
	}
	var n int
	_ = p.QueryRow(ctx, `SELECT count(*) FROM `+pgstore.New(p, pgstore.Options{SchemaName: sch, TableName: fit[0]}).Table()).Scan(&n)
	if n != 1 {
		t.Fatalf("the first 63-byte table holds %d rows, want its own 1", n)
	}

	for what, opts := range map[string]pgstore.Options{
		"80-byte table":            {SchemaName: sch, TableName: strings.Repeat("b", 80), CreateTableIfMissing: true},
		"64-byte table (32 chars)": {SchemaName: sch, TableName: strings.Repeat("é", 32), CreateTableIfMissing: true},
		"80-byte schema":           {SchemaName: strings.Repeat("s", 80), CreateTableIfMissing: true},
	} {
		st := pgstore.New(p, opts)
		checks := map[string]error{
			"create": st.CreateTable(ctx),
			"set":    st.Set(ctx, "x", s),
			"touch":  st.Touch(ctx, "x", s),
			"del":    st.Destroy(ctx, "x"),
		}
		_, checks["get"] = st.Get(ctx, "x")
		_, checks["prune"] = st.Prune(ctx)
		for op, err := range checks {
			if !errors.Is(err, pgstore.ErrNameTooLong) {
				t.Fatalf("%s: %s: %v, want ErrNameTooLong", what, op, err)
			}
		}
	}
	var tables int
	_ = p.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`, sch).Scan(&tables)
	if tables != len(fit) {
		t.Fatalf("%d tables in the schema, want %d: a refused name created one", tables, len(fit))
	}
}
