package redisstore

import (
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/jsdate"
)

// MaxMillis is the end of the JavaScript Date range, where cookie.expires
// saturates.
const MaxMillis = jsdate.MaxMillis

// Lifetime is ttlSeconds as a time.Duration, saturated at the largest one.
func (s *Store) Lifetime(sess *sessionjson.Session) time.Duration {
	return jsdate.Duration(s.ttlSeconds(sess))
}
