package processor

import (
	"fmt"
	"sync"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
)

// passthrough writes records from goka callbacks with a plain sarama
// producer, so that a record keeps a null key (goka's Emit always sends a
// string key, and hashes "" to one partition) and its value byte for byte.
// Each write defers the goka commit of the input record until the broker
// has acknowledged it, so nothing is committed that was not written.
type passthrough struct {
	producer sarama.AsyncProducer
	wg       sync.WaitGroup
}

func newPassthrough(brokers []string, cfg *sarama.Config) (*passthrough, error) {
	c := *cfg
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	p, err := sarama.NewAsyncProducer(brokers, &c)
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	pt := &passthrough{producer: p}
	pt.wg.Add(2)
	go func() {
		defer pt.wg.Done()
		for m := range p.Successes() {
			m.Metadata.(func(error))(nil)
		}
	}()
	go func() {
		defer pt.wg.Done()
		for e := range p.Errors() {
			e.Msg.Metadata.(func(error))(fmt.Errorf("write to %s: %w", e.Msg.Topic, e.Err))
		}
	}()
	return pt, nil
}

// emit writes value to topic under the input record's key (null if it has
// none) with headers, and holds the input's commit until it is written.
func (pt *passthrough) emit(ctx goka.Context, topic string, value []byte, headers goka.Headers) {
	msg := &sarama.ProducerMessage{Topic: topic, Value: sarama.ByteEncoder(value), Metadata: ctx.DeferCommit()}
	if k := ctx.Key(); k != "" {
		msg.Key = sarama.StringEncoder(k)
	}
	for k, v := range headers {
		msg.Headers = append(msg.Headers, sarama.RecordHeader{Key: []byte(k), Value: v})
	}
	select {
	case pt.producer.Input() <- msg:
	case <-ctx.Context().Done():
		msg.Metadata.(func(error))(ctx.Context().Err())
	}
}

// close flushes what is in flight and stops the producer.
func (pt *passthrough) close() error {
	err := pt.producer.Close()
	pt.wg.Wait()
	return err
}
