package processor

import (
	"time"

	"github.com/hourglass-stream/hourglass/internal/wire"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The rekey step combines: it folds the events of a batch of consecutive
// records of one input partition into one update per row (key and window),
// carrying the batch's offset range [from, to] and the offsets of the
// row's events in it. Batches end on size (--batch-max) and with the
// transaction they are in (rekey.go), so a committed input offset always
// ends a batch.
//
// The count step dedupes an update on its last offset, to, as it deduped
// single events: a row that applied offset X of a source partition has all
// of that partition's events for it up to X, and none after. An update
// that straddles X (from ≤ X < to) holds events the row has and events it
// lacks. A redo after a crash or a rebalance never makes one: it starts at
// the committed offset, and the count step never saw the aborted updates
// of the transaction that did not commit. A replay of old offsets (after
// `reset`) does, because its batches end elsewhere; the count step then
// applies only the update's events after X, which the offset list names
// (update.after).

const (
	// DefaultBatchLinger is how long a transaction of the rekey step
	// collects records before it commits (--batch-linger): the latency it
	// adds at low rates.
	DefaultBatchLinger = 20 * time.Millisecond
	// DefaultBatchMax is the most records a batch holds (--batch-max),
	// and BoundedBatchMax that of a bounded run (backfill), which has no
	// latency to keep low: larger batches, fewer updates per event.
	DefaultBatchMax = 20000
	BoundedBatchMax = MaxBatchMax
	// MaxBatchMax bounds --batch-max: an update lists its row's events,
	// about a byte each (and their --agg values), and maxUpdateBytes
	// ends a batch whose row would grow past it, far below the largest
	// record.
	MaxBatchMax    = 100000
	maxUpdateBytes = 256 << 10
)

// rowID is a row of an open batch: the group key and the window.
type rowID struct {
	key   string
	start int64 // window start, epoch ms
}

type pendingRow struct {
	key     string
	window  windows.Window
	delta   int64
	offsets wire.OffsetList // the row's events in the batch
	last    int64           // the last of them
	values  []byte          // their --agg values (agg.AppendValue), in order
}

// batcher is the combiner of one input partition: its open batch, part of
// its rekeyPartition.
type batcher struct {
	open    bool
	from    int64
	to      int64
	oldest  time.Time // the oldest input timestamp of the open batch, for ObserveLatency
	rows    map[rowID]int
	pending []pendingRow
	full    bool // a row's update reached maxUpdateBytes
}

// combining reports whether the rekey step folds batches into one update
// per row: not for session windows (a key's sessions are one row, and an
// update proposes one session), nor with --batch-max 1. Otherwise every
// record is a batch of its own.
func (s *rekeyStep) combining() bool {
	return !s.a.cfg.Windows.IsSession() && s.a.cfg.BatchMax != 1
}

// admit makes the record at offset part of b's open batch, opening one if
// none is.
func (b *batcher) admit(offset int64) {
	if !b.open {
		b.open, b.from = true, offset
	}
	b.to = offset
}

// add counts the event at offset, of the open batch, into key's row of
// window w, with its encoded --agg values.
func (b *batcher) add(key string, w windows.Window, offset int64, values []byte) {
	id := rowID{key, w.Start.UnixMilli()}
	if i, ok := b.rows[id]; ok {
		r := &b.pending[i]
		r.delta++
		r.offsets = r.offsets.Append(r.last, offset)
		r.last = offset
		r.values = append(r.values, values...)
		b.full = b.full || len(r.offsets)+len(r.values) >= maxUpdateBytes
		return
	}
	b.rows[id] = len(b.pending)
	var list wire.OffsetList
	var vals []byte
	if len(b.pending) < cap(b.pending) {
		old := b.pending[:len(b.pending)+1][len(b.pending)] // reuse the buffers
		list, vals = old.offsets[:0], old.values[:0]
	}
	b.pending = append(b.pending, pendingRow{key: key, window: w, delta: 1, offsets: list.Append(b.from-1, offset), last: offset,
		values: append(vals, values...)})
	b.full = b.full || len(values) >= maxUpdateBytes
}

// due reports whether the open batch ends with the record just admitted.
func (s *rekeyStep) due(b *batcher, last bool) bool {
	return !s.combining() || last || b.full || b.to-b.from+1 >= int64(s.a.cfg.BatchMax)
}

// flush writes rp's open batch, if any: one update per row.
func (s *rekeyStep) flush(rp *rekeyPartition, write func(*kgo.Record)) {
	a, b := s.a, &rp.batch
	if !b.open {
		return
	}
	a.observe("rekey", b.oldest) // the batch's wait included
	topic := RepartitionTopic(a.cfg.Group)
	for _, r := range b.pending {
		u := wire.Update{Window: r.window, Delta: r.delta, SourcePartition: rp.p, SourceOffset: b.to, SourceFrom: b.from}
		if b.from < b.to || len(a.fields) > 0 {
			u.Offsets = r.offsets
		}
		if len(a.fields) > 0 {
			u.Fields, u.Values = len(a.fields), r.values
		}
		rowKey := r.key // session windows: one row per key holds its sessions
		if !a.cfg.Windows.IsSession() {
			rowKey = windows.RowKey(r.key, r.window)
		}
		write(&kgo.Record{Topic: topic, Key: []byte(rowKey), Value: wire.AppendUpdate(nil, u)})
	}
	a.stats.updates.Add(int64(len(b.pending)))
	b.open, b.oldest, b.pending, b.full = false, time.Time{}, b.pending[:0], false
	clear(b.rows)
	// Marks cover this batch only now that its updates are written before
	// them.
	if c := rp.clock; c != nil {
		c.publish()
		if a.cfg.Windows.IsSession() {
			s.sendMark(write, rp.p, c, time.Now(), sessionMarkEvery)
		}
	}
}
