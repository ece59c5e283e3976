package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	filestore "github.com/sessionbridge/sessionbridge/stores/file"
)

const (
	secret   = "keyboard cat"
	vector   = "abc.BpxCrWRpvZMh/wk/djl34N+m+VQEU7K/5WenLwJCgFU" // sign('abc','keyboard cat')
	fakeSid  = "wUSQkLG76IZV6i_SmQndn-U6jpP2yB8G"
	noSecret = "SESSIONBRIDGE_SECRET"
)

type result struct {
	code           int
	stdout, stderr string
}

func sb(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return result{code, out.String(), errb.String()}
}

func (r result) want(t *testing.T, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	return r
}

// inspected is inspect's output, with the raw bytes of user and session.
type inspected struct {
	Sid      string          `json:"sid"`
	LoggedIn bool            `json:"loggedIn"`
	User     json.RawMessage `json:"user"`
	Expires  *string         `json:"expires"`
	Session  json.RawMessage `json:"session"`
}

func decodeInspect(t *testing.T, r result) inspected {
	t.Helper()
	if strings.Count(r.stdout, "\n") != 1 || !strings.HasSuffix(r.stdout, "\n") {
		t.Fatalf("want one line of JSON, got %q", r.stdout)
	}
	var v inspected
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("output %q: %v", r.stdout, err)
	}
	for _, k := range []string{`"sid":`, `"loggedIn":`, `"user":`, `"expires":`, `"session":`} {
		if !strings.Contains(r.stdout, k) {
			t.Fatalf("output lacks %s: %s", k, r.stdout)
		}
	}
	return v
}

type minted struct {
	Sid       string `json:"sid"`
	Cookie    string `json:"cookie"`
	SetCookie string `json:"setCookie"`
}

func decodeMint(t *testing.T, r result) minted {
	t.Helper()
	var m minted
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil || m.Sid == "" || m.Cookie == "" || m.SetCookie == "" {
		t.Fatalf("mint output %q: %v", r.stdout, err)
	}
	return m
}

// fileStore returns a file store URL on a fresh directory and the store.
func fileStore(t *testing.T) (string, *filestore.Store) {
	dir := t.TempDir()
	st, err := filestore.New(filestore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return "file://" + dir, st
}

func cookieFor(sid string) string {
	s, _ := cookiesig.NewSigner(secret)
	return s.CookieValue(sid)
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"},
		{"inspect", "--help"}, {"inspect", "-h"}, {"help", "inspect"}, {"inspect", "--store", "x", "-h"},
		{"mint", "--help"}, {"mint", "-h"}, {"help", "mint"},
		{"sign", "--help"}, {"sign", "-h"}, {"help", "sign"},
		{"unsign", "--help"}, {"unsign", "-h"}, {"help", "unsign"},
		{"help", "stores"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := sb(t, args...).want(t, 0)
			if r.stderr != "" {
				t.Fatalf("stderr: %s", r.stderr)
			}
			want := "Usage: sessionbridge"
			switch {
			case args[0] == "help" && len(args) > 1 && args[1] == "stores":
				want = "redis://[user:pass@]host:port[/db]"
			case args[0] != "help" && args[0][0] != '-':
				want = "Usage: sessionbridge " + args[0] + " "
			case len(args) > 1:
				want = "Usage: sessionbridge " + args[1] + " "
			}
			if !strings.HasPrefix(r.stdout, want) && !strings.Contains(r.stdout, want) {
				t.Fatalf("usage lacks %q:\n%s", want, r.stdout)
			}
		})
	}
	// The store help names the connect-* options.
	for _, name := range []string{"disableTTL", "tableName", "schemaName", "createTableIfMissing", "collectionName", "touchAfter", "autoRemove", "namespace", "fileExtension"} {
		if u := sb(t, "help", "stores").stdout; !strings.Contains(u, name) {
			t.Errorf("help stores lacks %s", name)
		}
	}
	// Each command's usage names its flags and exit codes.
	for cmd, flags := range map[string][]string{
		"inspect": {"--store", "--secret", "--cookie-name", "--timeout", "Exit status", "  3 "},
		"mint":    {"--store", "--secret", "--cookie-name", "--max-age", "--user", "--data", "browser-session"},
		"sign":    {"--secret", "VALUE"},
		"unsign":  {"--secret", "SIGNED", "2 no secret matches"},
	} {
		u := sb(t, cmd, "--help").stdout
		for _, f := range flags {
			if !strings.Contains(u, f) {
				t.Errorf("%s usage lacks %q", cmd, f)
			}
		}
	}
}

