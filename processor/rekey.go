package processor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hourglass-stream/hourglass/agg"

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

// backlogPoll is a poll that finds a backlog, and backlogLinger how long a
// transaction then collects records (Kafka Streams commits every 100 ms
// under exactly_once_v2).
const (
	backlogPoll   = pollRecords / 4
	backlogLinger = 100 * time.Millisecond
)

// rekeyStep is the rekey step of one run: its partitions' state, and
// when it last sent marks. The loop (run) owns it; a poll's records
// of one partition are handled on a goroutine of their own, which touches
// only that partition's rekeyPartition.
type rekeyStep struct {
	a *Aggregator // the configuration, decoding and stats

	mu    sync.Mutex // parts, and each one's fresh and ended
	parts map[int32]*rekeyPartition

	marksSent   time.Time // the loop's
	assignments int       // the client's goroutine's
}

// rekeyPartition is what the rekey step keeps of one input partition
// between the records of a transaction: its open batch and, with a
// watermark, its clock. Both are forgotten when the transaction does not
// commit, and when the partition is assigned anew.
type rekeyPartition struct {
	p     int32
	batch batcher
	clock *sourceClock // nil: restored from its checkpoint at the next record
	fresh bool         // assigned since its records were last handled
	ended bool         // a bounded run's partition past its bound
	read  int64        // records read in the poll under way (records)
	// Scratch: what the decoder extracts of a record (its --agg values
	// among it), and their encoding.
	scratch []any
	encoded []byte
}

func newRekeyStep(a *Aggregator) *rekeyStep {
	s := &rekeyStep{a: a}
	s.forget()
	return s
}

// partition returns input partition p's state, new if p was assigned
// since its records were last handled (another process may have read it
// in between).
func (s *rekeyStep) partition(p int32) *rekeyPartition {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.parts[p]
	if rp == nil || rp.fresh {
		rp = &rekeyPartition{p: p, batch: batcher{rows: map[rowID]int{}}}
		s.parts[p] = rp
	}
	return rp
}

// all returns every partition's state.
func (s *rekeyStep) all() []*rekeyPartition {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*rekeyPartition, 0, len(s.parts))
	for _, rp := range s.parts {
		out = append(out, rp)
	}
	return out
}

// assigned marks partitions assigned anew; it runs on the client's
// goroutine, perhaps while a poll's records are handled. A bounded run
// answers for its own end (caughtUp) only if the first assignment was the
// last.
func (s *rekeyStep) assigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	s.a.health.join("rekey")
	if s.assignments++; s.assignments > 1 {
		s.a.caughtUp.spoil()
	}
	s.a.log.Info("assigned", "step", "rekey", "partitions", slices.Sorted(slices.Values(assigned[s.a.cfg.Input])))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range assigned[s.a.cfg.Input] {
		if rp := s.parts[p]; rp != nil {
			rp.fresh = true
		}
	}
}

// forget forgets every partition's open batch and clock: the transaction
// that held them did not commit. A bounded run's partitions with nothing
// to read keep their ended clocks, to be sent again.
func (s *rekeyStep) forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.parts = map[int32]*rekeyPartition{}
	for _, p := range s.a.cfg.Ended {
		s.parts[p] = &rekeyPartition{p: p, batch: batcher{rows: map[rowID]int{}}, clock: endedClock()}
	}
}

