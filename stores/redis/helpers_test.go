package redisstore_test

import (
	"net/http"
	"net/http/httptest"

	"github.com/sessionbridge/sessionbridge"
)

func reqWith(b *sessionbridge.Bridge, cookie string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", b.CookieName()+"="+cookie)
	return r
}
