package processor

import (
	"errors"
	"fmt"
	"hash"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/hourglass-stream/hourglass/agg"
	"github.com/hourglass-stream/hourglass/internal/varint"
	"github.com/hourglass-stream/hourglass/internal/wire"
	"github.com/hourglass-stream/hourglass/table"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/lovoo/goka"
	gokacodec "github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/storage"
	"github.com/twmb/franz-go/pkg/kgo"
)

// countStep is the count step: a goka processor that reads the
// repartition topic (committed updates and marks) and owns the group
// table. It lives as long as its Aggregator; each run builds a processor
// of it anew (processor).
//
// Goka runs the callbacks and visits of each table partition on a
// goroutine of that partition: a countPartition's own fields are that
// goroutine's. Its clock is read by the closing loop (closeWindows) and by
// progress lines too, and is guarded by mu.
type countStep struct {
	a    *Aggregator // the configuration, the topology ensureTopics found, the stats
	back *backReader // reads of the input (late copies) and the output (final rows)
	// client is the step's producer, which moveOut writes a moved
	// session's row with (session windows), and which a bounded run
	// flushes once it has counted everything (caughtUp).
	client atomic.Pointer[kgo.Client]
	// tables are the run's local tables in a --state-dir, nil in memory.
	tables *localTables

	mu    sync.Mutex // parts, each one's clock, waiting and warned
	parts map[int32]*countPartition
	// waiting holds the source partitions that hold some table partition's
	// watermark back without having sent anything, as of the last
	// dueWatermarks; warned is when that was last logged.
	waiting []int32
	warned  time.Time

	moreFinal   atomic.Bool  // a visit left rows on their way to Final
	visits      atomic.Int64 // closing visits so far
	finals      finalRows
	earlyWarned atomic.Int64          // when sessions closed early were last logged (unix ns)
	columns     []agg.Column          // --agg's columns, empty: what rows must hold
	mismatch    atomic.Pointer[error] // a row held other aggregates (ErrAggMismatch)
	flushed     chan struct{}
	flushOnce   sync.Once
}

// countPartition is what the count step keeps of one table partition
// besides its rows.
type countPartition struct {
	q     int32
	clock partitionClock // under countStep.mu

	// The partition's goroutine's, set anew at each assignment (opened):
	// local is the local table, emitted the rows of state Closing whose
	// final row this assignment wrote (acknowledged once the visit that
	// wrote it returned).
	local   storage.Storage
	emitted map[string]bool
}

// partitionClock is the event-time state of one table partition.
type partitionClock struct {
	// wire.WatermarkRow mirrors the partition's watermark row: Closed says
	// how far windows are closed.
	wire.WatermarkRow
	since    time.Time // when this process first heard of the partition
	assigned bool      // held by this process, as of the last rebalance
	visited  time.Time // the watermark of the last visit since the assignment
	// finalVisit says the last visit was at the final watermark: every
	// source partition had ended.
	finalVisit bool
}

func newCountStep(a *Aggregator) *countStep {
	s := &countStep{a: a, back: &backReader{kc: a.cfg.Kafka}, parts: map[int32]*countPartition{}, flushed: make(chan struct{})}
	if len(a.cfg.Aggs) > 1 {
		s.columns = agg.NewColumns(a.cfg.Aggs)
	}
	return s
}

// partition returns table partition q's state, new if q was never seen.
func (s *countStep) partition(q int32) *countPartition {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.partitionLocked(q)
}

// partitionLocked is partition for a caller holding s.mu.
func (s *countStep) partitionLocked(q int32) *countPartition {
	cp := s.parts[q]
	if cp == nil {
		cp = &countPartition{q: q, emitted: map[string]bool{}}
		cp.clock = partitionClock{WatermarkRow: wire.WatermarkRow{Marks: map[int32]windows.Mark{}}, since: time.Now()}
		s.parts[q] = cp
	}
	return cp
}

