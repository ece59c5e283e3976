package sessionjson_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

const scaleCookie = `"cookie":{"originalMaxAge":86400000,"expires":"2026-11-19T11:06:57.007Z","httpOnly":true,"path":"/"}`

// keysRecord returns a record as express-session writes it, with n members
// besides cookie and passport: at the top level (flat) or in a "cart"
// object (nested), as `req.session.cart[id] = qty` builds it. Keys are
// short names ("p" and base 36), so that 300k of them stay under
// DefaultMaxBytes.
func keysRecord(n int, nested bool) []byte {
	b := make([]byte, 0, 160+11*n)
	b = append(b, `{`+scaleCookie+`,"passport":{"user":"u1"}`...)
	if nested {
		b = append(b, `,"cart":{`...)
	}
	for i := range n {
		if i > 0 || !nested {
			b = append(b, ',')
		}
		b = append(b, `"p`...)
		b = strconv.AppendInt(b, int64(i), 36)
		b = append(b, `":`...)
		b = strconv.AppendInt(b, int64(i%10), 10)
	}
	if nested {
		b = append(b, '}')
	}
	return append(b, '}')
}

// touchEncode is what a store's save or touch does to a loaded session.
func touchEncode(t testing.TB, s *sessionjson.Session) []byte {
	t.Helper()
	s.Touch(time.UnixMilli(1795000000000))
	out, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestKeyWorkIsLinear counts the key comparisons (and map probes) of decode
// and encode at 100k keys, flat and nested, including the paths that
// reorder: repeated keys, array-index keys in descending order, and a Go
// map whose integer keys encoding/json sorts as strings. Comparing each key
// with every earlier one costs n²/2 = 5e9 comparisons here; the bound is 8
// per key.
func TestKeyWorkIsLinear(t *testing.T) {
	const n = 100_000
	const perKey = 8
	cart := func(key func(i int) string) []byte {
		var b strings.Builder
		b.WriteString(`{` + scaleCookie + `,"cart":{`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q:%d", key(i), i%7)
		}
		b.WriteString(`}}`)
		return []byte(b.String())
	}
	records := map[string][]byte{
		"flat":           keysRecord(n, false),
		"nested":         keysRecord(n, true),
		"repeated keys":  cart(func(i int) string { return "k" + strconv.Itoa(i%(n/2)) }),
		"index keys":     cart(func(i int) string { return strconv.Itoa(n - i) }),
		"mixed keys":     cart(func(i int) string { return strconv.Itoa(i*7919%n) + []string{"", "x"}[i%2] }),
		"escaped repeat": cart(func(i int) string { return []string{"a", "\u0061"}[i%2] + strconv.Itoa(i/2) }),
	}
	for name, rec := range records {
		var s *sessionjson.Session
		var err error
		decWork := sessionjson.KeyWork(func() { s, err = sessionjson.Decode(rec) })
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if decWork > perKey*n {
			t.Errorf("%s: decode made %d key comparisons for %d keys", name, decWork, n)
		}
		var out []byte
		encWork := sessionjson.KeyWork(func() { out = touchEncode(t, s) })
		if encWork > perKey*n {
			t.Errorf("%s: encode made %d key comparisons for %d keys", name, encWork, n)
		}
		if _, err := sessionjson.Decode(out); err != nil {
			t.Errorf("%s: cannot decode what Encode wrote: %v", name, err)
		}
		t.Logf("%s: %d keys, %d bytes: %.2f comparisons per key to decode, %.2f to encode",
			name, n, len(rec), float64(decWork)/n, float64(encWork)/n)
	}

	// Set of a Go map with integer keys: encoding/json writes them sorted
	// as strings ("10" < "9"), so Set puts them in JavaScript order.
	m := make(map[string]int, n)
	for i := range n {
		m[strconv.Itoa(i)] = i
	}
	s, _ := sessionjson.Decode([]byte(`{` + scaleCookie + `}`))
	work := sessionjson.KeyWork(func() {
		if err := s.Set("cart", m); err != nil {
			t.Fatal(err)
		}
	})
	if work > perKey*n {
		t.Errorf("Set of a map: %d key comparisons for %d keys", work, n)
	}
	raw, _ := s.Raw("cart")
	if !strings.HasPrefix(string(raw), `{"0":0,"1":1,"2":2,`) || !strings.HasSuffix(string(raw), `,"99999":99999}`) {
		t.Errorf("Set of a map: not in JavaScript order: %.40s...", raw)
	}

	// Many small objects stay on the pairwise path: still linear.
	var b strings.Builder
	b.WriteString(`{` + scaleCookie + `,"rows":[`)
	for i := range n / smallKeys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		for k := range smallKeys {
			if k > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"f%d":%d`, k, i)
		}
		b.WriteByte('}')
	}
	b.WriteString(`]}`)
	s, err := sessionjson.Decode([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if work := sessionjson.KeyWork(func() { touchEncode(t, s) }); work > perKey*n {
		t.Errorf("small objects: %d key comparisons for %d keys", work, n)
	}
}

// smallKeys is the size of an object that is still compared pairwise.
const smallKeys = 16

// TestDuplicateDetectedAtScale: the linear duplicate check finds a
// repeated top-level key wherever it is, escaped or not.
func TestDuplicateDetectedAtScale(t *testing.T) {
	rec := keysRecord(50_000, false)
	for _, dup := range []string{`"p0"`, `"p\u0030"`, `"p` + strconv.FormatInt(49_999, 36) + `"`, `"passport"`, `"cookie"`} {
		bad := append(rec[:len(rec)-1:len(rec)-1], ","+dup+":1}"...)
		if _, err := sessionjson.Decode(bad); !errors.Is(err, sessionjson.ErrDuplicateKey) {
			t.Errorf("%s repeated at the end: %v", dup, err)
		}
	}
	if _, err := sessionjson.Decode(rec); err != nil {
		t.Fatal(err)
	}
	// Names Node drops on load ("id", "__proto__", ...) are skipped, not
	// checked, with few members as with many.
	for _, r := range [][]byte{[]byte(`{"cookie":{}}`), rec} {
		ok := append(r[:len(r)-1:len(r)-1], `,"id":1,"id":2,"__proto__":1,"__proto__":{}}`...)
		s, err := sessionjson.Decode(ok)
		if err != nil || s.Has("id") || s.Has("__proto__") {
			t.Errorf("repeated hidden keys (%d bytes): %v", len(ok), err)
		}
	}
}

// TestNestedReorderIsLinear: a value with repeated keys at every level of
// a deep nesting. Reordering each object by copying its bytes moved the
// innermost payload once per level (here 400 times 256 KiB = 100 MiB,
// quadratic in the input); the value must be written with memory linear in
// its size.
func TestNestedReorderIsLinear(t *testing.T) {
	const depth = 400
	payload := strings.Repeat("x", 256<<10)
	var b strings.Builder
	for range depth {
		b.WriteString(`{"b":1,"a":1,"b":`)
	}
	b.WriteString(`"` + payload + `"`)
	for range depth {
		b.WriteString(`,"a":2}`)
	}
	value := b.String()
	want := strings.Repeat(`{"b":`, depth) + `"` + payload + `"` + strings.Repeat(`,"a":2}`, depth)

	s, _ := sessionjson.Decode([]byte(`{` + scaleCookie + `}`))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := s.SetRaw("doc", []byte(value))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if raw, _ := s.Raw("doc"); string(raw) != want {
		t.Fatalf("not in JavaScript order (got %d bytes, want %d)", len(raw), len(want))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(8*len(value)) {
		t.Errorf("writing a %d-byte value allocated %d bytes", len(value), alloc)
	}
}

// expiringCtx is a context whose Err reports DeadlineExceeded from its
// (live+1)th call on, and which counts the calls.
type expiringCtx struct {
	context.Context
	live, calls int
}

func (c *expiringCtx) Err() error {
	c.calls++
	if c.calls > c.live {
		return context.DeadlineExceeded
	}
	return nil
}

// maxRecord returns a record of DefaultMaxBytes, less at most a few bytes.
func maxRecord(nested bool) []byte {
	n := sessionjson.DefaultMaxBytes / 10
	rec := keysRecord(n, nested)
	for len(rec) > sessionjson.DefaultMaxBytes {
		n -= 1000
		rec = keysRecord(n, nested)
	}
	return rec
}

// TestDecodeHonoursContext: a record at the size limit with a context that
// is done returns the context's error; and a context that expires while
// the record is decoded stops the decode at its next look at the context,
// not at the end of the record.
func TestDecodeHonoursContext(t *testing.T) {
	for _, nested := range []bool{false, true} {
		rec := maxRecord(nested)
		if len(rec) < sessionjson.DefaultMaxBytes-100_000 {
			t.Fatalf("record of %d bytes is not at the limit", len(rec))
		}
		var d sessionjson.Decoder

		ctx, cancel := context.WithDeadline(context.Background(), time.Unix(1, 0))
		s, err := d.DecodeOwnedContext(ctx, rec)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sessionjson.ErrMalformed) || s != nil {
			t.Errorf("nested=%v, expired context: %v", nested, err)
		}
		ctx, cancel = context.WithCancel(context.Background())
		cancel()
		if _, err := d.DecodeOwnedContext(ctx, rec); !errors.Is(err, context.Canceled) {
			t.Errorf("nested=%v, canceled context: %v", nested, err)
		}

		// Expires after the check before decoding and the first look
		// during it.
		ec := &expiringCtx{Context: context.Background(), live: 2}
		s, err = d.DecodeOwnedContext(ec, rec)
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sessionjson.ErrMalformed) || s != nil {
			t.Errorf("nested=%v, context expiring during decode: %v", nested, err)
		}
		if ec.calls != ec.live+1 {
			t.Errorf("nested=%v: decode went on after the context expired (%d looks at it)", nested, ec.calls)
		}
		if err != nil && (strings.Contains(err.Error(), "p0") || len(err.Error()) > 100) {
			t.Errorf("error echoes the record: %.200s", err)
		}

		// A live context: decodes, looking at it about once per PollEvery.
		ec = &expiringCtx{Context: context.Background(), live: 1 << 30}
		s, err = d.DecodeOwnedContext(ec, rec)
		if err != nil || s == nil {
			t.Fatalf("nested=%v, live context: %v", nested, err)
		}
		if maxLooks := len(rec)/sessionjson.PollEvery + 2; ec.calls < 2 || ec.calls > maxLooks {
			t.Errorf("nested=%v: %d looks at the context for %d bytes", nested, ec.calls, len(rec))
		}
	}
}

// TestReorderLikeNode: random records whose nested objects repeat keys,
// mix array-index keys and names in any order, escape keys, and have more
// members than the pairwise limit. Node's JSON.parse + JSON.stringify
// (a real express-session load and save) is the reference for what Go
// writes after a change.
func TestReorderLikeNode(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 19))
	signer, _ := cookiesig.NewSigner("keyboard cat")
	const sid = "ReorderSid_0123456789abcdefghijk"
	now := int64(1795000000000)
	var records []string
	var ops []nodetest.Op
	for i := range 40 {
		var b strings.Builder
		b.WriteString(`{` + scaleCookie)
		tops := r.Perm(len(topKeys))[:1+r.IntN(4)]
		for _, k := range tops {
			b.WriteString(`,` + space(r) + topKeys[k] + space(r) + `:` + space(r))
			size := 4
			if i%4 == 0 {
				size = 60 // beyond the pairwise limit
			}
			writeMessy(r, &b, 3, size)
		}
		b.WriteString(`}`)
		rec := b.String()
		records = append(records, rec)
		ops = append(ops, nodetest.Op{Op: "load", Args: map[string]any{
			"name": "connect.sid", "secrets": []string{"keyboard cat"},
			"cookie": signer.CookieValue(sid), "now": now, "record": rec, "resave": true,
		}})
	}
	res := nodetest.Oracle(t, ops)
	for i, rr := range res {
		var v struct{ Stored *string }
		rr.Decode(t, &v)
		if v.Stored == nil {
			t.Errorf("record %d: Node did not save it: %s", i, rr.Value)
			continue
		}
		s, err := sessionjson.Decode([]byte(records[i]))
		if err != nil {
			t.Fatalf("record %d: %v\n%s", i, err, records[i])
		}
		s.Touch(time.UnixMilli(now))
		out, _ := s.Encode()
		if string(out) != *v.Stored {
			t.Errorf("record %d:\n  in %s\n  go %s\nnode %s", i, records[i], out, *v.Stored)
		}
	}
}

var topKeys = []string{`"a"`, `"10"`, `"2"`, `"z\u0031"`, `"cart"`, `"0"`, `"4294967295"`}

var messyKeys = []string{`"a"`, `"\u0061"`, `"b"`, `"0"`, `"1"`, `"\u0031"`, `"10"`, `"9"`, `"01"`, `"-1"`,
	`"4294967294"`, `"4294967295"`, `"__proto__"`, `"é"`, `"\u00e9"`, `"x\/y"`, `"\ud83d\ude00"`, `"\ud800"`, `""`}

func space(r *rand.Rand) string { return []string{"", "", " ", "\n\t "}[r.IntN(4)] }

// writeMessy writes a random value with repeated and unordered keys.
func writeMessy(r *rand.Rand, b *strings.Builder, depth, size int) {
	switch k := r.IntN(6); {
	case depth > 0 && k < 3:
		n := r.IntN(size + 1)
		b.WriteString("{" + space(r))
		for j := range n {
			if j > 0 {
				b.WriteString("," + space(r))
			}
			var key string
			switch {
			case size > 16 && r.IntN(2) == 0:
				key = `"` + strconv.Itoa(r.IntN(3*size)) + `"` // many index keys
			case size > 16 && r.IntN(2) == 0:
				key = `"n` + strconv.Itoa(r.IntN(2*size)) + `"`
			default:
				key = messyKeys[r.IntN(len(messyKeys))]
			}
			b.WriteString(key + space(r) + ":" + space(r))
			writeMessy(r, b, depth-1, size/4+2)
		}
		b.WriteString(space(r) + "}")
	case depth > 0 && k == 3:
		n := r.IntN(4)
		b.WriteString("[")
		for j := range n {
			if j > 0 {
				b.WriteString("," + space(r))
			}
			writeMessy(r, b, depth-1, size)
		}
		b.WriteString("]")
	case k == 4:
		b.WriteString([]string{`"s"`, `"\u2028"`, `"<\/>"`, `"\ud83d\ude00"`}[r.IntN(4)])
	default:
		// Numbers Node writes back as they are (Go keeps all as written).
		b.WriteString([]string{`1`, `0`, `-7`, `1.5`, `true`, `false`, `null`}[r.IntN(7)])
	}
}

// TestPerKeyAccessIsLinear: code that walks a session key by key — Keys
// then Raw for each (converting a session to BSON), or copying every member
// into a new session with SetRaw (passport's keepSessionInfo) — costs
// constant work per key, for names and for array-index keys, which go
// among the leading index keys. With a linear search per key this was
// n²/2 comparisons.
func TestPerKeyAccessIsLinear(t *testing.T) {
	const n = 100_000
	const perKey = 40 // binary search for index keys: log2(n) ≈ 17
	indexKeys := []byte(`{"0":0`)
	for i := 1; i < n; i++ {
		indexKeys = append(indexKeys, `,"`...)
		indexKeys = strconv.AppendInt(indexKeys, int64(i), 10)
		indexKeys = append(indexKeys, `":1`...)
	}
	indexKeys = append(indexKeys, `,`+scaleCookie+`,"zz":1}`...)
	for name, rec := range map[string][]byte{"names": keysRecord(n, false), "index keys": indexKeys} {
		old, err := sessionjson.Decode(rec)
		if err != nil {
			t.Fatal(err)
		}
		keys := old.Keys()
		work := sessionjson.KeyWork(func() {
			for _, k := range keys {
				if _, ok := old.Raw(k); !ok {
					t.Fatalf("%s: no %q", name, k)
				}
			}
		})
		if work > perKey*n {
			t.Errorf("%s: Raw of every key: %d comparisons for %d keys", name, work, n)
		}
		merged := sessionjson.New(old.Cookie)
		work = sessionjson.KeyWork(func() {
			for _, k := range keys {
				if k == "cookie" {
					continue
				}
				raw, _ := old.Raw(k)
				if err := merged.SetRaw(k, raw); err != nil {
					t.Fatal(err)
				}
			}
		})
		if work > perKey*n {
			t.Errorf("%s: SetRaw of every key: %d comparisons for %d keys", name, work, n)
		}
		if got := merged.Keys(); !slices.Equal(got, keys) {
			t.Errorf("%s: copied session has another key order", name)
		}
		a, _ := old.Encode()
		b, _ := merged.Encode()
		if string(a) != string(b) {
			t.Errorf("%s: copied session encodes differently", name)
		}
		t.Logf("%s: %d keys: %.2f comparisons per key to copy", name, n, float64(work)/n)
	}
}

