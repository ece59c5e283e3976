package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/sessionbridge/sessionbridge/cookiesig"
)

const signUsage = `Usage: sessionbridge sign --secret S [--secret S2 ...] VALUE

Prints VALUE signed like cookie-signature's sign(VALUE, secret) with the first
secret: VALUE, a dot, and the unpadded base64 HMAC-SHA256.

  sessionbridge sign --secret 'keyboard cat' abc
  abc.BpxCrWRpvZMh/wk/djl34N+m+VQEU7K/5WenLwJCgFU

An express-session cookie is encodeURIComponent("s:" + that) of the session
id (see 'sessionbridge mint').

Flags:
  --secret S   the secret (default $SESSIONBRIDGE_SECRET); the first signs

Exit status: 0 signed; 1 usage error.
`

const unsignUsage = `Usage: sessionbridge unsign --secret S [--secret S2 ...] SIGNED

Verifies SIGNED like cookie-signature's unsign() with each secret in turn and
prints the value. SIGNED may also be an express-session cookie value
("s:..." or "s%3A...").

Flags:
  --secret S   a secret; repeat it for a rotated list (default $SESSIONBRIDGE_SECRET)

Exit status: 0 verified; 1 usage error; 2 no secret matches (forged,
truncated, or signed with another secret) or not a signed value.
`

// runSign is the sign command.
func runSign(_ context.Context, c *cli, args []string) error {
	var f flags
	fs := newFlagSet("sign")
	f.addSecret(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("want exactly one VALUE argument, got %d", len(pos))
	}
	s, err := signer(&f)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, s.Sign(pos[0]))
	return nil
}

// runUnsign is the unsign command.
func runUnsign(_ context.Context, c *cli, args []string) error {
	var f flags
	fs := newFlagSet("unsign")
	f.addSecret(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("want exactly one SIGNED argument, got %d", len(pos))
	}
	s, err := signer(&f)
	if err != nil {
		return err
	}
	v, err := s.Unsign(pos[0])
	if err != nil && isCookieValue(pos[0]) {
		// An express-session cookie value: decode it as cookie.parse does.
		if v2, err2 := s.SessionID(cookieHeader(pos[0], "v"), "v"); err2 == nil {
			v, err = v2, nil
		}
	}
	if err != nil {
		return fail(errNoCookie, "%s", unsignReason(err))
	}
	fmt.Fprintln(c.stdout, v)
	return nil
}

func unsignReason(err error) string {
	if errors.Is(err, cookiesig.ErrBadSignature) {
		return "the signature matches none of the secrets: forged, truncated, or signed with another secret"
	}
	return "not a signed value (want VALUE.SIGNATURE)"
}