// assign is the processor's rebalance callback: it records which table
// partitions this process holds from now on. Goka calls it before it sets
// the partitions up.
func (s *countStep) assign(assignment goka.Assignment) {
	s.a.health.join("count")
	s.a.log.Info("assigned", "step", "count", "partitions", slices.Sorted(maps.Keys(assignment)))
	s.mu.Lock()
	defer s.mu.Unlock()
	for q, cp := range s.parts {
		_, held := assignment[q]
		cp.clock.assigned = held
	}
	for q := range assignment {
		s.partitionLocked(q).clock.assigned = true
	}
}

// opened wraps the storage builder: goka opens a partition's local table
// when the partition is assigned (in every run, and at every rebalance),
// before the partition's goroutine starts. What the partition's state
// holds of an earlier assignment starts afresh: final rows written then
// may have failed since (emitted), and the rows may have moved on under
// another owner, so the partition is visited again once recovered.
func (s *countStep) opened(b storage.Builder) storage.Builder {
	return func(topic string, partition int32) (storage.Storage, error) {
		st, err := b(topic, partition)
		if err == nil {
			s.mu.Lock()
			cp := s.partitionLocked(partition)
			cp.clock.visited, cp.clock.finalVisit = time.Time{}, false
			s.mu.Unlock()
			cp.local, cp.emitted = st, map[string]bool{}
		}
		return st, err
	}
}

// closedAt returns how far windows of table partition q are closed.
func (s *countStep) closedAt(q int32) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.partitionLocked(q).clock.Closed
}

// learn takes a table partition's watermark row into account (as applied
// by the count step, or recovered from the changelog).
func (s *countStep) learn(q int32, w wire.WatermarkRow) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partitionLocked(q).clock.Merge(w)
}

// closeTo closes table partition q's windows to its watermark as of now,
// as dueWatermarks does; the next visit does the rest.
func (s *countStep) closeTo(q int32, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &s.partitionLocked(q).clock
	if wm, ok := s.a.cfg.Watermark.Watermark(c.Marks, s.a.sources, now, c.since); ok && wm.After(c.Closed) {
		c.Closed = wm
	}
}

// boundedFetchWait is how long a fetch of a bounded run's count step waits
// for records (sarama's MaxWaitTime, unless -X fetch.max.wait.ms).
const boundedFetchWait = 100 * time.Millisecond

// processor builds the count step's goka processor for one run. Its local
// copy of the table is kept in memory unless a --state-dir asks for
// LevelDB: the changelog is the source of truth and a process without a
// kept directory recovers from it at start anyway, so LevelDB's writes
// (and its write-ahead log) would buy nothing but time. A table larger
// than memory wants --state-dir.
func (s *countStep) processor(sd *stateDir) (*goka.Processor, error) {
	a := s.a
	builder, tables := sd.tables(TableTopic(a.cfg.Group))
	s.tables = tables
	acked := func(r *kgo.Record, err error) {
		tables.acked(r, err) // nothing to do for tables in memory (nil)
		a.caughtUp.produced(r, err)
	}
	newClient := a.cfg.Kafka.Producer
	if a.cfg.Windows.IsSession() {
		part := sessionPartitioner(TableTopic(a.cfg.Group))
		newClient = func(func() hash.Hash32) (*kgo.Client, error) { return a.cfg.Kafka.PartitionedProducer(part) }
	}
	sc := a.cfg.Sarama
	if _, set := a.cfg.Kafka.Settings["fetch.max.wait.ms"]; a.cfg.Until != nil && !set {
		// A bounded run ends in a stop, which waits out each fetch under
		// way: boundedFetchWait, not sarama's 500 ms.
		c := *sc
		c.Consumer.MaxWaitTime = boundedFetchWait
		sc = &c
	}
	opts := append(gokaOptions(a.cfg.Kafka, sc, sarama.OffsetOldest, a.log.With("step", "count")),
		goka.WithProducerBuilder(func(_ []string, _ string, hasher func() hash.Hash32) (goka.Producer, error) {
			client, err := newClient(hasher)
			if err != nil {
				return nil, err
			}
			s.client.Store(client)
			return &kgoProducer{client: client, acked: acked}, nil
		}),
		goka.WithStorageBuilder(s.opened(builder)),
		goka.WithUpdateCallback(s.recoverRow),
		goka.WithRebalanceCallback(s.assign),
		// A tombstone in the repartition topic is no update: it reaches
		// the codec, which makes it an unreadableRecord to dead-letter,
		// instead of being dropped without a word (goka's default).
		goka.WithNilHandling(goka.NilDecode))
	p, err := goka.NewProcessor(a.cfg.Kafka.Brokers, s.graph(), opts...)
	if err != nil {
		return nil, fmt.Errorf("aggregate: count step: %w", err)
	}
	return p, nil
}

