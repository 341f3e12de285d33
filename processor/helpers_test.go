package processor

import (
	"testing"

	"github.com/IBM/sarama"
	"github.com/hourglass-stream/hourglass/broker"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// embeddedBroker starts the embedded broker for one test.
func embeddedBroker(t *testing.T) kafka.Config {
	t.Helper()
	b, err := broker.Start(broker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return kafka.Config{Brokers: []string{b.Addr()}, ClientID: "hourglass-test"}
}

// testClients returns the sarama config a processor takes and a franz-go
// client of its own (closed with the test) for kc.
func testClients(t *testing.T, kc kafka.Config, opts ...kgo.Opt) (*sarama.Config, *kgo.Client) {
	t.Helper()
	sc, err := kc.Sarama()
	if err != nil {
		t.Fatal(err)
	}
	base, err := kc.Kgo()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return sc, cl
}
