package processor

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The steps that keep no table (the aggregation's rekey step, the alert
// filter) read their input as franz-go consumer groups in Kafka
// transactions (txn.go) rather than as Goka processors: they need nothing
// of Goka, and Goka's per-record machinery (a context, channel selects and
// commit bookkeeping for every record, on sarama's consumer) cost more
// than their work. Records are handled per poll, a goroutine per
// partition, as Goka ran one per partition.

// pollRecords bounds the records taken per poll.
const pollRecords = 50000

// fetchError is the first error of a poll: the client closed, or a
// partition that could not be read.
func fetchError(fs kgo.Fetches) error {
	if fs.IsClientClosed() {
		return errors.New("consumer closed")
	}
	var ferr error
	fs.EachError(func(t string, p int32, err error) {
		if ferr == nil && !errors.Is(err, context.DeadlineExceeded) { // a poll's own deadline
			ferr = fmt.Errorf("read %s/%d: %w", t, p, err)
		}
	})
	return ferr
}

// eachPartition calls fn for the records of each partition of a poll, each
// partition on its own goroutine, and returns the first error.
func eachPartition(fs kgo.Fetches, fn func(p int32, records []*kgo.Record) error) error {
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
			if err := fn(ftp.Partition, ftp.Records); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	})
	wg.Wait()
	return firstErr
}
