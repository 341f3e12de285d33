package processor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The rekey step is a transactional consume-transform-produce loop, like
// the filter (txn.go) and Kafka Streams' exactly_once_v2: the updates, dead
// letters, late copies, watermark checkpoints and marks made for the
// records of a transaction, and the input offsets after them, commit
// together or not at all. A transaction collects records for
// --batch-linger, then its open batches are written and it commits. The
// count step reads the repartition topic read_committed, so it never sees
// the updates of a transaction that aborted (a crash, a write that failed,
// a rebalance, a zombie fenced by the group's generation), and a redo
// starts at the committed offset, where a batch ended.

// inRecord is an input record being rekeyed, with the transaction it is
// read in: the writes it makes are the transaction's.
type inRecord struct {
	*kgo.Record
	write func(*kgo.Record)
}

// emit writes one record for in. A nil key stays null.
func (in inRecord) emit(topic string, key, value []byte, h headers) {
	in.write(outgoing(&kgo.Record{Topic: topic, Key: key, Value: value}, h))
}

// rekeyState is what the rekey step keeps per input partition between
// polls, and which partitions it must forget.
type rekeyState struct {
	mu       sync.Mutex
	batchers map[int32]*batcher
	fresh    map[int32]bool // assigned since their records were last handled
	ended    map[int32]bool // a bounded run's partitions past their bound
}

// runRekey runs the rekey step until ctx ends (nil, after committing the
// transaction under way) or it fails.
func (a *Aggregator) runRekey(ctx context.Context) error {
	a.forgetRekey() // a run before this one may have left open state
	if a.cfg.Until != nil {
		defer a.rewindPastBound()
	}
	sess, err := newTransactSession(a.cfg.Kafka, RekeyGroup(a.cfg.Group), a.cfg.Input, a.cfg.Start, kafka.KeyPartitioner(goka.DefaultHasher()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
			a.rekeyState.mu.Lock()
			defer a.rekeyState.mu.Unlock()
			for _, p := range assigned[a.cfg.Input] {
				a.rekeyState.fresh[p] = true
			}
		}))
	if err != nil {
		return fmt.Errorf("rekey step: %w", err)
	}
	defer sess.Close()
	t := &txn{sess: sess, failures: &a.stats.writeErrors, log: a.log}
	for {
		if t.open && time.Since(t.began) >= a.cfg.BatchLinger || !t.open && a.marksDue(time.Now()) {
			if err := a.commitRekey(t); err != nil {
				return fmt.Errorf("rekey step: %w", err)
			}
		}
		wait := markInterval
		if t.open {
			wait = max(time.Millisecond, a.cfg.BatchLinger-time.Since(t.began))
		}
		pctx, cancel := context.WithTimeout(ctx, wait)
		fs := sess.PollRecords(pctx, pollRecords)
		cancel()
		if ctx.Err() != nil {
			break
		}
		if err := fetchError(fs); err != nil {
			if t.open {
				_, err = t.end(err)
			}
			return fmt.Errorf("rekey step: %w", err)
		}
		if fs.NumRecords() == 0 {
			continue
		}
		if err := t.begin(); err != nil {
			return fmt.Errorf("rekey step: %w", err)
		}
		if err := eachPartition(fs, func(p int32, records []*kgo.Record) error {
			return a.rekeyRecords(ctx, p, records, t.write)
		}); err != nil {
			_, err = t.end(err)
			return fmt.Errorf("rekey step: %w", err)
		}
		a.pauseEnded(sess.Client())
	}
	// Stopping: the transaction under way commits what it read.
	if t.open {
		if err := a.commitRekey(t); err != nil {
			return fmt.Errorf("rekey step: %w", err)
		}
	}
	return nil
}

