package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Bounds returns the first and the next offset of topic/p.
func Bounds(ctx context.Context, kc Config, topic string, p int32) (start, end int64, err error) {
	opts, err := kc.Kgo()
	if err != nil {
		return 0, 0, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	return ListBounds(ctx, kadm.NewClient(cl), topic, p)
}

// ListBounds is Bounds with an admin client of the caller's.
func ListBounds(ctx context.Context, adm *kadm.Client, topic string, p int32) (start, end int64, err error) {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return 0, 0, err
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, 0, err
	}
	s, _ := starts.Lookup(topic, p)
	e, ok := ends.Lookup(topic, p)
	if !ok {
		return 0, 0, fmt.Errorf("%s has no partition %d", topic, p)
	}
	return s.Offset, e.Offset, nil
}

// ReadRange calls fn for the records of topic/p in [from, to) that a
// reader at isolation level iso sees, with a client of its own, and gives
// up after two minutes. Transaction markers take offsets too: they are
// read, to know where the range ends, and not passed to fn.
func ReadRange(ctx context.Context, kc Config, topic string, p int32, from, to int64, iso kgo.IsolationLevel, fn func(*kgo.Record)) error {
	if from >= to {
		return nil
	}
	opts, err := kc.Kgo()
	if err != nil {
		return err
	}
	opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(iso), kgo.KeepControlRecords())
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read %s/%d [%d, %d): %w", topic, p, from, to, err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return fmt.Errorf("read %s/%d: %w", topic, p, ferr)
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= to {
				done = true
				return
			}
			if !r.Attrs.IsControl() {
				fn(r)
			}
			if r.Offset == to-1 {
				done = true
			}
		})
		if done {
			return nil
		}
	}
}
