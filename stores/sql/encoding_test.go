package sqlstore_test

import (
	"context"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionbridge/sessionbridge/stores/internal/condtest"
	"github.com/sessionbridge/sessionbridge/stores/internal/jsdate"
	sqlstore "github.com/sessionbridge/sessionbridge/stores/sql"
)

// TestRoundSeconds: JavaScript's Math.round(ms / 1000), halves up.
func TestRoundSeconds(t *testing.T) {
	for ms, want := range map[int64]int64{
		0: 0, 499: 0, 500: 1, 999: 1, 1000: 1, 1499: 1, 1500: 2,
		-1: 0, -499: 0, -500: 0, -501: -1, -1500: -1, -1501: -2, // Math.round(-0.5) is -0, (-1.5) is -1
		1796209200500: 1796209201, jsdate.MaxMillis: jsdate.MaxMillis / 1000,
	} {
		if got := sqlstore.RoundSeconds(ms); got != want {
			t.Errorf("RoundSeconds(%d) = %d, want %d", ms, got, want)
		}
	}
}

// TestEncodings: the expiry columns' values, clamped to their ranges, and
// read back from every form go-sql-driver returns.
func TestEncodings(t *testing.T) {
	for ms, want := range map[int64]string{
		1796209200999:     "2026-12-02 11:00:00",
		0:                 "1970-01-01 00:00:00",
		-5000:             "1970-01-01 00:00:00",
		jsdate.MaxMillis:  "9999-12-31 23:59:59",
		253402300799000:   "9999-12-31 23:59:59",
		253402300798999:   "9999-12-31 23:59:58",
		-jsdate.MaxMillis: "1970-01-01 00:00:00",
	} {
		v, stored := sqlstore.EncodeDatetime(ms)
		if v != want {
			t.Errorf("EncodeDatetime(%d) = %v, want %s", ms, v, want)
		}
		// parseTime with loc returns the stored wall clock in loc.
		u := mustParse(t, want)
		inLoc := time.Date(u.Year(), u.Month(), u.Day(), u.Hour(), u.Minute(), u.Second(), 0, time.FixedZone("JST", 9*3600))
		for _, form := range []any{want, []byte(want), u, inLoc} {
			got, err := sqlstore.DecodeDatetime(form)
			if err != nil || got != stored {
				t.Errorf("DecodeDatetime(%T %v) = %d, %v; want %d", form, form, got, err, stored)
			}
		}
	}
	if got, err := sqlstore.DecodeDatetime("2026-12-02 11:00:00.123456"); err != nil || got != 1796209200123 {
		t.Errorf("a DATETIME(6): %d %v", got, err)
	}
	for _, bad := range []any{"0000-00-00 00:00:00", "2026-12-02", "", []byte("2026-12-02 11:00:00.1234567"), 12, nil} {
		if _, err := sqlstore.DecodeDatetime(bad); err == nil {
			t.Errorf("DecodeDatetime(%#v) accepted", bad)
		}
	}
	for ms, want := range map[int64]int64{
		1796209200499: 1796209200, 1796209200500: 1796209201, -1000: 0,
		jsdate.MaxMillis: math.MaxUint32, 4294967295499: math.MaxUint32,
	} {
		v, stored := sqlstore.EncodeSeconds(ms)
		if v != want || stored != want*1000 {
			t.Errorf("EncodeSeconds(%d) = %v, %d; want %d", ms, v, stored, want)
		}
		for _, form := range []any{want, uint64(want), []byte(strconv.FormatInt(want, 10)), strconv.FormatInt(want, 10)} {
			if got, err := sqlstore.DecodeSeconds(form); err != nil || got != want*1000 {
				t.Errorf("DecodeSeconds(%T %v) = %d, %v", form, form, got, err)
			}
		}
	}
	for _, bad := range []any{uint64(math.MaxUint64), int64(math.MaxInt64), []byte("12x"), "", []byte(strings.Repeat("9", 30)), 1.5, nil} {
		if _, err := sqlstore.DecodeSeconds(bad); err == nil {
			t.Errorf("DecodeSeconds(%#v) accepted", bad)
		}
	}
}

