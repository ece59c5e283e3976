package storeurl_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionbridge/sessionbridge/storeurl"
)

// The canary credentials. Every token is a run of characters no message of
// ours or of a driver contains, so finding any three consecutive bytes of
// one in a message means a piece of the userinfo leaked.
const (
	userTok  = "UsrK9q"
	passHead = "PwA7x"
	passMid  = "SSW0RD"
	passTail = "Zq8Jv"
)

var canaryTokens = []string{userTok, passHead, passMid, passTail}

// leaked returns the first piece (three bytes or more) of a canary token
// that msg contains.
func leaked(msg string) (string, bool) {
	for _, tok := range canaryTokens {
		for i := 0; i+3 <= len(tok); i++ {
			if strings.Contains(msg, tok[i:i+3]) {
				return tok[i : i+3], true
			}
		}
	}
	return "", false
}

// canaryPasswords are passwords in which a delimiter, a bad escape or a
// character that must be escaped separates the canary tokens.
func canaryPasswords() []string {
	var out []string
	for _, sep := range []string{
		"/", "?", "#", "@", "%zz", "%", "%4", "%%", ":", " ", "\t", "é", "\x00", "\n", `"`, "<", "[", "]",
		"\\", "%2F", "%3F%23", "%40", "%25", "%C3%A9", "+", "!$&'()*,;=", "~-._",
	} {
		out = append(out, passHead+sep+passMid+sep+passTail)
	}
	long := strings.Repeat(passHead+"/"+passMid+"?"+passTail+"%zz", 400)
	return append(out,
		passHead+passMid+passTail,
		long,
		strings.Repeat(passMid, 2000),
		passHead+"/"+passMid+"@"+passTail, // two '@'
		passHead+"@"+passMid+"/"+passTail+"@",
	)
}

// canaryUserinfos are user:password pairs, users without a password and
// empty users around the canary passwords.
func canaryUserinfos() []string {
	var out []string
	for _, pw := range canaryPasswords() {
		out = append(out, userTok+":"+pw, ":"+pw)
	}
	return append(out,
		userTok,
		userTok+"/"+passMid,
		userTok+"?"+passMid,
		userTok+"%zz"+passMid,
		userTok+":",
		userTok+"::"+passMid,
	)
}

// closedPort returns a loopback port where nothing listens.
func closedPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// urlTemplates are URLs of every scheme with %[1]s where the userinfo goes
// and %[2]d/%[3]d for closed ports.
var urlTemplates = []string{
	"redis://%[1]s@127.0.0.1:%[2]d?max_retries=-1",
	"redis://%[1]s@127.0.0.1:%[2]d/0?prefix=app:&dial_timeout=1s&max_retries=-1",
	"rediss://%[1]s@127.0.0.1:%[2]d?max_retries=-1",
	"redis://%[1]s@127.0.0.1:%[2]d,127.0.0.1:%[3]d?prefix=p:&max_retries=-1",
	"rediss://%[1]s@127.0.0.1:%[2]d,127.0.0.1:%[3]d/0?max_retries=-1",
	"postgres://%[1]s@127.0.0.1:%[2]d/db?connect_timeout=2",
	"postgresql://%[1]s@127.0.0.1:%[2]d,127.0.0.1:%[3]d/db?sslmode=disable&connect_timeout=2",
	"postgres://%[1]s@127.0.0.1:%[2]d/db?sslmode=bogus",
	"mongodb://%[1]s@127.0.0.1:%[2]d/db?serverSelectionTimeoutMS=300",
	"mongodb://%[1]s@127.0.0.1:%[2]d,127.0.0.1:%[3]d/?authSource=admin&serverSelectionTimeoutMS=300",
	"mongodb://%[1]s@127.0.0.1:%[2]d/db?wtimeoutMS=-5",
	"mongodb+srv://%[1]s@db.invalid/app",
	"memcached://%[1]s@127.0.0.1:%[2]d",
	"mysql://%[1]s@127.0.0.1:%[2]d/db?format=connect-session-knex&timeout=2s",
	"mariadb://%[1]s@127.0.0.1:%[2]d/db?format=express-mysql-session&bogus=1",
	"mysql://%[1]s@127.0.0.1:%[2]d/db?format=connect-session-sequelize&timeout=bogus",
	"mysql://%[1]s@127.0.0.1:%[2]d/db",
	"mongodb://%[1]s@127.0.0.1:%[2]d/db?format=connect-mongodb-session&serverSelectionTimeoutMS=300",
	"postgres://%[1]s@127.0.0.1:%[2]d/db?format=connect-session-knex&connect_timeout=2",
	"sqlite://%[1]s@localhost/tmp/s.db?format=connect-sqlite3",
	"file://%[1]s@localhost/tmp/sessions",
	"file://%[1]s@/tmp/sessions",
	"%[1]s@127.0.0.1:%[2]d",
	"redis:%[1]s@127.0.0.1:%[2]d",
	"redis://%[1]s@127.0.0.1:%[2]d#frag",
	"redis://%[1]s@127.0.0.1:x%[2]d",
	"redis://%[1]s@127.0.0.1:%[2]d/db",
	"redis://%[1]s@127.0.0.1:%[2]d?bogus=1",
}

