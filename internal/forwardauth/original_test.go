package forwardauth

import (
	"net/http"
	"testing"
)

// TestForwardedOriginal pins which proxy headers give the original request:
// X-Forwarded-Uri (with X-Forwarded-Proto and -Host) whenever it is
// present, X-Original-URL only without it, X-Original-URI last.
func TestForwardedOriginal(t *testing.T) {
	for _, c := range []struct {
		name      string
		h         []string
		uri, full string
	}{
		{"Traefik/Caddy", []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "app.example.com", "X-Forwarded-Uri", "/a?b=1"},
			"/a?b=1", "https://app.example.com/a?b=1"},
		{"client X-Original-* beside the proxy's X-Forwarded-*", []string{"X-Original-URL", "https://evil.example/e", "X-Original-URI", "/e",
			"X-Forwarded-Proto", "http", "X-Forwarded-Host", "app.example.com:8080", "X-Forwarded-Uri", "/a"},
			"/a", "http://app.example.com:8080/a"},
		{"X-Forwarded-Uri without host", []string{"X-Original-URL", "https://evil.example/e", "X-Forwarded-Uri", "/a"}, "/a", ""},
		{"X-Forwarded-Uri present but unusable", []string{"X-Original-URL", "https://evil.example/e", "X-Forwarded-Host", "app.example.com", "X-Forwarded-Uri", "a"}, "", ""},
		{"X-Forwarded-Uri present but empty", []string{"X-Original-URI", "/e", "X-Forwarded-Host", "app.example.com", "X-Forwarded-Uri", ""}, "", ""},
		{"ingress-nginx", []string{"X-Original-URL", "https://app.example.com/p?q=1#frag", "X-Forwarded-Host", "other.example.com", "X-Original-URI", "/o"},
			"/p?q=1", "https://app.example.com/p?q=1"},
		{"X-Original-URL present but unusable", []string{"X-Original-URL", "ftp://app.example.com/p", "X-Forwarded-Host", "app.example.com", "X-Original-URI", "/o"}, "", ""},
		{"X-Original-URL with userinfo", []string{"X-Original-URL", "https://u:p@app.example.com/p"}, "", ""},
		{"X-Original-URI", []string{"X-Forwarded-Proto", "HTTPS", "X-Forwarded-Host", "app.example.com", "X-Original-URI", "/o"}, "/o", "https://app.example.com/o"},
		{"nothing", nil, "", ""},
	} {
		h := http.Header{}
		for i := 0; i+1 < len(c.h); i += 2 {
			h[http.CanonicalHeaderKey(c.h[i])] = append(h[http.CanonicalHeaderKey(c.h[i])], c.h[i+1])
		}
		if uri, full := forwardedOriginal(h); uri != c.uri || full != c.full {
			t.Errorf("%s: %q %q, want %q %q", c.name, uri, full, c.uri, c.full)
		}
	}
}
