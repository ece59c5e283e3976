// Package cookiesig signs and verifies cookie values exactly as the npm
// packages cookie-signature, cookie, cookie-parser and express-session do.
//
// A signed value is the value, a dot, and the standard base64 encoding of
// HMAC-SHA256(secret, value) with the trailing "=" removed (43 characters):
//
//	Sign("abc", "keyboard cat") == "abc.BpxCrWRpvZMh/wk/djl34N+m+VQEU7K/5WenLwJCgFU"
//
// express-session stores "s:" + Sign(sid, secrets[0]) in its cookie and
// URL-encodes it like encodeURIComponent, so the Set-Cookie value starts with
// "s%3A". When reading, it takes the first cookie of that name from the
// Cookie header, strips surrounding double quotes, URL-decodes only when the
// value contains "%" (keeping the raw value when decoding fails), requires the
// "s:" prefix and tries every secret in order. A [Signer] does exactly that,
// with every secret's HMAC key state computed once, so verifying a cookie
// does not allocate.
//
// Errors are sentinels that can be tested with [errors.Is]: [ErrNoCookie],
// [ErrNotSigned], [ErrBadSignature], [ErrMalformed] for cookies, and
// [ErrNoSecret] for a signer built without a usable secret. No error string
// ever contains a cookie value or a secret.
package cookiesig
