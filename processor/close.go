package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hourglass-stream/hourglass/internal/wire"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Window closing (--watermark): the count step computes the watermark of
// each table partition it holds from the marks in the partition's
// watermark row and, in a periodic visit of its rows (goka's Visitor
// edge), closes windows, writes final rows (--emit final) and deletes
// expired rows (--retain).

// closeVisit is the visitor name of window closing.
const closeVisit = "close"

// closeWindows runs until ctx ends: it computes the watermark of every
// table partition this process holds and visits the table when windows
// are due to close or expire. It waits while partitions are being set up
// or recovered: a visit then sees some rows of a partition or none, and
// would count as done.
func (s *countStep) closeWindows(ctx context.Context, count *goka.Processor) error {
	return every(ctx, closeInterval, func() error {
		if !count.Recovered() {
			return nil
		}
		due := s.dueWatermarks(time.Now())
		if len(due) == 0 {
			return nil
		}
		s.visits.Add(1)
		err := count.VisitAll(ctx, closeVisit, due)
		if err != nil && ctx.Err() == nil && !errors.Is(err, goka.ErrVisitAborted) {
			return fmt.Errorf("close windows: %w", err)
		}
		if err == nil && s.allClosed(due) {
			s.flushOnce.Do(func() { close(s.flushed) })
		}
		return nil
	})
}

// allClosed reports whether a visit of every table partition at the end of
// time (every source partition ended) left no row on its way to Final.
func (s *countStep) allClosed(visited map[int32]time.Time) bool {
	a := s.a
	if len(visited) != len(a.tableKeys) || s.moreFinal.Load() {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for q := range visited {
		if cp := s.parts[q]; cp == nil || !cp.clock.finalVisit {
			return false
		}
	}
	return true
}

// dueWatermarks returns the watermark of every table partition with work
// for a visit: a window end or retention boundary passed since the last
// visit, or final rows in flight. It records them as closed, so updates
// for those windows are late from now on.
func (s *countStep) dueWatermarks(now time.Time) map[int32]time.Time {
	a := s.a
	s.mu.Lock()
	defer s.mu.Unlock()
	// Windows end on Offset plus multiples of the hop (the size for
	// tumbling ones); session ends fall anywhere.
	step := a.cfg.Windows.Step()
	if a.cfg.Windows.IsSession() {
		step = time.Millisecond
	}
	due := map[int32]time.Time{}
	more := s.moreFinal.Swap(false)
	waiting := map[int32]bool{}
	var heldSince time.Time
	for q, cp := range s.parts {
		p := &cp.clock
		if !p.assigned {
			continue
		}
		wm, ok := a.cfg.Watermark.Watermark(p.Marks, a.sources, now, p.since)
		if !ok {
			for _, src := range a.cfg.Watermark.Waiting(p.Marks, a.sources, now, p.since) {
				waiting[src] = true
			}
			if heldSince.IsZero() || p.since.Before(heldSince) {
				heldSince = p.since
			}
		}
		if !ok || !wm.After(p.Closed) {
			wm = p.Closed
		}
		if wm.IsZero() {
			continue
		}
		p.Closed = wm
		off := a.cfg.Windows.Offset.Milliseconds() // windows end at Offset + k*step
		crossed := (wm.UnixMilli()-off)/step.Milliseconds() != (p.visited.UnixMilli()-off)/step.Milliseconds() || p.visited.IsZero()
		if crossed || more {
			due[q] = wm
			p.visited = wm
			p.finalVisit = ok && windows.Ended(p.Marks, a.sources)
		}
	}
	s.waiting = s.waiting[:0]
	for src := range waiting {
		s.waiting = append(s.waiting, src)
	}
	slices.Sort(s.waiting)
	if len(s.waiting) > 0 && now.Sub(heldSince) >= holdWarnAfter && now.Sub(s.warned) >= holdWarnEvery {
		s.warned = now
		a.log.Warn("windows stay open: input partitions that have sent nothing hold the watermark back", "partitions", s.waiting, "why", s.waitingWhy())
	}
	return due
}

// A watermark held back by silent input partitions is logged once it has
// been held this long, and again at most this often.
const (
	holdWarnAfter = 10 * time.Second
	holdWarnEvery = time.Minute
)

// watermarkWaiting returns the input partitions that hold the watermark
// back without having sent anything, and why, for progress lines; none
// when nothing is held back that way.
func (s *countStep) watermarkWaiting() (partitions []int32, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.waiting) == 0 {
		return nil, ""
	}
	return slices.Clone(s.waiting), s.waitingWhy()
}

func (s *countStep) waitingWhy() string {
	a := s.a
	if a.cfg.Watermark.IdleTimeout <= 0 {
		return "nothing read from them yet; --idle-timeout leaves such partitions out (it is 0: never)"
	}
	return fmt.Sprintf("nothing read from them yet; they are left out %s after the start (--idle-timeout)", a.cfg.Watermark.IdleTimeout)
}

