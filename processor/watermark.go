package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hourglass-stream/hourglass/internal/wire"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Event time with a watermark (--watermark) runs like this.
//
// The rekey step keeps, per source partition, the maximum event time of
// the records before the current one (windows.Clock) and drops the windows
// that are late under it: they are counted in the late metric and the event
// goes unchanged to the late topic. The decision depends only on the
// partition's own records, so it is the same on every run. To keep it so
// across a crash, the clock is checkpointed to <group>-watermarks (partition
// p for source partition p) with the record that set it, in the rekey
// step's transaction: an input offset commits with the checkpoints of the
// records before it, so a checkpoint at or below every committed offset
// exists. A process that takes a partition
// over reads the last checkpoint below the offset it starts at, then
// re-reads the few input records between them.
//
// The same marks are broadcast to every partition of the repartition topic,
// under a key that lands in that partition. The count step stores them in
// one watermark row per table partition (a key starting with NUL, which
// no window row has), so every table partition knows how far every source
// partition has got, as of the updates it has applied. From these it
// computes the watermark of the whole input (windows.Closer) and, in a
// periodic visit of its rows (goka's Visitor edge), closes windows: it
// writes final rows (--emit final) and deletes expired ones (--retain).

// WatermarkTopic holds the rekey step's lateness checkpoints of group.
func WatermarkTopic(group string) string { return group + "-watermarks" }

// Emit is an output mode (--emit).
type Emit int

// The output modes (see DESIGN).
const (
	// EmitComplete writes every changed row to the output topic; the table
	// keeps every row.
	EmitComplete Emit = iota
	// EmitUpdate writes every changed row; with --retain, closed rows
	// expire from the table.
	EmitUpdate
	// EmitFinal writes each window once, when the watermark closes it.
	EmitFinal
)

// ParseEmit reads "complete", "update" or "final".
func ParseEmit(s string) (Emit, error) {
	switch s {
	case "", "complete":
		return EmitComplete, nil
	case "update":
		return EmitUpdate, nil
	case "final":
		return EmitFinal, nil
	}
	return 0, fmt.Errorf("--emit %q: want complete, update or final", s)
}

func (e Emit) String() string {
	return [...]string{"complete", "update", "final"}[e]
}

// Headers of a late record, besides the source headers of dead letters.
const (
	HeaderLateReason    = "hourglass.late.reason"    // ReasonLate or ReasonClosed
	HeaderLateWindows   = "hourglass.late.window"    // the late windows, "[start, end)", comma-separated
	HeaderLateWatermark = "hourglass.late.watermark" // the watermark that made them late, RFC 3339
)

// Why an event is late.
const (
	// ReasonLate: the window ended at or before its source partition's
	// watermark (max event time − lateness): windows.ErrLate.
	// Deterministic.
	ReasonLate = "late"
	// ReasonClosed: the window was already closed by the watermark of the
	// whole input, which idle partitions had left (--idle-timeout) or idle
	// flushing had advanced (--idle-flush): windows.ErrWindowClosed.
	// Depends on timing.
	ReasonClosed = "window-closed"
)

const (
	// markInterval and markEvery bound how far a checkpoint trails its
	// partition: a taken-over partition re-reads at most this much input.
	markInterval = 200 * time.Millisecond
	markEvery    = 20000
	// closeInterval is how often the count step looks for windows to close.
	closeInterval = 250 * time.Millisecond
)

// partitioner returns the partition of a key as the producer chooses it.
func partitioner() kgo.PartitionerHasher {
	return kgo.SaramaCompatHasher(func(b []byte) uint32 {
		h := goka.DefaultHasher()()
		_, _ = h.Write(b)
		return h.Sum32()
	})
}

// partitionKeys returns, for each of n partitions, a key starting with
// prefix that the producer's partitioner (sarama's hash partitioner over
// goka's hasher) sends to that partition.
func partitionKeys(prefix string, n int32) []string {
	part := partitioner()
	keys := make([]string, n)
	found := int32(0)
	for i := 0; found < n; i++ {
		k := prefix + strconv.Itoa(i)
		if p := part([]byte(k), int(n)); keys[p] == "" {
			keys[p] = k
			found++
		}
	}
	return keys
}

