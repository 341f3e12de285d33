package kafka

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Consumed reports whether a reader at offsets at (per partition of topic;
// a partition not in it reads from its start, 0) has every committed
// record of topic before offsets end: whether the partitions hold nothing
// in [at, end) but transaction markers and aborted records. Comparing at
// with end is not enough on a topic written in transactions: a consumer
// commits the offset after the last record it read, and each transaction
// ends in a marker after that. It waits (up to ctx) for transactions
// still open below end.
func Consumed(ctx context.Context, kc Config, topic string, at, end map[int32]int64) (bool, error) {
	starts := map[int32]kgo.Offset{}
	for p, e := range end {
		if from := at[p]; from < e {
			starts[p] = kgo.NewOffset().At(from)
		}
	}
	if len(starts) == 0 {
		return true, nil
	}
	opts, err := kc.Kgo()
	if err != nil {
		return false, err
	}
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: starts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		// One record tells; a caller may ask often.
		kgo.FetchMaxBytes(64<<10), kgo.FetchMaxPartitionBytes(64<<10))...)
	if err != nil {
		return false, err
	}
	defer cl.Close()
	for len(starts) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return false, err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("read %s/%d: %w", t, p, err) })
		if ferr != nil {
			return false, ferr
		}
		data := false
		fs.EachRecord(func(r *kgo.Record) {
			if _, open := starts[r.Partition]; !open {
				return
			}
			if r.Offset < end[r.Partition] && !r.Attrs.IsControl() {
				data = true
			}
			// The last offset before end, or past it when aborted records
			// were the last ones before end (left out by read_committed).
			if r.Offset >= end[r.Partition]-1 {
				delete(starts, r.Partition)
			}
		})
		if data {
			return false, nil
		}
	}
	return true, nil
}
