package windows

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func sessionsString(s Sessions) string {
	var b []string
	for _, x := range s.List {
		b = append(b, x.Window.Start.Format("15:04")+"-"+x.Window.End.Format("15:04")+"="+string(rune('0'+x.Count)))
	}
	return strings.Join(b, " ")
}

// TestSessionMerges adds events of one key with a 30m gap and checks the
// sessions, worked out by hand.
func TestSessionMerges(t *testing.T) {
	spec := SessionGap(30 * time.Minute)
	cases := []struct {
		name  string
		times []string
		want  string
	}{
		{"one event", []string{"08:00"}, "08:00-08:30=1"},
		{"within the gap extends", []string{"08:00", "08:20"}, "08:00-08:50=2"},
		{"at the gap is a new session", []string{"08:00", "08:30"}, "08:00-08:30=1 08:30-09:00=1"},
		{"out of order, before the start", []string{"08:20", "08:00"}, "08:00-08:50=2"},
		// 08:25 is within 30m of both 08:00 and 08:50.
		{"a bridging event merges two", []string{"08:00", "08:50", "08:25"}, "08:00-09:20=3"},
		{"bridging three", []string{"08:00", "08:50", "09:40", "08:25", "09:15"}, "08:00-10:10=5"},
		{"apart stays apart", []string{"08:00", "10:00"}, "08:00-08:30=1 10:00-10:30=1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s Sessions
			for i, hhmm := range c.times {
				w := spec.Assign(nil, at(hhmm))[0]
				if _, _, err := s.Add(w, 1, 0, int64(i)); err != nil {
					t.Fatal(err)
				}
			}
			if got := sessionsString(s); got != c.want {
				t.Fatalf("sessions %s, want %s", got, c.want)
			}
			data, err := s.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var back Sessions
			if err := back.UnmarshalBinary(data); err != nil || sessionsString(back) != c.want || back.Version != int64(len(c.times)) {
				t.Fatalf("round trip: %s v%d, %v", sessionsString(back), back.Version, err)
			}
		})
	}
}

func TestSessionReplacedAndClosed(t *testing.T) {
	spec := SessionGap(30 * time.Minute)
	var s Sessions
	for i, hhmm := range []string{"08:00", "08:50"} {
		if _, _, err := s.Add(spec.Assign(nil, at(hhmm))[0], 1, 0, int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	merged, replaced, err := s.Add(spec.Assign(nil, at("08:25"))[0], 1, 1, 0)
	if err != nil || len(replaced) != 2 || merged.Count != 3 || !merged.Window.Start.Equal(at("08:00")) {
		t.Fatalf("merged %+v replaced %v err %v", merged, replaced, err)
	}
	if !s.Has(1, 0) || s.Has(1, 1) || !s.Has(0, 1) {
		t.Fatal("Has")
	}
	s.List[0].State = Final
	before := sessionsString(s)
	if _, _, err := s.Add(spec.Assign(nil, at("09:10"))[0], 1, 1, 1); !errors.Is(err, ErrSessionClosed) {
		t.Fatalf("merge into a closed session: %v", err)
	}
	if sessionsString(s) != before || s.Has(1, 1) {
		t.Fatal("a refused add changed the row")
	}
}

// TestSessionSettle: sessions no event on time can reach leave the row,
// and a row with too many sessions closes its oldest early.
func TestSessionSettle(t *testing.T) {
	gap := 30 * time.Minute
	spec := SessionGap(gap)
	var s Sessions
	for i, hhmm := range []string{"08:00", "09:00", "10:00"} {
		if _, _, err := s.Add(spec.Assign(nil, at(hhmm))[0], 1, 0, int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Closed to 09:35: an event on time is after 09:05, so 08:00-08:30
	// can no longer grow; 09:00-09:30 can (an event at 09:10 joins it).
	out := s.Settle(at("09:35"), gap)
	if len(out) != 1 || !out[0].Window.Start.Equal(at("08:00")) || sessionsString(s) != "09:00-09:30=1 10:00-10:30=1" {
		t.Fatalf("took out %+v, left %s", out, sessionsString(s))
	}
	if !s.Left.Equal(at("08:30")) || s.Version != 4 {
		t.Fatalf("left %v, version %d", s.Left, s.Version)
	}
	if again := s.Settle(at("09:35"), gap); len(again) != 0 || s.Version != 4 {
		t.Fatalf("settled twice: %+v", again)
	}
	if _, _, err := s.Add(spec.Assign(nil, at("09:10"))[0], 1, 1, 0); err != nil {
		t.Fatal(err)
	}
	data, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back Sessions
	if err := back.UnmarshalBinary(data); err != nil || !back.Horizon.Equal(at("09:35")) || !back.Left.Equal(s.Left) {
		t.Fatalf("round trip: horizon %v left %v, %v", back.Horizon, back.Left, err)
	}

	var many Sessions
	base := at("00:00")
	for i := range MaxOpenSessions + 1 {
		w := spec.Assign(nil, base.Add(time.Duration(i)*time.Hour))[0]
		if _, _, err := many.Add(w, 1, 0, int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	out = many.Settle(time.Time{}, gap)
	if want := MaxOpenSessions + 1 - MaxOpenSessions*3/4; len(out) != want || len(many.List) != MaxOpenSessions*3/4 {
		t.Fatalf("over the bound: %d out, %d left; want %d out", len(out), len(many.List), want)
	}
	last := out[len(out)-1].Window
	if !many.Horizon.Equal(last.End.Add(gap)) {
		t.Fatalf("horizon %v, want %v", many.Horizon, last.End.Add(gap))
	}
	// The oldest session left is not closed: an event may still join it.
	if _, _, err := many.Add(Window{Start: last.End.Add(time.Hour - gap), End: last.End.Add(time.Hour)}, 1, 0, 99999); err != nil {
		t.Fatal(err)
	}
}
