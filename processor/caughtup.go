package processor

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A bounded run (backfill) is over once every input record before the
// bound is counted and its row is in the table's changelog. The backfill
// tells that from the steps' committed offsets, which is right whoever
// holds the partitions but late: the count step's offsets are committed
// once a second, and a step that stands still is asked twice before the
// topic is read for transaction markers (a second and more of a two-second
// backfill). caughtUp answers sooner, in-process, in the case it can vouch
// for: one process did the whole run, in its first attempt, without a
// rebalance of the rekey step and without a failed table write. Then the
// rekey step's committed updates, up to the offset of its last one in
// each repartition partition, are all the count step has to apply; once
// its callback has passed each of those offsets, a flush of its producer
// acknowledges every row they wrote. In any other case it never answers
// and the committed offsets decide.
type caughtUp struct {
	done chan struct{}
	once sync.Once

	ended   atomic.Bool    // want is set
	counted []atomic.Int64 // per repartition partition: the last offset through the count step's callback, plus one

	producer func() *kgo.Client // the count step's, nil before goka built it

	mu       sync.Mutex
	runs     int
	spoiled  bool            // a second run, a rebalance of the rekey step or a failed table write
	want     map[int32]int64 // per repartition partition: the offset after the rekey step's last committed update
	flushing bool
}

// newCaughtUp returns the watch of a bounded run, which flushes the
// producer that producer returns, nil for any other run: every method
// does nothing on nil.
func newCaughtUp(bounded bool, producer func() *kgo.Client) *caughtUp {
	if !bounded {
		return nil
	}
	return &caughtUp{done: make(chan struct{}), producer: producer}
}

// begin starts a run (runOnce) over parts repartition partitions. Only the
// first run can answer: a later one starts from offsets an earlier run
// committed, with updates of its own that the count step may not have
// applied yet.
func (c *caughtUp) begin(parts int32) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs++
	if c.runs > 1 {
		c.spoiled = true
		return
	}
	c.counted = make([]atomic.Int64, parts)
}

// spoil gives up answering for the rest of the process's life.
func (c *caughtUp) spoil() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.spoiled = true
	c.mu.Unlock()
}

// produced hears of each write of the count step's producer: one that
// failed stops the step, and its row is written again by the next run.
func (c *caughtUp) produced(_ *kgo.Record, err error) {
	if err != nil {
		c.spoil()
	}
}

// rekeyEnded says that the rekey step read every input partition up to its
// bound and committed; written holds, per repartition partition, the
// offset after the last update it committed.
func (c *caughtUp) rekeyEnded(written map[int32]int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if c.want == nil {
		c.want = make(map[int32]int64, len(written))
		for q, o := range written {
			c.want[q] = o
		}
	}
	c.mu.Unlock()
	c.ended.Store(true)
	c.check()
}

// countedAt says the count step's callback is done with the record at
// offset o of repartition partition q.
func (c *caughtUp) countedAt(q int32, o int64) {
	if c == nil || int(q) >= len(c.counted) {
		return
	}
	c.counted[q].Store(o + 1)
	if c.ended.Load() {
		c.check()
	}
}

// check answers once the count step has passed every offset wanted: on a
// goroutine of its own, after a flush of the count step's producer, if
// nothing spoiled the run meanwhile.
func (c *caughtUp) check() {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl := c.producer()
	if c.spoiled || c.want == nil || c.flushing || cl == nil {
		return
	}
	for q, o := range c.want {
		if int(q) >= len(c.counted) || c.counted[q].Load() < o {
			return
		}
	}
	c.flushing = true
	go func(cl *kgo.Client) {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		err := cl.Flush(ctx)
		c.mu.Lock()
		ok := err == nil && !c.spoiled
		c.mu.Unlock()
		if ok {
			c.once.Do(func() { close(c.done) })
		}
	}(cl)
}

// CaughtUp is closed once this process knows a bounded run (Until) has
// counted every input record before the bound, each row acknowledged in
// the table's changelog. It may never close (an unbounded run, a group
// whose partitions another process held, a run retried after a failure):
// the steps' committed offsets say it then (as the backfill reads them).
func (a *Aggregator) CaughtUp() <-chan struct{} {
	if a.caughtUp == nil {
		return nil
	}
	return a.caughtUp.done
}
