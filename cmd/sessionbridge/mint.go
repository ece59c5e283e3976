package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/sessionbridge/sessionbridge/passportuser"
	"github.com/sessionbridge/sessionbridge/sessionjson"
)

const mintUsage = `Usage: sessionbridge mint --store URL --secret S [--cookie-name NAME] [--max-age MS] [--user JSON] [--data JSON] [--timeout 10s]

Creates a session in the store the way express-session does (a fresh
uid-safe id, a cookie with path "/" and httpOnly) and prints

  {"sid": "...", "cookie": "<encoded cookie value>", "setCookie": "<Set-Cookie header>"}

The cookie is what a browser sends after "connect.sid=": use it to seed a Node
app's tests or load tests with logged-in users.

Flags:
  --store URL          the Node app's session store (default $SESSIONBRIDGE_STORE);
                       see 'sessionbridge help stores'
  --secret S           express-session's secret; the first one signs
                       (default $SESSIONBRIDGE_SECRET)
  --cookie-name NAME   the session cookie's name (default connect.sid, and
                       sessionId, session, koa.sess for the other formats)
  --max-age MS         cookie.maxAge in milliseconds. 0 or absent: a
                       browser-session cookie (originalMaxAge and expires null,
                       express-session's default), which the store keeps for
                       its ttl (see 'sessionbridge help stores')
  --user JSON          log the session in: passport.user is set to this JSON
                       value, what the app's serializeUser stores (7, "42",
                       {"id":7}); null, false and "" are refused
  --data JSON          a JSON object whose members become session fields
                       (after passport, in the order given)
  --timeout D          give up on the store after D (default 10s)
` + formatFlagsUsage + `
For cookie-session and koa-session, "cookie" is the Cookie header carrying
both cookies (NAME=...; NAME.sig=...), "setCookie" an array of the two
Set-Cookie headers, and "sid" null (koa-session's store key in store mode).
--user logs the session in as each format's passport does (@fastify/passport
keeps the user itself in session.passport).

Exit status: 0 created; 1 usage or store error.
`

