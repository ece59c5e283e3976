package sqlstore

import (
	"context"
	"database/sql"
	"testing"
)

// Names returns the quoted table and id, data and expiry columns.
func Names(s *Store) (table, id, data, expires string) {
	return s.n.qtable, s.n.id, s.n.data, s.n.exp
}

// ExpiryParam is the expiry column's parameter for an expiry of ms.
func ExpiryParam(s *Store, ms int64) any {
	v, _ := s.p.encode(ms)
	return v
}

// StampParam is the bookkeeping timestamps' parameter at ms.
func StampParam(s *Store, ms int64) any { return s.p.stamp(ms) }

// Test hooks on the expiry representations.
var (
	EncodeDatetime        = encodeDatetime
	DecodeDatetime        = decodeDatetime
	EncodeSeconds         = encodeSeconds
	DecodeSeconds         = decodeSeconds
	RoundSeconds          = roundSeconds
	MySQLSupportsJSON     = mysqlSupportsJSON
	EncodeTimestamptz     = encodeTimestamptz
	DecodeTimestamptz     = decodeTimestamptz
	EncodeISO             = encodeISO
	DecodeISO             = decodeISO
	EncodeSequelizeSQLite = encodeSequelizeSQLite
	DecodeSequelizeSQLite = decodeSequelizeSQLite
	EncodeJSNumber        = encodeJSNumber
	DecodeJSNumber        = decodeJSNumber
)

// CreateStatements returns the statements CreateTable runs for preset p
// on table with cols, without running them.
func CreateStatements(t testing.TB, db *sql.DB, p Preset, table string, cols Columns) []string {
	t.Helper()
	c := p.p.cols
	if cols.ID != "" {
		c.ID = cols.ID
	}
	ddl, err := p.p.ddl(context.Background(), db, newNames(p.p, table, c))
	if err != nil {
		t.Fatal(err)
	}
	return ddl
}
