package redisstore

import "github.com/sessionbridge/sessionbridge/stores/internal/jsdate"

// MaxMillis is the end of the JavaScript Date range, where cookie.expires
// saturates.
const MaxMillis = jsdate.MaxMillis
