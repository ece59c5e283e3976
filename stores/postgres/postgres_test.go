package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/internal/storetest"
	"github.com/sessionbridge/sessionbridge/sessionbridgetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	pgstore "github.com/sessionbridge/sessionbridge/stores/postgres"
)

func pool(t testing.TB, runtime map[string]string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(services.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range runtime {
		cfg.ConnConfig.RuntimeParams[k] = v
	}
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// schema creates a fresh schema for the test and drops it afterwards.
func schema(t testing.TB, p *pgxpool.Pool) string {
	t.Helper()
	name := fmt.Sprintf("sbtest_%d", rand.Uint64()%1e12)
	if _, err := p.Exec(context.Background(), `CREATE SCHEMA `+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = p.Exec(context.Background(), `DROP SCHEMA `+name+` CASCADE`) })
	return name
}

func TestContract(t *testing.T) {
	p := pool(t, nil)
	sch := schema(t, p)
	sessionbridgetest.TestStore(t, func(*testing.T) sessionbridge.Store {
		return pgstore.New(p, pgstore.Options{SchemaName: sch, CreateTableIfMissing: true})
	}, sessionbridgetest.Options{})
}

// TestConnectPgSimpleRules: the expire column, touch, expired rows, prune,
// quoting, and a missing table.
func TestConnectPgSimpleRules(t *testing.T) {
	p := pool(t, map[string]string{"timezone": "UTC"})
	ctx := context.Background()
	sch := schema(t, p)
	now := time.Date(2026, 11, 27, 10, 0, 0, 400e6, time.UTC)
	st := pgstore.New(p, pgstore.Options{SchemaName: sch, TableName: `we"ird`, CreateTableIfMissing: true, Now: func() time.Time { return now }})
	if got := st.Table(); got != `"`+sch+`"."we""ird"` {
		t.Fatalf("quoted table %s", got)
	}
	s := sessionjson.New(sessionjson.NewCookie(now, 90*time.Second))
	if err := st.Set(ctx, "a", s); err != nil {
		t.Fatal(err)
	}
	var expire time.Time
	if err := p.QueryRow(ctx, `SELECT expire FROM `+st.Table()+` WHERE sid='a'`).Scan(&expire); err != nil {
		t.Fatal(err)
	}
	// cookie.expires = 10:01:30.400 -> ceil -> 10:01:31
	if want := time.Date(2026, 11, 27, 10, 1, 31, 0, time.UTC); !expire.Equal(want) {
		t.Fatalf("expire %v, want %v", expire, want)
	}
	browser := sessionjson.New(sessionjson.NewCookie(now, 0))
	if err := st.Set(ctx, "b", browser); err != nil {
		t.Fatal(err)
	}
	_ = p.QueryRow(ctx, `SELECT expire FROM `+st.Table()+` WHERE sid='b'`).Scan(&expire)
	if want := time.Date(2026, 11, 28, 10, 0, 1, 0, time.UTC); !expire.Equal(want) {
		t.Fatalf("browser-session expire %v, want now+1 day rounded up %v", expire, want)
	}
	// Touch moves expire only.
	var before, after string
	_ = p.QueryRow(ctx, `SELECT sess::text FROM `+st.Table()+` WHERE sid='a'`).Scan(&before)
	s.Touch(now.Add(time.Hour))
	if err := st.Touch(ctx, "a", s); err != nil {
		t.Fatal(err)
	}
	_ = p.QueryRow(ctx, `SELECT sess::text, expire FROM `+st.Table()+` WHERE sid='a'`).Scan(&after, &expire)
	if after != before || !expire.Equal(time.Date(2026, 11, 27, 11, 1, 31, 0, time.UTC)) {
		t.Fatalf("touch: sess changed=%v expire=%v", after != before, expire)
	}
	// A row whose expire passed is refused even though it is still there.
	later := pgstore.New(p, pgstore.Options{SchemaName: sch, TableName: `we"ird`, Now: func() time.Time { return now.Add(2 * time.Hour) }})
	if _, err := later.Get(ctx, "a"); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("expired row: %v", err)
	}
	n, err := later.Prune(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v (want the one expired row)", n, err)
	}
	if _, err := st.Get(ctx, "b"); err != nil {
		t.Fatalf("prune removed a live row: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	p := pool(t, nil)
	ctx := context.Background()
	sch := schema(t, p)
	missing := pgstore.New(p, pgstore.Options{SchemaName: sch, TableName: "nope"})
	if _, err := missing.Get(ctx, "x"); !errors.Is(err, pgstore.ErrNoTable) {
		t.Fatalf("missing table: %v", err)
	}
	b, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"s"}, Store: missing})
	if _, err := b.LoadID(ctx, "x"); !errors.Is(err, sessionbridge.ErrStore) || !errors.Is(err, pgstore.ErrNoTable) {
		t.Fatalf("missing table through the Bridge: %v", err)
	}
	st := pgstore.New(p, pgstore.Options{SchemaName: sch, CreateTableIfMissing: true})
	if _, err := st.Get(ctx, "warmup"); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatal(err)
	}
	for sid, rec := range map[string]string{
		"nocookie": `{"passport":{"user":1}}`,
		"badtype":  `{"cookie":{"expires":12}}`,
		"array":    `[1,2]`,
	} {
		if _, err := p.Exec(ctx, `INSERT INTO `+st.Table()+` VALUES ($1, $2::json, now() + interval '1 hour')`, sid, rec); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Get(ctx, sid); !errors.Is(err, sessionjson.ErrMalformed) {
			t.Errorf("%s: %v", sid, err)
		}
		var n int
		_ = p.QueryRow(ctx, `SELECT count(*) FROM `+st.Table()+` WHERE sid=$1`, sid).Scan(&n)
		if n != 1 {
			t.Errorf("%s: the bad row was removed; Go must leave it", sid)
		}
	}
}

