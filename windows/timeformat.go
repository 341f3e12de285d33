package windows

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hourglass-stream/hourglass/codec"
)

// TimeFormat says how an event time field is read (--time-format). The
// zero value is TimeAuto.
type TimeFormat struct {
	kind   timeKind
	layout string // a Go layout, for kind timeLayout
}

type timeKind int

const (
	timeAuto timeKind = iota
	timeUnix
	timeUnixMs
	timeUnixUs
	timeRFC3339
	timeMJD
	timeJD
	timeLayout
)

var timeKindNames = [...]string{"auto", "unix", "unix_ms", "unix_us", "rfc3339", "mjd", "jd", "layout"}

// TimeAuto reads numbers as epoch seconds or milliseconds (whichever is
// plausible, see ParseTime) and strings as RFC 3339 or "2006-01-02
// 15:04:05[.fff]"; a number that would fall before AutoEarliest is
// ambiguous (ErrAmbiguousTime).
var TimeAuto = TimeFormat{}

// AutoEarliest is the earliest time TimeAuto reads a number as: a smaller
// one is more likely a Modified Julian Date (60000 is 2023 as an MJD and
// 1970-01-01T16:40 as epoch seconds), a Julian Date or a duration than an
// event of 1970-1972.
var AutoEarliest = time.Date(1973, 1, 1, 0, 0, 0, 0, time.UTC)

// ErrAmbiguousTime is wrapped, with ErrBadTime, when TimeAuto meets a
// number it would read as a time before AutoEarliest.
var ErrAmbiguousTime = errors.New("ambiguous event time")

// The epochs of Modified Julian Dates and Julian Dates, as days before the
// Unix epoch: MJD 40587 and JD 2440587.5 are 1970-01-01T00:00Z.
const (
	mjdUnixEpoch = 40587
	jdUnixEpoch  = 2440587.5
)

// ParseTimeFormat reads --time-format: auto, unix (epoch seconds),
// unix_ms, unix_us, rfc3339, mjd (Modified Julian Date, days), jd (Julian
// Date, days) or a Go layout such as "2006-01-02T15:04:05.000" or
// "02/01/2006 15:04" (read in UTC unless it has a zone).
func ParseTimeFormat(s string) (TimeFormat, error) {
	for k, name := range timeKindNames[:timeLayout] {
		if s == name {
			return TimeFormat{kind: timeKind(k)}, nil
		}
	}
	if s == "" {
		return TimeAuto, nil
	}
	// A layout writes the reference time's year; one that does not (a
	// typo of a name, "unixms") would read every record as an error.
	if !strings.Contains(s, "2006") && !strings.Contains(s, "06") {
		return TimeFormat{}, fmt.Errorf("--time-format %q: want auto, unix, unix_ms, unix_us, rfc3339, mjd, jd, or a Go layout of the reference time 2006-01-02T15:04:05Z07:00", s)
	}
	ref := time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)
	back, err := time.Parse(s, ref.Format(s))
	if err != nil || back.Year() != 2006 {
		return TimeFormat{}, fmt.Errorf("--time-format %q: not a Go layout that reads back what it writes (see https://pkg.go.dev/time#pkg-constants)", s)
	}
	return TimeFormat{kind: timeLayout, layout: s}, nil
}

// String returns the format as ParseTimeFormat reads it.
func (f TimeFormat) String() string {
	if f.kind == timeLayout {
		return f.layout
	}
	return timeKindNames[f.kind]
}

// Parse reads an event time from a decoded field value in format f. The
// result is in UTC, with millisecond precision. Any value that is not a
// time in f is an error wrapping ErrBadTime.
func (f TimeFormat) Parse(v any) (time.Time, error) {
	switch f.kind {
	case timeAuto:
		t, err := ParseTime(v)
		if err == nil && t.Before(AutoEarliest) {
			if _, num := number(v); num {
				return time.Time{}, fmt.Errorf("%w: %w: %v read as epoch %s is %s, before %d: if it is epoch seconds set --time-format unix; a Modified Julian Date, mjd; a Julian Date, jd",
					ErrBadTime, ErrAmbiguousTime, v, unitOf(v), FormatTime(t), AutoEarliest.Year())
			}
		}
		return t, err
	case timeRFC3339, timeLayout:
		s, ok := v.(string)
		if !ok {
			return time.Time{}, fmt.Errorf("%w: a %s, not a string in --time-format %s", ErrBadTime, kindOf(v), f)
		}
		layout := f.layout
		if f.kind == timeRFC3339 {
			layout = time.RFC3339Nano
		}
		t, err := time.ParseInLocation(layout, s, time.UTC)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: %q is not in --time-format %s", ErrBadTime, s, f)
		}
		return inYears(t.UTC().Truncate(time.Millisecond), s)
	}
	x, ok := number(v)
	if !ok {
		return time.Time{}, fmt.Errorf("%w: a %s, not a number in --time-format %s", ErrBadTime, kindOf(v), f)
	}
	var ms float64
	switch f.kind {
	case timeUnix:
		ms = x * 1e3
	case timeUnixMs:
		ms = x
	case timeUnixUs:
		ms = x / 1e3
	case timeMJD:
		ms = (x - mjdUnixEpoch) * 86400e3
	case timeJD:
		ms = (x - jdUnixEpoch) * 86400e3
	}
	if f.kind == timeMJD || f.kind == timeJD {
		// A day count carries float rounding of a few µs: the nearest
		// millisecond, not the one below, is the time it names.
		ms = math.Round(ms)
	}
	if math.IsNaN(ms) || ms > maxEpochMillis || ms < minEpochMillis {
		return time.Time{}, fmt.Errorf("%w: %v in --time-format %s is outside years 0-9999", ErrBadTime, v, f)
	}
	return time.UnixMilli(int64(math.Floor(ms))).UTC(), nil
}

// number returns a numeric field value, or a string of one, as a float64.
// Integers beyond 2^53 lose precision, far below a millisecond for any
// epoch count within years 0-9999 but microseconds.
func number(v any) (float64, bool) {
	if s, ok := v.(string); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return codec.Number(v)
}

// unitOf names how TimeAuto read the number v.
func unitOf(v any) string {
	if x, _ := number(v); math.Abs(x) > epochMillisThreshold {
		return "milliseconds"
	}
	return "seconds"
}

func inYears(t time.Time, s string) (time.Time, error) {
	if t.Before(Earliest) || t.After(Latest) {
		return time.Time{}, fmt.Errorf("%w: %q is outside years 0-9999", ErrBadTime, s)
	}
	return t, nil
}