func TestUsageErrors(t *testing.T) {
	t.Setenv("SESSIONBRIDGE_STORE", "")
	t.Setenv(noSecret, "")
	storeURL, _ := fileStore(t)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{nil, "Usage: sessionbridge <command>"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"--store", "x"}, "flags go after the command"},
		{[]string{"help", "nope"}, `unknown topic "nope"`},
		{[]string{"inspect", "--bogus", "c"}, "flag provided but not defined: -bogus"},
		{[]string{"inspect", "--secret", secret, "c"}, "--store is required"},
		{[]string{"inspect", "--store", storeURL, "c"}, "--secret is required"},
		{[]string{"inspect", "--store", storeURL, "--secret", ""}, "a secret must not be empty"},
		{[]string{"inspect", "--store", storeURL, "--secret", secret}, "want exactly one COOKIE argument, got 0"},
		{[]string{"inspect", "--store", storeURL, "--secret", secret, "a", "b"}, "want exactly one COOKIE argument, got 2"},
		{[]string{"inspect", "--store", storeURL, "--secret", secret, "--cookie-name", "", "c"}, "--cookie-name must not be empty"},
		{[]string{"inspect", "--store", storeURL, "--secret", secret, "--timeout", "0s", "c"}, "--timeout must be positive"},
		{[]string{"inspect", "--store", storeURL, "--secret"}, "flag needs an argument"},
		{[]string{"mint", "--store", storeURL, "--secret", secret, "extra"}, "mint takes no arguments, got 1"},
		{[]string{"mint", "--store", storeURL, "--secret", secret, "--max-age", "-1"}, "--max-age must be"},
		{[]string{"mint", "--store", storeURL, "--secret", secret, "--max-age", "1h"}, "invalid value"},
		{[]string{"mint", "--store", storeURL, "--secret", secret, "--user", "alice"}, "--user must be a JSON value"},
		{[]string{"mint", "--store", storeURL, "--secret", secret, "--user", "null"}, "would not log anyone in"},
		{[]string{"mint", "--store", storeURL, "--secret", secret, "--data", "[1]"}, "--data must be a JSON object"},
		{[]string{"mint", "--store", storeURL, "--secret", secret, "--data", `{"a":1`}, "not valid JSON"},
		{[]string{"mint", "--store", storeURL, "--secret", secret, "--data", `{"a":1}{}`}, "single JSON object"},
		{[]string{"mint", "--store", storeURL, "--secret", secret, "--data", `{"a":1,"a":2}`}, `the key "a" twice`},
		{[]string{"mint", "--store", storeURL, "--secret", secret, "--data", `{"cookie":{}}`}, `"cookie" is a name the session format reserves`},
		{[]string{"mint", "--store", storeURL, "--secret", secret, "--user", "7", "--data", `{"passport":{}}`}, "give one of them"},
		{[]string{"mint", "--secret", secret}, "--store is required"},
		{[]string{"mint", "--store", storeURL + "?touchAfter=60", "--secret", secret, "--max-age", "60000"}, "touchAfter (1m0s) must be shorter than --max-age (1m0s)"},
		{[]string{"sign", "abc"}, "--secret is required"},
		{[]string{"sign", "--secret", secret}, "want exactly one VALUE"},
		{[]string{"sign", "--secret", secret, "a", "b"}, "want exactly one VALUE"},
		{[]string{"unsign", "--secret", secret}, "want exactly one SIGNED"},
		{[]string{"unsign", "--nope", vector}, "flag provided but not defined"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := sb(t, tc.args...).want(t, 1)
			if r.stdout != "" {
				t.Fatalf("stdout: %s", r.stdout)
			}
			if !strings.Contains(r.stderr, tc.msg) {
				t.Fatalf("stderr lacks %q:\n%s", tc.msg, r.stderr)
			}
			if !strings.Contains(r.stderr, "Usage: sessionbridge") {
				t.Fatalf("no usage on stderr:\n%s", r.stderr)
			}
		})
	}
	// Nothing was written to the store by the refused mints.
	if entries, _ := os.ReadDir(strings.TrimPrefix(storeURL, "file://")); len(entries) != 0 {
		t.Fatalf("refused mints wrote %d files", len(entries))
	}
}

