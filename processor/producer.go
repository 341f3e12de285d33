package processor

import (
	"context"
	"fmt"
	"hash"
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
}

// producerBuilder returns goka's producer builder for kc. Records are
// partitioned exactly as goka's sarama producer does it (sarama's hash
// partitioner over goka's hasher), so keys land where goka's consumers,
// views and tables written before expect them.
func producerBuilder(kc kafka.Config) goka.ProducerBuilder {
	return func(_ []string, _ string, hasher func() hash.Hash32) (goka.Producer, error) {
		client, err := kc.Producer(hasher)
		if err != nil {
			return nil, err
		}
		return &kgoProducer{client: client}, nil
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

// writeTracked queues out, with headers h, as one of the writes of batch
// x (see acks): x commits only after it landed.
func writeTracked(prod *kgo.Client, x *batchAcks, out *kgo.Record, h headers) {
	out.Headers = h
	done := x.track()
	prod.Produce(context.Background(), out, func(r *kgo.Record, err error) {
		if err != nil {
			err = fmt.Errorf("write to %s: %w", r.Topic, err)
		}
		done(err)
	})
}

// produce queues one record without goka's promise; done gets the
// outcome.
func (p *kgoProducer) produce(topic, key string, value []byte, done func(error)) {
	p.client.Produce(context.Background(), &kgo.Record{Topic: topic, Key: []byte(key), Value: value}, func(_ *kgo.Record, err error) { done(err) })
}

// Close waits up to closeTimeout for queued records, then closes the
// client, failing whatever is still unacknowledged.
func (p *kgoProducer) Close() error { return flushAndClose(p.client) }
