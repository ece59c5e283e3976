package jsbuf

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sessionbridge/sessionbridge/internal/nodetest"
)

// nodeDecode asks the real Node (cookie-session-app.js's /b64 route) for
// Buffer.from(v, 'base64') of each value, as hex, and for buf.toString('utf8')
// of that buffer, as the hex of its UTF-8.
func nodeDecode(t *testing.T, values []string) (raw, text []string) {
	t.Helper()
	app := nodetest.StartCookieSessionApp(t, nil)
	res := app.Do("POST", "/b64", "", map[string]any{"values": values}, nil)
	var out struct{ Out []struct{ Hex, UTF8 string } }
	if err := json.Unmarshal(res.Body, &out); err != nil || len(out.Out) != len(values) {
		t.Fatalf("%v: %d answers for %d values", err, len(out.Out), len(values))
	}
	for _, o := range out.Out {
		raw, text = append(raw, o.Hex), append(text, o.UTF8)
	}
	return raw, text
}

// TestNodeBase64 compares Base64, and AppendLossyUTF8 of its result, with
// Node's Buffer on crafted strings, random strings (non-ASCII, whitespace,
// '=' and both alphabets mixed, some long: Node decodes long strings on
// another path) and valid base64 of random bytes in every form.
func TestNodeBase64(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := []string{"", "eyJhIjoxfQ==", "eyJhIjoxfQ", "eyJhIjoxfQ=", "eyJhIjoxfQ===", "eyJh Ijox\nfQ",
		"eyJh-Ijox_fQ", "eyJh$Ijox%fQ", "eyJhIjoxfQ==eyJ", "YQ=YQ", "Y", "YQ", "YWI", "YWJj", "=YQ",
		"Y=Q", "YQ\u00e9Q", "YW=", "YWJ=", "\u00ffYQ", "eyJhIjoxfQ.", "YQ==\x00", "\t\r\n", "////", "----", "+-/_",
		"QU\u0141B", "\u013dQQ", "Q😀Q", "Q\uFFFDUJD"}
	alphabet := []rune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=  \t\n.!%$\"\u00e9\u00ff\u0080\u013d\u0141\u4e00😀")
	for i := 0; i < 3400; i++ {
		n := rng.IntN(40)
		if i%100 == 0 {
			n = 4000 + rng.IntN(4000)
		}
		var b strings.Builder
		for j := 0; j < n; j++ {
			if rng.IntN(4) == 0 {
				b.WriteRune(alphabet[rng.IntN(len(alphabet))])
			} else {
				b.WriteRune(alphabet[rng.IntN(64)])
			}
		}
		values = append(values, b.String())
	}
	for i := 0; i < 550; i++ {
		buf := make([]byte, rng.IntN(40))
		for j := range buf {
			buf[j] = byte(rng.IntN(256))
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			values = append(values, enc.EncodeToString(buf))
		}
	}
	raw, text := nodeDecode(t, values)
	bad := 0
	for i, v := range values {
		b := Base64(v)
		if g, u := hex.EncodeToString(b), hex.EncodeToString(AppendLossyUTF8(nil, b)); g != raw[i] || u != text[i] {
			if bad++; bad < 10 {
				t.Errorf("%q:\n Go   %s / %s\n Node %s / %s", v, g, u, raw[i], text[i])
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d values decode differently", bad, len(values))
	}
}

// TestNodeLossyUTF8 compares AppendLossyUTF8 and WellFormed with Node's
// buf.toString('utf8') on edge cases and random bytes biased towards lead
// and continuation bytes (as kruptein 3.1's hmac decodes random salts and
// IVs, and a cookie's base64 may hold any bytes).
func TestNodeLossyUTF8(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	inputs := [][]byte{
		{0x22, 0xe2, 0x82, 0x41, 0xff, 0xc0, 0x80, 0xed, 0xa0, 0x80, 0xf0, 0x9f, 0x98, 0x22},
		{0xef, 0xbb, 0xbf, '{', '}'}, {0xf4, 0x90, 0x80, 0x80}, {0xf0, 0x80, 0x80}, {0xe0, 0x9f, 0x80},
		{0xc2}, {0xe2, 0x82}, {0xf1, 0x80, 0x80}, []byte("\uFFFD ok é"),
		[]byte("\xe2\x82\xff\x41\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xf0\x9f\x98"),
		[]byte("\xf0\x9f\x98\x80\xe0\x80\x80\xe0\xa0\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf\xc2"),
	}
	for i := 0; i < 800; i++ {
		b := make([]byte, rng.IntN(140))
		for j := range b {
			switch rng.IntN(4) {
			case 0:
				b[j] = byte(0x80 + rng.IntN(0x40)) // continuation
			case 1:
				b[j] = byte(0xc0 + rng.IntN(0x40)) // lead
			default:
				b[j] = byte(rng.Uint32())
			}
		}
		inputs = append(inputs, b)
	}
	values := make([]string, len(inputs))
	for i, b := range inputs {
		values[i] = base64.StdEncoding.EncodeToString(b)
	}
	_, text := nodeDecode(t, values)
	for i, b := range inputs {
		g, w := hex.EncodeToString(AppendLossyUTF8(nil, b)), hex.EncodeToString(WellFormed(b))
		if g != text[i] || w != text[i] {
			t.Fatalf("% x:\n Go   %s / %s\n Node %s", b, g, w, text[i])
		}
	}
}
