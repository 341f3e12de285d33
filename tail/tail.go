// Package tail reads the raw records of a topic: key, value, topic,
// partition, offset, timestamp and timestamp type, as Kafka stores them.
//
// It uses franz-go's kgo client rather than sarama, because sarama does not
// tell a record's timestamp type (CreateTime or LogAppendTime), and a raw
// view that hides it would be a lie by omission.
//
// Without Follow a tail is bounded: it takes each partition's end offset
// when it starts and stops once it has read up to those offsets, so it
// always ends, even on a topic that is still being written.
package tail

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Config describes one tail.
type Config struct {
	Kafka kafka.Config // required: brokers, client ID, SASL and TLS
	Topic string       // required
	// Latest starts at the end of each partition instead of its start.
	Latest bool
	// Max stops after this many records; 0 means no limit.
	Max int
	// Follow keeps reading new records until ctx ends.
	Follow bool
	// Uncommitted shows records of open and aborted transactions too; by
	// default only committed records are shown, as a reader of the output
	// of a transactional writer (the alert filter) sees them.
	Uncommitted bool
}

// Record is one raw Kafka record.
type Record struct {
	Key           []byte
	Value         []byte
	Topic         string
	Partition     int32
	Offset        int64
	Timestamp     time.Time // the zero time when the record has none (-1)
	TimestampType string    // CreateTime, LogAppendTime or NoTimestampType
	Headers       map[string][]byte
}

// Run reads records and hands each to emit, in order within a partition.
// It returns when the end offsets taken at start are reached, after Max
// records, or (with Follow) when ctx ends.
func Run(ctx context.Context, cfg Config, emit func(Record) error) error {
	if cfg.Topic == "" {
		return errors.New("tail: no topic: set --topic")
	}
	opts, err := cfg.Kafka.Kgo()
	if err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	iso := kgo.ReadCommitted()
	if cfg.Uncommitted {
		iso = kgo.ReadUncommitted()
	}
	// Transaction markers are kept (and not shown) so that the offsets
	// read reach the end offsets taken at start: a topic written in
	// transactions ends with one.
	client, err := kgo.NewClient(append(opts, kgo.FetchIsolationLevel(iso), kgo.KeepControlRecords())...)
	if err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	defer client.Close()
	adm := kadm.NewClient(client)
	starts, err := adm.ListStartOffsets(ctx, cfg.Topic)
	if err != nil {
		return fmt.Errorf("tail: list offsets of %s: %w", cfg.Topic, err)
	}
	list := adm.ListCommittedOffsets // the last stable offsets: no open transaction to wait for
	if cfg.Uncommitted {
		list = adm.ListEndOffsets
	}
	ends, err := list(ctx, cfg.Topic)
	if err != nil {
		return fmt.Errorf("tail: list offsets of %s: %w", cfg.Topic, err)
	}
	if err := ends.Error(); errors.Is(err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("tail: topic %s does not exist", cfg.Topic)
	} else if err != nil {
		return fmt.Errorf("tail: topic %s: %w", cfg.Topic, err)
	}
	if len(ends[cfg.Topic]) == 0 {
		return fmt.Errorf("tail: topic %s does not exist", cfg.Topic)
	}

	assign := map[int32]kgo.Offset{}
	remaining := map[int32]int64{} // partitions still to read up to their end
	for p, end := range ends[cfg.Topic] {
		start, _ := starts.Lookup(cfg.Topic, p)
		from := start.Offset
		if cfg.Latest {
			from = end.Offset
		}
		assign[p] = kgo.NewOffset().At(from)
		if from < end.Offset {
			remaining[p] = end.Offset
		}
	}
	if !cfg.Follow && len(remaining) == 0 {
		return nil
	}
	client.AddConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: assign})

	count := 0
	for cfg.Follow || len(remaining) > 0 {
		fetches := client.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			if cfg.Follow {
				return nil
			}
			return err
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			ferr = errors.Join(ferr, fmt.Errorf("tail: fetch %s/%d: %w", t, p, err))
		})
		if ferr != nil {
			return ferr
		}
		for it := fetches.RecordIter(); !it.Done(); {
			r := it.Next()
			if !cfg.Follow {
				end, ok := remaining[r.Partition]
				if !ok {
					continue
				}
				if r.Offset+1 >= end {
					delete(remaining, r.Partition)
				}
				if r.Offset >= end {
					// Past the end without reaching it: the records just
					// before it were of an aborted transaction, dropped.
					continue
				}
			}
			if r.Attrs.IsControl() {
				continue
			}
			if err := emit(fromKgo(r)); err != nil {
				return err
			}
			count++
			if cfg.Max > 0 && count >= cfg.Max {
				return nil
			}
		}
	}
	return nil
}

func fromKgo(r *kgo.Record) Record {
	out := Record{
		Key: r.Key, Value: r.Value, Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
		TimestampType: "CreateTime",
	}
	switch {
	case r.Attrs.TimestampType() < 0:
		out.TimestampType = "NoTimestampType"
	case r.Attrs.TimestampType() == 1:
		out.TimestampType = "LogAppendTime"
	}
	if ms := r.Timestamp.UnixMilli(); ms >= 0 {
		out.Timestamp = r.Timestamp.UTC()
	} else {
		out.TimestampType = "NoTimestampType"
	}
	if len(r.Headers) > 0 {
		out.Headers = make(map[string][]byte, len(r.Headers))
		for _, h := range r.Headers {
			out.Headers[h.Key] = h.Value
		}
	}
	return out
}

// Text returns b as text when it is valid UTF-8, and otherwise its standard
// base64 encoding with ok false, so that a printed value never silently
// loses bytes.
func Text(b []byte) (s string, ok bool) {
	if utf8.Valid(b) {
		return string(b), true
	}
	return base64.StdEncoding.EncodeToString(b), false
}