// partitionBounds returns the start and end offsets of topic/p.
func partitionBounds(ctx context.Context, kc kafka.Config, topic string, p int32) (start, end int64, err error) {
	opts, err := kc.Kgo()
	if err != nil {
		return 0, 0, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	return listBounds(ctx, kadm.NewClient(cl), topic, p)
}

// listBounds asks adm for the first and the next offset of topic/p.
func listBounds(ctx context.Context, adm *kadm.Client, topic string, p int32) (start, end int64, err error) {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return 0, 0, err
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, 0, err
	}
	s, _ := starts.Lookup(topic, p)
	e, ok := ends.Lookup(topic, p)
	if !ok {
		return 0, 0, fmt.Errorf("%s has no partition %d", topic, p)
	}
	return s.Offset, e.Offset, nil
}

// readPartition calls fn for the records of topic/p in [from, to) that a
// reader at isolation level iso sees. Transaction markers take offsets
// too: they are read, to know where the range ends, and not passed to fn.
func readPartition(ctx context.Context, kc kafka.Config, topic string, p int32, from, to int64, iso kgo.IsolationLevel, fn func(*kgo.Record)) error {
	if from >= to {
		return nil
	}
	opts, err := kc.Kgo()
	if err != nil {
		return err
	}
	opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(iso), kgo.KeepControlRecords())
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read %s/%d [%d, %d): %w", topic, p, from, to, err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return fmt.Errorf("read %s/%d: %w", topic, p, ferr)
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= to {
				done = true
				return
			}
			if !r.Attrs.IsControl() {
				fn(r)
			}
			if r.Offset == to-1 {
				done = true
			}
		})
		if done {
			return nil
		}
	}
}

// every calls fn every d until ctx ends (nil) or fn fails (its error).
func every(ctx context.Context, d time.Duration, fn func() error) error {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := fn(); err != nil {
			return err
		}
	}
}

// emitter writes one record (with headers) for the record being processed.
type emitter func(topic string, key, value []byte, h headers)

// gokaEmitter is an emitter for a goka callback. Goka's keys are strings
// and its headers a map: a null key is written empty there, and repeated
// headers keep their last value.
func gokaEmitter(ctx goka.Context) emitter {
	return func(topic string, key, value []byte, h headers) {
		ctx.Emit(goka.Stream(topic), string(key), value, goka.WithCtxEmitHeaders(h.goka()))
	}
}

// lateEvent counts an event whose windows late are late, and writes it
// unchanged to the late topic when there is one, with h (the event's
// source headers, a map of the caller's that it adds to).
func (a *Aggregator) lateEvent(emit emitter, key, raw []byte, h headers, reason string, late []windows.Window, wm time.Time) {
	a.stats.late.Add(1)
	if a.cfg.LateTopic == "" {
		return
	}
	names := make([]string, len(late))
	for i, w := range late {
		names[i] = w.String()
	}
	h = h.set(HeaderLateReason, []byte(reason))
	h = h.set(HeaderLateWindows, []byte(strings.Join(names, ",")))
	h = h.set(HeaderLateWatermark, []byte(windows.FormatTime(wm)))
	emit(a.cfg.LateTopic, key, raw, h)
}

// countPart is the count step's event-time state of one table partition.
type countPart struct {
	// wire.WatermarkRow mirrors the partition's watermark row: Closed says how
	// far windows are closed.
	wire.WatermarkRow
	since   time.Time // when this process first heard of the partition
	visited time.Time // the watermark of the last visit
	// finalVisit says the last visit was at the final watermark: every
	// source partition had ended.
	finalVisit bool
	// emitted holds the rows of state Closing whose final row this process
	// wrote (acknowledged once the visit that wrote it returned).
	emitted map[string]bool
}

// countClocks are the countParts of the table partitions this process has
// seen.
type countClocks struct {
	mu    sync.Mutex
	parts map[int32]*countPart
	// waiting holds the source partitions that hold some table partition's
	// watermark back without having sent anything, as of the last
	// dueWatermarks; warned is when that was last logged.
	waiting []int32
	warned  time.Time
}

func (c *countClocks) part(q int32) *countPart {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.partLocked(q)
}

// partLocked is part for a caller holding c.mu.
func (c *countClocks) partLocked(q int32) *countPart {
	p := c.parts[q]
	if p == nil {
		p = &countPart{WatermarkRow: wire.WatermarkRow{Marks: map[int32]windows.Mark{}}, since: time.Now(), emitted: map[string]bool{}}
		c.parts[q] = p
	}
	return p
}

