package processor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hourglass-stream/hourglass/windows"
	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The rekey step reads the input as consumer group <group>-rekey with
// franz-go's consumer. It keeps no table, so it needs nothing of Goka but
// its partitioning, and Goka's per-record machinery (a context, channel
// selects and commit bookkeeping for every record) cost more than the work
// itself. Records are handled in batches per input partition
// (combine.go); a batch's offsets are committed once every write it made
// (updates, dead letters, late events, watermark checkpoints) is
// acknowledged, so a crash redoes whole batches and loses nothing.
//
// Rebalances are blocked while a poll's records are being handled
// (BlockRebalanceOnPoll); a partition that is revoked first has its open
// batch written, its writes acknowledged and its offsets committed, so the
// next owner starts exactly where this one stopped.

// commitInterval is how often acknowledged batches are committed.
const commitInterval = 100 * time.Millisecond

// pollRecords bounds the records taken per poll.
const pollRecords = 50000

// rekeyStep is one run of the rekey step.
type rekeyStep struct {
	a  *Aggregator
	cl *kgo.Client

	mu        sync.Mutex // the commit bookkeeping below, and commits
	owned     map[int32]bool
	committed map[int32]int64
}

// inRecord is an input record being rekeyed, with its batch: the writes it
// makes are the batch's.
type inRecord struct {
	*kgo.Record
	b    *batcher
	prod *kgoProducer
}

// emit writes one record for in; its batch commits only after it landed.
func (in inRecord) emit(topic, key string, value []byte, h goka.Headers) {
	r := &kgo.Record{Topic: topic, Key: []byte(key), Value: value}
	for k, v := range h {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: v})
	}
	done := in.b.track()
	in.prod.client.Produce(context.Background(), r, func(_ *kgo.Record, err error) { done(err) })
}

// sourceHeaders are in's headers plus where it came from.
func (in inRecord) sourceHeaders() goka.Headers {
	h := goka.Headers{}
	for _, rh := range in.Headers {
		h[rh.Key] = rh.Value
	}
	return withSource(h, in.Topic, in.Partition, in.Offset)
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

	s := &rekeyStep{a: a, owned: map[int32]bool{}, committed: map[int32]int64{}}
	reset := kgo.NewOffset().AtStart()
	if a.cfg.Start == StartLatest {
		reset = kgo.NewOffset().AtEnd()
	}
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumerGroup(RekeyGroup(a.cfg.Group)),
		kgo.ConsumeTopics(a.cfg.Input),
		kgo.ConsumeResetOffset(reset),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.lost),
	)...)
	if err != nil {
		return err
	}
	s.cl = cl
	defer func() {
		cl.AllowRebalance() // leaving the group waits for it
		cl.Close()
	}()

	bg, stopBg := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a.flushBatches(bg) }()
	go func() {
		defer wg.Done()
		_ = every(bg, commitInterval, func() error { s.commit(bg, nil); return nil })
	}()
	defer func() { stopBg(); wg.Wait() }()

	for {
		fs := cl.PollRecords(ctx, pollRecords)
		if ctx.Err() != nil {
			break
		}
		if fs.IsClientClosed() {
			return errors.New("rekey step: consumer closed")
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("rekey step: read %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		if err := a.rekeyFetches(ctx, fs, prod); err != nil {
			return fmt.Errorf("rekey step: %w", err)
		}
		if err := s.failure(); err != nil {
			return fmt.Errorf("rekey step: %w", err)
		}
		cl.AllowRebalance()
	}
	// Stopping: write the open batches, wait for their writes, commit.
	s.mu.Lock()
	owned := make([]int32, 0, len(s.owned))
	for p := range s.owned {
		owned = append(owned, p)
	}
	s.mu.Unlock()
	s.settle(owned)
	s.commit(context.Background(), owned)
	if err := s.failure(); err != nil {
		return fmt.Errorf("rekey step: %w", err)
	}
	return nil
}

// rekeyFetches handles a poll's records, each partition's on its own
// goroutine, as goka ran one per partition.
func (a *Aggregator) rekeyFetches(ctx context.Context, fs kgo.Fetches, prod *kgoProducer) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
		if len(ftp.Records) == 0 {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := a.batcherOf(ftp.Partition)
			for _, r := range ftp.Records {
				if err := a.rekey(ctx, b, inRecord{Record: r, b: b, prod: prod}); err != nil {
					mu.Lock()
					firstErr = cmpOr(firstErr, err)
					mu.Unlock()
					return
				}
			}
		}()
	})
	wg.Wait()
	return firstErr
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
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
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.next < 0 || offset < b.next {
		if err := a.resume(ctx, b, offset); err != nil {
			return err
		}
	}
	end, bounded := a.cfg.Until[p]
	last := bounded && offset+1 >= end // the last record of a bounded run
	a.admit(b, offset)
	defer func() {
		if a.due(b, last) {
			a.flush(b)
		}
	}()
	if bounded && offset >= end {
		a.stats.beyond.Add(1)
		if clock != nil {
			a.observeClock(in, clock, time.Time{}, false, true)
		}
		return nil
	}
	a.stats.read.Add(1)
	a.observe("rekey", in.Timestamp)
	key, at, reason, err := a.extract(ctx, in.Value)
	if err != nil {
		a.stats.deadLettered.Add(1)
		a.log.Debug("dead-lettered a record", "topic", in.Topic, "partition", p, "offset", offset, "reason", reason, "error", err)
		in.emit(DeadLetterTopic(a.cfg.Group), string(in.Key), in.Value, errorHeaders(in.sourceHeaders(), reason, err))
		if clock != nil {
			a.observeClock(in, clock, time.Time{}, false, last)
		}
		return nil
	}
	var buf, lateBuf [4]windows.Window
	wins, late := a.cfg.Windows.Assign(buf[:0], at), lateBuf[:0]
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
		a.lateEvent(in.emit, string(in.Key), in.Value, in.sourceHeaders(), ReasonLate, late, clock.Max.Add(-a.cfg.Watermark.Lateness))
	}
	if clock != nil {
		a.observeClock(in, clock, at, true, last)
	}
	return nil
}

