package sessionjson

import (
	"unicode/utf8"
)

// This file writes JSON exactly as Node's JSON.stringify does after
// JSON.parse, for input the scanner has validated:
//   - no whitespace;
//   - strings escape only '"', '\\' and control characters (\b \f \n \r \t,
//     others as \u00xx), lone surrogates as \udxxx, and nothing else: no HTML
//     escaping, U+2028 and U+2029 written raw;
//   - object members in JavaScript property order: array-index keys
//     ("0".."4294967294") ascending first, then the other keys in order; a
//     repeated key keeps its first position and its last value;
//   - numbers exactly as written (JavaScript would round integers above 2^53;
//     keeping them is the point of this package).

// appendNode appends the Node form of the validated value starting at src[i]
// and returns the new dst and the offset after the value.
func appendNode(dst, src []byte, i int) ([]byte, int) {
	for isSpace(src[i]) {
		i++
	}
	switch src[i] {
	case '{':
		return appendNodeObject(dst, src, i)
	case '[':
		dst = append(dst, '[')
		i++
		first := true
		for {
			for isSpace(src[i]) {
				i++
			}
			if src[i] == ']' {
				return append(dst, ']'), i + 1
			}
			if src[i] == ',' {
				i++
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst, i = appendNode(dst, src, i)
		}
	case '"':
		end := stringEnd(src, i)
		return appendNodeString(dst, src[i:end]), end
	default: // number or literal: copied as written
		j := i
		for j < len(src) && !isDelim(src[j]) {
			j++
		}
		return append(dst, src[i:j]...), j
	}
}

func isDelim(c byte) bool {
	return isSpace(c) || c == ',' || c == ']' || c == '}' || c == ':'
}

// stringEnd returns the offset after the closing quote of the validated
// string starting at src[i].
func stringEnd(src []byte, i int) int {
	for j := i + 1; ; j++ {
		switch src[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
}

type span struct{ keyStart, keyEnd, end int }

func appendNodeObject(dst, src []byte, i int) ([]byte, int) {
	start := len(dst)
	dst = append(dst, '{')
	i++
	var buf [8]span
	members := buf[:0]
	for {
		for isSpace(src[i]) {
			i++
		}
		switch src[i] {
		case '}':
			i++
			dst = append(dst, '}')
			if needsReorder(dst, members) {
				dst = reorder(dst, start, members)
			}
			return dst, i
		case ',':
			i++
			continue
		}
		if len(members) > 0 {
			dst = append(dst, ',')
		}
		ks := len(dst)
		end := stringEnd(src, i)
		dst = appendNodeString(dst, src[i:end])
		ke := len(dst)
		i = end
		for src[i] != ':' {
			i++
		}
		dst = append(dst, ':')
		dst, i = appendNode(dst, src, i+1)
		members = append(members, span{ks, ke, len(dst)})
	}
}

// arrayIndex reports whether the encoded key (quotes included) is a
// canonical array index, and its value.
func arrayIndex(key []byte) (uint64, bool) {
	d := key[1 : len(key)-1]
	if len(d) == 0 || len(d) > 10 || (d[0] == '0' && len(d) > 1) {
		return 0, false
	}
	var n uint64
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, n <= 4294967294
}

func needsReorder(dst []byte, ms []span) bool {
	seenName := false
	var last uint64
	haveIndex := false
	for k, m := range ms {
		key := dst[m.keyStart:m.keyEnd]
		if n, ok := arrayIndex(key); ok {
			if seenName || (haveIndex && n <= last) {
				return true
			}
			last, haveIndex = n, true
		} else {
			seenName = true
		}
		for _, p := range ms[:k] {
			if string(dst[p.keyStart:p.keyEnd]) == string(key) {
				return true
			}
		}
	}
	return false
}

// reorder rewrites the object at dst[start:] in JavaScript property order.
func reorder(dst []byte, start int, ms []span) []byte {
	type entry struct {
		key   string
		value []byte
		index uint64
		isIdx bool
	}
	var entries []entry
	pos := map[string]int{}
	for _, m := range ms {
		key := string(dst[m.keyStart:m.keyEnd])
		value := dst[m.keyEnd+1 : m.end]
		if p, ok := pos[key]; ok {
			entries[p].value = value // last value, first position
			continue
		}
		n, isIdx := arrayIndex([]byte(key))
		pos[key] = len(entries)
		entries = append(entries, entry{key, value, n, isIdx})
	}
	ordered := make([]entry, 0, len(entries))
	for _, e := range entries {
		if e.isIdx {
			ordered = append(ordered, e)
		}
	}
	// insertion sort: index keys are few
	for a := 1; a < len(ordered); a++ {
		for b := a; b > 0 && ordered[b].index < ordered[b-1].index; b-- {
			ordered[b], ordered[b-1] = ordered[b-1], ordered[b]
		}
	}
	for _, e := range entries {
		if !e.isIdx {
			ordered = append(ordered, e)
		}
	}
	out := make([]byte, 0, len(dst)-start)
	out = append(out, '{')
	for k, e := range ordered {
		if k > 0 {
			out = append(out, ',')
		}
		out = append(out, e.key...)
		out = append(out, ':')
		out = append(out, e.value...)
	}
	out = append(out, '}')
	return append(dst[:start], out...)
}

const hexDigits = "0123456789abcdef"

// appendNodeString appends the validated JSON string token tok (quotes
// included) the way JSON.stringify writes the string it decodes to.
func appendNodeString(dst, tok []byte) []byte {
	body := tok[1 : len(tok)-1]
	// Fast path: nothing to rewrite.
	clean := true
	for _, c := range body {
		if c == '\\' || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return append(dst, tok...)
	}
	dst = append(dst, '"')
	for j := 0; j < len(body); {
		c := body[j]
		if c >= 0x80 {
			r, size := utf8.DecodeRune(body[j:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, "\uFFFD"...)
			} else {
				dst = append(dst, body[j:j+size]...)
			}
			j += size
			continue
		}
		if c != '\\' {
			dst = append(dst, c)
			j++
			continue
		}
		e := body[j+1]
		j += 2
		if e != 'u' {
			switch e {
			case '/':
				dst = append(dst, '/')
			default: // " \ b f n r t keep their short form
				dst = append(dst, '\\', e)
			}
			continue
		}
		u := hex4(body[j:])
		j += 4
		if 0xD800 <= u && u < 0xDC00 && j+6 <= len(body) && body[j] == '\\' && body[j+1] == 'u' {
			if lo := hex4(body[j+2:]); 0xDC00 <= lo && lo < 0xE000 {
				dst = utf8.AppendRune(dst, 0x10000+(u-0xD800)<<10+(lo-0xDC00))
				j += 6
				continue
			}
		}
		dst = appendCodeUnit(dst, u)
	}
	return append(dst, '"')
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		v, _ := hexVal(c)
		r = r<<4 | v
	}
	return r
}

// appendCodeUnit writes one UTF-16 code unit that is not part of a pair.
func appendCodeUnit(dst []byte, u rune) []byte {
	switch {
	case u == '"':
		return append(dst, '\\', '"')
	case u == '\\':
		return append(dst, '\\', '\\')
	case u == '\b':
		return append(dst, '\\', 'b')
	case u == '\f':
		return append(dst, '\\', 'f')
	case u == '\n':
		return append(dst, '\\', 'n')
	case u == '\r':
		return append(dst, '\\', 'r')
	case u == '\t':
		return append(dst, '\\', 't')
	case u < 0x20, 0xD800 <= u && u < 0xE000:
		return append(dst, '\\', 'u', hexDigits[u>>12&15], hexDigits[u>>8&15], hexDigits[u>>4&15], hexDigits[u&15])
	}
	return utf8.AppendRune(dst, u)
}
