package sessionbridge_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/passportuser"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/socketauth"
	"github.com/sessionbridge/sessionbridge/storeurl"
)

// sigOf is the signature part of a signed value "s:<id>.<signature>" or
// "<id>.<signature>".
func sigOf(signed string) string { return signed[strings.LastIndexByte(signed, '.')+1:] }

// TestBadInputMatrix feeds every layer input Node never produces (or that
// an attacker would send) and requires the exact typed error, no panic, and
// no false accept. Positive controls (want == nil) sit among the cases so a
// layer that refuses everything fails too.
func TestBadInputMatrix(t *testing.T) {
	const secret = "keyboard cat"
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	store := sessionbridge.NewMemoryStore()
	store.SetClock(func() time.Time { return now })
	b, err := sessionbridge.New(sessionbridge.Config{Secrets: []string{secret}, Store: store, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	// A store that keeps expired records, for the expiry case.
	keep := sessionbridge.NewMemoryStore()
	keep.SetClock(func() time.Time { return now.Add(-24 * time.Hour) })
	bKeep, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{secret}, Store: noTTLStore{keep}, Now: func() time.Time { return now }})

	const sid = "wUSQkLG76IZV6i_SmQndn-U6jpP2yB8G"
	const cookieJSON = `{"originalMaxAge":3600000,"expires":"2026-11-27T13:00:00.000Z","httpOnly":true,"path":"/"}`
	good := `{"cookie":` + cookieJSON + `,"passport":{"user":7}}`
	store.SetRaw(sid, []byte(good))
	signer := b.Signer()
	val := signer.CookieValue(sid)                         // s%3A<sid>.<sig>
	raw, _ := cookiesig.DecodeURIComponent(val)            // s:<sid>.<sig>
	sig := raw[strings.LastIndexByte(raw, '.')+1:]         // 43 chars
	other, _ := cookiesig.NewSigner("another secret")      // for forgeries
	forgedVal := other.CookieValue(sid)                    // right id, wrong secret
	otherIDVal := "s%3Aanother-id." + url.QueryEscape(sig) // signature of another id

	type tc struct {
		layer, name string
		run         func() error
		want        error // nil: must succeed
	}
	var cases []tc
	cookie := func(name, header string, want error) {
		cases = append(cases, tc{"cookie", name, func() error {
			r := httptest.NewRequest("GET", "/", nil)
			if header != "\x00none" {
				r.Header.Set("Cookie", header)
			}
			_, err := b.Load(r)
			return err
		}, want})
	}
	cookie("valid (control)", "connect.sid="+val, nil)
	cookie("missing header", "\x00none", cookiesig.ErrNoCookie)
	cookie("empty header", "", cookiesig.ErrNoCookie)
	cookie("empty value", "connect.sid=", cookiesig.ErrNoCookie)
	cookie("other cookies only", "a=1; b=2", cookiesig.ErrNoCookie)
	cookie("name prefix only", "connect.sidx="+val, cookiesig.ErrNoCookie)
	cookie("duplicate: forged first", "connect.sid="+forgedVal+"; connect.sid="+val, cookiesig.ErrBadSignature)
	cookie("duplicate: valid first (control)", "connect.sid="+val+"; connect.sid="+forgedVal, nil)
	cookie("quoted (control)", `connect.sid="`+val+`"`, nil)
	cookie("unbalanced quote", `connect.sid="`+val, cookiesig.ErrNotSigned)
	// decodeURIComponent fails, the raw value is kept: "s%3A..." lacks "s:".
	cookie("invalid percent-encoding", "connect.sid=s%3A"+sid+"%E0%A4%A."+sig, cookiesig.ErrNotSigned)
	cookie("invalid percent-encoding, raw s:", "connect.sid=s:"+sid+"%E0%A4%A."+sig, cookiesig.ErrBadSignature)
	cookie("no s: prefix", "connect.sid="+sid+"."+url.QueryEscape(sig), cookiesig.ErrNotSigned)
	cookie("bare id", "connect.sid="+sid, cookiesig.ErrNotSigned)
	cookie("no dot", "connect.sid=s%3A"+sid, cookiesig.ErrMalformed)
	cookie("empty signature", "connect.sid=s%3A"+sid+".", cookiesig.ErrBadSignature)
	cookie("signature of another secret", "connect.sid="+forgedVal, cookiesig.ErrBadSignature)
	cookie("signature of another id", "connect.sid="+otherIDVal, cookiesig.ErrBadSignature)
	cookie("truncated signature", "connect.sid="+val[:len(val)-1], cookiesig.ErrBadSignature)
	cookie("padded signature", "connect.sid="+val+"%3D", cookiesig.ErrBadSignature)
	cookie("base64url signature", "connect.sid=s%3A"+sid+"."+strings.NewReplacer("+", "-", "/", "_").Replace(sig)+"x", cookiesig.ErrBadSignature)
	cookie("64 KiB header", "connect.sid="+val+"; junk="+strings.Repeat("x", 64<<10), cookiesig.ErrMalformed)
	cookie("non-UTF-8", "connect.sid=s:\xff\xfe"+sid+"."+sig, cookiesig.ErrBadSignature)
	cookie("NUL byte", "connect.sid=s:"+sid+"\x00."+sig, cookiesig.ErrBadSignature)
	cookie("unknown session", "connect.sid="+signer.CookieValue("nosuchsession00000000000000000000"), sessionbridge.ErrNotFound)

	record := func(name, rec string, want error) {
		id := fmt.Sprintf("rec%02d", len(cases))
		store.SetRaw(id, []byte(rec))
		cases = append(cases, tc{"record", name, func() error {
			_, err := b.LoadID(context.Background(), id)
			return err
		}, want})
	}
	record("valid (control)", good, nil)
	record("empty", ``, sessionjson.ErrInvalidJSON)
	record("not JSON", `hello`, sessionjson.ErrInvalidJSON)
	record("truncated", good[:len(good)/2], sessionjson.ErrInvalidJSON)
	record("JSON array", `[{"cookie":{}}]`, sessionjson.ErrNotObject)
	record("no cookie", `{"passport":{"user":7}}`, sessionjson.ErrNoCookie)
	record("cookie a string", `{"cookie":"x"}`, sessionjson.ErrBadCookie)
	record("cookie null", `{"cookie":null}`, sessionjson.ErrBadCookie)
	record("expires not a date", `{"cookie":{"expires":"soon"}}`, sessionjson.ErrBadCookie)
	record("originalMaxAge a string", `{"cookie":{"originalMaxAge":"3600000"}}`, sessionjson.ErrBadCookie)
	record("10 MB record", `{"cookie":`+cookieJSON+`,"blob":"`+strings.Repeat("a", 10<<20)+`"}`, sessionjson.ErrTooLarge)
	record("10k-deep nesting", `{"cookie":`+cookieJSON+`,"x":`+strings.Repeat("[", 10000)+strings.Repeat("]", 10000)+`}`, sessionjson.ErrTooDeep)
	record("duplicate keys", `{"cookie":`+cookieJSON+`,"passport":{"user":1},"passport":{"user":7}}`, sessionjson.ErrDuplicateKey)
	record("duplicate cookie", `{"cookie":`+cookieJSON+`,"cookie":{}}`, sessionjson.ErrDuplicateKey)
	var many strings.Builder
	many.WriteString(`{"cookie":` + cookieJSON + `,"passport":{"user":7}`)
	for i := range 100_000 {
		fmt.Fprintf(&many, `,"k%d":1`, i)
	}
	record("100k top-level keys (control)", many.String()+`}`, nil)
	record("100k top-level keys, the last one repeated", many.String()+`,"k99999":2}`, sessionjson.ErrDuplicateKey)
	record("100k-key cart (control)", `{"cookie":`+cookieJSON+`,"cart":{"x":0`+strings.Repeat(`,"y":1`, 100_000)+`}}`, nil)
	store.SetRaw("atlimit", append(append([]byte(`{"cookie":`+cookieJSON+`,"blob":"`), bytes.Repeat([]byte("a"), 4<<20-200)...), `"}`...))
	cases = append(cases, tc{"record", "4 MiB record, context already done", func() error {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := b.LoadID(ctx, "atlimit")
		if !errors.Is(err, sessionbridge.ErrStore) {
			return fmt.Errorf("not a store error: %w", err)
		}
		return err
	}, context.Canceled})
	cases = append(cases, tc{"record", "4 MiB record (control)", func() error {
		_, err := b.LoadID(context.Background(), "atlimit")
		return err
	}, nil})
	store.SetRaw("millennium", []byte(`{"cookie":{"originalMaxAge":31536000000000,"expires":"3026-11-27T12:00:00.000Z"},"passport":{"user":7}}`))
	cases = append(cases, tc{"record", "1000-year maxAge, touched (control)", func() error {
		s, err := b.LoadID(context.Background(), "millennium")
		if err != nil {
			return err
		}
		if err := b.Touch(context.Background(), s); err != nil {
			return err
		}
		_, err = b.LoadID(context.Background(), "millennium")
		return err
	}, nil})
	keep.SetRaw("old", []byte(`{"cookie":{"originalMaxAge":1000,"expires":"2026-11-27T11:00:00.000Z"},"passport":{"user":7}}`))
	cases = append(cases, tc{"record", "expired, store still holds it", func() error {
		_, err := bKeep.LoadID(context.Background(), "old")
		return err
	}, sessionbridge.ErrExpired})

	passport := func(name, p string, want error) {
		cases = append(cases, tc{"passport", name, func() error {
			rec, err := sessionjson.Decode([]byte(`{"cookie":{},"passport":` + p + `}`))
			if err != nil {
				return err
			}
			_, err = passportuser.Raw(&sessionbridge.Session{Record: rec})
			return err
		}, want})
	}
	passport("user 7 (control)", `{"user":7}`, nil)
	passport("user 0 is a user", `{"user":0}`, nil)
	passport("user object", `{"user":{"id":"u1"}}`, nil)
	passport("user huge number", `{"user":123456789012345678901234567890}`, nil)
	passport("user null", `{"user":null}`, passportuser.ErrNotLoggedIn)
	passport("user false", `{"user":false}`, passportuser.ErrNotLoggedIn)
	passport("user empty string", `{"user":""}`, passportuser.ErrNotLoggedIn)
	passport("logged out", `{}`, passportuser.ErrNotLoggedIn)
	passport("passport a string", `"alice"`, passportuser.ErrBadPassport)
	passport("passport an array", `[7]`, passportuser.ErrBadPassport)
	passport("passport null", `null`, passportuser.ErrNotLoggedIn)

	a, _ := socketauth.New(socketauth.Config{Source: b, AuthField: "session", QueryParam: "session"})
	hs := func(name, cookieHeader, query string, auth map[string]any, want error) {
		cases = append(cases, tc{"handshake", name, func() error {
			r := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket"+query, nil)
			if cookieHeader != "" {
				r.Header.Set("Cookie", cookieHeader)
			}
			_, err := a.Authorize(context.Background(), r, auth)
			return err
		}, want})
	}
	hs("cookie (control)", "connect.sid="+val, "", nil, nil)
	hs("signed value in auth (control)", "", "", map[string]any{"session": raw}, nil)
	hs("unsigned id in auth", "", "", map[string]any{"session": sid}, cookiesig.ErrNotSigned)
	hs("unsigned id in query", "", "&session="+sid, nil, cookiesig.ErrNotSigned)
	hs("passport.socketio session_id", "", "&session_id="+sid, nil, cookiesig.ErrNoCookie)
	hs("valid cookie and forged auth", "connect.sid="+val, "", map[string]any{"session": forgedVal}, cookiesig.ErrBadSignature)
	hs("forged cookie and valid auth", "connect.sid="+forgedVal, "", map[string]any{"session": raw}, cookiesig.ErrBadSignature)
	hs("oversized auth payload", "", "", map[string]any{"session": "s:" + strings.Repeat("a", 1<<20) + "." + sig}, cookiesig.ErrMalformed)
	hs("auth not a string", "", "", map[string]any{"session": map[string]any{"id": sid}}, cookiesig.ErrMalformed)

	hs("query credential not UTF-8", "", "&session="+url.QueryEscape("s:"+signer.Sign("ab\xff")), nil, cookiesig.ErrMalformed)

	// Cookie headers reach express-session as latin1 text: the signature
	// covers the UTF-8 of that text, and the id is its UTF-8.
	store.SetRaw("ab\u00e9", []byte(good))
	cookie("latin1 byte, signed as Node reads it (control)", "connect.sid="+"s:ab\xe9."+sigOf(signer.Sign("ab\u00e9")), nil)
	cookie("latin1 byte, signed over the raw byte", "connect.sid="+"s:ab\xe9."+sigOf(signer.Sign("ab\xe9")), cookiesig.ErrBadSignature)

	// The net/http middleware: every request that could open a connection
	// is authorized, whatever its sid.
	mw := func(name, query, cookieHeader string, wantStatus int) {
		cases = append(cases, tc{"middleware", name, func() error {
			reached := false
			h := a.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
			r := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling"+query, nil)
			if cookieHeader != "" {
				r.Header.Set("Cookie", cookieHeader)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			switch {
			case reached:
				return nil
			case w.Code != wantStatus:
				return fmt.Errorf("refused with %d, want %d", w.Code, wantStatus)
			}
			return fmt.Errorf("%w: %d", socketauth.ErrUnauthorized, w.Code)
		}, socketauth.ErrUnauthorized})
	}
	mw("empty sid, no cookie", "&sid=", "", http.StatusUnauthorized)
	mw("sid without value, no cookie", "&sid", "", http.StatusUnauthorized)
	mw("unknown sid, no cookie", "&sid=unknown", "", http.StatusUnauthorized)
	mw("known-looking sid, forged cookie", "&sid=abc", "connect.sid="+forgedVal, http.StatusForbidden)
	mw("repeated sid, no cookie", "&sid=abc&sid=", "", http.StatusUnauthorized)
	cases = append(cases, tc{"middleware", "valid cookie with a sid (control)", func() error {
		var err error = socketauth.ErrUnauthorized
		h := a.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { err = nil }))
		r := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling&sid=abc", nil)
		r.Header.Set("Cookie", "connect.sid="+val)
		h.ServeHTTP(httptest.NewRecorder(), r)
		return err
	}, nil})

	// Store URLs: no byte of the password in an error or in String().
	const canary = "SSW0RD"
	storeURL := func(name, rawURL string, want error) {
		cases = append(cases, tc{"store URL", name, func() error {
			spec, err := storeurl.Parse(rawURL)
			if spec != nil && strings.Contains(spec.String(), canary) {
				return fmt.Errorf("String() shows the password")
			}
			if err != nil && strings.Contains(err.Error(), canary) {
				return fmt.Errorf("error shows the password")
			}
			return err
		}, want})
	}
	storeURL("escaped password (control)", "redis://user:Pa%2F"+canary+"@127.0.0.1:6379", nil)
	storeURL("password with /", "redis://user:Pa/"+canary+"@127.0.0.1:6379", storeurl.ErrBadURL)
	storeURL("password with ?", "postgres://user:Pa?"+canary+"@127.0.0.1/db", storeurl.ErrBadURL)
	storeURL("password with #", "mongodb://user:Pa#"+canary+"@127.0.0.1/db", storeurl.ErrBadURL)
	storeURL("password with a bad escape", "memcached://user:Pa%zz"+canary+"@127.0.0.1:11211", storeurl.ErrBadURL)

	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	var panics, falseAccepts, wrong int
	for _, c := range cases {
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					panics++
					err = fmt.Errorf("panic: %v", p)
				}
			}()
			return c.run()
		}()
		switch {
		case c.want == nil && err != nil:
			wrong++
			t.Errorf("%s/%s: control case refused: %v", c.layer, c.name, err)
		case c.want != nil && err == nil:
			falseAccepts++
			t.Errorf("%s/%s: FALSE ACCEPT, want %v", c.layer, c.name, c.want)
		case c.want != nil && !errors.Is(err, c.want):
			wrong++
			t.Errorf("%s/%s: got %v, want %v", c.layer, c.name, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), sid) || strings.Contains(err.Error(), secret)) {
			t.Errorf("%s/%s: error leaks the id or the secret: %.200s", c.layer, c.name, err)
		}
	}
	t.Logf("bad-input matrix: %d cases, %d panics, %d false accepts, %d wrong errors", len(cases), panics, falseAccepts, wrong)
}