func mustParse(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse("2006-01-02 15:04:05", s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSupportsJSON: connect-session-knex's version test, JavaScript's
// unary + included.
func TestSupportsJSON(t *testing.T) {
	for v, want := range map[string]bool{
		"10.11.19-MariaDB-0+deb12u1": true, "8.0.36": true, "5.7.8": true, "5.7.44": true,
		"5.7.7": false, "5.6.51": false,
		"5.7.8-log": false, "5.7.44-log": false, // +"44-log" is NaN: knex makes sess text there
		"5": false, "": false, "6": true,
	} {
		if got := sqlstore.MySQLSupportsJSON(v); got != want {
			t.Errorf("version %q: %t, want %t", v, got, want)
		}
	}
}

// TestMySQLJSONText: MySQL's JSON type hands back its own normalized text
// (keys by length, then bytes; ", " and ": " between), not the bytes
// written. No MySQL runs here; this puts such a text in MariaDB's column
// and checks what holds there too: Go reads it, its Tag is that text and
// SetIf on it works; what Go writes back is compact JSON again.
func TestMySQLJSONText(t *testing.T) {
	t.Parallel()
	f := newEnv(t).table(t, kindNamed("knex"))
	st := f.store(t, sqlstore.Options{})
	exp := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	normalized := `{"cookie": {"path": "/", "expires": "` + exp + `", "httpOnly": true, "originalMaxAge": 3600000}, "passport": {"user": 7}}`
	f.put(t, st, "mysql", normalized)
	s, v := condtest.GetVersion(t, st, "mysql")
	if v.Tag != normalized || condtest.Member(s, "passport") != `{"user": 7}` {
		t.Fatalf("Tag %s, passport %s", v.Tag, condtest.Member(s, "passport"))
	}
	_ = s.Set("n", 1)
	if _, err := st.SetIf(context.Background(), "mysql", s, v); err != nil {
		t.Fatal(err)
	}
	rec, _, _ := f.raw(t, st, "mysql")
	if strings.Contains(rec, ": ") || !strings.HasSuffix(rec, `"passport":{"user":7},"n":1}`) {
		t.Fatalf("written back as %s", rec)
	}
}

// TestEncodingsPostgresSQLite: the timestamptz, ISO, sequelize-on-SQLite
// and connect-sqlite3 expiry values, clamped where the column or SQLite's
// date functions end, and read back from the forms the drivers return.
func TestEncodingsPostgresSQLite(t *testing.T) {
	const ms = 1796209200456 // 2026-12-02T11:00:00.456Z
	if v, stored := sqlstore.EncodeTimestamptz(ms); !v.(time.Time).Equal(time.UnixMilli(ms)) || stored != ms {
		t.Errorf("EncodeTimestamptz = %v, %d", v, stored)
	}
	minPG := time.Date(-4713, 11, 24, 0, 0, 0, 0, time.UTC)
	if v, stored := sqlstore.EncodeTimestamptz(-jsdate.MaxMillis); !v.(time.Time).Equal(minPG) || stored != minPG.UnixMilli() {
		t.Errorf("EncodeTimestamptz(the first Date) = %v, %d; want %v", v, stored, minPG)
	}
	if v, _ := sqlstore.EncodeTimestamptz(jsdate.MaxMillis); !v.(time.Time).Equal(time.UnixMilli(jsdate.MaxMillis)) {
		t.Errorf("EncodeTimestamptz(the last Date) = %v", v)
	}
	tokyo := time.UnixMilli(ms).In(time.FixedZone("JST", 9*3600)).Add(999 * time.Microsecond)
	if got, err := sqlstore.DecodeTimestamptz(tokyo); err != nil || got != ms {
		t.Errorf("DecodeTimestamptz(%v) = %d, %v", tokyo, got, err)
	}
	for _, bad := range []any{"infinity", "-infinity", []byte("2026-12-02"), nil} {
		if _, err := sqlstore.DecodeTimestamptz(bad); err == nil {
			t.Errorf("DecodeTimestamptz(%#v) accepted", bad)
		}
	}

	for _, c := range []struct {
		ms            int64
		iso, seq      string
		storedISO     int64
		storedSeqText int64
	}{
		{ms, "2026-12-02T11:00:00.456Z", "2026-12-02 11:00:00.456 +00:00", ms, ms},
		{-5000, "1970-01-01T00:00:00.000Z", "1970-01-01 00:00:00.000 +00:00", 0, 0},
		{253402300799999, "9999-12-31T23:59:59.999Z", "9999-12-31 23:59:59.999 +00:00", 253402300799999, 253402300799999},
		{1e15, "9999-12-31T23:59:59.999Z", "9999-12-31 23:59:59.999 +00:00", 253402300799999, 253402300799999},
	} {
		if v, stored := sqlstore.EncodeISO(c.ms); v != c.iso || stored != c.storedISO {
			t.Errorf("EncodeISO(%d) = %v, %d; want %s", c.ms, v, stored, c.iso)
		}
		if v, stored := sqlstore.EncodeSequelizeSQLite(c.ms); v != c.seq || stored != c.storedSeqText {
			t.Errorf("EncodeSequelizeSQLite(%d) = %v, %d; want %s", c.ms, v, stored, c.seq)
		}
		// The text, and the time.Time a driver makes of a datetime column.
		for _, form := range []any{c.iso, []byte(c.iso), time.UnixMilli(c.storedISO)} {
			if got, err := sqlstore.DecodeISO(form); err != nil || got != c.storedISO {
				t.Errorf("DecodeISO(%T %v) = %d, %v", form, form, got, err)
			}
		}
		for _, form := range []any{c.seq, []byte(c.seq), time.UnixMilli(c.storedSeqText)} {
			if got, err := sqlstore.DecodeSequelizeSQLite(form); err != nil || got != c.storedSeqText {
				t.Errorf("DecodeSequelizeSQLite(%T %v) = %d, %v", form, form, got, err)
			}
		}
	}
	for _, bad := range []any{"", "2026-12-02", "+033658-09-27T01:46:40.000Z", []byte(strings.Repeat("9", 100)), 12.5, nil} {
		if _, err := sqlstore.DecodeISO(bad); err == nil {
			t.Errorf("DecodeISO(%#v) accepted", bad)
		}
		if _, err := sqlstore.DecodeSequelizeSQLite(bad); err == nil {
			t.Errorf("DecodeSequelizeSQLite(%#v) accepted", bad)
		}
	}

	// node-sqlite3 binds a number that fits in 32 bits as an INTEGER, any
	// other as a REAL.
	for in, want := range map[int64]any{
		ms: float64(ms), 5: int64(5), math.MaxInt32: int64(math.MaxInt32), math.MaxInt32 + 1: float64(math.MaxInt32 + 1),
		math.MinInt32: int64(math.MinInt32), -jsdate.MaxMillis: float64(-jsdate.MaxMillis),
	} {
		if v, stored := sqlstore.EncodeJSNumber(in); v != want || stored != in {
			t.Errorf("EncodeJSNumber(%d) = %T %v, %d; want %T %v", in, v, v, stored, want, want)
		}
		if got, err := sqlstore.DecodeJSNumber(want); err != nil || got != in {
			t.Errorf("DecodeJSNumber(%v) = %d, %v", want, got, err)
		}
	}
	if got, err := sqlstore.DecodeJSNumber(1796209200456.75); err != nil || got != 1796209200456 {
		t.Errorf("DecodeJSNumber of a fraction = %d, %v", got, err)
	}
	for _, bad := range []any{math.NaN(), math.Inf(1), float64(jsdate.MaxMillis) * 2, int64(math.MaxInt64), "1796209200456", []byte("1"), nil} {
		if _, err := sqlstore.DecodeJSNumber(bad); err == nil {
			t.Errorf("DecodeJSNumber(%#v) accepted", bad)
		}
	}
}

// FuzzDecodeISO: any text is read without panicking, and a value read is
// in the Date range; []byte and string read alike.
func FuzzDecodeISO(f *testing.F) {
	for _, s := range []string{"2026-12-02T11:00:00.456Z", "9999-12-31T23:59:59.999Z", "+033658-09-27T01:46:40.000Z", "2026-12-02T11:00:00+09:00", "", "x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := sqlstore.DecodeISO(b)
		if err != nil {
			return
		}
		if ms > jsdate.MaxMillis || ms < -jsdate.MaxMillis {
			t.Fatalf("%q read as %d, beyond the Date range", b, ms)
		}
		if s, err := sqlstore.DecodeISO(string(b)); err != nil || s != ms {
			t.Fatalf("%q: []byte and string read apart", b)
		}
	})
}

// FuzzDecodeSequelizeSQLite: as FuzzDecodeISO, for sequelize's text.
func FuzzDecodeSequelizeSQLite(f *testing.F) {
	for _, s := range []string{"2026-12-02 11:00:00.456 +00:00", "2026-12-02 11:00:00.456 +09:00", "33658-09-27 01:46:40.000 +00:00", "2026-12-02 11:00:00 +00:00", "", "x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := sqlstore.DecodeSequelizeSQLite(b)
		if err != nil {
			return
		}
		if ms > jsdate.MaxMillis || ms < -jsdate.MaxMillis {
			t.Fatalf("%q read as %d, beyond the Date range", b, ms)
		}
		if s, err := sqlstore.DecodeSequelizeSQLite(string(b)); err != nil || s != ms {
			t.Fatalf("%q: []byte and string read apart", b)
		}
	})
}

