package pgstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/condtest"
	pgstore "github.com/sessionbridge/sessionbridge/stores/postgres"
)

// row returns the stored sess text, or "<none>".
func row(t testing.TB, p *pgxpool.Pool, st *pgstore.Store, sid string) string {
	t.Helper()
	var s string
	if err := p.QueryRow(context.Background(), `SELECT sess::text FROM `+st.Table()+` WHERE sid=$1`, sid).Scan(&s); err != nil {
		return "<none>"
	}
	return s
}

// TestSetIf: what is PostgreSQL's own in the conditional write, with and
// without Options.TimeZone, from a connection in another zone: the Tag is
// the sess text stored, SetIf sets expire as Set does, and a row that
// expired since it was read (by expire, not cookie.expires) conflicts and
// stays expired. sessionbridgetest's Conditional checks cover the rest:
// SetIf and Chain (the Version SetIf returns), Stale (another Set between,
// the row unchanged, no sid in the error), Destroyed, EmptyTag; its
// Touch/KeepsData covers a Touch after another writer's Set.
func TestSetIf(t *testing.T) {
	p := pool(t, map[string]string{"timezone": "Asia/Tokyo"})
	ctx := context.Background()
	for _, tz := range []string{"", "America/New_York"} {
		t.Run("TimeZone="+tz, func(t *testing.T) {
			st := pgstore.New(p, pgstore.Options{SchemaName: schema(t, p), CreateTableIfMissing: true, TimeZone: tz})
			const sid = "conditional-sid-1"
			now := time.Now()
			if err := st.Set(ctx, sid, condtest.NewSession(t, now, time.Hour, "n", 0)); err != nil {
				t.Fatal(err)
			}
			s, v := condtest.GetVersion(t, st, sid)
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

			// A row that expired since it was read is gone for the store:
			// SetIf does not bring it back.
			s, v = condtest.GetVersion(t, st, sid)
			if _, err := p.Exec(ctx, `UPDATE `+st.Table()+` SET expire = expire - interval '2 hours' WHERE sid=$1`, sid); err != nil {
				t.Fatal(err)
			}
			before := row(t, p, st, sid)
			_, err = st.SetIf(ctx, sid, s, v)
			if !errors.Is(err, sessionbridge.ErrConflict) {
				t.Fatalf("SetIf on an expired row: %v, want ErrConflict", err)
			}
			condtest.NotNamed(t, err, sid)
			if _, err := st.Get(ctx, sid); !errors.Is(err, sessionbridge.ErrNotFound) || row(t, p, st, sid) != before {
				t.Fatalf("SetIf revived an expired row: %v", err)
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
	sid := condtest.SessionID(t, cookie)

	s, v := condtest.GetVersion(t, st, sid)
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

	s, v = condtest.GetVersion(t, st, sid)
	app.SetData(cookie, map[string]any{"fromNode": 2})
	_ = s.Set("fromGo", 3)
	_, err := st.SetIf(ctx, sid, s, v)
	if !errors.Is(err, sessionbridge.ErrConflict) {
		t.Fatalf("SetIf after Node's write: %v, want ErrConflict", err)
	}
	condtest.NotNamed(t, err, sid)
	if got := row(t, p, st, sid); !strings.Contains(got, `"fromNode":2`) || !strings.Contains(got, `"fromGo":1`) {
		t.Fatalf("Node's write was overwritten: %s", got)
	}
	s, v = condtest.GetVersion(t, st, sid)
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
		s := condtest.NewSession(t, t0, time.Hour)
		if err := st.Set(ctx, "a", s); err != nil {
			t.Fatal(err)
		}
		if err := st.Set(ctx, "browser", condtest.NewSession(t, t0, 0)); err != nil {
			t.Fatal(err)
		}
		later := at(10 * time.Minute)
		if _, v := condtest.GetVersion(t, later, "a"); !v.Touched.Equal(t0) {
			t.Fatalf("TimeZone %q: Touched after Set %v, want %v", tz, v.Touched, t0)
		}
		if _, v := condtest.GetVersion(t, later, "browser"); !v.Touched.Equal(t0) {
			t.Fatalf("TimeZone %q: browser-session Touched after Set %v, want %v", tz, v.Touched, t0)
		}
		// Touch moves expire, not the stored cookie: Touched follows expire.
		s.Touch(t0.Add(10 * time.Minute))
		if err := later.Touch(ctx, "a", s); err != nil {
			t.Fatal(err)
		}
		got, v := condtest.GetVersion(t, at(20*time.Minute), "a")
		if !v.Touched.Equal(t0.Add(10 * time.Minute)) {
			t.Fatalf("TimeZone %q: Touched after Touch %v, want %v", tz, v.Touched, t0.Add(10*time.Minute))
		}
		got.Touch(t0.Add(20 * time.Minute))
		v2, err := at(20*time.Minute).SetIf(ctx, "a", got, v)
		if err != nil || !v2.Touched.Equal(t0.Add(20*time.Minute)) {
			t.Fatalf("TimeZone %q: SetIf returned Touched %v (%v)", tz, v2.Touched, err)
		}
		if _, v := condtest.GetVersion(t, at(30*time.Minute), "a"); !v.Touched.Equal(v2.Touched) {
			t.Fatalf("TimeZone %q: Touched after SetIf %v, want %v", tz, v.Touched, v2.Touched)
		}
		// A clock behind the writer's never gets a Touched in its future.
		if _, v := condtest.GetVersion(t, at(-time.Minute), "a"); v.Touched.After(t0.Add(-time.Minute)) {
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
		big := condtest.NewSession(t, time.Now(), time.Hour, "pad", strings.Repeat("x", 3*limit))
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
				if err := writer.Set(ctx, "late", condtest.NewSession(t, now, time.Hour, "late", true)); err != nil {
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
