// Package bsonjson converts a session between the BSON document a Node
// store keeps in MongoDB and the JSON Go works with, exactly as the Node
// MongoDB driver (bson 6) and JavaScript see it:
//
//   - AppendJSON writes the JSON that JSON.stringify gives of the value the
//     driver decodes from BSON (Dates as toISOString() strings, ObjectIds as
//     hex, keys in JavaScript's order);
//   - AppendObject writes the BSON the driver encodes for the value
//     JSON.parse gives of JSON (integral numbers within int32 as int32,
//     every other number as a double, a repeated key at its first place with
//     its last value, array-index keys first), keeping, where the document
//     it replaces had a value JSON cannot carry (a Date, an ObjectId, a
//     64-bit integer, a negative zero...), that value while its JSON is
//     unchanged.
//
// Keys with a NUL byte are refused, as the driver refuses them (BSON
// cannot hold them).
package bsonjson

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sessionbridge/sessionbridge/internal/jsjson"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

var (
	// ErrType means a BSON value has a type no JavaScript value the driver
	// decodes shows in JSON (JavaScript code, MinKey, ...), or is invalid
	// BSON.
	ErrType = errors.New("bsonjson: BSON value with no JSON form")
	// ErrKey means a JSON key holds a NUL byte, which BSON cannot hold; the
	// Node driver throws on it.
	ErrKey = errors.New("bsonjson: key contains a NUL byte, which BSON cannot hold")
	// ErrJSON means the JSON given is not valid.
	ErrJSON = errors.New("bsonjson: invalid JSON")
	// ErrTooLong means AppendJSON's output would exceed its limit.
	ErrTooLong = errors.New("bsonjson: JSON longer than the limit")
)

// errUTF8 is the error for a string or key that is not valid UTF-8.
var errUTF8 = fmt.Errorf("%w: invalid UTF-8", ErrType)

// maxDepth bounds nesting both ways: at most maxDepth nested objects and
// arrays, the record included, as sessionjson.Decode counts them.
const maxDepth = sessionjson.DefaultMaxDepth

// ---------------------------------------------------------------- BSON -> JSON

// AppendJSON appends to b the JSON of v as Node's JSON.stringify shows the
// value the MongoDB driver decodes from it (promoteValues, promoteLongs,
// no promoteBuffers: the driver's defaults):
//
//   - a document with its keys in JavaScript's order (array-index keys
//     first, ascending, then the others as stored), undefined members left
//     out; an array with undefined as null;
//   - a Date as its toISOString() string, null outside the JavaScript Date
//     range; a double as JavaScript prints it (negative zero as 0, NaN and
//     the infinities as null); an int64 as its exact integer (the driver
//     gives a Long object beyond 2^53, which JSON shows as {low, high,
//     unsigned}: Go keeps the number);
//   - an ObjectId as its hex string, binary data as base64 (a UUID as its
//     dashed hex form), a Decimal128 as {"$numberDecimal": "..."}, a symbol
//     as a string, a timestamp as {"$timestamp": "..."}, a regular
//     expression as {}.
//
// A string that is not valid UTF-8 is refused with ErrType, as the driver
// refuses to decode it; so is such a key (which the driver decodes with
// U+FFFD in place of the invalid bytes). max bounds the bytes appended (ErrTooLong
// beyond it); a negative max means no bound.
func AppendJSON(b []byte, v bson.RawValue, max int) ([]byte, error) {
	w := jsonWriter{b: b, start: len(b), max: max}
	if err := w.value(v, 0); err != nil {
		return nil, err
	}
	if w.over(0) {
		return nil, ErrTooLong
	}
	return w.b, nil
}

type jsonWriter struct {
	b     []byte
	start int
	max   int
}

func (w *jsonWriter) over(extra int) bool {
	return w.max >= 0 && len(w.b)-w.start+extra > w.max
}

