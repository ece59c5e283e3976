package storeurl

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/internal/faulttest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
	redisstore "github.com/sessionbridge/sessionbridge/stores/redis"
)

// TestParseSentinel: what a redis+sentinel:// URL gives the failover
// client and the store.
func TestParseSentinel(t *testing.T) {
	for _, tc := range []struct {
		url            string
		addrs          []string
		master         string
		db             int
		tls            bool
		user, pass     string
		sUser, sPass   string
		prefix         string
		dialTimeout    time.Duration
		poolSize       int
		skipVerifyWant bool
	}{
		{url: "redis+sentinel://127.0.0.1:26379/mymaster", addrs: []string{"127.0.0.1:26379"}, master: "mymaster", prefix: "sess:"},
		{url: "redis+sentinel://a,b:26380,[::1]/m/3", addrs: []string{"a:26379", "b:26380", "[::1]:26379"}, master: "m", db: 3, prefix: "sess:"},
		{url: "REDIS+SENTINEL://h/m/", addrs: []string{"h:26379"}, master: "m", prefix: "sess:"},
		{url: "redis+sentinel://:p%40ss@h/m", addrs: []string{"h:26379"}, master: "m", pass: "p@ss", prefix: "sess:"},
		{url: "redis+sentinel://app:pw@h/my%2Fmaster?sentinel_username=sen&sentinel_password=spw&prefix=app:&dial_timeout=3s&pool_size=7",
			addrs: []string{"h:26379"}, master: "my/master", user: "app", pass: "pw", sUser: "sen", sPass: "spw", prefix: "app:", dialTimeout: 3 * time.Second, poolSize: 7},
		{url: "rediss+sentinel://h1:26379,h2:26379/m?skip_verify=true", addrs: []string{"h1:26379", "h2:26379"}, master: "m", tls: true, prefix: "sess:", skipVerifyWant: true},
	} {
		s, err := Parse(tc.url)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		o := s.conn.failoverOpts
		switch {
		case s.Kind != Redis || !s.Sentinel || s.Cluster || s.Format != "connect-redis":
			t.Errorf("%s: kind %s, sentinel %v, cluster %v, format %s", tc.url, s.Kind, s.Sentinel, s.Cluster, s.Format)
		case !slices.Equal(s.Addrs, tc.addrs) || !slices.Equal(o.SentinelAddrs, tc.addrs):
			t.Errorf("%s: sentinels %v / %v, want %v", tc.url, s.Addrs, o.SentinelAddrs, tc.addrs)
		case s.MasterName != tc.master || o.MasterName != tc.master:
			t.Errorf("%s: master %q / %q, want %q", tc.url, s.MasterName, o.MasterName, tc.master)
		case s.RedisDB != tc.db || o.DB != tc.db:
			t.Errorf("%s: db %d / %d, want %d", tc.url, s.RedisDB, o.DB, tc.db)
		case o.Username != tc.user || o.Password != tc.pass:
			t.Errorf("%s: the master's credentials are not the userinfo's", tc.url)
		case o.SentinelUsername != tc.sUser || o.SentinelPassword != tc.sPass:
			t.Errorf("%s: the sentinels' credentials are not the sentinel_ options'", tc.url)
		case s.Redis.Prefix != tc.prefix:
			t.Errorf("%s: prefix %q, want %q", tc.url, s.Redis.Prefix, tc.prefix)
		case !o.ContextTimeoutEnabled:
			t.Errorf("%s: ContextTimeoutEnabled is off", tc.url)
		case o.DialTimeout != tc.dialTimeout || o.PoolSize != tc.poolSize:
			t.Errorf("%s: dial_timeout %v, pool_size %d", tc.url, o.DialTimeout, o.PoolSize)
		case s.TLS != tc.tls || (o.TLSConfig != nil) != tc.tls:
			t.Errorf("%s: TLS %v, config %v", tc.url, s.TLS, o.TLSConfig != nil)
		case tc.tls && (o.TLSConfig.ServerName != "" || o.TLSConfig.InsecureSkipVerify != tc.skipVerifyWant):
			t.Errorf("%s: TLS server name %q (want none: each dial verifies its host), skip verify %v", tc.url, o.TLSConfig.ServerName, o.TLSConfig.InsecureSkipVerify)
		}
		if strings.Contains(s.String(), "pw") || strings.Contains(s.String(), "spw") {
			t.Errorf("%s: String shows a password: %s", tc.url, s)
		}
	}
}

