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

// RingServer is the server sid's key goes to on the ring of a store made
// with NewRing now, whether the npm client's rules skip it or not; "" for
// a store made with New or when no server is left.
func (s *Store) RingServer(sid string) string {
	r := s.ring
	if r == nil {
		return ""
	}
	key := s.Key(sid)
	var evs []RingEvent
	r.mu.Lock()
	r.advance(r.now(), &evs)
	name := ""
	switch {
	case r.single != nil:
		name = r.single.name
	case len(r.points) > 0:
		name = ketamaServer(r.points, ketamaHash(key))
	}
	r.mu.Unlock()
	r.emit(evs)
	return name
}
