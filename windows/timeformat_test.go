package windows

import (
	"errors"
	"math/big"
	"testing"
	"time"
)

// TestTimeFormats: each --time-format against hand-worked times.
func TestTimeFormats(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	for _, tc := range []struct {
		format string
		in     any
		want   time.Time
	}{
		{"auto", int64(1469520000), utc("2016-07-26T08:00:00Z")},
		{"auto", int64(1469520000123), utc("2016-07-26T08:00:00.123Z")},
		{"auto", "2016-07-26T08:00:00Z", utc("2016-07-26T08:00:00Z")},
		{"auto", "1971-01-01T00:00:00Z", utc("1971-01-01T00:00:00Z")}, // a string says what it is
		{"unix", int64(1469520000), utc("2016-07-26T08:00:00Z")},
		{"unix", 60000.5, utc("1970-01-01T16:40:00.5Z")},
		{"unix", "1469520000", utc("2016-07-26T08:00:00Z")},
		{"unix", int32(86400), utc("1970-01-02T00:00:00Z")},
		{"unix", float32(86400), utc("1970-01-02T00:00:00Z")},
		{"unix", big.NewInt(86400), utc("1970-01-02T00:00:00Z")},
		{"unix_ms", int64(1469520000123), utc("2016-07-26T08:00:00.123Z")},
		{"unix_ms", int64(5), utc("1970-01-01T00:00:00.005Z")},
		{"unix_us", int64(1469520000123456), utc("2016-07-26T08:00:00.123Z")},
		{"rfc3339", "2016-07-26T10:00:00+02:00", utc("2016-07-26T08:00:00Z")},
		// MJD 60000 is 2023-02-25T00:00Z; JD = MJD + 2400000.5.
		{"mjd", int64(60000), utc("2023-02-25T00:00:00Z")},
		{"mjd", 60000.25, utc("2023-02-25T06:00:00Z")},
		{"mjd", 60000.5 + 1.0/86400, utc("2023-02-25T12:00:01Z")}, // float rounding below a µs rounds to the ms
		{"mjd", 40587.0, utc("1970-01-01T00:00:00Z")},
		{"jd", 2460000.5, utc("2023-02-25T00:00:00Z")},
		{"jd", 2440587.5, utc("1970-01-01T00:00:00Z")},
		{"2006-01-02T15:04:05", "2016-07-26T08:00:00", utc("2016-07-26T08:00:00Z")},
		{"02/01/2006 15:04", "26/07/2016 10:00", utc("2016-07-26T10:00:00Z")},
		{"2006-01-02 15:04:05.000 -0700", "2016-07-26 10:00:00.250 +0200", utc("2016-07-26T08:00:00.25Z")},
	} {
		f, err := ParseTimeFormat(tc.format)
		if err != nil {
			t.Fatalf("%s: %v", tc.format, err)
		}
		got, err := f.Parse(tc.in)
		if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("%s %v (%T): %v, %v; want %v", tc.format, tc.in, tc.in, got, err, tc.want)
		}
	}
}