// run runs the rekey step until ctx ends (nil, after committing the
// transaction under way) or it fails.
func (s *rekeyStep) run(ctx context.Context) error {
	a := s.a
	if a.cfg.Until != nil {
		defer s.rewindPastBound()
	}
	spoil := func(context.Context, *kgo.Client, map[string][]int32) { a.caughtUp.spoil() }
	sess, err := newTransactSession(a.cfg.Kafka, RekeyGroup(a.cfg.Group), a.cfg.Input, a.cfg.Start,
		kafka.KeyPartitioner(goka.DefaultHasher()), append(a.cfg.Kafka.StepFetchOpts(),
			kgo.OnPartitionsAssigned(s.assigned), kgo.OnPartitionsRevoked(spoil), kgo.OnPartitionsLost(spoil))...)
	if err != nil {
		return fmt.Errorf("rekey step: %w", err)
	}
	defer sess.Close()
	t := &txn{sess: sess, failures: &a.stats.writeErrors, log: a.log, track: RepartitionTopic(a.cfg.Group)}
	linger := a.cfg.BatchLinger // how long the transaction under way collects records
	for {
		// A bounded run that read everything commits at once: no more
		// records are coming to join the transaction.
		if t.open && (time.Since(t.began) >= linger || s.allEnded()) || !t.open && a.cfg.Watermark != nil && s.marksDue(time.Now()) {
			if err := s.commit(t); err != nil {
				return fmt.Errorf("rekey step: %w", err)
			}
		}
		wait := markInterval
		if t.open {
			wait = max(time.Millisecond, linger-time.Since(t.began))
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
		// Through a backlog (full polls) a transaction runs longer: each
		// commit holds the step for a round of requests (offsets, end,
		// markers), and the latency the linger bounds is long gone.
		linger = a.cfg.BatchLinger
		if fs.NumRecords() >= backlogPoll {
			linger = max(linger, backlogLinger)
		}
		if err := eachPartition(fs, func(p int32, records []*kgo.Record) error {
			return s.records(ctx, s.partition(p), records, t.write)
		}); err != nil {
			_, err = t.end(err)
			return fmt.Errorf("rekey step: %w", err)
		}
		s.pauseEnded(sess.Client())
	}
	// Stopping: the transaction under way commits what it read.
	if t.open {
		if err := s.commit(t); err != nil {
			return fmt.Errorf("rekey step: %w", err)
		}
	}
	return nil
}

// commit writes the open batches and the marks due into the transaction
// (opening one for marks alone) and ends it. If it did not commit, the
// step forgets what it kept: its records are read again.
func (s *rekeyStep) commit(t *txn) error {
	if err := t.begin(); err != nil {
		return err
	}
	for _, rp := range s.all() {
		s.flush(rp, t.write)
	}
	if s.a.cfg.Watermark != nil {
		s.sendMarks(t.write, time.Now())
	}
	committed, err := t.end(nil)
	if committed && s.allEnded() {
		s.a.caughtUp.rekeyEnded(t.committed)
	}
	if err != nil || !committed {
		s.forget()
		// A partition paused at its bound is read again from its
		// committed offset.
		cl := t.sess.Client()
		cl.ResumeFetchPartitions(cl.PauseFetchPartitions(nil))
	}
	return err
}

// records handles one poll's records of input partition rp. The records
// read are added up once per poll: a counter shared by every partition's
// goroutine, touched per record, cost more than the window assignment.
func (s *rekeyStep) records(ctx context.Context, rp *rekeyPartition, records []*kgo.Record, write func(*kgo.Record)) error {
	defer func() {
		s.a.stats.read.Add(rp.read)
		rp.read = 0
	}()
	for _, r := range records {
		if err := s.rekey(ctx, rp, inRecord{Record: r, write: write}); err != nil {
			return err
		}
	}
	return nil
}

// rekey handles one input record: its windows are counted into the
// partition's open batch, or it is dead-lettered. With a watermark, late
// windows get no update and the event goes to the late topic. Errors are
// those that must stop the step (its state could not be restored).
func (s *rekeyStep) rekey(ctx context.Context, rp *rekeyPartition, in inRecord) error {
	a, b := s.a, &rp.batch
	p, offset := in.Partition, in.Offset
	var clock *sourceClock
	if a.cfg.Watermark != nil {
		c, err := s.clockAt(ctx, rp, offset)
		if err != nil {
			return err
		}
		clock = c
	}
	end, bounded := a.cfg.Until[p]
	if bounded && offset >= end {
		s.beyondBound(rp, in.write)
		return nil
	}
	// Decoded before the record joins a batch: one that cannot be decoded
	// yet (the schema registry does not answer) stops the step with
	// nothing of it admitted, so neither it nor anything after it commits;
	// it is read again.
	if len(rp.scratch) < a.extractLen() {
		rp.scratch = make([]any, a.extractLen())
	}
	key, at, values, reason, xerr := a.extractValues(ctx, in.Record, rp.scratch, true)
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
		if s.due(b, last) {
			s.flush(rp, in.write)
		}
		if last {
			s.endBound(rp)
		}
	}()
	rp.read++
	if a.cfg.ObserveLatency != nil && (b.oldest.IsZero() || in.Timestamp.Before(b.oldest)) {
		b.oldest = in.Timestamp
	}
	if errors.Is(xerr, errNotMatched) {
		a.stats.rejected.Add(1)
		if clock != nil {
			s.observeClock(in, clock, time.Time{}, false, last)
		}
		return nil
	}
	if xerr != nil {
		a.alarm.deadLettered(reason, xerr, a.stats.read.Load()+rp.read, a.stats.deadLettered.Add(1))
		a.log.Debug("dead-lettered a record", "topic", in.Topic, "partition", p, "offset", offset, "reason", reason, "error", xerr)
		in.emit(DeadLetterTopic(a.cfg.Group), in.Key, in.Value, errorHeaders(recordSourceHeaders(in.Record), reason, xerr))
		if clock != nil {
			s.observeClock(in, clock, time.Time{}, false, last)
		}
		return nil
	}
	enc := rp.encoded[:0]
	for _, v := range values {
		if v == nil {
			a.stats.nulls.Add(1)
		}
		enc = agg.AppendValue(enc, v)
	}
	rp.encoded = enc
	var lateBuf [4]windows.Window
	late := lateBuf[:0]
	for _, w := range wins {
		if clock != nil && errors.Is(clock.Admit(w, a.cfg.Watermark.Lateness), windows.ErrLate) {
			late = append(late, w)
			continue
		}
		b.add(key, w, offset, enc)
	}
	if len(late) > 0 {
		a.lateEvent(in.emit, in.Key, in.Value, recordSourceHeaders(in.Record), ReasonLate, late, clock.Max.Add(-a.cfg.Watermark.Lateness))
	}
	if clock != nil {
		s.observeClock(in, clock, at, true, last)
	}
	return nil
}

