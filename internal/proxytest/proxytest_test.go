package proxytest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSnippets(t *testing.T) {
	md := filepath.Join(t.TempDir(), "doc.md")
	doc := "# Title\n\n```nginx\nserver {\n    listen 80;\n}\n```\n\ntext\n\n" +
		"````caddyfile\nsite {\n```\nnot a fence end\n```\n}\n````\n\n" +
		"```nginx  title=\"second\"\nlocation / {}\n```\n\n```\nplain\n```\n"
	if err := os.WriteFile(md, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Snippets(md, "nginx")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"server {\n    listen 80;\n}\n", "location / {}\n"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("nginx snippets %q, want %q", got, want)
	}
	got, err = Snippets(md, "caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"site {\n```\nnot a fence end\n```\n}\n"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("caddyfile snippets %q, want %q", got, want)
	}
	if _, err := Snippets(md, "yaml"); !errors.Is(err, ErrNoSnippet) {
		t.Fatalf("yaml: err %v, want ErrNoSnippet", err)
	}
	if _, err := Snippets(filepath.Join(t.TempDir(), "missing.md"), "nginx"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: err %v", err)
	}
}

// stubAuth answers /auth with the status the client asked for in the
// X-Want header, and the identity headers of the X-Give header (a comma
// list of NAME=VALUE; "NAME=" sends the header empty).
func stubAuth(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/auth" {
			http.NotFound(w, r)
			return
		}
		for _, kv := range strings.Split(r.Header.Get("X-Give"), ",") {
			if name, value, ok := strings.Cut(kv, "="); ok {
				w.Header()[http.CanonicalHeaderKey(name)] = []string{value}
			}
		}
		status := http.StatusOK
		if _, err := fmt.Sscan(r.Header.Get("X-Want"), &status); err != nil && r.Header.Get("X-Want") != "" {
			t.Errorf("X-Want %q: %v", r.Header.Get("X-Want"), err)
		}
		if status == http.StatusFound {
			w.Header().Set("Location", "http://login.test/")
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func get(t *testing.T, url string, header map[string][]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestNginxAuthRequest pins what nginx's auth_request does with each
// answer of the auth server, as docs/forward-auth.md describes it: 2xx
// lets the request through, 401 and 403 reach the client (or error_page),
// anything else, a 302 included, becomes 500; an identity header set from
// an empty or missing auth header is not sent at all, and the client's
// own header of that name is gone.
func TestNginxAuthRequest(t *testing.T) {
	auth := stubAuth(t)
	up := StartUpstream(t)
	p := StartNginx(t, func(listen string) string {
		return fmt.Sprintf(`server {
	listen %s;
	location / {
		auth_request /_auth;
		auth_request_set $auth_user $upstream_http_x_auth_user;
		proxy_set_header X-Auth-User $auth_user;
		proxy_pass http://%s;
	}
	location = /_auth {
		internal;
		proxy_pass http://%s/auth;
		proxy_pass_request_body off;
		proxy_set_header Content-Length "";
	}
}`, listen, up.Addr, auth)
	})
	for _, tc := range []struct {
		want, give string
		status     int
		user       []string // what the upstream sees; nil: it sees nothing
	}{
		{"200", "X-Auth-User=7", 200, []string{"7"}},
		{"204", "X-Auth-User=7", 200, []string{"7"}},
		{"200", "X-Auth-User=", 200, nil},
		{"200", "", 200, nil},
		{"401", "", 401, nil},
		{"403", "", 403, nil},
		{"302", "", 500, nil},
		{"503", "", 500, nil},
	} {
		before := up.Count()
		resp := get(t, p.URL+"/x", map[string][]string{"X-Want": {tc.want}, "X-Give": {tc.give},
			"X-Auth-User": {"spoof", "spoof2"}})
		if resp.StatusCode != tc.status {
			t.Errorf("auth %s: status %d, want %d\n%s", tc.want, resp.StatusCode, tc.status, p.Logs())
			continue
		}
		if tc.status != 200 {
			if up.Count() != before {
				t.Errorf("auth %s: the request reached the upstream", tc.want)
			}
			continue
		}
		seen, _ := up.Last()
		if got := seen.Header.Values("X-Auth-User"); !reflect.DeepEqual(got, tc.user) {
			t.Errorf("auth %s %q: upstream saw X-Auth-User %q, want %q", tc.want, tc.give, got, tc.user)
		}
	}
	if !strings.Contains(p.Logs(), "auth request unexpected status: 302") {
		t.Errorf("nginx's error log does not say why the 302 became a 500:\n%s", p.Logs())
	}
}

// TestCaddyForwardAuth pins what Caddy's forward_auth does: the auth
// server's non-2xx answer goes to the client as it is (a 302 with its
// Location, a 503); copy_headers replaces the client's header of that name
// with the auth server's, empty when the auth server sends it empty, and
// with the literal placeholder text when the auth server does not send it
// at all (Caddy 2.6), so an auth server must always send every header the
// proxy copies.
func TestCaddyForwardAuth(t *testing.T) {
	auth := stubAuth(t)
	up := StartUpstream(t)
	p := StartCaddy(t, func(listen string) string {
		return fmt.Sprintf(`http://%s {
	forward_auth %s {
		uri /auth
		copy_headers X-Auth-User X-Auth-Email
	}
	reverse_proxy %s
}`, listen, auth, up.Addr)
	})
	for _, tc := range []struct {
		want, give  string
		status      int
		user, email []string
	}{
		{"200", "X-Auth-User=7,X-Auth-Email=a@example.com", 200, []string{"7"}, []string{"a@example.com"}},
		{"200", "X-Auth-User=7,X-Auth-Email=", 200, []string{"7"}, []string{""}},
		{"200", "X-Auth-User=7", 200, []string{"7"}, []string{"{http.reverse_proxy.header.X-Auth-Email}"}},
		{"401", "", 401, nil, nil},
		{"302", "", 302, nil, nil},
		{"503", "", 503, nil, nil},
	} {
		before := up.Count()
		resp := get(t, p.URL+"/x", map[string][]string{"X-Want": {tc.want}, "X-Give": {tc.give},
			"X-Auth-User": {"spoof", "spoof2"}, "X-Auth-Email": {"spoof@example.com"}})
		if resp.StatusCode != tc.status {
			t.Errorf("auth %s: status %d, want %d\n%s", tc.want, resp.StatusCode, tc.status, p.Logs())
			continue
		}
		if tc.status != 200 {
			if up.Count() != before {
				t.Errorf("auth %s: the request reached the upstream", tc.want)
			}
			if tc.status == 302 && resp.Header.Get("Location") != "http://login.test/" {
				t.Errorf("302 Location %q", resp.Header.Get("Location"))
			}
			continue
		}
		seen, _ := up.Last()
		if got := seen.Header.Values("X-Auth-User"); !reflect.DeepEqual(got, tc.user) {
			t.Errorf("auth %q: upstream saw X-Auth-User %q, want %q", tc.give, got, tc.user)
		}
		if got := seen.Header.Values("X-Auth-Email"); !reflect.DeepEqual(got, tc.email) {
			t.Errorf("auth %q: upstream saw X-Auth-Email %q, want %q", tc.give, got, tc.email)
		}
	}
}
