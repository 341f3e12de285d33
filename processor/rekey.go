package processor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// inRecord is an input record being rekeyed, with its batch: the writes it
// makes are the batch's.
type inRecord struct {
	*kgo.Record
	b    *batcher
	prod *kgoProducer
}

// emit writes one record for in; its batch commits only after it landed.
// A nil key stays null.
func (in inRecord) emit(topic string, key, value []byte, h headers) {
	writeTracked(in.prod.client, in.b.cur, &kgo.Record{Topic: topic, Key: key, Value: value}, h)
}

// runRekey runs the rekey step until ctx ends (nil, after committing what
// it wrote) or it fails.
func (a *Aggregator) runRekey(ctx context.Context) error {
	opts, err := a.cfg.Kafka.Kgo()
	if err != nil {
		return err
	}
	pc, err := a.cfg.Kafka.Producer(goka.DefaultHasher())
	if err != nil {
		return err
	}
	prod := &kgoProducer{client: pc}
	var gp goka.Producer = prod
	a.rekeyProducer.Store(&gp)
	defer func() {
		a.rekeyProducer.Store(nil)
		_ = prod.Close()
	}()
	logClient, err := kgo.NewClient(append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))...)
	if err != nil {
		return err
	}
	a.batchLog.Store(logClient)
	defer logClient.Close()

	bg, stopBg := context.WithCancel(context.Background())
	flushed := make(chan struct{})
	go func() { defer close(flushed); a.flushBatches(bg) }()
	defer func() { stopBg(); <-flushed }()
	if err := runGroup(ctx, a.cfg.Kafka, RekeyGroup(a.cfg.Group), a.cfg.Input, a.cfg.Start, rekeyStep{a: a, prod: prod}, &a.stats.writeErrors, a.log); err != nil {
		return fmt.Errorf("rekey step: %w", err)
	}
	return nil
}

// rekeyStep is the groupStep of the rekey step.
type rekeyStep struct {
	a    *Aggregator
	prod *kgoProducer
}

func (s rekeyStep) handle(ctx context.Context, p int32, records []*kgo.Record) error {
	b := s.a.batcherOf(p)
	for _, r := range records {
		if err := s.a.rekey(ctx, b, inRecord{Record: r, b: b, prod: s.prod}); err != nil {
			return err
		}
	}
	return nil
}

func (s rekeyStep) acks(p int32) *acks { return &s.a.batcherOf(p).commits }

// reset forgets p's open batch; the batch log is read again at its first
// record, and its clock restored.
func (s rekeyStep) reset(p int32) {
	b := s.a.batcherOf(p)
	b.mu.Lock()
	b.drop()
	b.mu.Unlock()
	if c := s.a.rekeyClocks.get(p); c != nil {
		c.mu.Lock()
		c.next = -1
		c.mu.Unlock()
	}
}

// settle writes p's open batch; an open redo of a recorded batch is not
// written in part: it fails, so its offsets stay uncommitted.
func (s rekeyStep) settle(p int32) {
	b := s.a.batcherOf(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open && b.kind == plannedBatch {
		x := b.cur
		b.drop()
		x.done(errRedoInterrupted)
		return
	}
	s.a.flush(b)
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
		a.beyondBound(b, clock)
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
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.next < 0 || offset < b.next {
		if err := a.resume(ctx, b, offset); err != nil {
			return err
		}
	}
	last := bounded && offset+1 >= end // the last record of a bounded run
	a.admit(b, offset)
	defer func() {
		if a.due(b, last) {
			a.flush(b)
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
		b.add(key, w)
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
// admitted to any batch, so its offset is never committed and a later run
// of the group reads it. The run's end was reached (normally at the last
// record before the bound; here if that one is gone from the input).
func (a *Aggregator) beyondBound(b *batcher, clock *sourceClock) {
	a.stats.beyond.Add(1)
	if clock != nil {
		clock.mu.Lock()
		clock.ended = true
		clock.mu.Unlock()
	}
	b.mu.Lock()
	a.flush(b)
	b.mu.Unlock()
	if clock != nil {
		clock.publish()
	}
}

// batcherOf returns input partition p's batcher.
func (a *Aggregator) batcherOf(p int32) *batcher {
	a.batchers.mu.Lock()
	defer a.batchers.mu.Unlock()
	b := a.batchers.m[p]
	if b == nil {
		b = &batcher{p: p, next: -1, rows: map[rowID]int{}}
		b.commits.committable = -1
		a.batchers.m[p] = b
	}
	return b
}

// resume prepares b for the record at offset after a (re)assignment, or
// after the consumer went back (the input's start passed it by): it loads
// the recorded batches the redo must follow. A gap in the offsets (records
// compacted, transaction markers) needs nothing. The caller holds b.mu.
func (a *Aggregator) resume(ctx context.Context, b *batcher, offset int64) error {
	a.flush(b)
	b.plan = nil
	if !a.combining() || a.ignoreBatchLog {
		return nil
	}
	plan, err := a.loadPlan(ctx, b.p, offset)
	if err != nil {
		return fmt.Errorf("read the batch log of %s/%d: %w", a.cfg.Input, b.p, err)
	}
	b.plan = plan
	return nil
}
