package processor

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hourglass-stream/hourglass/windows"
	"github.com/lovoo/goka"
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
// exists. A process that takes a partition over reads the last checkpoint
// below the offset it starts at, then re-reads the few input records
// between them (clock.go).
//
// The same marks are broadcast to every partition of the repartition topic,
// under a key that lands in that partition. The count step stores them in
// one watermark row per table partition (a key starting with NUL, which
// no window row has), so every table partition knows how far every source
// partition has got, as of the updates it has applied. From these it
// computes the watermark of the whole input (windows.Closer) and, in a
// periodic visit of its rows (goka's Visitor edge), closes windows: it
// writes final rows (--emit final) and deletes expired ones (--retain)
// (close.go).

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