// TestParseSentinelBad: what a redis+sentinel:// URL refuses, with
// ErrBadURL, a message that says why, and never a password.
func TestParseSentinelBad(t *testing.T) {
	const pw = "Pw9secret"
	for _, tc := range []struct{ url, msg string }{
		{"redis+sentinel://h", "path"},
		{"redis+sentinel://h/", "path"},
		{"redis+sentinel://h//0", "master name is empty"},
		{"redis+sentinel://h/m/0/1", "path"},
		{"redis+sentinel://h/m/x", "database"},
		{"redis+sentinel://h/m/-1", "database"},
		{"redis+sentinel://h/m%zz", "%-escape"},
		{"redis+sentinel://h/m%00x", "control character"},
		{"redis+sentinel://h/m%20x", "space"},
		{"redis+sentinel://h/m?master_name=x", "master_name"},
		{"redis+sentinel://h/m?addr=h2:26379", "addr"},
		{"redis+sentinel://h/m?db=1", "db"},
		{"redis+sentinel://h/m?password=" + pw, "userinfo"},
		{"redis+sentinel://h/m?username=u", "userinfo"},
		{"redis+sentinel://h/m?replica_only=true", "replica"},
		{"redis+sentinel://h/m?route_randomly=true", "replica"},
		{"redis+sentinel://h/m?route_by_latency=true", "replica"},
		{"redis+sentinel://h/m?use_disconnected_replicas=true", "replica"},
		{"redis+sentinel://h/m?no_such_option=1", "no_such_option"},
		{"redis+sentinel://h/m?dial_timeout=soon", "dial_timeout"},
		{"redis+sentinel://h/m?sentinel_password=a&sentinel_password=" + pw, "given 2 times"},
		{"redis+sentinel://h/m?disableTTL=maybe", "disableTTL"},
		{"redis+sentinel://h/m?format=connect-pg-simple", "format"},
		{"redis+sentinel://u:" + pw + "@h:0/m", "port"},
		{"redis+sentinel://u:" + pw + "@h:x/m", "port"},
		{"redis+sentinel://u:" + pw + "@/m", "host"},
		{"redis+sentinel://u:" + pw + "@h,/m", "empty host"},
		{"redis+sentinel://u:" + pw + "/x@h/m", `"@" after the host list`},
		{"redis+sentinel://u:" + pw + " x@h/m", "percent-encoded"},
		{"redis+sentinel:h/m", "start with redis+sentinel://"},
		{"redis+sentinel://h//", "path"},
		{"redis+sentinel://h/?prefix=p:", "path"},
		{"redis+sentinel://h,h:26379/m", "host 2 of 2 is host 1 again"},
		{"redis+sentinel://u:" + pw + "@h1,h2,[::1]:26379,h2/m", "host 4 of 4 is host 2 again"},
		// The master's password twice, in the userinfo and in the query.
		{"redis+sentinel://u:" + pw + "@h/m?password=" + pw + "x", "userinfo"},
		{"redis+sentinel://:" + pw + "@h/m?Password=" + pw, "Password"},
		// sentinel_password's value is never quoted, whatever else fails.
		{"redis+sentinel://h/m?sentinel_password=" + pw + "&dial_timeout=soon", "dial_timeout"},
		{"redis+sentinel://h/m?Sentinel_Password=" + pw, "Sentinel_Password"},
		{"redis+sentinel://h/m?sentinel_password=" + pw + "&format=connect-pg-simple", "format"},
		{"redis://h?sentinel_password=" + pw, "sentinel_password"},
		{"redis://u:" + pw + "@h1,h2?sentinel_password=" + pw, "sentinel_password"},
	} {
		s, err := Parse(tc.url)
		if err == nil {
			t.Errorf("%s: accepted (%s)", tc.url, s)
			continue
		}
		if !errors.Is(err, ErrBadURL) {
			t.Errorf("%s: %v does not wrap ErrBadURL", tc.url, err)
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v does not say %q", tc.url, err, tc.msg)
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("%s: the error shows the password: %v", tc.url, err)
		}
	}
}