// visitClose is the count step's visitor: it moves closed rows towards
// their final state, writes final rows (--emit final) and deletes expired
// rows (--retain). A final row is written exactly once: the row is first
// marked Closing in the table; after that write is acknowledged (the next
// visit), the final row goes to the output topic; after that is
// acknowledged, the row becomes Final. A process that finds a Closing row
// it did not write out itself (it took the partition over) looks in the
// output topic for it first.
func (s *countStep) visitClose(ctx goka.Context, meta any) {
	a := s.a
	q := ctx.Partition()
	wm, ok := meta.(map[int32]time.Time)[q]
	if !ok {
		return
	}
	expired := func(w windows.Window, state windows.RowState) bool {
		return a.cfg.Retain > 0 && w.End.Before(wm.Add(-a.cfg.Retain)) && (a.cfg.Emit != EmitFinal || state == windows.Final)
	}
	switch v := ctx.Value().(type) {
	case wire.WatermarkRow:
		if wm.After(v.Closed) {
			v.Closed = wm
			ctx.SetValue(v)
		}
	case windows.Row:
		key, _, err := windows.ParseRowKey(ctx.Key())
		if err != nil {
			ctx.Fail(err)
			return
		}
		if a.cfg.Emit == EmitFinal {
			state, err := s.finalStep(ctx, q, key, v.Result(key), v.State, wm)
			if err != nil {
				ctx.Fail(err)
				return
			}
			if state != v.State {
				v.State = state
				ctx.SetValue(v)
				return
			}
		}
		if expired(v.Window, v.State) {
			ctx.Delete()
			a.stats.expired.Add(1)
		}
	case windows.Sessions:
		changed := false
		keep := v.List[:0:0]
		for _, x := range v.List {
			if a.cfg.Emit == EmitFinal {
				state, err := s.finalStep(ctx, q, ctx.Key(), windows.Result{Key: ctx.Key(), WindowStart: x.Window.Start, WindowEnd: x.Window.End, Count: x.Count}, x.State, wm)
				if err != nil {
					ctx.Fail(err)
					return
				}
				if state != x.State {
					x.State, changed = state, true
				}
			}
			if expired(x.Window, x.State) {
				changed = true
				a.stats.expired.Add(1)
				if x.Window.End.After(v.Left) {
					v.Left = x.Window.End
				}
				continue
			}
			keep = append(keep, x)
		}
		v.List = keep
		if err := s.settle(ctx, &v, wm); err != nil {
			ctx.Fail(err)
			return
		}
		changed = changed || len(v.List) != len(keep)
		if len(v.List) == 0 && a.cfg.Retain > 0 && v.Left.Before(wm.Add(-a.cfg.Retain)) {
			// Every session of the key has left (moved, or expired) and
			// expired: the row goes too, instead of an empty row per key
			// for ever. A redelivered update of its sessions is for a
			// closed window, so it is late and recreates nothing.
			ctx.Delete()
			return
		}
		if changed {
			v.Version++
			ctx.SetValue(v)
		}
	}
}

// finalStep moves one window of --emit final one step on and returns its
// new state: Open and closed → Closing; Closing → its final row written
// (unless a takeover finds it in the output already); Closing and written
// by this process → Final. Each step's write is acknowledged before the
// next visit, which is what makes the final row exactly once.
func (s *countStep) finalStep(ctx goka.Context, q int32, key string, r windows.Result, state windows.RowState, wm time.Time) (windows.RowState, error) {
	cp := s.partition(q) // its emitted is this goroutine's
	w := windows.Window{Start: r.WindowStart, End: r.WindowEnd}
	outKey := windows.RowKey(key, w)
	switch state {
	case windows.Open:
		if windows.Closed(w, wm) {
			s.moreFinal.Store(true)
			return windows.Closing, nil
		}
	case windows.Closing:
		if cp.emitted[outKey] {
			delete(cp.emitted, outKey)
			return windows.Final, nil
		}
		written, err := s.finalWritten(ctx.Context(), outKey)
		if err != nil {
			return state, err
		}
		if !written {
			s.emitResult(ctx, outKey, r, true)
		}
		cp.emitted[outKey] = true
		s.moreFinal.Store(true)
	}
	return state, nil
}

// finalRows are the row keys with a final row in the output, per output
// partition, as read in one closing visit. A visit of a table partition
// may look into any output partition (a session's output row is not
// partitioned like its key's row), and visits of several table partitions
// run at once.
type finalRows struct {
	mu    sync.Mutex
	visit int64          // the visit they were read in
	read  map[int32]bool // output partitions read
	keys  map[string]bool
}

// finalWritten reports whether the output topic holds the final row of
// key. It is asked only for windows of state Closing this process did not
// write out: after a crash or a hand-over, between a window's Closing write
// and its Final write. It reads the output partition of key to its end,
// once per partition and visit.
func (s *countStep) finalWritten(ctx context.Context, key string) (bool, error) {
	a, f := s.a, &s.finals
	q := int32(a.partitionOf([]byte(key), int(a.outputParts)))
	f.mu.Lock()
	defer f.mu.Unlock()
	if visit := s.visits.Load(); f.visit != visit {
		f.keys, f.read, f.visit = map[string]bool{}, map[int32]bool{}, visit
	}
	if f.read[q] {
		return f.keys[key], nil
	}
	start, end, err := s.back.bounds(ctx, a.cfg.Output, q)
	if err != nil {
		return false, fmt.Errorf("look for final rows in %s: %w", a.cfg.Output, err)
	}
	err = s.back.read(ctx, a.cfg.Output, q, start, end, func(r *kgo.Record) {
		var row OutputRow
		if json.Unmarshal(r.Value, &row) == nil && row.Final {
			f.keys[string(r.Key)] = true
		}
	})
	if err != nil {
		return false, fmt.Errorf("look for final rows in %s: %w", a.cfg.Output, err)
	}
	f.read[q] = true
	return f.keys[key], nil
}

// watermark returns how far this process has closed windows: the lowest
// closing watermark over the table partitions it holds; ok is false before
// any (or without --watermark).
func (s *countStep) watermark() (wm time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cp := range s.parts {
		if !cp.clock.assigned {
			continue
		}
		closed := cp.clock.Closed
		if closed.IsZero() {
			return time.Time{}, false
		}
		if !ok || closed.Before(wm) {
			wm, ok = closed, true
		}
	}
	return wm, ok
}