func (w *jsonWriter) value(v bson.RawValue, depth int) error {
	if depth >= maxDepth && (v.Type == bson.TypeEmbeddedDocument || v.Type == bson.TypeArray) {
		return sessionjson.ErrTooDeep // a container at depth d is the (d+1)th level
	}
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		doc, ok := v.DocumentOK()
		if !ok {
			return fmt.Errorf("%w: invalid document", ErrType)
		}
		return w.document(doc, depth)
	case bson.TypeArray:
		arr, ok := v.ArrayOK()
		if !ok {
			return fmt.Errorf("%w: invalid array", ErrType)
		}
		elems, err := bson.Raw(arr).Elements()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrType, err)
		}
		w.b = append(w.b, '[')
		for i, e := range elems {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			if err := w.value(e.Value(), depth+1); err != nil {
				return err
			}
		}
		w.b = append(w.b, ']')
	case bson.TypeString, bson.TypeSymbol:
		var s string
		var ok bool
		if v.Type == bson.TypeString {
			s, ok = v.StringValueOK()
		} else {
			s, ok = v.SymbolOK()
		}
		if !ok {
			return fmt.Errorf("%w: invalid string", ErrType)
		}
		if !utf8.ValidString(s) {
			return errUTF8 // the driver throws on it
		}
		if w.over(len(s) + 2) { // its JSON is at least that long
			return ErrTooLong
		}
		w.b = jsjson.AppendString(w.b, s)
	case bson.TypeDouble:
		f, ok := v.DoubleOK()
		if !ok {
			return fmt.Errorf("%w: invalid double", ErrType)
		}
		w.b = AppendNumber(w.b, f)
	case bson.TypeInt32:
		i, ok := v.Int32OK()
		if !ok {
			return fmt.Errorf("%w: invalid int32", ErrType)
		}
		w.b = strconv.AppendInt(w.b, int64(i), 10)
	case bson.TypeInt64:
		i, ok := v.Int64OK()
		if !ok {
			return fmt.Errorf("%w: invalid int64", ErrType)
		}
		w.b = strconv.AppendInt(w.b, i, 10)
	case bson.TypeBoolean:
		t, ok := v.BooleanOK()
		if !ok {
			return fmt.Errorf("%w: invalid boolean", ErrType)
		}
		w.b = strconv.AppendBool(w.b, t)
	case bson.TypeNull, bson.TypeUndefined:
		w.b = append(w.b, "null"...)
	case bson.TypeDateTime:
		ms, ok := v.DateTimeOK()
		if !ok {
			return fmt.Errorf("%w: invalid date", ErrType)
		}
		w.b = appendDate(w.b, ms)
	case bson.TypeObjectID:
		oid, ok := v.ObjectIDOK()
		if !ok {
			return fmt.Errorf("%w: invalid ObjectId", ErrType)
		}
		w.b = jsjson.AppendString(w.b, oid.Hex())
	case bson.TypeDecimal128:
		d, ok := v.Decimal128OK()
		if !ok {
			return fmt.Errorf("%w: invalid Decimal128", ErrType)
		}
		w.b = jsjson.AppendString(append(w.b, `{"$numberDecimal":`...), d.String())
		w.b = append(w.b, '}')
	case bson.TypeBinary:
		sub, data, ok := v.BinaryOK()
		if !ok {
			return fmt.Errorf("%w: invalid binary", ErrType)
		}
		if w.over(base64.StdEncoding.EncodedLen(len(data)) + 2) {
			return ErrTooLong
		}
		if sub == 4 && len(data) == 16 { // the driver decodes it as a UUID
			h := hex.EncodeToString(data)
			w.b = jsjson.AppendString(w.b, h[:8]+"-"+h[8:12]+"-"+h[12:16]+"-"+h[16:20]+"-"+h[20:])
			break
		}
		w.b = jsjson.AppendString(w.b, base64.StdEncoding.EncodeToString(data))
	case bson.TypeTimestamp:
		t, i, ok := v.TimestampOK()
		if !ok {
			return fmt.Errorf("%w: invalid timestamp", ErrType)
		}
		w.b = strconv.AppendUint(append(w.b, `{"$timestamp":"`...), uint64(t)<<32|uint64(i), 10)
		w.b = append(w.b, `"}`...)
	case bson.TypeRegex:
		if _, _, ok := v.RegexOK(); !ok {
			return fmt.Errorf("%w: invalid regular expression", ErrType)
		}
		w.b = append(w.b, "{}"...) // a RegExp has no enumerable own properties
	default:
		return fmt.Errorf("%w: %s", ErrType, v.Type)
	}
	if w.over(0) {
		return ErrTooLong
	}
	return nil
}

