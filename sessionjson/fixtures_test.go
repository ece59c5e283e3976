package sessionjson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

type recordFixtures struct {
	Records []struct{ Name, JSON string }
	Loads   []struct {
		Name string
		Args struct {
			Name    string
			Secrets []string
			Cookie  string
			Now     int64
			Record  *string
			Mutate  *struct {
				Set map[string]json.RawMessage
				Del []string
			}
		}
		Result struct {
			Loaded    bool
			Stored    *string
			StoreCall *string
			GetSid    *string
			Status    int
		}
	}
}

// TestRecordsRoundTrip decodes every record express-session wrote and checks
// that an unchanged record encodes byte-identical, and that a forced
// re-encode (the path taken after any change) also gives Node's exact bytes.
func TestRecordsRoundTrip(t *testing.T) {
	var fx recordFixtures
	nodetest.Fixture(t, "records.json", &fx)
	if len(fx.Records) < 20 {
		t.Fatalf("only %d records", len(fx.Records))
	}
	for _, r := range fx.Records {
		s, err := sessionjson.Decode([]byte(r.JSON))
		if err != nil {
			t.Errorf("%s: %v", r.Name, err)
			continue
		}
		out, err := s.Encode()
		if err != nil || string(out) != r.JSON {
			t.Errorf("%s: unchanged record not byte-identical:\n got %s\nwant %s", r.Name, out, r.JSON)
		}
		// Force the rewrite path: set a member to its own value.
		keys := s.Keys()
		for _, k := range keys {
			if k == "cookie" {
				continue
			}
			raw, _ := s.Raw(k)
			if err := s.SetRaw(k, append(json.RawMessage(nil), raw...)); err != nil {
				t.Fatalf("%s: SetRaw(%q): %v", r.Name, k, err)
			}
		}
		c := s.Cookie
		if c.Expires != nil {
			e := c.Expires.Add(0)
			s.Cookie.Expires = &e // same instant, new pointer: still unchanged
		}
		out, err = s.Encode()
		if err != nil || string(out) != r.JSON {
			t.Errorf("%s: rewritten record differs from Node's:\n got %s\nwant %s", r.Name, out, r.JSON)
		}
	}
}

// Loads where Go differs from Node on purpose.
var intentional = map[string]string{
	"duplicate-keys":              "Go refuses duplicate keys (ErrDuplicateKey); Node keeps the last",
	"big-integers-raw":            "Go keeps numbers as written; Node rounds beyond 2^53",
	"number-formats-raw":          "Go keeps numbers as written; Node rewrites 1.0, 1e3, -0, 1e400",
	"string-originalMaxAge-hangs": "Go refuses the record (ErrBadCookie); Node never answers",
}

// TestLoadsLikeNode replays what a real express-session did with each raw
// record: the id it looked up, the error cases, and the exact JSON it wrote
// back after touching (and possibly changing) the session.
func TestLoadsLikeNode(t *testing.T) {
	var fx recordFixtures
	nodetest.Fixture(t, "records.json", &fx)
	checked := 0
	for _, l := range fx.Loads {
		a, res := l.Args, l.Result
		signer, err := cookiesig.NewSigner(a.Secrets...)
		if err != nil {
			t.Fatal(err)
		}
		sid, sidErr := signer.SessionID(a.Name+"="+a.Cookie, a.Name)
		if res.GetSid == nil {
			if sidErr == nil {
				t.Errorf("%s: Node looked up nothing, Go got an id", l.Name)
			}
			checked++
			continue
		}
		if sidErr != nil || sid != *res.GetSid {
			t.Errorf("%s: Node looked up %q, Go %q %v", l.Name, *res.GetSid, sid, sidErr)
			continue
		}
		if a.Record == nil {
			checked++
			continue
		}
		s, err := sessionjson.Decode([]byte(*a.Record))
		if why, ok := intentional[l.Name]; ok && err != nil {
			t.Logf("%s: %s: %v", l.Name, why, err)
			if !errors.Is(err, sessionjson.ErrMalformed) {
				t.Errorf("%s: untyped error %v", l.Name, err)
			}
			checked++
			continue
		}
		if res.Status != 200 || !res.Loaded {
			if err == nil && res.Status != 200 {
				t.Errorf("%s: Node failed (%d), Go accepted the record", l.Name, res.Status)
			}
			checked++
			continue
		}
		if err != nil {
			t.Errorf("%s: Node loaded it, Go: %v", l.Name, err)
			continue
		}
		if m := a.Mutate; m != nil {
			for k, v := range m.Set {
				if err := s.SetRaw(k, v); err != nil {
					t.Fatalf("%s: SetRaw: %v", l.Name, err)
				}
			}
			for _, k := range m.Del {
				if err := s.Delete(k); err != nil {
					t.Fatal(err)
				}
			}
		}
		s.Touch(time.UnixMilli(a.Now))
		out, err := s.Encode()
		if err != nil {
			t.Fatalf("%s: %v", l.Name, err)
		}
		if res.Stored == nil {
			t.Errorf("%s: Node stored nothing", l.Name)
			continue
		}
		if _, ok := intentional[l.Name]; ok {
			if !sameJSONNumbersLoose(t, out, []byte(*res.Stored)) {
				t.Errorf("%s: beyond numbers, Go and Node differ:\n  go %s\nnode %s", l.Name, out, *res.Stored)
			}
			if !bytes.Contains(out, numbersOf(*a.Record)) {
				t.Errorf("%s: Go did not keep the numbers as written: %s", l.Name, out)
			}
			checked++
			continue
		}
		if string(out) != *res.Stored {
			t.Errorf("%s: write-back differs:\n  go %s\nnode %s", l.Name, out, *res.Stored)
		}
		checked++
	}
	t.Logf("replayed %d of %d express-session loads", checked, len(fx.Loads))
}

