package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// closeTimeout bounds how long closing a producer waits for writes still
// being retried, as goka's own producer does; what is left then fails, and
// the messages that caused it are not committed.
const closeTimeout = 60 * time.Second

// kgoProducer is goka's Producer on franz-go's idempotent producer.
//
// Every write of the processors (changelog, repartition, output, dead
// letters) goes through it, because their exactness needs each partition's
// writes to land in the order they were made: the changelog is compacted
// to its last record per key, and the count step's dedupe trusts that an
// update with a higher source offset was written after a lower one. sarama's
// producer broke that order across a broker restart (a batch retried after
// the next batch had landed: stale rows became the last word of the
// changelog), and its idempotent mode failed with OUT_OF_ORDER_SEQUENCE
// under load. franz-go's producer is idempotent by default (the broker
// rejects out-of-order or duplicated batches), retries without limit, and
// fails every later record of a partition when one fails, so a write never
// overtakes one that did not land.
type kgoProducer struct {
	client *kgo.Client
	acked  func(*kgo.Record, error) // if set, hears of each write first
}

// producerBuilder returns goka's producer builder for kc. Records are
// partitioned exactly as goka's sarama producer does it (sarama's hash
// partitioner over goka's hasher), so keys land where goka's consumers,
// views and tables written before expect them.
func producerBuilder(kc kafka.Config, acked func(*kgo.Record, error)) goka.ProducerBuilder {
	return func(_ []string, _ string, hasher func() hash.Hash32) (goka.Producer, error) {
		client, err := kc.Producer(hasher)
		if err != nil {
			return nil, err
		}
		return &kgoProducer{client: client, acked: acked}, nil
	}
}

// flushAndClose waits up to closeTimeout for queued records, then closes
// the client, failing whatever is still unacknowledged.
func flushAndClose(client *kgo.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	err := client.Flush(ctx)
	client.Close()
	if err != nil {
		return fmt.Errorf("producer: records still unacknowledged after %s: %w", closeTimeout, err)
	}
	return nil
}

func (p *kgoProducer) Emit(topic, key string, value []byte) *goka.Promise {
	return p.EmitWithHeaders(topic, key, value, nil)
}

// EmitWithHeaders queues one record. The promise finishes when Kafka has
// acknowledged it, with the partition and offset it got (goka's table
// writes record the changelog offset from it), or with the error that
// ended its retries.
func (p *kgoProducer) EmitWithHeaders(topic, key string, value []byte, headers goka.Headers) *goka.Promise {
	promise, finish := goka.NewPromiseWithFinisher()
	r := &kgo.Record{Topic: topic, Key: []byte(key), Value: value, Headers: kgoHeaders(headers)}
	p.client.Produce(context.Background(), r, func(r *kgo.Record, err error) {
		if p.acked != nil {
			p.acked(r, err)
		}
		finish(&sarama.ProducerMessage{
			Topic:     r.Topic,
			Key:       sarama.ByteEncoder(r.Key),
			Value:     sarama.ByteEncoder(r.Value),
			Partition: r.Partition,
			Offset:    r.Offset,
		}, err)
	})
	return promise
}

// kgoHeaders converts goka's headers to franz-go's.
func kgoHeaders(h goka.Headers) []kgo.RecordHeader {
	if len(h) == 0 {
		return nil
	}
	out := make([]kgo.RecordHeader, 0, len(h))
	for k, v := range h {
		out = append(out, kgo.RecordHeader{Key: k, Value: v})
	}
	return out
}

// outgoing gives out the headers h and, when it would be larger than a
// record may be, makes it a reference to its source instead.
func outgoing(out *kgo.Record, h headers) *kgo.Record {
	out.Headers = h
	if n := recordSize(out); n > kafka.MaxRecordBytes-kafka.RecordOverhead {
		out = reference(out, n)
	}
	return out
}

// HeaderCopy says what a record written for another is: "reference" when
// the record itself was too large to copy and the value says where it is.
const HeaderCopy = "hourglass.copy"

// recordSize is what r takes in a batch, less the batch's overhead.
func recordSize(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// referenceRecord is the value of a reference record, as JSON.
type referenceRecord struct {
	Omitted   string `json:"omitted"`
	Bytes     int    `json:"bytes"`
	Limit     int    `json:"limit"`
	Topic     string `json:"topic"`
	Partition string `json:"partition"`
	Offset    string `json:"offset"`
}

// reference is out replaced by a record that says where the original is:
// its source topic, partition and offset (from out's hourglass.source
// headers), why it is not here, and hourglass's own headers (error,
// reason, lateness) without the original's.
func reference(out *kgo.Record, size int) *kgo.Record {
	var keep headers
	ref := referenceRecord{Omitted: "the record with hourglass's headers is larger than a record may be; read it at its source", Bytes: size, Limit: kafka.MaxRecordBytes - kafka.RecordOverhead}
	for _, h := range out.Headers {
		switch h.Key {
		case HeaderSourceTopic:
			ref.Topic = string(h.Value)
		case HeaderSourcePartition:
			ref.Partition = string(h.Value)
		case HeaderSourceOffset:
			ref.Offset = string(h.Value)
		}
		if strings.HasPrefix(h.Key, "hourglass.") {
			keep = keep.set(h.Key, []byte(capText(string(h.Value), maxErrorText)))
		}
	}
	keep = keep.set(HeaderCopy, []byte("reference"))
	value, _ := json.Marshal(ref)
	key := out.Key
	if len(key) > maxErrorText {
		key = nil // the key was the bulk: the reference says where it is
	}
	return &kgo.Record{Topic: out.Topic, Key: key, Value: value, Headers: keep}
}

// Close waits up to closeTimeout for queued records, then closes the
// client, failing whatever is still unacknowledged.
func (p *kgoProducer) Close() error { return flushAndClose(p.client) }
