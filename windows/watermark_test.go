package windows

import (
	"errors"
	"testing"
	"time"
)

func at(hhmm string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", "2016-07-26 "+hhmm)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// TestLateSequences replays one partition's event times through a Clock and
// checks which events are late, worked out by hand: 1h tumbling windows,
// lateness 10m.
func TestLateSequences(t *testing.T) {
	spec := Tumbling(time.Hour)
	cases := []struct {
		name  string
		times []string
		late  []bool
	}{
		{"in order", []string{"08:00", "08:30", "09:05", "10:20"}, []bool{false, false, false, false}},
		// max 09:05 → watermark 08:55: the 08:00 window (end 09:00) is open.
		{"out of order within the watermark", []string{"08:10", "09:05", "08:59"}, []bool{false, false, false}},
		// max 09:10 → watermark 09:00: the 08:00 window ended at 09:00, late.
		{"late beyond it", []string{"08:10", "09:10", "08:59", "09:30"}, []bool{false, false, true, false}},
		// the event that moves the max is judged on the max before it.
		{"a jump is judged before it counts", []string{"08:10", "12:00", "11:55", "10:59"}, []bool{false, false, false, true}},
		{"first event is never late", []string{"01:00"}, []bool{false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := NewClock()
			for i, s := range c.times {
				w := spec.Assign(nil, at(s))[0]
				if got := errors.Is(clock.Admit(w, 10*time.Minute), ErrLate); got != c.late[i] {
					t.Errorf("event %d at %s: late = %v, want %v", i, s, got, c.late[i])
				}
				clock.Observe(int64(i), at(s))
			}
		})
	}
}

// TestLateHopping: an event of hopping windows can be late for its earlier
// windows and on time for its later ones.
func TestLateHopping(t *testing.T) {
	spec := Hopping(time.Hour, 30*time.Minute)
	clock := NewClock()
	clock.Observe(0, at("10:05"))
	var late []string
	for _, w := range spec.Assign(nil, at("09:40")) {
		if clock.Admit(w, 10*time.Minute) != nil {
			late = append(late, w.String())
		}
	}
	// windows [09:00,10:00) and [09:30,10:30); watermark 09:55.
	if len(late) != 0 {
		t.Fatalf("late %v, want none", late)
	}
	clock.Observe(1, at("10:20"))
	late = late[:0]
	for _, w := range spec.Assign(nil, at("09:40")) {
		if clock.Admit(w, 10*time.Minute) != nil {
			late = append(late, w.String())
		}
	}
	if want := "[2016-07-26T09:00:00Z, 2016-07-26T10:00:00Z)"; len(late) != 1 || late[0] != want {
		t.Fatalf("late %v, want only %s", late, want)
	}
}

func TestWatermarkOfTheInput(t *testing.T) {
	now := at("12:00")
	since := now.Add(-time.Hour)
	mark := func(p int32, max string, silent time.Duration) Mark {
		return Mark{Partition: p, Max: at(max), Wall: now.Add(-silent)}
	}
	cases := []struct {
		name  string
		c     Closer
		marks []Mark
		since time.Time
		want  string // "" means no watermark
	}{
		{"minimum over partitions", Closer{Lateness: 10 * time.Minute},
			[]Mark{mark(0, "09:00", 0), mark(1, "11:00", 0)}, since, "08:50"},
		{"a partition not heard from holds it back", Closer{Lateness: 10 * time.Minute},
			[]Mark{mark(0, "09:00", 0)}, since, ""},
		{"until the idle timeout", Closer{Lateness: 10 * time.Minute, IdleTimeout: 30 * time.Minute},
			[]Mark{mark(0, "09:00", 0)}, since, "08:50"},
		{"a slow partition holds back a fast one", Closer{Lateness: 0},
			[]Mark{mark(0, "09:00", 10*time.Minute), mark(1, "11:00", 0)}, since, "09:00"},
		{"an idle partition leaves the minimum", Closer{IdleTimeout: 5 * time.Minute},
			[]Mark{mark(0, "09:00", 10*time.Minute), mark(1, "11:00", 0)}, since, "11:00"},
		// Before: no watermark ever once all input stopped, so --emit final
		// never emitted.
		{"all idle: the largest of theirs, as Flink's idleness", Closer{IdleTimeout: 5 * time.Minute},
			[]Mark{mark(0, "09:00", 10*time.Minute), mark(1, "11:00", 10*time.Minute)}, since, "11:00"},
		{"one partition with records, idle, the other never heard from", Closer{Lateness: 10 * time.Minute, IdleTimeout: 5 * time.Minute},
			[]Mark{mark(0, "09:00", 10*time.Minute)}, since, "08:50"},
		{"never heard from, within the idle timeout", Closer{IdleTimeout: 5 * time.Hour},
			[]Mark{mark(0, "09:00", 10*time.Minute)}, since, ""},
		{"idle flush advances by the silence", Closer{Lateness: 10 * time.Minute, IdleFlush: 5 * time.Minute},
			[]Mark{mark(0, "09:00", 20*time.Minute), mark(1, "11:00", 0)}, since, "09:10"},
		{"not before the idle flush delay", Closer{Lateness: 10 * time.Minute, IdleFlush: 30 * time.Minute},
			[]Mark{mark(0, "09:00", 20*time.Minute), mark(1, "11:00", 0)}, since, "08:50"},
		{"a flushing partition stays in despite the idle timeout", Closer{IdleTimeout: time.Minute, IdleFlush: time.Minute},
			[]Mark{mark(0, "09:00", 10*time.Minute), mark(1, "11:00", 10*time.Minute)}, since, "09:10"},
		{"ended partitions leave it", Closer{},
			[]Mark{{Partition: 0, Ended: true}, mark(1, "11:00", 0)}, since, "11:00"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			marks := map[int32]Mark{}
			for _, m := range c.marks {
				marks[m.Partition] = m
			}
			wm, ok := c.c.Watermark(marks, 2, now, c.since)
			switch {
			case c.want == "" && ok:
				t.Fatalf("watermark %v, want none", wm)
			case c.want != "" && !ok:
				t.Fatalf("no watermark, want %s", c.want)
			case c.want != "" && !wm.Equal(at(c.want)):
				t.Fatalf("watermark %v, want %s", wm, c.want)
			}
		})
	}
	ended := map[int32]Mark{0: {Ended: true}, 1: {Partition: 1, Ended: true}}
	if wm, ok := (Closer{}).Watermark(ended, 2, now, since); !ok || !Closed(Window{Start: at("11:00"), End: Never}, wm) {
		t.Fatalf("all partitions ended: watermark %v, %v; want one that closes everything", wm, ok)
	}
	if wm, ok := (Closer{Horizon: time.Hour}).Watermark(ended, 2, now, since); !ok || !wm.Equal(Origin) {
		t.Fatalf("all partitions ended without events: watermark %v, %v; want Origin", wm, ok)
	}
	// The end of a bounded run closes the windows of its last events, and
	// no later ones.
	ended[1] = Mark{Partition: 1, Ended: true, Max: at("10:30")}
	ended[0] = Mark{Partition: 0, Ended: true, Max: at("09:10")}
	wm, ok := (Closer{Lateness: 10 * time.Minute, Horizon: time.Hour}).Watermark(ended, 2, now, since)
	if !ok || !errors.Is(Admit(Window{Start: at("10:00"), End: at("11:00")}, wm), ErrWindowClosed) || Admit(Window{Start: at("11:00"), End: at("12:00")}, wm) != nil {
		t.Fatalf("all partitions ended: watermark %v, %v; want 11:30, closing 10:00–11:00 and not 11:00–12:00", wm, ok)
	}
	if !Ended(ended, 2) || Ended(map[int32]Mark{0: ended[0]}, 2) {
		t.Fatal("Ended")
	}
}