// document writes doc's members as the JavaScript object the driver makes
// of it holds them: a repeated key at its first place with its last value,
// in JavaScript's own-key order.
func (w *jsonWriter) document(doc bson.Raw, depth int) error {
	elems, err := doc.Elements()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrType, err)
	}
	key := func(e bson.RawElement) string { return e.Key() }
	dup, work := hasRepeats(elems, key)
	if h := testHookKeyWork; h != nil {
		h(work)
	}
	if dup {
		elems = lastValues(elems, key)
	}
	if needsReorder(len(elems), func(i int) string { return elems[i].Key() }) {
		elems = jsOrder(elems, key)
	}
	w.b = append(w.b, '{')
	n := 0
	for _, e := range elems {
		ev := e.Value()
		if ev.Type == bson.TypeUndefined {
			continue // JSON.stringify leaves undefined members out
		}
		if n > 0 {
			w.b = append(w.b, ',')
		}
		n++
		k := e.Key()
		if !utf8.ValidString(k) {
			return errUTF8
		}
		w.b = append(jsjson.AppendString(w.b, k), ':')
		if err := w.value(ev, depth+1); err != nil {
			return err
		}
	}
	w.b = append(w.b, '}')
	return nil
}

// AppendNumber appends f as JavaScript's JSON.stringify writes a number:
// the shortest decimal that reads back as f, exponent form below 1e-6 and
// from 1e21, negative zero as 0, NaN and the infinities as null.
func AppendNumber(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return append(b, "null"...)
	case f == 0:
		return append(b, '0')
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 -> 1e-7, as JavaScript writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendDate appends the JSON of a Date of ms milliseconds: its ISO string,
// or null outside the JavaScript Date range (an Invalid Date).
func appendDate(b []byte, ms int64) []byte {
	if ms > jsjson.MaxDateMs || ms < -jsjson.MaxDateMs {
		return append(b, "null"...)
	}
	if iso, ok := jsjson.AppendISO(append(b, '"'), time.UnixMilli(ms)); ok {
		return append(iso, '"') // ISO strings need no escaping
	}
	return append(b[:len(b)-1], "null"...)
}

// ---------------------------------------------------------------- key order

// arrayIndex reports whether k is a JavaScript array index (a canonical
// decimal below 2^32 - 1), and its value.
func arrayIndex(k string) (uint32, bool) {
	if k == "" || len(k) > 10 || (k[0] == '0' && len(k) > 1) {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n >= math.MaxUint32 {
		return 0, false
	}
	return uint32(n), true
}

// needsReorder reports whether n keys are not in JavaScript's own-key
// order: an array index after another key, or indexes not ascending.
func needsReorder(n int, key func(int) string) bool {
	seenName := false
	var last uint32
	seenIndex := false
	for i := range n {
		idx, ok := arrayIndex(key(i))
		switch {
		case !ok:
			seenName = true
		case seenName || (seenIndex && idx <= last):
			return true
		default:
			last, seenIndex = idx, true
		}
	}
	return false
}

// jsOrder returns items in JavaScript's own-key order: array-index keys
// ascending, then the others in their order. A stable sort: O(n log n).
func jsOrder[T any](items []T, key func(T) string) []T {
	type indexed struct {
		idx  uint32
		item T
	}
	var idx []indexed
	rest := make([]T, 0, len(items))
	for _, it := range items {
		if n, ok := arrayIndex(key(it)); ok {
			idx = append(idx, indexed{n, it})
		} else {
			rest = append(rest, it)
		}
	}
	slices.SortStableFunc(idx, func(a, b indexed) int { return cmp.Compare(a.idx, b.idx) })
	out := make([]T, 0, len(items))
	for _, x := range idx {
		out = append(out, x.item)
	}
	return append(out, rest...)
}

// hasRepeats reports whether a key repeats among items, comparing keys
// pairwise up to smallObject items and with a map beyond (Go randomizes its
// hashing, so no input forces collisions), and the key comparisons and map
// operations it made: at most smallObject/2 per key.
func hasRepeats[T any](items []T, key func(T) string) (bool, int) {
	if len(items) <= smallObject {
		work := 0
		for i := range items {
			for j := range i {
				work++
				if key(items[i]) == key(items[j]) {
					return true, work
				}
			}
		}
		return false, work
	}
	seen := make(map[string]struct{}, len(items))
	for i, it := range items {
		k := key(it)
		if _, ok := seen[k]; ok {
			return true, i + 1
		}
		seen[k] = struct{}{}
	}
	return false, len(items)
}

// lastValues returns items with each key once, at its first place, with
// the item of its last occurrence: how JavaScript assigns repeated keys.
func lastValues[T any](items []T, key func(T) string) []T {
	last := make(map[string]int, len(items))
	for i, it := range items {
		last[key(it)] = i
	}
	out := make([]T, 0, len(last))
	for _, it := range items {
		k := key(it)
		if j, ok := last[k]; ok {
			out = append(out, items[j])
			delete(last, k)
		}
	}
	return out
}

// ---------------------------------------------------------------- JSON -> BSON

// AppendObject appends to dst the BSON document the Node driver writes for
// the object JSON.parse(obj) gives; obj must be a JSON object. Keys come in
// JavaScript's order (array-index keys first, ascending; a repeated key
// keeps its first place and takes its last value). Values become what the
// driver writes for them: integral numbers within int32 as int32, every
// other number (fractions, negative zero, integers beyond int32, beyond
// 2^53 rounded as JavaScript rounds them) as a double, strings, booleans,
// null, objects and arrays as themselves.
//
// hint is the document being replaced (zero when there is none). Wherever
// it held, at the same key or index, a value of a type JSON cannot carry
// (a Date, an ObjectId, binary data, a 64-bit integer, a double that JSON
// shows as an integer or as null, undefined, ...), and the JSON there is
// still what AppendJSON shows of that value, the value is kept as it was.
// Where it held a Date and the JSON is now another string in toISOString()
// form, the new value is written as a Date.
func AppendObject(dst, obj []byte, hint bson.RawValue) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJSON, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%w: not an object", ErrJSON)
	}
	if hint.Type != bson.TypeEmbeddedDocument {
		hint = bson.RawValue{}
	}
	w := bsonWriter{b: dst}
	if _, err := w.value(dec, tok, hint, 0); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data", ErrJSON)
	}
	return w.b, nil
}

