package storeurl

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// DefaultSentinelPort is the port of a sentinel in a redis+sentinel:// URL
// that names none.
const DefaultSentinelPort = "26379"

// sentinelRefused are the go-redis failover options a redis+sentinel://
// URL refuses in its query, and why.
var sentinelRefused = []struct{ names, why string }{
	{"master_name", "the master's name is the URL's path: redis+sentinel://host:26379/<master name>"},
	{"addr", "list the sentinels as host1:26379,host2:26379"},
	{"db", "the database is the second segment of the path: /<master name>/<db>"},
	{"username,password", "the master's user name and password are the URL's userinfo; the sentinels' take sentinel_username= and sentinel_password="},
	{"replica_only,use_disconnected_replicas,route_by_latency,route_randomly", "sessions are read from the master: a replica may not have a session written a moment ago, and reading it there would log the user out"},
}

// parseSentinel parses a redis+sentinel:// or rediss+sentinel:// URL (see
// the package documentation, "Redis Sentinel").
func parseSentinel(rawURL string) (*Spec, error) {
	p, s, q, err := parseRedisCommon(rawURL, DefaultSentinelPort)
	if err != nil {
		return nil, err
	}
	s.Sentinel = true
	if s.MasterName, s.RedisDB, err = sentinelPath(p.path); err != nil {
		return nil, err
	}
	for _, r := range sentinelRefused {
		for _, n := range strings.Split(r.names, ",") {
			if _, ok := q.v[n]; ok {
				return nil, badf("%s is not taken in a redis+sentinel:// URL: %s", n, r.why)
			}
		}
	}
	_, sentinelUser, _, err := q.lookup("sentinel_username", false)
	if err != nil {
		return nil, err
	}
	_, sentinelPass, _, err := q.lookup("sentinel_password", false)
	if err != nil {
		return nil, err
	}
	// The driver parses the query's own options: the URL it gets holds no
	// credentials (they are set below), so none of its messages can quote
	// them.
	driver := parts{scheme: strings.TrimSuffix(p.scheme, "+sentinel")}
	o, err := viaDriver("go-redis",
		join(driver, "", s.Addrs[:1], "", q.encode()),
		join(driver, "", s.Addrs[:1], "", q.masked()),
		redis.ParseFailoverURL)
	if err != nil {
		return nil, err
	}
	o.MasterName = s.MasterName
	o.SentinelAddrs = slices.Clone(s.Addrs)
	o.DB = s.RedisDB
	o.SentinelUsername, o.SentinelPassword = sentinelUser, sentinelPass
	if p.hasUser {
		o.Username, _ = url.PathUnescape(p.user)
		o.Password, _ = url.PathUnescape(p.pass)
	}
	if o.TLSConfig != nil {
		// Each connection, to a sentinel or to the master, verifies the
		// host it dials (go-redis would check every one against the first
		// sentinel's name).
		o.TLSConfig.ServerName = ""
	}
	o.ContextTimeoutEnabled = true // honour the caller's deadlines (see stores/redis)
	s.conn.failoverOpts = o
	return s, nil
}

// sentinelPath parses the path of a redis+sentinel:// URL: /<master
// name>[/<db>], the name percent-decoded, and one trailing '/' allowed.
func sentinelPath(path string) (name string, db int, err error) {
	const want = "a redis+sentinel:// URL's path is /<master name> or /<master name>/<db>"
	path = strings.TrimPrefix(path, "/")
	path = strings.TrimSuffix(path, "/")
	segs := strings.Split(path, "/")
	if path == "" || len(segs) > 2 {
		return "", 0, badf("path: %s", want)
	}
	name, err = url.PathUnescape(segs[0])
	if err != nil || name == "" {
		return "", 0, badf("path: the master name is empty or has a %%-escape that is not %%XX; %s", want)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c == 0x7f {
			return "", 0, badf("path: the master name holds a space or a control character")
		}
	}
	if len(segs) == 2 {
		if db, err = strconv.Atoi(segs[1]); err != nil || db < 0 {
			return "", 0, badf("path: the database (after the master name) must be a number from 0")
		}
	}
	return name, db, nil
}
