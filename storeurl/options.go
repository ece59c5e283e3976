package storeurl

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// storeOption is a store option of a URL's query: its name as the Node
// package spells it, the older short name kept as an alias, and what it
// sets in the Spec.
type storeOption struct {
	name  string
	alias string // "" when there is none
	// set stores the value; key is the spelling the URL used, for messages.
	set func(s *Spec, key, value string) error
}

// refusal names options of the Node package (or of the client it builds)
// that the Go store does not implement, and why. They are refused with
// that reason rather than passed to the driver or ignored.
type refusal struct {
	names []string
	why   string
}

// matches reports whether the query option n is one r refuses: one of its
// names, in any case, or a member of one, as a query writes an object's
// members (crypto.secret, crypto[secret]).
func (r refusal) matches(n string) bool {
	for _, name := range r.names {
		if strings.EqualFold(n, name) {
			return true
		}
		if len(n) > len(name) && strings.EqualFold(n[:len(name)], name) && (n[len(name)] == '.' || n[len(name)] == '[') {
			return true
		}
	}
	return false
}

// kindOptions are the store options of one kind of URL.
type kindOptions struct {
	pkg string // the npm package whose option names these are
	// fold makes option names case-insensitive, as every option of a
	// MongoDB connection string is.
	fold    bool
	options []storeOption
	refused []refusal
}

// names lists the options, for messages.
func (k *kindOptions) names() string {
	var n []string
	for _, o := range k.options {
		n = append(n, o.name)
		if o.alias != "" {
			n = append(n, o.alias)
		}
	}
	return strings.Join(n, ", ")
}

// lookup removes name (in any case when fold) from q and returns the
// spelling found and its value. Two spellings of one name (ttl= and TTL=)
// are an error, as which one won would depend on map order; so is one
// spelling given twice (ttl=1&ttl=2), as an alias and its name are.
func (q query) lookup(name string, fold bool) (key, value string, ok bool, err error) {
	if !fold {
		vs, found := q.v[name]
		if !found {
			return "", "", false, nil
		}
		if len(vs) > 1 {
			return "", "", false, badf("%s is given %d times: give it once", name, len(vs))
		}
		delete(q.v, name)
		return name, vs[0], true, nil
	}
	for k, vs := range q.v {
		if !strings.EqualFold(k, name) {
			continue
		}
		if ok {
			return "", "", false, badf("%s is given in two spellings", name)
		}
		if len(vs) > 1 {
			return "", "", false, badf("%s is given %d times: give it once", k, len(vs))
		}
		key, value, ok = k, vs[0], true
		delete(q.v, k)
	}
	return key, value, ok, nil
}

// storeOptions takes the options of k out of q and sets them in s. It
// refuses an option given both by its name and by its alias, an option k
// refuses, and (unless k.fold) a store option spelt in another case. What
// it leaves in q is for the driver.
func (q query) storeOptions(s *Spec, k *kindOptions) error {
	for _, o := range k.options {
		key, v, ok, err := q.lookup(o.name, k.fold)
		if err != nil {
			return err
		}
		if o.alias != "" {
			akey, av, aok, err := q.lookup(o.alias, k.fold)
			if err != nil {
				return err
			}
			if aok && ok {
				return badf("%s and %s are the same option (%s's %s): give one of them", akey, key, k.pkg, o.name)
			}
			if aok {
				key, v, ok = akey, av, true
			}
		}
		if ok {
			if err := o.set(s, key, v); err != nil {
				return err
			}
		}
	}
	rest := q.names()
	slices.Sort(rest)
	for _, n := range rest {
		for _, r := range k.refused {
			if r.matches(n) {
				return badf("%s: %s", n, r.why)
			}
		}
		if k.fold {
			continue
		}
		for _, o := range k.options {
			if strings.EqualFold(n, o.name) || o.alias != "" && strings.EqualFold(n, o.alias) {
				return badf("unknown option %s: option names are case-sensitive, as in %s; write %s", n, k.pkg, o.name)
			}
		}
	}
	return nil
}

// seconds parses a duration option: a whole number of seconds, as the
// connect-* stores take it, or a Go duration ("24h"). With zeroOK, 0 is
// allowed (the option is off); otherwise the value must be at least 1s.
func seconds(key, v string, zeroOK bool) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		switch {
		case n > 1<<31:
			return 0, badf("%s=%s: at most %d seconds", key, v, int64(1)<<31)
		case n < 0 || n == 0 && !zeroOK:
			if zeroOK {
				return 0, badf("%s=%s: want a number of seconds, 0 or more", key, v)
			}
			return 0, badf("%s=%s: want a positive number of seconds", key, v)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || !zeroOK && d < time.Second {
		if zeroOK {
			return 0, badf("%s=%q: want seconds (3600) or a Go duration of 0 or more (1h)", key, v)
		}
		return 0, badf("%s=%q: want seconds (86400) or a duration of at least 1s (24h)", key, v)
	}
	return d, nil
}

