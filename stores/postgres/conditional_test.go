package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	pgstore "github.com/sessionbridge/sessionbridge/stores/postgres"
)

func newSession(t testing.TB, now time.Time, maxAge time.Duration, kv ...any) *sessionjson.Session {
	t.Helper()
	s := sessionjson.New(sessionjson.NewCookie(now, maxAge))
	for i := 0; i+1 < len(kv); i += 2 {
		if err := s.Set(kv[i].(string), kv[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func getVersion(t testing.TB, st *pgstore.Store, sid string) (*sessionjson.Session, sessionbridge.Version) {
	t.Helper()
	s, v, err := st.GetVersion(context.Background(), sid)
	if err != nil {
		t.Fatalf("GetVersion: %v", err)
	}
	return s, v
}

// row returns the stored sess text, or "<none>".
func row(t testing.TB, p *pgxpool.Pool, st *pgstore.Store, sid string) string {
	t.Helper()
	var s string
	if err := p.QueryRow(context.Background(), `SELECT sess::text FROM `+st.Table()+` WHERE sid=$1`, sid).Scan(&s); err != nil {
		return "<none>"
	}
	return s
}

// noSid fails when err names the session id.
func noSid(t testing.TB, err error, sid string) {
	t.Helper()
	if strings.Contains(fmt.Sprint(err), sid) {
		t.Fatalf("error names the session id: %v", err)
	}
}

// sidOf is the session id in a signed cookie value.
func sidOf(cookie string) string {
	return strings.SplitN(strings.TrimPrefix(cookie, "s%3A"), ".", 2)[0]
}

// TestSetIf: the conditional write succeeds on the row read (and on the
// one it wrote itself) and conflicts, changing nothing, after another Set, a
// Destroy, an expiry, or with an empty or stale Version; with and without
// Options.TimeZone, from a connection in another zone.
func TestSetIf(t *testing.T) {
	p := pool(t, map[string]string{"timezone": "Asia/Tokyo"})
	ctx := context.Background()
	for _, tz := range []string{"", "America/New_York"} {
		t.Run("TimeZone="+tz, func(t *testing.T) {
			st := pgstore.New(p, pgstore.Options{SchemaName: schema(t, p), CreateTableIfMissing: true, TimeZone: tz})
			const sid = "conditional-sid-1"
			now := time.Now()
			if err := st.Set(ctx, sid, newSession(t, now, time.Hour, "n", 0)); err != nil {
				t.Fatal(err)
			}
			s, v := getVersion(t, st, sid)
			if v.Tag != row(t, p, st, sid) {
				t.Fatal("Tag is not the sess text stored")
			}
			_ = s.Set("n", 1)
			v2, err := st.SetIf(ctx, sid, s, v)
			if err != nil {
				t.Fatalf("SetIf on the row read: %v", err)
			}
			rec, _ := s.Encode()
			if got := row(t, p, st, sid); got != string(rec) || v2.Tag != got {
				t.Fatalf("stored %s, returned Tag %s, want %s", got, v2.Tag, rec)
			}
			instant := "expire::timestamptz"
			if tz != "" {
				instant = "expire AT TIME ZONE '" + tz + "'"
			}
			var expire int64
			if err := p.QueryRow(ctx, `SELECT extract(epoch FROM `+instant+`)::bigint FROM `+st.Table()+` WHERE sid=$1`, sid).Scan(&expire); err != nil || expire != st.Expiry(s) {
				t.Fatalf("expire after SetIf: %d (%v), want Set's %d", expire, err, st.Expiry(s))
			}
			// The Version SetIf returns is good for the next SetIf and has
			// the Tag GetVersion reads; the one it replaced is not.
			if _, v3 := getVersion(t, st, sid); v3.Tag != v2.Tag {
				t.Fatalf("GetVersion after SetIf: %+v, SetIf returned %+v", v3, v2)
			}
			_ = s.Set("n", 2)
			if _, err := st.SetIf(ctx, sid, s, v2); err != nil {
				t.Fatalf("SetIf with the Version SetIf returned: %v", err)
			}
			_ = s.Set("n", 3)
			before := row(t, p, st, sid)
			_, err = st.SetIf(ctx, sid, s, v)
			if !errors.Is(err, sessionbridge.ErrConflict) {
				t.Fatalf("SetIf with a stale Version: %v, want ErrConflict", err)
			}
			noSid(t, err, sid)
			if row(t, p, st, sid) != before {
				t.Fatal("a conflicting SetIf changed the row")
			}

			// Another writer's Set between GetVersion and SetIf.
			s, v = getVersion(t, st, sid)
			if err := st.Set(ctx, sid, newSession(t, now, time.Hour, "other", true)); err != nil {
				t.Fatal(err)
			}
			_ = s.Set("n", 4)
			if _, err := st.SetIf(ctx, sid, s, v); !errors.Is(err, sessionbridge.ErrConflict) {
				t.Fatalf("SetIf after another Set: %v, want ErrConflict", err)
			}
			if got := row(t, p, st, sid); !strings.Contains(got, `"other":true`) || strings.Contains(got, `"n"`) {
				t.Fatalf("the other writer's row was overwritten: %s", got)
			}
			// A Touch with the session read moves expire only: the other
			// writer's record stays.
			s.Touch(time.Now())
			if err := st.Touch(ctx, sid, s); err != nil {
				t.Fatal(err)
			}
			if got := row(t, p, st, sid); !strings.Contains(got, `"other":true`) || strings.Contains(got, `"n"`) {
				t.Fatalf("Touch overwrote the other writer's row: %s", got)
			}

			// A row that expired since it was read is gone for the store:
			// SetIf does not bring it back.
			s, v = getVersion(t, st, sid)
			if _, err := p.Exec(ctx, `UPDATE `+st.Table()+` SET expire = expire - interval '2 hours' WHERE sid=$1`, sid); err != nil {
				t.Fatal(err)
			}
			before = row(t, p, st, sid)
			if _, err := st.SetIf(ctx, sid, s, v); !errors.Is(err, sessionbridge.ErrConflict) {
				t.Fatalf("SetIf on an expired row: %v, want ErrConflict", err)
			}
			if _, err := st.Get(ctx, sid); !errors.Is(err, sessionbridge.ErrNotFound) || row(t, p, st, sid) != before {
				t.Fatalf("SetIf revived an expired row: %v", err)
			}

			// A Destroy between: the session stays gone.
			if err := st.Set(ctx, sid, newSession(t, now, time.Hour)); err != nil {
				t.Fatal(err)
			}
			s, v = getVersion(t, st, sid)
			if err := st.Destroy(ctx, sid); err != nil {
				t.Fatal(err)
			}
			if _, err := st.SetIf(ctx, sid, s, v); !errors.Is(err, sessionbridge.ErrConflict) {
				t.Fatalf("SetIf after Destroy: %v, want ErrConflict", err)
			}
			if got := row(t, p, st, sid); got != "<none>" {
				t.Fatal("SetIf recreated a destroyed session")
			}
			// An empty Version matches nothing.
			if _, err := st.SetIf(ctx, sid, s, sessionbridge.Version{}); !errors.Is(err, sessionbridge.ErrConflict) {
				t.Fatalf("SetIf with an empty Version: %v, want ErrConflict", err)
			}
			if _, _, err := st.GetVersion(ctx, sid); !errors.Is(err, sessionbridge.ErrNotFound) {
				t.Fatalf("GetVersion of a destroyed session: %v", err)
			}
		})
	}
}

// TestSetIfNode: the Version of a row connect-pg-simple wrote is good for
// SetIf, its Touched is when Node's request set the cookie (to within the
// second expire is rounded up to), and a write by the Node app between Go's
// GetVersion and SetIf is a conflict; re-read and re-applied, Go's change
// and Node's both survive, and Node reads Go's write. Node's connections
// are in New York, Go's in Tokyo (Options.TimeZone).
func TestSetIfNode(t *testing.T) {
	p := pool(t, map[string]string{"timezone": "Asia/Tokyo"})
	ctx := context.Background()
	sch := schema(t, p)
	st := pgstore.New(p, pgstore.Options{SchemaName: sch, TimeZone: "America/New_York", CreateTableIfMissing: true})
	if err := st.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	app := nodetest.StartApp(t, map[string]string{"STORE": "postgres", "PG_URL": services.PostgresURL(t), "PG_SCHEMA": sch, "PG_TIMEZONE": "America/New_York"})
	before := time.Now().Truncate(time.Millisecond)
	cookie := app.Login("alice", "secret")
	after := time.Now()
	sid := sidOf(cookie)

	s, v := getVersion(t, st, sid)
	if v.Tag != row(t, p, st, sid) {
		t.Fatal("Tag is not the sess text connect-pg-simple stored")
	}
	if v.Touched.Before(before) || v.Touched.After(after.Add(time.Second)) {
		t.Fatalf("Touched of Node's row %v, want within [%v, %v]", v.Touched, before, after.Add(time.Second))
	}
	_ = s.Set("fromGo", 1)
	if _, err := st.SetIf(ctx, sid, s, v); err != nil {
		t.Fatalf("SetIf on the row Node wrote: %v", err)
	}
	if me := app.Me(cookie); !me.LoggedIn || !strings.Contains(string(me.Session), `"fromGo":1`) {
		t.Fatalf("Node after Go's SetIf: %+v", me)
	}

	s, v = getVersion(t, st, sid)
	app.SetData(cookie, map[string]any{"fromNode": 2})
	_ = s.Set("fromGo", 3)
	_, err := st.SetIf(ctx, sid, s, v)
	if !errors.Is(err, sessionbridge.ErrConflict) {
		t.Fatalf("SetIf after Node's write: %v, want ErrConflict", err)
	}
	noSid(t, err, sid)
	if got := row(t, p, st, sid); !strings.Contains(got, `"fromNode":2`) || !strings.Contains(got, `"fromGo":1`) {
		t.Fatalf("Node's write was overwritten: %s", got)
	}
	s, v = getVersion(t, st, sid)
	_ = s.Set("fromGo", 3)
	if _, err := st.SetIf(ctx, sid, s, v); err != nil {
		t.Fatalf("SetIf after re-reading: %v", err)
	}
	me := app.Me(cookie)
	if !me.LoggedIn || !strings.Contains(string(me.Session), `"fromGo":3`) || !strings.Contains(string(me.Session), `"fromNode":2`) {
		t.Fatalf("Node sees %s", me.Session)
	}
}

// TestTouched: Version.Touched is when expire was last set: by Set, SetIf
// or Touch, for a cookie with expires and for a browser-session cookie
// (TTL), with and without Options.TimeZone. TestSetIfNode checks it on a
// row Node wrote.
func TestTouched(t *testing.T) {
	p := pool(t, map[string]string{"timezone": "Asia/Tokyo"})
	ctx := context.Background()
	// A whole second, so ceil(cookie.expires) adds nothing and Touched is
	// exact.
	t0 := time.Now().Truncate(time.Second)
	for _, tz := range []string{"", "America/New_York"} {
		sch := schema(t, p)
		at := func(d time.Duration) *pgstore.Store {
			return pgstore.New(p, pgstore.Options{SchemaName: sch, CreateTableIfMissing: true, TimeZone: tz, TTL: 2 * time.Hour, Now: func() time.Time { return t0.Add(d) }})
		}
		st := at(0)
		s := newSession(t, t0, time.Hour)
		if err := st.Set(ctx, "a", s); err != nil {
			t.Fatal(err)
		}
		if err := st.Set(ctx, "browser", newSession(t, t0, 0)); err != nil {
			t.Fatal(err)
		}
		later := at(10 * time.Minute)
		if _, v := getVersion(t, later, "a"); !v.Touched.Equal(t0) {
			t.Fatalf("TimeZone %q: Touched after Set %v, want %v", tz, v.Touched, t0)
		}
		if _, v := getVersion(t, later, "browser"); !v.Touched.Equal(t0) {
			t.Fatalf("TimeZone %q: browser-session Touched after Set %v, want %v", tz, v.Touched, t0)
		}
		// Touch moves expire, not the stored cookie: Touched follows expire.
		s.Touch(t0.Add(10 * time.Minute))
		if err := later.Touch(ctx, "a", s); err != nil {
			t.Fatal(err)
		}
		got, v := getVersion(t, at(20*time.Minute), "a")
		if !v.Touched.Equal(t0.Add(10 * time.Minute)) {
			t.Fatalf("TimeZone %q: Touched after Touch %v, want %v", tz, v.Touched, t0.Add(10*time.Minute))
		}
		got.Touch(t0.Add(20 * time.Minute))
		v2, err := at(20*time.Minute).SetIf(ctx, "a", got, v)
		if err != nil || !v2.Touched.Equal(t0.Add(20*time.Minute)) {
			t.Fatalf("TimeZone %q: SetIf returned Touched %v (%v)", tz, v2.Touched, err)
		}
		if _, v := getVersion(t, at(30*time.Minute), "a"); !v.Touched.Equal(v2.Touched) {
			t.Fatalf("TimeZone %q: Touched after SetIf %v, want %v", tz, v.Touched, v2.Touched)
		}
		// A clock behind the writer's never gets a Touched in its future.
		if _, v := getVersion(t, at(-time.Minute), "a"); v.Touched.After(t0.Add(-time.Minute)) {
			t.Fatalf("TimeZone %q: Touched %v is after the reader's now", tz, v.Touched)
		}
	}
}

// TestGetVersionMiss: GetVersion refuses a record over the Decoder's limit
// as Get does, without PostgreSQL sending it, and reads a row written
// between its two queries with that row's Version.
func TestGetVersionMiss(t *testing.T) {
	p := pool(t, nil)
	ctx := context.Background()
	sch := schema(t, p)
	const limit = 2000
	for _, tz := range []string{"", "Asia/Tokyo"} {
		opts := pgstore.Options{SchemaName: sch, TimeZone: tz, CreateTableIfMissing: true, Decoder: sessionjson.Decoder{MaxBytes: limit}}
		st := pgstore.New(p, opts)
		if _, err := st.Get(ctx, "warmup"); !errors.Is(err, sessionbridge.ErrNotFound) {
			t.Fatal(err)
		}
		if _, err := p.Exec(ctx, `TRUNCATE `+st.Table()); err != nil {
			t.Fatal(err)
		}
		big := newSession(t, time.Now(), time.Hour, "pad", strings.Repeat("x", 3*limit))
		if err := pgstore.New(p, pgstore.Options{SchemaName: sch, TimeZone: tz}).Set(ctx, "big", big); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.GetVersion(ctx, "big"); !errors.Is(err, sessionjson.ErrTooLarge) {
			t.Fatalf("TimeZone %q: GetVersion of a record over the limit: %v", tz, err)
		}
		now := time.Now().Truncate(time.Second)
		writer := pgstore.New(p, pgstore.Options{SchemaName: sch, TimeZone: tz, Now: func() time.Time { return now }})
		late := pgstore.New(hookDB{p, func(sql string) {
			if strings.HasPrefix(sql, "SELECT sess,") {
				if err := writer.Set(ctx, "late", newSession(t, now, time.Hour, "late", true)); err != nil {
					t.Error(err)
				}
			}
		}}, opts)
		s, v, err := late.GetVersion(ctx, "late")
		if err != nil || !s.Has("late") || v.Tag != row(t, p, st, "late") || !v.Touched.Equal(now) {
			t.Fatalf("TimeZone %q: a row written between the two queries: %v, Touched %v (want %v)", tz, err, v.Touched, now)
		}
	}
}
