package bsonjson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/bsonjson"
)

func marshal(t testing.TB, d bson.D) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func docValue(b []byte) bson.RawValue {
	return bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: b}
}

func toJSON(t testing.TB, doc []byte) string {
	t.Helper()
	out, err := bsonjson.AppendJSON(nil, docValue(doc), -1)
	if err != nil {
		t.Fatalf("AppendJSON: %v", err)
	}
	return string(out)
}

func fromJSON(t testing.TB, obj string, hint []byte) bson.Raw {
	t.Helper()
	var h bson.RawValue
	if hint != nil {
		h = docValue(hint)
	}
	out, err := bsonjson.AppendObject(nil, []byte(obj), h)
	if err != nil {
		t.Fatalf("AppendObject(%s): %v", obj, err)
	}
	if err := bson.Raw(out).Validate(); err != nil {
		t.Fatalf("AppendObject(%s) wrote invalid BSON: %v", obj, err)
	}
	return out
}

// TestNumbers: the BSON type of each JSON number is the one the Node
// driver chooses for the JavaScript number JSON.parse gives.
func TestNumbers(t *testing.T) {
	for text, want := range map[string]any{
		"0": int32(0), "1.0": int32(1), "1e2": int32(100), "-2147483648": int32(math.MinInt32), "2147483647": int32(math.MaxInt32),
		"2147483648": float64(2147483648), "-2147483649": float64(-2147483649), "2592000000": float64(2592000000),
		"1.5": 1.5, "9007199254740993": float64(9007199254740992), "1e21": 1e21, "5e-324": 5e-324,
		"1e400": math.Inf(1), "-1e400": math.Inf(-1),
	} {
		doc := fromJSON(t, `{"n":`+text+`}`, nil)
		v := doc.Lookup("n")
		switch w := want.(type) {
		case int32:
			if got, ok := v.Int32OK(); !ok || got != w {
				t.Errorf("%s: %s %v, want int32 %d", text, v.Type, v, w)
			}
		case float64:
			if got, ok := v.DoubleOK(); !ok || got != w {
				t.Errorf("%s: %s %v, want double %v", text, v.Type, v, w)
			}
		}
	}
	for _, text := range []string{"-0", "-0.0", "-0e5", "-1e-400"} {
		v := fromJSON(t, `{"n":`+text+`}`, nil).Lookup("n")
		if f, ok := v.DoubleOK(); !ok || f != 0 || !math.Signbit(f) {
			t.Errorf("%s: %s %v, want the double -0", text, v.Type, v)
		}
	}
	if v := fromJSON(t, `{"n":1e-400}`, nil).Lookup("n"); v.Type != bson.TypeInt32 {
		t.Errorf("1e-400 (0 in JavaScript): %s, want int32", v.Type)
	}
}

// TestAppendNumber: numbers print as JavaScript prints them.
func TestAppendNumber(t *testing.T) {
	point1, point2 := 0.1, 0.2
	for f, want := range map[float64]string{
		0: "0", math.Copysign(0, -1): "0", 1.5: "1.5", 1e21: "1e+21", 1e20: "100000000000000000000",
		1e-7: "1e-7", 1e-6: "0.000001", 5e-324: "5e-324", -1.7976931348623157e308: "-1.7976931348623157e+308",
		math.NaN(): "null", math.Inf(1): "null", 2592000000: "2592000000", point1 + point2: "0.30000000000000004",
	} {
		if got := string(bsonjson.AppendNumber(nil, f)); got != want {
			t.Errorf("%v: %s, want %s", f, got, want)
		}
	}
}

// TestKeyOrder: JSON.parse puts array-index keys first, ascending, and a
// repeated key at its first place with its last value; the driver writes
// the keys in that order. Reading, the JavaScript object the driver makes
// has the same order.
func TestKeyOrder(t *testing.T) {
	doc := fromJSON(t, `{"b":1,"10":2,"a":3,"9":4,"01":5,"4294967294":6,"4294967295":7,"b":8}`, nil)
	var keys []string
	elems, _ := doc.Elements()
	for _, e := range elems {
		keys = append(keys, e.Key())
	}
	if got, want := strings.Join(keys, ","), "9,10,4294967294,b,a,01,4294967295"; got != want {
		t.Fatalf("keys %s, want %s", got, want)
	}
	if v := doc.Lookup("b"); v.AsInt64() != 8 {
		t.Fatalf("repeated key b = %v, want its last value 8", v)
	}
	raw := marshal(t, bson.D{{Key: "b", Value: 1}, {Key: "2", Value: 2}, {Key: "1", Value: 3}})
	if got := toJSON(t, raw); got != `{"1":3,"2":2,"b":1}` {
		t.Fatalf("read %s", got)
	}
}

