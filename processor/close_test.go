package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFinalRowAfterFailedWrite: the broker refuses the first write of a
// final row (--emit final), which fails the count step; the run starts
// again and every window still gets exactly one final row. Before the fix
// the count step kept, across runs, that it had written the final rows of
// the visit that failed, so the next run marked their windows Final
// without a final row in the output: no window had one.
func TestFinalRowAfterFailedWrite(t *testing.T) {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const output = "final-rows"
	// Produce requests name topics by ID (v13 on): the output is made here,
	// to know its ID.
	kc := kafka.Config{Brokers: c.ListenAddrs(), ClientID: "hourglass-test"}
	sc, cl := testClients(t, kc)
	ctx := context.Background()
	adm := kadm.NewClient(cl)
	created, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, output)
	if err != nil {
		t.Fatal(err)
	}
	outputID := created.ID
	var refused atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		req := kr.(*kmsg.ProduceRequest)
		touches := false
		for _, tp := range req.Topics {
			touches = touches || tp.Topic == output || tp.TopicID == outputID
		}
		if !touches {
			return nil, nil, false // handled as usual; the control stays
		}
		refused.Add(1)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		resp.Version = req.Version
		for _, tp := range req.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic, rt.TopicID = tp.Topic, tp.TopicID
			for _, pp := range tp.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = pp.Partition
				rp.ErrorCode = kerr.InvalidRecord.Code // not retried by the client
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true // once: handling drops the control
	})

	input, group := "final-events", "final"
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, input); err != nil {
		t.Fatal(err)
	}
	// Three hours of events, two keys: six windows.
	var recs []*kgo.Record
	for i := range 300 {
		recs = append(recs, &kgo.Record{Topic: input, Value: fmt.Appendf(nil, `{"time":%d,"action":%q}`, 1469520000+i*36, string(rune('a'+i%2)))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	key, _ := codec.ParsePath("action")
	at, _ := codec.ParsePath("time")
	a, err := NewAggregator(AggregateConfig{Kafka: kc, Sarama: sc, Group: group, Input: input, Output: output, Key: key, Time: at,
		Windows: windows.Tumbling(time.Hour), Watermark: &windows.Closer{}, Emit: EmitFinal,
		Until: map[int32]int64{0: int64(len(recs))}, MaxOutage: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	select {
	case <-a.Flushed():
	case err := <-done:
		t.Fatalf("the run ended before it closed every window: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatalf("windows not all final after 90 s (final-row writes refused: %d)", refused.Load())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if refused.Load() != 1 {
		t.Fatalf("%d final-row writes refused, want 1: the test did not fail one", refused.Load())
	}

	finals := map[string]int64{}
	count := map[string]int{}
	start, end, err := kafka.Bounds(ctx, kc, output, 0)
	if err != nil {
		t.Fatal(err)
	}
	err = kafka.ReadRange(ctx, kc, output, 0, start, end, kgo.ReadCommitted(), func(r *kgo.Record) {
		var row OutputRow
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Errorf("output record %q: %v", r.Value, err)
			return
		}
		if row.Final {
			count[string(r.Key)]++
			finals[string(r.Key)] = row.Count
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(finals) != 6 {
		t.Errorf("final rows of %d windows, want 6: %v", len(finals), finals)
	}
	for k, n := range count {
		if n != 1 || finals[k] != 50 {
			t.Errorf("window %s: %d final rows, the last counting %d; want one counting 50", k, n, finals[k])
		}
	}
}
