package windows

import (
	"errors"
	"math"
	"math/big"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string // RFC 3339; empty means an error
	}{
		{"epoch seconds", int64(1469501107), "2016-07-26T02:45:07Z"},
		{"epoch seconds as float", 1469501107.0, "2016-07-26T02:45:07Z"},
		{"fractional epoch seconds", 1469501107.25, "2016-07-26T02:45:07.25Z"},
		{"epoch milliseconds", int64(1469501107123), "2016-07-26T02:45:07.123Z"},
		{"threshold itself is seconds", int64(1e11), "5138-11-16T09:46:40Z"},
		{"just above the threshold is milliseconds", int64(1e11 + 1), "1973-03-03T09:46:40.001Z"},
		{"zero", int64(0), "1970-01-01T00:00:00Z"},
		{"negative seconds", int64(-3600), "1969-12-31T23:00:00Z"},
		{"RFC 3339 UTC", "2016-07-26T02:45:07Z", "2016-07-26T02:45:07Z"},
		{"RFC 3339 offset", "2016-07-26T04:45:07+02:00", "2016-07-26T02:45:07Z"},
		{"RFC 3339 fraction", "2016-07-26T02:45:07.5Z", "2016-07-26T02:45:07.5Z"},
		{"space layout", "2016-07-26 02:45:07", "2016-07-26T02:45:07Z"},
		{"space layout with millis", "2016-07-26 02:45:07.123", "2016-07-26T02:45:07.123Z"},
		{"space layout with zone is rejected", "2016-07-26 02:45:07 +0200", ""},
		{"date only", "2016-07-26", ""},
		{"epoch as a string is not guessed", "1469501107", ""},
		{"empty string", "", ""},
		{"null", nil, ""},
		{"boolean", true, ""},
		{"object", map[string]any{}, ""},
		{"NaN", math.NaN(), ""},
		{"infinity", math.Inf(1), ""},
		{"beyond year 9999", int64(math.MaxInt64), ""},
		{"big integer", new(big.Int).Lsh(big.NewInt(1), 70), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTime(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("ParseTime(%v) = %v, want an error", tt.in, got)
				}
				if !errors.Is(err, ErrBadTime) {
					t.Fatalf("error %v does not wrap ErrBadTime", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTime(%v): %v", tt.in, err)
			}
			if !got.Equal(ts(tt.want)) || got.Location() != time.UTC {
				t.Fatalf("ParseTime(%v) = %v, want %s UTC", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzParseTime: ParseTime never panics, returns UTC, and an accepted time
// survives FormatTime → ParseTime unchanged.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2016-07-26T02:45:07Z", "2016-07-26 02:45:07.123", "x", "", "2016-07-26 02:45:07Z"} {
		f.Add(s, int64(0))
	}
	f.Add("", int64(1469501107))
	f.Add("", int64(1469501107123))
	f.Fuzz(func(t *testing.T, s string, n int64) {
		for _, in := range []any{s, n, float64(n) / 7} {
			got, err := ParseTime(in)
			if err != nil {
				if !errors.Is(err, ErrBadTime) {
					t.Fatalf("ParseTime(%v): error %v does not wrap ErrBadTime", in, err)
				}
				continue
			}
			if got.Location() != time.UTC {
				t.Fatalf("ParseTime(%v) not in UTC", in)
			}
			again, err := ParseTime(FormatTime(got))
			if err != nil || !again.Equal(got) {
				t.Fatalf("round trip of %v: %v, %v", got, again, err)
			}
		}
	})
}
