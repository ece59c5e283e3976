package koasession

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/sessionbridge/sessionbridge/internal/jsbuf"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
)

// oracle asks koa-app.js's /oracle route (Node's own Buffer, crc and
// koa-session's util) for op over inputs.
func oracle(t *testing.T, app *nodetest.KoaApp, op string, inputs any) []json.RawMessage {
	t.Helper()
	r := app.Do("POST", "/oracle", "", map[string]any{"op": op, "inputs": inputs}, nil)
	if r.Status != 200 {
		t.Fatalf("oracle %s: %d %s", op, r.Status, r.Body)
	}
	var out struct{ Results []json.RawMessage }
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatal(err)
	}
	return out.Results
}

// TestPrimitivesMatchNode checks the payload decoding (Node's Buffer, which
// internal/jsbuf checks on its own, then JSON) and koa-session's CRC-32
// against the real Node.
func TestPrimitivesMatchNode(t *testing.T) {
	app := nodetest.StartKoa(t, nil)

	t.Run("decode", func(t *testing.T) {
		// util.decode then JSON.stringify: the form Node hashes and saves.
		// (Numbers are kept as written by sessionjson, so these use
		// JavaScript's own forms.)
		jsons := []string{`{"a":1, "b": [1, 2] , "c" : {"d" : "x" }}`, ` { } `, "{\"\\u0041\":\"\\u00e9\\n\\u2028\"}",
			`{"b":1,"2":2,"a":3,"1":4}`, `{"x":"\ud83d\ude00","y":[{},[]],"z":null,"t":true,"f":-0.5}`, "{\"a\":\"\xe2\x82\"}"}
		in := make([]string, len(jsons))
		for i, j := range jsons {
			in[i] = base64.StdEncoding.EncodeToString([]byte(j))
		}
		// A verified value may hold any JavaScript string: Node reads each
		// UTF-16 code unit's low byte (U+013D's is '=', which ends the
		// decoding; U+0141's is 'A'); latin1 characters are skipped.
		for _, v := range []string{"eyJhIjoxfQ\u013dQ", "eyJh\u00e9Ijox\u0100fQ", "eyJhIjoxfQ😀Q"} {
			jsons, in = append(jsons, v), append(in, v)
		}
		got := oracle(t, app, "decode", in)
		b := &Bridge{}
		for i, v := range in {
			var want struct{ JSON string }
			_ = json.Unmarshal(got[i], &want)
			rec, _, err := b.decode(jsbuf.Base64(v))
			if err != nil {
				t.Errorf("%s: %v", jsons[i], err)
				continue
			}
			if g, _ := rec.Encode(); string(g) != want.JSON {
				t.Errorf("%s: Go %s, Node %s", jsons[i], g, want.JSON)
			}
		}
	})

	t.Run("crc32", func(t *testing.T) {
		in := []string{"", "{}", `{"a":1}`, "é", "\u2028", "😀", `{"passport":{"user":7}}`}
		got := oracle(t, app, "crc32", in)
		for i, s := range in {
			var want uint32
			_ = json.Unmarshal(got[i], &want)
			if g := hashData([]byte(s)); g != want {
				t.Errorf("%q: Go %d, Node %d", s, g, want)
			}
		}
	})
}

// TestHidden pins the keys koa-session never keeps.
func TestHidden(t *testing.T) {
	for _, k := range []string{"_", "_expire", "_maxAge", "_session", "__proto__", "_x", "isNew", "length",
		"populated", "externalKey", "maxAge", "toJSON", "save", "regenerate", "commit", "manuallyCommit"} {
		if !isHidden(k) {
			t.Errorf("%q is data", k)
		}
	}
	for _, k := range []string{"", "a", "passport", "cookie", "id", "constructor", "x_", "isnew", "Save"} {
		if isHidden(k) {
			t.Errorf("%q is hidden", k)
		}
	}
}
