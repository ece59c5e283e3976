package cookiesig

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/sessionbridge/sessionbridge/internal/nodetest"
)

// fastifySid has a signature with "+" and "/" under fastifySecret, so its
// cookie shows npm cookie 2's raw form.
const (
	fastifySecret = "a secret of at least thirty-two characters"
	fastifySid    = "oCP7bccWG448TYFLaAp7qQHnAu5z0004"
)

func fastifySigner(t testing.TB, secrets ...string) *Signer {
	t.Helper()
	if len(secrets) == 0 {
		secrets = []string{fastifySecret}
	}
	s, err := NewSigner(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestFastifyCookieValueRaw: the value is sent raw, "+", "/" and ":"
// included, and percent-encoded as a whole only when cookie 2 would.
func TestFastifyCookieValueRaw(t *testing.T) {
	s := fastifySigner(t)
	signed := s.Sign(fastifySid)
	if !strings.Contains(signed, "+") || !strings.Contains(signed, "/") {
		t.Fatalf("test id's signature %q lacks + or /", signed)
	}
	cases := []struct{ prefix, want string }{
		{"", signed},
		{"s:", "s:" + signed},
		{"p;", EncodeURIComponent("p;" + signed)},
		{"é", EncodeURIComponent("é" + signed)},
		{"100%", EncodeURIComponent("100%" + signed)},
		{"a b", EncodeURIComponent("a b" + signed)},
		{`q"`, EncodeURIComponent(`q"` + signed)},
		{"~!*'()", "~!*'()" + signed},
	}
	for _, c := range cases {
		got := s.FastifyCookieValue(c.prefix, fastifySid)
		if got != c.want {
			t.Errorf("prefix %q: %q, want %q", c.prefix, got, c.want)
		}
		// Whatever the form, the reader gets the id back.
		if sid, err := s.FastifySessionID("sessionId="+got, "sessionId", c.prefix, 0); err != nil || sid != fastifySid {
			t.Errorf("prefix %q: read back %q, %v", c.prefix, sid, err)
		}
	}
}

// TestFastifyBadInput is the bad-input matrix of the @fastify/session
// cookie: each header gives exactly the typed error, or the id.
func TestFastifyBadInput(t *testing.T) {
	s := fastifySigner(t)
	other := fastifySigner(t, "another secret, also long enough to pass")
	signed := s.Sign(fastifySid)
	dot := strings.LastIndexByte(signed, '.')
	sig := signed[dot+1:]
	pad := func(n int) string { return strings.Repeat("=", n) }
	type tc struct {
		name, header, prefix string
		want                 error // nil: the id
	}
	cases := []tc{
		{"raw, no prefix", "sessionId=" + signed, "", nil},
		{"raw with prefix", "sessionId=s:" + signed, "s:", nil},
		{"percent-encoded whole value", "sessionId=" + EncodeURIComponent("s:"+signed), "s:", nil},
		{"percent-encoded signature only", "sessionId=" + fastifySid + "." + EncodeURIComponent(sig), "", nil},
		{"spaces and tabs around", "x=1;  \tsessionId \t= \t" + signed + " \t; y=2", "", nil},
		{"first of two wins (good first)", "sessionId=" + signed + "; sessionId=junk", "", nil},
		{"first of two wins (bad first)", "sessionId=junk.x; sessionId=" + signed, "", ErrBadSignature},
		{"pair without = skipped", "sessionId; sessionId=" + signed, "", nil},
		{"no cookie", "", "", ErrNoCookie},
		{"wrong name", "sessionid=" + signed, "", ErrNoCookie},
		{"express name", "connect.sid=s%3A" + signed, "", ErrNoCookie},
		{"empty value", "sessionId=; other=" + signed, "", ErrNoCookie},
		{"wrong key", "sessionId=" + other.Sign(fastifySid), "", ErrBadSignature},
		{"missing prefix", "sessionId=" + signed, "s:", ErrNotSigned},
		{"prefix only", "sessionId=s:", "s:", ErrMalformed},
		{"extra prefix", "sessionId=s:" + signed, "", ErrBadSignature},
		{"express s%3A form, no prefix configured", "sessionId=s%3A" + EncodeURIComponent(signed), "", ErrBadSignature},
		{"double-quoted (cookie 2 keeps quotes)", `sessionId="` + signed + `"`, "", ErrBadSignature},
		{"one = of padding", "sessionId=" + signed + pad(1), "", ErrBadSignature},
		{"two = of padding", "sessionId=" + signed + pad(2), "", ErrBadSignature},
		{"encoded padding", "sessionId=" + signed + "%3D", "", ErrBadSignature},
		{"signature one short", "sessionId=" + signed[:len(signed)-1], "", ErrBadSignature},
		{"plus as space", "sessionId=" + strings.ReplaceAll(signed, "+", " "), "", ErrBadSignature},
		{"plus encoded as %20", "sessionId=" + strings.ReplaceAll(signed, "+", "%20"), "", ErrBadSignature},
		{"invalid escape kept raw", "sessionId=" + signed + "%ZZ", "", ErrBadSignature},
		{"no dot", "sessionId=" + fastifySid, "", ErrMalformed},
		{"dot last", "sessionId=" + fastifySid + ".", "", ErrBadSignature},
		{"empty id", "sessionId=" + s.Sign(""), "", ErrMalformed},
		{"latin1 byte in the signature", "sessionId=" + signed[:len(signed)-1] + "\xe9", "", ErrBadSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sid, err := s.FastifySessionID(c.header, "sessionId", c.prefix, DefaultMaxHeaderBytes)
			if c.want == nil {
				if err != nil || sid != fastifySid {
					t.Fatalf("got %q, %v; want the id", sid, err)
				}
				return
			}
			if !errors.Is(err, c.want) || sid != "" {
				t.Fatalf("got %q, %v; want %v", sid, err, c.want)
			}
			if strings.Contains(err.Error(), fastifySid) || strings.Contains(err.Error(), sig) {
				t.Fatalf("the error shows the cookie: %v", err)
			}
		})
	}
	// A value presented outside the header, already decoded.
	if sid, err := s.UnsignFastify("s:"+signed, "s:"); err != nil || sid != fastifySid {
		t.Errorf("UnsignFastify: %q, %v", sid, err)
	}
	if _, err := s.UnsignFastify("", "s:"); !errors.Is(err, ErrNotSigned) {
		t.Errorf("UnsignFastify empty with prefix: %v", err)
	}
	if _, err := s.UnsignFastify("", ""); !errors.Is(err, ErrMalformed) {
		t.Errorf("UnsignFastify empty: %v", err)
	}
}

// TestFastifyHeaderLimit: a header of exactly the limit is read, one byte
// more is refused before it is parsed.
func TestFastifyHeaderLimit(t *testing.T) {
	s := fastifySigner(t)
	const limit = DefaultMaxHeaderBytes
	head := "sessionId=" + s.Sign(fastifySid) + "; pad="
	atLimit := head + strings.Repeat("x", limit-len(head))
	if len(atLimit) != limit {
		t.Fatal(len(atLimit))
	}
	if sid, err := s.FastifySessionID(atLimit, "sessionId", "", limit); err != nil || sid != fastifySid {
		t.Fatalf("at the limit: %q, %v", sid, err)
	}
	if _, err := s.FastifySessionID(atLimit+"x", "sessionId", "", limit); !errors.Is(err, ErrMalformed) {
		t.Fatalf("one over the limit: %v", err)
	}
	if sid, err := s.FastifySessionID(atLimit+"x", "sessionId", "", 0); err != nil || sid != fastifySid {
		t.Fatalf("no limit: %q, %v", sid, err)
	}
}

// TestFastifyRotation: every secret verifies, the first signs.
func TestFastifyRotation(t *testing.T) {
	old := fastifySigner(t, "old secret")
	cur := fastifySigner(t, "new secret", "old secret")
	if sid, err := cur.FastifySessionID("sessionId="+old.FastifyCookieValue("", fastifySid), "sessionId", "", 0); err != nil || sid != fastifySid {
		t.Fatalf("old-signed cookie: %q, %v", sid, err)
	}
	if got, want := cur.FastifyCookieValue("", fastifySid), Sign(fastifySid, "new secret"); got != want {
		t.Fatalf("signs %q, want %q", got, want)
	}
	dropped := fastifySigner(t, "new secret")
	if _, err := dropped.FastifySessionID("sessionId="+old.FastifyCookieValue("", fastifySid), "sessionId", "", 0); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("retired secret: %v", err)
	}
}

