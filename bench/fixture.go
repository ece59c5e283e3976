package main

import (
	"context"
	"fmt"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

// The secret and cookie every side uses.
const (
	benchSecret = "keyboard cat, but longer: bench"
	cookieName  = "connect.sid"
	redisPrefix = "sessbench:" // connect-redis prefix, Go and Node
)

// fixture is a set of logged-in sessions as express-session + passport
// write them: ids from uid-safe (32 characters), records with a one-day
// cookie (newFixtureAt: any maxAge) and passport.user = {id, username, name} (serializeUser storing
// the public user object).
type fixture struct {
	signer  *cookiesig.Signer
	ids     []string
	signed  []string // id + "." + signature, what Unsign takes
	headers []string // the Cookie header a browser sends
	records [][]byte // the session JSON, byte for byte what Node writes
	users   [][]byte // passport.user JSON = GET /me's body
}

func newFixture(n int) (*fixture, error) {
	now := time.Now()
	return newFixtureAt(n, 24*time.Hour, func(int) time.Time { return now })
}

// newFixtureAt is newFixture with another cookie maxAge (whole
// milliseconds), and session i as express-session last saved it at
// savedAt(i): expiring maxAge later.
func newFixtureAt(n int, maxAge time.Duration, savedAt func(i int) time.Time) (*fixture, error) {
	signer, err := cookiesig.NewSigner(benchSecret)
	if err != nil {
		return nil, err
	}
	f := &fixture{signer: signer}
	for i := range n {
		id, err := sessionbridge.NewID()
		if err != nil {
			return nil, err
		}
		expires := savedAt(i).Add(maxAge).UTC().Format(sessionjson.ExpiresLayout)
		user := fmt.Sprintf(`{"id":%d,"username":"user%d","name":"User %d"}`, i, i, i)
		rec := fmt.Sprintf(`{"cookie":{"originalMaxAge":%d,"expires":%q,"httpOnly":true,"path":"/"},"passport":{"user":%s}}`,
			maxAge.Milliseconds(), expires, user)
		f.ids = append(f.ids, id)
		f.signed = append(f.signed, signer.Sign(id))
		f.headers = append(f.headers, "_ga=GA1.1.1706351023.1795000000; "+cookieName+"="+signer.CookieValue(id))
		f.records = append(f.records, []byte(rec))
		f.users = append(f.users, []byte(user))
	}
	return f, nil
}

// seed writes every session through a store, exactly as its Node
// counterpart would hold it.
func (f *fixture) seed(ctx context.Context, st sessionbridge.Store) error {
	for i, id := range f.ids {
		s, err := sessionjson.Decode(f.records[i])
		if err != nil {
			return err
		}
		// A decoded, unchanged record is written back byte for byte.
		if err := st.Set(ctx, id, s); err != nil {
			return fmt.Errorf("seeding session %d: %w", i, err)
		}
	}
	return nil
}