// FuzzDecodeJSNumber: any REAL is read without panicking, as its floor,
// within the Date range.
func FuzzDecodeJSNumber(f *testing.F) {
	for _, v := range []float64{0, 1796209200456, 1796209200456.5, -1, 8.64e15, 8.64e15 + 1, math.Inf(-1)} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		ms, err := sqlstore.DecodeJSNumber(v)
		if err != nil {
			return
		}
		if ms > jsdate.MaxMillis || ms < -jsdate.MaxMillis || float64(ms) != math.Floor(v) {
			t.Fatalf("%v read as %d", v, ms)
		}
	})
}

// FuzzDecodeDatetime: any text is read without panicking, and a value
// read is a time the text names, in the Date range.
func FuzzDecodeDatetime(f *testing.F) {
	for _, s := range []string{"2026-12-02 11:00:00", "9999-12-31 23:59:59", "0000-00-00 00:00:00", "2026-12-02 11:00:00.123456", "", "x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := sqlstore.DecodeDatetime(b)
		if err != nil {
			return
		}
		if ms > jsdate.MaxMillis || ms < -jsdate.MaxMillis {
			t.Fatalf("%q read as %d, beyond the Date range", b, ms)
		}
		if s, err := sqlstore.DecodeDatetime(string(b)); err != nil || s != ms {
			t.Fatalf("%q: []byte and string read apart", b)
		}
	})
}

// FuzzDecodeSeconds: any text is read without panicking, and a value
// read is the decimal number the text holds, in the Date range.
func FuzzDecodeSeconds(f *testing.F) {
	for _, s := range []string{"0", "1796209200", "4294967295", "-1", "8640000000000", "8640000000001", "", "1e9", "99999999999999999999"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := sqlstore.DecodeSeconds(b)
		if err != nil {
			return
		}
		n, perr := strconv.ParseInt(string(b), 10, 64)
		if perr != nil || n*1000 != ms || ms > jsdate.MaxMillis || ms < -jsdate.MaxMillis {
			t.Fatalf("%q read as %d ms", b, ms)
		}
	})
}