// TestNoUserinfoInErrors parses every scheme with userinfos that carry the
// canary around each delimiter (unescaped '/', '?', '#', '@', bad escapes,
// characters that must be escaped, very long ones): neither the error, nor
// String, nor any way of printing the Spec, nor the error of Open against a
// closed port, nor a line go-redis logs, may contain three consecutive
// bytes of the canary.
func TestNoUserinfoInErrors(t *testing.T) {
	logs := captureRedisLog(t)
	p1, p2 := closedPort(t), closedPort(t)
	opened := map[string]bool{} // one Open per template and shape is enough
	parsed, refused, openErrs := 0, 0, 0
	for _, tmpl := range urlTemplates {
		for _, ui := range canaryUserinfos() {
			if strings.HasPrefix(tmpl, "mongodb+srv") && !strings.ContainsAny(ui, "/?#@%") {
				continue // a well-formed srv URL would look up DNS
			}
			u := fmt.Sprintf(tmpl, ui, p1, p2)
			name := fmt.Sprintf("%.60q", u)
			s, err := storeurl.Parse(u)
			if err != nil {
				refused++
				if !errors.Is(err, storeurl.ErrBadURL) {
					t.Errorf("%s: %v does not wrap ErrBadURL", name, err)
				}
				if piece, ok := leaked(err.Error()); ok {
					t.Errorf("%s: Parse error shows %q: %v", name, piece, err)
				}
				continue
			}
			parsed++
			outs := []string{s.String(), fmt.Sprint(s), fmt.Sprint(*s)}
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x"} {
				outs = append(outs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, *s))
			}
			for _, out := range outs {
				if piece, ok := leaked(out); ok {
					t.Errorf("%s: printing the Spec shows %q: %s", name, piece, out)
				}
			}
			// One Open per template and kind of userinfo (user and
			// password, password only, user only; '@' in it or not).
			shape := fmt.Sprint(tmpl, strings.HasPrefix(ui, userTok), strings.Contains(ui, ":"),
				strings.Contains(ui, "@"))
			if opened[shape] || s.Kind == storeurl.File {
				continue
			}
			opened[shape] = true
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, closer, err := s.Open(ctx)
			cancel()
			if err == nil {
				closer.Close()
				t.Errorf("%s: Open succeeded against a closed port", name)
				continue
			}
			openErrs++
			if !errors.Is(err, storeurl.ErrUnavailable) {
				t.Errorf("%s: Open: %v does not wrap ErrUnavailable", name, err)
			}
			if piece, ok := leaked(err.Error()); ok {
				t.Errorf("%s: Open error shows %q: %v", name, piece, err)
			}
		}
	}
	if piece, ok := leaked(logs.String()); ok {
		t.Errorf("a log line shows %q:\n%s", piece, logs.String())
	}
	if parsed == 0 || refused == 0 || openErrs == 0 {
		t.Fatalf("the table does not exercise every path: %d parsed, %d refused, %d Open errors", parsed, refused, openErrs)
	}
	t.Logf("%d URLs refused, %d parsed, %d Open errors checked", refused, parsed, openErrs)
}