// boolean parses a boolean option: true or false (1 or 0).
func boolean(key, v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badf("%s=%q: want true or false", key, v)
	}
	return b, nil
}

// nonEmpty refuses an empty value; def describes the default.
func nonEmpty(key, v, def string) (string, error) {
	if v == "" {
		return "", badf("%s= is empty; leave it out for the default (%s)", key, def)
	}
	return v, nil
}

// boolOption is an option that sets the bool field returns.
func boolOption(name string, field func(*Spec) *bool) storeOption {
	return storeOption{name: name, set: func(s *Spec, key, v string) error {
		b, err := boolean(key, v)
		*field(s) = b
		return err
	}}
}

// ttlOption is the ttl option of every store.
func ttlOption(field func(*Spec) *time.Duration) storeOption {
	return storeOption{name: "ttl", set: func(s *Spec, key, v string) error {
		d, err := seconds(key, v, false)
		*field(s) = d
		return err
	}}
}

// touchAfterOption is the touchAfter option every store takes, for
// sessionbridge.Config.TouchAfter.
var touchAfterOption = storeOption{name: "touchAfter", set: func(s *Spec, key, v string) error {
	d, err := seconds(key, v, true)
	s.TouchAfter = d
	return err
}}

const encryptionRefused = "encrypted sessions are not supported by the Go stores"

// secretInURL refuses an encryption secret given in the URL.
const secretInURL = "never put the encryption secret in the URL (URLs end up in logs): leave it out of the URL and pass the secret separately, with Spec.SetSecret (the sessionbridge command: --store-secret-file)"

var redisOptions = kindOptions{
	pkg: "connect-redis",
	options: []storeOption{
		{name: "prefix", set: func(s *Spec, _, v string) error {
			s.Redis.Prefix = v
			s.Redis.NoPrefix = v == "" // connect-redis's prefix: ''
			return nil
		}},
		ttlOption(func(s *Spec) *time.Duration { return &s.Redis.TTL }),
		boolOption("disableTTL", func(s *Spec) *bool { return &s.Redis.DisableTTL }),
		boolOption("disableTouch", func(s *Spec) *bool { return &s.Redis.DisableTouch }),
		{name: "scanCount", set: func(s *Spec, key, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return badf("%s=%q: want a positive number", key, v)
			}
			s.Redis.ScanCount = n
			return nil
		}},
		touchAfterOption,
	},
	refused: []refusal{
		{[]string{"client"}, "connect-redis's client is the URL itself"},
		{[]string{"serializer"}, "custom serializers are not supported: the Go store reads and writes JSON, connect-redis's default"},
	},
}

var postgresOptions = kindOptions{
	pkg: "connect-pg-simple",
	options: []storeOption{
		{name: "tableName", alias: "table", set: func(s *Spec, key, v string) (err error) {
			s.Postgres.TableName, err = nonEmpty(key, v, "session")
			return err
		}},
		{name: "schemaName", alias: "schema", set: func(s *Spec, key, v string) (err error) {
			s.Postgres.SchemaName, err = nonEmpty(key, v, "the search_path")
			return err
		}},
		ttlOption(func(s *Spec) *time.Duration { return &s.Postgres.TTL }),
		boolOption("disableTouch", func(s *Spec) *bool { return &s.Postgres.DisableTouch }),
		boolOption("createTableIfMissing", func(s *Spec) *bool { return &s.Postgres.CreateTableIfMissing }),
		{name: "pruneSessionInterval", set: func(_ *Spec, key, v string) error {
			// false is what the Go store does: it never prunes on its own.
			if v != "false" {
				return badf("%s: the Go store does not prune on a timer (only its Prune method does); leave pruning to the Node app, or give %s=false", key, key)
			}
			return nil
		}},
		touchAfterOption,
	},
	refused: []refusal{
		{[]string{"pool", "pgPromise", "conString", "conObject"}, "the connection is the URL itself; put pg's options in its query"},
		{[]string{"pruneSessionRandomizedInterval"}, "the Go store does not prune on a timer (only its Prune method does)"},
		{[]string{"errorLog"}, "the Go store returns its errors"},
	},
}