// graph is the count step's goka group graph.
func (s *countStep) graph() *goka.GroupGraph {
	cfg := &s.a.cfg
	edges := []goka.Edge{
		goka.Input(goka.Stream(RepartitionTopic(cfg.Group)), countInputCodec{}, func(ctx goka.Context, msg any) {
			s.count(ctx, msg)
			s.a.caughtUp.countedAt(ctx.Partition(), ctx.Offset())
		}),
		goka.Persist(table.Codec{}),
		goka.Output(goka.Stream(DeadLetterTopic(cfg.Group)), new(gokacodec.Bytes)),
	}
	if cfg.Output != "" {
		edges = append(edges, goka.Output(goka.Stream(cfg.Output), new(gokacodec.Bytes)))
	}
	if cfg.LateTopic != "" {
		edges = append(edges, goka.Output(goka.Stream(cfg.LateTopic), new(gokacodec.Bytes)))
	}
	if cfg.Watermark != nil {
		edges = append(edges, goka.Visitor(closeVisit, s.visitClose))
	}
	return goka.DefineGroup(goka.Group(cfg.Group), edges...)
}

// recoverRow is the count step's table update callback: goka calls it for
// each changelog record while it recovers (or catches up) a partition of
// the table into local storage. Goka writes a row to local storage before
// the changelog acknowledges it, and records the changelog offset only on
// acknowledgement. When a partition is handed back to this process by a
// rebalance while such writes are in flight (a broker restart does that),
// recovery starts before them, and plain replay would overwrite the newer
// local row with an older one; the updates applied in between, already
// committed, would be lost, and later updates would build on the stale
// count. A local row that contains the changelog record (same window, every
// applied offset at or past the record's) is therefore kept; otherwise the
// changelog record wins, as it does for a row another instance advanced.
func (s *countStep) recoverRow(uc goka.UpdateContext, st storage.Storage, key string, value []byte) error {
	a := s.a
	s.tables.logged(uc.Partition(), key, value, uc.Offset())
	if value == nil {
		return st.Delete(key)
	}
	if wire.IsWatermarkRow(key) {
		return s.recoverWatermarkRow(uc.Partition(), st, key, value)
	}
	if len(value) > 0 && value[0] == windows.SessionsTag {
		if local, err := st.Get(key); err == nil && local != nil {
			var have, logged windows.Sessions
			if have.UnmarshalBinary(local) == nil && logged.UnmarshalBinary(value) == nil && have.Version >= logged.Version {
				a.stats.keptOnRecovery.Add(1)
				return nil
			}
		}
		return st.Set(key, value)
	}
	if local, err := st.Get(key); err == nil && local != nil {
		var have, logged windows.Row
		if have.UnmarshalBinary(local) == nil && logged.UnmarshalBinary(value) == nil && have.Contains(logged) {
			a.stats.keptOnRecovery.Add(1)
			return nil
		}
	}
	return st.Set(key, value)
}

