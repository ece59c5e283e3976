package sessionjson_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// TestNodeReadsGoRecords builds random records in Go, hands each to a real
// express-session (as the record a store returned), and requires that Node
// loads it and writes back exactly the bytes Go wrote: same keys, same order,
// same escaping, same cookie.
func TestNodeReadsGoRecords(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	signer, _ := cookiesig.NewSigner("keyboard cat")
	const sid = "GoRecordSid_0123456789abcdefghij"
	now := time.UnixMilli(1795000000777)
	var ops []nodetest.Op
	var want []string
	for i := 0; i < 40; i++ {
		maxAge := time.Duration(0)
		if i%3 != 0 {
			maxAge = time.Duration(1+r.IntN(100000)) * time.Second
		}
		c := sessionjson.NewCookie(now, maxAge)
		if i%4 == 1 {
			c.SameSite = &sessionjson.SameSite{Mode: "lax"}
			d := "example.com"
			c.Domain = &d
		}
		s := sessionjson.New(c)
		for k := 0; k < 1+r.IntN(6); k++ {
			if err := s.Set(randKey(r), randValue(r, 3)); err != nil {
				t.Fatal(err)
			}
		}
		if i%5 == 0 {
			_ = s.Set("passport", map[string]any{"user": r.IntN(1000)})
		}
		rec, err := s.Encode()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, string(rec))
		ops = append(ops, nodetest.Op{Op: "load", Args: map[string]any{
			"name": "connect.sid", "secrets": []string{"keyboard cat"},
			"cookie": signer.CookieValue(sid), "now": now.UnixMilli(),
			"record": string(rec), "resave": true,
		}})
	}
	res := nodetest.Oracle(t, ops)
	confirmed := 0
	for i, rr := range res {
		var v struct {
			Loaded  bool
			Session *string
			Stored  *string
		}
		rr.Decode(t, &v)
		switch {
		case !v.Loaded || v.Session == nil || v.Stored == nil:
			t.Errorf("record %d: Node did not load it: %s", i, rr.Value)
		case *v.Session != want[i]:
			t.Errorf("record %d: Node reads\n %s\nGo wrote\n %s", i, *v.Session, want[i])
		case *v.Stored != want[i]:
			t.Errorf("record %d: Node writes back\n %s\nGo wrote\n %s", i, *v.Stored, want[i])
		default:
			confirmed++
		}
	}
	t.Logf("Node confirmed %d of %d Go-encoded records byte for byte", confirmed, len(ops))
}

var keyPool = []string{"a", "user", "cart", "10", "2", "0", "01", "-1", "é", "emoji😀", "line\u2028sep", "q\"uote", "back\\slash", "<tag>", "4294967295"}

func randKey(r *rand.Rand) string { return keyPool[r.IntN(len(keyPool))] }

func randString(r *rand.Rand) string {
	parts := []string{"a", "Z", "é", "日本", "😀", "\u2028", "\u2029", "<", ">", "&", "\"", "\\", "/", "\n", "\t", "\x00", "\x1f", "\x7f", "\u0085", " "}
	var b strings.Builder
	for i := 0; i < r.IntN(8); i++ {
		b.WriteString(parts[r.IntN(len(parts))])
	}
	return b.String()
}

func randValue(r *rand.Rand, depth int) any {
	switch n := r.IntN(9); {
	case n == 0:
		return nil
	case n == 1:
		return r.IntN(2) == 0
	case n == 2:
		return r.IntN(1<<40) - 1<<39
	case n == 3:
		return []float64{1.5, 0.1, 1e21, 1e-7, 123.456, 2.5e-10}[r.IntN(6)]
	case n <= 5 || depth == 0:
		return randString(r)
	case n == 6:
		a := make([]any, r.IntN(4))
		for i := range a {
			a[i] = randValue(r, depth-1)
		}
		return a
	default:
		m := map[string]any{}
		for i := 0; i < r.IntN(4); i++ {
			m[fmt.Sprint(randKey(r))] = randValue(r, depth-1)
		}
		return m
	}
}

