package cookiesig_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
)

// Node reads Cookie header bytes as latin1 (byte 0xE9 is "é", U+00E9), and
// cookie-signature signs and compares the UTF-8 encoding of the resulting
// JavaScript strings. These tests send Cookie headers with raw bytes
// 0x80-0xFF to the real packages, as base64 of the exact bytes, and require
// Go to accept exactly what they accept, with the same id.

var latin1Secrets = []string{"keyboard cat", "sécret ünïcode €"}

// latin1Bytes is the latin1 encoding of a UTF-8 string whose characters are
// all U+0000-U+00FF; ok is false otherwise.
func latin1Bytes(s string) ([]byte, bool) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xFF || r == utf8.RuneError {
			return nil, false
		}
		b = append(b, byte(r))
	}
	return b, true
}

// latin1Decode is what Node makes of header bytes, as UTF-8.
func latin1Decode(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// headerGen makes random Cookie headers for cookie name.
type headerGen struct {
	r    *rand.Rand
	name []byte // the name's bytes in the header
	ctl  bool   // control bytes allowed (not through HTTP)
}

// idRunes are the characters of generated ids: uid-safe's alphabet, latin1
// characters (which a header can carry raw), and characters above U+00FF
// (which only percent-encoding can carry).
var idRunes = []rune("ABCxyz019-_.éÿ\u0080\u00a0\u00c3\u00a9\u00ff\u00e9€😀\ufffd")

func (g *headerGen) id() string {
	n := 1 + g.r.IntN(24)
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteRune(idRunes[g.r.IntN(len(idRunes))])
	}
	return b.String()
}

// junk returns random bytes of several kinds.
func (g *headerGen) junk() []byte {
	var b []byte
	n := g.r.IntN(12)
	for i := 0; i < n; i++ {
		switch g.r.IntN(10) {
		case 0:
			b = append(b, byte(0x80+g.r.IntN(0x80)))
		case 1:
			b = append(b, []string{"\xc3\xa9", "\xc3(", "\xe2\x82", "\xf0\x9f\x98", "\xed\xa0\x80", "\xc0\xaf", "\xef\xbf\xbd"}[g.r.IntN(7)]...)
		case 2:
			b = append(b, []string{"%E9", "%C3%A9", "%zz", "%", "%C3", "%2E", "%3B", "%20", "%F0%9F%98%80", "%ED%A0%80"}[g.r.IntN(10)]...)
		case 3:
			b = append(b, []string{`"`, ".", "s:", "=", " ", "\t", "j:", ","}[g.r.IntN(8)]...)
		case 4:
			if g.ctl {
				b = append(b, byte(g.r.IntN(0x20)))
			} else {
				b = append(b, 'c')
			}
		default:
			b = append(b, "abcXYZ019-_/+"[g.r.IntN(13)])
		}
	}
	return b
}

// signedValue returns the bytes of a cookie value carrying "s:" + id + "." +
// a signature, in one of the shapes a header may hold them.
func (g *headerGen) signedValue() []byte {
	id := g.id()
	secret := latin1Secrets[g.r.IntN(len(latin1Secrets))]
	lat, isLatin1 := latin1Bytes(id)
	// The signature: over the UTF-8 of the id (what Node computes), over
	// its latin1 bytes (what signing raw header bytes gives), over the
	// UTF-8 of the latin1 reading of its UTF-8 bytes (what Node computes
	// for an id sent as raw UTF-8), or with a secret nobody has.
	var sig string
	switch k := g.r.IntN(10); {
	case k < 5:
		sig = sigOf(id, secret)
	case k < 7 && isLatin1:
		sig = sigOf(string(lat), secret)
	case k < 9:
		sig = sigOf(latin1Decode([]byte(id)), secret)
	default:
		sig = sigOf(id, "not a secret")
	}
	// The id: raw latin1, raw UTF-8, or each character either raw (latin1)
	// or percent-encoded (UTF-8).
	var idBytes []byte
	switch k := g.r.IntN(4); {
	case k == 0 && isLatin1:
		idBytes = lat
	case k == 1:
		idBytes = []byte(id)
	default:
		for _, r := range id {
			if r <= 0xFF && g.r.IntN(2) == 0 {
				idBytes = append(idBytes, byte(r))
			} else {
				idBytes = append(idBytes, cookiesig.EncodeURIComponent(string(r))...)
			}
		}
	}
	prefix := []string{"s:", "s%3A", "s%3a"}[g.r.IntN(3)]
	if g.r.IntN(3) == 0 {
		sig = cookiesig.EncodeURIComponent(sig)
	}
	v := append([]byte(prefix), idBytes...)
	v = append(v, '.')
	v = append(v, sig...)
	switch g.r.IntN(12) {
	case 0:
		v = v[:len(v)-1-g.r.IntN(3)]
	case 1:
		v = append(v, g.junk()...)
	case 2:
		v = append([]byte{'"'}, append(v, '"')...)
	case 3:
		v = append([]byte(" \t"), append(v, ' ')...)
	}
	return v
}

