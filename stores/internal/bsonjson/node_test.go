package bsonjson_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/stores/internal/bsonjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/nodemongotest"
)

// handPicked are JSON objects at the edges of the driver's rules.
var handPicked = []string{
	`{}`,
	`{"n":[0,-0,-0.0,0.0,1.0,1e2,-1e-400,1e-400,1e400,-1e400]}`,
	`{"n":[2147483647,2147483648,-2147483648,-2147483649,2592000000,9007199254740991,9007199254740992,9007199254740993,-9007199254740993]}`,
	`{"n":[1.5,0.1,1e21,1e-7,5e-324,1.7976931348623157e308,123456789012345678901234567890,0.30000000000000004]}`,
	`{"s":["","é😀\u2028\u2029<&>","\u0000\u001f\"\\","\ud800","\udc00x","\ud83d\ude00"]}`,
	`{"b":1,"10":2,"a":3,"9":4,"01":5,"4294967294":6,"4294967295":7,"b":8,"-1":9,"1.5":10}`,
	`{"nested":{"z":{"y":[[],{},[[{"x":null}]]]}},"t":true,"f":false,"z":null}`,
	`{"\ud800":1,"é":2,"$x":3,"a.b":4,"_bsontype2":5}`,
	`{"cookie":{"originalMaxAge":3600000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"passport":{"user":7}}`,
}

// randomJSON writes a random JSON value of at most depth levels.
func randomJSON(r *rand.Rand, b *strings.Builder, depth int) {
	switch k := r.IntN(10); {
	case depth > 0 && k < 2:
		b.WriteByte('{')
		for i := range r.IntN(6) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(randomKey(r))
			b.WriteByte(':')
			randomJSON(r, b, depth-1)
		}
		b.WriteByte('}')
	case depth > 0 && k < 4:
		b.WriteByte('[')
		for i := range r.IntN(5) {
			if i > 0 {
				b.WriteByte(',')
			}
			randomJSON(r, b, depth-1)
		}
		b.WriteByte(']')
	case k < 7:
		b.WriteString(randomNumber(r))
	case k < 8:
		s, _ := json.Marshal(string([]rune{rune(r.IntN(0x250)), '\u2028', rune(0x1F600 + r.IntN(10))}))
		b.Write(s)
	default:
		b.WriteString([]string{"true", "false", "null", `"x"`}[r.IntN(4)])
	}
}

func randomKey(r *rand.Rand) string {
	keys := []string{`"a"`, `"b"`, `"0"`, `"1"`, `"10"`, `"01"`, `"4294967295"`, `"é"`, `"k` + strconv.Itoa(r.IntN(5)) + `"`}
	return keys[r.IntN(len(keys))]
}

func randomNumber(r *rand.Rand) string {
	switch r.IntN(9) {
	case 0:
		return strconv.Itoa(r.IntN(2000) - 1000)
	case 1:
		return strconv.FormatInt(r.Int64N(1<<40)-1<<39, 10)
	case 2:
		return strconv.FormatInt(int64(math.MaxInt32)+int64(r.IntN(3))-1, 10)
	case 3:
		return strconv.FormatInt(-int64(math.MaxInt32)-int64(r.IntN(3)), 10)
	case 4:
		return strconv.FormatFloat(r.NormFloat64()*math.Pow(10, float64(r.IntN(40)-20)), 'g', -1, 64)
	case 5:
		return []string{"-0", "0.0", "1.0", "1e2", "-1e-400", "1e400", "2e9"}[r.IntN(7)]
	case 6:
		return strconv.FormatUint(r.Uint64(), 10)
	case 7:
		return fmt.Sprintf("%d.%de%d", r.IntN(100), r.IntN(1000), r.IntN(40)-20)
	default:
		return strconv.FormatFloat(float64(r.IntN(1<<20))/8, 'f', -1, 64)
	}
}

func randomObjects(n int) []string {
	r := rand.New(rand.NewPCG(42, 7))
	out := make([]string, 0, n)
	for range n {
		var b strings.Builder
		b.WriteByte('{')
		for i := range 1 + r.IntN(6) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(randomKey(r))
			b.WriteByte(':')
			randomJSON(r, &b, 3)
		}
		b.WriteByte('}')
		out = append(out, b.String())
	}
	return out
}