// count is the callback of the count step: apply one update to its row
// unless it was applied before, and publish the new row.
func (s *countStep) count(ctx goka.Context, msg any) {
	a := s.a
	a.observe("count", ctx.Timestamp())
	if m, ok := msg.(windows.Mark); ok {
		s.applyMark(ctx, m)
		return
	}
	if bad, ok := msg.(unreadableRecord); ok {
		a.stats.deadLettered.Add(1)
		a.log.Warn("dead-lettered a repartition record the count step cannot read", "partition", ctx.Partition(), "offset", ctx.Offset(), "error", bad.err)
		h := withSource(nil, string(ctx.Topic()), ctx.Partition(), ctx.Offset())
		gokaEmitter(ctx)(DeadLetterTopic(a.cfg.Group), []byte(ctx.Key()), bad.raw, errorHeaders(h, ReasonInternal, bad.err))
		return
	}
	u, ok := msg.(wire.Update)
	if !ok {
		// goka hands over what the codec returned; anything else is a bug.
		ctx.Fail(fmt.Errorf("count step: unexpected %T", msg))
		return
	}
	if a.cfg.Windows.IsSession() {
		s.countSession(ctx, u)
		return
	}
	var row windows.Row
	if v := ctx.Value(); v != nil {
		r, ok := v.(windows.Row)
		if !ok {
			ctx.Fail(fmt.Errorf("count step: row %q holds a %T", ctx.Key(), v))
			return
		}
		row = r
	}
	if row.Has(u.SourcePartition, u.SourceOffset) {
		a.stats.duplicates.Add(u.Delta)
		// The table write of the first delivery may have landed and its
		// output write not (a crash or a failed write between the two):
		// write the row's current value again, so the output never misses
		// a row's last version. A reader of the compacted output sees the
		// same row; one of --emit update sees it twice.
		if row.State == windows.Open && row.Count > 0 {
			s.emitRow(ctx, row)
		}
		return
	}
	if last, ok := row.Applied[u.SourcePartition]; ok {
		// A batch that began at or before the row's last applied offset:
		// a redo or replay drew other batch boundaries. Only its events
		// after that offset are new.
		var dropped int64
		u, dropped = u.After(last)
		a.stats.duplicates.Add(dropped)
		if u.Delta == 0 {
			row.Apply(u.SourcePartition, u.SourceOffset, 0)
			ctx.SetValue(row)
			return
		}
	}
	if a.cfg.Watermark != nil {
		closed := s.closedAt(ctx.Partition())
		if row.State != windows.Open || errors.Is(windows.Admit(u.Window, closed), windows.ErrWindowClosed) {
			s.lateUpdate(ctx, u, closed)
			if row.Applied != nil {
				row.Apply(u.SourcePartition, u.SourceOffset, 0)
				ctx.SetValue(row)
			}
			return
		}
	}
	row.Window = u.Window
	if len(a.aggSpecs) > 0 || a.keyNames != nil {
		if err := s.aggregate(&row, u); err != nil {
			if errors.Is(err, ErrAggMismatch) {
				// goka passes a callback's failure on as text: Run finds
				// the error itself here, and stops.
				s.mismatch.CompareAndSwap(nil, &err)
				ctx.Fail(err)
				return
			}
			// The update's values do not fit this run's --agg: a rekey
			// step of other flags wrote it. It is not counted.
			s.count(ctx, unreadableRecord{raw: wire.AppendUpdate(nil, u), err: err})
			return
		}
	}
	row.Apply(u.SourcePartition, u.SourceOffset, u.Delta)
	ctx.SetValue(row)
	a.stats.applied.Add(u.Delta)
	s.emitRow(ctx, row)
}

// ErrAggMismatch is wrapped when a row of the table holds other
// aggregates than --agg names: the group was run with other flags.
var ErrAggMismatch = errors.New("the group's rows hold other aggregates or keys than --agg and --key ask for: run it with its flags, or use a new group (or reset --drop-state)")

