package forwardauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/sessionbridge/sessionbridge/sessionjson"
)

func TestUserValue(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`7`, `7`},
		{` 0 `, `0`},
		{`"abc"`, `"abc"`},
		{`90071992547409931`, `90071992547409931`},
		{`1.50e+3`, `1.50e+3`},
		{`{"id":7,"name":"Zoë"}`, `{"id":7,"name":"Zo\u00eb"}`},
		{"{ \"id\" : 7 ,\n\t\"roles\" : [ \"a\" , \"b\" ] }", `{"id":7,"roles":["a","b"]}`},
		{`"😀"`, `"\ud83d\ude00"`},
		{`"\ud83d\ude00"`, `"\ud83d\ude00"`},
		{`"\uD800"`, `"\ud800"`}, // a lone surrogate, as JavaScript may hold one
		{`"\u00E9\/\b\f\n\r\t"`, `"\u00e9/\u0008\u000c\u000a\u000d\u0009"`},
		{`"a\"b\\c"`, `"a\"b\\c"`},
		{`"\u0041\u007f\u0022"`, `"A\u007f\""`},
		{"\"\x7f\"", `"\u007f"`},
		{"\"a\xffb\"", `"a\ufffdb"`},                 // not UTF-8
		{"\"\xed\xa0\x80\"", `"\ufffd\ufffd\ufffd"`}, // UTF-8 of a surrogate is not UTF-8
		{`{"é":null,"k":true,"f":false}`, `{"\u00e9":null,"k":true,"f":false}`},
		{`{"a":1,"a":2}`, `{"a":1,"a":2}`},
		{`[]`, `[]`},
		{`""`, `""`},
		{`"<script>&"`, `"<script>&"`},
	} {
		got, err := UserValue([]byte(c.in))
		if err != nil || got != c.want {
			t.Errorf("UserValue(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{``, `{`, `7 8`, `"abc`, `{"a":}`, "\"a\nb\"", `nul`, `01`} {
		if got, err := UserValue([]byte(bad)); !errors.Is(err, ErrInvalidJSON) {
			t.Errorf("UserValue(%q) = %q, %v; want ErrInvalidJSON", bad, got, err)
		}
	}
}

func TestFieldValue(t *testing.T) {
	user := []byte(`{"id":90071992547409931,"email":"alice@example.com","name":"Zoë \"Z\" \\","nil":null,` +
		`"roles":["a","é"],"profile":{"team":{"name":"Ops"},"age":30},"empty":"","flag":false,"profile":{"team":{"name":"Dev"}}}`)
	for _, c := range []struct{ path, want string }{
		{"id", "90071992547409931"},
		{"email", "alice@example.com"},
		{"name", `Zo\u00eb \"Z\" \\`},
		{"nil", ""},
		{"missing", ""},
		{"roles", `["a","\u00e9"]`},
		{"profile.team.name", "Dev"}, // the last of a repeated key, as JSON.parse keeps it
		{"profile.age", ""},
		{"profile.team", `{"name":"Dev"}`},
		{"email.x", ""},
		{"empty", ""},
		{"flag", "false"},
	} {
		h, err := ParseHeader("X-F=" + c.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.FieldValue(user); got != c.want {
			t.Errorf("field %s = %q, want %q", c.path, got, c.want)
		}
	}
	h, _ := ParseHeader("X-Email=email")
	for _, u := range []string{`7`, `"alice@example.com"`, `["email"]`, `null`} {
		if got := h.FieldValue([]byte(u)); got != "" {
			t.Errorf("field of user %s = %q, want empty", u, got)
		}
	}
}

func TestParseHeader(t *testing.T) {
	h, err := ParseHeader("X-Team=profile.team.name")
	if err != nil || h.Name != "X-Team" || !reflect.DeepEqual(h.Path, []string{"profile", "team", "name"}) {
		t.Fatalf("ParseHeader = %+v, %v", h, err)
	}
	for _, bad := range []string{"X-Email", "=email", "X-Email=", "X-Email=a..b", "X-Email=.a", "X Email=email",
		"X-Email\r\n=email", "Cookie=email", "set-cookie=email", "Host=id", "X-Forwarded-For=id", "Location=id", "x-original-url=id",
		// Hop-by-hop names: a proxy drops them, or obeys them.
		"Connection=id", "keep-alive=id", "TE=id", "Trailer=id", "Upgrade=id", "Transfer-Encoding=id",
		"Proxy-Connection=id", "Proxy-Authorization=id",
		// "_" for "-": the strip would otherwise delete the real header.
		"X_Forwarded_Uri=id", "x_original_uri=id", "Set_Cookie=id", "Proxy_Connection=id", "Content_Length=id"} {
		if _, err := ParseHeader(bad); !errors.Is(err, ErrBadHeader) {
			t.Errorf("ParseHeader(%q) = %v, want ErrBadHeader", bad, err)
		}
	}
}

func TestCheckHeaderName(t *testing.T) {
	for _, ok := range []string{"X-Auth-User", "x_auth_user", "X-Email", "Remote-User"} {
		if err := CheckHeaderName(ok); err != nil {
			t.Errorf("CheckHeaderName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", " ", "X-A:", "X-Ä", "X-A\x00", "Connection", "X_Forwarded_Host", "COOKIE"} {
		if err := CheckHeaderName(bad); !errors.Is(err, ErrBadHeader) {
			t.Errorf("CheckHeaderName(%q) = %v, want ErrBadHeader", bad, err)
		}
	}
}

// TestEncoderLinear encodes user values at the record size limit in the
// shapes that expand most (every byte a \uXXXX escape, 4-byte runes as
// surrogate pairs, nesting at the depth limit) and counts the bytes
// allocated: a cost that grew faster than the input (quadratic appends,
// a rescan per string) would show here long before it shows in time.
func TestEncoderLinear(t *testing.T) {
	n := sessionjson.DefaultMaxBytes
	quoted := func(body string) []byte {
		b := make([]byte, 0, n)
		b = append(b, '"')
		for len(b)+len(body)+1 <= n {
			b = append(b, body...)
		}
		return append(b, '"')
	}
	nested := []byte(strings.Repeat(`[`, sessionjson.DefaultMaxDepth-1) + `{"a":"\u00e9"}` + strings.Repeat(`]`, sessionjson.DefaultMaxDepth-1))
	for _, c := range []struct {
		name string
		in   []byte
	}{
		{"DEL bytes", quoted("\x7f")},
		{"invalid UTF-8", quoted("\xff")},
		{"astral runes", quoted("\U0001F600")},
		{"escapes", quoted(`\n\u00e9\"`)},
		{"object", []byte(`{"email":` + string(quoted("\u00e9"))[:n-20] + `"}`)},
		{"nested", nested},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !json.Valid(c.in) {
				t.Fatal("the input is not JSON")
			}
			var out string
			alloc := allocated(func() { out, _ = UserValue(c.in) })
			if len(out) == 0 {
				t.Fatal("no output")
			}
			checkHeaderValue(t, out)
			// The output is at most 6 bytes per input byte; append's
			// growth and the final string make that at most about 40.
			if limit := uint64(48 * len(c.in)); alloc > limit {
				t.Fatalf("%d bytes allocated for %d bytes of input (limit %d)", alloc, len(c.in), limit)
			}
			h := Header{Name: "X-F", Path: []string{"email"}}
			alloc = allocated(func() { out = h.FieldValue(c.in) })
			if limit := uint64(48 * len(c.in)); alloc > limit {
				t.Fatalf("FieldValue: %d bytes allocated for %d bytes of input", alloc, len(c.in))
			}
			checkHeaderValue(t, out)
		})
	}
}

// allocated is the number of heap bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// checkHeaderValue fails unless v is printable ASCII, which net/http sends
// as is.
func checkHeaderValue(t *testing.T, v string) {
	t.Helper()
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			t.Fatalf("byte %#x at %d in header value %q", v[i], i, v)
		}
	}
}