// closeTo closes table partition q's windows to its watermark as of now,
// as dueWatermarks does; the next visit does the rest.
func (c *countClocks) closeTo(q int32, closer *windows.Closer, sources int32, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.partLocked(q)
	if wm, ok := closer.Watermark(p.Marks, sources, now, p.since); ok && wm.After(p.Closed) {
		p.Closed = wm
	}
}

// closedAt returns how far windows of table partition q are closed.
func (c *countClocks) closedAt(q int32) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.partLocked(q).Closed
}

// learn takes a table partition's watermark row into account (as applied
// by the count step, or recovered from the changelog).
func (c *countClocks) learn(q int32, w wire.WatermarkRow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partLocked(q).Merge(w)
}

// applyMark stores a mark in the watermark row of ctx's table partition.
func (a *Aggregator) applyMark(ctx goka.Context, m windows.Mark) {
	var w wire.WatermarkRow
	if v, ok := ctx.Value().(wire.WatermarkRow); ok {
		w = v
	}
	if old, ok := w.Marks[m.Partition]; ok && !m.Newer(old) {
		a.stats.duplicates.Add(1)
		return
	}
	if w.Marks == nil {
		w.Marks = map[int32]windows.Mark{}
	}
	w.Marks[m.Partition] = m
	ctx.SetValue(w)
	a.countClocks.learn(ctx.Partition(), w)
	if a.cfg.Windows.IsSession() {
		// Sessions close as soon as a mark says so, not at the next visit:
		// the rows of keys read in a backlog stay small (countSession).
		a.countClocks.closeTo(ctx.Partition(), a.cfg.Watermark, a.sources, time.Now())
	}
}

// closeVisit is the visitor name of window closing.
const closeVisit = "close"

// closeWindows runs until ctx ends: it computes the watermark of every
// table partition this process holds and visits the table when windows
// are due to close or expire.
func (a *Aggregator) closeWindows(ctx context.Context, count *goka.Processor) error {
	return every(ctx, closeInterval, func() error {
		due := a.dueWatermarks(time.Now())
		if len(due) == 0 {
			return nil
		}
		a.pass.Add(1)
		err := count.VisitAll(ctx, closeVisit, due)
		if err != nil && ctx.Err() == nil && !errors.Is(err, goka.ErrVisitAborted) {
			return fmt.Errorf("close windows: %w", err)
		}
		if err == nil && a.allClosed(due) {
			a.flushOnce.Do(func() { close(a.flushed) })
		}
		return nil
	})
}

// allClosed reports whether a visit of every table partition at the end of
// time (every source partition ended) left no row on its way to Final.
func (a *Aggregator) allClosed(visited map[int32]time.Time) bool {
	if len(visited) != len(a.tableKeys) || a.moreFinal.Load() {
		return false
	}
	c := &a.countClocks
	c.mu.Lock()
	defer c.mu.Unlock()
	for q := range visited {
		if p := c.parts[q]; p == nil || !p.finalVisit {
			return false
		}
	}
	return true
}

// Flushed is closed once a bounded run (Until, with a watermark) has closed
// every window: final rows written (--emit final) and expired rows deleted.
// Only a process that holds every table partition sees it.
func (a *Aggregator) Flushed() <-chan struct{} { return a.flushed }

