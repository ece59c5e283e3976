package passportuser_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/internal/services"
	"github.com/sessionbridge/sessionbridge/passportuser"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

func rec(t *testing.T, passport string) *sessionbridge.Session {
	t.Helper()
	js := `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"}`
	if passport != "" {
		js += `,"passport":` + passport
	}
	s, err := sessionjson.Decode([]byte(js + `}`))
	if err != nil {
		t.Fatal(err)
	}
	return &sessionbridge.Session{Record: s}
}

// TestLoggedInRules: passport's rule is `if (su || su === 0)`.
func TestLoggedInRules(t *testing.T) {
	cases := []struct {
		passport string
		raw      string
		err      error
	}{
		{"", "", passportuser.ErrNotLoggedIn},
		{`null`, "", passportuser.ErrNotLoggedIn},
		{`{}`, "", passportuser.ErrNotLoggedIn}, // what logout leaves
		{`{"user":null}`, "", passportuser.ErrNotLoggedIn},
		{`{"user":false}`, "", passportuser.ErrNotLoggedIn},
		{`{"user":""}`, "", passportuser.ErrNotLoggedIn},
		{`{"user":0}`, "0", nil},
		{`{"user":7}`, "7", nil},
		{`{"user":"0"}`, `"0"`, nil},
		{`{"user":"alice@example.com"}`, `"alice@example.com"`, nil},
		{`{"user":12345678901234567890123}`, "12345678901234567890123", nil},
		{`{"user":{"id":"u1","roles":["a"]}}`, `{"id":"u1","roles":["a"]}`, nil},
		{`{"user":[]}`, `[]`, nil},
		{`{"user":true}`, `true`, nil},
		{`{"other":1,"user":3}`, "3", nil},
		{`"alice"`, "", passportuser.ErrBadPassport},
		{`[1]`, "", passportuser.ErrBadPassport},
		{`7`, "", passportuser.ErrBadPassport},
	}
	for _, c := range cases {
		raw, err := passportuser.Raw(rec(t, c.passport))
		if !errors.Is(err, c.err) || string(raw) != c.raw {
			t.Errorf("passport %s: raw %s err %v; want %s %v", c.passport, raw, err, c.raw, c.err)
		}
		if passportuser.LoggedIn(rec(t, c.passport)) != (c.err == nil) {
			t.Errorf("passport %s: LoggedIn wrong", c.passport)
		}
	}
	if !errors.Is(passportuser.ErrBadPassport, sessionjson.ErrMalformed) {
		t.Fatal("ErrBadPassport must be a malformed-record error")
	}
}

// TestFixtureUsers reads the passport users express-session + passport
// wrote (testdata/fixtures/records.json).
func TestFixtureUsers(t *testing.T) {
	var fx struct{ Records []struct{ Name, JSON string } }
	nodetest.Fixture(t, "records.json", &fx)
	want := map[string]string{
		"passport-user-number": "7", "passport-user-zero": "0", "passport-user-string": `"alice@example.com"`,
		"passport-logged-out": "", "plain-user": "",
	}
	seen := 0
	for _, r := range fx.Records {
		w, ok := want[r.Name]
		if !ok {
			continue
		}
		seen++
		rec, err := sessionjson.Decode([]byte(r.JSON))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := passportuser.Raw(&sessionbridge.Session{Record: rec})
		if w == "" {
			if !errors.Is(err, passportuser.ErrNotLoggedIn) {
				t.Errorf("%s: %s %v, want not logged in", r.Name, raw, err)
			}
		} else if err != nil || string(raw) != w {
			t.Errorf("%s: %s %v, want %s", r.Name, raw, err, w)
		}
	}
	if seen != len(want) {
		t.Fatalf("fixtures missing: saw %d of %d", seen, len(want))
	}
}

type User struct {
	ID   int64
	Name string
}

func TestLoadDeserializer(t *testing.T) {
	ctx := context.Background()
	dbDown := errors.New("users db: connection refused")
	users := map[int64]User{0: {0, "Zero"}, 7: {7, "Alice"}}
	deser := func(_ context.Context, stored json.RawMessage) (User, error) {
		var id int64
		if err := json.Unmarshal(stored, &id); err != nil {
			return User{}, err
		}
		if id == 99 {
			return User{}, dbDown
		}
		u, ok := users[id]
		if !ok {
			return User{}, passportuser.ErrNotLoggedIn
		}
		return u, nil
	}
	if u, err := passportuser.Load(ctx, rec(t, `{"user":0}`), deser); err != nil || u.Name != "Zero" {
		t.Fatalf("user 0: %v %v", u, err)
	}
	if _, err := passportuser.Load(ctx, rec(t, `{"user":5}`), deser); !errors.Is(err, passportuser.ErrNotLoggedIn) {
		t.Fatalf("deleted user: %v", err)
	}
	_, err := passportuser.Load(ctx, rec(t, `{"user":99}`), deser)
	if !errors.Is(err, passportuser.ErrDeserialize) || !errors.Is(err, dbDown) || errors.Is(err, passportuser.ErrNotLoggedIn) {
		t.Fatalf("failing deserializer: %v", err)
	}
	if _, err := passportuser.Load(ctx, rec(t, `{}`), deser); !errors.Is(err, passportuser.ErrNotLoggedIn) {
		t.Fatalf("logged out: %v", err)
	}
	obj, err := passportuser.Load(ctx, rec(t, `{"user":{"ID":9007199254740993,"Name":"Big"}}`), passportuser.JSONDeserializer[User]())
	if err != nil || obj.ID != 9007199254740993 {
		t.Fatalf("object user: %v %v", obj, err)
	}
}