// TestSetDeleteKeepIndex: after inserts (names last, index keys among the
// leading index keys) and deletes on a session large enough to be indexed,
// every key is still found where Keys says it is, and the encoding is the
// one JavaScript's order gives.
func TestSetDeleteKeepIndex(t *testing.T) {
	s, _ := sessionjson.Decode(keysRecord(40, false))
	for _, k := range []string{"7", "b", "3", "4294967294", "12", "a"} {
		if err := s.SetRaw(k, []byte(`"`+k+`"`)); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"p0", "12", "p5", "zz-missing"} {
		if err := s.Delete(k); err != nil {
			t.Fatal(err)
		}
	}
	keys := s.Keys()
	if want := []string{"3", "7", "4294967294", "cookie", "passport", "p1"}; !slices.Equal(keys[:6], want) {
		t.Fatalf("keys %v, want prefix %v", keys[:6], want)
	}
	for i, k := range keys {
		if !s.Has(k) {
			t.Errorf("lost %q (position %d)", k, i)
		}
	}
	for _, k := range []string{"p0", "12", "p5"} {
		if s.Has(k) {
			t.Errorf("deleted %q still there", k)
		}
	}
	if err := s.SetRaw("p1", []byte(`"changed"`)); err != nil {
		t.Fatal(err)
	}
	out, _ := s.Encode()
	if !strings.HasPrefix(string(out), `{"3":"3","7":"7","4294967294":"4294967294",`+scaleCookie+`,"passport":{"user":"u1"},"p1":"changed","p2":2,`) ||
		!strings.HasSuffix(string(out), `,"b":"b","a":"a"}`) {
		t.Errorf("encoded %s", out)
	}
	s.Clear()
	if got := s.Keys(); !slices.Equal(got, []string{"cookie"}) || s.Has("p1") {
		t.Errorf("after Clear: %v", got)
	}
	_ = s.SetRaw("x", []byte(`1`))
	if !s.Has("x") || s.Has("p2") {
		t.Error("index stale after Clear")
	}
}