// TestSameDDLAsNode lets connect-pg-simple create its table in one schema
// and Go in another, and compares the columns and indexes.
func TestSameDDLAsNode(t *testing.T) {
	p := pool(t, nil)
	ctx := context.Background()
	nodeSchema, goSchema := schema(t, p), schema(t, p)
	app := nodetest.StartApp(t, map[string]string{"STORE": "postgres", "PG_URL": services.PostgresURL(t), "PG_SCHEMA": nodeSchema})
	_ = app.Login("alice", "secret")
	st := pgstore.New(p, pgstore.Options{SchemaName: goSchema})
	if err := st.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	describe := func(sch string) string {
		rows, err := p.Query(ctx, `SELECT column_name, data_type, coalesce(datetime_precision, -1), is_nullable, coalesce(collation_name,'')
			FROM information_schema.columns WHERE table_schema=$1 AND table_name='session' ORDER BY ordinal_position`, sch)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var a, bb, d, e string
			var c int
			_ = rows.Scan(&a, &bb, &c, &d, &e)
			fmt.Fprintf(&b, "%s %s %d %s %s; ", a, bb, c, d, e)
		}
		var idx []string
		r2, _ := p.Query(ctx, `SELECT replace(indexdef, $1, 'S') FROM pg_indexes WHERE schemaname=$1 AND tablename='session' ORDER BY indexname`, sch)
		for r2.Next() {
			var d string
			_ = r2.Scan(&d)
			idx = append(idx, d)
		}
		r2.Close()
		return b.String() + strings.Join(idx, "; ")
	}
	nodeDDL, goDDL := describe(nodeSchema), describe(goSchema)
	if nodeDDL != goDDL || !strings.Contains(goDDL, "sess json") || !strings.Contains(goDDL, "timestamp without time zone 6") {
		t.Fatalf("DDL differs:\nnode %s\n  go %s", nodeDDL, goDDL)
	}
	t.Logf("same table as connect-pg-simple: %s", goDDL)
}

