package processor

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// backReader reads ranges of partitions back for the count step (the
// events of a late update, the final rows of the output) with one client
// for the life of the Aggregator, one range at a time: a client per read
// (a connection, a metadata round trip) was most of the cost of a late
// update's copy.
type backReader struct {
	kc kafka.Config

	mu sync.Mutex // one read at a time; cl
	cl *kgo.Client
}

func (b *backReader) client() (*kgo.Client, error) {
	if b.cl != nil {
		return b.cl, nil
	}
	opts, err := b.kc.Kgo()
	if err != nil {
		return nil, err
	}
	// Ranges start where asked; a start that retention deleted is found
	// by bounds first, not reset silently. Committed records only, as the
	// rekey step read them (transaction markers advance the range).
	cl, err := kgo.NewClient(append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		return nil, err
	}
	b.cl = cl
	return cl, nil
}

// Close releases the client.
func (b *backReader) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cl != nil {
		b.cl.Close()
		b.cl = nil
	}
}

// bounds returns the first and the next offset of topic/p.
func (b *backReader) bounds(ctx context.Context, topic string, p int32) (start, end int64, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.boundsLocked(ctx, topic, p)
}

func (b *backReader) boundsLocked(ctx context.Context, topic string, p int32) (start, end int64, err error) {
	cl, err := b.client()
	if err != nil {
		return 0, 0, err
	}
	return kafka.ListBounds(ctx, kadm.NewClient(cl), topic, p)
}

// read calls fn for each record of topic/p in [from, to), in offset order,
// each once. Records compacted or deleted from the range are simply not
// there.
func (b *backReader) read(ctx context.Context, topic string, p int32, from, to int64, fn func(*kgo.Record)) error {
	if from >= to {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	cl, err := b.client()
	if err != nil {
		return err
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().At(from)}})
	defer cl.RemoveConsumePartitions(map[string][]int32{topic: {p}})
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	next := from // records buffered for an earlier read are passed over
	for next < to {
		poll, stop := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(poll)
		stop()
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read %s/%d [%d, %d): %w", topic, p, from, to, err)
		}
		var ferr error
		fs.EachError(func(t string, q int32, err error) {
			if t == topic && q == p {
				ferr = err
			}
		})
		if ferr != nil {
			return fmt.Errorf("read %s/%d: %w", topic, p, ferr)
		}
		moved := false
		fs.EachRecord(func(r *kgo.Record) {
			if r.Topic != topic || r.Partition != p || r.Offset < next {
				return
			}
			if r.Offset >= to { // the range's last records were compacted away
				next, moved = to, true
				return
			}
			if !r.Attrs.IsControl() {
				fn(r)
			}
			next, moved = r.Offset+1, true
		})
		if !moved {
			// Nothing new for a second: the rest of the range may be gone
			// (compacted away at the partition's end).
			_, end, err := b.boundsLocked(ctx, topic, p)
			if err != nil {
				return err
			}
			if end <= next {
				return nil
			}
		}
	}
	return nil
}
