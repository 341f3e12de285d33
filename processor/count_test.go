package processor

import (
	"context"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"
)

// countTester runs the count step's goka graph on goka's tester: updates
// in, rows and output records out, no Kafka.
func countTester(t *testing.T, spec windows.Spec) (*tester.Tester, *tester.QueueTracker, string) {
	t.Helper()
	kc := kafka.Config{Brokers: []string{"127.0.0.1:9"}}
	sc, err := kc.Sarama()
	if err != nil {
		t.Fatal(err)
	}
	key, err := codec.ParsePath("action")
	if err != nil {
		t.Fatal(err)
	}
	at, err := codec.ParsePath("time")
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAggregator(AggregateConfig{Kafka: kc, Sarama: sc, Group: "g", Input: "in", Output: "out", Key: key, Time: at, Windows: spec})
	if err != nil {
		t.Fatal(err)
	}
	tt := tester.New(t)
	p, err := goka.NewProcessor(nil, a.countGraph(), goka.WithTester(tt))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("count step: %v", err)
		}
	})
	return tt, tt.NewQueueTracker("out"), RepartitionTopic("g")
}

// TestDuplicateReemitsRow: a redelivered update is not counted again, but
// the row's current value goes to the output again. Before the fix nothing
// was written, so a crash (or a failed output write) after the table write
// and before the output write lost the row's last version from the output
// for good.
func TestDuplicateReemitsRow(t *testing.T) {
	w := windows.Window{Start: time.Date(2016, 7, 26, 8, 0, 0, 0, time.UTC), End: time.Date(2016, 7, 26, 9, 0, 0, 0, time.UTC)}
	for _, tc := range []struct {
		name string
		spec windows.Spec
		key  string
		u    update
	}{
		{"tumbling", windows.Tumbling(time.Hour), windows.RowKey("Open", w), update{Window: w, Delta: 3, SourcePartition: 1, SourceOffset: 10, SourceFrom: 8}},
		{"session", windows.Spec{Gap: 30 * time.Minute}, "Open", update{Window: windows.Window{Start: w.Start, End: w.Start.Add(30 * time.Minute)}, Delta: 1, SourcePartition: 1, SourceOffset: 10, SourceFrom: 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tt, out, repartition := countTester(t, tc.spec)
			tt.Consume(repartition, tc.key, tc.u)
			first, v1, ok := out.NextRaw()
			if !ok {
				t.Fatal("no output row for the first delivery")
			}
			tt.Consume(repartition, tc.key, tc.u) // redelivered
			again, v2, ok := out.NextRaw()
			if !ok {
				t.Fatal("no output row for the redelivered update")
			}
			if again != first || string(v2) != string(v1) {
				t.Fatalf("re-emitted %s=%s, want %s=%s", again, v2, first, v1)
			}
			if _, _, more := out.NextRaw(); more {
				t.Fatal("more than one output row for the duplicate")
			}
		})
	}
}
