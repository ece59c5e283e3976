package sessionjson_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
)

func hiddenCtx(key string) bool { return key == "isNew" || key == "__proto__" }

func TestDataRecordRoundTrip(t *testing.T) {
	in := `{"cookie":{"not":"express"},"passport":{"user":12345678901234567890},"isNew":true,"n":1.5}`
	s, err := sessionjson.DecodeData([]byte(in), hiddenCtx)
	if err != nil {
		t.Fatal(err)
	}
	if s.HasCookie() {
		t.Fatal("a data record reports a cookie member")
	}
	if got, want := s.Keys(), []string{"cookie", "passport", "n"}; !equalStrings(got, want) {
		t.Fatalf("keys %q, want %q (hidden dropped, cookie kept as data)", got, want)
	}
	if raw, _ := s.Raw("cookie"); string(raw) != `{"not":"express"}` {
		t.Fatalf("cookie member %s", raw)
	}
	// Dropping a hidden key changes what Node would write back.
	if !s.Modified() {
		t.Fatal("a record with a dropped member is not modified")
	}
	out, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"cookie":{"not":"express"},"passport":{"user":12345678901234567890},"n":1.5}`; string(out) != want {
		t.Fatalf("encode %s\nwant   %s", out, want)
	}

	clean, err := sessionjson.DecodeData(out, hiddenCtx)
	if err != nil {
		t.Fatal(err)
	}
	if clean.Modified() {
		t.Fatal("an untouched data record is modified")
	}
	clean.Cookie.Touch(time.Now()) // not part of a data record
	if clean.Modified() || clean.Expired(time.Now().Add(1000*time.Hour)) {
		t.Fatal("the Cookie field of a data record changed what it encodes or its expiry")
	}
	again, _ := clean.Encode()
	if string(again) != string(out) {
		t.Fatalf("untouched re-encode %s", again)
	}
}

func TestDataRecordEdits(t *testing.T) {
	s := sessionjson.NewData(hiddenCtx)
	if out, _ := s.Encode(); string(out) != `{}` {
		t.Fatalf("empty data record encodes as %s", out)
	}
	if err := s.Set("cookie", map[string]int{"a": 1}); err != nil {
		t.Fatalf("cookie is ordinary data here: %v", err)
	}
	if err := s.Set("isNew", true); !errors.Is(err, sessionjson.ErrReservedKey) {
		t.Fatalf("a hidden key was accepted: %v", err)
	}
	if err := s.Set("id", "x"); err != nil {
		t.Fatalf("express-session's reserved names are data here: %v", err)
	}
	if err := s.Set("2", 2); err != nil {
		t.Fatal(err)
	}
	out, _ := s.Encode()
	if want := `{"2":2,"cookie":{"a":1},"id":"x"}`; string(out) != want {
		t.Fatalf("got %s want %s", out, want)
	}
	c := s.Clone()
	if err := c.Delete("cookie"); err != nil {
		t.Fatal(err)
	}
	if err := c.Set("isNew", 1); !errors.Is(err, sessionjson.ErrReservedKey) {
		t.Fatal("a clone lost the hidden keys")
	}
	if !s.Has("cookie") || c.Has("cookie") || c.HasCookie() {
		t.Fatal("clone and original share members or mode")
	}
	c.Clear()
	if out, _ := c.Encode(); string(out) != `{}` {
		t.Fatalf("cleared data record %s", out)
	}
}

func TestDataRecordErrors(t *testing.T) {
	for _, in := range []string{``, `[]`, `{"a":1,"a":2}`, `{"a":1`, `"str"`, `{"a":1} x`} {
		if _, err := sessionjson.DecodeData([]byte(in), nil); !errors.Is(err, sessionjson.ErrMalformed) {
			t.Errorf("%q: %v, want ErrMalformed", in, err)
		}
	}
	big := make([]byte, 0, 64)
	big = append(big, `{"a":"`...)
	for len(big) < 100 {
		big = append(big, 'x')
	}
	big = append(big, `"}`...)
	if _, err := (sessionjson.Decoder{MaxBytes: len(big) - 1}).DecodeData(big, nil); !errors.Is(err, sessionjson.ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
	if _, err := (sessionjson.Decoder{MaxBytes: len(big)}).DecodeData(big, nil); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	// An express-session record still needs its cookie.
	if _, err := sessionjson.Decode([]byte(`{"a":1}`)); !errors.Is(err, sessionjson.ErrNoCookie) {
		t.Errorf("express record without cookie: %v", err)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFastifyRecordKeepsExpressReservedNames(t *testing.T) {
	in := `{"cookie":{"expires":null,"originalMaxAge":null,"sameSite":null,"secure":false,"path":"/","httpOnly":true,"domain":null},"id":1,"touch":2,"sessionId":"x","u":3}`
	s, err := sessionjson.Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if s.Cookie.Layout != sessionjson.FastifyLayout {
		t.Fatal("not detected as a fastify record")
	}
	if got, want := s.Keys(), []string{"cookie", "id", "touch", "u"}; !equalStrings(got, want) {
		t.Fatalf("keys %q, want %q", got, want)
	}
	if err := s.Set("req", 1); err != nil {
		t.Fatalf("fastify keeps req: %v", err)
	}
	if err := s.Set("encryptedSessionId", 1); !errors.Is(err, sessionjson.ErrReservedKey) {
		t.Fatalf("fastify drops encryptedSessionId: %v", err)
	}
	ex, err := sessionjson.Decode([]byte(`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"id":1,"u":3}`))
	if err != nil {
		t.Fatal(err)
	}
	if ex.Has("id") || ex.Set("req", 1) == nil {
		t.Fatal("an express record kept id or accepted req")
	}
}