// TestRedisHostsOnce: a redis:// host list (a Cluster's nodes) refuses a
// server listed twice, as a redis+sentinel:// one does, however its port
// is written; the same host on two ports is two servers.
func TestRedisHostsOnce(t *testing.T) {
	for _, u := range []string{"redis://h,h", "redis://h:6379,h", "rediss://[::1],[::1]:6379", "redis://a:7001,b:7001,a:7001"} {
		if s, err := Parse(u); err == nil || !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), "again") {
			t.Errorf("%s: %v, %v; want ErrBadURL naming the host given again", u, s, err)
		}
	}
	for _, u := range []string{"redis://h:7001,h:7002", "redis+sentinel://h:26379,h:26380/m"} {
		if s, err := Parse(u); err != nil || len(s.Addrs) != 2 {
			t.Errorf("%s: %v, %v; want two servers", u, s, err)
		}
	}
}

// TestSentinelLongHostList parses redis+sentinel:// URLs of up to
// MaxURLLength bytes listing distinct sentinels: every one is kept, in
// order; the same list with its first sentinel repeated at the end is
// refused; and the work (allocations counted, not timed) of a list twice
// as long is about twice as much.
func TestSentinelLongHostList(t *testing.T) {
	build := func(size int, repeatFirst bool) (string, int) {
		var b strings.Builder
		b.WriteString("redis+sentinel://app:Pw9long@")
		n := 0
		for {
			h := fmt.Sprintf("s%d.example:%d", n, 26379+n%1000)
			if b.Len()+len(h)+1+len("/m?sentinel_password=Pw9sentinel")+len(",s0.example:26379") > size {
				break
			}
			if n > 0 {
				b.WriteByte(',')
			}
			b.WriteString(h)
			n++
		}
		if repeatFirst {
			b.WriteString(",s0.example:26379")
			n++
		}
		b.WriteString("/m?sentinel_password=Pw9sentinel")
		return b.String(), n
	}
	u, n := build(MaxURLLength, false)
	if len(u) < MaxURLLength-32 || n < 500 {
		t.Fatalf("the URL is %d bytes with %d sentinels", len(u), n)
	}
	s, err := Parse(u)
	if err != nil {
		t.Fatalf("%d bytes, %d sentinels: %v", len(u), n, err)
	}
	if len(s.Addrs) != n || s.Addrs[n-1] != fmt.Sprintf("s%d.example:%d", n-1, 26379+(n-1)%1000) || !slices.Equal(s.conn.failoverOpts.SentinelAddrs, s.Addrs) {
		t.Errorf("%d sentinels kept of %d", len(s.Addrs), n)
	}
	if strings.Contains(s.String(), "Pw9") {
		t.Errorf("String() shows a password")
	}
	dup, nd := build(MaxURLLength, true)
	if _, err := Parse(dup); !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), fmt.Sprintf("host %d of %d is host 1 again", nd, nd)) || strings.Contains(err.Error(), "Pw9") {
		t.Errorf("%d bytes, the first of %d sentinels again at the end: %v", len(dup), nd, err)
	}

	half, _ := build(MaxURLLength/2, false)
	allocs := func(u string) float64 {
		return testing.AllocsPerRun(3, func() {
			if _, err := Parse(u); err != nil {
				t.Fatal(err)
			}
		})
	}
	a, b := allocs(half), allocs(u)
	if b > 2.5*a {
		t.Errorf("%.0f allocations for %d bytes, %.0f for %d: not linear", a, len(half), b, len(u))
	}
	t.Logf("%d sentinels: %.0f allocations; half as many: %.0f", n, b, a)
}

// TestSentinelRedacted: neither String nor any printing of the Spec shows
// the master's or the sentinels' password.
func TestSentinelRedacted(t *testing.T) {
	s, err := Parse("redis+sentinel://app:Pw9master@h/m?sentinel_password=Pw9sentinel&prefix=p:")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.String(), "redis+sentinel://xxxxx@h/m?sentinel_password=xxxxx&prefix=p:"; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	for _, out := range []string{s.String(), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", *s), fmt.Sprint(*s)} {
		if strings.Contains(out, "Pw9") {
			t.Errorf("printing the Spec shows a password: %s", out)
		}
	}
}

