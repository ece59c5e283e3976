package cookiesig_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/nodetest"
)

// adversarialHeaders returns Cookie headers of about size bytes that stress
// cookie's parse: pairs without "=" (each sends the parser back to the
// last ';' before the next '='), empty pairs, long runs of spaces, many '='.
func adversarialHeaders(size int) map[string]string {
	fill := func(unit string, n int) string { return strings.Repeat(unit, n/len(unit)+1)[:n] }
	sid := "connect.sid=s%3Aid.sig"
	return map[string]string{
		"no-equals then one":   fill("a;", size-2) + "=1",
		"semicolons then sid":  fill(";", size-len(sid)) + sid,
		"empty values":         fill("a=;", size),
		"spaces then equals":   fill(" ", size-2) + "=1",
		"equals in values":     fill("a=b=", size),
		"bare equals":          fill("=;", size),
		"sid then no-equals":   sid + fill(";a", size-len(sid)),
		"long value":           "connect.sid=" + fill("v", size-12),
		"percent escapes":      "connect.sid=" + fill("%41", size-12),
		"repeated name no '='": fill("connect.sid;", size-2) + "=1",
		"spaced semicolons":    fill(" ;", size-len(sid)) + sid,
		"name without '=' end": fill("x=1;", size-len("connect.sid")) + "connect.sid",
	}
}

// TestHeaderAtLimitLikeNode: Cookie headers at the 16 KiB limit that stress
// the parser give the value npm cookie 0.7 parse gives (the first cookie of
// that name), and SessionID answers each with a typed error, never more.
func TestHeaderAtLimitLikeNode(t *testing.T) {
	headers := adversarialHeaders(cookiesig.DefaultMaxHeaderBytes)
	var names []string
	var ops []nodetest.Op
	for name, h := range headers {
		if len(h) > cookiesig.DefaultMaxHeaderBytes {
			t.Fatalf("%s: %d bytes, over the limit", name, len(h))
		}
		names = append(names, name)
		ops = append(ops, nodetest.Op{Op: "parseCookieHeader", Args: map[string]any{"header": h}})
	}
	signer, _ := cookiesig.NewSigner("keyboard cat")
	res := nodetest.Oracle(t, ops)
	for i, rr := range res {
		h := headers[names[i]]
		var v struct{ Cookies map[string]json.RawMessage }
		rr.Decode(t, &v)
		for _, cookie := range []string{"connect.sid", "a", "x", " "} {
			got, found := cookiesig.CookieValue(h, cookie)
			raw, nodeFound := v.Cookies[cookie]
			var want string
			if nodeFound {
				if err := json.Unmarshal(raw, &want); err != nil {
					t.Fatalf("%s: Node's value %s: %v", names[i], raw, err)
				}
			}
			if found != nodeFound || got != want {
				t.Errorf("%s: cookie %q: Go %q %v, Node %.40q %v", names[i], cookie, truncate(got), found, want, nodeFound)
			}
		}
		if _, err := signer.SessionID(h, "connect.sid"); !errors.Is(err, cookiesig.ErrNoCookie) &&
			!errors.Is(err, cookiesig.ErrNotSigned) && !errors.Is(err, cookiesig.ErrMalformed) && !errors.Is(err, cookiesig.ErrBadSignature) {
			t.Errorf("%s: SessionID: untyped error %v", names[i], err)
		}
	}
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// BenchmarkCookieHeader parses the adversarial headers at 1 KiB and at the
// 16 KiB limit; ns/byte stays flat (the parse is linear in the header).
func BenchmarkCookieHeader(b *testing.B) {
	for _, size := range []struct {
		name  string
		bytes int
	}{{"1k", 1 << 10}, {"16k", cookiesig.DefaultMaxHeaderBytes}} {
		for name, h := range adversarialHeaders(size.bytes) {
			b.Run(strings.ReplaceAll(name, " ", "_")+"/"+size.name, func(b *testing.B) {
				for b.Loop() {
					cookiesig.CookieValue(h, "connect.sid")
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(h)), "ns/byte")
			})
		}
	}
}
