package sessionjson

import (
	"unicode/utf8"
	"unsafe"

	"github.com/sessionbridge/sessionbridge/internal/jsjson"
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

// The cost of writing a value is linear in its size at every depth, whatever
// its keys: objects are checked for order and repeated keys as their members
// are written (pairwise for the few keys of a typical object, with a map
// beyond smallObject keys), and the rare value that needs reordering is
// rewritten by a second linear pass (orderer) instead of moving each object's
// bytes once per enclosing object.

// smallObject is the number of keys up to which an object's keys are compared
// pairwise; larger objects use a map (Go randomizes map hashing per map, so
// no input can force collisions).
const smallObject = 16

// appendNode appends the Node form of the validated value starting at src[i]
// and returns the new dst and the offset after the value.
func appendNode(dst, src []byte, i int) ([]byte, int) {
	return appendNodeValue(dst, src, i, writer{})
}

// appendNodeOrdered is appendNode for an object whose own keys are known to
// be distinct and in JavaScript property order (a Session's members): only
// the values' objects are checked.
func appendNodeOrdered(dst, src []byte) []byte {
	dst, _ = appendNodeValue(dst, src, 0, writer{topOrdered: true})
	return dst
}

func appendNodeValue(dst, src []byte, i int, w writer) ([]byte, int) {
	start := len(dst)
	dst, i = w.value(dst, src, i)
	if w.unordered {
		o := orderer{src: dst[start:]}
		_, p := o.scan(0)
		out := o.emit(make([]byte, 0, len(dst)-start), 0, len(dst)-start, p)
		dst = append(dst[:start], out...)
		w.work += o.work
	}
	countKeyWork(w.work)
	return dst, i
}

// writer is the first pass: it writes the value in Node's form but in its
// own member order, and notes whether some object needs reordering.
type writer struct {
	unordered  bool // some object is out of order or repeats a key
	topOrdered bool // the outermost object needs no check
	work       int  // key comparisons and map probes (see countKeyWork)
}

func (w *writer) value(dst, src []byte, i int) ([]byte, int) {
	for isSpace(src[i]) {
		i++
	}
	switch src[i] {
	case '{':
		return w.object(dst, src, i)
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
			dst, i = w.value(dst, src, i)
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

func (w *writer) object(dst, src []byte, i int) ([]byte, int) {
	dst = append(dst, '{')
	i++
	var keys keyCheck
	check := !w.topOrdered
	w.topOrdered = false
	first := true
	for {
		for isSpace(src[i]) {
			i++
		}
		switch src[i] {
		case '}':
			return append(dst, '}'), i + 1
		case ',':
			i++
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		ks := len(dst)
		end := stringEnd(src, i)
		dst = appendNodeString(dst, src[i:end])
		if check && !w.unordered && !keys.add(dst, ks, len(dst), &w.work) {
			w.unordered = true // the second pass redoes the whole value
		}
		i = end
		for src[i] != ':' {
			i++
		}
		dst = append(dst, ':')
		dst, i = w.value(dst, src, i+1)
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

// keyCheck follows the keys of one object, in Node's encoding (quotes
// included), as they are written, and reports whether the object is still
// in JavaScript property order with no key repeated.
type keyCheck struct {
	n         int // keys added
	small     [smallObject][2]int
	large     map[string]struct{}
	seenName  bool
	haveIndex bool
	last      uint64
}

// add records the key buf[ks:ke]. It returns false when the key breaks
// JavaScript property order (an array index after a name, or indexes not
// ascending) or repeats an earlier key. work counts the comparisons.
// buf[ks:ke] must not change while the keyCheck is in use.
func (c *keyCheck) add(buf []byte, ks, ke int, work *int) bool {
	key := buf[ks:ke]
	if n, ok := arrayIndex(key[1 : len(key)-1]); ok {
		if c.seenName || (c.haveIndex && n <= c.last) {
			return false
		}
		c.last, c.haveIndex = n, true
	} else {
		c.seenName = true
	}
	if c.large == nil {
		*work += c.n
		for _, r := range c.small[:c.n] {
			if string(buf[r[0]:r[1]]) == string(key) {
				return false
			}
		}
		if c.n < smallObject {
			c.small[c.n] = [2]int{ks, ke}
			c.n++
			return true
		}
		c.large = make(map[string]struct{}, 4*smallObject)
		for _, r := range c.small {
			c.large[bytesString(buf[r[0]:r[1]])] = struct{}{}
		}
	}
	*work++
	c.n++
	n := len(c.large)
	c.large[bytesString(key)] = struct{}{}
	return len(c.large) > n // hashing the key once
}

// bytesString returns b as a string sharing b's memory, for map keys that
// live no longer than the bytes stay unchanged (bytes below len of a buffer
// that is only appended to).
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// arrayIndex reports whether the key (without quotes, as written by Node)
// is a canonical array index, "0".."4294967294", and its value.
func arrayIndex[T string | []byte](d T) (uint64, bool) {
	if len(d) == 0 || len(d) > 10 || (d[0] == '0' && len(d) > 1) {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(d); i++ {
		c := d[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, n <= 4294967294
}

// orderer is the second pass, for a value the writer found unordered: src is
// the writer's output (Node's form without whitespace, members in their
// original order). scan finds every container that cannot be copied as it is
// and plans its members in JavaScript property order (a repeated key keeps
// its first position and its last value); emit then writes the value once.
// Both passes are linear in len(src).
type orderer struct {
	src   []byte
	stack []part // members of the containers being scanned
	parts []part // the planned containers' members, in output order
	plans []plan
	work  int
}

// part is one member of an object (key with quotes, then value) or one
// element of an array (ks == ke); plan is the value's plan or -1.
type part struct {
	ks, ke, vs, ve int
	plan           int
}

// plan is a container written member by member: parts[lo:hi].
type plan struct{ lo, hi int }

// scan returns the offset after the value at i and the index of its plan,
// or -1 when its bytes are already in order.
func (o *orderer) scan(i int) (int, int) {
	src := o.src
	switch src[i] {
	case '{', '[':
		isObj := src[i] == '{'
		base := len(o.stack)
		var keys keyCheck
		ordered, nested := true, false
		i++
		for src[i] != '}' && src[i] != ']' {
			if src[i] == ',' {
				i++
			}
			ks, ke := i, i
			if isObj {
				ke = stringEnd(src, i)
				if ordered && !keys.add(src, ks, ke, &o.work) {
					ordered = false
				}
				i = ke + 1 // ':'
			}
			ve, p := o.scan(i)
			nested = nested || p >= 0
			o.stack = append(o.stack, part{ks, ke, i, ve, p})
			i = ve
		}
		end := i + 1
		members := o.stack[base:]
		if ordered && !nested {
			o.stack = o.stack[:base]
			return end, -1
		}
		lo := len(o.parts)
		if ordered {
			o.parts = append(o.parts, members...)
		} else {
			o.parts = o.order(o.parts, members)
		}
		o.stack = o.stack[:base]
		o.plans = append(o.plans, plan{lo, len(o.parts)})
		return end, len(o.plans) - 1
	case '"':
		return stringEnd(src, i), -1
	default:
		for i < len(src) && !isDelim(src[i]) {
			i++
		}
		return i, -1
	}
}

// order appends the members ms of one object to dst in JavaScript property
// order: each key once, at its first position with its last value; array
// indexes first, ascending; then the other keys.
func (o *orderer) order(dst, ms []part) []part {
	lo := len(dst)
	if len(ms) <= smallObject {
	next:
		for _, m := range ms {
			o.work += len(dst) - lo
			for k := lo; k < len(dst); k++ {
				if string(o.src[dst[k].ks:dst[k].ke]) == string(o.src[m.ks:m.ke]) {
					dst[k].vs, dst[k].ve, dst[k].plan = m.vs, m.ve, m.plan
					continue next
				}
			}
			dst = append(dst, m)
		}
	} else {
		pos := make(map[string]int, len(ms))
		for _, m := range ms {
			o.work++
			key := bytesString(o.src[m.ks:m.ke])
			if k, ok := pos[key]; ok {
				dst[k].vs, dst[k].ve, dst[k].plan = m.vs, m.ve, m.plan
				continue
			}
			pos[key] = len(dst)
			dst = append(dst, m)
		}
	}
	var indexes []indexed
	names := dst[lo:lo]
	for _, m := range dst[lo:] {
		if n, ok := arrayIndex(o.src[m.ks+1 : m.ke-1]); ok {
			indexes = append(indexes, indexed{uint32(n), m})
		} else {
			names = append(names, m) // never overtakes the loop
		}
	}
	if len(indexes) == 0 {
		return dst
	}
	o.work += sortIndexed(indexes)
	copy(dst[lo+len(indexes):], names) // names is dst[lo:...]: copy moves it up
	for k, x := range indexes {
		dst[lo+k] = x.part
	}
	return dst
}

type indexed struct {
	n uint32
	part
}

// sortIndexed sorts array-index members by value and returns the work done.
// Indexes fit in 32 bits, so beyond a few members a least-significant-digit
// radix sort (four byte-wide passes) keeps the cost linear for any order.
func sortIndexed(xs []indexed) int {
	if len(xs) <= smallObject {
		work := 0
		for a := 1; a < len(xs); a++ {
			for b := a; b > 0 && xs[b].n < xs[b-1].n; b-- {
				xs[b], xs[b-1] = xs[b-1], xs[b]
				work++
			}
		}
		return work + len(xs)
	}
	tmp := make([]indexed, len(xs))
	from, to := xs, tmp
	for shift := 0; shift < 32; shift += 8 {
		var count [257]int
		for _, x := range from {
			count[(x.n>>shift)&0xff+1]++
		}
		for b := 1; b < len(count); b++ {
			count[b] += count[b-1]
		}
		for _, x := range from {
			b := (x.n >> shift) & 0xff
			to[count[b]] = x
			count[b]++
		}
		from, to = to, from
	}
	return 4 * len(xs) // four passes: the result is back in xs
}

// emit appends the value src[vs:ve], whose plan is p.
func (o *orderer) emit(dst []byte, vs, ve, p int) []byte {
	if p < 0 {
		return append(dst, o.src[vs:ve]...)
	}
	open := o.src[vs]
	dst = append(dst, open)
	pl := o.plans[p]
	for k, m := range o.parts[pl.lo:pl.hi] {
		if k > 0 {
			dst = append(dst, ',')
		}
		if open == '{' {
			dst = append(dst, o.src[m.ks:m.ke]...)
			dst = append(dst, ':')
		}
		dst = o.emit(dst, m.vs, m.ve, m.plan)
	}
	return append(dst, o.src[ve-1])
}

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
		dst = jsjson.AppendCodeUnit(dst, u)
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
