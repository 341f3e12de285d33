package processor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/broker"
	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/internal/wire"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testConfig is an aggregation of action per --window of time, reading
// "in" and writing "out".
func testConfig(t *testing.T, brokers []string, spec windows.Spec) AggregateConfig {
	t.Helper()
	kc := kafka.Config{Brokers: brokers}
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
	return AggregateConfig{Kafka: kc, Sarama: sc, Group: "g", Input: "in", Output: "out", Key: key, Time: at, Windows: spec}
}

// countTester runs the count step's goka graph on goka's tester: updates
// in, rows and output records out, no Kafka but what cfg reads back.
func countTester(t *testing.T, cfg AggregateConfig) (*Aggregator, *tester.Tester) {
	t.Helper()
	a, err := NewAggregator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tt := tester.New(t)
	p, err := goka.NewProcessor(nil, a.count.graph(), goka.WithTester(tt))
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
		a.count.back.Close()
	})
	return a, tt
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
		u    wire.Update
	}{
		{"tumbling", windows.Tumbling(time.Hour), windows.RowKey("Open", w), wire.Update{Window: w, Delta: 3, SourcePartition: 1, SourceOffset: 10, SourceFrom: 8}},
		{"session", windows.Spec{Gap: 30 * time.Minute}, "Open", wire.Update{Window: windows.Window{Start: w.Start, End: w.Start.Add(30 * time.Minute)}, Delta: 1, SourcePartition: 1, SourceOffset: 10, SourceFrom: 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, tt := countTester(t, testConfig(t, []string{"127.0.0.1:9"}, tc.spec))
			out, repartition := tt.NewQueueTracker("out"), RepartitionTopic("g")
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

// TestLateUpdateReadBack: the events of an update for a window the count
// step has closed are read back from the input into the late topic, with
// the one reader the count step keeps; when retention has deleted them
// they are counted late without copies and the step goes on. Before the
// fix the read-back made a client per update and, with the records gone,
// failed the count step for ever.
func TestLateUpdateReadBack(t *testing.T) {
	b, err := broker.Start(broker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "in"); err != nil {
		t.Fatal(err)
	}
	w := windows.Window{Start: time.Date(2016, 7, 26, 8, 0, 0, 0, time.UTC), End: time.Date(2016, 7, 26, 9, 0, 0, 0, time.UTC)}
	event := []byte(fmt.Sprintf(`{"time": %d, "action": "Open"}`, w.Start.Add(time.Minute).Unix()))
	for _, p := range []int32{0, 1} {
		for range 2 {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "in", Partition: p, Value: event}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Retention took partition 0's records.
	del := kadm.Offsets{}
	del.Add(kadm.Offset{Topic: "in", Partition: 0, At: 2})
	if _, err := adm.DeleteRecords(ctx, del); err != nil {
		t.Fatal(err)
	}

	cfg := testConfig(t, []string{b.Addr()}, windows.Tumbling(time.Hour))
	cfg.Watermark, cfg.LateTopic = &windows.Closer{}, "late"
	a, tt := countTester(t, cfg)
	a.count.partition(0).clock.Closed = w.End.Add(time.Hour) // the window is closed (no goroutine of the step runs yet)
	late := tt.NewQueueTracker("late")
	key := windows.RowKey("Open", w)

	tt.Consume(RepartitionTopic("g"), key, wire.Update{Window: w, Delta: 2, SourcePartition: 1, SourceFrom: 0, SourceOffset: 1})
	for i := range 2 {
		if _, v, ok := late.NextRaw(); !ok || string(v) != string(event) {
			t.Fatalf("late copy %d: %q, %v; want the input event", i, v, ok)
		}
	}
	tt.Consume(RepartitionTopic("g"), key, wire.Update{Window: w, Delta: 2, SourcePartition: 0, SourceFrom: 0, SourceOffset: 1})
	if _, v, ok := late.NextRaw(); ok {
		t.Fatalf("a late copy %q of a deleted record", v)
	}
	if st := a.Stats(); st.Late != 4 {
		t.Fatalf("%d late, want 4 (%+v)", st.Late, st)
	}
}
