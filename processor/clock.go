package processor

import (
	"context"
	"fmt"
	"time"

	"github.com/hourglass-stream/hourglass/internal/wire"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The rekey step's side of event time (see watermark.go): a clock per
// source partition, its checkpoints, and the marks that tell the count
// step how far each source partition has got.

// sourceClock is the rekey step's lateness state of one source partition,
// part of its rekeyPartition.
type sourceClock struct {
	windows.Clock
	ended    bool      // the bounded run's last record was read
	empty    bool      // a bounded run's partition with nothing to read
	markedAt time.Time // wall time of the last checkpoint
	unmarked int       // records since the last checkpoint
	marked   bool      // a checkpoint was written since the clock was restored
	// sent is the offset of the last mark broadcast, sentEnd whether the
	// end was.
	sent    int64
	sentEnd bool
	// pub is what marks may say: the clock as of the last record whose
	// updates are written (a combining rekey step writes them per batch).
	pub     windows.Mark
	pubSeen bool
}

// publish lets marks cover every record the clock has seen.
func (c *sourceClock) publish() {
	c.pub = windows.Mark{Offset: c.Offset, Max: c.Max, Ended: c.ended}
	c.pubSeen = c.Seen
}

// endedClock is the clock of a bounded run's partition with nothing to
// read: it holds no window open.
func endedClock() *sourceClock {
	return &sourceClock{Clock: windows.NewClock(), ended: true, empty: true, sent: -1, pub: windows.Mark{Offset: -1, Ended: true}}
}

// clockAt returns rp's clock for the record at offset, restored from the
// last checkpoint when rp has none: after a (re)assignment or an abort.
func (s *rekeyStep) clockAt(ctx context.Context, rp *rekeyPartition, offset int64) (*sourceClock, error) {
	if rp.clock != nil && !rp.clock.empty {
		return rp.clock, nil
	}
	restored, err := s.restoreClock(ctx, rp.p, offset)
	if err != nil {
		return nil, fmt.Errorf("restore the watermark of %s/%d: %w", s.a.cfg.Input, rp.p, err)
	}
	rp.clock = &sourceClock{Clock: restored, sent: -1}
	return rp.clock, nil
}

// restoreClock rebuilds the clock of source partition p as of just before
// offset next: the last checkpoint below next, then the input records
// between it and next.
func (s *rekeyStep) restoreClock(ctx context.Context, p int32, next int64) (windows.Clock, error) {
	a := s.a
	clock := windows.NewClock()
	cp, found, err := s.lastCheckpoint(ctx, p, next)
	if err != nil || !found {
		// No checkpoint: this group never saw an event of p before next.
		return clock, err
	}
	clock.Offset, clock.Max, clock.Seen = cp.Offset, cp.Max, true
	if cp.Offset+1 >= next {
		return clock, nil
	}
	// What the rekey step read: committed records (no open transaction
	// lies below next, which it read).
	err = kafka.ReadRange(ctx, a.cfg.Kafka, a.cfg.Input, p, cp.Offset+1, next, kgo.ReadCommitted(), func(r *kgo.Record) {
		if _, at, _, err := a.extract(ctx, r); err == nil {
			clock.Observe(r.Offset, at)
		} else {
			clock.Skip(r.Offset)
		}
	})
	a.log.Debug("restored a watermark", "partition", p, "checkpoint", cp.Offset, "next", next, "max", clock.Max)
	return clock, err
}

// lastCheckpoint finds the checkpoint of source partition p with the
// highest offset below next.
func (s *rekeyStep) lastCheckpoint(ctx context.Context, p int32, next int64) (windows.Mark, bool, error) {
	a := s.a
	topic := WatermarkTopic(a.cfg.Group)
	start, end, err := kafka.Bounds(ctx, a.cfg.Kafka, topic, p)
	if err != nil {
		return windows.Mark{}, false, err
	}
	// Checkpoints are written in offset order; read back from the end in
	// growing steps until one below next turns up.
	for step, to := int64(64), end; to > start; step *= 4 {
		from := max(start, to-step)
		var best windows.Mark
		found := false
		// Checkpoints of aborted transactions too: a checkpoint is the
		// same on every run, and a reader of committed ones would wait for
		// a transaction still open (this step's own, even).
		err := kafka.ReadRange(ctx, a.cfg.Kafka, topic, p, from, to, kgo.ReadUncommitted(), func(r *kgo.Record) {
			m, err := wire.DecodeMark(r.Value)
			if err == nil && m.Partition == p && m.Offset < next && (!found || m.Offset > best.Offset) {
				best, found = m, true
			}
		})
		if err != nil || found {
			return best, found, err
		}
		to = from
	}
	return windows.Mark{}, false, nil
}

// observeClock moves c, the clock of in's partition, past the record (with
// its event time, if it has one) and writes a checkpoint when one is due:
// at the first event after a restore, every markInterval or markEvery
// records, and at the end of a bounded run. The checkpoint is one of the
// record's writes: its offset commits with the checkpoint.
func (s *rekeyStep) observeClock(in inRecord, c *sourceClock, at time.Time, hasTime, last bool) {
	if hasTime {
		c.Observe(in.Offset, at)
	} else {
		c.Skip(in.Offset)
	}
	c.ended = c.ended || last
	m := windows.Mark{Partition: in.Partition, Offset: c.Offset, Max: c.Max, Ended: c.ended}
	c.unmarked++
	now := time.Now()
	if !c.Seen && !m.Ended {
		return
	}
	if !m.Ended && c.marked && c.unmarked < markEvery && now.Sub(c.markedAt) < markInterval {
		return
	}
	m.Wall = now
	in.emit(WatermarkTopic(s.a.cfg.Group), []byte(s.a.checkpointKeys[in.Partition]), wire.EncodeMark(m), nil)
	c.marked, c.markedAt, c.unmarked = true, now, 0
}

// sendMarks sends, at most every markInterval, the clock of every source
// partition that moved to every table partition, through the repartition
// topic, in the transaction under way: after the updates of the records
// the mark covers (flush publishes a clock only then), so in each
// repartition partition a mark follows those updates, and a count
// partition that has a mark has every update it covers. An ended clock is
// sent at once. The loop calls it between polls.
func (s *rekeyStep) sendMarks(write func(*kgo.Record), now time.Time) {
	after := int64(0)
	if now.Sub(s.marksSent) < markInterval {
		after = -1 // ends only
	} else {
		s.marksSent = now
	}
	for _, rp := range s.all() {
		if rp.clock != nil {
			s.sendMark(write, rp.p, rp.clock, now, after)
		}
	}
}

// marksDue reports whether a mark waits to be sent and may be now.
func (s *rekeyStep) marksDue(now time.Time) bool {
	for _, rp := range s.all() {
		c := rp.clock
		if c == nil {
			continue
		}
		moved := (c.pubSeen || c.pub.Ended) && c.pub.Offset > c.sent
		if c.pub.Ended && !c.sentEnd || moved && now.Sub(s.marksSent) >= markInterval {
			return true
		}
	}
	return false
}

// sendMark sends clock c of source partition p to every table partition
// if it covers more than after records (any, for 0) since the last one
// sent, or ended since; after −1 sends only an end.
func (s *rekeyStep) sendMark(write func(*kgo.Record), p int32, c *sourceClock, now time.Time, after int64) {
	m := c.pub
	m.Partition, m.Wall = p, now
	moved := after >= 0 && m.Offset > c.sent+after
	if !(c.pubSeen || m.Ended) || !(moved || (m.Ended && !c.sentEnd)) {
		return
	}
	c.sent, c.sentEnd = m.Offset, m.Ended
	rec := wire.EncodeMark(m)
	for _, k := range s.a.tableKeys {
		write(&kgo.Record{Topic: RepartitionTopic(s.a.cfg.Group), Key: []byte(k), Value: rec})
	}
	s.a.stats.marks.Add(1)
}

// sessionMarkEvery is how many records of a source partition may pass
// without a mark under session windows, whatever the time: the count step
// closes sessions (and so moves them out of their key's row) only as far
// as marks tell it, and a backlog read in one go would otherwise pile a
// key's sessions up in its row until the next markInterval.
const sessionMarkEvery = 256