// assigned starts the bookkeeping of newly assigned partitions; their
// batchers resume from the batch log at their first record.
func (s *rekeyStep) assigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range assigned[s.a.cfg.Input] {
		b := s.a.batcherOf(p)
		b.mu.Lock()
		b.drop()
		b.mu.Unlock()
		if c := s.a.rekeyClocks.get(p); c != nil {
			c.mu.Lock()
			c.next = -1 // restored at the first record
			c.mu.Unlock()
		}
		s.owned[p] = true
		delete(s.committed, p)
	}
}

// revoked hands partitions over cleanly: their open batches are written
// (a redo interrupted is left to the next owner), their writes awaited,
// their offsets committed.
func (s *rekeyStep) revoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	ps := revoked[s.a.cfg.Input]
	s.settle(ps)
	s.commit(ctx, ps)
	s.forget(ps)
}

// lost forgets partitions taken away without a handover: nothing of
// theirs is committed any more; the next owner redoes it.
func (s *rekeyStep) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	s.forget(lost[s.a.cfg.Input])
}

func (s *rekeyStep) forget(ps []int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range ps {
		b := s.a.batcherOf(p)
		b.mu.Lock()
		b.drop()
		b.mu.Unlock()
		delete(s.owned, p)
		delete(s.committed, p)
	}
}

// settle writes the open batches of partitions ps and waits (up to
// closeTimeout) until their writes are acknowledged. An open redo of a
// recorded batch is not written in part: it fails, so that its offsets
// stay uncommitted.
func (s *rekeyStep) settle(ps []int32) {
	for _, p := range ps {
		b := s.a.batcherOf(p)
		b.mu.Lock()
		if b.open && b.kind == plannedBatch {
			x := b.acks
			b.open, b.acks, b.pending = false, nil, b.pending[:0]
			clear(b.rows)
			x.done(errRedoInterrupted)
		} else {
			s.a.flush(b)
		}
		b.mu.Unlock()
	}
	deadline := time.Now().Add(closeTimeout)
	for _, p := range ps {
		b := s.a.batcherOf(p)
		for !b.settled() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond) // acknowledgements arrive on the producer's goroutines
		}
	}
}

// settled reports whether no write of b is outstanding (or a failed batch
// holds the rest back).
func (b *batcher) settled() bool {
	b.ackMu.Lock()
	defer b.ackMu.Unlock()
	return len(b.inflight) == 0 || b.inflight[0].pending == 0
}

// commit commits the acknowledged offsets of partitions ps (nil: every
// owned partition) that moved.
func (s *rekeyStep) commit(ctx context.Context, ps []int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ps == nil {
		for p := range s.owned {
			ps = append(ps, p)
		}
	}
	offsets := map[int32]kgo.EpochOffset{}
	for _, p := range ps {
		if !s.owned[p] {
			continue
		}
		b := s.a.batcherOf(p)
		b.ackMu.Lock()
		at := b.committable
		b.ackMu.Unlock()
		if last, ok := s.committed[p]; at < 0 || (ok && at <= last) {
			continue
		}
		offsets[p] = kgo.EpochOffset{Epoch: -1, Offset: at}
	}
	if len(offsets) == 0 {
		return
	}
	s.cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{s.a.cfg.Input: offsets},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				s.a.log.Debug("commit failed; retried with the next", "error", err)
				return
			}
			for _, t := range resp.Topics {
				for _, rp := range t.Partitions {
					if rp.ErrorCode == 0 {
						s.committed[rp.Partition] = offsets[rp.Partition].Offset
					}
				}
			}
		})
}

// failure returns the error of a batch that failed to write, if any.
func (s *rekeyStep) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.owned {
		b := s.a.batcherOf(p)
		b.ackMu.Lock()
		err := b.failed
		b.ackMu.Unlock()
		if err != nil && !errors.Is(err, errRedoInterrupted) {
			return err
		}
	}
	return nil
}

// batcherOf returns input partition p's batcher.
func (a *Aggregator) batcherOf(p int32) *batcher {
	a.batchers.mu.Lock()
	defer a.batchers.mu.Unlock()
	b := a.batchers.m[p]
	if b == nil {
		b = &batcher{p: p, next: -1, rows: map[rowID]int{}, committable: -1}
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
