package windows

import (
	"errors"
	"testing"
	"time"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestAssignTumbling(t *testing.T) {
	spec := Tumbling(time.Hour)
	tests := []struct {
		name  string
		at    string
		start string
	}{
		{"first event of the classic set", "2016-07-26T02:45:07Z", "2016-07-26T02:00:00Z"},
		{"start is inclusive", "2016-07-26T03:00:00Z", "2016-07-26T03:00:00Z"},
		{"end is exclusive", "2016-07-26T03:59:59.999Z", "2016-07-26T03:00:00Z"},
		{"epoch", "1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"},
		{"before the epoch floors down", "1969-12-31T23:30:00Z", "1969-12-31T23:00:00Z"},
		{"before the epoch, on the boundary", "1969-12-31T23:00:00Z", "1969-12-31T23:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := spec.Assign(nil, ts(tt.at))
			if len(got) != 1 {
				t.Fatalf("got %d windows, want 1", len(got))
			}
			w := got[0]
			if !w.Start.Equal(ts(tt.start)) || !w.End.Equal(ts(tt.start).Add(time.Hour)) {
				t.Fatalf("got %v, want start %s", w, tt.start)
			}
			if !w.Contains(ts(tt.at)) {
				t.Fatalf("%v does not contain %s", w, tt.at)
			}
		})
	}
}

func TestAssignTimezoneIndependent(t *testing.T) {
	loc := time.FixedZone("UTC+05:30", 5*3600+1800)
	at := ts("2016-07-26T02:45:07Z").In(loc)
	got := Tumbling(time.Hour).Assign(nil, at)
	if want := ts("2016-07-26T02:00:00Z"); !got[0].Start.Equal(want) || got[0].Start.Location() != time.UTC {
		t.Fatalf("got %v (%v), want %v in UTC", got[0].Start, got[0].Start.Location(), want)
	}
}

func TestAssignHopping(t *testing.T) {
	spec := Hopping(time.Hour, 15*time.Minute)
	got := spec.Assign(nil, ts("2016-07-26T02:45:07Z"))
	want := []string{"2016-07-26T02:00:00Z", "2016-07-26T02:15:00Z", "2016-07-26T02:30:00Z", "2016-07-26T02:45:00Z"}
	if len(got) != len(want) {
		t.Fatalf("got %d windows %v, want %d", len(got), got, len(want))
	}
	for i, w := range got {
		if !w.Start.Equal(ts(want[i])) || w.End.Sub(w.Start) != time.Hour {
			t.Errorf("window %d: got %v, want start %s", i, w, want[i])
		}
		if !w.Contains(ts("2016-07-26T02:45:07Z")) {
			t.Errorf("window %v does not contain the event", w)
		}
	}
}

// TestAssignExhaustive checks, for every millisecond around several
// boundaries, that each event lands in exactly Size/Hop windows that contain
// it and that no other aligned window contains it.
func TestAssignExhaustive(t *testing.T) {
	specs := []Spec{Tumbling(10 * time.Millisecond), Hopping(10*time.Millisecond, 2*time.Millisecond), Hopping(9*time.Millisecond, 3*time.Millisecond),
		{Size: 10 * time.Millisecond, Offset: 3 * time.Millisecond}, {Size: 10 * time.Millisecond, Hop: 5 * time.Millisecond, Offset: 2 * time.Millisecond}}
	for _, spec := range specs {
		for ms := int64(-50); ms <= 50; ms++ {
			at := time.UnixMilli(ms)
			got := spec.Assign(nil, at)
			if want := int(spec.Size / spec.Step()); len(got) != want {
				t.Fatalf("%+v at %d ms: %d windows, want %d", spec, ms, len(got), want)
			}
			for _, w := range got {
				if !w.Contains(at) {
					t.Fatalf("%+v at %d ms: %v does not contain it", spec, ms, w)
				}
				if w.End.Sub(w.Start) != spec.Size || (w.Start.UnixMilli()-spec.Offset.Milliseconds())%spec.Step().Milliseconds() != 0 {
					t.Fatalf("%+v: window %v is not aligned", spec, w)
				}
			}
		}
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		ok   bool
	}{
		{"tumbling hour", Tumbling(time.Hour), true},
		{"hopping", Hopping(time.Hour, 15*time.Minute), true},
		{"hop equals size", Hopping(time.Hour, time.Hour), true},
		{"zero size", Spec{}, false},
		{"negative size", Tumbling(-time.Hour), false},
		{"sub-millisecond", Tumbling(time.Microsecond), false},
		{"hop longer than size", Hopping(time.Minute, time.Hour), false},
		{"hop does not divide", Hopping(time.Hour, 7*time.Minute), false},
		// 86.4 million windows per event exhausted memory before.
		{"a tiny hop", Hopping(24*time.Hour, time.Millisecond), false},
		{"1000 windows per event", Hopping(1000*time.Second, time.Second), true},
		{"1001 windows per event", Hopping(1001*time.Second, time.Second), false},
		{"negative hop", Hopping(time.Hour, -time.Minute), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrBadSpec) {
				t.Fatalf("error %v does not wrap ErrBadSpec", err)
			}
		})
	}
}

// TestInRange: windows must start and end within the years 0000 to 9999,
// what RFC 3339 row keys and output rows can write.
func TestInRange(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	for _, tc := range []struct {
		name string
		spec Spec
		t    time.Time
		ok   bool
	}{
		{"ordinary", Tumbling(time.Hour), at("2016-07-26T08:30:00Z"), true},
		{"last hour of 9999", Tumbling(time.Hour), at("9999-12-31T22:30:00Z"), true},
		{"ends in year 10000", Tumbling(time.Hour), at("9999-12-31T23:30:00Z"), false},
		{"an offset moves it past 9999", Tumbling(time.Hour), at("9999-12-31T23:00:00-23:00"), false},
		{"hopping into year -1", Hopping(2*time.Hour, time.Hour), at("0000-01-01T00:30:00Z"), false},
		{"first hour of year 0", Tumbling(time.Hour), at("0000-01-01T00:30:00Z"), true},
		{"a session past 9999", SessionGap(time.Hour), at("9999-12-31T23:30:00Z"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := InRange(tc.spec.Assign(nil, tc.t))
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrOutOfRange)) {
				t.Fatalf("InRange = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