// FuzzParseSentinel builds redis+sentinel://user:before CANARY after@tail,
// and the same URL with the canary as the sentinels' password, and checks
// that Parse never panics, that its errors wrap ErrBadURL, and that neither
// an error nor the Spec's String shows the canary.
func FuzzParseSentinel(f *testing.F) {
	for _, tail := range []string{"h/m", "h:26379,h2/m/1", "h/m?prefix=p:&dial_timeout=1s", "h/m%2Fx/", "h/m?sentinel_username=u", "h", "[::1]/m"} {
		for _, sep := range []string{"", "/", "?", "#", "@", "%zz", "%", ":", " ", "é", "\x00", "%2F", "%40", "&", "="} {
			f.Add("u", "p"+sep, sep+"q", tail)
		}
	}
	f.Fuzz(func(t *testing.T, user, before, after, tail string) {
		builds := []func(secret string) string{
			func(secret string) string {
				return "redis+sentinel://" + user + ":" + before + secret + after + "@" + tail
			},
		}
		if !strings.ContainsAny(tail, "?#") {
			// The canary stays inside the option's value.
			builds = append(builds, func(secret string) string {
				return "redis+sentinel://" + user + "@" + tail + "?sentinel_password=" + url.QueryEscape(before) + secret + url.QueryEscape(after)
			})
		}
		for _, build := range builds {
			u := build(fuzzCanarySentinel)
			if strings.Count(u, fuzzCanarySentinel) != 1 {
				continue
			}
			// The same URL with another password must not show the canary
			// either, or it comes from the other pieces (decoded, say).
			if s, err := Parse(build("xxxx")); err != nil && strings.Contains(err.Error(), fuzzCanarySentinel) ||
				err == nil && strings.Contains(s.String(), fuzzCanarySentinel) {
				continue
			}
			s, err := Parse(u)
			if err != nil {
				if !errors.Is(err, ErrBadURL) {
					t.Fatalf("%q: error %v does not wrap ErrBadURL", u, err)
				}
				if strings.Contains(err.Error(), fuzzCanarySentinel) {
					t.Fatalf("%q: the error shows the password: %v", u, err)
				}
				continue
			}
			for _, out := range []string{s.String(), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", *s)} {
				if strings.Contains(out, fuzzCanarySentinel) {
					t.Fatalf("%q: printing the Spec shows the password: %s", u, out)
				}
			}
		}
	})
}

const fuzzCanarySentinel = "Zk7CANARY"

// TestOpenSentinel opens a store from a redis+sentinel:// URL on a private
// Sentinel setup: it reads and writes through the master, serves again
// after the master is killed and a replica promoted (the same store and
// client), and a wrong master name is ErrUnavailable without the password.
func TestOpenSentinel(t *testing.T) {
	setup := faulttest.StartSentinel(t)
	logging.Disable() // go-redis logs every failed sentinel query and dial
	t.Cleanup(logging.Enable)
	hosts := strings.Join(setup.SentinelAddrs(), ",")
	ctx := context.Background()

	_, _, err := Open(ctx, "redis+sentinel://u:Pw9open@"+hosts+"/nosuchmaster?dial_timeout=1s")
	if !errors.Is(err, ErrUnavailable) || strings.Contains(err.Error(), "Pw9open") {
		t.Errorf("wrong master name: %v, want ErrUnavailable without the password", err)
	}

	store, closer, err := Open(ctx, "redis+sentinel://"+hosts+"/"+faulttest.MasterName+"/2?prefix=sbsentinel:")
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	if _, ok := closer.(*redis.Client); !ok {
		t.Fatalf("the closer is a %T, want the failover client (*redis.Client)", closer)
	}
	sess := sessionjson.New(sessionjson.NewCookie(time.Now(), time.Hour))
	if err := store.Set(ctx, "before", sess); err != nil {
		t.Fatal(err)
	}
	direct := redis.NewClient(&redis.Options{Addr: setup.Master().Addr, DB: 2})
	n, err := direct.Exists(ctx, "sbsentinel:before").Result()
	direct.Close()
	if err != nil || n != 1 {
		t.Fatalf("the session is not on the master's database 2: %d %v", n, err)
	}
	master := setup.Master()
	master.Stop()
	setup.AwaitFailover(master)
	deadline := time.Now().Add(20 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err := store.Set(cctx, "after", sess)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store does not write after the failover: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := store.Get(ctx, "after"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx, "before"); err != nil && !errors.Is(err, sessionbridge.ErrNotFound) {
		t.Fatalf("read after the failover: %v", err)
	}
	var _ *redisstore.Store = store.(*redisstore.Store)
}
