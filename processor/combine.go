package processor

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hourglass-stream/hourglass/windows"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The rekey step combines: it folds the events of a batch of consecutive
// records of one input partition into one update per row (key and window),
// with the batch's offset range [from, to], and commits the batch's input
// offsets only after all its writes are acknowledged (reader.go).
// The count step dedupes an update on its last offset, to, as it deduped
// single events: a row that applied offset X of a source partition has all
// of that partition's events up to X.
//
// That is exact only if no update ever straddles the end X of a batch that
// some row applied (from ≤ X < to): the update would hold events the row
// has and events it lacks. Batches end on size and on time, so a redo after
// a crash or a rebalance would draw other boundaries. Each batch's range is
// therefore recorded in BatchTopic before its updates are written, and a
// redo follows the recorded ranges exactly; only past the last recorded
// batch are new boundaries drawn (and recorded).

// BatchTopic is the rekey step's batch log: partition p holds the offset
// ranges of input partition p's batches, in order. It is kept forever (a
// replay of old offsets follows it); a record is a few bytes per batch.
func BatchTopic(group string) string { return group + "-batches" }

const (
	// DefaultBatchLinger is how long a batch collects records before it is
	// written (--batch-linger): the latency it adds at low rates.
	DefaultBatchLinger = 20 * time.Millisecond
	// DefaultBatchMax is the most records a batch holds (--batch-max).
	DefaultBatchMax = 20000
	// batchKind starts a batch log record.
	batchKind = 'B'
)

// span is the offset range [from, to] of one batch of an input partition.
type span struct{ from, to int64 }

func encodeSpan(p int32, s span) []byte {
	buf := make([]byte, 0, 1+3*binary.MaxVarintLen64)
	buf = append(buf, batchKind)
	buf = binary.AppendVarint(buf, int64(p))
	buf = binary.AppendVarint(buf, s.from)
	return binary.AppendVarint(buf, s.to)
}

var errBadSpan = errors.New("bad batch log record")

func decodeSpan(data []byte) (int32, span, error) {
	if len(data) == 0 || data[0] != batchKind {
		return 0, span{}, errBadSpan
	}
	data = data[1:]
	var f [3]int64
	for i := range f {
		v, n := binary.Varint(data)
		if n <= 0 {
			return 0, span{}, errBadSpan
		}
		f[i], data = v, data[n:]
	}
	if len(data) != 0 || f[0] < 0 || f[0] > 1<<31-1 || f[1] < 0 || f[2] < f[1] {
		return 0, span{}, errBadSpan
	}
	return int32(f[0]), span{f[1], f[2]}, nil
}

// rowID is a row of an open batch: the group key and the window.
type rowID struct {
	key   string
	start int64 // window start, epoch ms
}

type pendingRow struct {
	key    string
	window windows.Window
	delta  int64
}

// batcher is the combiner of one input partition. The partition's records
// are added under mu; flushBatches writes batches that waited long enough,
// under mu too. Acknowledgements arrive on the producer's goroutines and
// take only the tracker's lock, so a write blocked on a full producer
// buffer never waits for them.
type batcher struct {
	mu   sync.Mutex
	p    int32
	next int64  // the offset expected next: -1 after a (re)assignment, and a lower one means the consumer went back
	plan []span // recorded batches not yet redone, in order

	open    bool
	kind    batchMode
	from    int64
	to      int64
	began   time.Time
	oldest  time.Time // the oldest input timestamp of the open batch, for ObserveLatency
	rows    map[rowID]int
	pending []pendingRow
	cur     *batchAcks // the open batch's writes: its records' own (dead letters, late events, checkpoints), then its updates
	commits acks
}

// batchMode says how an open batch ends.
type batchMode uint8

const (
	freeBatch    batchMode = iota // new: ends on size or time, recorded when written
	plannedBatch                  // a redo of plan[0]: ends exactly at its end
	singleBatch                   // one record: outside any recorded batch, or not combining
)