// sigOf is cookie-signature's signature of value (its UTF-8 bytes).
func sigOf(value, secret string) string {
	s := cookiesig.Sign(value, secret)
	return s[len(value)+1:]
}

func (g *headerGen) header() []byte {
	var parts [][]byte
	n := 1 + g.r.IntN(4)
	target := g.r.IntN(n)
	for i := 0; i < n; i++ {
		var p []byte
		switch {
		case i == target || g.r.IntN(6) == 0:
			p = append(append(append([]byte{}, g.name...), '='), g.value()...)
		default:
			name := []byte([]string{"_ga", "theme", "a", "x\xe9y", "connect.sid ", "\xefd"}[g.r.IntN(6)])
			p = append(append(name, '='), g.junk()...)
		}
		parts = append(parts, p)
	}
	seps := []string{"; ", ";", " ; ", ";\t", ";;", "; \xe9; "}
	var h []byte
	for i, p := range parts {
		if i > 0 {
			h = append(h, seps[g.r.IntN(len(seps))]...)
		}
		h = append(h, p...)
	}
	return h
}

func (g *headerGen) value() []byte {
	switch g.r.IntN(8) {
	case 0:
		return g.junk()
	case 1:
		return append([]byte("s:"), g.junk()...)
	default:
		return g.signedValue()
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func unb64(t *testing.T, s *string) (string, bool) {
	t.Helper()
	if s == nil {
		return "", false
	}
	b, err := base64.StdEncoding.DecodeString(*s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), true
}

// diffCount counts the ways Go and express-session disagreed.
type diffCount struct {
	goOnly   int // Go accepts a cookie express-session refuses
	nodeOnly int // express-session accepts a cookie Go refuses
	otherID  int // both accept, with different ids
}

func (d diffCount) total() int { return d.goOnly + d.nodeOnly + d.otherID }

func (d diffCount) String() string {
	return fmt.Sprintf("%d differences (%d accepted only by Go, %d only by express-session, %d with another id)",
		d.total(), d.goOnly, d.nodeOnly, d.otherID)
}

// compareSession checks Go's SessionID against the sid express-session
// looked up for each header; it returns the differences and the number of
// headers both accepted.
func compareSession(t *testing.T, s *cookiesig.Signer, name string, headers [][]byte, sids []*string, via string) (d diffCount, accepted int) {
	t.Helper()
	for i, h := range headers {
		want, nodeOK := unb64(t, sids[i])
		got, err := s.SessionID(string(h), name)
		switch {
		case nodeOK && err == nil && got == want:
			accepted++
			continue
		case !nodeOK && err != nil:
			if !anyCookieErr(err) {
				t.Errorf("%s: untyped error %v", via, err)
			}
			continue
		case !nodeOK:
			d.goOnly++
		case err != nil:
			d.nodeOnly++
		default:
			d.otherID++
		}
		if d.total() <= 10 {
			t.Errorf("%s header %q (name %q): express-session looked up %q (%v), Go %q, %v", via, h, name, want, nodeOK, got, err)
		}
	}
	return d, accepted
}

// TestLatin1HeadersAgainstExpressSession sends thousands of random Cookie
// headers with raw bytes 0x80-0xFF, invalid and valid UTF-8, percent
// escapes, quotes and several cookies, with signatures over the latin1 and
// the raw readings of ids with non-ASCII characters, through the real
// express-session middleware (its getcookie: cookie.parse on the header as
// a latin1 string, then cookie-signature's unsign for each secret), and
// requires SessionID to give the same id for every one and refuse the
// others.
func TestLatin1HeadersAgainstExpressSession(t *testing.T) {
	s, err := cookiesig.NewSigner(latin1Secrets...)
	if err != nil {
		t.Fatal(err)
	}
	type batch struct {
		name  string // the name as express-session is given it
		raw   []byte // its bytes in the header
		count int
	}
	batches := []batch{
		{name: "connect.sid", raw: []byte("connect.sid"), count: 6000},
		// A latin1 name is carried by its latin1 byte; its UTF-8 bytes
		// name another cookie for Node.
		{name: "sïd", raw: []byte("s\xefd"), count: 500},
		{name: "sïd", raw: []byte("sïd"), count: 300},
		// A name above U+00FF can match nothing.
		{name: "s€d", raw: []byte("s€d"), count: 200},
	}
	var ops []nodetest.Op
	var all [][][]byte
	for bi, b := range batches {
		g := &headerGen{r: rand.New(rand.NewPCG(uint64(bi)+20260, 99)), name: b.raw, ctl: true}
		var hs [][]byte
		var enc []any
		for i := 0; i < b.count; i++ {
			h := g.header()
			hs = append(hs, h)
			enc = append(enc, b64(h))
		}
		// A few fixed shapes: no header, empty, non-ASCII only.
		for _, h := range []string{"", "\xe9", "connect.sid=\xe9", "connect.sid=s:\xe9.x"} {
			hs = append(hs, []byte(h))
			enc = append(enc, b64([]byte(h)))
		}
		all = append(all, hs)
		ops = append(ops, nodetest.Op{Op: "getcookieLatin1", Args: map[string]any{"headers": enc, "name": b.name, "secrets": latin1Secrets}})
	}
	res := nodetest.Oracle(t, ops)
	var totalDiffs diffCount
	total, totalAccepted, nonASCII := 0, 0, 0
	for bi, b := range batches {
		var v struct{ Sids []*string }
		res[bi].Decode(t, &v)
		if len(v.Sids) != len(all[bi]) {
			t.Fatalf("batch %d: %d answers for %d headers", bi, len(v.Sids), len(all[bi]))
		}
		d, a := compareSession(t, s, b.name, all[bi], v.Sids, "getcookie")
		total += len(all[bi])
		totalDiffs.goOnly += d.goOnly
		totalDiffs.nodeOnly += d.nodeOnly
		totalDiffs.otherID += d.otherID
		totalAccepted += a
		for i, h := range all[bi] {
			if v.Sids[i] != nil && bytes.ContainsFunc(h, func(r rune) bool { return r >= 0x80 }) {
				nonASCII++
			}
		}
	}
	t.Logf("express-session getcookie: %d headers, %d accepted by both (%d of them with non-ASCII bytes), %v",
		total, totalAccepted, nonASCII, totalDiffs)
	if totalAccepted < 1000 || nonASCII < 300 {
		t.Fatalf("the generator does not exercise acceptance enough: %d accepted, %d with non-ASCII bytes", totalAccepted, nonASCII)
	}
}

// TestLatin1HeadersOverHTTP sends random Cookie headers with raw bytes
// 0x80-0xFF in real HTTP requests to a real express + express-session app,
// so that Node's own HTTP parser reads them, and checks that it hands them
// to JavaScript as latin1 (each byte one character, the request answered)
// and that Go gives the id express-session looked up.
func TestLatin1HeadersOverHTTP(t *testing.T) {
	s, err := cookiesig.NewSigner(latin1Secrets...)
	if err != nil {
		t.Fatal(err)
	}
	g := &headerGen{r: rand.New(rand.NewPCG(4242, 7)), name: []byte("connect.sid")}
	var hs [][]byte
	var enc []any
	for len(hs) < 600 {
		h := g.header()
		// Node answers 400 to a Cookie header that is empty after trimming
		// or has control bytes (so does Go's server); keep to the others.
		if len(bytes.TrimSpace(h)) == 0 || bytes.ContainsFunc(h, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7F }) {
			continue
		}
		hs = append(hs, h)
		enc = append(enc, b64(h))
	}
	res := nodetest.Oracle(t, []nodetest.Op{{Op: "getcookieHTTP", Args: map[string]any{"headers": enc, "secrets": latin1Secrets}}})
	var v struct {
		Results []struct {
			Sid    *string
			Status int
			Seen   *string
			Error  string
		}
	}
	res[0].Decode(t, &v)
	sids := make([]*string, len(hs))
	for i, r := range v.Results {
		if r.Status != 200 || r.Error != "" {
			t.Fatalf("header %q: status %d %s", hs[i], r.Status, r.Error)
		}
		seen, _ := unb64(t, r.Seen)
		if want := string(bytes.Trim(hs[i], " \t")); seen != want {
			t.Errorf("Node's HTTP parser gave req.headers.cookie %q for the bytes %q", seen, want)
		}
		sids[i] = r.Sid
	}
	d, a := compareSession(t, s, "connect.sid", hs, sids, "HTTP")
	nonASCII := 0
	for i, h := range hs {
		if sids[i] != nil && bytes.ContainsFunc(h, func(r rune) bool { return r >= 0x80 }) {
			nonASCII++
		}
	}
	t.Logf("express app over HTTP: %d headers, %d accepted by both (%d with non-ASCII bytes), %v", len(hs), a, nonASCII, d)
	if a < 100 || nonASCII < 50 {
		t.Fatalf("only %d accepted, %d with non-ASCII bytes", a, nonASCII)
	}
}

// TestLatin1CookieParser checks CookieValue, Unsign (cookie-parser's
// signedCookie) and ParseJSONCookie (its JSONCookie, "j:" cookies) on
// headers with raw non-ASCII bytes against cookie-parser's own steps.
func TestLatin1CookieParser(t *testing.T) {
	s, err := cookiesig.NewSigner(latin1Secrets...)
	if err != nil {
		t.Fatal(err)
	}
	g := &headerGen{r: rand.New(rand.NewPCG(31337, 1)), name: []byte("c"), ctl: true}
	jsonValue := func() []byte {
		var b []byte
		b = append(b, "j:"...)
		switch g.r.IntN(4) {
		case 0:
			b = append(b, `{"name":"`...)
			b = append(b, g.junk()...)
			b = append(b, `","n":1}`...)
		case 1:
			b = append(b, '"')
			b = append(b, []string{"\xe9", "é", "\\u00e9", "\xff\xfe", "\xc3(", "\\ud800", "%C3%A9", "€"}[g.r.IntN(8)]...)
			b = append(b, '"')
		case 2:
			b = append(b, []string{"[1,\"\xe9\"]", "\xe9", "{\"\xe9\":\"\xc3\xa9\"}", "%7B%22a%22%3A%22%C3%A9%22%7D", "%7B%22a%22%3A%22%E9%22%7D", "true", "12345678901234567890"}[g.r.IntN(7)]...)
		default:
			b = append(b, g.junk()...)
		}
		return b
	}
	var hs [][]byte
	var enc []any
	for i := 0; i < 2000; i++ {
		var v []byte
		if i%2 == 0 {
			v = jsonValue()
		} else {
			v = g.value()
		}
		h := append([]byte("a=1; c="), v...)
		if i%5 == 0 {
			h = append(h, "; c=second"...)
		}
		hs = append(hs, h)
		enc = append(enc, b64(h))
	}
	res := nodetest.Oracle(t, []nodetest.Op{{Op: "cookieParserLatin1", Args: map[string]any{"headers": enc, "name": "c", "secrets": latin1Secrets}}})
	var out struct {
		Results []struct {
			Value  *string
			Signed any // base64 string, false or null
			JSON   *string
		}
	}
	res[0].Decode(t, &out)
	diffs, signedOK, jsonOK := 0, 0, 0
	fail := func(format string, args ...any) {
		diffs++
		if diffs <= 10 {
			t.Errorf(format, args...)
		}
	}
	for i, r := range out.Results {
		h := string(hs[i])
		want, nodeFound := unb64(t, r.Value)
		got, found := cookiesig.CookieValue(h, "c")
		if found != nodeFound || got != want {
			fail("header %q: cookie.parse gives %q (%v), CookieValue %q (%v)", h, want, nodeFound, got, found)
			continue
		}
		// signedCookie: "s:" values only.
		if strings.HasPrefix(got, "s:") {
			v, err := s.Unsign(got[2:])
			switch sg := r.Signed.(type) {
			case bool:
				if err == nil {
					fail("header %q: signedCookie refuses, Unsign gives %q", h, v)
				}
			case string:
				w, _ := unb64(t, &sg)
				if err != nil || v != w {
					fail("header %q: signedCookie gives %q, Unsign %q %v", h, w, v, err)
				} else {
					signedOK++
				}
			default:
				fail("header %q: signedCookie answered %v", h, r.Signed)
			}
		}
		// JSONCookie.
		var gv any
		jerr := cookiesig.ParseJSONCookie(got, &gv)
		switch {
		case r.JSON == nil && jerr == nil:
			fail("header %q: JSONCookie gives undefined, Go %v", h, gv)
		case r.JSON != nil && jerr != nil:
			fail("header %q: JSONCookie gives %s, Go %v", h, *r.JSON, jerr)
		case r.JSON != nil:
			var nv any
			dec := json.NewDecoder(strings.NewReader(*r.JSON))
			dec.UseNumber()
			if err := dec.Decode(&nv); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normalize(nv), normalize(gv)) {
				fail("header %q: JSONCookie gives %s, Go %s", h, *r.JSON, fmt.Sprint(gv))
			} else {
				jsonOK++
			}
		}
	}
	t.Logf("cookie-parser: %d headers, %d signed and %d JSON cookies agreed, %d differences", len(hs), signedOK, jsonOK, diffs)
	if signedOK < 100 || jsonOK < 100 {
		t.Fatalf("too few agreements: %d signed, %d JSON", signedOK, jsonOK)
	}
}
