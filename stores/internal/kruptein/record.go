package kruptein

import (
	"fmt"

	"github.com/sessionbridge/sessionbridge/internal/jsbuf"
)

// record is the DER structure, in kruptein's order (asn1.js schema: ct,
// hmac, iv, salt, at, aad). ct, hmac and aad hold base64 text.
type record struct {
	ct, hmac, iv, salt, tag, aad []byte
}

const (
	tagSequence    = 0x30
	tagOctetString = 0x04
)

// lenLen is the number of bytes of the DER encoding of length n.
func lenLen(n int) int {
	l := 1
	if n >= 0x80 {
		for ; n > 0; n >>= 8 {
			l++
		}
	}
	return l
}

func appendLen(b []byte, n int) []byte {
	if n < 0x80 {
		return append(b, byte(n))
	}
	l := lenLen(n) - 1
	b = append(b, 0x80|byte(l))
	for i := l - 1; i >= 0; i-- {
		b = append(b, byte(n>>(8*i)))
	}
	return b
}

// marshal encodes r as asn1.js does: DER, minimal lengths.
func (r *record) marshal() []byte {
	fields := [][]byte{r.ct, r.hmac, r.iv, r.salt, r.tag, r.aad}
	body := 0
	for _, f := range fields {
		body += 1 + lenLen(len(f)) + len(f)
	}
	b := make([]byte, 0, 1+lenLen(body)+body)
	b = appendLen(append(b, tagSequence), body)
	for _, f := range fields {
		b = append(appendLen(append(b, tagOctetString), len(f)), f...)
	}
	return b
}

// readTLV reads one DER element of tag want from der: its contents and
// what follows. Lengths must be minimal (DER) and at most 4 bytes long.
func readTLV(der []byte, want byte) (content, rest []byte, ok bool) {
	if len(der) < 2 || der[0] != want {
		return nil, nil, false
	}
	n, i := int(der[1]), 2
	if n >= 0x80 {
		l := n & 0x7f
		if l == 0 || l > 4 || len(der) < 2+l || der[2] == 0 {
			return nil, nil, false // indefinite, too long, or not minimal
		}
		n = 0
		for _, c := range der[2 : 2+l] {
			n = n<<8 | int(c)
		}
		if n < 0x80 {
			return nil, nil, false // long form where the short one fits
		}
		i += l
	}
	if n < 0 || n > len(der)-i { // n < 0: overflow of a 32-bit int
		return nil, nil, false
	}
	return der[i : i+n], der[i+n:], true
}

// parseRecord decodes and checks the DER structure: exactly six OCTET
// STRINGs in one SEQUENCE, nothing after it, fields of kruptein's sizes.
func parseRecord(der []byte) (record, error) {
	var r record
	body, rest, ok := readTLV(der, tagSequence)
	if !ok {
		return r, fmt.Errorf("%w: not a DER SEQUENCE", ErrMalformed)
	}
	if len(rest) != 0 {
		return r, fmt.Errorf("%w: data after the SEQUENCE", ErrMalformed)
	}
	for _, f := range []*[]byte{&r.ct, &r.hmac, &r.iv, &r.salt, &r.tag, &r.aad} {
		if *f, body, ok = readTLV(body, tagOctetString); !ok {
			return r, fmt.Errorf("%w: want six OCTET STRINGs", ErrMalformed)
		}
	}
	switch {
	case len(body) != 0:
		return r, fmt.Errorf("%w: more than six fields", ErrMalformed)
	case len(r.hmac) != hmacText:
		return r, fmt.Errorf("%w: hmac of %d bytes", ErrMalformed, len(r.hmac))
	case len(r.iv) != ivSize && len(r.iv) != ivSizeAlt:
		return r, fmt.Errorf("%w: iv of %d bytes", ErrMalformed, len(r.iv))
	case len(r.salt) != saltSize:
		return r, fmt.Errorf("%w: salt of %d bytes", ErrMalformed, len(r.salt))
	case len(r.tag) != tagSize:
		return r, fmt.Errorf("%w: tag of %d bytes", ErrMalformed, len(r.tag))
	case len(r.aad) == 0 || len(r.aad) > maxAADText:
		return r, fmt.Errorf("%w: aad of %d bytes", ErrMalformed, len(r.aad))
	}
	return r, nil
}

// trimPadding removes up to two trailing '='.
func trimPadding(s []byte) []byte {
	for i := 0; i < 2 && len(s) > 0 && s[len(s)-1] == '='; i++ {
		s = s[:len(s)-1]
	}
	return s
}

// decodedLen returns the length s decodes to, and false when decodeBase64
// would refuse it for its length.
func decodedLen(s []byte) (int, bool) {
	s = trimPadding(s)
	if len(s)%4 == 1 {
		return 0, false
	}
	return len(s)/4*3 + max(len(s)%4-1, 0), true
}

// decodeBase64 appends to dst the bytes of s, in standard or URL-safe
// base64 (the two alphabets may mix, as Node allows), with or without
// padding; unused bits of the last character are ignored, as Node ignores
// them. It reports false for any other character, padding anywhere but at
// the end, or a length no base64 text has.
func decodeBase64(dst, s []byte) ([]byte, bool) {
	s = trimPadding(s)
	n, ok := decodedLen(s)
	if !ok {
		return dst, false
	}
	dst = growTo(dst, n)
	var acc uint32
	bits := 0
	for _, c := range s {
		v, ok := jsbuf.Base64Value(c)
		if !ok {
			return dst, false
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits >= 8 {
			bits -= 8
			dst = append(dst, byte(acc>>bits))
		}
	}
	return dst, true
}

func growTo(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+n)
	copy(nb, b)
	return nb
}
