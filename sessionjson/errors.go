package sessionjson

import (
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every error about a record that cannot be read
// as an express-session record; test the specific cause with the sentinels
// below, or any of them with errors.Is(err, ErrMalformed).
var ErrMalformed = errors.New("sessionjson: malformed session record")

// Decode errors. Each wraps [ErrMalformed].
var (
	// ErrInvalidJSON: the bytes are not a single valid JSON value.
	ErrInvalidJSON = fmt.Errorf("%w: invalid JSON", ErrMalformed)
	// ErrNotObject: valid JSON, but not an object (an array, a string, ...).
	ErrNotObject = fmt.Errorf("%w: not a JSON object", ErrMalformed)
	// ErrNoCookie: the record has no "cookie" member. express-session
	// answers 500 on such a record; a record written by it always has one.
	ErrNoCookie = fmt.Errorf("%w: no cookie object", ErrMalformed)
	// ErrBadCookie: "cookie" is not an object, or one of its known fields has
	// a type express-session never writes (originalMaxAge a string, expires
	// not a date, ...).
	ErrBadCookie = fmt.Errorf("%w: invalid cookie object", ErrMalformed)
	// ErrDuplicateKey: a key appears twice in the record or in its cookie.
	// JSON.stringify never writes that; parsers disagree on which value wins.
	ErrDuplicateKey = fmt.Errorf("%w: duplicate key", ErrMalformed)
	// ErrTooLarge: the record is longer than the decoder's MaxBytes.
	ErrTooLarge = fmt.Errorf("%w: record too large", ErrMalformed)
	// ErrTooDeep: the record nests deeper than the decoder's MaxDepth.
	ErrTooDeep = fmt.Errorf("%w: record nested too deeply", ErrMalformed)
)

// Errors from accessing or changing a record.
var (
	// ErrNoField: the record has no member of that name.
	ErrNoField = errors.New("sessionjson: no such field")
	// ErrReservedKey: "cookie" is set through Session.Cookie, not Set, and
	// names express-session drops on load ("id", "save", ...) cannot be set.
	ErrReservedKey = errors.New("sessionjson: reserved key")
	// ErrInvalidCookieOption: a cookie attribute npm cookie's serialize()
	// would refuse (invalid name, domain, path, priority or sameSite).
	ErrInvalidCookieOption = errors.New("sessionjson: invalid cookie option")
)
