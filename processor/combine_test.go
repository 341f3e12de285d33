package processor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/broker"
	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestSpanCodec(t *testing.T) {
	for _, s := range []span{{0, 0}, {5, 9}, {1 << 40, 1<<40 + 20000}} {
		p, got, err := decodeSpan(encodeSpan(3, s))
		if err != nil || p != 3 || got != s {
			t.Fatalf("round trip of %v: %d %v %v", s, p, got, err)
		}
	}
	for name, data := range map[string][]byte{
		"empty":     nil,
		"other":     {'X', 0, 0, 0},
		"truncated": encodeSpan(1, span{3, 4})[:3],
		"trailing":  append(encodeSpan(1, span{3, 4}), 0),
		"backwards": {batchKind, 0, 8, 6},
	} {
		if _, _, err := decodeSpan(data); err == nil {
			t.Errorf("%s: decoded %x", name, data)
		}
	}
}

// TestRedoFollowsTheBatchLog: a run writes half of a batch's updates and
// fails; a new run with another batch size must redo that batch with its
// recorded range, or a row that has the batch would get an update
// straddling its end and count part of it twice. The same scenario with
// the batch log ignored shows the double count, so the test can fail.
func TestRedoFollowsTheBatchLog(t *testing.T) {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	b, err := broker.Start(broker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	kc := kafka.Config{Brokers: []string{b.Addr()}, ClientID: "hourglass-test"}
	sc, err := kc.Sarama()
	if err != nil {
		t.Fatal(err)
	}
	// 3,100 events on one partition, keys a and b alternating, all in one
	// window: two rows of 1,550.
	const n = 3100
	input := "redo-events"
	opts, _ := kc.Kgo()
	cl, err := kgo.NewClient(append(opts, kgo.DefaultProduceTopic(input), kgo.AllowAutoTopicCreation())...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 1, 1, nil, input); err != nil {
		t.Fatal(err)
	}
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Value: fmt.Appendf(nil, `{"time":%d,"action":%q}`, 1469520000+i%3600, string(rune('a'+i%2)))}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	key, _ := codec.ParsePath("action")
	at, _ := codec.ParsePath("time")
	config := func(group string, batch int) AggregateConfig {
		return AggregateConfig{Kafka: kc, Sarama: sc, Group: group, Input: input, Key: key, Time: at,
			Windows: windows.Tumbling(time.Hour), BatchMax: batch, BatchLinger: 2 * time.Second, MaxOutage: time.Hour}
	}
	for _, followLog := range []bool{true, false} {
		t.Run(fmt.Sprintf("follow=%v", followLog), func(t *testing.T) {
			group := fmt.Sprintf("redo-%v", followLog)
			// The first run writes batches of 1,000; of [1000, 1999] only
			// the first row's update, then it fails every batch.
			first, err := NewAggregator(config(group, 1000))
			if err != nil {
				t.Fatal(err)
			}
			var once sync.Once
			failed := make(chan struct{})
			var mu sync.Mutex
			broken := false
			first.dropUpdate = func(_ int32, s span, i int) bool {
				mu.Lock()
				defer mu.Unlock()
				if s.from == 1000 && s.to == 1999 && i == 1 {
					broken = true
					once.Do(func() { close(failed) })
				}
				return broken && (s.from >= 1000 && i >= 1 || s.from > 1000)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- first.Run(ctx) }()
			select {
			case <-failed:
			case <-time.After(60 * time.Second):
				t.Fatal("the first run never wrote batch [1000, 1999]")
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}

			// The second run writes batches of 700: without the log it
			// would write [1700, 2399] to a row that has [1000, 1999].
			second, err := NewAggregator(config(group, 700))
			if err != nil {
				t.Fatal(err)
			}
			second.ignoreBatchLog = !followLog
			ctx, cancel = context.WithCancel(context.Background())
			defer cancel()
			go func() { done <- second.Run(ctx) }()
			got := waitCounted(t, kc, group, input, n)
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			st := second.Stats()
			if st.Duplicates == 0 {
				t.Errorf("the second run skipped no duplicate: the scenario did not redo a half-written batch (%+v)", st)
			}
			exact := got["a"] == n/2 && got["b"] == n/2
			if followLog && !exact {
				t.Errorf("counts %v, want a and b %d each (stats %+v)", got, n/2, st)
			}
			t.Logf("counts %v, stats %+v", got, st)
			if !followLog && exact {
				t.Errorf("ignoring the batch log still gave exact counts %v: the scenario does not test it", got)
			}
		})
	}
}

