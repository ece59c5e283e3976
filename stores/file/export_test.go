package filestore

import (
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// Expired reports whether Get treats the record as expired at now.
func (s *Store) Expired(sess *sessionjson.Session, now time.Time) (bool, error) {
	return s.expired(sess, now)
}
