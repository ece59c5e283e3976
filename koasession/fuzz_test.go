package koasession_test

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/koasession"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// FuzzCookiePayload feeds the cookie-mode decoder (Node's base64, UTF-8
// repair, JSON, the _expire/_maxAge/_session rules) arbitrary payloads: it
// must never panic, must answer only "no session" errors, and whatever it
// accepts must survive a save and a load unchanged.
func FuzzCookiePayload(f *testing.F) {
	for _, s := range []string{
		"", "e30=", "eyJhIjoxfQ", "eyJh-Ijox_fQ==", "%%%", "YQ=YQ",
		base64.StdEncoding.EncodeToString([]byte(`{"passport":{"user":7},"_expire":1796247122435,"_maxAge":86400000}`)),
		base64.StdEncoding.EncodeToString([]byte(`{"a":"\ud800","_session":true,"_maxAge":5}`)),
		base64.StdEncoding.EncodeToString([]byte(`{"_expire":1e400,"isNew":1,"2":1,"1":[{}],"x":null}`)),
		base64.StdEncoding.EncodeToString([]byte("{\"a\":\"\xe2\x82\"}")),
		base64.StdEncoding.EncodeToString([]byte(" {\"_maxAge\":-1e300} ")),
	} {
		f.Add(s)
	}
	now := func() time.Time { return time.UnixMilli(1796247122435) }
	b, err := koasession.New(koasession.Config{Keys: []string{"k"}, Now: now, Decoder: sessionjson.Decoder{MaxBytes: 1 << 16}})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, value string) {
		s, err := b.LoadID(ctx, value)
		if err != nil {
			if !errors.Is(err, sessionbridge.ErrNoSession) || errors.Is(err, sessionbridge.ErrStore) {
				t.Fatalf("%q: %v", value, err)
			}
			return
		}
		before, err := s.Record.Encode()
		if err != nil {
			t.Fatal(err)
		}
		m := s.Record.Cookie.OriginalMaxAge
		if err := b.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		again, err := b.LoadID(ctx, s.ID)
		if err != nil {
			t.Fatalf("a saved session does not load: %v", err)
		}
		after, _ := again.Record.Encode()
		if string(before) != string(after) {
			t.Fatalf("data changed through a save:\n%s\n%s", before, after)
		}
		if m2 := again.Record.Cookie.OriginalMaxAge; m != nil && *m != 0 && (m2 == nil || *m2 != *m) {
			t.Fatalf("maxAge %d became %v", *m, m2)
		}
	})
}

// FuzzSessionIDFromValue: "<value>.<sig>" from a client never panics and
// fails only as "no session".
func FuzzSessionIDFromValue(f *testing.F) {
	b, err := koasession.New(koasession.Config{Keys: []string{"k"}})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", ".", "a.b", "e30=.x", "..", "e30=.abc.def"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if _, err := b.SessionIDFromValue(v); err != nil && !errors.Is(err, sessionbridge.ErrNoSession) {
			t.Fatalf("%q: %v", v, err)
		}
	})
}
