package storeurl_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sessionbridge/sessionbridge/storeurl"
)

// fuzzSchemes are the schemes FuzzParse builds URLs with. mongodb+srv is
// left out: a well-formed one makes Parse look up DNS.
var fuzzSchemes = []string{
	"redis", "rediss", "REDIS", "postgres", "postgresql", "mongodb", "memcached", "memcache", "file", "mysql",
	"mariadb", "sqlite", "redis+sentinel", "rediss+sentinel",
}

const fuzzCanary = "SSW0RD"

// FuzzParse builds scheme://user:before SSW0RD after@tail and checks that
// Parse never panics, that its errors wrap ErrBadURL, and that neither the
// error nor String (nor any printing of the Spec) contains the canary,
// which is always part of the userinfo: an '@' follows it.
func FuzzParse(f *testing.F) {
	tails := map[string]bool{}
	for _, tmpl := range urlTemplates {
		u := fmt.Sprintf(tmpl, "", 6379, 6380)
		if i := strings.Index(u, "://@"); i >= 0 {
			tails[u[i+4:]] = true
		}
	}
	seps := []string{"", "/", "?", "#", "@", "%zz", "%", "%4", ":", " ", "é", "\x00", `"`, "%2F", "%40", "+", "[", "\\"}
	for si := range fuzzSchemes {
		for tail := range tails {
			for _, sep := range seps {
				f.Add(uint8(si), userTok, passHead+sep, sep+passTail, tail)
			}
		}
	}
	f.Add(uint8(0), "", "", "", "")
	f.Add(uint8(0), "h/x", "", "", "h")
	f.Add(uint8(8), "/", "", "", "tail")
	f.Add(uint8(3), userTok, strings.Repeat("/", 300), strings.Repeat("%", 300), "127.0.0.1/db?sslmode=bogus")
	f.Fuzz(func(t *testing.T, k uint8, user, before, after, tail string) {
		scheme := fuzzSchemes[int(k)%len(fuzzSchemes)]
		build := func(secret string) string {
			return scheme + "://" + user + ":" + before + secret + after + "@" + tail
		}
		u := build(fuzzCanary)
		if strings.Count(u, fuzzCanary) != 1 {
			t.Skip("the canary is not only in the userinfo")
		}
		// The same URL with another password must not show the canary
		// either, or it comes from the other pieces (decoded, say).
		if s, err := storeurl.Parse(build("xxxx")); err != nil && strings.Contains(err.Error(), fuzzCanary) ||
			err == nil && strings.Contains(s.String(), fuzzCanary) {
			t.Skip("the canary is made by the other pieces")
		}
		s, err := storeurl.Parse(u)
		if err != nil {
			if !errors.Is(err, storeurl.ErrBadURL) {
				t.Fatalf("%q: error %v does not wrap ErrBadURL", u, err)
			}
			if strings.Contains(err.Error(), fuzzCanary) {
				t.Fatalf("%q: the error shows the password: %v", u, err)
			}
			return
		}
		for _, out := range []string{s.String(), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", *s), fmt.Sprint(*s)} {
			if strings.Contains(out, fuzzCanary) {
				t.Fatalf("%q: printing the Spec shows the password: %s", u, out)
			}
		}
	})
}

// FuzzParseFormatQuery fuzzes the query of the URLs with format=: the
// store options of each format, the go-sql-driver/mysql parameters (some
// of which make the driver's own parser panic), sqlite paths. Parse must
// never panic, its errors wrap ErrBadURL, and neither they nor String show
// the password.
func FuzzParseFormatQuery(f *testing.F) {
	bases := []string{
		"mysql://u:" + fuzzCanary + "@h/db?",
		"mariadb://u:" + fuzzCanary + "@h:3307/db?",
		"mongodb://u:" + fuzzCanary + "@h/db?format=connect-mongodb-session&",
		"postgres://u:" + fuzzCanary + "@h/db?",
		"sqlite:s.db?",
		"sqlite:///abs/s.db?",
	}
	for i := range bases {
		for _, q := range []string{
			"", "format=connect-session-knex", "format=express-mysql-session&schema.tableName=t&expiration=1",
			"format=connect-session-sequelize&tableName=x&checkExpirationInterval=0",
			"format=connect-session-knex&strict=true", "format=connect-session-knex&tls=x%25",
			"format=connect-session-knex&timeout=1s&maxAllowedPacket=-1", "format=connect-sqlite3&table=t",
			"collection=c&expires=1&idField=$x", "format=better-sqlite3-session-store&expired[clear]=false",
			"format=connect-session-knex&sidFieldName=%00", "format=express-mysql-session&password=" + fuzzCanary,
		} {
			f.Add(uint8(i), q)
		}
	}
	f.Fuzz(func(t *testing.T, k uint8, q string) {
		// The canary may stand in the query only as the value of a
		// password option.
		rest := strings.ReplaceAll("&"+q+"&", "&password="+fuzzCanary+"&", "&&")
		if strings.Contains(rest, fuzzCanary[1:4]) {
			t.Skip("the query itself holds the canary")
		}
		u := bases[int(k)%len(bases)] + q
		s, err := storeurl.Parse(u)
		if err != nil {
			if !errors.Is(err, storeurl.ErrBadURL) {
				t.Fatalf("%q: error %v does not wrap ErrBadURL", u, err)
			}
			if strings.Contains(err.Error(), fuzzCanary) {
				t.Fatalf("%q: the error shows the password: %v", u, err)
			}
			return
		}
		for _, out := range []string{s.String(), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", *s)} {
			if strings.Contains(out, fuzzCanary) {
				t.Fatalf("%q: printing the Spec shows the password: %s", u, out)
			}
		}
	})
}