func harness(t *testing.T, env map[string]string) (*nodetest.App, *sessionbridge.Bridge, *redis.Client, *redisstore.Store) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: services.RedisAddr(t)})
	t.Cleanup(func() { c.Close() })
	prefix := fmt.Sprintf("sbpass:%d:", time.Now().UnixNano())
	st := redisstore.New(c, redisstore.Options{Prefix: prefix})
	full := map[string]string{"STORE": "redis", "REDIS_URL": "redis://" + services.RedisAddr(t), "REDIS_PREFIX": prefix}
	for k, v := range env {
		full[k] = v
	}
	app := nodetest.StartApp(t, full)
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"keyboard cat"}, Store: st, Cookie: sessionbridge.CookieOptions{MaxAge: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	return app, b, c, st
}

func load(t *testing.T, b *sessionbridge.Bridge, cookie string) (*sessionbridge.Session, error) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", "connect.sid="+cookie)
	return b.Load(r)
}

// TestNodeUsers: users passport serialized in Node, read in Go.
func TestNodeUsers(t *testing.T) {
	app, b, _, _ := harness(t, nil)
	for _, c := range []struct{ user, want string }{{"alice", "7"}, {"zero", "0"}, {"big", `"9007199254740993"`}} {
		s, err := load(t, b, app.Login(c.user, "secret"))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := passportuser.Raw(s)
		if err != nil || string(raw) != c.want {
			t.Errorf("%s: Go reads %s %v, want %s", c.user, raw, err, c.want)
		}
	}
	objApp, ob, _, _ := harness(t, map[string]string{"USER_SERIALIZE": "object"})
	s, err := load(t, ob, objApp.Login("alice", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	var u struct {
		ID       int
		Username string
	}
	if err := passportuser.Decode(s, &u); err != nil || u.ID != 7 || u.Username != "alice" {
		t.Fatalf("object user: %+v %v", u, err)
	}
	t.Log("Node-serialized users 7, 0, \"9007199254740993\" and an object read exactly in Go")
}

// TestGoLoginIsNodeLogin: a Go login is seen by passport in Node, destroys
// the old session and drops its data (unless KeepSessionInfo); a Go logout
// logs Node out.
func TestGoLoginIsNodeLogin(t *testing.T) {
	ctx := context.Background()
	app, b, c, st := harness(t, nil)

	// Anonymous-ish Node session with data, then a Go login on top of it.
	nodeCookie := app.Login("zero", "secret")
	app.SetData(nodeCookie, map[string]any{"cart": []int{1, 2}})
	old, err := load(t, b, nodeCookie)
	if err != nil {
		t.Fatal(err)
	}
	oldID := old.ID
	s, err := passportuser.Login(ctx, b, old, 7, passportuser.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s != old {
		t.Fatal("login must change the session in place")
	}
	if s.ID == oldID || c.Exists(ctx, st.Key(oldID)).Val() != 0 {
		t.Fatal("login must regenerate: new id, old session destroyed")
	}
	if s.Record.Has("cart") {
		t.Fatal("login must drop the old data by default")
	}
	cookie := b.Signer().CookieValue(s.ID)
	me := app.Me(cookie)
	if !me.LoggedIn || string(me.User) != `{"id":7,"username":"alice","name":"Alice"}` {
		t.Fatalf("Node does not see the Go login: %+v", me)
	}
	if app.Me(nodeCookie).LoggedIn {
		t.Fatal("the old cookie still logs in")
	}

	kept, err := passportuser.Login(ctx, b, s, 0, passportuser.Options{KeepSessionInfo: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = kept
	withData, _ := load(t, b, b.Signer().CookieValue(kept.ID))
	if raw, _ := passportuser.Raw(withData); string(raw) != "0" {
		t.Fatalf("keepSessionInfo login user %s", raw)
	}

	// Go logout: Node sees nobody on either cookie.
	loggedInID := withData.ID
	n, err := passportuser.Logout(ctx, b, withData, passportuser.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n != withData {
		t.Fatal("logout must change the session in place")
	}
	if me := app.Me(b.Signer().CookieValue(loggedInID)); me.LoggedIn {
		t.Fatal("old cookie still logged in after Go logout")
	}
	if me := app.Me(b.Signer().CookieValue(n.ID)); me.LoggedIn || me.Sid != n.ID {
		t.Fatalf("new session after Go logout: %+v", me)
	}

	// Node logout: compare what Node leaves with what Go left.
	nc := app.Login("alice", "secret")
	_, _, newCookie := app.Do("POST", "/logout", nc, nil)
	if newCookie == "" {
		t.Fatal("Node's logout sent no new cookie")
	}
	if _, err := load(t, b, nc); !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("old session after Node logout: %v", err)
	}
	ns, err := load(t, b, newCookie)
	if err != nil {
		t.Fatalf("Node's post-logout session: %v", err)
	}
	if fmt.Sprint(ns.Record.Keys()) != fmt.Sprint(n.Record.Keys()) {
		t.Fatalf("after logout Node leaves keys %v, Go %v", ns.Record.Keys(), n.Record.Keys())
	}
	t.Logf("Go login/logout match passport: regenerate, drop data, Node sees the user; after logout both leave %v", n.Record.Keys())
}

// Logout without a session fails as passport's req.logout does, with an
// error wrapping ErrNotLoggedIn, instead of panicking.
func TestLogoutWithoutSession(t *testing.T) {
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{"s"}, Store: sessionbridge.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := passportuser.Logout(context.Background(), b, nil, passportuser.Options{}); s != nil || !errors.Is(err, passportuser.ErrNotLoggedIn) {
		t.Fatalf("Logout(nil) = %v, %v", s, err)
	}
}
