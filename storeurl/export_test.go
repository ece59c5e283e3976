package storeurl

import "time"

// FormWork runs f and returns the look-ups made to keep each secret form
// once by the Parse calls f did. Tests using it must not run in parallel
// with other Parse calls.
func FormWork(f func()) int {
	n := 0
	testHookFormWork = func(k int) { n += k }
	defer func() { testHookFormWork = nil }()
	f()
	return n
}

// MongoCreatesTTLIndex reports whether Open creates connect-mongo's TTL
// index (autoRemove=native).
func MongoCreatesTTLIndex(s *Spec) bool { return s.conn.mongoTTLIndex }

// MemcachedTimeout is the memcached client's timeout Open sets, 0 for the
// client's default.
func MemcachedTimeout(s *Spec) time.Duration { return s.conn.memcacheTime }

var kindOpts = map[Kind]*kindOptions{
	Redis: &redisOptions, Postgres: &postgresOptions, Mongo: &mongoOptions,
	Memcached: &memcachedOptions, File: &fileOptions,
}

// OptionNames returns the store options of a kind: their names, and the
// aliases.
func OptionNames(k Kind) (names, aliases []string) {
	for _, o := range kindOpts[k].options {
		names = append(names, o.name)
		if o.alias != "" {
			aliases = append(aliases, o.alias)
		}
	}
	return names, aliases
}

// RefusedNames returns the Node options a kind refuses by name.
func RefusedNames(k Kind) []string {
	var n []string
	for _, r := range kindOpts[k].refused {
		n = append(n, r.names...)
	}
	return n
}