// numbersOf returns the record's first app member (after the cookie) as
// written, which must survive in Go's output.
func numbersOf(record string) []byte {
	i := strings.Index(record, "},")
	return []byte(record[i+2 : len(record)-1])
}

// sameJSONNumbersLoose compares two JSON documents structurally, numbers by
// float64 value (Node's rounding is expected), Infinity equal to null.
func sameJSONNumbersLoose(t *testing.T, a, b []byte) bool {
	var x, y any
	da := json.NewDecoder(bytes.NewReader(a))
	da.UseNumber()
	db := json.NewDecoder(bytes.NewReader(b))
	db.UseNumber()
	if da.Decode(&x) != nil || db.Decode(&y) != nil {
		return false
	}
	return looseEqual(x, y)
}

func looseEqual(x, y any) bool {
	switch xv := x.(type) {
	case map[string]any:
		yv, ok := y.(map[string]any)
		if !ok || len(xv) != len(yv) {
			return false
		}
		for k := range xv {
			if !looseEqual(xv[k], yv[k]) {
				return false
			}
		}
		return true
	case []any:
		yv, ok := y.([]any)
		if !ok || len(xv) != len(yv) {
			return false
		}
		for i := range xv {
			if !looseEqual(xv[i], yv[i]) {
				return false
			}
		}
		return true
	case json.Number:
		f, err := xv.Float64()
		if y == nil {
			return err != nil || math.IsInf(f, 0)
		}
		yn, ok := y.(json.Number)
		if !ok {
			return false
		}
		g, _ := yn.Float64()
		return f == g
	}
	return x == y
}

// cookieFromOptions builds the Cookie express-session's generate() builds
// for these options (what the root package does from CookieOptions).
func cookieFromOptions(now time.Time, o map[string]any, https bool) sessionjson.Cookie {
	var maxAge time.Duration
	c := sessionjson.NewCookie(now, 0)
	if v, ok := o["maxAge"].(json.Number); ok {
		ms, _ := v.Int64()
		maxAge = time.Duration(ms) * time.Millisecond
		c.OriginalMaxAge = &ms
		c.Touch(now)
	}
	_ = maxAge
	for k, v := range o {
		switch k {
		case "secure":
			b, isBool := v.(bool)
			if !isBool { // "auto"
				b = https
			}
			c.Secure = &b
		case "httpOnly":
			b := v.(bool)
			c.HTTPOnly = &b
		case "path":
			s := v.(string)
			c.Path = &s
		case "domain":
			s := v.(string)
			c.Domain = &s
		case "partitioned":
			b := v.(bool)
			c.Partitioned = &b
		case "priority":
			s := v.(string)
			c.Priority = &s
		case "sameSite":
			switch x := v.(type) {
			case bool:
				c.SameSite = &sessionjson.SameSite{Bool: x}
			case string:
				if x == "auto" {
					if https {
						c.SameSite = &sessionjson.SameSite{Mode: "none"}
					} else {
						c.SameSite = &sessionjson.SameSite{Mode: "lax"}
					}
				} else {
					c.SameSite = &sessionjson.SameSite{Mode: x}
				}
			}
		}
	}
	return c
}

// TestSetCookieFixtures builds a new session for each case and compares the
// record and the Set-Cookie header with what express-session produced.
func TestSetCookieFixtures(t *testing.T) {
	var fx nodetest.SetCookieFixtures
	nodetest.Fixture(t, "setcookie.json", &fx)
	for _, c := range fx.Cases {
		a := c.Args
		https := a.ProxySecure == nil || *a.ProxySecure
		if sec, ok := a.Cookie["secure"].(bool); ok && a.ProxySecure == nil {
			https = sec
		} else if a.ProxySecure == nil {
			https = false
		}
		now := time.UnixMilli(a.Now)
		ck := cookieFromOptions(now, a.Cookie, https)
		s := sessionjson.New(ck)
		if err := s.Set("views", 1); err != nil {
			t.Fatal(err)
		}
		out, err := s.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != c.Stored {
			t.Errorf("%s: record\n  go %s\nnode %s", c.Name, out, c.Stored)
		}
		signer, _ := cookiesig.NewSigner(a.Secrets...)
		header, err := s.Cookie.SetCookie(a.Name, signer.CookieValue(a.Sid))
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		if c.SetCookie == nil {
			// Node sent none (a Secure cookie over plain HTTP); the header
			// Go would build is still well-formed.
			continue
		}
		if header != *c.SetCookie {
			t.Errorf("%s: Set-Cookie\n  go %s\nnode %s", c.Name, header, *c.SetCookie)
		}
	}
}
