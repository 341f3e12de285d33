package windows

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"
)

// Session is one session window of a key: its extent, count and state.
type Session struct {
	Window Window
	Count  int64
	State  RowState
}

// Sessions is the table row of one group key under session windows: the
// sessions that may still grow, ordered by start and never overlapping,
// and (as in Row) the last source offset applied per source partition.
// Version grows with every change, so recovery can tell a newer copy of
// the row.
//
// A session no event may reach any more leaves the row (Settle) for a
// window row of its own, so the row stays small however many sessions the
// key has had. Horizon is how far the row is closed: an event whose
// proposed session ends at or before it is late. Left is the end of the
// latest session that left the row (moved, or expired).
type Sessions struct {
	List    []Session
	Applied map[int32]int64
	Version int64
	Horizon time.Time
	Left    time.Time
}

// MaxOpenSessions is the most sessions a key's row holds. Past it, the
// oldest are closed early (Settle), and an event that would have joined
// them is late: a row rewritten on every event must stay small, whatever
// the watermark does.
const MaxOpenSessions = 1000

// Settle closes the row up to horizon, and further when it holds more than
// MaxOpenSessions sessions, and takes out every session no event may reach
// any more: one ending at or before the row's horizon less gap, since an
// event on time proposes a session that ends after the horizon, so starts
// after that. It returns the sessions it took out, oldest first.
func (s *Sessions) Settle(horizon time.Time, gap time.Duration) (out []Session) {
	if horizon.After(s.Horizon) {
		s.Horizon = horizon
	}
	if len(s.List) > MaxOpenSessions {
		// Close a quarter of the bound at once, not one session per event.
		last := s.List[len(s.List)-MaxOpenSessions*3/4-1]
		if h := last.Window.End.Add(gap); h.After(s.Horizon) {
			s.Horizon = h
		}
	}
	if s.Horizon.IsZero() {
		return nil
	}
	// Sessions are ordered by start and never overlap, so by end too: the
	// ones to take out are the first n.
	n := 0
	for n < len(s.List) && !s.List[n].Window.End.After(s.Horizon.Add(-gap)) {
		n++
	}
	if n == 0 {
		return nil
	}
	out, s.List = s.List[:n:n], s.List[n:]
	if end := out[n-1].Window.End; end.After(s.Left) {
		s.Left = end
	}
	s.Version++
	return out
}

// Has reports whether the record at (partition, offset) was applied.
func (s Sessions) Has(partition int32, offset int64) bool {
	last, ok := s.Applied[partition]
	return ok && offset <= last
}

// ErrSessionClosed is returned by Add when the event would merge into a
// session that is already closed.
var ErrSessionClosed = errors.New("session closed")

// Add counts delta events of the proposed session w (an event at w.Start:
// [t, t+gap)) from the record at (partition, offset). Every open session
// that overlaps w merges with it into one session covering them all; Add
// returns that session and the windows of the sessions it replaced. It
// refuses, changing nothing, when w overlaps a session that is not open
// (returning that session).
func (s *Sessions) Add(w Window, delta int64, partition int32, offset int64) (merged Session, replaced []Window, err error) {
	merged = Session{Window: w, Count: delta}
	keep := append([]Session(nil), s.List...)
	// Merging grows the session, which can then reach further sessions:
	// repeat until none overlaps.
	for again := true; again; {
		again = false
		for i, x := range keep {
			if !x.Window.Start.Before(merged.Window.End) || !merged.Window.Start.Before(x.Window.End) {
				continue
			}
			if x.State != Open {
				return x, nil, ErrSessionClosed
			}
			merged.Window = Window{Start: minTime(x.Window.Start, merged.Window.Start), End: maxTime(x.Window.End, merged.Window.End)}
			merged.Count += x.Count
			replaced = append(replaced, x.Window)
			keep = append(keep[:i:i], keep[i+1:]...)
			again = true
			break
		}
	}
	s.List = append(keep, merged)
	sort.Slice(s.List, func(i, j int) bool { return s.List[i].Window.Start.Before(s.List[j].Window.Start) })
	if s.Applied == nil {
		s.Applied = map[int32]int64{}
	}
	s.Applied[partition] = offset
	s.Version++
	return merged, replaced, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// SessionsTag starts an encoded Sessions row; window rows start with '{'.
const SessionsTag = 'S'

type sessionJSON struct {
	Start int64    `json:"start"`
	End   int64    `json:"end"`
	Count int64    `json:"count"`
	State RowState `json:"state,omitempty"`
}

type sessionsJSON struct {
	Sessions []sessionJSON    `json:"sessions"`
	Applied  map[string]int64 `json:"applied,omitempty"`
	Version  int64            `json:"version"`
	Horizon  int64            `json:"horizon,omitempty"` // epoch ms; 0: none
	Left     int64            `json:"left,omitempty"`    // epoch ms; 0: none
}

// MarshalBinary encodes the row: the tag, then JSON.
func (s Sessions) MarshalBinary() ([]byte, error) {
	j := sessionsJSON{Sessions: make([]sessionJSON, len(s.List)), Version: s.Version}
	if !s.Horizon.IsZero() {
		j.Horizon = s.Horizon.UnixMilli()
	}
	if !s.Left.IsZero() {
		j.Left = s.Left.UnixMilli()
	}
	for i, x := range s.List {
		j.Sessions[i] = sessionJSON{Start: x.Window.Start.UnixMilli(), End: x.Window.End.UnixMilli(), Count: x.Count, State: x.State}
	}
	if len(s.Applied) > 0 {
		j.Applied = make(map[string]int64, len(s.Applied))
		for p, o := range s.Applied {
			j.Applied[strconv.FormatInt(int64(p), 10)] = o
		}
	}
	b, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	return append([]byte{SessionsTag}, b...), nil
}

// UnmarshalBinary decodes a row written by MarshalBinary.
func (s *Sessions) UnmarshalBinary(data []byte) error {
	if len(data) == 0 || data[0] != SessionsTag {
		return errors.New("decode sessions row: bad tag")
	}
	var j sessionsJSON
	if err := json.Unmarshal(data[1:], &j); err != nil {
		return fmt.Errorf("decode sessions row: %w", err)
	}
	*s = Sessions{Version: j.Version, List: make([]Session, len(j.Sessions))}
	if j.Horizon != 0 {
		s.Horizon = time.UnixMilli(j.Horizon).UTC()
	}
	if j.Left != 0 {
		s.Left = time.UnixMilli(j.Left).UTC()
	}
	for i, x := range j.Sessions {
		if x.End <= x.Start || x.State > Final {
			return fmt.Errorf("decode sessions row: bad session %+v", x)
		}
		s.List[i] = Session{Window: Window{Start: time.UnixMilli(x.Start).UTC(), End: time.UnixMilli(x.End).UTC()}, Count: x.Count, State: x.State}
	}
	if len(j.Applied) > 0 {
		s.Applied = make(map[int32]int64, len(j.Applied))
		for p, o := range j.Applied {
			n, err := strconv.ParseInt(p, 10, 32)
			if err != nil {
				return fmt.Errorf("decode sessions row: source partition %q: %w", p, err)
			}
			s.Applied[int32(n)] = o
		}
	}
	return nil
}
