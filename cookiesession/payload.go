package cookiesession

import (
	"github.com/sessionbridge/sessionbridge/internal/jsbuf"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// isHidden reports whether cookie-session drops key when it loads a
// session: its Session constructor copies only the keys that are not
// already `in` the new session, which are its own _ctx, its prototype's
// constructor, isChanged, isNew and isPopulated, and Object.prototype's
// members.
func isHidden(key string) bool {
	switch key {
	case "_ctx", "constructor", "isChanged", "isNew", "isPopulated",
		"__defineGetter__", "__defineSetter__", "__lookupGetter__", "__lookupSetter__",
		"__proto__", "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable",
		"toLocaleString", "toString", "valueOf":
		return true
	}
	return false
}

// decodePayload turns a cookie value (the UTF-8 encoding of the JavaScript
// string cookies read) into the UTF-8 text cookie-session hands to
// JSON.parse: Buffer.from(value, 'base64').toString('utf8').
func decodePayload(value string) []byte {
	return jsbuf.WellFormed(jsbuf.Base64(value))
}

// encodeNode returns rec as JSON.stringify writes the session
// cookie-session loaded from it: members in JavaScript's order, strings in
// Node's form, no spaces. (Numbers are kept as written; Node writes them
// in their shortest form, so a record Node wrote is unchanged.) rec is not
// changed.
func encodeNode(rec *sessionjson.Session) ([]byte, error) {
	keys := rec.Keys()
	if len(keys) == 0 {
		return []byte("{}"), nil
	}
	if !rec.Modified() {
		// A decoded record comes back as decoded; rewriting one member of a
		// copy makes Encode write the whole record in Node's form.
		c := rec.Clone()
		raw, _ := c.Raw(keys[0])
		if err := c.SetRaw(keys[0], raw); err != nil {
			return nil, err
		}
		rec = c
	}
	return rec.Encode()
}