// cookie2Reference is npm cookie 2's parse written the plain way: split at
// ";", skip pieces without "=", name and value trimmed, the first name
// wins. The backtracking loop of the real parser must agree with it.
func cookie2Reference(header, name string) (string, bool) {
	if len(header) < 2 {
		return "", false
	}
	for _, piece := range strings.Split(header, ";") {
		k, v, ok := strings.Cut(piece, "=")
		if !ok {
			continue
		}
		if trimSpaceTab(k) == name {
			return trimSpaceTab(v), true
		}
	}
	return "", false
}

// randomCookieHeader draws a header from the characters that matter to
// the parser.
func randomCookieHeader(r *rand.Rand) string {
	pieces := []string{"a", "b", "sessionId", "=", "=", ";", ";", " ", "\t", `"`, "%", "%2B", "%3A", "%ZZ", "%C3%A9", "%E9", "+", "\xe9", "s:", ".", "x"}
	var b strings.Builder
	for n := r.IntN(14); n >= 0; n-- {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// TestFastifyCookieParseMatchesNode sends Cookie headers to the real
// @fastify/cookie (npm cookie 2's parseCookie, behind Node's HTTP parser)
// and compares every cookie it parsed, and a few it did not, with Go's
// reader.
func TestFastifyCookieParseMatchesNode(t *testing.T) {
	app := nodetest.StartFastifyApp(t, map[string]string{"STORE": "memory", "SECURE": "false"})
	headers := []string{
		`a="quoted"`,
		`a=1; a=2`,
		`a=; a=2`,
		` a = 1 ; b=2`,
		"a=\t1\t;b=\t",
		`a=b=c`,
		`a; b=2`,
		`a=1; b; c=3`,
		`=x; a=1`,
		`a=%ZZ`,
		`a=%2B+%2F`,
		`a=s%3Aabc.def`,
		`a=%E9`,
		`a=%C3%A9`,
		"a=\xe9\xff",
		"\xe9=1",
		`a="`,
		`a=""`,
		`a="x`,
		`;;a=1;;`,
		`a=1;`,
		`x`,
		`a=1;b`,
		`sessionId="s:abc.def"; sessionId=s:ghi`,
	}
	r := rand.New(rand.NewPCG(3, 5))
	for len(headers) < 400 {
		headers = append(headers, randomCookieHeader(r))
	}
	checked := 0
	for _, h := range headers {
		resp := app.DoHeader("GET", "/cookies", http.Header{"Cookie": {h}}, nil)
		if resp.Status != 200 {
			t.Fatalf("header %q: %d %s", h, resp.Status, resp.Body)
		}
		var got struct{ Cookies map[string]string }
		if err := json.Unmarshal(resp.Body, &got); err != nil {
			t.Fatalf("header %q: %v: %s", h, err, resp.Body)
		}
		names := []string{"a", "b", "sessionId", "c", "zz"}
		for k := range got.Cookies {
			names = append(names, k)
		}
		for _, name := range names {
			want, wantOK := got.Cookies[name]
			v, ok := fastifyCookieValue(h, name)
			if ok != wantOK || v != want {
				t.Errorf("header %q, cookie %q: Go %q %v, @fastify/cookie %q %v", h, name, v, ok, want, wantOK)
			}
			checked++
		}
	}
	t.Logf("%d cookie lookups in %d headers agree with @fastify/cookie", checked, len(headers))
}

// FuzzFastifySessionID reads arbitrary headers: never a panic, only the
// typed errors, the parser agrees with the plain one, and an accepted id
// comes back from its own cookie.
func FuzzFastifySessionID(f *testing.F) {
	s := fastifySigner(f)
	signed := s.Sign(fastifySid)
	for _, seed := range []string{
		"sessionId=" + signed,
		"sessionId=s:" + signed,
		"sessionId=s%3A" + EncodeURIComponent(signed),
		`sessionId="` + signed + `"`,
		"a; sessionId=" + signed + "; sessionId=x",
		"sessionId=" + signed + "==",
		"sessionId=s:",
		"=;=;",
		"sessionId=\xe9.\xe9",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		v, found := fastifyCookieValue(header, "sessionId")
		raw, rfound := rawCookie2Value(header, "sessionId")
		ref, refFound := cookie2Reference(header, "sessionId")
		if rfound != refFound || raw != ref {
			t.Fatalf("parser %q %v, reference %q %v", raw, rfound, ref, refFound)
		}
		for _, prefix := range []string{"", "s:"} {
			sid, err := s.FastifySessionID(header, "sessionId", prefix, DefaultMaxHeaderBytes)
			if err != nil {
				if !errors.Is(err, ErrNoCookie) && !errors.Is(err, ErrNotSigned) && !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrMalformed) {
					t.Fatalf("untyped error: %v", err)
				}
				continue
			}
			if sid == "" || !found || !strings.HasPrefix(v, prefix) {
				t.Fatalf("accepted %q from %q (prefix %q)", sid, v, prefix)
			}
			again, err := s.FastifySessionID("sessionId="+s.FastifyCookieValue(prefix, sid), "sessionId", prefix, 0)
			if err != nil || again != sid {
				t.Fatalf("re-signed id %q: %q %v", sid, again, err)
			}
		}
	})
}

