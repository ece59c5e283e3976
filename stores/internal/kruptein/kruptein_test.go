package kruptein_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/kruptein"
)

const secret = "squirrel-secret"

func mustCipher(t testing.TB, s string, f kruptein.Format) *kruptein.Cipher {
	t.Helper()
	c, err := kruptein.New(s, f)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var formats = []kruptein.Format{kruptein.V30, kruptein.V31}

func TestRoundTrip(t *testing.T) {
	for _, f := range formats {
		c := mustCipher(t, secret, f)
		for _, pt := range []string{"", `"{}"`, "é😀\u2028\x00\xff", strings.Repeat("x", 100_000)} {
			field, err := c.Seal([]byte(pt))
			if err != nil {
				t.Fatal(err)
			}
			fs, ok := kruptein.Split(field)
			if !ok {
				t.Fatalf("%v: Seal made a record Split cannot read", f)
			}
			if len(fs[2]) != 12 || len(fs[3]) != 128 || len(fs[4]) != 16 || len(fs[1]) != 88 || len(fs[5]) != 88 {
				t.Fatalf("%v: field sizes iv %d salt %d at %d hmac %d aad %d", f, len(fs[2]), len(fs[3]), len(fs[4]), len(fs[1]), len(fs[5]))
			}
			if got, err := c.Open([]byte(field), len(pt)); err != nil || string(got) != pt {
				t.Fatalf("%v: Open(Seal(%.20q)) = %.20q, %v", f, pt, got, err)
			}
			// Two seals of one plaintext differ (fresh salt, IV, AAD).
			again, _ := c.Seal([]byte(pt))
			if again == field {
				t.Fatal("two seals are identical")
			}
		}
	}
}

func TestEmptySecret(t *testing.T) {
	if _, err := kruptein.New("", kruptein.V30); !errors.Is(err, kruptein.ErrNoSecret) {
		t.Fatalf("empty secret: %v", err)
	}
	if _, err := kruptein.New("x", kruptein.Format{}); err == nil {
		t.Fatal("zero Format accepted")
	}
}

// TestWrongSecret: another secret, or the other format, fails with
// ErrDecrypt, and the error shows neither secret nor plaintext.
func TestWrongSecret(t *testing.T) {
	const pt = "plaintext-that-must-not-leak"
	c := mustCipher(t, secret, kruptein.V30)
	field, _ := c.Seal([]byte(pt))
	for name, other := range map[string]*kruptein.Cipher{
		"other secret": mustCipher(t, secret+"x", kruptein.V30),
		"other format": mustCipher(t, secret, kruptein.V31),
	} {
		_, err := other.Open([]byte(field), -1)
		if !errors.Is(err, kruptein.ErrDecrypt) {
			t.Fatalf("%s: %v, want ErrDecrypt", name, err)
		}
		if msg := err.Error(); strings.Contains(msg, secret) || strings.Contains(msg, "plaintext") {
			t.Fatalf("error leaks: %s", msg)
		}
	}
	// The negative control: the right cipher opens it.
	if _, err := c.Open([]byte(field), -1); err != nil {
		t.Fatal(err)
	}
}

// TestTampered: changing any field makes Open fail with ErrDecrypt, also
// when the hmac is recomputed with the key (then GCM catches it).
func TestTampered(t *testing.T) {
	for _, f := range formats {
		c := mustCipher(t, secret, f)
		field, _ := c.Seal([]byte(`"{\"cookie\":{}}"`))
		orig, _ := kruptein.Split(field)
		names := []string{"ct", "hmac", "iv", "salt", "at", "aad"}
		for i := range orig {
			for _, remac := range []bool{false, true} {
				if remac && i == 1 {
					continue
				}
				fs := orig
				fs[i] = bytes.Clone(fs[i])
				// Change a character in the middle (base64 texts stay base64).
				if fs[i][len(fs[i])/2] == 'A' {
					fs[i][len(fs[i])/2] = 'B'
				} else {
					fs[i][len(fs[i])/2] = 'A'
				}
				if remac {
					fs = kruptein.Remac(c, fs)
				}
				_, err := c.Open([]byte(kruptein.Join(fs)), -1)
				if !errors.Is(err, kruptein.ErrDecrypt) {
					t.Errorf("%v: %s changed (hmac recomputed: %v): %v, want ErrDecrypt", f, names[i], remac, err)
				}
			}
		}
		if _, err := c.Open([]byte(kruptein.Join(orig)), -1); err != nil {
			t.Fatalf("%v: the record rebuilt unchanged: %v", f, err)
		}
	}
}

// TestMalformed: what is not a kruptein record fails with ErrMalformed.
func TestMalformed(t *testing.T) {
	c := mustCipher(t, secret, kruptein.V30)
	field, _ := c.Seal([]byte(`"x"`))
	fs, _ := kruptein.Split(field)
	der, _ := base64.StdEncoding.DecodeString(field)
	b64 := base64.StdEncoding.EncodeToString
	with := func(i int, v []byte) string {
		g := fs
		g[i] = v
		return kruptein.Join(g)
	}
	octet := func(n int) []byte { return append([]byte{0x04, byte(n)}, make([]byte, n)...) }
	cases := map[string]string{
		"empty":              "",
		"not base64":         "!!!!",
		"whitespace":         field[:20] + " " + field[20:],
		"newline":            field[:20] + "\n" + field[20:],
		"inner padding":      field[:20] + "=" + field[21:],
		"one char too many":  strings.TrimRight(field, "=") + "AAAAA",
		"json":               `{"cookie":{}}`,
		"trailing der":       b64(append(bytes.Clone(der), 0)),
		"truncated der":      b64(der[:len(der)-1]),
		"not a sequence":     b64(append([]byte{0x31}, der[1:]...)),
		"five fields":        b64(append([]byte{0x30, 0x0a}, append(append(octet(0), octet(0)...), append(octet(0), append(octet(0), octet(0)...)...)...)...)),
		"seven fields":       b64(append([]byte{0x30, 14}, bytes.Repeat(octet(0), 7)...)),
		"indefinite length":  b64(append([]byte{0x30, 0x80}, der[4:]...)),
		"non-minimal length": b64(append([]byte{0x30, 0x83, 0x00}, der[2:]...)),
		"length over 2^31":   b64(append([]byte{0x30, 0x84, 0xff, 0xff, 0xff, 0xff}, der[2:]...)),
		"5-byte length":      b64(append([]byte{0x30, 0x85, 0x01, 0, 0, 0, 0}, der[2:]...)),
		"long form, no byte": b64([]byte{0x30, 0x81}),
		"one byte":           b64([]byte{0x30}),
		"empty sequence":     b64([]byte{0x30, 0x00}),
		"hmac 87":            with(1, fs[1][:87]),
		"iv 8":               with(2, fs[2][:8]),
		"iv 13":              with(2, append(bytes.Clone(fs[2]), 1)),
		"salt 127":           with(3, fs[3][:127]),
		"tag 12":             with(4, fs[4][:12]),
		"aad empty":          with(5, nil),
		"aad too long":       with(5, []byte(strings.Repeat("A", 92))),
		"aad not base64":     with(5, []byte("@@@@")),
		"ct not base64":      with(0, []byte("@@@@")),
		"ct bad length":      with(0, []byte("AAAAA")),
	}
	for name, in := range cases {
		_, err := c.Open([]byte(in), -1)
		if !errors.Is(err, kruptein.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
		if kruptein.IsRecord([]byte(in)) && !strings.HasPrefix(name, "aad") && !strings.HasPrefix(name, "ct") {
			t.Errorf("%s: IsRecord", name)
		}
	}
	if !kruptein.IsRecord([]byte(field)) {
		t.Fatal("IsRecord(Seal(...)) is false")
	}
}

// TestLenientBase64: Node's Buffer.from(s, 'base64') also reads URL-safe
// and unpadded text; so does Open (TestNode checks that Node does).
func TestLenientBase64(t *testing.T) {
	c := mustCipher(t, secret, kruptein.V30)
	for i := 0; i < 20; i++ {
		field, _ := c.Seal([]byte(fmt.Sprintf(`"%d"`, i)))
		for name, v := range map[string]string{
			"url-safe": strings.NewReplacer("+", "-", "/", "_").Replace(field),
			"unpadded": strings.TrimRight(field, "="),
			"both":     strings.NewReplacer("+", "-", "/", "_", "=", "").Replace(field),
		} {
			if got, err := c.Open([]byte(v), -1); err != nil || string(got) != fmt.Sprintf(`"%d"`, i) {
				t.Fatalf("%s: %q %v", name, got, err)
			}
		}
	}
	for in, want := range map[string]string{"QQ": "A", "QQ=": "A", "QQ==": "A", "QUI": "AB", "-_8": "\xfb\xff", "+/8=": "\xfb\xff"} {
		if got, ok := kruptein.DecodeBase64([]byte(in)); !ok || string(got) != want {
			t.Errorf("DecodeBase64(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"Q", "QQ===", "Q=Q=", "QQ\n", "Q Q"} {
		if _, ok := kruptein.DecodeBase64([]byte(in)); ok {
			t.Errorf("DecodeBase64(%q) accepted", in)
		}
	}
}

// TestIV16: a 16-byte IV (what connect-mongo's iv_size asks for, and
// kruptein's decipher takes) opens; Seal always writes 12.
func TestIV16(t *testing.T) {
	c := mustCipher(t, secret, kruptein.V30)
	field := kruptein.SealWith(c, []byte(`"x"`), 16, make([]byte, 64))
	if got, err := c.Open([]byte(field), -1); err != nil || string(got) != `"x"` {
		t.Fatalf("16-byte IV: %q %v", got, err)
	}
}

// TestSizeLimit: the largest record accepted (16-byte IV, longest AAD,
// plaintext of exactly the limit) has length MaxField(limit) and opens;
// a plaintext one byte over, or any field one byte longer, is
// ErrTooLarge, refused before the key is derived.
func TestSizeLimit(t *testing.T) {
	c := mustCipher(t, secret, kruptein.V30)
	for _, limit := range []int{0, 1, 2, 3, 1000, 4 << 20} {
		pt := bytes.Repeat([]byte("x"), limit)
		field := kruptein.SealWith(c, pt, 16, make([]byte, 64))
		if len(field) != kruptein.MaxField(limit) {
			t.Fatalf("limit %d: longest record %d bytes, MaxField %d", limit, len(field), kruptein.MaxField(limit))
		}
		if got, err := c.Open([]byte(field), limit); err != nil || len(got) != limit {
			t.Fatalf("limit %d: record at the limit: %v", limit, err)
		}
		over := kruptein.SealWith(c, append(pt, 'x'), 12, make([]byte, 64))
		if _, err := c.Open([]byte(over), limit); !errors.Is(err, kruptein.ErrTooLarge) {
			t.Fatalf("limit %d: plaintext one over: %v, want ErrTooLarge", limit, err)
		}
		long := field + "A"
		if _, err := c.Open([]byte(long), limit); !errors.Is(err, kruptein.ErrTooLarge) {
			t.Fatalf("limit %d: field one over MaxField: %v, want ErrTooLarge", limit, err)
		}
		if m := kruptein.MaxField(limit); m > 16*limit/9+700 {
			t.Fatalf("MaxField(%d) = %d: not linear with the expected slope", limit, m)
		}
	}
	if kruptein.MaxField(-1) < 1<<62 || kruptein.MaxField(1<<62) < 1<<62 {
		t.Fatal("MaxField does not saturate")
	}
}

// TestKeyCache: the cache holds the key of a record sealed (so reading it
// back derives nothing) and never more than CacheSize keys.
func TestKeyCache(t *testing.T) {
	c := mustCipher(t, secret, kruptein.V30)
	field, _ := c.Seal([]byte(`"x"`))
	if n := kruptein.CacheLen(c); n != 1 {
		t.Fatalf("after one Seal the cache holds %d keys", n)
	}
	other := mustCipher(t, secret, kruptein.V30)
	for i := 0; i < 3; i++ {
		if _, err := other.Open([]byte(field), -1); err != nil {
			t.Fatal(err)
		}
	}
	if n := kruptein.CacheLen(other); n != 1 {
		t.Fatalf("after three reads of one record the cache holds %d keys", n)
	}
	// A cached key for another secret never opens: the cache is per Cipher.
	wrong := mustCipher(t, "wrong", kruptein.V30)
	if _, err := wrong.Open([]byte(field), -1); !errors.Is(err, kruptein.ErrDecrypt) {
		t.Fatal(err)
	}
	// The bound: SmallCache keeps 4 keys.
	small := kruptein.SmallCache(c, 4)
	for i := 0; i < 6; i++ {
		if _, err := small.Seal(nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := kruptein.CacheLen(small); n != 4 {
		t.Fatalf("cache holds %d keys, want 4", n)
	}
	// The least recently used goes first: the record read last stays.
	small = kruptein.SmallCache(c, 2)
	_, _ = small.Open([]byte(field), -1)
	_, _ = small.Seal(nil)
	_, _ = small.Open([]byte(field), -1)
	_, _ = small.Seal(nil)
	if !kruptein.Cached(small, field) {
		t.Fatal("the most recently read key was evicted")
	}
}

func TestCipherDoesNotPrintSecret(t *testing.T) {
	c := mustCipher(t, secret, kruptein.V31)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c)} {
		if strings.Contains(s, secret) {
			t.Fatalf("printed: %s", s)
		}
	}
}

// TestOpenAs: Open's errors become the store's, and never the other way.
func TestOpenAs(t *testing.T) {
	c := mustCipher(t, secret, kruptein.V30)
	errNot, errDec := errors.New("store: not encrypted"), errors.New("store: does not decrypt")
	field, err := c.Seal([]byte(`"x"`))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := c.OpenAs([]byte(field), -1, errNot, errDec); err != nil || string(pt) != `"x"` {
		t.Fatalf("OpenAs: %q %v", pt, err)
	}
	if _, err := c.OpenAs([]byte(field), 2, errNot, errDec); !errors.Is(err, sessionjson.ErrTooLarge) || errors.Is(err, errNot) {
		t.Errorf("too large: %v", err)
	}
	if _, err := c.OpenAs([]byte("not a record"), -1, errNot, errDec); !errors.Is(err, errNot) || errors.Is(err, errDec) {
		t.Errorf("malformed: %v", err)
	}
	other := mustCipher(t, "another secret", kruptein.V30)
	if _, err := other.OpenAs([]byte(field), -1, errNot, errDec); err != errDec {
		t.Errorf("other secret: %v", err)
	}
}