// TestNULKey: BSON cannot hold a key with a NUL byte; it is refused, never
// written (it would end the key early and shift the rest of the element).
func TestNULKey(t *testing.T) {
	for _, obj := range []string{`{"a\u0000b":1}`, `{"x":{"a\u0000":1}}`, `{"x":[{"\u0000":1}]}`} {
		if _, err := bsonjson.AppendObject(nil, []byte(obj), bson.RawValue{}); !errors.Is(err, bsonjson.ErrKey) {
			t.Errorf("%s: %v, want ErrKey", obj, err)
		}
	}
}

// TestBadJSON: invalid JSON is refused.
func TestBadJSON(t *testing.T) {
	for _, obj := range []string{``, `[]`, `{`, `{"a":}`, `{"a":1}x`, `{"a":1,}`, `"s"`} {
		if _, err := bsonjson.AppendObject(nil, []byte(obj), bson.RawValue{}); !errors.Is(err, bsonjson.ErrJSON) {
			t.Errorf("%q: %v, want ErrJSON", obj, err)
		}
	}
}

// exotic is a document with every value type JSON cannot carry, as
// another writer (a Node app storing Dates, Buffers, ObjectIds...) leaves
// them.
func exotic(t testing.TB) bson.Raw { return marshal(t, exoticD()) }

func exoticD() bson.D {
	oid, _ := bson.ObjectIDFromHex("0123456789abcdef01234567")
	dec, _ := bson.ParseDecimal128("1.50")
	return bson.D{
		{Key: "when", Value: bson.DateTime(1_700_000_000_123)},
		{Key: "nz", Value: math.Copysign(0, -1)},
		{Key: "two", Value: 2.0},
		{Key: "nan", Value: math.NaN()},
		{Key: "inf", Value: math.Inf(-1)},
		{Key: "long", Value: int64(9007199254740993)},
		{Key: "small", Value: int64(5)},
		{Key: "oid", Value: oid},
		{Key: "bin", Value: bson.Binary{Subtype: 0, Data: []byte("hi")}},
		{Key: "uuid", Value: bson.Binary{Subtype: 4, Data: bytes.Repeat([]byte{0xab}, 16)}},
		{Key: "dec", Value: dec},
		{Key: "sym", Value: bson.Symbol("s")},
		{Key: "ts", Value: bson.Timestamp{T: 1, I: 2}},
		{Key: "re", Value: bson.Regex{Pattern: "a", Options: "i"}},
		{Key: "far", Value: bson.DateTime(9e15)},
		{Key: "arr", Value: bson.A{bson.Undefined{}, bson.DateTime(0), math.Copysign(0, -1)}},
		{Key: "undef", Value: bson.Undefined{}},
		{Key: "nested", Value: bson.D{{Key: "d", Value: bson.DateTime(-1)}}},
	}
}