type batchers struct {
	mu sync.Mutex
	m  map[int32]*batcher
}

// combining reports whether the rekey step folds batches into one update
// per row: not for session windows (a key's sessions are one row, and an
// update proposes one session), nor with --batch-max 1. Otherwise every
// record is a batch of its own.
func (a *Aggregator) combining() bool {
	return !a.cfg.Windows.IsSession() && a.cfg.BatchMax != 1
}

// drop forgets the partition's open batch. The caller holds b.mu.
func (b *batcher) drop() {
	b.open, b.pending, b.cur, b.next, b.oldest = false, b.pending[:0], nil, -1, time.Time{}
	clear(b.rows)
}

// loadPlan returns the recorded batches of input partition p that end at
// or after offset next, in order.
func (a *Aggregator) loadPlan(ctx context.Context, p int32, next int64) ([]span, error) {
	topic := BatchTopic(a.cfg.Group)
	start, end, err := partitionBounds(ctx, a.cfg.Kafka, topic, p)
	if err != nil {
		return nil, err
	}
	// Batches are recorded in offset order: read back from the end in
	// growing steps until one that starts at or before next turns up.
	var plan []span
	for step, to := int64(64), end; to > start; step *= 4 {
		from := max(start, to-step)
		var chunk []span
		err := readPartition(ctx, a.cfg.Kafka, topic, p, from, to, func(r *kgo.Record) {
			q, s, err := decodeSpan(r.Value)
			if err != nil || q != p || s.to < next || (len(chunk) > 0 && s.from <= chunk[len(chunk)-1].to) {
				return // not ours, already passed, or written twice
			}
			chunk = append(chunk, s)
		})
		if err != nil {
			return nil, err
		}
		if len(chunk) > 0 && len(plan) > 0 && chunk[len(chunk)-1].to >= plan[0].from {
			return nil, fmt.Errorf("batch log out of order at %d", plan[0].from)
		}
		plan = append(chunk, plan...)
		if len(chunk) < int(to-from) || (len(plan) > 0 && plan[0].from <= next) {
			// Some record of this chunk ended before next (or was not a
			// batch of p): nothing earlier is needed.
			break
		}
		to = from
	}
	if len(plan) > 0 {
		a.log.Debug("redoing recorded batches", "partition", p, "next", next, "batches", len(plan), "until", plan[len(plan)-1].to)
	}
	return plan, nil
}

// admit prepares b for the record at offset: it writes a planned batch
// whose records ended before offset, and opens the batch the record
// belongs to. The caller holds b.mu.
func (a *Aggregator) admit(b *batcher, offset int64) {
	for len(b.plan) > 0 && b.plan[0].to < offset {
		if b.open && b.kind == plannedBatch {
			a.flush(b) // its last records are gone from the input
		}
		b.plan = b.plan[1:]
	}
	if !b.open {
		b.open, b.from, b.began = true, offset, time.Now()
		switch {
		case !a.combining():
			b.kind = singleBatch
		case len(b.plan) == 0:
			b.kind = freeBatch
		case offset < b.plan[0].from:
			b.kind = singleBatch
		default:
			b.kind = plannedBatch
		}
		b.cur = b.commits.open()
	}
	b.to, b.next = offset, offset+1
}

// add counts one event of the open batch into key's row of window w.
func (b *batcher) add(key string, w windows.Window) {
	id := rowID{key, w.Start.UnixMilli()}
	if i, ok := b.rows[id]; ok {
		b.pending[i].delta++
		return
	}
	b.rows[id] = len(b.pending)
	b.pending = append(b.pending, pendingRow{key: key, window: w, delta: 1})
}

// due reports whether the open batch ends with the record just admitted.
func (a *Aggregator) due(b *batcher, last bool) bool {
	switch b.kind {
	case singleBatch:
		return true
	case plannedBatch:
		return b.to >= b.plan[0].to
	}
	return last || b.to-b.from+1 >= int64(a.cfg.BatchMax)
}

