package windows

import (
	"errors"
	"fmt"
	"time"
)

// Window is the half-open event-time interval [Start, End), in UTC.
type Window struct {
	Start time.Time
	End   time.Time
}

// Contains reports whether t falls in [w.Start, w.End).
func (w Window) Contains(t time.Time) bool {
	return !t.Before(w.Start) && t.Before(w.End)
}

// String formats the window as "[start, end)" in RFC 3339.
func (w Window) String() string {
	return "[" + FormatTime(w.Start) + ", " + FormatTime(w.End) + ")"
}

// Spec describes how events are assigned to windows. The zero value is not
// valid; Validate says why.
type Spec struct {
	// Size is the length of every window. It must be positive and a whole
	// number of milliseconds.
	Size time.Duration
	// Hop is how far consecutive windows are apart. Zero (or Hop == Size)
	// means tumbling windows; otherwise Hop must divide Size.
	Hop time.Duration
	// Gap, if positive, makes session windows instead (Size and Hop must
	// be zero): an event at t proposes the session [t, t+Gap), and the
	// sessions of one key that overlap merge (see Sessions).
	Gap time.Duration
	// Offset shifts where windows start: at Offset + k*Hop from the Unix
	// epoch instead of k*Hop (--window-offset 12h makes daily windows run
	// from noon UTC, an observing night). 0 <= Offset < Hop.
	Offset time.Duration
}

// String describes the spec: "tumbling 1h0m0s", "hopping 1h0m0s every
// 15m0s" or "sessions, gap 30m0s".
func (s Spec) String() string {
	switch {
	case s.IsSession():
		return "sessions, gap " + s.Gap.String()
	case s.Hop > 0 && s.Hop != s.Size:
		return "hopping " + s.Size.String() + " every " + s.Hop.String() + s.offsetString()
	}
	return "tumbling " + s.Size.String() + s.offsetString()
}

func (s Spec) offsetString() string {
	if s.Offset == 0 {
		return ""
	}
	return " from " + s.Offset.String()
}

// SessionGap returns the spec of session windows with the given gap.
func SessionGap(gap time.Duration) Spec { return Spec{Gap: gap} }

// IsSession reports whether s describes session windows.
func (s Spec) IsSession() bool { return s.Gap > 0 }

// Tumbling returns the spec of non-overlapping windows of the given size.
func Tumbling(size time.Duration) Spec { return Spec{Size: size} }

// Hopping returns the spec of windows of the given size starting every hop.
func Hopping(size, hop time.Duration) Spec { return Spec{Size: size, Hop: hop} }

// ErrBadSpec is wrapped by every error of Spec.Validate.
var ErrBadSpec = errors.New("bad window spec")

// MaxWindowsPerEvent bounds how many hopping windows one event may fall
// into (size/hop): each is a row update, and `--window 24h --hop 1ms`
// (86.4 million per event) would exhaust memory at the first event.
const MaxWindowsPerEvent = 1000