var mongoOptions = kindOptions{
	pkg:  "connect-mongo",
	fold: true,
	options: []storeOption{
		{name: "collectionName", alias: "collection", set: func(s *Spec, key, v string) (err error) {
			s.Mongo.Collection, err = nonEmpty(key, v, "sessions")
			return err
		}},
		{name: "dbName", set: func(s *Spec, key, v string) (err error) {
			s.conn.mongoDBName, err = nonEmpty(key, v, "the URL's database, else test")
			return err
		}},
		{name: "stringify", set: func(s *Spec, key, v string) error {
			b, err := boolean(key, v)
			s.Mongo.Subdocument = !b
			return err
		}},
		ttlOption(func(s *Spec) *time.Duration { return &s.Mongo.TTL }),
		{name: "touchAfter", set: func(s *Spec, key, v string) error {
			err := touchAfterOption.set(s, key, v)
			s.Mongo.TouchAfter = s.TouchAfter
			return err
		}},
		boolOption("timestamps", func(s *Spec) *bool { return &s.Mongo.Timestamps }),
		{name: "autoRemove", set: func(s *Spec, key, v string) error {
			switch v {
			case "native":
				s.conn.mongoTTLIndex = true
			case "disabled":
			case "interval":
				return badf("%s=interval: the Go store does not remove expired sessions on a timer; leave it to the Node app, or call the store's Prune periodically (and give %s=disabled)", key, key)
			default:
				return badf("%s=%q: want native or disabled", key, v)
			}
			return nil
		}},
	},
	refused: []refusal{
		{[]string{"crypto"}, secretInURL},
		{[]string{"cryptoAdapter"}, "a custom adapter is not supported: the Go store implements connect-mongo's crypto: {secret} with its defaults; pass the secret with Spec.SetSecret"},
		{[]string{"autoRemoveInterval"}, "it is for autoRemove=interval, which the Go store does not run"},
		{[]string{"mongoUrl", "clientPromise", "client", "mongoOptions"}, "the connection is the URL itself; put the driver's options in its query"},
		{[]string{"writeOperationOptions"}, "put the write concern in the URL's query (w=, wtimeoutMS=, journal=): the driver applies it to every write"},
		{[]string{"serialize", "unserialize"}, "custom serializers are not supported (stringify=false stores subdocuments)"},
		{[]string{"transformId"}, "a function: use mongostore.Options.TransformID in Go code"},
		{[]string{"createAutoRemoveIdx"}, "connect-mongo replaced it with autoRemove"},
	},
}

// memcachedClientOptions are the npm memcached client's options that
// connect-memcached passes on and the Go store does not implement.
var memcachedClientOptions = []string{
	"maxKeySize", "maxExpiration", "maxValue", "activeQueries", "maxQueueSize",
	"compatibility", "poolSize", "factor", "minTimeout", "maxTimeout",
	"randomize", "idle", "redundancy", "keyCompression", "debug", "failOverServers",
}

// maxNodeTimer is the longest delay Node's setTimeout keeps (2^31-1 ms);
// the npm memcached client's longer retry, failuresTimeout or reconnect
// would fire at once.
const maxNodeTimer = (1<<31 - 1) * time.Millisecond

// timerMillis parses a delay of the npm memcached client: milliseconds, as it
// takes them, or a Go duration; 0 is allowed, at most maxNodeTimer. The
// result is for memcachedstore.RingOptions, where 0 means the default, so
// 0 comes back as -1 (its spelling of none).
func timerMillis(key, v string) (time.Duration, error) {
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > int64(maxNodeTimer/time.Millisecond) {
			return 0, badf("%s=%s: want 0 to %d milliseconds", key, v, int64(maxNodeTimer/time.Millisecond))
		}
		d = time.Duration(n) * time.Millisecond
	} else if d, err = time.ParseDuration(v); err != nil || d < 0 || d > maxNodeTimer {
		return 0, badf("%s=%q: want milliseconds (30000), as the npm memcached client takes it, or a duration (30s)", key, v)
	}
	if d == 0 {
		return -1, nil
	}
	return d, nil
}

// timerOption is a delay option of the npm memcached client.
func timerOption(name string, field func(*Spec) *time.Duration) storeOption {
	return storeOption{name: name, set: func(s *Spec, key, v string) error {
		d, err := timerMillis(key, v)
		*field(s) = d
		return err
	}}
}

// countOption is a count option of the npm memcached client: 0 to 1000,
// with 0 stored as -1 (memcachedstore.RingOptions's spelling of none).
func countOption(name string, field func(*Spec) *int) storeOption {
	return storeOption{name: name, set: func(s *Spec, key, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1000 {
			return badf("%s=%q: want a whole number from 0 to 1000", key, v)
		}
		if n == 0 {
			n = -1
		}
		*field(s) = n
		return nil
	}}
}