type bsonWriter struct {
	b []byte
}

// span is one element written into an object: its key and bytes.
type span struct {
	key        string
	start, end int
}

// smallObject is the number of members up to which keys are compared
// pairwise; larger objects use a map (Go randomizes its hashing, so no
// input forces collisions). The work stays linear in the number of keys.
const smallObject = 16

// testHookKeyWork, set only by tests, receives the key comparisons and map
// operations made for each object or document, both ways.
var testHookKeyWork func(n int)

// object writes the BSON document of the JSON object whose '{' dec has
// just read, each member with the member of hint (a document) of the same
// key as its hint, and reads its '}'.
func (w *bsonWriter) object(dec *json.Decoder, hint bson.RawValue, depth int) error {
	if depth >= maxDepth { // a container at depth d is the (d+1)th level
		return sessionjson.ErrTooDeep
	}
	hints := newHintIndex(hint)
	docStart := len(w.b)
	w.b = append(w.b, 0, 0, 0, 0)
	var spans []span
	work := 0
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrJSON, err)
		}
		key, _ := kt.(string)
		if strings.IndexByte(key, 0) >= 0 {
			return ErrKey
		}
		vt, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrJSON, err)
		}
		start := len(w.b)
		w.b = append(append(append(w.b, 0), key...), 0)
		t, err := w.value(dec, vt, hints.lookup(key, &work), depth+1)
		if err != nil {
			return err
		}
		w.b[start] = byte(t)
		spans = append(spans, span{key, start, len(w.b)})
	}
	if _, err := dec.Token(); err != nil { // '}'
		return fmt.Errorf("%w: %v", ErrJSON, err)
	}
	key := func(s span) string { return s.key }
	dup, n := hasRepeats(spans, key)
	work += n
	if h := testHookKeyWork; h != nil {
		h(work)
	}
	if dup || needsReorder(len(spans), func(i int) string { return spans[i].key }) {
		w.rearrange(docStart+4, spans, dup)
	}
	w.b = append(w.b, 0)
	binary.LittleEndian.PutUint32(w.b[docStart:], uint32(len(w.b)-docStart))
	return nil
}

