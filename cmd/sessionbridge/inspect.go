package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sessionbridge/sessionbridge"
	"github.com/sessionbridge/sessionbridge/cookiesig"
	"github.com/sessionbridge/sessionbridge/internal/jsjson"
	"github.com/sessionbridge/sessionbridge/passportuser"
	"github.com/sessionbridge/sessionbridge/storeurl"
)

const inspectUsage = `Usage: sessionbridge inspect --store URL --secret S [--secret S2 ...] [--cookie-name NAME] [--timeout 10s] COOKIE
       sessionbridge inspect --format cookie-session|koa-session --keys K [--keys K2 ...] [--store URL] COOKIE

Looks up the session a cookie points to, as express-session would, and prints
one JSON object:

  {"sid": "...", "loggedIn": true, "user": <passport.user as stored, or null>,
   "expires": "<cookie.expires>" or null, "session": <the record as stored>}

"session" is the stored record itself, byte for byte (for connect-mongo with
stringify=false, the JSON Node's JSON.stringify gives for the subdocument).
Nothing in the store is changed: the session is neither touched nor saved
(a MongoDB URL's autoRemove=native creates connect-mongo's TTL index, as
connect-mongo does when it starts).

COOKIE is a whole Cookie header ("a=1; connect.sid=s%3A..."; a leading
"Cookie:" is ignored), name=value, or the cookie's value alone, URL-encoded
("s%3A...") or not ("s:..."). As in express-session, the first cookie of
that name counts, surrounding quotes are stripped, and the session id must be
signed with one of the secrets.

Flags:
  --store URL          the Node app's session store (default $SESSIONBRIDGE_STORE);
                       see 'sessionbridge help stores'
  --secret S           express-session's secret; repeat it for a rotated list
                       (default $SESSIONBRIDGE_SECRET)
  --cookie-name NAME   the session cookie's name (default connect.sid, and
                       sessionId, session, koa.sess for the other formats;
                       also --name, --key as those packages call it)
  --timeout D          give up on the store after D (default 10s)
` + formatFlagsUsage + `
Formats: @fastify/session uses the same stores and --secret (its cookie
sessionId, no s: prefix unless --cookie-prefix). cookie-session keeps the
whole session in its cookies and takes no --store; koa-session does too
unless --store names the Redis koa-redis writes to. For these two, COOKIE
is a Cookie header holding both NAME and NAME.sig, or "VALUE.SIGNATURE";
"sid" is then null, or koa-session's store key.

Exit status:
  0  the session was found (logged in or not: see "loggedIn")
  1  usage error, bad store URL, or the store failed or holds a record that
     is not an express-session record
  2  no such cookie, or it is not signed, or its signature matches no secret
  3  no such session in the store, or it has expired
`

// runInspect is the inspect command.
func runInspect(ctx context.Context, c *cli, args []string) error {
	var f flags
	fs := newFlagSet("inspect")
	f.addStore(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("want exactly one COOKIE argument, got %d", len(pos))
	}
	spec, err := spec(&f)
	if err != nil {
		return err
	}
	if !f.keygrip() {
		if _, err := signer(&f); err != nil {
			return err
		}
	}
	if spec != nil && spec.Kind == storeurl.File {
		// Opening a file store creates its directory; inspecting must not.
		if fi, err := os.Stat(spec.File.Dir); err != nil || !fi.IsDir() {
			return fail(errStore, "store error: session directory %s does not exist or is not a directory", spec.File.Dir)
		}
	}

	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	src, err := openSession(ctx, &f, spec, 0)
	if err != nil {
		return err
	}
	defer src.Close()
	sid, err := src.sessionID(&f, pos[0])
	if err != nil {
		return fail(errNoCookie, "%s", cookieReason(err, &f))
	}
	sess, err := loadSession(ctx, src, &f, sid)
	if err != nil {
		return err
	}
	if !src.stored {
		sess.ID = "" // the cookie's own value, not an id to show
	}
	out, err := inspectJSON(sess)
	if err != nil {
		return fail(errStore, "%s", redact(err.Error(), &f, sid))
	}
	if errors.Is(passportError(sess), passportuser.ErrBadPassport) {
		fmt.Fprintf(c.stderr, "sessionbridge inspect: warning: session.passport is not an object; passport would fail on it\n")
	}
	if _, err := c.stdout.Write(out); err != nil {
		return fail(errStore, "writing the result: %v", err)
	}
	return nil
}

