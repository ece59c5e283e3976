package sessionbridge_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/passportuser"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/socketauth"
)

// downStore fails every call with an error that names the address, like a
// store whose server is stopped.
type downStore struct{}

var errConnRefused = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

func (downStore) Get(context.Context, string) (*sessionjson.Session, error) {
	return nil, errConnRefused
}
func (downStore) Set(context.Context, string, *sessionjson.Session) error   { return errConnRefused }
func (downStore) Touch(context.Context, string, *sessionjson.Session) error { return errConnRefused }
func (downStore) Destroy(context.Context, string) error                     { return errConnRefused }

// TestNoSecretsInLogsOrErrors drives every path that logs or returns an
// error (bad cookies, missing and corrupt sessions, store outages through
// the middleware, socket authorization and its tracker, passport
// login/logout on a failing store) with a capturing logger, and scans all
// log lines and error strings for the secret, the cookie value (encoded and
// raw) and the session id.
func TestNoSecretsInLogsOrErrors(t *testing.T) {
	const secret = "s3cr3t-do-not-log"
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	prev := slog.Default()
	slog.SetDefault(logger)
	defer slog.SetDefault(prev)

	mem := sessionbridge.NewMemoryStore()
	ok, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{secret}, Store: mem, Logger: logger})
	down, _ := sessionbridge.New(sessionbridge.Config{Secrets: []string{secret}, Store: downStore{}, Logger: logger})
	ctx := context.Background()
	s, _ := ok.NewSession()
	_ = s.Record.Set("passport", map[string]any{"user": 7})
	_ = ok.Save(ctx, s)
	mem.SetRaw("corrupt0000000000000000000000000", []byte(`{"cookie":"x"}`))
	encoded := ok.Signer().CookieValue(s.ID)
	raw, _ := url.QueryUnescape(encoded)
	sig := raw[strings.LastIndexByte(raw, '.')+1:]

	var errs []error
	collect := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	headers := []string{"", "connect.sid=" + s.ID, "connect.sid=" + encoded + "x", "connect.sid=s%3A" + s.ID,
		"connect.sid=" + ok.Signer().CookieValue("corrupt0000000000000000000000000"), "connect.sid=" + ok.Signer().CookieValue("missing")}
	for _, b := range []*sessionbridge.Bridge{ok, down} {
		for _, h := range append(headers, "connect.sid="+encoded) {
			r := httptest.NewRequest("GET", "/p", nil)
			r.Header.Set("Cookie", h)
			_, err := b.Load(r)
			collect(err)
			b.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(httptest.NewRecorder(), r)
		}
		collect(b.Save(ctx, s))
		collect(b.Touch(ctx, s))
		collect(b.Destroy(ctx, s))
		_, err := passportuser.Login(ctx, b, s, 7, passportuser.Options{})
		collect(err)
		_, err = passportuser.Logout(ctx, b, s, passportuser.Options{})
		collect(err)

		a, _ := socketauth.New(socketauth.Config{Source: b, AuthField: "session", QueryParam: "session", Logger: logger})
		for _, h := range append(headers, "connect.sid="+encoded) {
			v := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket", nil)
			v.Header.Set("Cookie", h)
			_, err := a.Authorize(ctx, v, nil)
			collect(err)
			r := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling&session="+url.QueryEscape(s.ID), nil)
			r.Header.Set("Cookie", h)
			_, err = a.Authorize(ctx, r, map[string]any{"session": raw + "x"})
			collect(err)
			a.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(httptest.NewRecorder(), r)
		}
		tr := socketauth.NewTracker(a, socketauth.TrackerOptions{Interval: time.Millisecond})
		tr.Track(&socketauth.Auth{Session: s, StoredUser: []byte("7"), LoggedIn: true}, func(string) {})
		tr.Revalidate(ctx)
	}
	if len(errs) < 20 || logs.Len() == 0 {
		t.Fatalf("the scan saw too little: %d errors, %d bytes of logs", len(errs), logs.Len())
	}
	var text strings.Builder
	for _, err := range errs {
		text.WriteString(err.Error())
		text.WriteByte('\n')
	}
	text.Write(logs.Bytes())
	for what, needle := range map[string]string{"secret": secret, "session id": s.ID, "cookie": encoded, "raw cookie": raw, "signature": sig} {
		if strings.Contains(text.String(), needle) {
			t.Errorf("the %s appears in logs or errors", what)
		}
	}
	t.Logf("scanned %d error strings and %d log lines: no secret, cookie or session id", len(errs), bytes.Count(logs.Bytes(), []byte("\n")))
}
