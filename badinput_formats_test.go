package sessionbridge_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesession"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/koasession"
	"github.com/sessionbridge/sessionbridge/passportuser"
)

// TestBadInputMatrixFormats is the bad-input matrix for the other Node
// session formats, through the SessionSource every consumer (socketauth,
// the CLI) uses: each case must give exactly its typed error, or succeed
// for the controls, and never show the cookie in the error.
func TestBadInputMatrixFormats(t *testing.T) {
	now := time.Now()
	type source struct {
		name  string
		src   sessionbridge.SessionSource
		value string // a valid signed value (the first cookie)
		pair  func(name, value, sig string) string
		sign  func(data string) string
		cname string
	}
	payload := base64.StdEncoding.EncodeToString([]byte(`{"passport":{"user":7}}`))
	koaPayload := base64.StdEncoding.EncodeToString([]byte(`{"passport":{"user":7},"_expire":` + itoa(now.Add(time.Hour).UnixMilli()) + `,"_maxAge":3600000}`))
	cs, err := cookiesession.New(cookiesession.Config{Keys: []string{"k1", "k0"}})
	if err != nil {
		t.Fatal(err)
	}
	koa, err := koasession.New(koasession.Config{Keys: []string{"k1", "k0"}, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	kg, _ := cookiesig.NewKeygrip("", "k1")
	other, _ := cookiesig.NewKeygrip("", "stranger")
	sha256kg, _ := cookiesig.NewKeygrip("sha256", "k1")
	pair := func(name, value, sig string) string { return name + "=" + value + "; " + name + ".sig=" + sig }

	for _, f := range []struct {
		name, cookie, value string
		src                 sessionbridge.SessionSource
	}{
		{"cookie-session", "session", payload, cs},
		{"koa-session", "koa.sess", koaPayload, koa},
	} {
		n, v := f.cookie, f.value
		sig := kg.Sign(n + "=" + v)
		unpadded := strings.TrimRight(v, "=")
		cases := []struct {
			name, header string
			want         error
		}{
			{"valid (control)", pair(n, v, sig), nil},
			{"old key (control)", pair(n, v, mustKeygrip(t, "k0").Sign(n+"="+v)), nil},
			{"unpadded value (control; Node accepts it)", pair(n, unpadded, kg.Sign(n+"="+unpadded)), nil},
			{"wrong key", pair(n, v, other.Sign(n+"="+v)), cookiesig.ErrBadSignature},
			{"another hash", pair(n, v, sha256kg.Sign(n+"="+v)), cookiesig.ErrBadSignature},
			{"swapped cookies", pair(n, sig, v), cookiesig.ErrBadSignature},
			{".sig for another name", pair(n, v, kg.Sign("other="+v)), cookiesig.ErrBadSignature},
			{".sig under another name", n + "=" + v + "; other.sig=" + sig, cookiesig.ErrNotSigned},
			{"padded signature", pair(n, v, sig+"="), cookiesig.ErrBadSignature},
			{"standard-alphabet signature", pair(n, v, strings.NewReplacer("-", "+", "_", "/").Replace(sig)), nilIfSame(sig)},
			{"signature of the unpadded value on the padded one", pair(n, v, kg.Sign(n+"="+unpadded)), cookiesig.ErrBadSignature},
			{"missing .sig", n + "=" + v, cookiesig.ErrNotSigned},
			{"empty .sig", n + "=" + v + "; " + n + ".sig=", cookiesig.ErrNotSigned},
			{"missing cookie", "a=1", cookiesig.ErrNoCookie},
			{"oversized header", pair(n, v, sig) + "; pad=" + strings.Repeat("x", cookiesig.DefaultMaxHeaderBytes), cookiesig.ErrMalformed},
		}
		for _, c := range cases {
			t.Run(f.name+"/"+c.name, func(t *testing.T) {
				r := httptest.NewRequest("GET", "/", nil)
				r.Header.Set("Cookie", c.header)
				sid, err := f.src.SessionID(r)
				if err == nil {
					var s *sessionbridge.Session
					s, err = f.src.LoadID(context.Background(), sid)
					if err == nil && !passportuser.LoggedIn(s) {
						t.Fatal("loaded, but without the user")
					}
				}
				switch {
				case c.want == nil && err != nil:
					t.Fatalf("control refused: %v", err)
				case c.want != nil && (!errors.Is(err, c.want) || !errors.Is(err, sessionbridge.ErrNoSession)):
					t.Fatalf("got %v, want %v wrapped in ErrNoSession", err, c.want)
				}
				if err != nil && (strings.Contains(err.Error(), v[:12]) || strings.Contains(err.Error(), sig[:12])) {
					t.Fatalf("error echoes the cookie: %v", err)
				}
			})
		}
		// Oversized payloads: the largest header accepted and one byte
		// over, with the padding inside the signed value itself.
		t.Run(f.name+"/header at the limit", func(t *testing.T) {
			base := pair(n, v, sig) + "; pad="
			at := base + strings.Repeat("x", cookiesig.DefaultMaxHeaderBytes-len(base))
			for _, h := range []struct {
				header string
				want   error
			}{{at, nil}, {at + "x", cookiesig.ErrMalformed}} {
				r := httptest.NewRequest("GET", "/", nil)
				r.Header.Set("Cookie", h.header)
				_, err := f.src.SessionID(r)
				if h.want == nil && err != nil || h.want != nil && !errors.Is(err, h.want) {
					t.Fatalf("%d bytes: %v, want %v", len(h.header), err, h.want)
				}
			}
		})
	}
}

// TestBadInputMatrixFastify is the matrix for the @fastify/session peer:
// one cookie, no s: prefix, the signature sent raw.
func TestBadInputMatrixFastify(t *testing.T) {
	const secret = "a secret of at least thirty-two characters"
	store := sessionbridge.NewMemoryStore()
	b, err := sessionbridge.New(sessionbridge.Config{Format: sessionbridge.FastifySession, Secrets: []string{secret}, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Record.SetRaw(passportuser.Key, []byte("7"))
	if err := b.Save(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	signer, _ := cookiesig.NewSigner(secret)
	other, _ := cookiesig.NewSigner("another secret of thirty-two characters")
	good := signer.Sign(s.ID)
	for _, c := range []struct {
		name, header string
		want         error
	}{
		{"valid (control)", "sessionId=" + good, nil},
		{"percent-encoded (control)", "sessionId=" + cookiesig.EncodeURIComponent(good), nil},
		{"wrong secret", "sessionId=" + other.Sign(s.ID), cookiesig.ErrBadSignature},
		{"express-session's prefix", "sessionId=s:" + good, cookiesig.ErrBadSignature},
		{"padded signature", "sessionId=" + good + "=", cookiesig.ErrBadSignature},
		{"no signature", "sessionId=" + s.ID, cookiesig.ErrMalformed},
		{"express-session's cookie name", "connect.sid=" + good, cookiesig.ErrNoCookie},
		{"oversized header", "sessionId=" + good + "; pad=" + strings.Repeat("x", cookiesig.DefaultMaxHeaderBytes), cookiesig.ErrMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Cookie", c.header)
			got, err := b.Load(r)
			switch {
			case c.want == nil && (err != nil || !passportuser.LoggedIn(got)):
				t.Fatalf("control refused: %v", err)
			case c.want != nil && (!errors.Is(err, c.want) || !errors.Is(err, sessionbridge.ErrNoSession)):
				t.Fatalf("got %v, want %v wrapped in ErrNoSession", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), s.ID[:12]) {
				t.Fatalf("error echoes the id: %v", err)
			}
		})
	}
}

// nilIfSame: a signature whose URL-safe characters are swapped for the
// standard alphabet is still the same signature only when it has none.
func nilIfSame(sig string) error {
	if strings.ContainsAny(sig, "-_") {
		return cookiesig.ErrBadSignature
	}
	return nil
}

func mustKeygrip(t *testing.T, keys ...string) *cookiesig.Keygrip {
	t.Helper()
	kg, err := cookiesig.NewKeygrip("", keys...)
	if err != nil {
		t.Fatal(err)
	}
	return kg
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