// rearrange rewrites the elements from base, written as spans, as
// JavaScript would hold the object: each key once, at its first place with
// its last value, array-index keys first.
func (w *bsonWriter) rearrange(base int, spans []span, dup bool) {
	if dup {
		spans = lastValues(spans, func(s span) string { return s.key })
	}
	spans = jsOrder(spans, func(s span) string { return s.key })
	out := make([]byte, 0, len(w.b)-base)
	for _, s := range spans {
		out = append(out, w.b[s.start:s.end]...)
	}
	w.b = append(w.b[:base], out...)
}

// value writes the BSON value of the JSON value starting with tok, with
// hint the value it replaces, and returns its type.
func (w *bsonWriter) value(dec *json.Decoder, tok json.Token, hint bson.RawValue, depth int) (bson.Type, error) {
	start := len(w.b)
	var t bson.Type
	switch tk := tok.(type) {
	case json.Delim:
		switch tk {
		case '{':
			h := hint
			if h.Type != bson.TypeEmbeddedDocument {
				h = bson.RawValue{}
			}
			if err := w.object(dec, h, depth); err != nil {
				return 0, err
			}
			t = bson.TypeEmbeddedDocument
		case '[':
			if depth >= maxDepth {
				return 0, sessionjson.ErrTooDeep
			}
			var hints []bson.RawElement
			if hint.Type == bson.TypeArray {
				if arr, ok := hint.ArrayOK(); ok {
					hints, _ = bson.Raw(arr).Elements()
				}
			}
			arrStart := len(w.b)
			w.b = append(w.b, 0, 0, 0, 0)
			var num []byte
			for i := 0; dec.More(); i++ {
				vt, err := dec.Token()
				if err != nil {
					return 0, fmt.Errorf("%w: %v", ErrJSON, err)
				}
				var h bson.RawValue
				if i < len(hints) {
					h = hints[i].Value()
				}
				elem := len(w.b)
				num = strconv.AppendInt(num[:0], int64(i), 10)
				w.b = append(append(append(w.b, 0), num...), 0)
				et, err := w.value(dec, vt, h, depth+1)
				if err != nil {
					return 0, err
				}
				w.b[elem] = byte(et)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return 0, fmt.Errorf("%w: %v", ErrJSON, err)
			}
			w.b = append(w.b, 0)
			binary.LittleEndian.PutUint32(w.b[arrStart:], uint32(len(w.b)-arrStart))
			t = bson.TypeArray
		default:
			return 0, fmt.Errorf("%w: unexpected %v", ErrJSON, tk)
		}
	case string:
		if hint.Type == bson.TypeDateTime {
			// A Date stays a Date while the JSON holds a date in
			// toISOString() form: the same one or a new one.
			if ms, ok := parseISO(tk); ok {
				w.b = binary.LittleEndian.AppendUint64(w.b, uint64(ms))
				return bson.TypeDateTime, nil
			}
		}
		w.b = appendString(w.b, tk)
		t = bson.TypeString
	case json.Number:
		f, err := strconv.ParseFloat(string(tk), 64)
		if err != nil && !math.IsInf(f, 0) {
			return 0, fmt.Errorf("%w: number %q", ErrJSON, string(tk))
		}
		if keepNumber(hint, string(tk), f) {
			w.b = append(w.b, hint.Value...)
			return hint.Type, nil
		}
		t = appendJSNumber(w, f)
		return t, nil
	case bool:
		if tk {
			w.b = append(w.b, 1)
		} else {
			w.b = append(w.b, 0)
		}
		t = bson.TypeBoolean
	case nil:
		if h, ok := hint.DoubleOK(); ok && hint.Type == bson.TypeDouble && (math.IsNaN(h) || math.IsInf(h, 0)) {
			w.b = append(w.b, hint.Value...) // NaN and the infinities show as null
			return bson.TypeDouble, nil
		}
		t = bson.TypeNull
	default:
		return 0, fmt.Errorf("%w: unexpected token", ErrJSON)
	}
	if keepsType(hint.Type) {
		// The value it replaces had a type JSON cannot carry: keep it
		// while the JSON is what that value shows.
		old, err1 := AppendJSON(nil, hint, -1)
		now, err2 := AppendJSON(nil, bson.RawValue{Type: t, Value: w.b[start:]}, -1)
		if err1 == nil && err2 == nil && bytes.Equal(old, now) {
			w.b = append(w.b[:start], hint.Value...)
			return hint.Type, nil
		}
	}
	return t, nil
}