// TestNodeSerialize: for every JSON object, AppendObject writes the bytes
// the Node driver's bson writes for JSON.parse of it, byte for byte.
func TestNodeSerialize(t *testing.T) {
	objs := append(append([]string{}, handPicked...), randomObjects(400)...)
	ops := make([]nodetest.Op, 0, len(objs)+1)
	for _, o := range objs {
		ops = append(ops, nodemongotest.Op("bson.serialize", map[string]any{"json": o}))
	}
	ops = append(ops, nodemongotest.Op("bson.serialize", map[string]any{"json": `{"a\u0000b":1}`}))
	res := nodemongotest.Run(t, ops...)
	for i, o := range objs {
		var want string
		nodemongotest.Value(t, res[i], &want)
		got, err := bsonjson.AppendObject(nil, []byte(o), bson.RawValue{})
		if err != nil {
			t.Fatalf("%s: %v", o, err)
		}
		if hex.EncodeToString(got) != want {
			t.Fatalf("%s:\n  go %x\nnode %s", o, got, want)
		}
	}
	if last := res[len(objs)]; last.OK || !strings.Contains(last.Error, "null bytes") {
		t.Fatalf("Node with a NUL in a key: %+v, want it to throw", last)
	}
	t.Logf("%d JSON objects: Go wrote the bytes Node's bson %s writes; a NUL in a key throws in Node (%q) and is ErrKey in Go", len(objs), "6.10.4", res[len(objs)].Error)
}

// nodeViews are BSON documents (hex) with the types a document may hold,
// and what sets Go's view apart from Node's, if anything.
func nodeViews(t *testing.T) []bson.Raw {
	dec, _ := bson.ParseDecimal128("-12.5E+3")
	// exotic without its int64 beyond 2^53, which Node shows as a Long.
	var ex bson.D
	for _, e := range exoticD() {
		if e.Key != "long" {
			ex = append(ex, e)
		}
	}
	return []bson.Raw{
		marshal(t, ex),
		marshal(t, bson.D{{Key: "b", Value: 1}, {Key: "2", Value: 2}, {Key: "1", Value: bson.A{bson.Undefined{}, 1}}, {Key: "4294967295", Value: 3}, {Key: "a", Value: 4}}),
		marshal(t, bson.D{{Key: "d", Value: bson.A{0.1, 1e21, 1e-7, 5e-324, math.Copysign(0, -1), math.Inf(1), math.NaN(), 2592000000.0, 1.7976931348623157e308}}}),
		marshal(t, bson.D{{Key: "dates", Value: bson.A{bson.DateTime(8.64e15), bson.DateTime(8.64e15 + 1), bson.DateTime(-8.64e15), bson.DateTime(-8.64e15 - 1), bson.DateTime(-62198755200000), bson.DateTime(253402300800000)}}}),
		marshal(t, bson.D{{Key: "i", Value: bson.A{int64(9007199254740991), int64(-9007199254740991), int64(0), int32(-5)}}}),
		marshal(t, bson.D{{Key: "bin", Value: bson.A{
			bson.Binary{Subtype: 0, Data: []byte{}}, bson.Binary{Subtype: 3, Data: bytes.Repeat([]byte{1}, 16)},
			bson.Binary{Subtype: 4, Data: bytes.Repeat([]byte{2}, 16)}, bson.Binary{Subtype: 5, Data: []byte("md5")},
			bson.Binary{Subtype: 0x80, Data: []byte("user")},
		}}}),
		marshal(t, bson.D{{Key: "dec", Value: dec}, {Key: "ts", Value: bson.Timestamp{T: math.MaxUint32, I: 7}}, {Key: "sym", Value: bson.Symbol("é")}, {Key: "re", Value: bson.Regex{Pattern: "x", Options: ""}}}),
		marshal(t, bson.D{{Key: "s", Value: "\x00\x1f\"\\é😀\u2028<&>"}, {Key: "é\u2029", Value: ""}}),
	}
}