// TestWriteBackKeepsNodeBytes is the Node -> Go -> Node property: for many
// random records written by a real express-session, Go changes one field
// and every other member keeps Node's exact bytes; then Node loads Go's
// record and writes back exactly what Go wrote.
func TestWriteBackKeepsNodeBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 13))
	now := int64(1795000000777)
	signer, _ := cookiesig.NewSigner("keyboard cat")
	const n = 60
	var ops []nodetest.Op
	for i := 0; i < n; i++ {
		data := map[string]any{}
		for k := 0; k < 2+r.IntN(6); k++ {
			data[fmt.Sprintf("%s%d", randKey(r), k)] = randValue(r, 3)
		}
		cookie := map[string]any{}
		if i%2 == 0 {
			cookie["maxAge"] = 1000 * (1 + r.IntN(100000))
		}
		ops = append(ops, nodetest.Op{Op: "setcookie", Args: map[string]any{
			"name": "connect.sid", "secrets": []string{"keyboard cat"}, "sid": fmt.Sprintf("WriteBack%023d", i),
			"now": now, "cookie": cookie, "data": data,
		}})
	}
	res := nodetest.Oracle(t, ops)
	var goRecords []string
	var loads []nodetest.Op
	for i, rr := range res {
		var v struct{ Stored string }
		rr.Decode(t, &v)
		s, err := sessionjson.Decode([]byte(v.Stored))
		if err != nil {
			t.Fatalf("record %d: %v\n%s", i, err, v.Stored)
		}
		keys := s.Keys()
		before := map[string]string{}
		for _, k := range keys {
			raw, _ := s.Raw(k)
			before[k] = string(raw)
		}
		// Change one app field (or add one), leave the rest alone.
		target := keys[len(keys)-1]
		if target == "cookie" {
			target = "added"
		}
		if err := s.Set(target, map[string]any{"changedBy": "go", "i": i}); err != nil {
			t.Fatal(err)
		}
		out, err := s.Encode()
		if err != nil {
			t.Fatal(err)
		}
		after, err := sessionjson.Decode(out)
		if err != nil {
			t.Fatalf("record %d: Go wrote something it cannot read: %v", i, err)
		}
		for _, k := range keys {
			if k == target {
				continue
			}
			raw, _ := after.Raw(k)
			if string(raw) != before[k] {
				t.Errorf("record %d: member %q changed:\nnode %s\n  go %s", i, k, before[k], raw)
			}
		}
		goRecords = append(goRecords, string(out))
		loads = append(loads, nodetest.Op{Op: "load", Args: map[string]any{
			"name": "connect.sid", "secrets": []string{"keyboard cat"},
			"cookie": signer.CookieValue(fmt.Sprintf("WriteBack%023d", i)), "now": now,
			"record": string(out), "resave": true,
		}})
	}
	back := nodetest.Oracle(t, loads)
	same := 0
	for i, rr := range back {
		var v struct {
			Loaded bool
			Stored *string
		}
		rr.Decode(t, &v)
		if !v.Loaded || v.Stored == nil || *v.Stored != goRecords[i] {
			t.Errorf("record %d: Node's write-back differs from Go's record:\nnode %v\n  go %s", i, v.Stored, goRecords[i])
			continue
		}
		same++
	}
	t.Logf("Node -> Go -> Node: %d random records, every unchanged member kept byte for byte, %d written back identically by Node", n, same)
}

// TestExtremeExpiryLikeNode: lifetimes that push expires past year 9999
// (toISOString's expanded "+YYYYYY" years) or past the range of a
// JavaScript Date (Invalid Date: Node writes expires and originalMaxAge
// null). Found by FuzzDecode (seed 483a789a6e180a34); Node is the oracle.
func TestExtremeExpiryLikeNode(t *testing.T) {
	now := int64(1795000000000)
	signer, _ := cookiesig.NewSigner("keyboard cat")
	records := []string{
		`{"cookie":{"originalMaxAge":270000000000000}}`,
		`{"cookie":{"originalMaxAge":9000000000000000}}`,
		`{"cookie":{"originalMaxAge":-9000000000000000}}`,
		`{"cookie":{"originalMaxAge":1000,"expires":"+010582-11-03T11:06:40.000Z"}}`,
		`{"cookie":{"originalMaxAge":-1795000000000,"expires":null}}`,
	}
	var ops []nodetest.Op
	for _, r := range records {
		ops = append(ops, nodetest.Op{Op: "load", Args: map[string]any{"name": "connect.sid", "secrets": []string{"keyboard cat"},
			"cookie": signer.CookieValue("LoadSid_0123456789abcdefghijklmn"), "now": now, "record": r, "resave": true}})
	}
	for i, rr := range nodetest.Oracle(t, ops) {
		var v struct{ Stored string }
		rr.Decode(t, &v)
		s, err := sessionjson.Decode([]byte(records[i]))
		if err != nil {
			t.Fatalf("%s: %v", records[i], err)
		}
		s.Touch(time.UnixMilli(now))
		out, _ := s.Encode()
		if string(out) != v.Stored {
			t.Errorf("%s:\n  go %s\nnode %s", records[i], out, v.Stored)
		}
		if _, err := sessionjson.Decode(out); err != nil {
			t.Errorf("Go cannot read its own %s: %v", out, err)
		}
	}
}
