package cookiesig_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
)

type signFixtures struct {
	Sign []struct {
		Value, Secret, Signed107, Signed122 string
	}
	Unsign []struct {
		Input   string
		Secrets []string
		Result  any // string or false
	}
}

// TestSignFixtures checks Go against vectors cookie-signature 1.0.7 and 1.2.2
// produced (testdata/fixtures/sign.json).
func TestSignFixtures(t *testing.T) {
	var fx signFixtures
	nodetest.Fixture(t, "sign.json", &fx)
	if len(fx.Sign) < 20 || len(fx.Unsign) < 40 {
		t.Fatalf("too few vectors: %d sign, %d unsign", len(fx.Sign), len(fx.Unsign))
	}
	for i, v := range fx.Sign {
		got := cookiesig.Sign(v.Value, v.Secret)
		if got != v.Signed107 || got != v.Signed122 {
			t.Errorf("sign[%d] %q: got %q, node 1.0.7 %q, 1.2.2 %q", i, v.Value, got, v.Signed107, v.Signed122)
		}
		if v.Secret == "" {
			continue
		}
		s, err := cookiesig.NewSigner(v.Secret)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Sign(v.Value); got != v.Signed107 {
			t.Errorf("Signer.Sign[%d]: got %q want %q", i, got, v.Signed107)
		}
		if got, err := s.Unsign(v.Signed107); err != nil || got != v.Value {
			t.Errorf("Signer.Unsign[%d]: got %q, %v", i, got, err)
		}
	}
	for i, v := range fx.Unsign {
		want, ok := v.Result.(string)
		s, err := cookiesig.NewSigner(v.Secrets...)
		if len(v.Secrets) == 0 {
			// Node verifies nothing with no secrets; Go refuses to build such a signer.
			if ok || !errors.Is(err, cookiesig.ErrNoSecret) {
				t.Errorf("unsign[%d] with no secrets: node %v, go %v", i, v.Result, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("unsign[%d]: %v", i, err)
		}
		got, err := s.Unsign(v.Input)
		switch {
		case ok && (err != nil || got != want):
			t.Errorf("unsign[%d] %q: node %q, go %q, %v", i, v.Input, want, got, err)
		case !ok && err == nil:
			t.Errorf("unsign[%d] %q: node refuses, go accepts %q", i, v.Input, got)
		case !ok && !errors.Is(err, cookiesig.ErrBadSignature) && !errors.Is(err, cookiesig.ErrMalformed):
			t.Errorf("unsign[%d]: untyped error %v", i, err)
		}
	}
	t.Logf("checked %d sign and %d unsign vectors from Node", len(fx.Sign), len(fx.Unsign))
}

type getcookieFixtures struct {
	Cases []struct {
		Header  *string
		Name    string
		Secrets []string
		Sid     *string
	}
}

// TestGetcookieFixtures checks SessionID against the sid a real
// express-session 1.19.0 middleware looked up for each Cookie header.
func TestGetcookieFixtures(t *testing.T) {
	var fx getcookieFixtures
	nodetest.Fixture(t, "getcookie.json", &fx)
	if len(fx.Cases) < 30 {
		t.Fatalf("too few cases: %d", len(fx.Cases))
	}
	for i, c := range fx.Cases {
		s, err := cookiesig.NewSigner(c.Secrets...)
		if err != nil {
			t.Fatal(err)
		}
		header := ""
		if c.Header != nil {
			header = *c.Header
		}
		got, err := s.SessionID(header, c.Name)
		switch {
		case c.Sid != nil && (err != nil || got != *c.Sid):
			t.Errorf("case %d %q: node looked up %q, go got %q, %v", i, header, *c.Sid, got, err)
		case c.Sid == nil && err == nil:
			t.Errorf("case %d %q: node looked up nothing, go accepted %q", i, header, got)
		case c.Sid == nil && !anyCookieErr(err):
			t.Errorf("case %d: untyped error %v", i, err)
		}
		if err != nil && c.Header != nil && len(header) > 8 && strings.Contains(err.Error(), header[len(header)-8:]) {
			t.Errorf("case %d: error string leaks the cookie: %v", i, err)
		}
	}
	t.Logf("checked %d Cookie headers against express-session", len(fx.Cases))
}

func anyCookieErr(err error) bool {
	for _, e := range []error{cookiesig.ErrNoCookie, cookiesig.ErrNotSigned, cookiesig.ErrBadSignature, cookiesig.ErrMalformed} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

type jsonFixtures struct {
	Cases []struct {
		Value   string
		Defined bool
		Result  any
	}
}

// TestJSONCookieFixtures checks ParseJSONCookie against cookie-parser's
// JSONCookie.
func TestJSONCookieFixtures(t *testing.T) {
	var fx jsonFixtures
	nodetest.Fixture(t, "jsoncookie.json", &fx)
	for i, c := range fx.Cases {
		var got any
		err := cookiesig.ParseJSONCookie(c.Value, &got)
		if !c.Defined {
			if !errors.Is(err, cookiesig.ErrNotJSONCookie) {
				t.Errorf("case %d %q: node gives undefined, go: %v, %v", i, c.Value, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("case %d %q: %v", i, c.Value, err)
			continue
		}
		// Node's result went through JSON.stringify (1e400 became null and
		// big integers were rounded); compare as float64 where Node's side is
		// lossy, exactly otherwise.
		if g, w := fmt.Sprint(normalize(got)), fmt.Sprint(normalize(c.Result)); g != w && !strings.Contains(c.Value, "1e400") {
			t.Errorf("case %d %q: node %s, go %s", i, c.Value, w, g)
		}
	}
}

func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case interface{ Float64() (float64, error) }:
		f, _ := x.Float64()
		return f
	}
	return v
}
