package memcachedstore

import (
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
	"github.com/sessionbridge/sessionbridge/stores/internal/jsdate"
)

// Lifetime is lifetimeSeconds as a time.Duration, saturated at the largest
// one.
func (s *Store) Lifetime(sess *sessionjson.Session) time.Duration {
	return jsdate.Duration(s.lifetimeSeconds(sess))
}