// commitRekey writes the open batches and the marks due into the
// transaction (opening one for marks alone) and ends it. If it did not
// commit, the step forgets what it kept: its records are read again.
func (a *Aggregator) commitRekey(t *txn) error {
	if err := t.begin(); err != nil {
		return err
	}
	a.rekeyState.mu.Lock()
	bs := make([]*batcher, 0, len(a.rekeyState.batchers))
	for _, b := range a.rekeyState.batchers {
		bs = append(bs, b)
	}
	a.rekeyState.mu.Unlock()
	for _, b := range bs {
		a.flush(b, t.write)
	}
	a.sendMarks(t.write, time.Now())
	committed, err := t.end(nil)
	if err != nil || !committed {
		a.forgetRekey()
		// A partition paused at its bound is read again from its
		// committed offset.
		cl := t.sess.Client()
		cl.ResumeFetchPartitions(cl.PauseFetchPartitions(nil))
	}
	return err
}

// rekeyRecords handles one poll's records of input partition p.
func (a *Aggregator) rekeyRecords(ctx context.Context, p int32, records []*kgo.Record, write func(*kgo.Record)) error {
	b := a.batcherOf(p)
	for _, r := range records {
		if err := a.rekey(ctx, b, inRecord{Record: r, write: write}); err != nil {
			return err
		}
	}
	return nil
}

// rekey handles one input record: its windows are counted into the
// partition's open batch, or it is dead-lettered. With a watermark, late
// windows get no update and the event goes to the late topic. Errors are
// those that must stop the step (its state could not be restored).
func (a *Aggregator) rekey(ctx context.Context, b *batcher, in inRecord) error {
	p, offset := in.Partition, in.Offset
	var clock *sourceClock
	if a.cfg.Watermark != nil {
		c, err := a.clock(ctx, p, offset)
		if err != nil {
			return err
		}
		clock = c
	}
	end, bounded := a.cfg.Until[p]
	if bounded && offset >= end {
		a.beyondBound(b, clock, in.write)
		return nil
	}
	// Decoded before the record joins a batch: one that cannot be decoded
	// yet (the schema registry does not answer) stops the step with
	// nothing of it admitted, so neither it nor anything after it commits;
	// it is read again.
	key, at, reason, xerr := a.extract(ctx, in.Value)
	if errors.Is(xerr, codec.ErrUnavailable) {
		return fmt.Errorf("%s/%d offset %d: %w", in.Topic, p, offset, xerr)
	}
	var buf [4]windows.Window
	var wins []windows.Window
	if xerr == nil {
		wins = a.cfg.Windows.Assign(buf[:0], at)
		if err := windows.InRange(wins); err != nil {
			reason, xerr = ReasonTime, fmt.Errorf("event time %s: %w", at.Format(time.RFC3339Nano), err)
		}
	}
	last := bounded && offset+1 >= end // the last record of a bounded run
	b.admit(offset)
	defer func() {
		if a.due(b, last) {
			a.flush(b, in.write)
		}
		if last {
			a.endBound(p)
		}
	}()
	a.stats.read.Add(1)
	if a.cfg.ObserveLatency != nil && (b.oldest.IsZero() || in.Timestamp.Before(b.oldest)) {
		b.oldest = in.Timestamp
	}
	if xerr != nil {
		a.alarm.deadLettered(reason, xerr, a.stats.read.Load(), a.stats.deadLettered.Add(1))
		a.log.Debug("dead-lettered a record", "topic", in.Topic, "partition", p, "offset", offset, "reason", reason, "error", xerr)
		in.emit(DeadLetterTopic(a.cfg.Group), in.Key, in.Value, errorHeaders(recordSourceHeaders(in.Record), reason, xerr))
		if clock != nil {
			a.observeClock(in, clock, time.Time{}, false, last)
		}
		return nil
	}
	var lateBuf [4]windows.Window
	late := lateBuf[:0]
	for _, w := range wins {
		// Only this partition's goroutine changes its clock: no lock
		// needed to read it here.
		if clock != nil && windows.Late(w, clock.Max, clock.Seen, a.cfg.Watermark.Lateness) {
			late = append(late, w)
			continue
		}
		b.add(key, w, offset)
	}
	if len(late) > 0 {
		a.lateEvent(in.emit, in.Key, in.Value, recordSourceHeaders(in.Record), ReasonLate, late, clock.Max.Add(-a.cfg.Watermark.Lateness))
	}
	if clock != nil {
		a.observeClock(in, clock, at, true, last)
	}
	return nil
}