var memcachedOptions = kindOptions{
	pkg: "connect-memcached",
	options: []storeOption{
		{name: "prefix", set: func(s *Spec, _, v string) error {
			s.Memcached.Prefix = v
			return nil
		}},
		// After prefix: the npm client puts its namespace before every key,
		// prefix included.
		{name: "namespace", set: func(s *Spec, _, v string) error {
			s.Memcached.Prefix = v + s.Memcached.Prefix
			return nil
		}},
		ttlOption(func(s *Spec) *time.Duration { return &s.Memcached.TTL }),
		{name: "timeout", set: func(s *Spec, key, v string) error {
			var d time.Duration
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				if n > int64(time.Hour/time.Millisecond) {
					return badf("%s=%s: at most an hour", key, v)
				}
				d = time.Duration(n) * time.Millisecond
			} else if d, err = time.ParseDuration(v); err != nil {
				d = 0
			}
			if d <= 0 || d > time.Hour {
				return badf("%s=%q: want milliseconds (500), as the npm memcached client takes it, or a duration (500ms), up to an hour", key, v)
			}
			s.Memcached.Ring.Timeout = d
			return nil
		}},
		// The npm memcached client's rules for servers that fail
		// (memcachedstore.RingOptions).
		countOption("retries", func(s *Spec) *int { return &s.Memcached.Ring.Retries }),
		countOption("failures", func(s *Spec) *int { return &s.Memcached.Ring.Failures }),
		timerOption("retry", func(s *Spec) *time.Duration { return &s.Memcached.Ring.Retry }),
		boolOption("remove", func(s *Spec) *bool { return &s.Memcached.Ring.Remove }),
		timerOption("failuresTimeout", func(s *Spec) *time.Duration { return &s.Memcached.Ring.FailuresTimeout }),
		timerOption("reconnect", func(s *Spec) *time.Duration { return &s.Memcached.Ring.Reconnect }),
		touchAfterOption,
	},
	refused: []refusal{
		{[]string{"secret"}, secretInURL},
		{[]string{"hashing"}, "the Go store encrypts as connect-memcached does by default (sha512): leave it out"},
		{[]string{"algorithm"}, "the Go store encrypts as connect-memcached does by default (aes-256-gcm), and picks servers as the npm client does by default (md5): leave it out"},
		{[]string{"hosts"}, "list the servers in the URL: memcached://host1:port,host2:port"},
		{[]string{"client"}, "connect-memcached's client is the URL itself"},
		{memcachedClientOptions, "an npm memcached client option the Go store does not implement: it works as the client's defaults (md5 ketama hashring, keys over 250 characters hashed, connection retries backed off 1 s, 3 s, 9 s, ... up to 60 s, no failover servers)"},
	},
}

var fileOptions = kindOptions{
	pkg: "session-file-store",
	options: []storeOption{
		ttlOption(func(s *Spec) *time.Duration { return &s.File.TTL }),
		{name: "fileExtension", set: func(s *Spec, key, v string) error {
			if v == "" || len(v) > 32 || strings.ContainsAny(v, "/\\\x00") {
				return badf("%s: want a non-empty suffix of at most 32 bytes without / or \\ (default .json)", key)
			}
			s.File.FileExtension = v
			return nil
		}},
		{name: "fileMode", set: func(s *Spec, key, v string) error {
			m, err := strconv.ParseUint(strings.TrimPrefix(v, "0o"), 8, 32)
			if err != nil || m > 0o777 || m&0o600 != 0o600 {
				return badf("%s=%q: want an octal mode such as 0640, with read and write for the owner", key, v)
			}
			s.File.FileMode = os.FileMode(m)
			return nil
		}},
		{name: "reapInterval", set: func(_ *Spec, key, v string) error {
			// -1 is what the Go store does: it never deletes expired files.
			if v != "-1" {
				return badf("%s: the Go store never deletes expired files; leave reaping to the Node app, or give %s=-1", key, key)
			}
			return nil
		}},
		touchAfterOption,
	},
	refused: []refusal{
		{[]string{"path"}, "the directory is the URL's path: file:///abs/dir or file:rel/dir"},
		{[]string{"secret", "crypto", "encryptEncoding", "keyFunction"}, "session-file-store's encrypted files (kruptein 2: scrypt, a JSON container) are not supported by the Go store"},
		{[]string{"encoding", "encoder", "decoder"}, "the Go store reads and writes JSON in UTF-8, session-file-store's default"},
		{[]string{"retries", "factor", "minTimeout", "maxTimeout"}, "the Go store does not retry reads: a missing file is not found at once"},
		{[]string{"reapMaxConcurrent", "reapAsync", "reapSyncFallback"}, "the Go store never deletes expired files; leave reaping to the Node app"},
		{[]string{"logFn", "fallbackSessionFn", "filePattern"}, "not supported by the Go store"},
	},
}