// TestHintsKeepTypes: Go's JSON view of a document, converted back with
// the document as hint, gives the same bytes: every value JSON cannot
// carry is kept while its JSON is unchanged. A changed Date string stays
// a Date; a changed ObjectId becomes the string it now is.
func TestHintsKeepTypes(t *testing.T) {
	doc := exotic(t)
	view := toJSON(t, doc)
	want := `{"when":"2023-11-14T22:13:20.123Z","nz":0,"two":2,"nan":null,"inf":null,"long":9007199254740993,"small":5,` +
		`"oid":"0123456789abcdef01234567","bin":"aGk=","uuid":"abababab-abab-abab-abab-abababababab","dec":{"$numberDecimal":"1.50"},` +
		`"sym":"s","ts":{"$timestamp":"4294967298"},"re":{},"far":null,"arr":[null,"1970-01-01T00:00:00.000Z",0],` +
		`"nested":{"d":"1969-12-31T23:59:59.999Z"}}`
	if view != want {
		t.Fatalf("view\n got %s\nwant %s", view, want)
	}
	// Without hints the driver's rules apply: strings, int32, null.
	plain := fromJSON(t, view, nil)
	if plain.Lookup("when").Type != bson.TypeString || plain.Lookup("nz").Type != bson.TypeInt32 {
		t.Fatal("without a hint a Date string must become a string, 0 an int32")
	}
	// With the document as hint, the bytes come back, except the undefined
	// member JSON leaves out.
	back := fromJSON(t, view, doc)
	wantDoc := marshal(t, removeKey(t, doc, "undef"))
	if !bytes.Equal(back, wantDoc) {
		t.Fatalf("round trip with hints changed the document:\n got %v\nwant %v", back, wantDoc)
	}
	// Changes: a new ISO date stays a Date, a date in another form becomes
	// a string, a changed ObjectId a string, a changed int64 a double.
	changed := strings.NewReplacer(
		`"when":"2023-11-14T22:13:20.123Z"`, `"when":"+275760-09-13T00:00:00.000Z"`,
		`"d":"1969-12-31T23:59:59.999Z"`, `"d":"1969-12-31T23:59:59Z"`,
		`"oid":"0123456789abcdef01234567"`, `"oid":"0123456789abcdef01234568"`,
		`"long":9007199254740993`, `"long":9007199254740995`,
	).Replace(view)
	got := fromJSON(t, changed, doc)
	if ms, ok := got.Lookup("when").DateTimeOK(); !ok || ms != 8.64e15 {
		t.Errorf("new ISO date: %v", got.Lookup("when"))
	}
	for path, typ := range map[string]bson.Type{"nested.d": bson.TypeString, "oid": bson.TypeString, "long": bson.TypeDouble, "nz": bson.TypeDouble, "small": bson.TypeInt64} {
		if v := got.Lookup(strings.Split(path, ".")...); v.Type != typ {
			t.Errorf("%s: %s, want %s", path, v.Type, typ)
		}
	}
}

// removeKey returns doc without member key, its other values as raw BSON
// (so that nothing is re-encoded).
func removeKey(t testing.TB, doc bson.Raw, key string) bson.D {
	t.Helper()
	elems, err := doc.Elements()
	if err != nil {
		t.Fatal(err)
	}
	out := bson.D{}
	for _, e := range elems {
		if e.Key() != key {
			out = append(out, bson.E{Key: e.Key(), Value: e.Value()})
		}
	}
	return out
}

// TestTooLong: AppendJSON stops at its limit, before writing a string
// that cannot fit.
func TestTooLong(t *testing.T) {
	doc := marshal(t, bson.D{{Key: "pad", Value: strings.Repeat("\x01", 1000)}})
	out, err := bsonjson.AppendJSON(nil, docValue(doc), -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bsonjson.AppendJSON(nil, docValue(doc), len(out)); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	if _, err := bsonjson.AppendJSON(nil, docValue(doc), len(out)-1); !errors.Is(err, bsonjson.ErrTooLong) {
		t.Fatalf("one over: %v", err)
	}
	if _, err := bsonjson.AppendJSON(nil, docValue(doc), 500); !errors.Is(err, bsonjson.ErrTooLong) {
		t.Fatalf("string longer than the limit: %v", err)
	}
}

// TestDepth: nesting beyond sessionjson's depth limit is refused both
// ways, without exhausting the stack.
func TestDepth(t *testing.T) {
	deep := strings.Repeat(`{"a":`, sessionjson.DefaultMaxDepth+5) + "1" + strings.Repeat("}", sessionjson.DefaultMaxDepth+5)
	if _, err := bsonjson.AppendObject(nil, []byte(deep), bson.RawValue{}); !errors.Is(err, sessionjson.ErrTooDeep) {
		t.Fatalf("deep JSON: %v", err)
	}
	ok := strings.Repeat(`{"a":`, 50) + "1" + strings.Repeat("}", 50)
	doc := fromJSON(t, ok, nil)
	if got := toJSON(t, doc); got != ok {
		t.Fatalf("depth 50 round trip: %s", got)
	}
	// A deep BSON document, built by hand.
	inner := marshal(t, bson.D{{Key: "a", Value: int32(1)}})
	for range sessionjson.DefaultMaxDepth + 5 {
		inner = marshal(t, bson.D{{Key: "a", Value: inner}})
	}
	if _, err := bsonjson.AppendJSON(nil, docValue(inner), -1); !errors.Is(err, sessionjson.ErrTooDeep) {
		t.Fatalf("deep BSON: %v", err)
	}
}

// TestUnsupportedTypes: BSON types with no JSON form are refused.
func TestUnsupportedTypes(t *testing.T) {
	for name, v := range map[string]any{
		"code":   bson.JavaScript("x"),
		"minkey": bson.MinKey{},
		"maxkey": bson.MaxKey{},
	} {
		doc := marshal(t, bson.D{{Key: "x", Value: v}})
		if _, err := bsonjson.AppendJSON(nil, docValue(doc), -1); !errors.Is(err, bsonjson.ErrType) {
			t.Errorf("%s: %v, want ErrType", name, err)
		}
	}
	if _, err := bsonjson.AppendJSON(nil, docValue([]byte{5, 0, 0}), -1); !errors.Is(err, bsonjson.ErrType) {
		t.Errorf("truncated document: %v", err)
	}
}

// keyWorkPerKey bounds the key comparisons and map operations per key.
const keyWorkPerKey = 8

func cartJSON(n int, extra ...string) []byte {
	b := []byte{'{'}
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `"k`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `":`...)
		b = strconv.AppendInt(b, int64(i), 10)
	}
	for _, m := range extra {
		b = append(append(b, ','), m...)
	}
	return append(b, '}')
}