// TestNodeView: AppendJSON writes what JSON.stringify shows of the value
// Node's driver decodes from the same bytes, for every type; the two
// deliberate differences are checked as such.
func TestNodeView(t *testing.T) {
	docs := nodeViews(t)
	long := marshal(t, bson.D{{Key: "long", Value: int64(9007199254740993)}})
	// Invalid UTF-8 in a string: Node's driver throws, Go shows U+FFFD.
	badUTF8 := append(bson.Raw{}, marshal(t, bson.D{{Key: "s", Value: "ab"}})...)
	badUTF8[len(badUTF8)-3] = 0xff
	badKey := append(bson.Raw{}, marshal(t, bson.D{{Key: "k", Value: 1}})...)
	badKey[5] = 0xfe
	var ops []nodetest.Op
	for _, d := range append(docs, long, badUTF8, badKey) {
		ops = append(ops, nodemongotest.Op("bson.view", map[string]any{"hex": hex.EncodeToString(d)}))
	}
	res := nodemongotest.Run(t, ops...)
	for i, d := range docs {
		var want string
		nodemongotest.Value(t, res[i], &want)
		if got := toJSON(t, d); got != want {
			t.Errorf("document %d:\n  go %s\nnode %s", i, got, want)
		}
	}
	var nodeLong string
	nodemongotest.Value(t, res[len(docs)], &nodeLong)
	if nodeLong != `{"long":{"low":1,"high":2097152,"unsigned":false}}` || toJSON(t, long) != `{"long":9007199254740993}` {
		t.Errorf("int64 beyond 2^53: node %s, go %s", nodeLong, toJSON(t, long))
	}
	// Invalid UTF-8: Node's driver refuses it in a string value, and
	// decodes it as U+FFFD in a key; Go refuses both.
	r := res[len(docs)+1]
	if _, err := bsonjson.AppendJSON(nil, docValue(badUTF8), -1); r.OK || !strings.Contains(r.Error, "UTF-8") || !errors.Is(err, bsonjson.ErrType) {
		t.Errorf("invalid UTF-8 in a string: node %+v, go %v", r, err)
	}
	var keyView string
	nodemongotest.Value(t, res[len(docs)+2], &keyView)
	if _, err := bsonjson.AppendJSON(nil, docValue(badKey), -1); keyView != "{\"\uFFFD\":1}" || !errors.Is(err, bsonjson.ErrType) {
		t.Errorf("invalid UTF-8 in a key: node %s, go %v", keyView, err)
	}
	t.Logf("%d documents: Go's JSON is Node's JSON.stringify of what its driver decodes; an int64 beyond 2^53 (a Long in Node: %s) is its exact integer in Go; invalid UTF-8 in a string is refused by both (Node: %q), in a key Node shows U+FFFD (%s) and Go refuses it", len(docs), nodeLong, r.Error, keyView)
}

// TestNodeHints: documents Node's driver wrote from JavaScript values JSON
// cannot carry (Dates anywhere, -0, NaN, undefined in an array, numbers
// beyond int32) come back byte for byte after Go reads them as JSON and
// writes that JSON back with the document as hint.
func TestNodeHints(t *testing.T) {
	cases := []struct{ json, js string }{
		{`{"a":1}`, `s.when = new Date(1700000000123); s.nz = -0; s.nan = NaN; s.inf = -Infinity; s.arr = [undefined, new Date(0), -0, 2**31, 1.5]; s.o = {d: new Date(-1), big: 2**53 + 2}`},
		{`{"cookie":{"originalMaxAge":2592000000,"expires":null,"path":"/"},"passport":{"user":{"id":7,"since":null}}}`, `s.cookie.expires = new Date(1800000000000); s.passport.user.since = new Date(8.64e15); s.far = new Date(-8.64e15)`},
		{`{"b":1,"2":2}`, `s.buf = Buffer.from('hi'); s.x = {"1": new Date(5), "a": -0}`},
	}
	var ops []nodetest.Op
	for _, c := range cases {
		ops = append(ops, nodemongotest.Op("bson.serialize", map[string]any{"json": c.json, "js": c.js}))
	}
	res := nodemongotest.Run(t, ops...)
	for i, c := range cases {
		var h string
		nodemongotest.Value(t, res[i], &h)
		doc, _ := hex.DecodeString(h)
		view := toJSON(t, doc)
		back := fromJSON(t, view, doc)
		if !bytes.Equal(back, doc) {
			t.Errorf("%s + %s:\n view %s\n back %x\n node %x", c.json, c.js, view, back, doc)
		}
		if plain := fromJSON(t, view, nil); bytes.Equal(plain, doc) {
			t.Errorf("%s: without the hint the document came back too: the check cannot fail", c.json)
		}
	}
	t.Logf("%d documents Node wrote with Dates, -0, NaN, undefined and Buffers: Go's JSON view written back with hints is byte-identical", len(cases))
}

// TestKeyNULNode is a negative control of the key check: Go refuses a NUL
// in a key with ErrKey.
func TestKeyNULNode(t *testing.T) {
	_, err := bsonjson.AppendObject(nil, []byte(`{"k\u0000":1}`), bson.RawValue{})
	if !errors.Is(err, bsonjson.ErrKey) {
		t.Fatal(err)
	}
}
