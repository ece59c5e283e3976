package pgstore

import "github.com/sessionbridge/sessionbridge/sessionjson"

// Table returns the quoted, schema-qualified table name.
func (s *Store) Table() string { return s.table }

// Expiry returns the epoch seconds Set and Touch store in expire.
func (s *Store) Expiry(sess *sessionjson.Session) int64 { return s.expiry(sess) }