func TestBadStoreURLs(t *testing.T) {
	for _, tc := range []struct{ url, msg string }{
		{"localhost:6379", "no scheme"},
		{"mysq://h/db", `unknown scheme "mysq"`},
		{"mysql://h/db", "mysql:// URLs need format="},
		{"mysql://u:hunter2secret@h/db?format=connect-session-knex&sidfieldname=x", "case-sensitive"},
		{"sqlite:s.db?format=express-mysql-session", "sqlite: URLs take format="},
		{"mongodb://u:hunter2secret@h/db?format=connect-mongodb-session&collectionName=s", "unknown option collectionname (store options: collection, databaseName"},
		{"redis://h:port", "port must be a number"},
		{"redis://h?prefx=a", "unexpected option: prefx"},
		{"redis://a:1,b:2/3", "only database 0"},
		{"postgres://u@h/db?table=", "table= is empty"},
		{"mongodb://h/db?colection=s", "unknown option colection"},
		{"mongodb://h/db?stringify=maybe", "stringify"},
		{"memcached://h?ttl=-1", "ttl"},
		{"file://sessions", "names a host"},
		{"file:", "no directory"},
		{"redis://u:hunter2secret@h:port", "port must be a number"},
		{"postgres://u:hunter2secret@h/db?table=a&tableName=b", "table and tableName are the same option"},
		{"redis://u:hunter2secret@h?disablettl=true", "case-sensitive"},
		{"mongodb://u:hunter2secret@h/db?crypto=x", "never put the encryption secret in the URL"},
		{"mongodb://u:hunter2secret@h/db?autoRemove=interval", "autoRemove=interval"},
		{"memcached://h?secret=hunter2secret", "never put the encryption secret in the URL"},
		{"file:d?touchAfter=-1", "touchAfter"},
	} {
		for _, cmd := range [][]string{
			{"inspect", "--store", tc.url, "--secret", secret, cookieFor(fakeSid)},
			{"mint", "--store", tc.url, "--secret", secret},
		} {
			t.Run(cmd[0]+" "+tc.url, func(t *testing.T) {
				r := sb(t, cmd...).want(t, 1)
				if r.stdout != "" {
					t.Fatalf("stdout: %s", r.stdout)
				}
				if !strings.Contains(r.stderr, "--store: ") || !strings.Contains(r.stderr, tc.msg) {
					t.Fatalf("stderr does not say %q:\n%s", tc.msg, r.stderr)
				}
				if strings.Contains(r.stderr, "hunter2secret") || strings.Contains(r.stderr, secret) {
					t.Fatalf("stderr shows a password or secret:\n%s", r.stderr)
				}
			})
		}
	}
}