// dueWatermarks returns the watermark of every table partition with work
// for a visit: a window end or retention boundary passed since the last
// visit, or final rows in flight. It records them as closed, so updates
// for those windows are late from now on.
func (a *Aggregator) dueWatermarks(now time.Time) map[int32]time.Time {
	c := &a.countClocks
	c.mu.Lock()
	defer c.mu.Unlock()
	// Windows end on multiples of the hop (the size for tumbling ones);
	// session ends fall anywhere.
	step := a.cfg.Windows.Hop
	if step == 0 {
		step = a.cfg.Windows.Size
	}
	if a.cfg.Windows.IsSession() {
		step = time.Millisecond
	}
	due := map[int32]time.Time{}
	more := a.moreFinal.Swap(false)
	waiting := map[int32]bool{}
	var heldSince time.Time
	for q, p := range c.parts {
		wm, ok := a.cfg.Watermark.Watermark(p.Marks, a.sources, now, p.since)
		if !ok {
			for _, s := range a.cfg.Watermark.Waiting(p.Marks, a.sources, now, p.since) {
				waiting[s] = true
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
		crossed := wm.UnixMilli()/step.Milliseconds() != p.visited.UnixMilli()/step.Milliseconds() || p.visited.IsZero()
		if crossed || more {
			due[q] = wm
			p.visited = wm
			p.finalVisit = ok && windows.Ended(p.Marks, a.sources)
		}
	}
	c.waiting = c.waiting[:0]
	for s := range waiting {
		c.waiting = append(c.waiting, s)
	}
	slices.Sort(c.waiting)
	if len(c.waiting) > 0 && now.Sub(heldSince) >= holdWarnAfter && now.Sub(c.warned) >= holdWarnEvery {
		c.warned = now
		a.log.Warn("windows stay open: input partitions that have sent nothing hold the watermark back", "partitions", c.waiting, "why", a.waitingWhy())
	}
	return due
}

// A watermark held back by silent input partitions is logged once it has
// been held this long, and again at most this often.
const (
	holdWarnAfter = 10 * time.Second
	holdWarnEvery = time.Minute
)

// WatermarkWaiting returns the input partitions that hold the watermark
// back without having sent anything, and why, for progress lines; none
// when nothing is held back that way.
func (a *Aggregator) WatermarkWaiting() (partitions []int32, why string) {
	c := &a.countClocks
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.waiting) == 0 {
		return nil, ""
	}
	return slices.Clone(c.waiting), a.waitingWhy()
}

func (a *Aggregator) waitingWhy() string {
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
func (a *Aggregator) visitClose(ctx goka.Context, meta any) {
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
			state, err := a.finalStep(ctx, q, key, windows.Result{Key: key, WindowStart: v.Window.Start, WindowEnd: v.Window.End, Count: v.Count}, v.State, wm)
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
				state, err := a.finalStep(ctx, q, ctx.Key(), windows.Result{Key: ctx.Key(), WindowStart: x.Window.Start, WindowEnd: x.Window.End, Count: x.Count}, x.State, wm)
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
		if err := a.settle(ctx, &v, wm); err != nil {
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
func (a *Aggregator) finalStep(ctx goka.Context, q int32, key string, r windows.Result, state windows.RowState, wm time.Time) (windows.RowState, error) {
	part := a.countClocks.part(q)
	w := windows.Window{Start: r.WindowStart, End: r.WindowEnd}
	outKey := windows.RowKey(key, w)
	switch state {
	case windows.Open:
		if windows.Closed(w, wm) {
			a.moreFinal.Store(true)
			return windows.Closing, nil
		}
	case windows.Closing:
		a.countClocks.mu.Lock()
		emitted := part.emitted[outKey]
		a.countClocks.mu.Unlock()
		if emitted {
			a.countClocks.mu.Lock()
			delete(part.emitted, outKey)
			a.countClocks.mu.Unlock()
			return windows.Final, nil
		}
		written, err := a.finalWritten(ctx.Context(), outKey)
		if err != nil {
			return state, err
		}
		if !written {
			a.emitResult(ctx, outKey, r, true)
		}
		a.countClocks.mu.Lock()
		part.emitted[outKey] = true
		a.countClocks.mu.Unlock()
		a.moreFinal.Store(true)
	}
	return state, nil
}

// finalWritten reports whether the output topic holds the final row of
// key. It is asked only for windows of state Closing this process did not
// write out: after a crash or a hand-over, between a window's Closing write
// and its Final write. It reads the output partition of key to its end,
// once per partition and visit.
func (a *Aggregator) finalWritten(ctx context.Context, key string) (bool, error) {
	q := int32(a.partitionOf([]byte(key), int(a.outputParts)))
	a.finalsMu.Lock()
	defer a.finalsMu.Unlock()
	if pass := a.pass.Load(); a.finalsPass != pass {
		a.finals, a.finalsRead, a.finalsPass = map[string]bool{}, map[int32]bool{}, pass
	}
	if a.finalsRead[q] {
		return a.finals[key], nil
	}
	start, end, err := a.back.bounds(ctx, a.cfg.Output, q)
	if err != nil {
		return false, fmt.Errorf("look for final rows in %s: %w", a.cfg.Output, err)
	}
	err = a.back.read(ctx, a.cfg.Output, q, start, end, func(r *kgo.Record) {
		var row OutputRow
		if json.Unmarshal(r.Value, &row) == nil && row.Final {
			a.finals[string(r.Key)] = true
		}
	})
	if err != nil {
		return false, fmt.Errorf("look for final rows in %s: %w", a.cfg.Output, err)
	}
	a.finalsRead[q] = true
	return a.finals[key], nil
}

// lateUpdate counts the events of an update whose window the count step
// has closed (the timing-dependent case, see ReasonClosed) and writes them,
// read back from the input, to the late topic; closed is how far the row
// was closed. The caller records it as applied in the row, when there is
// one, so that a redelivery is a duplicate.
func (a *Aggregator) lateUpdate(ctx goka.Context, u wire.Update, closed time.Time) {
	if a.cfg.LateTopic == "" {
		a.stats.late.Add(u.Delta)
		return
	}
	// The input may have lost the update's records to retention since the
	// rekey step read them: they are late all the same, without copies.
	if start, _, err := a.back.bounds(ctx.Context(), a.cfg.Input, u.SourcePartition); err != nil {
		ctx.Fail(fmt.Errorf("read late events %s/%d@[%d, %d] back: %w", a.cfg.Input, u.SourcePartition, u.SourceFrom, u.SourceOffset, err))
		return
	} else if start > u.SourceFrom {
		a.stats.late.Add(u.Delta)
		a.log.Warn("late events are no longer in the input (retention): counted late, not copied to the late topic",
			"partition", u.SourcePartition, "from", u.SourceFrom, "to", u.SourceOffset, "input_starts_at", start, "events", u.Delta, "window", u.Window.Start)
		return
	}
	// The update lists its events' offsets. One without a list (written
	// before lists were) has as events the first Delta records of its
	// range that fall into this row: the rekey step's lateness only grows
	// along a partition, so the records of the row it found late come
	// after them.
	var listed map[int64]bool
	if u.Offsets != nil {
		listed = make(map[int64]bool, u.Delta)
		u.Offsets.Each(u.SourceFrom, func(o int64) { listed[o] = true })
	}
	var events []*kgo.Record
	err := a.back.read(ctx.Context(), a.cfg.Input, u.SourcePartition, u.SourceFrom, u.SourceOffset+1, func(r *kgo.Record) {
		if int64(len(events)) == u.Delta {
			return
		}
		if u.SourceFrom == u.SourceOffset || listed[r.Offset] {
			events = append(events, r)
			return
		}
		if listed != nil {
			return
		}
		key, at, _, err := a.extract(ctx.Context(), r.Value)
		if err != nil {
			return
		}
		var buf [4]windows.Window
		for _, w := range a.cfg.Windows.Assign(buf[:0], at) {
			if w.Start.Equal(u.Window.Start) && w.End.Equal(u.Window.End) && windows.RowKey(key, w) == ctx.Key() {
				events = append(events, r)
			}
		}
	})
	if err == nil && int64(len(events)) != u.Delta {
		err = fmt.Errorf("found %d of its %d events", len(events), u.Delta)
	}
	if err != nil {
		ctx.Fail(fmt.Errorf("read late events %s/%d@[%d, %d] back: %w", a.cfg.Input, u.SourcePartition, u.SourceFrom, u.SourceOffset, err))
		return
	}
	for _, rec := range events {
		h := withSource(slices.Clone(headers(rec.Headers)), a.cfg.Input, u.SourcePartition, rec.Offset)
		a.lateEvent(gokaEmitter(ctx), rec.Key, rec.Value, h, ReasonClosed, []windows.Window{u.Window}, closed)
	}
}

// recoverWatermarkRow is recoverRow for watermark rows: the local row and
// the changelog's are merged (newest mark per source partition, furthest
// closing), so recovery never moves a watermark back.
func (a *Aggregator) recoverWatermarkRow(q int32, s storage.Storage, key string, value []byte) error {
	var logged wire.WatermarkRow
	if err := logged.UnmarshalBinary(value); err != nil {
		return err
	}
	if local, err := s.Get(key); err == nil && local != nil {
		var have wire.WatermarkRow
		if have.UnmarshalBinary(local) == nil {
			logged.Merge(have)
		}
	}
	a.countClocks.learn(q, logged)
	merged, err := logged.MarshalBinary()
	if err != nil {
		return err
	}
	return s.Set(key, merged)
}

// Watermark returns how far this process has closed windows: the lowest
// closing watermark over the table partitions it has heard of; ok is false
// before any (or without --watermark).
func (a *Aggregator) Watermark() (wm time.Time, ok bool) {
	c := &a.countClocks
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.parts {
		if p.Closed.IsZero() {
			return time.Time{}, false
		}
		if !ok || p.Closed.Before(wm) {
			wm, ok = p.Closed, true
		}
	}
	return wm, ok
}
