package processor

import (
	"fmt"
	"hash/fnv"

	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// passthrough writes records from goka callbacks with its own producer
// (the processors' idempotent franz-go producer), so that a record keeps a
// null key (goka's Emit always sends a string key, and hashes "" to one
// partition) and its value byte for byte. Each write defers the goka
// commit of the input record until the broker has acknowledged it, so
// nothing is committed that was not written.
type passthrough struct {
	client *kgo.Client
}

func newPassthrough(kc kafka.Config) (*passthrough, error) {
	client, err := kc.Producer(fnv.New32a)
	if err != nil {
		return nil, err
	}
	return &passthrough{client: client}, nil
}

// emit writes value to topic under the input record's key (null if it has
// none) with headers, and holds the input's commit until it is written.
func (pt *passthrough) emit(ctx goka.Context, topic string, value []byte, headers goka.Headers) {
	done := ctx.DeferCommit()
	r := &kgo.Record{Topic: topic, Value: value}
	if k := ctx.Key(); k != "" {
		r.Key = []byte(k)
	}
	for k, v := range headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: v})
	}
	pt.client.Produce(ctx.Context(), r, func(r *kgo.Record, err error) {
		if err != nil {
			err = fmt.Errorf("write to %s: %w", r.Topic, err)
		}
		done(err)
	})
}

// close flushes what is in flight and stops the producer.
func (pt *passthrough) close() error { return flushAndClose(pt.client) }