func TestNodeBothWays(t *testing.T) {
	p := pool(t, nil)
	sch := schema(t, p)
	st := pgstore.New(p, pgstore.Options{SchemaName: sch, CreateTableIfMissing: true})
	if err := st.CreateTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	app := nodetest.StartApp(t, map[string]string{"STORE": "postgres", "PG_URL": services.PostgresURL(t), "PG_SCHEMA": sch})
	b, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: st, Cookie: sessionbridge.CookieOptions{MaxAge: time.Hour}})
	raw := func(sid string) []byte {
		var s string
		if err := p.QueryRow(context.Background(), `SELECT sess::text FROM `+st.Table()+` WHERE sid=$1`, sid).Scan(&s); err != nil {
			return nil
		}
		return []byte(s)
	}
	peer := storetest.Peer{App: app, Bridge: b, Raw: raw}
	peer.BothWays(t)
	peer.TouchRace(t)
}

// TestTimeZones runs Node's connections in America/New_York and Go's in
// Asia/Tokyo (13 or 14 hours apart), sharing one table. With
// Options.TimeZone naming Node's zone, both write the same expire for the
// same cookie and each honours the other's expiry; without it, Go would read
// Node's rows hours off, which the test also shows.
func TestTimeZones(t *testing.T) {
	p := pool(t, map[string]string{"timezone": "Asia/Tokyo"})
	ctx := context.Background()
	sch := schema(t, p)
	st := pgstore.New(p, pgstore.Options{SchemaName: sch, TimeZone: "America/New_York", CreateTableIfMissing: true})
	if err := st.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	app := nodetest.StartApp(t, map[string]string{
		"STORE": "postgres", "PG_URL": services.PostgresURL(t), "PG_SCHEMA": sch,
		"PG_TIMEZONE": "America/New_York", "MAX_AGE_MS": "3000", "TZ": "Europe/Paris",
	})
	b, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: st, Cookie: sessionbridge.CookieOptions{MaxAge: 3 * time.Second}})

	// Node writes, Go reads; Go writes, Node reads.
	nodeCookie := app.Login("alice", "secret")
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", "connect.sid="+nodeCookie)
	ns, err := b.Load(req)
	if err != nil {
		t.Fatalf("Go cannot read Node's row across time zones: %v", err)
	}
	gs, _ := b.NewSession()
	_ = gs.Record.Set("passport", map[string]any{"user": 7})
	if err := b.Save(ctx, gs); err != nil {
		t.Fatal(err)
	}
	goCookie := b.Signer().CookieValue(gs.ID)
	if me := app.Me(goCookie); !me.LoggedIn {
		t.Fatal("Node cannot read Go's row across time zones")
	}

	// The stored naive timestamps mean the same instant in New York.
	var nodeExpire, goExpire time.Time
	q := `SELECT expire AT TIME ZONE 'America/New_York' FROM ` + st.Table() + ` WHERE sid=$1`
	_ = p.QueryRow(ctx, q, ns.ID).Scan(&nodeExpire)
	_ = p.QueryRow(ctx, q, gs.ID).Scan(&goExpire)
	if d := time.Until(goExpire); d < time.Second || d > 5*time.Second {
		t.Fatalf("Go's expire read as New York time is %v from now, want about 3s", d)
	}
	if d := time.Until(nodeExpire); d < -time.Second || d > 5*time.Second {
		t.Fatalf("Node's expire read as New York time is %v from now", d)
	}

	// Both sides expire both rows at the right moment (3 s).
	time.Sleep(4 * time.Second)
	if _, err := b.Load(req); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("Go still sees Node's expired row: %v", err)
	}
	if me := app.Me(goCookie); me.LoggedIn {
		t.Fatal("Node still sees Go's expired row")
	}

	// Without TimeZone, a Go pool in Tokyo misreads New York rows by hours.
	naive := pgstore.New(p, pgstore.Options{SchemaName: sch})
	fresh := app.Login("alice", "secret")
	sid := strings.SplitN(strings.TrimPrefix(fresh, "s%3A"), ".", 2)[0]
	if _, err := naive.Get(ctx, sid); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("without TimeZone a Tokyo reader should see New York's fresh row as long expired; got %v", err)
	}
	if _, err := st.Get(ctx, sid); err != nil {
		t.Fatalf("with TimeZone the same row is live: %v", err)
	}
	t.Logf("Node in America/New_York, Go in Asia/Tokyo: same expire instants; without Options.TimeZone Go misreads by the offset")
}