// TestKeysLinear: the conversion of an object of 100,000 keys (a cart),
// with repeated keys and with a hint of as many keys, does work linear in
// the number of keys.
func TestKeysLinear(t *testing.T) {
	const n = 100_000
	raw := cartJSON(n, `"k3":"a"`, `"k99999":"c"`, `"k3":"d"`)
	var doc []byte
	var err error
	work := bsonjson.KeyWork(func() { doc, err = bsonjson.AppendObject(nil, raw, bson.RawValue{}) })
	if err != nil {
		t.Fatal(err)
	}
	elems, _ := bson.Raw(doc).Elements()
	if len(elems) != n || elems[3].Value().StringValue() != "d" || elems[n-1].Value().StringValue() != "c" {
		t.Fatalf("%d members; k3 %v", len(elems), elems[3].Value())
	}
	if work < n || work > keyWorkPerKey*n {
		t.Fatalf("%d keys: %d key operations", n, work)
	}
	work = bsonjson.KeyWork(func() { _, err = bsonjson.AppendObject(nil, raw, docValue(doc)) })
	if err != nil || work > 2*keyWorkPerKey*n {
		t.Fatalf("with a hint of %d keys: %d key operations (%v)", n, work, err)
	}
	t.Logf("%d keys: %.2f key operations per key", n, float64(work)/n)
}

// TestKeysLinearToJSON: the BSON of an object of 100,000 keys, with
// repeated keys and array-index keys after the others (a document Go never
// writes, the server may hold), converts to JSON with work linear in the
// number of keys, at an output limit of exactly its JSON's length, and one
// byte less is ErrTooLong.
func TestKeysLinearToJSON(t *testing.T) {
	const n = 100_000
	d := make(bson.D, 0, n+4)
	for i := range n {
		d = append(d, bson.E{Key: "k" + strconv.Itoa(i), Value: int32(i)})
	}
	d = append(d, bson.E{Key: "k3", Value: "a"}, bson.E{Key: "7", Value: true}, bson.E{Key: "k3", Value: "d"}, bson.E{Key: "2", Value: false})
	doc := marshal(t, d)
	want := `{"2":false,"7":true,` + string(cartJSON(n))[1:]
	want = strings.Replace(want, `"k3":3,`, `"k3":"d",`, 1)
	var got []byte
	var err error
	work := bsonjson.KeyWork(func() { got, err = bsonjson.AppendJSON(nil, docValue(doc), len(want)) })
	if err != nil || string(got) != want {
		t.Fatalf("at the limit: %v; %d bytes, want %d", err, len(got), len(want))
	}
	if work < n || work > keyWorkPerKey*n {
		t.Fatalf("%d keys: %d key operations", n, work)
	}
	if _, err := bsonjson.AppendJSON(nil, docValue(doc), len(want)-1); !errors.Is(err, bsonjson.ErrTooLong) {
		t.Fatalf("one byte over the limit: %v", err)
	}
	t.Logf("%d keys: %.2f key operations per key", n, float64(work)/n)
}