// loadSession loads session sid as the Go library does, without touching
// or saving it.
func loadSession(ctx context.Context, src *session, f *flags, sid string) (*sessionbridge.Session, error) {
	sess, err := src.src.LoadID(ctx, sid)
	switch {
	case errors.Is(err, sessionbridge.ErrExpired):
		return nil, fail(errNoSession, "the session has expired")
	case errors.Is(err, sessionbridge.ErrNotFound):
		return nil, fail(errNoSession, "no such session in the store (never saved, destroyed, or expired)")
	case errors.Is(err, sessionbridge.ErrNoSession) && src.stored:
		return nil, fail(errNoSession, "no such session in the store (never saved, destroyed, or expired)")
	case errors.Is(err, sessionbridge.ErrNoSession):
		return nil, fail(errNoCookie, "the %s cookie does not hold a session %s reads (%s)", f.cookieName, f.form.format, redact(errorKind(err), f, sid))
	case err != nil:
		return nil, fail(errStore, "store error: %s", redact(err.Error(), f, sid))
	}
	return sess, nil
}

// errorKind is the last sentinel's text of a cookie format's error, which
// holds no byte of the cookie.
func errorKind(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

func passportError(s *sessionbridge.Session) error {
	_, err := passportuser.Raw(s)
	return err
}

// inspectJSON writes the result object by hand: encoding/json would compact
// the embedded record (and escape HTML unless told not to); here "session"
// and "user" are the stored bytes exactly, and strings are written as
// JSON.stringify writes them.
func inspectJSON(s *sessionbridge.Session) ([]byte, error) {
	rec, err := s.Record.Encode()
	if err != nil {
		return nil, err
	}
	user, uerr := passportuser.Raw(s)
	var b bytes.Buffer
	b.WriteString(`{"sid":`)
	if s.ID == "" {
		b.WriteString("null")
	} else {
		b.Write(jsjson.AppendString(nil, s.ID))
	}
	if uerr == nil {
		b.WriteString(`,"loggedIn":true,"user":`)
		b.Write(user)
	} else {
		b.WriteString(`,"loggedIn":false,"user":null`)
	}
	b.WriteString(`,"expires":`)
	if iso, ok := expiresISO(s.Record.Cookie.Expires); ok {
		b.WriteByte('"')
		b.Write(iso)
		b.WriteByte('"')
	} else {
		b.WriteString("null")
	}
	b.WriteString(`,"session":`)
	b.Write(rec)
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// cookieHeader turns the COOKIE argument into a Cookie header: a header
// (with or without "Cookie:") or name=value is used as is, a bare value
// becomes name=value.
func cookieHeader(arg, name string) string {
	s := strings.TrimSpace(arg)
	if len(s) >= 7 && strings.EqualFold(s[:7], "cookie:") {
		return strings.TrimSpace(s[7:])
	}
	if isCookieValue(s) || !strings.ContainsAny(s, "=;") {
		return name + "=" + s
	}
	return s
}

// isCookieValue reports whether s starts like a signed session cookie value
// ("s:" or its URL encoding "s%3A", maybe quoted), which may contain "=".
func isCookieValue(s string) bool {
	s = strings.TrimPrefix(s, `"`)
	return strings.HasPrefix(s, cookiesig.SessionPrefix) ||
		len(s) >= 4 && s[0] == 's' && strings.EqualFold(s[1:4], "%3A")
}

func cookieReason(err error, f *flags) string {
	name := f.cookieName
	switch {
	case errors.Is(err, cookiesig.ErrNoCookie):
		return fmt.Sprintf("no %s cookie in COOKIE (or it is empty); use --cookie-name for another name", name)
	case errors.Is(err, cookiesig.ErrNotSigned) && f.keygrip():
		return fmt.Sprintf("the %s cookie is not signed: %s needs its %s%s cookie too", name, f.form.format, name, cookiesig.SigSuffix)
	case errors.Is(err, cookiesig.ErrNotSigned) && f.form.format == formatFastify:
		return fmt.Sprintf("the %s cookie does not start with the --cookie-prefix", name)
	case errors.Is(err, cookiesig.ErrNotSigned):
		return fmt.Sprintf("the %s cookie is not signed: express-session only accepts values starting with s: (s%%3A encoded)", name)
	case errors.Is(err, cookiesig.ErrBadSignature) && f.keygrip():
		return fmt.Sprintf("the %s%s signature matches none of the keys: forged, swapped, or signed with another key or hash", name, cookiesig.SigSuffix)
	case errors.Is(err, cookiesig.ErrBadSignature):
		return fmt.Sprintf("the %s cookie's signature matches none of the secrets: forged, truncated, or signed with another secret", name)
	case errors.Is(err, cookiesig.ErrMalformed):
		return fmt.Sprintf("the %s cookie is malformed: no signature, an empty session id, or too long", name)
	}
	return "the cookie holds no valid session"
}

// expiresISO is cookie.expires as Node's toISOString writes it; false for
// null or a date outside JavaScript's range.
func expiresISO(e *time.Time) ([]byte, bool) {
	if e == nil {
		return nil, false
	}
	return jsjson.AppendISO(nil, *e)
}