func TestSignUnsign(t *testing.T) {
	r := sb(t, "sign", "--secret", secret, "abc").want(t, 0)
	if r.stdout != vector+"\n" || r.stderr != "" {
		t.Fatalf("sign: %q %q", r.stdout, r.stderr)
	}
	// The first secret signs; flags may follow the value.
	if r := sb(t, "sign", "abc", "--secret", secret, "--secret", "old").want(t, 0); r.stdout != vector+"\n" {
		t.Fatalf("sign with rotation: %q", r.stdout)
	}
	if r := sb(t, "sign", "--secret", "new", "--secret", secret, "abc").want(t, 0); r.stdout == vector+"\n" {
		t.Fatal("sign used the second secret")
	}
	if r := sb(t, "unsign", "--secret", secret, vector).want(t, 0); r.stdout != "abc\n" || r.stderr != "" {
		t.Fatalf("unsign: %q %q", r.stdout, r.stderr)
	}
	// Every secret verifies.
	if r := sb(t, "unsign", "--secret", "new", "--secret", secret, vector).want(t, 0); r.stdout != "abc\n" {
		t.Fatalf("unsign with rotation: %q", r.stdout)
	}
	// A value starting with "-" after "--".
	if r := sb(t, "sign", "--secret", secret, "--", "-x").want(t, 0); r.stdout != cookiesig.Sign("-x", secret)+"\n" {
		t.Fatalf("sign -- -x: %q", r.stdout)
	}
	// express-session cookie values are accepted by unsign.
	for _, c := range []string{"s:" + vector, "s%3A" + strings.ReplaceAll(strings.ReplaceAll(vector, "/", "%2F"), "+", "%2B")} {
		if r := sb(t, "unsign", "--secret", secret, c).want(t, 0); r.stdout != "abc\n" {
			t.Fatalf("unsign %s: %q", c, r.stdout)
		}
	}
	for _, forged := range []string{
		"abc.BpxCrWRpvZMh/wk/djl34N+m+VQEU7K/5WenLwJCgFV", // last character changed
		"abd.BpxCrWRpvZMh/wk/djl34N+m+VQEU7K/5WenLwJCgFU", // value changed
		cookiesig.Sign("abc", "another secret"),
		"abc.BpxCrWRpvZMh/wk/djl34N+m+VQEU7K/5WenLwJCgF", // truncated
		"abc",
		"s:abc.nope",
	} {
		r := sb(t, "unsign", "--secret", secret, forged).want(t, 2)
		if r.stdout != "" || !strings.Contains(r.stderr, "sessionbridge unsign: ") {
			t.Fatalf("unsign %q: %q %q", forged, r.stdout, r.stderr)
		}
		if strings.Contains(r.stderr, secret) {
			t.Fatalf("the secret is in the message: %s", r.stderr)
		}
	}
	if r := sb(t, "unsign", "--secret", secret, cookiesig.Sign("abc", "x")); !strings.Contains(r.stderr, "matches none of the secrets") {
		t.Fatalf("message: %s", r.stderr)
	}
}

// TestEnvDefaults: --store and --secret fall back to the environment.
func TestEnvDefaults(t *testing.T) {
	storeURL, _ := fileStore(t)
	t.Setenv("SESSIONBRIDGE_STORE", storeURL)
	t.Setenv(noSecret, secret)
	if r := sb(t, "sign", "abc").want(t, 0); r.stdout != vector+"\n" {
		t.Fatalf("sign: %q", r.stdout)
	}
	m := decodeMint(t, sb(t, "mint", "--user", "7").want(t, 0))
	got := decodeInspect(t, sb(t, "inspect", m.Cookie).want(t, 0))
	if got.Sid != m.Sid || string(got.User) != "7" {
		t.Fatalf("inspect: %+v", got)
	}
	// Flags win over the environment.
	sb(t, "inspect", "--secret", "other", m.Cookie).want(t, 2)
}

