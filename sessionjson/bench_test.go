package sessionjson_test

import (
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
)

const benchRecord = `{"cookie":{"originalMaxAge":86400000,"expires":"2026-11-19T11:06:57.007Z","secure":false,"httpOnly":true,"path":"/","sameSite":"lax"},"passport":{"user":{"id":"u1","name":"Ann","roles":["admin","dev"]}},"cart":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"csrfSecret":"Vd3r0-WzM0lQ5pI4gqH7dGmN","flash":{}}`

func BenchmarkDecode(b *testing.B) {
	data := []byte(benchRecord)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sessionjson.Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeUnchanged(b *testing.B) {
	s, _ := sessionjson.Decode([]byte(benchRecord))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeTouched(b *testing.B) {
	s, _ := sessionjson.Decode([]byte(benchRecord))
	s.Touch(time.UnixMilli(1795000000000))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeGetPassport(b *testing.B) {
	data := []byte(benchRecord)
	b.ReportAllocs()
	for b.Loop() {
		s, err := sessionjson.Decode(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := s.Raw("passport"); !ok {
			b.Fatal("no passport")
		}
	}
}

// keyCounts are the record sizes of the many-keys benchmarks; 300k short
// keys is about 3 MB, under DefaultMaxBytes.
var keyCounts = []struct {
	name string
	n    int
}{{"1k", 1_000}, {"10k", 10_000}, {"100k", 100_000}, {"300k", 300_000}}

// BenchmarkDecodeKeys decodes records with many keys, at the top level
// (flat) or in a "cart" object (nested). It reports ns/key, and node-ns/key:
// Node's JSON.parse of the same bytes (when node is installed).
func BenchmarkDecodeKeys(b *testing.B) {
	for _, shape := range []string{"flat", "nested"} {
		for _, kc := range keyCounts {
			b.Run(shape+"/"+kc.name, func(b *testing.B) {
				rec := keysRecord(kc.n, shape == "nested")
				node := nodeJSONTiming(b, shape+"/"+kc.name, rec)
				b.SetBytes(int64(len(rec)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := sessionjson.Decode(rec); err != nil {
						b.Fatal(err)
					}
				}
				reportPerKey(b, kc.n, node, func(t *nodeTiming) float64 { return t.ParseNs })
			})
		}
	}
}

// BenchmarkEncodeKeys encodes a touched session with many keys (a store's
// save or touch), flat or nested. It reports ns/key, and node-ns/key:
// Node's JSON.stringify of the parsed record (when node is installed).
func BenchmarkEncodeKeys(b *testing.B) {
	for _, shape := range []string{"flat", "nested"} {
		for _, kc := range keyCounts {
			b.Run(shape+"/"+kc.name, func(b *testing.B) {
				rec := keysRecord(kc.n, shape == "nested")
				node := nodeJSONTiming(b, shape+"/"+kc.name, rec)
				s, err := sessionjson.Decode(rec)
				if err != nil {
					b.Fatal(err)
				}
				now := time.UnixMilli(1795000000000)
				b.SetBytes(int64(len(rec)))
				b.ReportAllocs()
				for b.Loop() {
					s.Touch(now)
					if _, err := s.Encode(); err != nil {
						b.Fatal(err)
					}
				}
				reportPerKey(b, kc.n, node, func(t *nodeTiming) float64 { return t.StringifyNs })
			})
		}
	}
}

func reportPerKey(b *testing.B, keys int, node *nodeTiming, nodeNs func(*nodeTiming) float64) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(keys), "ns/key")
	if node != nil {
		b.ReportMetric(nodeNs(node)/float64(keys), "node-ns/key")
	}
}