func TestWaiting(t *testing.T) {
	now := time.Date(2016, 7, 26, 12, 0, 0, 0, time.UTC)
	marks := map[int32]Mark{1: {Partition: 1, Max: now, Wall: now}}
	c := Closer{IdleTimeout: time.Minute}
	if got := c.Waiting(marks, 3, now, now.Add(-30*time.Second)); len(got) != 2 || got[0] != 0 || got[1] != 2 {
		t.Fatalf("within the idle timeout: waiting for %v, want [0 2]", got)
	}
	if got := c.Waiting(marks, 3, now, now.Add(-time.Minute)); got != nil {
		t.Fatalf("past the idle timeout: waiting for %v, want none", got)
	}
	if got := (Closer{}).Waiting(marks, 3, now, now.Add(-time.Hour)); len(got) != 2 {
		t.Fatalf("no idle timeout: waiting for %v, want [0 2]", got)
	}
}

func TestMarkNewer(t *testing.T) {
	a := Mark{Offset: 5}
	if !(Mark{Offset: 6}).Newer(a) || (Mark{Offset: 5}).Newer(a) || (Mark{Offset: 4}).Newer(a) {
		t.Fatal("offset order")
	}
	if !(Mark{Offset: 5, Ended: true}).Newer(a) || (Mark{Offset: 5}).Newer(Mark{Offset: 5, Ended: true}) {
		t.Fatal("the end is news")
	}
	// A live run of the group after a bounded one reads past its end.
	// Before, nothing was newer than an end, so the live run's marks were
	// dropped and its events judged against a watermark that had closed
	// every window.
	if !(Mark{Offset: 9}).Newer(Mark{Offset: 3, Ended: true}) || (Mark{Offset: 2}).Newer(Mark{Offset: 3, Ended: true}) {
		t.Fatal("a mark past the end of a bounded run")
	}
}