// TestInspectExitStatus covers every exit status of inspect on a file store.
func TestInspectExitStatus(t *testing.T) {
	storeURL, st := fileStore(t)
	ctx := context.Background()
	now := time.Now()

	// A logged-in session written the way Node writes it.
	sid, _ := sessionbridge.NewID()
	sess := sessionjson.New(sessionjson.NewCookie(now, time.Hour))
	if err := sess.SetRaw("passport", json.RawMessage(`{"user":7}`)); err != nil {
		t.Fatal(err)
	}
	if err := sess.Set("note", "<&> é\u2028"); err != nil {
		t.Fatal(err)
	}
	if err := st.Set(ctx, sid, sess); err != nil {
		t.Fatal(err)
	}
	stored, err := os.ReadFile(filepath.Join(strings.TrimPrefix(storeURL, "file://"), sid+".json"))
	if err != nil {
		t.Fatal(err)
	}
	inspect := func(cookie string, extra ...string) result {
		return sb(t, append([]string{"inspect", "--store", storeURL, "--secret", secret, cookie}, extra...)...)
	}

	t.Run("0 found", func(t *testing.T) {
		r := inspect(cookieFor(sid)).want(t, 0)
		got := decodeInspect(t, r)
		if got.Sid != sid || !got.LoggedIn || string(got.User) != "7" {
			t.Fatalf("got %+v", got)
		}
		if string(got.Session) != string(stored) {
			t.Fatalf("session is not the stored record:\n got %s\nwant %s", got.Session, stored)
		}
		if want := sess.Cookie.Expires.UTC().Format(sessionjson.ExpiresLayout); got.Expires == nil || *got.Expires != want {
			t.Fatalf("expires %v, want %s", got.Expires, want)
		}
		if !strings.Contains(r.stdout, "<&> é\u2028") {
			t.Fatalf("the output escaped the record: %s", r.stdout)
		}
		if r.stderr != "" {
			t.Fatalf("stderr: %s", r.stderr)
		}
		// inspect does not touch the session.
		if after, _ := os.ReadFile(filepath.Join(strings.TrimPrefix(storeURL, "file://"), sid+".json")); string(after) != string(stored) {
			t.Fatal("inspect changed the stored record")
		}
	})

	t.Run("0 record kept as written", func(t *testing.T) {
		// Spaces and a key order Go would not choose: the output embeds
		// the record as it is, not re-encoded or compacted.
		id, _ := sessionbridge.NewID()
		rec := fmt.Sprintf(`{ "passport" : { "user" : "u<1>" },  "cookie": {"path":"/", "originalMaxAge":null, "expires":null}, "s":"\u00e9\/", "__lastAccess": %d }`, now.UnixMilli())
		if err := os.WriteFile(filepath.Join(strings.TrimPrefix(storeURL, "file://"), id+".json"), []byte(rec), 0o600); err != nil {
			t.Fatal(err)
		}
		r := inspect(cookieFor(id)).want(t, 0)
		got := decodeInspect(t, r)
		if string(got.Session) != rec || string(got.User) != `"u<1>"` || !got.LoggedIn {
			t.Fatalf("got %s", r.stdout)
		}
	})

	t.Run("0 not logged in", func(t *testing.T) {
		id, _ := sessionbridge.NewID()
		s := sessionjson.New(sessionjson.NewCookie(now, 0))
		if err := s.SetRaw("passport", json.RawMessage(`{}`)); err != nil {
			t.Fatal(err)
		}
		if err := st.Set(ctx, id, s); err != nil {
			t.Fatal(err)
		}
		got := decodeInspect(t, inspect(cookieFor(id)).want(t, 0))
		if got.LoggedIn || string(got.User) != "null" || got.Expires != nil {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("2", func(t *testing.T) {
		forged := "s%3A" + url.QueryEscape(cookiesig.Sign(sid, "another secret"))
		dec := "s:" + cookiesig.Sign(sid, secret)
		for name, tc := range map[string]struct {
			cookie string
			msg    string
		}{
			"missing":        {"theme=dark; other=1", "no connect.sid cookie"},
			"empty":          {"connect.sid=", "no connect.sid cookie"},
			"nothing":        {"", "no connect.sid cookie"},
			"unsigned":       {sid, "not signed"},
			"unsigned pair":  {"connect.sid=" + sid, "not signed"},
			"forged":         {forged, "matches none of the secrets"},
			"forged header":  {"a=1; connect.sid=" + forged, "matches none of the secrets"},
			"truncated":      {dec[:len(dec)-3], "matches none of the secrets"},
			"no signature":   {"s%3A" + sid, "malformed"},
			"other name":     {"other.sid=" + cookieFor(sid), "no connect.sid cookie"},
			"first one wins": {"connect.sid=" + forged + "; connect.sid=" + cookieFor(sid), "matches none of the secrets"},
		} {
			t.Run(name, func(t *testing.T) {
				r := inspect(tc.cookie).want(t, 2)
				if r.stdout != "" || !strings.Contains(r.stderr, tc.msg) {
					t.Fatalf("stdout %q, stderr %q; want %q", r.stdout, r.stderr, tc.msg)
				}
				if strings.Contains(r.stderr, sid) || strings.Contains(r.stderr, secret) || strings.Contains(r.stderr, "Usage:") {
					t.Fatalf("stderr shows the sid, the secret or the usage: %s", r.stderr)
				}
			})
		}
	})

	t.Run("3", func(t *testing.T) {
		missing, _ := sessionbridge.NewID()
		r := inspect(cookieFor(missing)).want(t, 3)
		if r.stdout != "" || !strings.Contains(r.stderr, "no such session") || strings.Contains(r.stderr, missing) {
			t.Fatalf("missing: %q %q", r.stdout, r.stderr)
		}
		// Expired by session-file-store's rule: __lastAccess + ttl < now.
		old, _ := sessionbridge.NewID()
		past := now.Add(-2 * time.Hour)
		oldStore, err := filestore.New(filestore.Options{Dir: strings.TrimPrefix(storeURL, "file://"), Now: func() time.Time { return past }})
		if err != nil {
			t.Fatal(err)
		}
		s := sessionjson.New(sessionjson.NewCookie(past, 0))
		_ = s.SetRaw("passport", json.RawMessage(`{"user":7}`))
		if err := oldStore.Set(ctx, old, s); err != nil {
			t.Fatal(err)
		}
		r = inspect(cookieFor(old)).want(t, 3)
		if strings.Contains(r.stderr, old) {
			t.Fatalf("stderr shows the sid: %s", r.stderr)
		}
		// With a longer ttl in the URL the same file is alive.
		r = sb(t, "inspect", "--store", storeURL+"?ttl=10800", "--secret", secret, cookieFor(old)).want(t, 0)
		if got := decodeInspect(t, r); got.Sid != old || !got.LoggedIn {
			t.Fatalf("with ttl=10800: %+v", got)
		}
	})

	t.Run("1", func(t *testing.T) {
		dir := strings.TrimPrefix(storeURL, "file://")
		// A record that is not an express-session record.
		bad, _ := sessionbridge.NewID()
		if err := os.WriteFile(filepath.Join(dir, bad+".json"), []byte(`{"no":"cookie"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		// A directory where the session file should be.
		weird, _ := sessionbridge.NewID()
		if err := os.Mkdir(filepath.Join(dir, weird+".json"), 0o700); err != nil {
			t.Fatal(err)
		}
		for name, tc := range map[string]struct {
			args []string
			msg  string
		}{
			"malformed record": {[]string{"--store", storeURL, cookieFor(bad)}, "store error"},
			"not a file":       {[]string{"--store", storeURL, cookieFor(weird)}, "store error"},
			"no directory":     {[]string{"--store", storeURL + "/nope", cookieFor(sid)}, "does not exist"},
			"redis down":       {[]string{"--store", "redis://127.0.0.1:1", "--timeout", "3s", cookieFor(sid)}, "store error: store unavailable: redis 127.0.0.1:1"},
		} {
			t.Run(name, func(t *testing.T) {
				r := sb(t, append([]string{"inspect", "--secret", secret}, tc.args...)...).want(t, 1)
				if r.stdout != "" || !strings.Contains(r.stderr, tc.msg) {
					t.Fatalf("stdout %q, stderr %q; want %q", r.stdout, r.stderr, tc.msg)
				}
				for _, s := range []string{sid, bad, weird, secret} {
					if strings.Contains(r.stderr, s) {
						t.Fatalf("stderr shows a sid or the secret: %s", r.stderr)
					}
				}
			})
		}
		if _, err := os.Stat(filepath.Join(dir, "nope")); !os.IsNotExist(err) {
			t.Fatal("inspect created the missing directory")
		}
	})
}

// TestInspectCookieForms: every way of passing the cookie finds the session.
func TestInspectCookieForms(t *testing.T) {
	storeURL, st := fileStore(t)
	sid, _ := sessionbridge.NewID()
	s := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
	_ = s.SetRaw("passport", json.RawMessage(`{"user":"42"}`))
	if err := st.Set(context.Background(), sid, s); err != nil {
		t.Fatal(err)
	}
	enc := cookieFor(sid)
	dec := "s:" + cookiesig.Sign(sid, secret)
	for name, args := range map[string][]string{
		"bare encoded":     {enc},
		"bare decoded":     {dec},
		"quoted":           {`"` + enc + `"`},
		"name=value":       {"connect.sid=" + enc},
		"name=decoded":     {"connect.sid=" + dec},
		"header":           {"_ga=GA1.2.3; connect.sid=" + enc + "; theme=dark"},
		"Cookie: header":   {"Cookie: theme=dark; connect.sid=" + enc},
		"cookie-name":      {"--cookie-name", "app.sid", "x=1; app.sid=" + enc},
		"cookie-name bare": {"--cookie-name", "app.sid", enc},
		"rotated secrets":  {"--secret", "new secret", enc},
		"flags after":      {enc, "--timeout", "5s"},
		"after --":         {"--", enc},
	} {
		t.Run(name, func(t *testing.T) {
			r := sb(t, append([]string{"inspect", "--store", storeURL, "--secret", secret}, args...)...).want(t, 0)
			got := decodeInspect(t, r)
			if got.Sid != sid || string(got.User) != `"42"` || !got.LoggedIn {
				t.Fatalf("got %+v", got)
			}
		})
	}
	// Rotation: a cookie signed with an old secret verifies when it is
	// listed after the new one, and not when it is gone.
	old := "s:" + cookiesig.Sign(sid, "old secret")
	sb(t, "inspect", "--store", storeURL, "--secret", secret, "--secret", "old secret", old).want(t, 0)
	sb(t, "inspect", "--store", storeURL, "--secret", secret, old).want(t, 2)
}

// TestMintFile: what mint writes, on the file store.
func TestMintFile(t *testing.T) {
	storeURL, _ := fileStore(t)
	dir := strings.TrimPrefix(storeURL, "file://")

	// Default: a browser-session cookie, no user, no data.
	m := decodeMint(t, sb(t, "mint", "--store", storeURL, "--secret", secret).want(t, 0))
	if len(m.Sid) != 32 || strings.Trim(m.Sid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		t.Fatalf("sid %q is not a uid-safe id", m.Sid)
	}
	if m.Cookie != cookieFor(m.Sid) {
		t.Fatalf("cookie %q, want %q", m.Cookie, cookieFor(m.Sid))
	}
	if m.SetCookie != "connect.sid="+m.Cookie+"; Path=/; HttpOnly" {
		t.Fatalf("setCookie %q", m.SetCookie)
	}
	rec, err := os.ReadFile(filepath.Join(dir, m.Sid+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(rec), `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"__lastAccess":`) {
		t.Fatalf("record %s", rec)
	}
	got := decodeInspect(t, sb(t, "inspect", "--store", storeURL, "--secret", secret, m.Cookie).want(t, 0))
	if got.LoggedIn || got.Expires != nil || string(got.Session) != string(rec) {
		t.Fatalf("inspect of the minted session: %+v", got)
	}

	// --max-age 0 is the default too.
	m = decodeMint(t, sb(t, "mint", "--store", storeURL, "--secret", secret, "--max-age", "0").want(t, 0))
	if m.SetCookie != "connect.sid="+m.Cookie+"; Path=/; HttpOnly" {
		t.Fatalf("--max-age 0: setCookie %q", m.SetCookie)
	}

	// --max-age, --user, --data (in order), another cookie name, a second
	// secret (the first signs).
	before := time.Now().Truncate(time.Millisecond)
	m = decodeMint(t, sb(t, "mint", "--store", storeURL, "--secret", secret, "--secret", "old",
		"--cookie-name", "app.sid", "--max-age", "3600000",
		"--user", `{"id":7,"name":"Alice"}`, "--data", `{"cart":[1], "z":1, "a":"<&>", "big":12345678901234567890}`).want(t, 0))
	if m.Cookie != cookieFor(m.Sid) {
		t.Fatalf("cookie %q not signed with the first secret", m.Cookie)
	}
	if !strings.HasPrefix(m.SetCookie, "app.sid="+m.Cookie+"; Path=/; Expires=") || !strings.HasSuffix(m.SetCookie, " GMT; HttpOnly") {
		t.Fatalf("setCookie %q", m.SetCookie)
	}
	rec, _ = os.ReadFile(filepath.Join(dir, m.Sid+".json"))
	s, err := sessionjson.Decode(rec)
	if err != nil {
		t.Fatal(err)
	}
	if keys := strings.Join(s.Keys(), ","); keys != "cookie,passport,cart,z,a,big,__lastAccess" {
		t.Fatalf("keys %s in %s", keys, rec)
	}
	if !strings.Contains(string(rec), `"passport":{"user":{"id":7,"name":"Alice"}},"cart":[1],"z":1,"a":"<&>","big":12345678901234567890`) {
		t.Fatalf("record %s", rec)
	}
	if s.Cookie.OriginalMaxAge == nil || *s.Cookie.OriginalMaxAge != 3600000 {
		t.Fatalf("originalMaxAge %v", s.Cookie.OriginalMaxAge)
	}
	if e := *s.Cookie.Expires; e.Before(before.Add(time.Hour)) || e.After(time.Now().Add(time.Hour)) {
		t.Fatalf("expires %v", e)
	}
	got = decodeInspect(t, sb(t, "inspect", "--store", storeURL, "--secret", secret, "--cookie-name", "app.sid", m.SetCookie[:strings.IndexByte(m.SetCookie, ';')]).want(t, 0))
	if !got.LoggedIn || string(got.User) != `{"id":7,"name":"Alice"}` || string(got.Session) != string(rec) {
		t.Fatalf("inspect: %+v", got)
	}

	// mint creates the file store's directory, as session-file-store does.
	sub := filepath.Join(dir, "new")
	sb(t, "mint", "--store", "file://"+sub, "--secret", secret).want(t, 0)
	if entries, _ := os.ReadDir(sub); len(entries) != 1 {
		t.Fatalf("mint into a new directory: %v", entries)
	}
}

// TestMintStoreError: a store that is down is exit 1, and says so.
func TestMintStoreError(t *testing.T) {
	r := sb(t, "mint", "--store", "memcached://127.0.0.1:1?timeout=200ms", "--secret", secret, "--user", "7").want(t, 1)
	if r.stdout != "" || !strings.Contains(r.stderr, "store error: store unavailable: memcached 127.0.0.1:1") {
		t.Fatalf("stdout %q stderr %q", r.stdout, r.stderr)
	}
}

// TestBridgeConfig: the Bridge the commands build gets the store URL's
// touchAfter, for every kind of store.
func TestBridgeConfig(t *testing.T) {
	for u, want := range map[string]time.Duration{
		"file:d?touchAfter=90":             90 * time.Second,
		"redis://h?touchAfter=1m":          time.Minute,
		"mongodb://h/db?touchAfter=3600":   time.Hour,
		"postgres://u@h/db?touchAfter=300": 5 * time.Minute,
		"memcached://h?touchAfter=5":       5 * time.Second,
		"memcached://h":                    0,
	} {
		f := flags{store: u, cookieName: "sid", timeout: time.Second, secrets: secretList{secret}}
		spec, err := spec(&f)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		store := sessionbridge.NewMemoryStore()
		cfg := bridgeConfig(&f, spec, store, time.Hour)
		if cfg.TouchAfter != want || cfg.CookieName != "sid" || cfg.Cookie.MaxAge != time.Hour || cfg.Store != store || len(cfg.Secrets) != 1 {
			t.Errorf("%s: config %+v, want TouchAfter %v", u, cfg, want)
		}
	}
}

// TestStoreOptionsCLI: mint and inspect with connect-* options in the URL
// (touchAfter included, with and without a cookie maxAge): the session is
// written where the options say and read back.
func TestStoreOptionsCLI(t *testing.T) {
	dir := t.TempDir()
	u := "file://" + dir + "?fileExtension=.sess&fileMode=0640&ttl=600&touchAfter=60"
	for _, maxAge := range []string{"3600000", ""} {
		args := []string{"mint", "--store", u, "--secret", secret, "--user", "7"}
		if maxAge != "" {
			args = append(args, "--max-age", maxAge)
		}
		m := decodeMint(t, sb(t, args...).want(t, 0))
		fi, err := os.Stat(filepath.Join(dir, m.Sid+".sess"))
		if err != nil || fi.Mode().Perm() != 0o640 {
			t.Fatalf("minted file: %v %v", fi, err)
		}
		got := decodeInspect(t, sb(t, "inspect", "--store", u, "--secret", secret, m.Cookie).want(t, 0))
		if got.Sid != m.Sid || !got.LoggedIn || string(got.User) != "7" {
			t.Fatalf("inspect: %+v", got)
		}
	}
}
