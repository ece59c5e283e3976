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
