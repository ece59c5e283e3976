package koasession

import (
	"bytes"
	"encoding/base64"
	"hash/crc32"
	"math"
	"strconv"
	"time"

	"github.com/sessionbridge/sessionbridge/internal/jsbuf"
	"github.com/sessionbridge/sessionbridge/internal/jscookies"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// isHidden reports whether koa-session keeps key out of a session's data:
// Session.toJSON skips isNew and every key starting with "_"; the
// accessors without a setter (length, populated, externalKey) and the
// maxAge setter swallow what the constructor assigns them; and own keys
// named like the methods koa-session and passport call (toJSON, save,
// regenerate, commit, manuallyCommit) would break them. Go neither reads
// nor writes them.
func isHidden(key string) bool {
	if key != "" && key[0] == '_' {
		return true
	}
	switch key {
	case "isNew", "length", "populated", "externalKey", "maxAge",
		"toJSON", "save", "regenerate", "commit", "manuallyCommit":
		return true
	}
	return false
}

// loadedMeta is what koa-session's ContextSession reads beside the data:
// the loaded _expire (the renew decision uses it).
type loadedMeta struct {
	expire    float64 // _expire, when hasExpire
	hasExpire bool    // typeof _expire === 'number'
}

// decode reads session JSON as koa-session does after JSON.parse: the data
// without the hidden keys, the session's maxAge from _maxAge or _session
// (the later one wins, as the Session constructor's for-in assigns them in
// order; without either, the configured maxAge) and _expire. The UTF-8 is
// first made well-formed as Node's decoder would.
func (b *Bridge) decode(data []byte) (*sessionjson.Session, loadedMeta, error) {
	// JSON.parse allows whitespace around the object; JSON.stringify,
	// which the hash and a save go by, writes none.
	obj := bytes.Trim(jsbuf.WellFormed(data), " \t\r\n")
	rec, err := b.dec.DecodeData(obj, isHidden)
	if err != nil {
		return nil, loadedMeta{}, jscookies.DecodeReason(err)
	}
	if !rec.Modified() {
		// Node hashes and saves JSON.stringify's form; a record decoded
		// unchanged would encode as the bytes read (a payload written
		// with spaces, or without any "_" key): rewrite it.
		if keys := rec.Keys(); len(keys) > 0 {
			raw, _ := rec.Raw(keys[0])
			err = rec.SetRaw(keys[0], raw)
		} else {
			rec = sessionjson.NewData(isHidden)
		}
		if err != nil {
			return nil, loadedMeta{}, err
		}
	}
	var m loadedMeta
	if v, ok := sessionjson.Member(obj, "_expire"); ok {
		if f, ok := jsNumber(v); ok {
			m.expire, m.hasExpire = f, true
			if math.Abs(f) <= maxDateMs {
				t := time.UnixMilli(int64(f))
				rec.Cookie.Expires = &t
			}
		}
	}
	b.setConfiguredMaxAge(rec)
	ma, hasMA := sessionjson.Member(obj, "_maxAge")
	sess, hasSess := sessionjson.Member(obj, "_session")
	switch {
	case hasSess && (!hasMA || cap(sess) < cap(ma)): // _session comes later
		rec.Cookie.OriginalMaxAge = nil
	case hasMA:
		rec.Cookie.OriginalMaxAge = maxAgeValue(ma)
	}
	return rec, m, nil
}

// jsNumber returns the value of a JSON number as JSON.parse gives it
// (beyond the float64 range: ±Infinity), and false for any other value.
func jsNumber(v []byte) (float64, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil && !math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// maxAgeValue is the session maxAge a _maxAge member restores: nil for
// "session", the whole milliseconds of a number within the Date range, and
// 0 (koa-session's default of one day, no expires) for what koa-session
// never writes.
func maxAgeValue(v []byte) *int64 {
	if string(bytes.TrimSpace(v)) == `"session"` {
		return nil
	}
	var ms int64
	if f, ok := jsNumber(v); ok && math.Abs(f) <= maxDateMs {
		ms = int64(f)
	}
	return &ms
}

// prepared is what koa-session's save() computes before it writes.
type prepared struct {
	json     []byte        // the data with _expire and _maxAge, or _session
	cookieMs int64         // the cookies' maxAge (opts.maxAge): 0 for no expires
	ttl      time.Duration // the store's lifetime: maxAge + 10 s
	session  bool          // maxAge 'session'
}

// prepare is the first half of koa-session's save(): the JSON it stores or
// encodes, at nowMs. Like koa-session it forgets maxAge 'session' once it
// has written _session (it sets opts.maxAge to undefined), so a second
// save in the same request, or of the same Session, writes one day.
func (b *Bridge) prepare(rec *sessionjson.Session, nowMs int64) (prepared, error) {
	data, err := rec.Encode()
	if err != nil {
		return prepared{}, err
	}
	var p prepared
	out := make([]byte, 0, len(data)+48)
	out = append(out, data[:len(data)-1]...)
	if len(rec.Keys()) > 0 {
		out = append(out, ',')
	}
	if m := rec.Cookie.OriginalMaxAge; m == nil {
		out = append(out, `"_session":true`...)
		zero := int64(0)
		rec.Cookie.OriginalMaxAge = &zero
		p.session = true
	} else {
		ma := *m
		if ma == 0 {
			ma = oneDay
		}
		expire := nowMs + ma
		out = append(out, `"_expire":`...)
		out = strconv.AppendInt(out, expire, 10)
		out = append(out, `,"_maxAge":`...)
		out = strconv.AppendInt(out, ma, 10)
		t := time.UnixMilli(expire)
		rec.Cookie.Expires = &t
		p.cookieMs = *m
		p.ttl = msDuration(ma + storeMargin)
	}
	p.json = append(out, '}')
	return p, nil
}

// msDuration converts milliseconds to a Duration, saturating.
func msDuration(ms int64) time.Duration {
	const limit = math.MaxInt64 / int64(time.Millisecond)
	switch {
	case ms > limit:
		return math.MaxInt64
	case ms < -limit:
		return math.MinInt64
	}
	return time.Duration(ms) * time.Millisecond
}

// encodeCookie is koa-session's util.encode: standard base64, padded.
func encodeCookie(json []byte) string { return base64.StdEncoding.EncodeToString(json) }

// hashData is koa-session's util.hash: the CRC-32 of JSON.stringify of the
// data.
func hashData(data []byte) uint32 { return crc32.ChecksumIEEE(data) }