// TestAmbiguousAtIsRefused pins the behaviour for the URLs of the report:
// an '@' after the host list is refused whatever follows it, and the
// message quotes nothing of the URL, not even the user name or the piece of
// the password before the delimiter, where a parser would see a host.
func TestAmbiguousAtIsRefused(t *testing.T) {
	for _, u := range []string{
		"redis://UsrK9q:PwA7x/SSW0RD@127.0.0.1:6379",
		"redis://UsrK9q:PwA7x?SSW0RD@127.0.0.1:6379",
		"redis://UsrK9q:PwA7x#SSW0RD@127.0.0.1:6379",
		"rediss://UsrK9q:PwA7x/SSW0RD@a:1,b:2",
		"memcached://UsrK9q:PwA7x/SSW0RD@127.0.0.1:11211",
		"postgres://UsrK9q:5432/SSW0RD@127.0.0.1/db",
		"mongodb://UsrK9q:PwA7x/SSW0RD@127.0.0.1/db",
		"redis://127.0.0.1:1/SSW0RD@h",
		"redis://h/0?prefix=Zq8Jv@b",
		"file://UsrK9q:PwA7x/SSW0RD@localhost/dir",
		"file:///dir/PwA7x@SSW0RD",
	} {
		_, err := storeurl.Parse(u)
		if !errors.Is(err, storeurl.ErrBadURL) {
			t.Errorf("%s: %v, want ErrBadURL", u, err)
			continue
		}
		if piece, ok := leaked(err.Error()); ok {
			t.Errorf("%s: message shows %q: %v", u, piece, err)
		}
		if !strings.Contains(err.Error(), "%40") {
			t.Errorf("%s: message does not say how to escape: %v", u, err)
		}
	}
	// An '@' in a relative file: directory is no userinfo.
	if s, err := storeurl.Parse("file:app@2/sessions"); err != nil || s.File.Dir != "app@2/sessions" {
		t.Errorf("file:app@2/sessions: %v", err)
	}
	if s, err := storeurl.Parse("file:///srv/app%402"); err != nil || s.File.Dir != "/srv/app@2" {
		t.Errorf("file:///srv/app%%402: %v", err)
	}
}