// aggregate adds u's events' values to row's aggregates (row was decoded
// for this update: after a failure the caller does not store it). A new
// row gets empty ones.
func (s *countStep) aggregate(row *windows.Row, u wire.Update) error {
	a := s.a
	if row.Aggs == nil && row.Count == 0 && row.Applied == nil {
		row.Aggs, row.KeyNames = agg.NewColumns(a.cfg.Aggs), a.keyNames
	} else if !agg.Same(row.Aggs, s.columns) || !slices.Equal(row.KeyNames, a.keyNames) {
		return fmt.Errorf("%w: row %s has %s, keys %v", ErrAggMismatch, row.Window.Start.Format(time.RFC3339), columnNames(row.Aggs), row.KeyNames)
	}
	if u.Fields != len(a.fields) {
		return fmt.Errorf("an update with %d values per event, for %d fields", u.Fields, len(a.fields))
	}
	if len(row.Aggs) == 0 {
		return nil // several keys, no aggregates
	}
	var buf [8]agg.Value
	vals := buf[:0]
	for range a.fields {
		vals = append(vals, agg.Value{})
	}
	// The values are Fields per event, in the events' order (u.Values
	// was checked by DecodeUpdate, or kept by After).
	r := varint.NewReader(u.Values)
	for range u.Delta {
		for i := range vals {
			if err := agg.ReadValueInto(r, &vals[i]); err != nil {
				return err
			}
		}
		for j, c := range row.Aggs {
			if v := &vals[a.fieldOf[j]]; !v.IsNull() {
				if err := c.State.AddValue(v); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func columnNames(cols []agg.Column) string {
	if len(cols) == 0 {
		return "count only"
	}
	var names []string
	for _, c := range cols {
		names = append(names, c.Spec.String())
	}
	return strings.Join(names, ", ")
}

// emitRow writes row, the row of ctx's key, to the output topic, unless
// there is none or it only takes final rows.
func (s *countStep) emitRow(ctx goka.Context, row windows.Row) {
	a := s.a
	if a.cfg.Output == "" || a.cfg.Emit == EmitFinal {
		return
	}
	key, _, err := windows.ParseRowKey(ctx.Key())
	if err != nil {
		ctx.Fail(fmt.Errorf("count step: %w", err))
		return
	}
	s.emitResult(ctx, ctx.Key(), row.Result(key), false)
}

// emitResult writes one result row to the output topic under outKey.
func (s *countStep) emitResult(ctx goka.Context, outKey string, r windows.Result, final bool) {
	a := s.a
	out, err := encodeOutputRow(OutputRow{Result: r, Final: final})
	if err != nil {
		ctx.Fail(err)
		return
	}
	ctx.Emit(goka.Stream(a.cfg.Output), outKey, out)
}

// applyMark stores a mark in the watermark row of ctx's table partition.
func (s *countStep) applyMark(ctx goka.Context, m windows.Mark) {
	a := s.a
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
	s.learn(ctx.Partition(), w)
	if a.cfg.Windows.IsSession() {
		// Sessions close as soon as a mark says so, not at the next visit:
		// the rows of keys read in a backlog stay small (countSession).
		s.closeTo(ctx.Partition(), time.Now())
	}
}

// lateUpdate counts the events of an update whose window the count step
// has closed (the timing-dependent case, see ReasonClosed) and writes them,
// read back from the input, to the late topic; closed is how far the row
// was closed. The caller records it as applied in the row, when there is
// one, so that a redelivery is a duplicate.
func (s *countStep) lateUpdate(ctx goka.Context, u wire.Update, closed time.Time) {
	a := s.a
	if a.cfg.LateTopic == "" {
		a.stats.late.Add(u.Delta)
		return
	}
	// The input may have lost the update's records to retention since the
	// rekey step read them: they are late all the same, without copies.
	if start, _, err := s.back.bounds(ctx.Context(), a.cfg.Input, u.SourcePartition); err != nil {
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
	err := s.back.read(ctx.Context(), a.cfg.Input, u.SourcePartition, u.SourceFrom, u.SourceOffset+1, func(r *kgo.Record) {
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
		key, at, _, err := a.extract(ctx.Context(), r)
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
func (s *countStep) recoverWatermarkRow(q int32, st storage.Storage, key string, value []byte) error {
	var logged wire.WatermarkRow
	if err := logged.UnmarshalBinary(value); err != nil {
		return err
	}
	if local, err := st.Get(key); err == nil && local != nil {
		var have wire.WatermarkRow
		if have.UnmarshalBinary(local) == nil {
			logged.Merge(have)
		}
	}
	s.learn(q, logged)
	merged, err := logged.MarshalBinary()
	if err != nil {
		return err
	}
	return st.Set(key, merged)
}
