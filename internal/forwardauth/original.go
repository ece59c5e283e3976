package forwardauth

import (
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
)

// The headers a proxy reports the original request in, besides
// X-Forwarded-Proto and X-Forwarded-Host.
const (
	// HeaderForwardedURI is the original request target (Traefik, Caddy;
	// nginx: proxy_set_header X-Forwarded-Uri $request_uri). When present
	// it decides, with X-Forwarded-Proto and X-Forwarded-Host, and the
	// X-Original-* headers are ignored.
	HeaderForwardedURI = "X-Forwarded-Uri"
	// HeaderOriginalURL is the whole original URL (ingress-nginx), read
	// only when X-Forwarded-Uri is absent.
	HeaderOriginalURL = "X-Original-URL"
	// HeaderOriginalURI is the original request target (an older nginx
	// convention: proxy_set_header X-Original-URI $request_uri), read only
	// when X-Forwarded-Uri and X-Original-URL are absent.
	HeaderOriginalURI = "X-Original-URI"
)

// forwardedOriginal returns the original request target (its path and
// query, "" when unknown) and the original URL ("" when unknown), as the
// proxy reports them in h. The first of X-Forwarded-Uri, X-Original-URL
// and X-Original-URI present decides, even when its value is unusable:
// Traefik and Caddy always set X-Forwarded-Uri, overwriting a client's,
// but pass a client's X-Original-* on, so those must not outrank it.
func forwardedOriginal(h http.Header) (uri, full string) {
	switch {
	case present(h, HeaderForwardedURI):
		uri = h.Get(HeaderForwardedURI)
	case present(h, HeaderOriginalURL):
		v := strings.TrimSpace(h.Get(HeaderOriginalURL))
		if !printable(v) {
			return "", ""
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !validHost(u.Host) || u.User != nil {
			return "", ""
		}
		u.Fragment, u.RawFragment = "", ""
		return u.RequestURI(), u.String()
	default:
		uri = h.Get(HeaderOriginalURI)
	}
	if !validTarget(uri) {
		return "", ""
	}
	host := firstValue(h.Get("X-Forwarded-Host"))
	if !validHost(host) {
		return uri, ""
	}
	return uri, forwardedProto(h) + "://" + host + uri
}

// present reports whether h has a field named key (in any case), even an
// empty one.
func present(h http.Header, key string) bool {
	return len(h.Values(key)) > 0
}

// forwardedProto is the first value of X-Forwarded-Proto when it is http
// or https (in any case), else "http".
func forwardedProto(h http.Header) string {
	if p := strings.ToLower(firstValue(h.Get("X-Forwarded-Proto"))); p == "https" {
		return p
	}
	return "http"
}

// ownURL is the URL a request reached this server with (reverse-proxy
// mode): its scheme and Host, or with TrustProxy X-Forwarded-Proto and
// X-Forwarded-Host when present; "" when the host is not a valid one.
func (h *Handler) ownURL(r *http.Request) string {
	proto, host := "http", r.Host
	if r.TLS != nil {
		proto = "https"
	}
	if h.trust {
		if p := strings.ToLower(firstValue(r.Header.Get("X-Forwarded-Proto"))); p == "http" || p == "https" {
			proto = p
		}
		if fh := firstValue(r.Header.Get("X-Forwarded-Host")); fh != "" {
			host = fh
		}
	}
	target := r.URL.RequestURI()
	if !validHost(host) || !validTarget(target) {
		return ""
	}
	return proto + "://" + host + target
}

// originalTarget is the URL and RequestURI the session lifecycle sees for
// the original target uri ("/" when unknown or unparsable): its path is
// what the cookie's path is checked against.
func originalTarget(uri string) (*url.URL, string) {
	if uri != "" {
		if u, err := url.ParseRequestURI(uri); err == nil && strings.HasPrefix(u.Path, "/") {
			return u, uri
		}
	}
	return &url.URL{Path: "/"}, "/"
}

// firstValue is the first comma-separated value of a header, trimmed.
func firstValue(v string) string {
	v, _, _ = strings.Cut(v, ",")
	return strings.TrimSpace(v)
}

// validTarget reports whether uri is an origin-form request target: "/"
// and then no space or control byte.
func validTarget(uri string) bool {
	return strings.HasPrefix(uri, "/") && printable(uri)
}

// printable reports whether s has no space, control byte or DEL (bytes of
// 0x80 and above, which some servers take in a path, are allowed).
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// validHost reports whether host is a host[:port] fit to build a URL
// with: letters, digits and . - _ : [ ] only (an IPv6 literal in
// brackets), at most 261 bytes.
func validHost(host string) bool {
	if host == "" || len(host) > 261 {
		return false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '-', c == '_', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}

// newProxy is the reverse proxy of reverse-proxy mode.
func (h *Handler) newProxy(transport http.RoundTripper) *httputil.ReverseProxy {
	if transport == nil {
		transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	return &httputil.ReverseProxy{
		Rewrite:   h.rewrite,
		Transport: transport,
		ErrorLog:  slog.NewLogLogger(h.log.Handler(), slog.LevelWarn),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			h.log.LogAttrs(r.Context(), slog.LevelWarn, "upstream failed",
				slog.String("method", r.Method), slog.Any("error", err))
			w.Header().Del("Set-Cookie")
			http.Error(w, "bad gateway", http.StatusBadGateway)
		},
	}
}

// rewrite builds the upstream request: the upstream's URL, the client's
// Host, X-Forwarded-*, no identity header (nor trailer) from the client
// and the session's own.
func (h *Handler) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(h.upstream)
	pr.Out.Host = pr.In.Host
	if h.trust {
		pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
	}
	pr.SetXForwarded()
	if h.trust {
		for _, k := range []string{"X-Forwarded-Host", "X-Forwarded-Proto"} {
			if v := pr.In.Header.Get(k); v != "" {
				pr.Out.Header.Set(k, v)
			}
		}
	}
	h.stripSpoofs(pr.Out.Header)
	// A client may also declare an identity header as a trailer of a
	// chunked body; the upstream must not see that name either.
	h.stripSpoofs(pr.Out.Trailer)
	if st := stateFrom(pr.In.Context()); st != nil && st.user != nil {
		h.setIdentity(pr.Out.Header, st)
	}
}