// TestTimeFormatErrors: values a format cannot read, and numbers auto
// finds ambiguous, are errors wrapping ErrBadTime.
func TestTimeFormatErrors(t *testing.T) {
	for _, tc := range []struct {
		format    string
		in        any
		ambiguous bool
	}{
		{"auto", int64(60000), true}, // an MJD read as epoch seconds: 1970-01-01T16:40
		{"auto", 2460000.5, true},    // a JD
		{"auto", int64(0), true},
		{"auto", int64(-1), true},
		{"auto", int64(94694399), true}, // 1972-12-31T23:59:59
		{"auto", "yesterday", false},
		{"unix", "soon", false},
		{"unix", true, false},
		{"unix", nil, false},
		{"unix", map[string]any{}, false},
		{"unix", 1e300, false},
		{"mjd", "60000x", false},
		{"jd", -1e10, false},
		{"rfc3339", int64(1469520000), false},
		{"rfc3339", "2016-07-26 08:00:00", false},
		{"2006-01-02", "26.07.2016", false},
	} {
		f, err := ParseTimeFormat(tc.format)
		if err != nil {
			t.Fatalf("%s: %v", tc.format, err)
		}
		got, err := f.Parse(tc.in)
		if !errors.Is(err, ErrBadTime) || errors.Is(err, ErrAmbiguousTime) != tc.ambiguous {
			t.Errorf("%s %v: %v, %v; want an error wrapping ErrBadTime (ambiguous: %v)", tc.format, tc.in, got, err, tc.ambiguous)
		}
	}
	if _, err := TimeAuto.Parse(int64(94694400)); err != nil { // 1973-01-01
		t.Errorf("auto at 1973: %v", err)
	}
	for _, bad := range []string{"unixms", "seconds", "Jan _2 15:04:05", "15:04"} {
		if f, err := ParseTimeFormat(bad); err == nil {
			t.Errorf("--time-format %q accepted as %v", bad, f)
		}
	}
	for _, ok := range []string{"", "auto", "unix", "unix_ms", "unix_us", "rfc3339", "mjd", "jd", "2006-01-02"} {
		f, err := ParseTimeFormat(ok)
		if err != nil {
			t.Errorf("--time-format %q: %v", ok, err)
		}
		if ok != "" && f.String() != ok {
			t.Errorf("--time-format %q reads back as %q", ok, f)
		}
	}
}

// TestWindowOffset: windows start at Offset past the multiples of their
// hop, for tumbling and hopping windows, before 1970 too; an offset out of
// [0, hop) is refused.
func TestWindowOffset(t *testing.T) {
	night := Spec{Size: 24 * time.Hour, Offset: 12 * time.Hour}
	for _, tc := range []struct {
		spec  Spec
		at    string
		start []string
	}{
		{night, "2016-07-26T08:00:00Z", []string{"2016-07-25T12:00:00Z"}},
		{night, "2016-07-26T12:00:00Z", []string{"2016-07-26T12:00:00Z"}},
		{night, "2016-07-26T11:59:59.999Z", []string{"2016-07-25T12:00:00Z"}},
		{night, "1969-12-31T11:00:00Z", []string{"1969-12-30T12:00:00Z"}},
		{Spec{Size: time.Hour, Hop: 30 * time.Minute, Offset: 10 * time.Minute}, "2016-07-26T08:05:00Z", []string{"2016-07-26T07:10:00Z", "2016-07-26T07:40:00Z"}},
	} {
		if err := tc.spec.Validate(); err != nil {
			t.Fatal(err)
		}
		at, _ := time.Parse(time.RFC3339Nano, tc.at)
		got := tc.spec.Assign(nil, at)
		if len(got) != len(tc.start) {
			t.Fatalf("%v at %s: %v, want starts %v", tc.spec, tc.at, got, tc.start)
		}
		for i, w := range got {
			if FormatTime(w.Start) != tc.start[i] || w.End.Sub(w.Start) != tc.spec.Size {
				t.Errorf("%v at %s: window %d is %v, want it to start at %s", tc.spec, tc.at, i, w, tc.start[i])
			}
		}
	}
	if got := night.String(); got != "tumbling 24h0m0s from 12h0m0s" {
		t.Errorf("String: %q", got)
	}
	for _, bad := range []Spec{
		{Size: time.Hour, Offset: time.Hour},
		{Size: time.Hour, Offset: -time.Minute},
		{Size: time.Hour, Hop: 15 * time.Minute, Offset: 20 * time.Minute},
		{Size: time.Hour, Offset: time.Microsecond},
		{Gap: time.Minute, Offset: time.Second},
	} {
		if err := bad.Validate(); !errors.Is(err, ErrBadSpec) {
			t.Errorf("%+v: %v, want ErrBadSpec", bad, err)
		}
	}
}