// beyondBound handles a record past the bound of a bounded run: it is not
// counted, and its offset is set back to the bound when the run ends
// (rewindPastBound), so that a later run of the group reads it. The run's
// end was reached (normally at the last record before the bound; here if
// that one is gone from the input).
func (s *rekeyStep) beyondBound(rp *rekeyPartition, write func(*kgo.Record)) {
	s.a.stats.beyond.Add(1)
	if rp.clock != nil {
		rp.clock.ended = true
	}
	s.flush(rp, write)
	if rp.clock != nil {
		rp.clock.publish()
	}
	s.endBound(rp)
}

// endBound notes that partition rp of a bounded run reached its bound: it
// is read no further (pauseEnded).
func (s *rekeyStep) endBound(rp *rekeyPartition) {
	s.mu.Lock()
	rp.ended = true
	s.mu.Unlock()
}

// allEnded reports whether a bounded run has read every input partition
// up to its bound: this process holds them all and nothing is left.
func (s *rekeyStep) allEnded() bool {
	a := s.a
	if a.cfg.Until == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range a.cfg.Until {
		if rp := s.parts[p]; (rp == nil || !rp.ended) && !slices.Contains(a.cfg.Ended, p) {
			return false
		}
	}
	return true
}

// pauseEnded stops fetching the partitions that reached their bound.
func (s *rekeyStep) pauseEnded(cl *kgo.Client) {
	var ps []int32
	s.mu.Lock()
	for _, rp := range s.parts {
		if rp.ended {
			ps = append(ps, rp.p)
		}
	}
	s.mu.Unlock()
	if len(ps) > 0 {
		cl.PauseFetchPartitions(map[string][]int32{s.a.cfg.Input: ps})
	}
}

// rewindPastBound sets the rekey step's committed offsets of a bounded run
// back to the bound where a transaction committed records past it: they
// were read with the records before it, not counted, and belong to a later
// run. It runs after the step left the group.
func (s *rekeyStep) rewindPastBound() {
	a := s.a
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
