package processor

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"time"

	"github.com/hourglass-stream/hourglass/internal/wire"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Session windows keep, in the row of each group key, only the sessions
// that may still grow (windows.Sessions). A session no event on time can
// reach any more moves to a window row of its own, under the same key as
// its output row: from there it closes, writes its final row and expires
// like any window row, and the key's row stays small however many sessions
// the key has had.
//
// Goka lets a callback write only its own key's row, so the move writes
// the session's row itself (moveOut): into the local table and, through
// the count step's own producer, to the changelog, before the key's row
// without it. A session's row lives in its key's table partition
// (sessionPartitioner), and one producer keeps a partition's records in
// the order they were made and fails every later one when one fails: the
// key's row never lands without the sessions it moved out, and a reader
// of the changelog sees a session in both rows at most until the key's
// row follows (View.Rows counts it once). A crash before the key's row
// landed redoes the move; a session whose row exists already is left as
// it is (it may have gone on to Closing or Final).

// sessionPartitioner partitions the table topic of session windows: a row
// key (a moved session's) by its group key, so the session shares its
// key's partition; any other key there (a group key, a watermark row), and
// every other topic, as before.
func sessionPartitioner(table string) kgo.Partitioner {
	return tablePartitioner{
		table: table,
		def:   kafka.KeyPartitioner(goka.DefaultHasher()),
		rows:  kafka.KeyPartitioner(func() hash.Hash32 { return &groupKeyHash{Hash32: goka.DefaultHasher()()} }),
	}
}

type tablePartitioner struct {
	table     string
	def, rows kgo.Partitioner
}

func (t tablePartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if topic == t.table {
		return t.rows.ForTopic(topic)
	}
	return t.def.ForTopic(topic)
}

// groupKeyHash hashes the group key of a row key, and any other key whole.
// A partitioner writes each key in one call.
type groupKeyHash struct{ hash.Hash32 }

func (h *groupKeyHash) Write(b []byte) (int, error) {
	if key, _, err := windows.ParseRowKey(string(b)); err == nil {
		_, _ = h.Hash32.Write([]byte(key))
		return len(b), nil
	}
	return h.Hash32.Write(b)
}

// countSession is count for session windows: the row of the group key
// holds its open sessions; the update's proposed session merges with those
// it overlaps, the merged session replaces them in the row and in the
// output (old session rows get tombstones).
func (s *countStep) countSession(ctx goka.Context, u wire.Update) {
	a := s.a
	var row windows.Sessions
	if v := ctx.Value(); v != nil {
		r, ok := v.(windows.Sessions)
		if !ok {
			ctx.Fail(fmt.Errorf("count step: row %q holds a %T, not sessions: was group %s run with other windows?", ctx.Key(), v, a.cfg.Group))
			return
		}
		row = r
	}
	if row.Has(u.SourcePartition, u.SourceOffset) {
		a.stats.duplicates.Add(1)
		// As for windows: write the session the event went into again, in
		// case its first output write was lost.
		if a.cfg.Output != "" && a.cfg.Emit != EmitFinal {
			for _, x := range row.List {
				if x.State == windows.Open && !x.Window.Start.After(u.Window.Start) && !x.Window.End.Before(u.Window.End) {
					s.emitSession(ctx, x)
				}
			}
		}
		return
	}
	var closedAt time.Time
	if a.cfg.Watermark != nil {
		closedAt = s.closedAt(ctx.Partition())
	}
	horizon := closedAt
	if row.Horizon.After(horizon) {
		horizon = row.Horizon
	}
	closed := !horizon.IsZero() && errors.Is(windows.Admit(u.Window, horizon), windows.ErrWindowClosed)
	var merged windows.Session
	var replaced []windows.Window
	var err error
	if !closed {
		merged, replaced, err = row.Add(u.Window, u.Delta, u.SourcePartition, u.SourceOffset)
	}
	if closed || errors.Is(err, windows.ErrSessionClosed) {
		s.lateUpdate(ctx, u, horizon)
		if len(row.List) == 0 && row.Applied == nil {
			// No session to keep it company: a row holding only applied
			// offsets would stay for ever (one per key ever late).
			return
		}
		if row.Applied == nil {
			row.Applied = map[int32]int64{}
		}
		row.Applied[u.SourcePartition] = u.SourceOffset
		row.Version++
		if err := s.settle(ctx, &row, closedAt); err != nil {
			ctx.Fail(err)
			return
		}
		ctx.SetValue(row)
		return
	}
	if err := s.settle(ctx, &row, closedAt); err != nil {
		ctx.Fail(err)
		return
	}
	ctx.SetValue(row)
	a.stats.applied.Add(1)
	if a.cfg.Output != "" && a.cfg.Emit != EmitFinal {
		for _, w := range replaced {
			ctx.Emit(goka.Stream(a.cfg.Output), windows.RowKey(ctx.Key(), w), []byte(nil))
		}
		s.emitSession(ctx, merged)
	}
}

