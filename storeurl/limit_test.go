package storeurl_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/storeurl"
)

// formWorkPerOption bounds the look-ups Parse makes per password option to
// keep each secret form once (a password option adds about eight forms,
// most of them equal). Checking each form against every earlier one made a
// number per option that grew with the number of options.
const formWorkPerOption = 16

// TestLongURLLinear parses a URL just under MaxURLLength that repeats
// password= more than a thousand times, each value distinct: the work of
// recording the secret forms is linear in the number of options, the
// values are masked, and Open's error shows none of them.
func TestLongURLLinear(t *testing.T) {
	port := closedPort(t)
	var b strings.Builder
	fmt.Fprintf(&b, "postgres://%s:%s@127.0.0.1:%d/db?connect_timeout=2&sslpassword=%s%%2F%s",
		userTok, passHead+passMid+passTail, port, passMid, passTail)
	n := 0
	for {
		opt := "&password=%2F" + strconv.FormatInt(int64(n), 36)
		if b.Len()+len(opt) > storeurl.MaxURLLength {
			break
		}
		b.WriteString(opt)
		n++
	}
	u := b.String()
	if len(u) < storeurl.MaxURLLength-16 || n < 1000 {
		t.Fatalf("the URL is %d bytes with %d password options", len(u), n)
	}

	var s *storeurl.Spec
	var err error
	work := storeurl.FormWork(func() { s, err = storeurl.Parse(u) })
	if err != nil {
		t.Fatalf("%d bytes, %d password options: %v", len(u), n, err)
	}
	if work < n {
		t.Fatalf("%d look-ups for %d password options: the work is not measured", work, n)
	}
	if work > formWorkPerOption*(n+10) {
		t.Errorf("%d password options: %d look-ups (%.0f per option)", n, work, float64(work)/float64(n))
	}
	t.Logf("%d bytes, %d password options: %.2f look-ups per option", len(u), n, float64(work)/float64(n))

	if str := s.String(); strings.Count(str, "password=xxxxx") != n+1 {
		t.Errorf("String() masks %d password options, want %d", strings.Count(str, "password=xxxxx"), n+1)
	} else if piece, ok := leaked(str); ok {
		t.Errorf("String() shows %q", piece)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, closer, err := s.Open(ctx)
	if err == nil {
		closer.Close()
		t.Fatal("Open succeeded against a closed port")
	}
	if !errors.Is(err, storeurl.ErrUnavailable) {
		t.Errorf("Open: %v does not wrap ErrUnavailable", err)
	}
	if piece, ok := leaked(err.Error()); ok {
		t.Errorf("Open error shows %q: %v", piece, err)
	}
}

// TestURLLengthLimit: a URL longer than MaxURLLength is refused with a
// fixed message that quotes nothing of it, whatever its scheme and however
// well-formed; one of exactly MaxURLLength bytes (surrounding spaces not
// counted) is parsed.
func TestURLLengthLimit(t *testing.T) {
	p1, p2 := closedPort(t), closedPort(t)
	want := fmt.Sprintf("storeurl: invalid store URL: the URL is longer than %d bytes (the URL is not shown)", storeurl.MaxURLLength)
	// sized returns the URL of tmpl whose password is padded with the
	// canary to make the URL size bytes long.
	sized := func(tmpl string, size int) string {
		short := fmt.Sprintf(tmpl, userTok+":"+passHead+passTail, p1, p2)
		pad := size - len(short)
		pass := passHead + strings.Repeat(passMid, pad/len(passMid)) + strings.Repeat("0", pad%len(passMid)) + passTail
		return fmt.Sprintf(tmpl, userTok+":"+pass, p1, p2)
	}
	templates := []string{
		"postgres://127.0.0.1:%[2]d/db?password=%[1]s",
		"mongodb://127.0.0.1:%[2]d/db?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:%[1]s",
	}
	for _, tmpl := range urlTemplates {
		if !strings.HasPrefix(tmpl, "mongodb+srv") { // a well-formed one would look up DNS
			templates = append(templates, tmpl)
		}
	}
	inputs := []string{strings.Repeat("x", storeurl.MaxURLLength+1)}
	for _, tmpl := range templates {
		u := sized(tmpl, storeurl.MaxURLLength+1)
		if len(u) != storeurl.MaxURLLength+1 {
			t.Fatalf("%.40q: %d bytes", u, len(u))
		}
		inputs = append(inputs, u, " "+u+"\n")
	}
	for _, in := range inputs {
		s, err := storeurl.Parse(in)
		switch {
		case err == nil:
			t.Errorf("%.60q (%d bytes): accepted as %s", in, len(in), s)
		case !errors.Is(err, storeurl.ErrBadURL):
			t.Errorf("%.60q: %v does not wrap ErrBadURL", in, err)
		case err.Error() != want:
			t.Errorf("%.60q: %q, want %q", in, err, want)
		}
	}

	u := sized("redis://%[1]s@127.0.0.1:%[2]d/0?prefix=app:", storeurl.MaxURLLength)
	for _, in := range []string{u, " \t" + u + "\n"} {
		if s, err := storeurl.Parse(in); err != nil {
			t.Errorf("%d bytes, %d without spaces: %v", len(in), len(u), err)
		} else if piece, ok := leaked(s.String()); ok {
			t.Errorf("String() shows %q", piece)
		}
	}
}

// BenchmarkParseLongURL parses a URL of MaxURLLength bytes made of
// password= options with distinct values.
func BenchmarkParseLongURL(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("postgres://127.0.0.1/db?connect_timeout=2")
	for n := 0; ; n++ {
		opt := "&password=%2F" + strconv.FormatInt(int64(n), 36)
		if sb.Len()+len(opt) > storeurl.MaxURLLength {
			break
		}
		sb.WriteString(opt)
	}
	u := sb.String()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := storeurl.Parse(u); err != nil {
			b.Fatal(err)
		}
	}
}
