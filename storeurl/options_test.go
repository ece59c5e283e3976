package storeurl_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	filestore "github.com/sessionbridge/sessionbridge/stores/file"
	memcachedstore "github.com/sessionbridge/sessionbridge/stores/memcached"
	mongostore "github.com/sessionbridge/sessionbridge/stores/mongo"
	pgstore "github.com/sessionbridge/sessionbridge/stores/postgres"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
	"github.com/sessionbridge/sessionbridge/storeurl"
)

func mustParse(t *testing.T, u string) *storeurl.Spec {
	t.Helper()
	s, err := storeurl.Parse(u)
	if err != nil {
		t.Fatalf("Parse(%s): %v", u, err)
	}
	return s
}

// mustRefuse checks that Parse refuses u with an ErrBadURL whose message
// says msg and, when secret is not empty, does not show secret.
func mustRefuse(t *testing.T, u, msg, secret string) {
	t.Helper()
	s, err := storeurl.Parse(u)
	if err == nil {
		t.Errorf("%s: accepted: %v", u, s)
		return
	}
	if !errors.Is(err, storeurl.ErrBadURL) || !strings.Contains(err.Error(), msg) {
		t.Errorf("%s:\n got %v\nwant ErrBadURL saying %q", u, err, msg)
	}
	if secret != "" && strings.Contains(err.Error(), secret) {
		t.Errorf("%s: the message shows the secret: %v", u, err)
	}
}