// TestRandomEditsKeepJSOrder: random SetRaw, Delete and Clear on sessions
// small and large (indexed) against a model of a JavaScript object: keys
// are array indexes ascending, then the other keys in insertion order.
func TestRandomEditsKeepJSOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 29))
	for round := range 200 {
		s, _ := sessionjson.Decode(keysRecord(r.IntN(40), false))
		names := s.Keys() // a record as Node writes it: no index keys
		indexes := map[uint64]bool{}
		for range 1 + r.IntN(80) {
			var key string
			if r.IntN(2) == 0 {
				key = strconv.Itoa(r.IntN(60))
			} else {
				key = "p" + strconv.FormatInt(int64(r.IntN(60)), 36)
			}
			n, isIdx := uint64(0), false
			if v, err := strconv.ParseUint(key, 10, 32); err == nil {
				n, isIdx = v, true
			}
			switch op := r.IntN(10); {
			case op < 6:
				if err := s.SetRaw(key, []byte(`1`)); err != nil {
					t.Fatal(err)
				}
				if isIdx {
					indexes[n] = true
				} else if !slices.Contains(names, key) {
					names = append(names, key)
				}
			case op < 9:
				_ = s.Delete(key)
				if isIdx {
					delete(indexes, n)
				} else {
					names = slices.DeleteFunc(names, func(k string) bool { return k == key })
				}
			default:
				if r.IntN(8) == 0 {
					s.Clear()
					names, indexes = []string{"cookie"}, map[uint64]bool{}
				}
			}
		}
		var want []string
		for _, n := range slices.Sorted(maps.Keys(indexes)) {
			want = append(want, strconv.FormatUint(n, 10))
		}
		want = append(want, names...)
		if got := s.Keys(); !slices.Equal(got, want) {
			t.Fatalf("round %d: keys\n%v\nwant\n%v", round, got, want)
		}
		for _, k := range want {
			if !s.Has(k) {
				t.Fatalf("round %d: Has(%q) false", round, k)
			}
		}
		for i := range 60 {
			k := "p" + strconv.FormatInt(int64(i), 36)
			if s.Has(k) != slices.Contains(want, k) {
				t.Fatalf("round %d: Has(%q) = %v", round, k, s.Has(k))
			}
		}
	}
}