// decodeJSON decodes one JSON value with numbers kept as written.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// FuzzUserValue checks the header encoding on any input: valid JSON comes
// out as printable ASCII that decodes to the same value (numbers as
// written), anything else is refused, and nothing panics.
func FuzzUserValue(f *testing.F) {
	for _, s := range []string{`7`, `"abc"`, `{"id":7,"name":"Zoë"}`, `"\ud800"`, "\"\xff\"", `[1,{"a":"\u2028"}]`,
		`90071992547409931`, `-0.5e-7`, `{"a":{"b":[null,true,"\"\\\/"]}}`, "\"\U0001F600\"", "  {}  "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := UserValue(in)
		if !json.Valid(in) {
			if !errors.Is(err, ErrInvalidJSON) {
				t.Fatalf("UserValue(%q) = %q, %v; want ErrInvalidJSON", in, out, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("UserValue(%q): %v", in, err)
		}
		checkHeaderValue(t, out)
		want, err1 := decodeJSON(in)
		got, err2 := decodeJSON([]byte(out))
		if err1 != nil || err2 != nil || !reflect.DeepEqual(want, got) {
			t.Fatalf("UserValue(%q) = %q: decodes to %#v (%v), want %#v (%v)", in, out, got, err2, want, err1)
		}
		// A field of the value, when it is an object, is printable ASCII too.
		h := Header{Name: "X-F", Path: []string{"a"}}
		checkHeaderValue(t, h.FieldValue(in))
	})
}
