package main

import (
	"net"
	"strings"
	"testing"
)

// canary pieces of a store password; three consecutive bytes of one in the
// output is a leak.
var canaryTokens = []string{"UsrK9q", "PwA7x", "SSW0RD", "Zq8Jv"}

func leakedPiece(out string) (string, bool) {
	for _, tok := range canaryTokens {
		for i := 0; i+3 <= len(tok); i++ {
			if strings.Contains(out, tok[i:i+3]) {
				return tok[i : i+3], true
			}
		}
	}
	return "", false
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestStoreURLNeverEchoed runs inspect and mint with store URLs whose
// userinfo carries the canary (malformed, well-formed against a closed
// port, split by the shell at a space, given to the wrong flag, in
// $SESSIONBRIDGE_STORE): nothing the tool prints may contain a piece of it.
func TestStoreURLNeverEchoed(t *testing.T) {
	addr := closedPort(t)
	var urls []string
	for _, pw := range []string{
		"PwA7x/SSW0RD", "PwA7x?SSW0RD", "PwA7x#SSW0RD", "PwA7x%zzSSW0RD", "PwA7x%SSW0RD", "PwA7x SSW0RD",
		"PwA7x%2FSSW0RD", "PwA7x@SSW0RD", "PwA7x:SSW0RD", "PwA7xéSSW0RD",
	} {
		for _, tmpl := range []string{
			"redis://UsrK9q:%s@" + addr + "?max_retries=-1",
			"redis://UsrK9q:%s@" + addr + "," + addr + "?max_retries=-1",
			"postgres://UsrK9q:%s@" + addr + "/db?connect_timeout=2",
			"mongodb://UsrK9q:%s@" + addr + "/db?serverSelectionTimeoutMS=300",
			"memcached://UsrK9q:%s@" + addr,
			"file://UsrK9q:%s@localhost/tmp/x",
			"UsrK9q:%s@" + addr,
		} {
			urls = append(urls, strings.Replace(tmpl, "%s", pw, 1))
		}
	}
	runs := 0
	check := func(args []string, env string) {
		t.Helper()
		saved := getenv
		getenv = func(k string) string {
			if k == envStore {
				return env
			}
			return ""
		}
		defer func() { getenv = saved }()
		r := sb(t, args...)
		runs++
		if r.code == 0 {
			t.Errorf("%q: exit 0", args)
		}
		if piece, ok := leakedPiece(r.stdout + r.stderr); ok {
			t.Errorf("%q (env %q): output shows %q:\n%s%s", args, env, piece, r.stdout, r.stderr)
		}
	}
	cookie := cookieFor(fakeSid)
	for _, u := range urls {
		check([]string{"inspect", "--store", u, "--secret", secret, "--timeout", "5s", cookie}, "")
		check([]string{"mint", "--store", u, "--secret", secret, "--timeout", "5s"}, "")
		check([]string{"mint", "--secret", secret, "--timeout", "5s"}, u)
		// The shell splits an unquoted space: the second half is an
		// argument, or a flag when it starts with '-'.
		if a, b, ok := strings.Cut(u, " "); ok {
			check([]string{"mint", "--store", a, b, "--secret", secret}, "")
			check([]string{"inspect", "--store", a, b, "--secret", secret, cookie}, "")
			check([]string{"mint", "--store", a, "-" + b, "--secret", secret}, "")
		}
		// The URL given to the wrong flag.
		check([]string{"mint", "--timeout", u, "--store", "file:x", "--secret", secret}, "")
		check([]string{"mint", "--max-age", u, "--store", "file:x", "--secret", secret}, "")
	}
	t.Logf("%d runs checked", runs)
}