// emitSession writes session x of ctx's key to the output topic.
func (s *countStep) emitSession(ctx goka.Context, x windows.Session) {
	s.emitResult(ctx, windows.RowKey(ctx.Key(), x.Window),
		windows.Result{Key: ctx.Key(), WindowStart: x.Window.Start, WindowEnd: x.Window.End, Count: x.Count}, false)
}

// settle closes row, the row of ctx's key, to closedAt (further if it has
// too many sessions) and moves out the sessions no event may reach any
// more. The caller writes row afterwards.
func (s *countStep) settle(ctx goka.Context, row *windows.Sessions, closedAt time.Time) error {
	a := s.a
	gap := a.cfg.Windows.Gap
	out := row.Settle(closedAt, gap)
	early := 0
	for _, x := range out {
		if closedAt.IsZero() || x.Window.End.After(closedAt.Add(-gap)) {
			early++
		}
		if err := s.moveOut(ctx.Partition(), windows.RowKey(ctx.Key(), x.Window), windows.Row{Window: x.Window, Count: x.Count, State: x.State}); err != nil {
			return err
		}
	}
	if early > 0 {
		a.stats.sessionsClosedEarly.Add(int64(early))
		if now := time.Now(); now.UnixNano()-s.earlyWarned.Load() >= int64(time.Minute) {
			s.earlyWarned.Store(now.UnixNano())
			a.log.Warn("a key has more sessions than a row may hold: its oldest are closed before the watermark closes them, and events that would have joined them are late",
				"key", ctx.Key(), "sessions_max", windows.MaxOpenSessions, "closed_early", early, "closed_to", windows.FormatTime(row.Horizon))
		}
	}
	return nil
}

// moveOut writes row, a session's, under rowKey into table partition q,
// unless the partition has it: into the local table, then to the
// changelog. A failed write fails the key's row written after it in the
// same partition, which fails the callback.
func (s *countStep) moveOut(q int32, rowKey string, row windows.Row) error {
	a := s.a
	st, client := s.partition(q).local, s.client.Load()
	if st == nil || client == nil {
		return fmt.Errorf("count step: move a session: no local table for partition %d", q)
	}
	if has, err := st.Has(rowKey); err != nil {
		return fmt.Errorf("count step: move a session: %w", err)
	} else if has {
		return nil
	}
	value, err := row.MarshalBinary()
	if err != nil {
		return err
	}
	if err := st.Set(rowKey, value); err != nil {
		return fmt.Errorf("count step: move a session: %w", err)
	}
	client.Produce(context.Background(), &kgo.Record{Topic: TableTopic(a.cfg.Group), Key: []byte(rowKey), Value: value}, func(r *kgo.Record, err error) {
		s.tables.acked(r, err) // the local table wrote it as the count step's own
		if err != nil {
			a.log.Warn("a moved session's row was not written; the key's row after it fails too, and the move is redone", "row", rowKey, "error", err)
		}
	})
	a.stats.sessionsMoved.Add(1)
	return nil
}
