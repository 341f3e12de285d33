package windows

import (
	"errors"
	"math"
	"time"
)

// Lateness rules (see DESIGN, "Watermark").
//
// Each source partition keeps the maximum event time it has seen so far. An
// event is late when its window ended at or before that maximum, as it was
// before the event, minus the allowed lateness D. The decision depends only
// on the records of the event's own partition before it, so the same input
// always yields the same late events, however it is timed or batched.
//
// Windows close on the watermark of the whole input: the minimum over source
// partitions of (max − D). A window closes when that watermark reaches its
// end; its final row is then written and it is never reopened.

// The outcomes of admitting an event's window, as tsdb names an
// appender's refusals: callers tell them apart with errors.Is.
var (
	// ErrLate: the window ended at or before its source partition's
	// maximum event time, as it was before the event, less the allowed
	// lateness (Clock.Admit). The decision depends on the partition's
	// records alone, so it is the same on every run.
	ErrLate = errors.New("late: the window ended before the partition's maximum event time less the allowed lateness")
	// ErrWindowClosed: the window was already closed by the watermark of
	// the whole input when its update arrived (Admit), which depends on
	// how the partitions' records interleave (idle flushes, say).
	ErrWindowClosed = errors.New("window closed: the watermark had passed its end")
)

// Admit reports whether window w may take an event of the partition whose
// clock c is, under allowed lateness d: nil, or ErrLate.
func (c Clock) Admit(w Window, d time.Duration) error {
	if c.Seen && !w.End.After(c.Max.Add(-d)) {
		return ErrLate
	}
	return nil
}

// Admit reports whether window w may take an update under watermark wm:
// nil, or ErrWindowClosed.
func Admit(w Window, wm time.Time) error {
	if Closed(w, wm) {
		return ErrWindowClosed
	}
	return nil
}

// Never is a watermark that closes every window.
var Never = time.UnixMilli(math.MaxInt64 / 2).UTC()

// Origin is the watermark of an input that ended without a single event:
// it closes no window of the present era, and leaves a later run of the
// group free to count.
var Origin = time.Unix(0, 0).UTC()

// Clock is the lateness state of one source partition: the maximum event
// time among its records up to and including Offset.
type Clock struct {
	Offset int64     // the last source offset observed; -1 before any
	Max    time.Time // the maximum event time so far; valid if Seen
	Seen   bool      // whether any event has been observed
}

// NewClock returns the clock of a partition that has seen nothing.
func NewClock() Clock { return Clock{Offset: -1} }

// Observe takes the event at offset with event time at into account.
func (c *Clock) Observe(offset int64, at time.Time) {
	c.Offset = offset
	if !c.Seen || at.After(c.Max) {
		c.Max, c.Seen = at, true
	}
}

// Skip records that offset carried no event time (a bad record).
func (c *Clock) Skip(offset int64) { c.Offset = offset }

// Mark is what a count partition knows of one source partition: its
// maximum event time as of some source offset, and when (wall time) the
// record that set it was read. Ended marks a partition that reached the end
// of a bounded run.
type Mark struct {
	Partition int32
	Offset    int64
	Max       time.Time
	Wall      time.Time
	Ended     bool
}

// Newer reports whether m carries later news than old of the same
// partition: a later offset, or the end at the same offset. A mark past
// the end of a bounded run (a later, live run of the group) is newer than
// that end.
func (m Mark) Newer(old Mark) bool {
	return m.Offset > old.Offset || (m.Ended && !old.Ended && m.Offset >= old.Offset)
}

// Closer holds what closes windows: the lateness, and the idleness rules.
type Closer struct {
	// Lateness is the allowed lateness D (--watermark).
	Lateness time.Duration
	// IdleTimeout, if positive, leaves a source partition silent for that
	// long out of the minimum (--idle-timeout), and a partition never heard
	// from once that long has passed since Since.
	IdleTimeout time.Duration
	// IdleFlush, if positive, advances the watermark of a source partition
	// silent for that long by the wall time since its last event
	// (--idle-flush). A flushing partition stays in the minimum even when
	// IdleTimeout would leave it out.
	IdleFlush time.Duration
	// Horizon is how far past an event's time its windows reach: the
	// window size, or the session gap. When every source partition has
	// ended (a bounded run), the watermark is the latest event time plus
	// Horizon, which closes every window holding an event and none beyond,
	// so that a later live run of the group counts its new windows. Zero
	// means Never.
	Horizon time.Duration
}

// Watermark returns the watermark of the whole input at wall time now:
// the minimum over source partitions 0..sources-1 of (max − lateness), as
// known from marks, following the idleness rules. since is when this
// process started to hear from these partitions. ok is false while some
// partition holds the watermark back without having set it (no mark yet;
// Waiting names them). When idleness has left every partition that was
// heard from out of the minimum, the watermark is the largest of theirs, as
// Flink's idleness does: input that stopped everywhere still closes its
// windows.
func (c Closer) Watermark(marks map[int32]Mark, sources int32, now, since time.Time) (wm time.Time, ok bool) {
	wm, live, ended, idle, endedSeen := Never, 0, 0, 0, 0
	var idleMax, endedMax time.Time
	for p := int32(0); p < sources; p++ {
		m, heard := marks[p]
		switch {
		case heard && m.Ended:
			ended++
			if !m.Max.IsZero() && (endedSeen == 0 || m.Max.After(endedMax)) {
				endedMax = m.Max
				endedSeen++
			}
			continue
		case !heard:
			if c.leftOut(now, since) {
				continue
			}
			return time.Time{}, false
		}
		silent := now.Sub(m.Wall)
		w := m.Max.Add(-c.Lateness)
		switch {
		case c.IdleFlush > 0 && silent >= c.IdleFlush:
			// Flushing counts as progress: the partition stays in.
			w = w.Add(silent)
		case c.IdleTimeout > 0 && silent >= c.IdleTimeout:
			if idle == 0 || w.After(idleMax) {
				idleMax = w
			}
			idle++
			continue
		}
		if w.Before(wm) {
			wm = w
		}
		live++
	}
	switch {
	case live > 0:
		return wm, true
	case idle > 0:
		return idleMax, true
	case ended == int(sources) && c.Horizon <= 0:
		return Never, true
	case ended == int(sources) && endedSeen == 0:
		return Origin, true
	case ended == int(sources):
		return endedMax.Add(c.Horizon), true
	}
	return time.Time{}, false
}

// Ended reports whether every source partition has ended: the watermark
// is final.
func Ended(marks map[int32]Mark, sources int32) bool {
	for p := int32(0); p < sources; p++ {
		if m, ok := marks[p]; !ok || !m.Ended {
			return false
		}
	}
	return true
}

// leftOut reports whether a partition never heard from no longer holds
// the watermark back.
func (c Closer) leftOut(now, since time.Time) bool {
	return c.IdleTimeout > 0 && now.Sub(since) >= c.IdleTimeout
}

// Waiting returns the source partitions that hold the watermark back
// without having set it: never heard from, and not yet left out by
// IdleTimeout.
func (c Closer) Waiting(marks map[int32]Mark, sources int32, now, since time.Time) []int32 {
	if c.leftOut(now, since) {
		return nil
	}
	var out []int32
	for p := int32(0); p < sources; p++ {
		if _, heard := marks[p]; !heard {
			out = append(out, p)
		}
	}
	return out
}

// Closed reports whether window w is closed under watermark wm.
func Closed(w Window, wm time.Time) bool { return !w.End.After(wm) }
