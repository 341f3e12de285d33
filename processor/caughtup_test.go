package processor

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCaughtUp checks when a bounded run answers for its own end: only
// once the rekey step ended and the count step passed every offset it
// wrote, and never after anything that leaves updates it did not see
// (a second run, a rebalance of the rekey step, a failed table write).
func TestCaughtUp(t *testing.T) {
	// Nothing is buffered, so a flush returns at once; the client never
	// connects.
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	closed := func(c *caughtUp) bool {
		select {
		case <-c.done:
			return true
		default:
			return false
		}
	}
	waitClosed := func(t *testing.T, c *caughtUp) {
		t.Helper()
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			t.Fatal("not caught up")
		}
	}
	started := func() *caughtUp {
		c := newCaughtUp(true, func() *kgo.Client { return cl })
		c.begin(3)
		return c
	}

	t.Run("answers once every offset wanted is counted", func(t *testing.T) {
		c := started()
		c.countedAt(0, 4)
		c.countedAt(1, 7)
		if closed(c) {
			t.Fatal("caught up before the rekey step ended")
		}
		c.rekeyEnded(map[int32]int64{0: 10, 1: 8}) // partition 2: nothing written
		if closed(c) {
			t.Fatal("caught up with partition 0 counted to 5 of 10")
		}
		c.countedAt(0, 8)
		if closed(c) {
			t.Fatal("caught up with partition 0 counted to 9 of 10")
		}
		c.countedAt(0, 9)
		waitClosed(t, c)
	})
	t.Run("the count step may be done first", func(t *testing.T) {
		c := started()
		c.countedAt(0, 9)
		c.rekeyEnded(map[int32]int64{0: 10})
		waitClosed(t, c)
	})
	t.Run("nothing written", func(t *testing.T) {
		c := started()
		c.rekeyEnded(nil)
		waitClosed(t, c)
	})
	t.Run("waits for the producer", func(t *testing.T) {
		var producer *kgo.Client // goka has not built it yet
		c := newCaughtUp(true, func() *kgo.Client { return producer })
		c.begin(1)
		c.rekeyEnded(map[int32]int64{0: 1})
		c.countedAt(0, 0)
		if closed(c) || c.flushing {
			t.Fatal("answered without a producer to flush")
		}
		producer = cl
		c.countedAt(0, 0) // the next record through the callback asks again
		waitClosed(t, c)
	})
	spoilers := map[string]func(c *caughtUp){
		"a second run":            func(c *caughtUp) { c.begin(3) },
		"a rebalance":             func(c *caughtUp) { c.spoil() },
		"a failed table write":    func(c *caughtUp) { c.produced(nil, errors.New("write failed")) },
		"a successful write only": nil,
	}
	for name, spoil := range spoilers {
		t.Run("spoiled by "+name, func(t *testing.T) {
			c := started()
			c.produced(nil, nil)
			if spoil != nil {
				spoil(c)
			}
			c.rekeyEnded(map[int32]int64{1: 3})
			c.countedAt(1, 2)
			if spoil == nil {
				waitClosed(t, c)
				return
			}
			// A spoiled watch starts no flush: nothing can close it later.
			if closed(c) || c.flushing {
				t.Fatal("answered for a run it cannot vouch for")
			}
		})
	}
	t.Run("unbounded runs have none", func(t *testing.T) {
		var c *caughtUp = newCaughtUp(false, func() *kgo.Client { return cl })
		c.begin(3)
		c.spoil()
		c.produced(nil, errors.New("x"))
		c.rekeyEnded(map[int32]int64{0: 1})
		c.countedAt(0, 0)
		if (&Aggregator{caughtUp: c}).CaughtUp() != nil {
			t.Fatal("an unbounded run has a channel")
		}
	})
}
