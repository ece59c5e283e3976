// Sessionbridge inspects, creates and signs express-session sessions in the
// store a Node Express (+ passport) app uses, reading and writing them byte
// for byte as Node does. It is for people debugging a Node+Go system or
// writing tests against one. Its serve command is an auth server that
// reverse proxies ask on every request (nginx auth_request, Traefik
// ForwardAuth, Caddy forward_auth), deciding from the same sessions.
//
// # Synopsis
//
//	sessionbridge inspect --store URL --secret S [--secret S2 ...] [--cookie-name NAME] [--timeout D] COOKIE
//	sessionbridge mint    --store URL --secret S [--cookie-name NAME] [--max-age MS] [--user JSON] [--data JSON] [--timeout D]
//	sessionbridge inspect|mint --format cookie-session|koa-session --keys K [--store URL] ...
//	sessionbridge serve   --store URL --secret S [--listen ADDR] [--upstream URL] [--header NAME=FIELD ...] ...
//	sessionbridge sign    --secret S VALUE
//	sessionbridge unsign  --secret S [--secret S2 ...] SIGNED
//	sessionbridge help    [inspect|mint|serve|sign|unsign|stores]
//
// Every command takes -h or --help (usage on standard output, exit 0). Flags
// may come before or after the arguments; "--" ends them. --store defaults to
// $SESSIONBRIDGE_STORE and --secret to $SESSIONBRIDGE_SECRET (one secret),
// which keeps them out of the process list and the shell history.
//
// # inspect
//
// Finds the session a cookie points to, exactly as express-session would
// (first cookie of that name, quotes stripped, URL-decoded when it holds "%",
// "s:" prefix and signature checked against every secret), loads it from the
// store without touching it, and prints one JSON object:
//
//	{"sid":"...","loggedIn":true,"user":7,"expires":"2026-05-01T12:00:00.000Z","session":{"cookie":{...},"passport":{"user":7}}}
//
// user is session.passport.user exactly as stored, or null when passport would
// see nobody logged in; expires is the record's cookie.expires, or null for a
// browser-session cookie; session is the stored record itself, byte for byte
// (connect-mongo with stringify=false stores a subdocument: session is then
// the JSON Node's JSON.stringify gives for it). A record whose cookie.expires
// has passed is reported as expired unless the store expires sessions itself
// (Redis TTL, connect-pg-simple's expire column, ...), as the Go library does.
//
// COOKIE is a whole Cookie header ("a=1; connect.sid=s%3A...", with or without
// a leading "Cookie:"), name=value, or the cookie value alone, URL-encoded
// ("s%3A...") or not ("s:...").
//
// # mint
//
// Creates a session as express-session's generate() does (a fresh 32-character
// uid-safe id, a cookie with path "/" and httpOnly), sets passport.user to
// --user (a JSON value: what the app's serializeUser stores) and the members
// of --data (a JSON object) as session fields, saves it with the Node store's
// rules and prints
//
//	{"sid":"...","cookie":"s%3A...","setCookie":"connect.sid=s%3A...; Path=/; HttpOnly"}
//
// Without --max-age (or with 0) the cookie is a browser-session cookie, as
// with express-session's default options: originalMaxAge and expires are null
// and the store keeps the session for its ttl (one day for Redis, PostgreSQL
// and memcached, 14 days for MongoDB, one hour for session-file-store; set it
// with the URL's ttl option). --max-age MS gives it express-session's
// cookie.maxAge of MS milliseconds, and the Set-Cookie header an Expires.
//
// # serve
//
// Serves until SIGTERM or SIGINT, then lets the requests in flight finish
// (up to --shutdown-timeout, default 10s), closes the store and exits 0.
// It logs to standard error (--log-format text or json, --log-level
// debug, info, warn or error); once listening, one record
// "msg=listening addr=HOST:PORT" with the bound address (so --listen
// 127.0.0.1:0 is usable), the mode, the format and the store URL with its
// password hidden. At debug level every decision is logged (outcome,
// method, status, duration); no record holds a cookie, a session id, a
// secret or the user. Besides --secret and $SESSIONBRIDGE_SECRET, the
// secrets can come from --secret-file, one per line (blank lines ignored).
//
// In forward-auth mode (the default) --listen (default 127.0.0.1:4180)
// answers:
//
//	/auth     200 with X-Auth-User (--user-header) = passport.user as stored, as compact
//	          JSON in printable ASCII ({"id":7,"name":"Zo\u00eb"}; numbers as written), and
//	          one header per --header NAME=FIELD (a string field without quotes, other
//	          values as JSON, empty when missing or when the user is not an object);
//	          401 without a valid session, or for a browser (Accept: text/html, not
//	          XMLHttpRequest) with --login-url a 302 to it with rd=<original URL>;
//	          503 when the store fails or holds a record that cannot be read
//	/healthz  200 "ok" when the store answers a lookup, 503 when not
//	/metrics  Prometheus: sessionbridge_auth_decisions_total{outcome}, sessionbridge_auth_duration_seconds,
//	          sessionbridge_store_duration_seconds{op}, sessionbridge_store_errors_total{op}, Go and process
//
// Any other path is 404. The decision runs through the format's own request
// lifecycle, as the Node middleware would for the same request: the
// session is touched (skipped while the store URL's touchAfter says its
// expiry is recent), and with --rolling the 200 carries the Set-Cookie
// Node would send, for proxies set up to pass it on. The original request
// comes from the proxy's headers: X-Forwarded-Proto, X-Forwarded-Host and
// X-Forwarded-Uri (Traefik and Caddy set them; nginx with proxy_set_header),
// and only without X-Forwarded-Uri from X-Original-URL (a whole URL), else
// X-Original-URI.
// Its path is what the cookie's path (--cookie-path, express-session's
// cookie.path, default "/") is checked against, its URL the rd of the login
// redirect (left out when the host is unknown). These headers
// are taken as the proxy sent them, so /auth must be reachable only from
// the proxy. --trust-proxy makes X-Forwarded-Proto https count as HTTPS
// for a Secure cookie (re-sent with --rolling, and for @fastify/session
// touched, only over HTTPS), as express's trust proxy does. nginx's auth_request
// treats any answer but 2xx, 401 and 403 as an error: with nginx, redirect
// to the login page with error_page 401 rather than --login-url.
//
// With --upstream URL, serve is the reverse proxy itself: every request on
// --listen is authorized the same way (its own URL is the original URL;
// with --trust-proxy X-Forwarded-Proto and X-Forwarded-Host are believed)
// and proxied to URL when allowed, with the identity headers set, the
// client's Host kept and X-Forwarded-For, -Host and -Proto added; a denied
// request never reaches it. /healthz and /metrics are then not on --listen.
//
// --internal-listen ADDR serves /healthz and /metrics on ADDR instead of
// --listen, in both modes. In both modes every identity header the client
// sent (any case, "_" for "-", every copy) is deleted first.
//
// # Other Node session formats
//
// --format picks the Node middleware whose cookies and records inspect and
// mint read and write, named as its npm package: express-session (the
// default), @fastify/session (same stores and --secret; cookie sessionId
// without the s: prefix unless --cookie-prefix gives one), cookie-session
// (the session in the cookies session and session.sig, signed with keygrip:
// --keys, --algorithm; no store) and koa-session (koa.sess and koa.sess.sig;
// cookie mode, or with --store a redis:// URL the Redis koa-redis writes to
// and --prefix koa-session's key prefix). For the two keygrip formats COOKIE
// holds both cookies, or "VALUE.SIGNATURE", and mint prints both Set-Cookie
// headers. connect-mongo's crypto.secret and connect-memcached's secret come
// from --store-secret-file or $SESSIONBRIDGE_STORE_SECRET, never from the
// store URL.
//
// # sign, unsign
//
// sign prints cookie-signature's sign(VALUE, secret) with the first secret;
// unsign verifies VALUE.SIGNATURE against every secret in turn (an
// express-session cookie value "s:..." or "s%3A..." is accepted too) and
// prints the value.
//
// # Store URLs
//
//	redis://[user:pass@]host:port[/db][?prefix=sess:&ttl=86400]   connect-redis
//	redis://host1:port,host2:port[?prefix=...]                    the same on a Redis Cluster
//	rediss://...                                                  the same over TLS
//	postgres://user@host:port/db[?tableName=session&schemaName=public&ttl=86400&sslmode=disable]
//	mongodb://host:port[,host:port]/db[?collectionName=sessions&stringify=true&ttl=1209600]
//	memcached://host:port[,host:port][?prefix=&ttl=&timeout=500]
//	file:///abs/dir  or  file:rel/dir[?ttl=3600]                  session-file-store
//
// The store options are the Node packages' own, named and spelt as they
// name them (connect-redis's disableTTL, connect-pg-simple's tableName,
// connect-mongo's collectionName and touchAfter, ...); the older short names
// table, schema and collection still work. Options not given take the Node
// store's defaults. The MongoDB database is dbName, else the URL's path,
// else "test", as the Node driver's client.db() does. Other query parameters
// go to the driver (go-redis, pgx, the MongoDB connection string); an option
// nobody knows, or one the Go stores do not implement (connect-mongo's
// crypto, ...), is an error. Every store takes touchAfter, which the
// commands pass to the Bridge as Config.TouchAfter (inspect never touches
// and mint writes a new session, so it changes nothing they do; with
// connect-mongo it is also the store's touchAfter). See package
// github.com/sessionbridge/sessionbridge/storeurl for every option, or
// 'sessionbridge help stores'.
//
// inspect never creates a file store's directory; mint does, as
// session-file-store does. With a MongoDB URL's autoRemove=native, both
// create connect-mongo's TTL index when they open the store, as
// connect-mongo does when it starts.
//
// # Exit status
//
//	0  success (inspect: the session was found, logged in or not)
//	1  usage error, bad store URL, or a store failure (including a record
//	   that is not an express-session record)
//	2  inspect, unsign: the cookie is missing, not signed, or its signature
//	   matches no secret
//	3  inspect: no such session in the store, or it has expired
//
// serve exits 0 when stopped by a signal and 1 when it cannot start (usage
// error, bad store URL, store not reachable, address in use) or a server
// fails.
//
// Messages go to standard error and never contain a secret, a cookie or a
// session id; the session id appears only in the JSON printed on success.
package main
