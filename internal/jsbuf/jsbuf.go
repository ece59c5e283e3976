// Package jsbuf decodes bytes the way Node's Buffer does: the lenient
// base64 of Buffer.from(s, 'base64') and the lossy UTF-8 of
// buf.toString('utf8'), which the session middleware run on cookie values
// and the session stores on what they read.
package jsbuf

import "unicode/utf8"

// base64Values maps a byte to its value in either base64 alphabet, or 0xff.
var base64Values = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(std); i++ {
		t[std[i]] = byte(i)
	}
	t['-'], t['_'] = 62, 63
	return t
}()

// Base64Value returns the value of c in either base64 alphabet, as Node
// reads both mixed ('+' and '-' are 62, '/' and '_' are 63), and false for
// any other byte.
func Base64Value(c byte) (byte, bool) {
	v := base64Values[c]
	return v, v != 0xff
}

// Base64 returns the bytes Node's Buffer.from(s, 'base64') decodes from the
// JavaScript string whose UTF-8 encoding is s. Node reads the low byte of
// each UTF-16 code unit, skips every one outside both base64 alphabets
// (whitespace, '.', non-ASCII, ...), stops at the first '=', and turns a
// last group of two or three characters into one or two bytes (a single
// one into nothing). Invalid UTF-8 in s reads as U+FFFD, which is skipped.
// It never fails, and takes time linear in len(s).
func Base64(s string) []byte {
	dst := make([]byte, 0, len(s)/4*3+2)
	var acc uint32
	n := 0
	put := func(c byte) bool {
		v, ok := Base64Value(c)
		if !ok {
			return c != '='
		}
		acc = acc<<6 | uint32(v)
		if n++; n == 4 {
			dst = append(dst, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, n = 0, 0
		}
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			if !put(c) {
				break
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r < 0x10000 {
			if !put(byte(r)) {
				break
			}
			continue
		}
		// A surrogate pair: both halves' low bytes.
		r -= 0x10000
		if !put(byte(0xd800+r>>10)) || !put(byte(0xdc00+r&0x3ff)) {
			break
		}
	}
	switch n {
	case 2:
		dst = append(dst, byte(acc>>4))
	case 3:
		dst = append(dst, byte(acc>>10), byte(acc>>2))
	}
	return dst
}

// AppendLossyUTF8 appends src decoded as UTF-8 the way Node's
// buf.toString('utf8') does (the WHATWG Encoding Standard's decoder: each
// maximal ill-formed subpart becomes one U+FFFD) and encoded again as
// UTF-8. A byte order mark is kept, as buf.toString keeps it.
func AppendLossyUTF8(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		if src[i] < utf8.RuneSelf {
			dst = append(dst, src[i])
			i++
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		if r != utf8.RuneError || size > 1 {
			dst = append(dst, src[i:i+size]...)
			i += size
			continue
		}
		dst = append(dst, "\uFFFD"...)
		i += maximalSubpart(src[i:])
	}
	return dst
}

// WellFormed is AppendLossyUTF8 into a new slice, except that a valid b is
// returned as it is.
func WellFormed(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	return AppendLossyUTF8(make([]byte, 0, len(b)+8), b)
}

// maximalSubpart returns the length of the ill-formed sequence at the
// start of b (at least 1): its lead byte and the continuation bytes that
// could still have completed it.
func maximalSubpart(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xbf)
	switch {
	case c >= 0xc2 && c <= 0xdf:
		need = 1
	case c == 0xe0:
		need, lo = 2, 0xa0
	case c >= 0xe1 && c <= 0xef:
		need = 2
		if c == 0xed {
			hi = 0x9f
		}
	case c == 0xf0:
		need, lo = 3, 0x90
	case c >= 0xf1 && c <= 0xf3:
		need = 3
	case c == 0xf4:
		need, hi = 3, 0x8f
	default:
		return 1
	}
	n := 1
	for ; n <= need && n < len(b); n++ {
		if b[n] < lo || b[n] > hi {
			break
		}
		lo, hi = 0x80, 0xbf
	}
	return n
}