// beyondBound handles a record past the bound of a bounded run: it is not
// counted, and its offset is set back to the bound when the run ends
// (rewindPastBound), so that a later run of the group reads it. The run's
// end was reached (normally at the last record before the bound; here if
// that one is gone from the input).
func (a *Aggregator) beyondBound(b *batcher, clock *sourceClock, write func(*kgo.Record)) {
	a.stats.beyond.Add(1)
	if clock != nil {
		clock.mu.Lock()
		clock.ended = true
		clock.mu.Unlock()
	}
	a.flush(b, write)
	if clock != nil {
		clock.publish()
	}
	a.endBound(b.p)
}

// endBound notes that input partition p of a bounded run reached its
// bound: it is read no further (pauseEnded).
func (a *Aggregator) endBound(p int32) {
	a.rekeyState.mu.Lock()
	a.rekeyState.ended[p] = true
	a.rekeyState.mu.Unlock()
}

// pauseEnded stops fetching the partitions that reached their bound.
func (a *Aggregator) pauseEnded(cl *kgo.Client) {
	a.rekeyState.mu.Lock()
	ps := make([]int32, 0, len(a.rekeyState.ended))
	for p := range a.rekeyState.ended {
		ps = append(ps, p)
	}
	a.rekeyState.mu.Unlock()
	if len(ps) > 0 {
		cl.PauseFetchPartitions(map[string][]int32{a.cfg.Input: ps})
	}
}

// rewindPastBound sets the rekey step's committed offsets of a bounded run
// back to the bound where a transaction committed records past it: they
// were read with the records before it, not counted, and belong to a later
// run. It runs after the step left the group.
func (a *Aggregator) rewindPastBound() {
	opts, err := a.cfg.Kafka.Kgo()
	if err != nil {
		return
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		a.log.Warn("could not set the offsets past the bound back", "error", err)
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	group := RekeyGroup(a.cfg.Group)
	fetched, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		a.log.Warn("could not set the offsets past the bound back", "error", err)
		return
	}
	back := kadm.Offsets{}
	for p, end := range a.cfg.Until {
		if o, ok := fetched.Lookup(a.cfg.Input, p); ok && o.Err == nil && o.At > end {
			back.Add(kadm.Offset{Topic: a.cfg.Input, Partition: p, At: end, LeaderEpoch: -1})
		}
	}
	if len(back) == 0 {
		return
	}
	if err := adm.CommitAllOffsets(ctx, group, back); err != nil {
		a.log.Warn("could not set the offsets past the bound back: a later run of the group skips the records between", "error", err)
	}
}

// batcherOf returns input partition p's batcher, new if p was assigned
// since its records were last handled: then its clock is restored anew
// too, since another process may have read the partition in between.
func (a *Aggregator) batcherOf(p int32) *batcher {
	s := &a.rekeyState
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.batchers[p]
	if b == nil || s.fresh[p] {
		delete(s.fresh, p)
		b = &batcher{p: p, rows: map[rowID]int{}}
		s.batchers[p] = b
		a.rekeyClocks.forget(p)
	}
	return b
}

// forgetRekey forgets every partition's open batch and clock: the
// transaction that held them did not commit.
func (a *Aggregator) forgetRekey() {
	s := &a.rekeyState
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batchers, s.fresh, s.ended = map[int32]*batcher{}, map[int32]bool{}, map[int32]bool{}
	a.rekeyClocks.forgetAll()
}