// waitCounted waits until group has committed all n input records and
// counted every update written for them, and returns its table's counts
// by key.
func waitCounted(t *testing.T, kc kafka.Config, group, input string, n int64) map[string]int64 {
	t.Helper()
	opts, _ := kc.Kgo()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatal("the group did not catch up within 60 s")
		}
		rekeyed, err1 := adm.FetchOffsets(ctx, RekeyGroup(group))
		counted, err2 := adm.FetchOffsets(ctx, group)
		ends, err3 := adm.ListEndOffsets(ctx, RepartitionTopic(group))
		if err1 == nil && err2 == nil && err3 == nil {
			in, _ := rekeyed.Lookup(input, 0)
			caughtUp := in.At == n
			ends.Each(func(o kadm.ListedOffset) {
				c, ok := counted.Lookup(o.Topic, o.Partition)
				caughtUp = caughtUp && (o.Offset == 0 || ok && c.At == o.Offset)
			})
			if caughtUp {
				break
			}
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	// The table has one partition, like the input: its last row per key.
	start, end, err := partitionBounds(ctx, kc, TableTopic(group), 0)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int64{}
	err = readPartition(ctx, kc, TableTopic(group), 0, start, end, func(r *kgo.Record) {
		var row windows.Row
		if isWatermarkRow(string(r.Key)) || row.UnmarshalBinary(r.Value) != nil {
			return
		}
		k, _, err := windows.ParseRowKey(string(r.Key))
		if err != nil {
			t.Error(err)
		}
		rows[k] = row.Count
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestBatchBoundaries: where batches end, for free batching, a redo that
// follows recorded batches (from inside one, across a gap before one, with
// a recorded batch's last records gone) and offsets with gaps.
func TestBatchBoundaries(t *testing.T) {
	type written struct {
		span
		mode batchMode
	}
	tests := []struct {
		name    string
		plan    []span
		offsets []int64
		want    []written
	}{
		{"free", nil, []int64{0, 1, 2, 3, 4, 5, 6, 7},
			[]written{{span{0, 2}, freeBatch}, {span{3, 5}, freeBatch}, {span{6, 7}, freeBatch}}},
		{"free across an offset gap", nil, []int64{0, 1, 5, 6, 7},
			[]written{{span{0, 5}, freeBatch}, {span{6, 7}, freeBatch}}}, // a batch spans at most BatchMax offsets
		{"redo from inside a recorded batch, then free", []span{{0, 4}, {5, 5}, {6, 9}}, []int64{2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13},
			[]written{{span{2, 4}, plannedBatch}, {span{5, 5}, plannedBatch}, {span{6, 9}, plannedBatch}, {span{10, 12}, freeBatch}, {span{13, 13}, freeBatch}}},
		{"records before the first recorded batch go one by one", []span{{5, 9}}, []int64{3, 4, 5, 6, 7, 8, 9, 10},
			[]written{{span{3, 3}, singleBatch}, {span{4, 4}, singleBatch}, {span{5, 9}, plannedBatch}, {span{10, 10}, freeBatch}}},
		{"a recorded batch whose last records are gone", []span{{0, 4}, {5, 9}}, []int64{0, 1, 2, 6, 7, 8, 9, 10},
			[]written{{span{0, 2}, plannedBatch}, {span{6, 9}, plannedBatch}, {span{10, 10}, freeBatch}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Aggregator{cfg: AggregateConfig{Windows: windows.Tumbling(time.Hour), BatchMax: 3}}
			var got []written
			a.onBatch = func(s span, m batchMode) { got = append(got, written{s, m}) }
			b := &batcher{p: 0, next: -1, rows: map[rowID]int{}, plan: tt.plan}
			for i, o := range tt.offsets {
				a.admit(b, o)
				if a.due(b, i == len(tt.offsets)-1) {
					a.flush(b)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("batches %v, want %v", got, tt.want)
			}
		})
	}
}