// TestStoreOptions: each option, by its connect-* name, reaches the Spec
// and the store's Options with the value given.
func TestStoreOptions(t *testing.T) {
	type spec = *storeurl.Spec
	redisPrefix := func(s spec) any { return [2]any{s.Redis.Prefix, s.Redis.NoPrefix} }
	redisTTL := func(s spec) any { return s.Redis.TTL }
	touchAfter := func(s spec) any { return s.TouchAfter }
	table := func(s spec) any { return s.Postgres.TableName }
	schema := func(s spec) any { return s.Postgres.SchemaName }
	coll := func(s spec) any { return s.Mongo.Collection }
	mcPrefix := func(s spec) any { return s.Memcached.Prefix }
	ttlIndex := func(s spec) any { return storeurl.MongoCreatesTTLIndex(s) }
	mcTimeout := func(s spec) any { return storeurl.MemcachedTimeout(s) }
	mcRing := func(s spec) any { return s.Memcached.Ring }
	for _, tc := range []struct {
		url  string
		got  func(spec) any
		want any
	}{
		// connect-redis
		{"redis://h?prefix=app:", redisPrefix, [2]any{"app:", false}},
		{"redis://h?prefix=", redisPrefix, [2]any{"", true}},
		{"redis://h", redisPrefix, [2]any{"sess:", false}},
		{"redis://h?ttl=60", redisTTL, time.Minute},
		{"redis://h?ttl=2h", redisTTL, 2 * time.Hour},
		{"redis://h?disableTTL=true", func(s spec) any { return s.Redis.DisableTTL }, true},
		{"redis://h?disableTTL=false", func(s spec) any { return s.Redis.DisableTTL }, false},
		{"redis://h?disableTTL=1", func(s spec) any { return s.Redis.DisableTTL }, true},
		{"redis://h?disableTouch=true", func(s spec) any { return s.Redis.DisableTouch }, true},
		{"redis://h?scanCount=500", func(s spec) any { return s.Redis.ScanCount }, 500},
		{"redis://h?touchAfter=300", touchAfter, 5 * time.Minute},
		{"redis://h?touchAfter=0", touchAfter, time.Duration(0)},
		{"redis://h", touchAfter, time.Duration(0)},
		{"redis://a:1,b:2?disableTouch=true&scanCount=7", func(s spec) any { return [3]any{s.Cluster, s.Redis.DisableTouch, s.Redis.ScanCount} }, [3]any{true, true, 7}},
		// connect-pg-simple
		{"postgres://u@h/db?tableName=t", table, "t"},
		{"postgres://u@h/db?table=t", table, "t"},
		{"postgres://u@h/db", table, "session"},
		{"postgres://u@h/db?schemaName=s", schema, "s"},
		{"postgres://u@h/db?schema=s", schema, "s"},
		{"postgres://u@h/db?ttl=3600", func(s spec) any { return s.Postgres.TTL }, time.Hour},
		{"postgres://u@h/db?disableTouch=true", func(s spec) any { return s.Postgres.DisableTouch }, true},
		{"postgres://u@h/db?createTableIfMissing=true", func(s spec) any { return s.Postgres.CreateTableIfMissing }, true},
		{"postgres://u@h/db?pruneSessionInterval=false", func(s spec) any { return s.Postgres }, pgstore.Options{TableName: "session"}},
		{"postgres://u@h/db?touchAfter=1m", touchAfter, time.Minute},
		// connect-mongo
		{"mongodb://h/app?collectionName=c", coll, "c"},
		{"mongodb://h/app?collection=c", coll, "c"},
		{"mongodb://h/app?Collection=c", coll, "c"},
		{"mongodb://h/app?collectionname=c", coll, "c"},
		{"mongodb://h/app", coll, "sessions"},
		{"mongodb://h/app?dbName=other", func(s spec) any { return s.MongoDatabase }, "other"},
		{"mongodb://h?dbName=other", func(s spec) any { return s.MongoDatabase }, "other"},
		{"mongodb://h/app?stringify=false", func(s spec) any { return s.Mongo.Subdocument }, true},
		{"mongodb://h/app?stringify=true", func(s spec) any { return s.Mongo.Subdocument }, false},
		{"mongodb://h/app?ttl=60", func(s spec) any { return s.Mongo.TTL }, time.Minute},
		{"mongodb://h/app?touchAfter=3600", func(s spec) any { return [2]time.Duration{s.Mongo.TouchAfter, s.TouchAfter} }, [2]time.Duration{time.Hour, time.Hour}},
		{"mongodb://h/app?timestamps=true", func(s spec) any { return s.Mongo.Timestamps }, true},
		{"mongodb://h/app?autoRemove=native", ttlIndex, true},
		{"mongodb://h/app?autoRemove=disabled", ttlIndex, false},
		{"mongodb://h/app", ttlIndex, false},
		// connect-memcached and the npm memcached client
		{"memcached://h?prefix=p:", mcPrefix, "p:"},
		{"memcached://h?namespace=ns:", mcPrefix, "ns:"},
		{"memcached://h?namespace=ns:&prefix=p:", mcPrefix, "ns:p:"},
		{"memcached://h?prefix=p:&namespace=ns:", mcPrefix, "ns:p:"},
		{"memcached://h?ttl=600", func(s spec) any { return s.Memcached.TTL }, 10 * time.Minute},
		{"memcached://h?timeout=2000", mcTimeout, 2 * time.Second},
		{"memcached://h?timeout=250ms", mcTimeout, 250 * time.Millisecond},
		{"memcached://h", mcTimeout, time.Duration(0)},
		{"memcached://h?timeout=2000", mcRing, memcachedstore.RingOptions{Timeout: 2 * time.Second}},
		// The npm memcached client's failure rules: its names, its units
		// (milliseconds) or Go durations, and 0 as the client takes it
		// (none), which RingOptions spells -1.
		{"memcached://a,b,c?retries=0&failures=2&retry=500&remove=true&failuresTimeout=60000&reconnect=1m",
			mcRing, memcachedstore.RingOptions{Retries: -1, Failures: 2, Retry: 500 * time.Millisecond, Remove: true, FailuresTimeout: time.Minute, Reconnect: time.Minute}},
		{"memcached://h?retries=3&failures=0&retry=0&remove=false&reconnect=18000000",
			mcRing, memcachedstore.RingOptions{Retries: 3, Failures: -1, Retry: -1, Reconnect: 5 * time.Hour}},
		{"memcached://h", mcRing, memcachedstore.RingOptions{}},
		{"memcached://h?touchAfter=30", touchAfter, 30 * time.Second},
		// session-file-store
		{"file:d?ttl=7200", func(s spec) any { return s.File.TTL }, 2 * time.Hour},
		{"file:d?fileExtension=.sess", func(s spec) any { return s.File.FileExtension }, ".sess"},
		{"file:d?fileMode=0640", func(s spec) any { return s.File.FileMode }, os.FileMode(0o640)},
		{"file:d?fileMode=660", func(s spec) any { return s.File.FileMode }, os.FileMode(0o660)},
		{"file:d?fileMode=0o600", func(s spec) any { return s.File.FileMode }, os.FileMode(0o600)},
		{"file:d?reapInterval=-1", func(s spec) any { return s.File }, filestore.Options{Dir: "d"}},
		{"file:d?touchAfter=1m", touchAfter, time.Minute},
	} {
		t.Run(tc.url, func(t *testing.T) {
			if got := tc.got(mustParse(t, tc.url)); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

// TestAllStoreOptions: a URL with every option of its store gives exactly
// the Options passed to the store's New.
func TestAllStoreOptions(t *testing.T) {
	for _, tc := range []struct {
		url        string
		got        func(*storeurl.Spec) any
		want       any
		touchAfter time.Duration
	}{
		{
			"redis://h/1?prefix=p:&ttl=60&disableTTL=true&disableTouch=true&scanCount=9&touchAfter=10",
			func(s *storeurl.Spec) any { return s.Redis },
			redisstore.Options{Prefix: "p:", TTL: time.Minute, DisableTTL: true, DisableTouch: true, ScanCount: 9},
			10 * time.Second,
		},
		{
			"postgres://u@h/db?tableName=t&schemaName=s&ttl=60&disableTouch=true&createTableIfMissing=true&pruneSessionInterval=false&touchAfter=10&sslmode=disable",
			func(s *storeurl.Spec) any { return s.Postgres },
			pgstore.Options{TableName: "t", SchemaName: "s", TTL: time.Minute, DisableTouch: true, CreateTableIfMissing: true},
			10 * time.Second,
		},
		{
			"mongodb://h/app?collectionName=c&dbName=d&stringify=false&ttl=60&touchAfter=10&timestamps=true&autoRemove=disabled&authSource=admin",
			func(s *storeurl.Spec) any { return [2]any{s.Mongo, s.MongoDatabase} },
			[2]any{mongostore.Options{Collection: "c", Subdocument: true, TTL: time.Minute, TouchAfter: 10 * time.Second, Timestamps: true}, "d"},
			10 * time.Second,
		},
		{
			"memcached://h?prefix=p:&namespace=n:&ttl=60&timeout=100&touchAfter=10",
			func(s *storeurl.Spec) any { return [2]any{s.Memcached, storeurl.MemcachedTimeout(s)} },
			[2]any{memcachedstore.Options{Prefix: "n:p:", TTL: time.Minute, Ring: memcachedstore.RingOptions{Timeout: 100 * time.Millisecond}}, 100 * time.Millisecond},
			10 * time.Second,
		},
		{
			"file:///d?ttl=60&fileExtension=.s&fileMode=0640&reapInterval=-1&touchAfter=10",
			func(s *storeurl.Spec) any { return s.File },
			filestore.Options{Dir: "/d", TTL: time.Minute, FileExtension: ".s", FileMode: 0o640},
			10 * time.Second,
		},
	} {
		s := mustParse(t, tc.url)
		if got := tc.got(s); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.url, got, tc.want)
		}
		if s.TouchAfter != tc.touchAfter {
			t.Errorf("%s: TouchAfter %v, want %v", tc.url, s.TouchAfter, tc.touchAfter)
		}
	}
}

// TestOptionAliases: the short names give what the connect-* names give,
// and giving both is ambiguous, even with the same value.
func TestOptionAliases(t *testing.T) {
	for alias, name := range map[string]string{
		"postgres://u@h/db?table=x":    "postgres://u@h/db?tableName=x",
		"postgres://u@h/db?schema=x":   "postgres://u@h/db?schemaName=x",
		"mongodb://h/db?collection=x":  "mongodb://h/db?collectionName=x",
		"mongodb://h/db?COLLECTION=x":  "mongodb://h/db?collectionName=x",
		"mongodb://h/db?Collection=x&": "mongodb://h/db?CollectionName=x",
	} {
		a, n := mustParse(t, alias), mustParse(t, name)
		if !reflect.DeepEqual(a.Postgres, n.Postgres) || !reflect.DeepEqual(a.Mongo, n.Mongo) {
			t.Errorf("%s gives %+v %+v, %s gives %+v %+v", alias, a.Postgres, a.Mongo, name, n.Postgres, n.Mongo)
		}
	}
	for _, u := range []string{
		"postgres://u@h/db?table=a&tableName=b",
		"postgres://u@h/db?tableName=a&table=a",
		"postgres://u@h/db?schema=a&schemaName=b",
		"mongodb://h/db?collection=a&collectionName=b",
		"mongodb://h/db?Collection=a&collectionname=a",
	} {
		_, err := storeurl.Parse(u)
		if !errors.Is(err, storeurl.ErrBadURL) || !strings.Contains(err.Error(), "are the same option") {
			t.Errorf("%s: %v, want an ambiguity error", u, err)
		}
	}
	// One store option given twice is ambiguous too; a driver option may
	// repeat (the driver decides).
	for _, u := range []string{
		"redis://h?ttl=1&ttl=2",
		"redis://h?prefix=a:&prefix=a:",
		"postgres://u@h/db?tableName=a&tableName=b",
		"postgres://u@h/db?table=a&table=b",
		"mongodb://h/db?collection=a&collection=b",
		"mongodb://h/db?TTL=1&TTL=1",
		"memcached://h?timeout=1&timeout=2",
		"file:d?touchAfter=1&touchAfter=2",
	} {
		if _, err := storeurl.Parse(u); !errors.Is(err, storeurl.ErrBadURL) || !strings.Contains(err.Error(), "is given 2 times") {
			t.Errorf("%s: %v, want a repetition error", u, err)
		}
	}
	if _, err := storeurl.Parse("redis://h?ttl=60&dial_timeout=1s&dial_timeout=2s"); err != nil {
		t.Errorf("a repeated driver option: %v", err)
	}
	// Two spellings of one MongoDB option are ambiguous too.
	for _, u := range []string{"mongodb://h/db?touchAfter=1&TOUCHAFTER=2", "mongodb://h/db?dbName=a&dbname=b"} {
		if _, err := storeurl.Parse(u); !errors.Is(err, storeurl.ErrBadURL) || !strings.Contains(err.Error(), "two spellings") {
			t.Errorf("%s: %v", u, err)
		}
	}
}

// TestOptionCase: option names are case-sensitive outside MongoDB URLs; a
// store option in another case is refused with its spelling, never handed
// to the driver (pgx would send it to the server as a run-time parameter).
func TestOptionCase(t *testing.T) {
	for u, want := range map[string]string{
		"redis://h?disablettl=true":                "write disableTTL",
		"redis://h?DisableTouch=true":              "write disableTouch",
		"redis://h?TTL=60":                         "write ttl",
		"redis://h?scancount=5":                    "write scanCount",
		"redis://a:1,b:2?Prefix=x":                 "write prefix",
		"postgres://u@h/db?tablename=t":            "write tableName",
		"postgres://u@h/db?TABLE=t":                "write tableName",
		"postgres://u@h/db?createtableifmissing=1": "write createTableIfMissing",
		"postgres://u@h/db?touchafter=5":           "write touchAfter",
		"memcached://h?Namespace=n":                "write namespace",
		"memcached://h?TIMEOUT=5":                  "write timeout",
		"file:d?fileextension=.x":                  "write fileExtension",
		"file:d?FileMode=0600":                     "write fileMode",
	} {
		_, err := storeurl.Parse(u)
		if !errors.Is(err, storeurl.ErrBadURL) || !strings.Contains(err.Error(), "case-sensitive") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", u, err, want)
		}
	}
	// MongoDB option names are case-insensitive, the store's included.
	s := mustParse(t, "mongodb://h/db?COLLECTIONNAME=c&TouchAfter=60&Stringify=false&dbname=x")
	if s.Mongo.Collection != "c" || s.Mongo.TouchAfter != time.Minute || !s.Mongo.Subdocument || s.MongoDatabase != "x" {
		t.Errorf("mongo options in other cases: %+v %q", s.Mongo, s.MongoDatabase)
	}
}

// TestOptionBadValues: a bad value is an ErrBadURL that names the option
// and shows no credential.
func TestOptionBadValues(t *testing.T) {
	const pw = "hunter2secret"
	for _, tc := range []struct{ url, msg string }{
		{"redis://u:" + pw + "@h?ttl=0", "ttl=0"},
		{"redis://u:" + pw + "@h?ttl=-5", "ttl=-5"},
		{"redis://u:" + pw + "@h?ttl=abc", "ttl="},
		{"redis://u:" + pw + "@h?ttl=500ms", "ttl="},
		{"redis://u:" + pw + "@h?ttl=99999999999", "ttl="},
		{"redis://u:" + pw + "@h?disableTTL=yes", "disableTTL"},
		{"redis://u:" + pw + "@h?disableTouch=", "disableTouch"},
		{"redis://u:" + pw + "@h?scanCount=0", "scanCount"},
		{"redis://u:" + pw + "@h?scanCount=many", "scanCount"},
		{"redis://u:" + pw + "@h?touchAfter=-1", "touchAfter"},
		{"redis://u:" + pw + "@h?touchAfter=soon", "touchAfter"},
		{"redis://u:" + pw + "@a:1,b:2?touchAfter=-1s", "touchAfter"},
		{"postgres://u:" + pw + "@h/db?tableName=", "tableName= is empty"},
		{"postgres://u:" + pw + "@h/db?schemaName=", "schemaName= is empty"},
		{"postgres://u:" + pw + "@h/db?schema=", "schema= is empty"},
		{"postgres://u:" + pw + "@h/db?createTableIfMissing=maybe", "createTableIfMissing"},
		{"postgres://u:" + pw + "@h/db?disableTouch=2", "disableTouch"},
		{"postgres://u:" + pw + "@h/db?ttl=0", "ttl"},
		{"postgres://u:" + pw + "@h/db?pruneSessionInterval=60", "does not prune on a timer"},
		{"postgres://u:" + pw + "@h/db?pruneSessionInterval=true", "does not prune on a timer"},
		{"mongodb://u:" + pw + "@h/db?collectionName=", "collectionName= is empty"},
		{"mongodb://u:" + pw + "@h/db?dbName=", "dbName= is empty"},
		{"mongodb://u:" + pw + "@h/db?stringify=maybe", "stringify"},
		{"mongodb://u:" + pw + "@h/db?timestamps=x", "timestamps"},
		{"mongodb://u:" + pw + "@h/db?touchAfter=-5", "touchAfter"},
		{"mongodb://u:" + pw + "@h/db?autoRemove=interval", "on a timer"},
		{"mongodb://u:" + pw + "@h/db?autoRemove=Native", "want native or disabled"},
		{"mongodb://u:" + pw + "@h/db?autoRemove=", "want native or disabled"},
		{"memcached://h?timeout=0", "timeout"},
		{"memcached://h?timeout=x", "timeout"},
		{"memcached://h?timeout=-5ms", "timeout"},
		{"memcached://h?timeout=99999999999", "timeout"},
		{"memcached://h?ttl=1.5", "ttl"},
		{"memcached://h?retries=-1", "retries"},
		{"memcached://h?retries=1001", "retries"},
		{"memcached://h?failures=x", "failures"},
		{"memcached://h?retry=-5", "retry"},
		{"memcached://h?retry=2147483648", "retry"},
		{"memcached://h?reconnect=1y", "reconnect"},
		{"memcached://h?failuresTimeout=-1s", "failuresTimeout"},
		{"memcached://h?remove=yes", "remove"},
		{"file:d?fileExtension=", "fileExtension"},
		{"file:d?fileExtension=a/b", "fileExtension"},
		{"file:d?fileExtension=" + strings.Repeat("x", 33), "fileExtension"},
		{"file:d?fileMode=999", "fileMode"},
		{"file:d?fileMode=0400", "fileMode"},
		{"file:d?fileMode=01777", "fileMode"},
		{"file:d?reapInterval=3600", "never deletes expired files"},
		{"file:d?ttl=never", "ttl"},
	} {
		mustRefuse(t, tc.url, tc.msg, pw)
	}
}

// TestRefusedNodeOptions: options of the Node packages the Go stores do not
// implement are refused by name with the reason, never passed on or ignored,
// and a secret's value is never quoted.
func TestRefusedNodeOptions(t *testing.T) {
	base := map[storeurl.Kind]string{
		storeurl.Redis:     "redis://u:hunter2secret@h/0?",
		storeurl.Postgres:  "postgres://u:hunter2secret@h/db?",
		storeurl.Mongo:     "mongodb://u:hunter2secret@h/db?",
		storeurl.Memcached: "memcached://h?",
		storeurl.File:      "file:d?",
	}
	for kind, prefix := range base {
		names := storeurl.RefusedNames(kind)
		if len(names) == 0 {
			t.Errorf("%s refuses no Node option by name", kind)
		}
		for _, name := range names {
			u := prefix + name + "=hunter2secret"
			_, err := storeurl.Parse(u)
			if !errors.Is(err, storeurl.ErrBadURL) || !strings.Contains(err.Error(), name+": ") {
				t.Errorf("%s: %v, want ErrBadURL naming %s", u, err, name)
				continue
			}
			if strings.Contains(err.Error(), "hunter2secret") {
				t.Errorf("%s: the message quotes the value: %v", u, err)
			}
		}
	}
	for u, want := range map[string]string{
		"mongodb://h/db?crypto=x":                "Spec.SetSecret",
		"mongodb://h/db?Crypto=x":                "Spec.SetSecret",
		"mongodb://h/db?cryptoAdapter=x":         "custom adapter is not supported",
		"memcached://h?secret=x":                 "Spec.SetSecret",
		"memcached://h?hashing=sha256":           "leave it out",
		"file:d?secret=x":                        "session-file-store's encrypted files",
		"redis://h?serializer=x":                 "custom serializers are not supported",
		"memcached://h?poolSize=5":               "npm memcached client option",
		"memcached://h?failOverServers=x":        "no failover servers",
		"memcached://h?minTimeout=10":            "npm memcached client option",
		"mongodb://h/db?autoRemoveInterval=10":   "autoRemove=interval",
		"mongodb://h/db?writeOperationOptions=x": "w=",
	} {
		mustRefuse(t, u, want, "")
	}
}

// TestUnknownOptionsStillRefused: a parameter neither the store nor the
// driver knows is an error; the message lists the store's options.
func TestUnknownOptionsStillRefused(t *testing.T) {
	for u, want := range map[string]string{
		"redis://h?tableName=x":           "unexpected option: tableName",
		"redis://a:1,b:2?bogus=1":         "bogus",
		"mongodb://h/db?prefix=x":         "unknown option prefix (store options: collectionName, collection, dbName",
		"memcached://h?disableTTL=true":   "unknown option disableTTL (memcached options: prefix, namespace, ttl, timeout, retries, failures, retry, remove, failuresTimeout, reconnect, touchAfter)",
		"file:d?prefix=x":                 "unknown option prefix (file options: ttl, fileExtension, fileMode, reapInterval, touchAfter)",
		"file:d?mode=0600":                "unknown option mode",
		"memcached://h?a=1&b=2":           "unknown option a, b",
		"mongodb://h/db?zz=1&aa=2&ttl=60": "unknown option aa, zz",
	} {
		mustRefuse(t, u, want, "")
	}
}

// TestOptionNamesAreNodes checks every option name, alias aside, against
// the source of the npm package whose option it is (testdata/node), so that
// a name is spelt as Node spells it. fileMode is the Go file store's own
// option, and touchAfter, connect-mongo's, is taken by every store for the
// Bridge.
func TestOptionNamesAreNodes(t *testing.T) {
	mods := filepath.Join(nodetest.Root(t), "testdata", "node", "node_modules")
	if _, err := os.Stat(filepath.Join(mods, "connect-redis")); err != nil {
		nodetest.Unavailable(t, "testdata/node/node_modules", "make node-deps (npm ci in testdata/node)")
	}
	sources := map[storeurl.Kind][]string{
		storeurl.Redis:     {"connect-redis/index.ts"},
		storeurl.Postgres:  {"connect-pg-simple/index.js"},
		storeurl.Mongo:     {"connect-mongo/dist/index.d.cts"},
		storeurl.Memcached: {"connect-memcached/lib/connect-memcached.js", "memcached/lib/memcached.js"},
		storeurl.File:      {"session-file-store/lib/session-file-helpers.js", "session-file-store/lib/session-file-store.js"},
	}
	goOnly := map[string]bool{"fileMode": true, "touchAfter": true}
	for kind, files := range sources {
		var src strings.Builder
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(mods, f))
			if err != nil {
				t.Fatal(err)
			}
			src.Write(b)
		}
		names, _ := storeurl.OptionNames(kind)
		check := append(names, storeurl.RefusedNames(kind)...)
		for _, name := range check {
			if goOnly[name] && !(kind == storeurl.Mongo && name == "touchAfter") {
				continue
			}
			if !regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `\b`).MatchString(src.String()) {
				t.Errorf("%s: %s does not appear in %v", kind, name, files)
			}
		}
	}
}
