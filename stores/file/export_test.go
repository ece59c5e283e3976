package filestore

import (
	"context"
	"time"

	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// Expired reports whether Get treats the record as expired at now.
func (s *Store) Expired(sess *sessionjson.Session, now time.Time) (bool, error) {
	return s.expired(sess, now)
}

// Lock takes the session's lock as SetIf does; the function it returns
// releases it.
func (s *Store) Lock(ctx context.Context, sid string) (func(), error) {
	path, err := s.Path(sid)
	if err != nil {
		return nil, err
	}
	return s.lock(ctx, path)
}

// LockPath is the session's lock file.
func (s *Store) LockPath(sid string) string {
	path, _ := s.Path(sid)
	return path + s.lockSuffix
}

// LockSuffixFor is lockSuffixFor.
var LockSuffixFor = lockSuffixFor

// CrossProcessLock is crossProcessLock.
const CrossProcessLock = crossProcessLock
