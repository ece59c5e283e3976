// Package reclimit is the record size limit the stores enforce before
// reading a record whole: a Decoder's MaxBytes made explicit, and the error
// for a record over it, so that every store measures and reports it alike.
package reclimit

import (
	"fmt"

	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// Of returns the longest record d accepts, in bytes: its MaxBytes, or
// sessionjson.DefaultMaxBytes when that is 0; -1 when d has no limit.
func Of(d sessionjson.Decoder) int {
	switch n := d.MaxBytes; {
	case n == 0:
		return sessionjson.DefaultMaxBytes
	case n < 0:
		return -1
	default:
		return n
	}
}

// Error is the error of store (its package name, "redisstore") for a record
// of n bytes over limit, or of an unknown size over it when n < 0. It wraps
// sessionjson.ErrTooLarge.
func Error[N, L int | int32 | int64](store string, n N, limit L) error {
	if n < 0 {
		return fmt.Errorf("%s: %w: more than %d bytes", store, sessionjson.ErrTooLarge, limit)
	}
	return fmt.Errorf("%s: %w: %d bytes, limit %d", store, sessionjson.ErrTooLarge, n, limit)
}