// TestPasswordOptions: the values of password options in the query are
// masked in String and kept out of errors, like the userinfo.
func TestPasswordOptions(t *testing.T) {
	p := closedPort(t)
	for _, tc := range []struct{ url, want string }{
		{
			fmt.Sprintf("postgres://127.0.0.1:%d/db?password=%s&connect_timeout=2", p, passMid),
			fmt.Sprintf("postgres://127.0.0.1:%d/db?password=xxxxx&connect_timeout=2", p),
		},
		{
			fmt.Sprintf("postgres://%s@127.0.0.1:%d/db?sslpassword=%s%%2F%s&connect_timeout=2", userTok, p, passMid, passTail),
			fmt.Sprintf("postgres://xxxxx@127.0.0.1:%d/db?sslpassword=xxxxx&connect_timeout=2", p),
		},
		{
			fmt.Sprintf("mongodb://%s:%s@127.0.0.1:%d/db?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:%s&serverSelectionTimeoutMS=300", userTok, passHead, p, passMid),
			fmt.Sprintf("mongodb://xxxxx@127.0.0.1:%d/db?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN%%3Axxxxx&serverSelectionTimeoutMS=300", p),
		},
	} {
		s, err := storeurl.Parse(tc.url)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		if s.String() != tc.want {
			t.Errorf("String() = %s, want %s", s, tc.want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, err = s.Open(ctx)
		cancel()
		if !errors.Is(err, storeurl.ErrUnavailable) {
			t.Errorf("%s: Open: %v", tc.url, err)
		} else if piece, ok := leaked(err.Error()); ok {
			t.Errorf("%s: Open error shows %q: %v", tc.url, piece, err)
		}
	}
	for _, u := range []string{
		"postgres://h/db?password=" + passHead + "%zz" + passMid,
		"postgres://h/db?password=" + passHead + "%" + passMid + "&sslmode=bogus",
		"postgres://h/db?sslmode=bogus&password=" + passMid,
		"mongodb://h/db?tlsCertificateKeyFilePassword=" + passMid + "&wtimeoutMS=-5",
		"mongodb://h/db?authMechanismProperties=" + passMid,
	} {
		_, err := storeurl.Parse(u)
		if err == nil {
			t.Errorf("%s: accepted", u)
		} else if piece, ok := leaked(err.Error()); ok {
			t.Errorf("%s: message shows %q: %v", u, piece, err)
		}
	}
}

// TestUserinfoMessages: a malformed userinfo gets a message saying what to
// do, without quoting it; a well-formed one reaches the drivers decoded,
// whatever delimiters it escapes.
func TestUserinfoMessages(t *testing.T) {
	for _, tc := range []struct{ url, msg string }{
		{"redis://UsrK9q:PwA7x%zzSSW0RD@h", "%25"},
		{"redis://UsrK9q:PwA7x%@h", "%25"},
		{"redis://UsrK9q%4:PwA7x@h", "%25"},
		{"postgres://UsrK9q:PwA7x SSW0RD@h/db", "must be percent-encoded"},
		{"mongodb://UsrK9q:PwA7xäSSW0RD@h/db", "must be percent-encoded"},
		{"mongodb://:PwA7x@h/db", "username required"},
		{"UsrK9q:PwA7x@h", "unknown scheme;"},
		{"UsrK9q:9PwA7x@h", "no scheme before host:port"},
		{"redis://UsrK9q:PwA7x@h:SSW0RD", "host: port must be a number"},
		{"redis://a:1,UsrK9q:PwA7x", "host 2 of 2: port must be a number"},
		{"memcached://UsrK9q:PwA7x", "host: port must be a number"},
		{"memcached://h/SSW0RD", "no path"},
		{"redis://h/SSW0RD", "database number"},
	} {
		_, err := storeurl.Parse(tc.url)
		if !errors.Is(err, storeurl.ErrBadURL) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want a message with %q", tc.url, err, tc.msg)
			continue
		}
		if piece, ok := leaked(err.Error()); ok {
			t.Errorf("%s: message shows %q: %v", tc.url, piece, err)
		}
	}
	// Delimiters that net/url tolerates unescaped in a userinfo (':' in
	// the password, '@') are escaped for the drivers, which would split on
	// them: pgx takes the first '@' of a host list, MongoDB refuses both.
	for _, u := range []string{
		"mongodb://UsrK9q:PwA7x:SSW0RD@127.0.0.1/db",
		"mongodb://UsrK9q:PwA7x@SSW0RD@127.0.0.1/db",
		"postgres://UsrK9q:PwA7x@SSW0RD@127.0.0.1:1,127.0.0.1:2/db",
		"redis://UsrK9q:PwA7x@SSW0RD@127.0.0.1",
		"redis://u%3Ax:p%2F%3F%23%40%25w@h",
	} {
		s, err := storeurl.Parse(u)
		if err != nil {
			t.Errorf("%s: %v", u, err)
			continue
		}
		if s.String() != strings.Split(u, "//")[0]+"//xxxxx@"+u[strings.LastIndexByte(u, '@')+1:] {
			t.Errorf("String() = %s", s)
		}
	}
}

// TestSpecNotFromParse: a Spec built by hand is refused by Open, not a
// panic.
func TestSpecNotFromParse(t *testing.T) {
	for _, k := range []storeurl.Kind{storeurl.Redis, storeurl.Postgres, storeurl.Mongo, storeurl.Memcached, storeurl.File, storeurl.MySQL, storeurl.SQLite, "x"} {
		s := &storeurl.Spec{Kind: k}
		if _, _, err := s.Open(context.Background()); !errors.Is(err, storeurl.ErrBadURL) {
			t.Errorf("%s: %v", k, err)
		}
	}
	s, err := storeurl.Parse("redis://h")
	if err != nil {
		t.Fatal(err)
	}
	s.Kind = storeurl.Postgres
	if _, _, err := s.Open(context.Background()); !errors.Is(err, storeurl.ErrBadURL) {
		t.Errorf("changed kind: %v", err)
	}
	for _, k := range []storeurl.Kind{storeurl.SQLite, storeurl.Postgres} {
		s, err := storeurl.Parse("mysql://h/db?format=connect-session-knex")
		if err != nil {
			t.Fatal(err)
		}
		s.Kind = k
		if _, _, err := s.Open(context.Background()); !errors.Is(err, storeurl.ErrBadURL) {
			t.Errorf("mysql changed to %s: %v", k, err)
		}
	}
}

// lockedLog collects go-redis's log lines.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Printf(_ context.Context, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.b, format+"\n", args...)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// stderrLog is go-redis's default logger.
type stderrLog struct{ l *log.Logger }

func (s stderrLog) Printf(_ context.Context, format string, args ...any) {
	s.l.Printf(format, args...)
}

func captureRedisLog(t *testing.T) *lockedLog {
	l := &lockedLog{}
	redis.SetLogger(l)
	t.Cleanup(func() { redis.SetLogger(stderrLog{log.New(os.Stderr, "redis: ", log.LstdFlags|log.Lshortfile)}) })
	return l
}
