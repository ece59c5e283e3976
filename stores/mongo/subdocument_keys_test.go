package mongostore_test

import (
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	mongostore "github.com/sessionbridge/sessionbridge/stores/mongo"
)

// keyWorkPerKey bounds the key comparisons and map operations per key of
// the JSON to BSON conversion of a subdocument. Comparing each key with
// every earlier one made about n/2 per key.
const keyWorkPerKey = 8

// cartJSON returns {"k0":0,"k1":1,...} with n keys, then extra members.
func cartJSON(n int, extra ...string) []byte {
	b := make([]byte, 0, 16*n)
	b = append(b, '{')
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
		b = append(b, ',')
		b = append(b, m...)
	}
	return append(b, '}')
}

func toBSON(t *testing.T, raw []byte) (any, int) {
	t.Helper()
	var v any
	var err error
	work := mongostore.KeyWork(func() { v, err = mongostore.JSONToBSON(raw) })
	if err != nil {
		t.Fatal(err)
	}
	return v, work
}

// TestSubdocumentKeysLinear: writing a session as a subdocument converts
// each value from JSON to BSON; the work is linear in the number of keys of
// an object (a cart of 100,000 products), repeated keys included, and many
// small objects stay linear too.
func TestSubdocumentKeysLinear(t *testing.T) {
	const n = 100_000

	v, work := toBSON(t, cartJSON(n))
	doc, ok := v.(bson.D)
	if !ok || len(doc) != n {
		t.Fatalf("got %T with %d members, want bson.D with %d", v, len(doc), n)
	}
	for _, i := range []int{0, 15, 16, 17, n / 2, n - 1} {
		if want := (bson.E{Key: "k" + strconv.Itoa(i), Value: int32(i)}); doc[i] != want {
			t.Errorf("member %d is %v, want %v", i, doc[i], want)
		}
	}
	if work < n {
		t.Fatalf("%d keys counted for %d keys: the work is not measured", work, n)
	}
	if work > keyWorkPerKey*n {
		t.Errorf("%d keys: %d key comparisons (%.0f per key)", n, work, float64(work)/n)
	}
	t.Logf("%d keys: %.2f key comparisons per key", n, float64(work)/n)

	// Repeated keys, found in the pairwise part and in the map part
	// (escaped or not), keep their first position and take the last value.
	v, work = toBSON(t, cartJSON(n, `"k3":"a"`, `"k50000":"b"`, `"k\u0039\u0039\u0039\u0039\u0039":"c"`, `"new":1`, `"k3":"d"`))
	doc = v.(bson.D)
	if len(doc) != n+1 {
		t.Fatalf("%d members, want %d", len(doc), n+1)
	}
	for i, want := range map[int]bson.E{
		3:     {Key: "k3", Value: "d"},
		50000: {Key: "k50000", Value: "b"},
		n - 1: {Key: "k99999", Value: "c"},
		n:     {Key: "new", Value: int32(1)},
		25000: {Key: "k25000", Value: int32(25000)},
	} {
		if doc[i] != want {
			t.Errorf("member %d is %v, want %v", i, doc[i], want)
		}
	}
	if work > keyWorkPerKey*n {
		t.Errorf("%d keys with repeats: %d key comparisons", n, work)
	}

	// The cart nested in an object, and many objects of 16 keys (compared
	// pairwise) in an array.
	var b strings.Builder
	b.WriteString(`{"items":` + string(cartJSON(n)) + `,"rows":[`)
	for i := range n / 16 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(cartJSON(16))
	}
	b.WriteString(`]}`)
	v, work = toBSON(t, []byte(b.String()))
	if d := v.(bson.D); len(d) != 2 || len(d[0].Value.(bson.D)) != n || len(d[1].Value.(bson.A)) != n/16 {
		t.Fatalf("nested: unexpected shape")
	}
	if work > keyWorkPerKey*2*n {
		t.Errorf("nested and small objects, %d keys: %d key comparisons", 2*n, work)
	}
}

// TestSubdocumentRepeatedKeys checks the conversion of objects with
// repeated keys against JSON.parse's rule (a repeated key keeps its first
// position and takes the last value), for objects on both sides of the
// pairwise limit.
func TestSubdocumentRepeatedKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		size := 1 + r.IntN(60)
		distinct := 1 + r.IntN(40)
		var b strings.Builder
		var want bson.D
		pos := map[string]int{}
		b.WriteByte('{')
		for i := range size {
			if i > 0 {
				b.WriteByte(',')
			}
			key := "x" + strconv.Itoa(r.IntN(distinct))
			b.WriteString(strconv.Quote(key) + ":" + strconv.Itoa(i))
			if p, ok := pos[key]; ok {
				want[p].Value = int32(i)
			} else {
				pos[key] = len(want)
				want = append(want, bson.E{Key: key, Value: int32(i)})
			}
		}
		b.WriteByte('}')
		got, err := mongostore.JSONToBSON([]byte(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("trial %d: %s\ngot  %v\nwant %v", trial, b.String(), got, want)
		}
	}
}

// BenchmarkSubdocumentCart converts a cart of 40,000 products from JSON to
// BSON, as Set does for a subdocument.
func BenchmarkSubdocumentCart(b *testing.B) {
	raw := cartJSON(40_000)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mongostore.JSONToBSON(raw); err != nil {
			b.Fatal(err)
		}
	}
}