// runMint is the mint command.
func runMint(ctx context.Context, c *cli, args []string) error {
	var f flags
	var maxAge int64
	var user, data string
	fs := newFlagSet("mint")
	f.addStore(fs)
	fs.Int64Var(&maxAge, "max-age", 0, "")
	fs.StringVar(&user, "user", "", "")
	fs.StringVar(&data, "data", "", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		// Not quoted: a store URL or secret with an unquoted space arrives
		// split, its second half here.
		return usageErrorf("mint takes no arguments, got %d (quote a value that has spaces)", len(pos))
	}
	if maxAge < 0 || maxAge > math.MaxInt64/int64(time.Millisecond) {
		return usageErrorf("--max-age must be a number of milliseconds, 0 or more")
	}
	set, err := mintSetter(user, data, f.keygrip())
	if err != nil {
		return err
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
	if ms := time.Duration(maxAge) * time.Millisecond; spec != nil && ms > 0 && spec.TouchAfter >= ms {
		// The Bridge refuses it too; say so before the store is opened.
		return usageErrorf("the store URL's touchAfter (%v) must be shorter than --max-age (%v)", spec.TouchAfter, ms)
	}

	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	src, err := openSession(ctx, &f, spec, time.Duration(maxAge)*time.Millisecond)
	if err != nil {
		return err
	}
	defer src.Close()
	out, err := mintSession(ctx, src, &f, set)
	if err != nil {
		return err
	}
	if _, err := c.stdout.Write(out); err != nil {
		return fail(errStore, "writing the result: %v", err)
	}
	return nil
}

// mintSetter returns what sets --user and --data on a new session, checked
// on a scratch session so that a bad value is a usage error found before
// the store is touched.
func mintSetter(user, data string, dataRecord bool) (func(*sessionjson.Session) error, error) {
	if user == "" && data == "" {
		return func(*sessionjson.Session) error { return nil }, nil
	}
	fields, err := mintFields(user, data)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	set := func(s *sessionjson.Session) error {
		for _, fl := range fields {
			value := fl.value
			if fl.user != nil && s.HasCookie() && s.Cookie.Layout == sessionjson.FastifyLayout {
				value = fl.user
			}
			if err := s.SetRaw(fl.key, value); err != nil {
				if errors.Is(err, sessionjson.ErrReservedKey) {
					return fmt.Errorf("--data: %q is a name the session format reserves", fl.key)
				}
				return fmt.Errorf("--data: member %q: %w", fl.key, err)
			}
		}
		return nil
	}
	scratch := sessionjson.New(sessionjson.NewCookie(time.Now(), 0))
	if dataRecord {
		// The format's own reserved names are checked on the real session.
		scratch = sessionjson.NewData(nil)
	}
	if err := set(scratch); err != nil {
		return nil, usageErrorf("%v", err)
	}
	return set, nil
}

// mintSession creates a session in the format of src, sets its fields
// with set, saves it and returns the JSON line to print.
func mintSession(ctx context.Context, src *session, f *flags, set func(*sessionjson.Session) error) ([]byte, error) {
	sess, err := src.manager.NewSession()
	if err != nil {
		return nil, fail(errStore, "%v", err)
	}
	if err := set(sess.Record); err != nil {
		return nil, usageErrorf("%v", err)
	}
	if err := src.manager.Save(ctx, sess); err != nil {
		return nil, fail(errStore, "store error: %s", redact(err.Error(), f, sess.ID))
	}
	cookie, setCookie, err := src.cookies(f, sess)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if src.bridge != nil {
		// One cookie: its value, as a browser sends it after "NAME=".
		cookie = strings.TrimPrefix(cookie, f.cookieName+"=")
		_ = enc.Encode(struct {
			Sid       string `json:"sid"`
			Cookie    string `json:"cookie"`
			SetCookie string `json:"setCookie"`
		}{sess.ID, cookie, setCookie[0]})
		return out.Bytes(), nil
	}
	var sid *string
	if src.stored {
		sid = &sess.ID
	}
	_ = enc.Encode(struct {
		Sid       *string  `json:"sid"`
		Cookie    string   `json:"cookie"`
		SetCookie []string `json:"setCookie"`
	}{sid, cookie, setCookie})
	return out.Bytes(), nil
}

type field struct {
	key   string
	value json.RawMessage
	// user is --user's JSON when this is the passport member it makes:
	// @fastify/passport keeps the user itself there.
	user json.RawMessage
}

// mintFields returns the members to set: passport (from --user) first, then
// the members of --data in their order.
func mintFields(user, data string) ([]field, error) {
	var fields []field
	if user != "" {
		u := bytes.TrimSpace([]byte(user))
		if !json.Valid(u) {
			return nil, fmt.Errorf(`--user must be a JSON value: 7, "alice" (with the quotes), {"id":7}`)
		}
		switch string(u) {
		case "null", "false", `""`:
			return nil, fmt.Errorf("--user %s would not log anyone in (passport ignores null, false and \"\")", u)
		}
		p := append(append([]byte(`{"user":`), u...), '}')
		fields = append(fields, field{key: passportuser.Key, value: p, user: u})
	}
	if data == "" {
		return fields, nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(data)))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("--data must be a JSON object, such as {\"cart\":[1]}")
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("--data is not valid JSON: %v", err)
		}
		key := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("--data is not valid JSON: %v", err)
		}
		if seen[key] {
			return nil, fmt.Errorf("--data has the key %q twice", key)
		}
		seen[key] = true
		if key == passportuser.Key && user != "" {
			return nil, errors.New("--data sets passport and --user too: give one of them")
		}
		fields = append(fields, field{key: key, value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("--data is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("--data must be a single JSON object")
	}
	return fields, nil
}