// TestISODates: only toISOString()'s exact form of a valid Date turns back
// into a Date where one was.
func TestISODates(t *testing.T) {
	const notDate = math.MinInt64
	hint := marshal(t, bson.D{{Key: "d", Value: bson.DateTime(0)}})
	for s, wantMs := range map[string]int64{
		"2026-01-02T03:04:05.678Z":    time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC).UnixMilli(),
		"-000001-01-01T00:00:00.000Z": time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(),
		"+010000-01-01T00:00:00.000Z": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(),
		"2026-01-02T03:04:05Z":        notDate, "2026-01-02T03:04:05.678+00:00": notDate, "+002026-01-02T03:04:05.678Z": notDate,
		"2026-02-30T03:04:05.678Z": notDate, "+275760-09-13T00:00:00.001Z": notDate, "x": notDate,
	} {
		enc, _ := json.Marshal(s)
		v := fromJSON(t, `{"d":`+string(enc)+`}`, hint).Lookup("d")
		ms, isDate := v.DateTimeOK()
		if wantMs == notDate && isDate || wantMs != notDate && (!isDate || ms != wantMs) {
			t.Errorf("%s: %s %v", s, v.Type, v)
		}
	}
}

// TestDepthLimit: both ways accept a record of exactly
// sessionjson.DefaultMaxDepth nested containers, as sessionjson.Decode
// does, and refuse one more level.
func TestDepthLimit(t *testing.T) {
	for _, levels := range []int{sessionjson.DefaultMaxDepth, sessionjson.DefaultMaxDepth + 1} {
		n := levels - 1 // containers below the record
		want := levels <= sessionjson.DefaultMaxDepth
		js := `{"cookie":{},"x":` + strings.Repeat(`{"a":`, n-1) + "{}" + strings.Repeat("}", n-1) + "}"
		_, err := sessionjson.Decode([]byte(js))
		if (err == nil) != want {
			t.Fatalf("%d levels: sessionjson.Decode: %v", levels, err)
		}
		doc, err := bsonjson.AppendObject(nil, []byte(js), bson.RawValue{})
		if want && err != nil || !want && !errors.Is(err, sessionjson.ErrTooDeep) {
			t.Fatalf("%d levels: AppendObject: %v", levels, err)
		}
		inner := marshal(t, bson.D{})
		for range n - 1 {
			inner = marshal(t, bson.D{{Key: "a", Value: inner}})
		}
		outer := marshal(t, bson.D{{Key: "cookie", Value: bson.D{}}, {Key: "x", Value: inner}})
		got, err := bsonjson.AppendJSON(nil, docValue(outer), -1)
		if want && err != nil || !want && !errors.Is(err, sessionjson.ErrTooDeep) {
			t.Fatalf("%d levels: AppendJSON: %v", levels, err)
		}
		if want && (string(got) != js || !bytes.Equal(doc, outer)) {
			t.Fatalf("%d levels: round trip differs", levels)
		}
		// The same with arrays.
		js = `{"cookie":{},"x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + "}"
		if _, err := sessionjson.Decode([]byte(js)); (err == nil) != want {
			t.Fatalf("%d levels of arrays: sessionjson.Decode: %v", levels, err)
		}
		doc, err = bsonjson.AppendObject(nil, []byte(js), bson.RawValue{})
		if want && err != nil || !want && !errors.Is(err, sessionjson.ErrTooDeep) {
			t.Fatalf("%d levels of arrays: AppendObject: %v", levels, err)
		}
		var arr any = bson.A{}
		for range n - 1 {
			arr = bson.A{arr}
		}
		outer = marshal(t, bson.D{{Key: "cookie", Value: bson.D{}}, {Key: "x", Value: arr}})
		got, err = bsonjson.AppendJSON(nil, docValue(outer), -1)
		if want && err != nil || !want && !errors.Is(err, sessionjson.ErrTooDeep) {
			t.Fatalf("%d levels of arrays: AppendJSON: %v", levels, err)
		}
		if want && (string(got) != js || !bytes.Equal(doc, outer)) {
			t.Fatalf("%d levels of arrays: round trip differs", levels)
		}
	}
}