// flush writes b's open batch, if any: its range to the batch log (a new
// batch), then its updates. The batch becomes committable when all its
// writes are acknowledged. The caller holds b.mu.
func (a *Aggregator) flush(b *batcher) {
	if !b.open {
		return
	}
	x, p, s, kind, pending := b.cur, b.p, span{b.from, b.to}, b.kind, b.pending
	if a.onBatch != nil {
		a.onBatch(s, kind)
	}
	b.open, b.cur, b.pending = false, nil, b.pending[:0]
	clear(b.rows)
	a.observe("rekey", b.oldest) // the batch's wait included
	b.oldest = time.Time{}
	if kind == plannedBatch && s.to >= b.plan[0].to {
		b.plan = b.plan[1:]
	}
	x.to = s.to

	var prod *kgoProducer
	if pp := a.rekeyProducer.Load(); pp != nil {
		prod, _ = (*pp).(*kgoProducer)
	}
	if prod == nil {
		x.done(errors.New("the rekey step has no producer"))
		return
	}
	if kind == freeBatch && len(pending) > 0 {
		if err := a.recordBatch(p, s); err != nil {
			x.done(err)
			return
		}
	}
	x.add(len(pending))
	topic := RepartitionTopic(a.cfg.Group)
	for i, r := range pending {
		if a.dropUpdate != nil && a.dropUpdate(p, s, i) {
			x.done(errDropped)
			continue
		}
		value, err := updateCodec{}.Encode(update{Window: r.window, Delta: r.delta, SourcePartition: p, SourceOffset: s.to, SourceFrom: s.from})
		if err != nil {
			x.done(err)
			continue
		}
		rowKey := r.key // session windows: one row per key holds its sessions
		if !a.cfg.Windows.IsSession() {
			rowKey = windows.RowKey(r.key, r.window)
		}
		prod.produce(topic, rowKey, value, x.done)
	}
	a.stats.updates.Add(int64(len(pending)))
	x.done(nil) // the batch is no longer open
	// Marks cover this batch only now that its updates are queued before
	// them.
	if c := a.rekeyClocks.get(p); c != nil {
		c.publish()
		if a.cfg.Windows.IsSession() {
			a.sendMark(prod, p, c, time.Now(), sessionMarkEvery)
		}
	}
}

// recordBatch writes s to the batch log and waits for its acknowledgement.
func (a *Aggregator) recordBatch(p int32, s span) error {
	cl := a.batchLog.Load()
	if cl == nil {
		return errors.New("the batch log has no producer")
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	r := &kgo.Record{Topic: BatchTopic(a.cfg.Group), Partition: p, Value: encodeSpan(p, s)}
	if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		return fmt.Errorf("record batch %s/%d [%d, %d]: %w", a.cfg.Input, p, s.from, s.to, err)
	}
	return nil
}

// flushBatches writes, every tenth of the linger until ctx ends, the free
// batches that have waited for the linger.
func (a *Aggregator) flushBatches(ctx context.Context) {
	tick := time.NewTicker(max(a.cfg.BatchLinger/10, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		for _, b := range a.allBatchers() {
			b.mu.Lock()
			if b.open && b.kind == freeBatch && now.Sub(b.began) >= a.cfg.BatchLinger {
				a.flush(b)
			}
			b.mu.Unlock()
		}
	}
}

func (a *Aggregator) allBatchers() []*batcher {
	a.batchers.mu.Lock()
	defer a.batchers.mu.Unlock()
	bs := make([]*batcher, 0, len(a.batchers.m))
	for _, b := range a.batchers.m {
		bs = append(bs, b)
	}
	return bs
}

var errDropped = errors.New("update dropped by a test")

var errRedoInterrupted = errors.New("stopped while redoing a recorded batch; it is redone on the next start")
