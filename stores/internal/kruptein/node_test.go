package kruptein_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sessionbridge/sessionbridge/internal/jsjson"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/stores/internal/kruptein"
	"github.com/sessionbridge/sessionbridge/stores/internal/kruptein/krupteintest"
)

// plaintexts are the strings the Node tests encrypt: kruptein's set turns
// each into its JSON string literal.
var plaintexts = []string{
	`{"cookie":{"originalMaxAge":3600000,"expires":"2026-12-01T22:28:42.905Z","httpOnly":true,"path":"/"},"passport":{"user":7}}`,
	"é😀\u2028\u2029 \"quoted\" \\ \n\t\x01 <&> 中文",
	"",
	`{"cookie":{},"big":"` + strings.Repeat("ü€x", 300_000) + `"}`, // about 1.8 MB
}

type nodeFormat struct {
	f        kruptein.Format
	set, get string
	secret   string // kruptein 3.1's set wants 2 upper, 2 lower, 2 digits, 2 specials
}

var nodeFormats = []nodeFormat{
	{kruptein.V30, "k308.set", "k308.get", "squirrel"},
	{kruptein.V31, "k31.set", "k31.get", "Sq!rrel#42AB"},
}

// TestNodeOpensGo: the real kruptein (3.0.8 as connect-mongo configures
// it, 3.1.7 as connect-memcached does) opens what Go sealed, byte for
// byte, also from URL-safe or unpadded base64 and with a 16-byte IV, and
// refuses it with another secret or an empty AAD.
func TestNodeOpensGo(t *testing.T) {
	for _, nf := range nodeFormats {
		t.Run(nf.f.String(), func(t *testing.T) {
			c := mustCipher(t, nf.secret, nf.f)
			var ops []nodetest.Op
			var want []string
			for _, s := range plaintexts {
				pt := string(jsjson.AppendString(nil, s))
				field, err := c.Seal([]byte(pt))
				if err != nil {
					t.Fatal(err)
				}
				ops = append(ops, krupteintest.Op(nf.get, map[string]any{"secret": nf.secret, "field": field}))
				want = append(want, pt)
				if nf.f == kruptein.V30 {
					ops = append(ops, krupteintest.Op("adapter.decrypt", map[string]any{"secret": nf.secret, "field": field}))
					want = append(want, pt)
				}
			}
			short, _ := c.Seal([]byte(`"x"`))
			for _, v := range []string{
				strings.NewReplacer("+", "-", "/", "_", "=", "").Replace(short),
				kruptein.SealWith(c, []byte(`"x"`), 16, make([]byte, 64)),
			} {
				ops = append(ops, krupteintest.Op(nf.get, map[string]any{"secret": nf.secret, "field": v}))
				want = append(want, `"x"`)
			}
			res := krupteintest.Run(t, append(ops,
				krupteintest.Op(nf.get, map[string]any{"secret": nf.secret + "x", "field": short}),
				krupteintest.Op(nf.get, map[string]any{"secret": nf.secret, "field": kruptein.SealWith(c, []byte(`"x"`), 12, nil)}),
			)...)
			for i, w := range want {
				if got := krupteintest.String(t, res[i]); got != w {
					t.Fatalf("op %d (%s): Node opened %.60q, want %.60q", i, ops[i].Op, got, w)
				}
			}
			wrong, noAAD := res[len(want)], res[len(want)+1]
			if wrong.OK || noAAD.OK {
				t.Fatalf("Node accepted a wrong secret (%v) or an empty AAD (%v)", wrong.OK, noAAD.OK)
			}
			t.Logf("Node on another secret: %q; on an empty AAD: %q", wrong.Error, noAAD.Error)
			// Go agrees on both.
			if _, err := c.Open([]byte(kruptein.SealWith(c, []byte(`"x"`), 12, nil)), -1); !errors.Is(err, kruptein.ErrMalformed) {
				t.Fatalf("Go on an empty AAD: %v", err)
			}
		})
	}
}

// TestGoOpensNode: Go opens what the real kruptein sealed; the plaintext
// is the JSON string literal of the string sealed. Many records of
// kruptein 3.1, whose hmac covers the random salt and IV as Node decodes
// them as UTF-8, check that decoding; another secret is ErrDecrypt.
func TestGoOpensNode(t *testing.T) {
	for _, nf := range nodeFormats {
		t.Run(nf.f.String(), func(t *testing.T) {
			var ops []nodetest.Op
			var want []string
			add := func(op, s string) {
				ops = append(ops, krupteintest.Op(op, map[string]any{"secret": nf.secret, "plaintext": s}))
				want = append(want, string(jsjson.AppendString(nil, s)))
			}
			for _, s := range plaintexts {
				add(nf.set, s)
				if nf.f == kruptein.V30 {
					add("adapter.encrypt", s)
				}
			}
			for i := 0; i < 60; i++ {
				add(nf.set, "n"+strings.Repeat("é", i))
			}
			res := krupteintest.Run(t, ops...)
			c := mustCipher(t, nf.secret, nf.f)
			wrong := mustCipher(t, nf.secret+"x", nf.f)
			for i, w := range want {
				field := krupteintest.String(t, res[i])
				fs, ok := kruptein.Split(field)
				if !ok || len(fs[2]) != 12 || len(fs[5]) != 88 {
					t.Fatalf("op %d: Node's record is not the expected layout (iv %d, aad %d bytes)", i, len(fs[2]), len(fs[5]))
				}
				got, err := c.Open([]byte(field), -1)
				if err != nil || string(got) != w {
					t.Fatalf("op %d (%s): Go opened %.60q, %v; want %.60q", i, ops[i].Op, got, err, w)
				}
				if i < 3 {
					if _, err := wrong.Open([]byte(field), -1); !errors.Is(err, kruptein.ErrDecrypt) {
						t.Fatalf("another secret: %v", err)
					}
				}
			}
		})
	}
}