// Validate rejects specs that cannot assign windows.
func (s Spec) Validate() error {
	switch {
	case s.Gap < 0:
		return fmt.Errorf("%w: session gap must be positive, got %v", ErrBadSpec, s.Gap)
	case s.Gap > 0 && (s.Size != 0 || s.Hop != 0):
		return fmt.Errorf("%w: session windows (gap %v) take no window size or hop", ErrBadSpec, s.Gap)
	case s.Gap%time.Millisecond != 0:
		return fmt.Errorf("%w: session gap %v is not a whole number of milliseconds", ErrBadSpec, s.Gap)
	case s.Gap > 0 && s.Offset != 0:
		return fmt.Errorf("%w: session windows start at their first event; they take no offset", ErrBadSpec)
	case s.Gap > 0:
		return nil
	case s.Size <= 0:
		return fmt.Errorf("%w: window size must be positive, got %v", ErrBadSpec, s.Size)
	case s.Size%time.Millisecond != 0:
		return fmt.Errorf("%w: window size %v is not a whole number of milliseconds", ErrBadSpec, s.Size)
	case s.Hop < 0:
		return fmt.Errorf("%w: hop must not be negative, got %v", ErrBadSpec, s.Hop)
	case s.Hop > s.Size:
		return fmt.Errorf("%w: hop %v is longer than the window %v: events between windows would be lost", ErrBadSpec, s.Hop, s.Size)
	case s.Hop > 0 && s.Size%s.Hop != 0:
		return fmt.Errorf("%w: hop %v does not divide the window size %v", ErrBadSpec, s.Hop, s.Size)
	case s.Hop > 0 && s.Size/s.Hop > MaxWindowsPerEvent:
		return fmt.Errorf("%w: window %v every %v puts each event in %d windows; at most %d are allowed (a longer hop)", ErrBadSpec, s.Size, s.Hop, s.Size/s.Hop, MaxWindowsPerEvent)
	case s.Offset < 0 || s.Offset >= s.Step():
		return fmt.Errorf("%w: window offset %v must be at least 0 and less than %v, the time between window starts", ErrBadSpec, s.Offset, s.Step())
	case s.Offset%time.Millisecond != 0:
		return fmt.Errorf("%w: window offset %v is not a whole number of milliseconds", ErrBadSpec, s.Offset)
	}
	return nil
}

// Earliest and Latest bound the times a window may start and end at:
// years 0000 to 9999, what RFC 3339 (and so row keys and output rows) can
// write.
var (
	Earliest = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	Latest   = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// ErrOutOfRange is wrapped when an event's windows would start before
// Earliest or end after Latest.
var ErrOutOfRange = errors.New("window outside the years 0000 to 9999")

// InRange returns an error wrapping ErrOutOfRange unless every window of ws
// lies within Earliest and Latest.
func InRange(ws []Window) error {
	for _, w := range ws {
		if w.Start.Before(Earliest) || w.End.After(Latest) {
			return fmt.Errorf("%w: %s to %s", ErrOutOfRange, w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339))
		}
	}
	return nil
}

// Step is the time between window starts: the hop, or the size of
// tumbling windows (zero for session windows).
func (s Spec) Step() time.Duration {
	if s.Hop == 0 {
		return s.Size
	}
	return s.Hop
}

// Assign returns the windows that contain t, earliest first: one for
// tumbling windows, Size/Hop for hopping ones, and for session windows the
// session [t, t+Gap) that t proposes. It appends to dst to let hot
// paths reuse a slice. The spec must be valid.
func (s Spec) Assign(dst []Window, t time.Time) []Window {
	if s.IsSession() {
		t = time.UnixMilli(t.UnixMilli()).UTC()
		return append(dst, Window{Start: t, End: t.Add(s.Gap)})
	}
	// In epoch milliseconds (a valid spec's durations are whole ones),
	// which costs a third of time.Time's arithmetic per event. The last
	// window containing t starts at t floored to the hop; the earlier
	// ones start hop, 2*hop, ... before it while they still reach t.
	hop, size, offset := s.Step().Milliseconds(), s.Size.Milliseconds(), s.Offset.Milliseconds()
	last := floorMilli(t.UnixMilli()-offset, hop) + offset
	for start := last - size + hop; start <= last; start += hop {
		dst = append(dst, Window{Start: time.UnixMilli(start).UTC(), End: time.UnixMilli(start + size).UTC()})
	}
	return dst
}

// WindowAt returns the window of this spec that starts at start.
func (s Spec) WindowAt(start time.Time) Window {
	return Window{Start: start.UTC(), End: start.UTC().Add(s.Size)}
}

// floorMilli rounds ms down to a multiple of step since the Unix epoch,
// also before 1970 (time.Truncate rounds towards the zero time, year 1,
// which is not epoch-aligned for every step).
func floorMilli(ms, step int64) int64 {
	r := ms % step
	if r < 0 {
		r += step
	}
	return ms - r
}