// keepsType reports whether a replaced value of type t is kept where the
// JSON still shows it: the types the Node driver never writes for a value
// JSON.parse gives (a double is written only for numbers, which
// keepNumber handles).
func keepsType(t bson.Type) bool {
	switch t {
	case 0, bson.TypeString, bson.TypeInt32, bson.TypeDouble, bson.TypeBoolean, bson.TypeNull,
		bson.TypeEmbeddedDocument, bson.TypeArray:
		return false
	}
	return true
}

// keepNumber reports whether the JSON number text (f as JavaScript reads
// it) keeps hint, a number JSON may not carry exactly: an int64 of that
// exact integer, or a double of that value (a negative zero, which JSON
// shows as 0, or an integral double the driver would write as an int32).
func keepNumber(hint bson.RawValue, text string, f float64) bool {
	switch hint.Type {
	case bson.TypeInt64:
		i, ok := hint.Int64OK()
		return ok && strconv.FormatInt(i, 10) == text
	case bson.TypeDouble:
		h, ok := hint.DoubleOK()
		return ok && h == f // 0 == -0
	}
	return false
}

// appendJSNumber writes f as the Node driver writes a JavaScript number:
// an int32 when it is a safe integer within int32 and not negative zero,
// else a double.
func appendJSNumber(w *bsonWriter, f float64) bson.Type {
	if f == math.Trunc(f) && f >= math.MinInt32 && f <= math.MaxInt32 && !(f == 0 && math.Signbit(f)) {
		w.b = binary.LittleEndian.AppendUint32(w.b, uint32(int32(f)))
		return bson.TypeInt32
	}
	w.b = binary.LittleEndian.AppendUint64(w.b, math.Float64bits(f))
	return bson.TypeDouble
}

// appendString appends the BSON string s: its int32 length with the NUL,
// the bytes, NUL.
func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)+1))
	return append(append(b, s...), 0)
}

// parseISO returns the time of s when s is exactly what toISOString()
// writes for some Date: YYYY-MM-DDTHH:mm:ss.sssZ, or with a ±YYYYYY year.
func parseISO(s string) (int64, bool) {
	var t time.Time
	var err error
	switch len(s) {
	case len(jsjson.ISOLayout):
		t, err = time.Parse(jsjson.ISOLayout, s)
	case len(jsjson.ISOLayout) + 3:
		if s[0] != '+' && s[0] != '-' {
			return 0, false
		}
		y, perr := strconv.Atoi(s[1:7])
		if perr != nil {
			return 0, false
		}
		if s[0] == '-' {
			y = -y
		}
		t, err = time.Parse(jsjson.ISOLayout, "2000"+s[7:])
		if err == nil {
			t = time.Date(y, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
		}
	default:
		return 0, false
	}
	if err != nil {
		return 0, false
	}
	iso, ok := jsjson.AppendISO(nil, t)
	if !ok || string(iso) != s {
		return 0, false
	}
	return t.UnixMilli(), true
}

// ---------------------------------------------------------------- hints

// hintIndex finds the members of a hint document by key: the last one of
// a key, as JavaScript keeps it.
type hintIndex struct {
	elems []bson.RawElement
	pos   map[string]int
}

func newHintIndex(hint bson.RawValue) hintIndex {
	if hint.Type != bson.TypeEmbeddedDocument {
		return hintIndex{}
	}
	doc, ok := hint.DocumentOK()
	if !ok {
		return hintIndex{}
	}
	elems, err := doc.Elements()
	if err != nil {
		return hintIndex{}
	}
	h := hintIndex{elems: elems}
	if len(elems) > smallObject {
		h.pos = make(map[string]int, len(elems))
		for i, e := range elems {
			h.pos[e.Key()] = i
		}
	}
	return h
}

func (h hintIndex) lookup(key string, work *int) bson.RawValue {
	if h.pos != nil {
		*work++
		if i, ok := h.pos[key]; ok {
			return h.elems[i].Value()
		}
		return bson.RawValue{}
	}
	for i := len(h.elems) - 1; i >= 0; i-- {
		*work++
		if h.elems[i].Key() == key {
			return h.elems[i].Value()
		}
	}
	return bson.RawValue{}
}