// TestFastifySessionIDNoAlloc: reading the raw cookie @fastify/session sends
// allocates nothing (the sync.Pool of HMAC states drops items at random
// under the race detector, so the count is only checked without it).
func TestFastifySessionIDNoAlloc(t *testing.T) {
	s := fastifySigner(t)
	header := "a=1; sessionId=s:" + s.Sign(fastifySid) + "; b=2"
	n := testing.AllocsPerRun(200, func() {
		if _, err := s.FastifySessionID(header, "sessionId", "s:", DefaultMaxHeaderBytes); err != nil {
			t.Fatal(err)
		}
	})
	if raceBuild() {
		t.Logf("%v allocations under the race detector", n)
		return
	}
	if n != 0 {
		t.Fatalf("%v allocations per read", n)
	}
}

func raceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return true // cannot tell: do not judge
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

func ExampleSigner_FastifySessionID() {
	s, _ := NewSigner("a secret of at least thirty-two characters")
	// What @fastify/session sends with cookiePrefix "s:": raw, "+" and "/"
	// included.
	value := s.FastifyCookieValue("s:", "oCP7bccWG448TYFLaAp7qQHnAu5z0004")
	fmt.Println(value)
	sid, err := s.FastifySessionID("sessionId="+value, "sessionId", "s:", DefaultMaxHeaderBytes)
	fmt.Println(sid, err)
	_, err = s.FastifySessionID("sessionId="+value, "sessionId", "", DefaultMaxHeaderBytes)
	fmt.Println(err)
	// Output:
	// s:oCP7bccWG448TYFLaAp7qQHnAu5z0004.kzWSKMGdcDiaWqFL3nywPawjsfEPJ86+S/SVE6VpKiw
	// oCP7bccWG448TYFLaAp7qQHnAu5z0004 <nil>
	// cookiesig: signature does not match
}
