package windows

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
)

// ErrBadTime is wrapped by every error of ParseTime.
var ErrBadTime = errors.New("bad event time")

// epochMillisThreshold separates epoch seconds from epoch milliseconds:
// numbers above it are milliseconds. 1e11 seconds is the year 5138, while
// 1e11 milliseconds is 1973-03-03, so neither reading is plausible on the
// other side.
const epochMillisThreshold = 1e11

// Layouts of string event times besides RFC 3339, read as UTC.
const (
	layoutSpace = "2006-01-02 15:04:05"
)

// ParseTime reads an event time from a decoded field value: an integer or
// float of epoch seconds or milliseconds, or a string in RFC 3339 or
// "2006-01-02 15:04:05[.fff]" (UTC). Fractional epoch values keep
// millisecond precision. The result is in UTC. Any other value is an error
// wrapping ErrBadTime.
func ParseTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case int64:
		return fromEpochInt(x)
	case int:
		return fromEpochInt(int64(x))
	case *big.Int:
		return time.Time{}, fmt.Errorf("%w: %s is out of range for epoch seconds or milliseconds", ErrBadTime, x)
	case float64:
		return fromEpochFloat(x)
	case string:
		return parseTimeString(x)
	case nil:
		return time.Time{}, fmt.Errorf("%w: null", ErrBadTime)
	default:
		return time.Time{}, fmt.Errorf("%w: a %s is not a time", ErrBadTime, kindOf(v))
	}
}

// maxEpochMillis keeps times within years 0..9999, which RFC 3339 can print.
const (
	maxEpochMillis = 253402300799999
	minEpochMillis = -62167219200000
)

func fromEpochInt(n int64) (time.Time, error) {
	var ms int64
	if n > epochMillisThreshold || n < -epochMillisThreshold {
		ms = n
	} else {
		ms = n * 1000
	}
	if ms > maxEpochMillis || ms < minEpochMillis {
		return time.Time{}, fmt.Errorf("%w: %d is outside years 0-9999", ErrBadTime, n)
	}
	return time.UnixMilli(ms).UTC(), nil
}

func fromEpochFloat(f float64) (time.Time, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, fmt.Errorf("%w: %v", ErrBadTime, f)
	}
	ms := f
	if math.Abs(f) <= epochMillisThreshold {
		ms = f * 1000
	}
	ms = math.Floor(ms)
	if ms > maxEpochMillis || ms < minEpochMillis {
		return time.Time{}, fmt.Errorf("%w: %v is outside years 0-9999", ErrBadTime, f)
	}
	return time.UnixMilli(int64(ms)).UTC(), nil
}

func parseTimeString(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	// "2006-01-02 15:04:05" with an optional fraction of any length; Go's
	// parser accepts a fraction after the seconds even when the layout has
	// none, so one layout covers both.
	if len(s) >= len(layoutSpace) && s[10] == ' ' && !strings.ContainsAny(s[len(layoutSpace):], "Zz+- ") {
		if t, err := time.ParseInLocation(layoutSpace, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %q is neither RFC 3339 nor \"2006-01-02 15:04:05[.fff]\"", ErrBadTime, s)
}

// FormatTime prints t in UTC RFC 3339, with a fraction only when t has one.
func FormatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case bool:
		return "boolean"
	default:
		return fmt.Sprintf("%T", v)
	}
}
