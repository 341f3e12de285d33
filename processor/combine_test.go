package processor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/internal/wire"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestBatchListsOffsets: a batch writes one update per row, listing the
// offsets of the row's events, and the lists survive the codec.
func TestBatchListsOffsets(t *testing.T) {
	a := &Aggregator{cfg: AggregateConfig{Group: "g", Windows: windows.Tumbling(time.Hour), BatchMax: 100}}
	hour := windows.Tumbling(time.Hour)
	at := time.Date(2016, 7, 26, 8, 0, 0, 0, time.UTC)
	s := newRekeyStep(a)
	rp := s.partition(2)
	b := &rp.batch
	want := map[string][]int64{}
	for round := range 2 { // the second round reuses the first's buffers
		clear(want)
		base := int64(round * 1000)
		for i, key := range []string{"a", "b", "a", "a", "c", "b", "a"} {
			o := base + 10 + int64(i)*int64(i) // gaps of every size
			b.admit(o)
			w := hour.WindowAt(at)
			b.add(key, w, o, nil)
			want[windows.RowKey(key, w)] = append(want[windows.RowKey(key, w)], o)
		}
		var got []*kgo.Record
		s.flush(rp, func(r *kgo.Record) { got = append(got, r) })
		if len(got) != 3 {
			t.Fatalf("round %d: %d updates, want 3", round, len(got))
		}
		for _, r := range got {
			v, err := updateCodec{}.Decode(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			u := v.(wire.Update)
			var offsets []int64
			u.Offsets.Each(u.SourceFrom, func(o int64) { offsets = append(offsets, o) })
			if fmt.Sprint(offsets) != fmt.Sprint(want[string(r.Key)]) || u.Delta != int64(len(offsets)) ||
				u.SourceFrom != base+10 || u.SourceOffset != base+46 || u.SourcePartition != 2 {
				t.Errorf("round %d: %s: %+v with offsets %v, want %v in [%d, %d]", round, r.Key, u, offsets, want[string(r.Key)], base+10, base+46)
			}
		}
	}
}

// TestReplayWithOtherBatches: a group counts the first 2,000 records of
// its input in batches of 1,000; then 1,100 more arrive, its rekey offsets
// go back to the start (as reset does) and it reads everything again in
// batches of 700. The replay's batch [1400, 2099] straddles the end of
// the batch [1000, 1999] both rows applied, so the count step must take
// only its events after 1999, which the update's offset list names: the
// table is exact, and every event read before is a duplicate. Applying
// straddling updates whole (the count step without offset lists, and
// without the batch log it had before) counts [1400, 1999] twice.
func TestReplayWithOtherBatches(t *testing.T) {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	kc := embeddedBroker(t)
	// 3,100 events on one partition, keys a and b alternating, all in one
	// window: two rows of 1,550, written in two parts.
	const first, n = 2000, 3100
	input, group := "replay-events", "replay"
	sc, cl := testClients(t, kc, kgo.DefaultProduceTopic(input))
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(context.Background(), 1, 1, nil, input); err != nil {
		t.Fatal(err)
	}
	produce := func(from, to int) {
		t.Helper()
		recs := make([]*kgo.Record, 0, to-from)
		for i := from; i < to; i++ {
			recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, `{"time":%d,"action":%q}`, 1469520000+i%3600, string(rune('a'+i%2)))})
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, first)
	key, _ := codec.ParsePath("action")
	at, _ := codec.ParsePath("time")
	run := func(batch int, events int64) AggregateStats {
		t.Helper()
		a, err := NewAggregator(AggregateConfig{Kafka: kc, Sarama: sc, Group: group, Input: input, Key: key, Time: at,
			Windows: windows.Tumbling(time.Hour), BatchMax: batch, BatchLinger: 2 * time.Second, MaxOutage: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		got := waitCounted(t, kc, group, input, events)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		st := a.Stats()
		if got["a"] != events/2 || got["b"] != events/2 {
			t.Fatalf("batches of %d: counts %v, want a and b %d each (stats %+v)", batch, got, events/2, st)
		}
		return st
	}
	run(1000, first)
	produce(first, n)
	// Back to the start, as `reset --to earliest` does.
	if err := adm.CommitAllOffsets(context.Background(), RekeyGroup(group), kadm.Offsets{input: {0: {Topic: input, Partition: 0, At: 0, LeaderEpoch: -1}}}); err != nil {
		t.Fatal(err)
	}
	if st := run(700, n); st.Duplicates != first || st.Applied != n-first {
		t.Errorf("the replay applied %d events and skipped %d, want %d and %d (stats %+v)", st.Applied, st.Duplicates, n-first, first, st)
	}
}

// waitCounted waits until group has committed all n input records and
// counted every update written for them, and returns its table's counts
// by key.
func waitCounted(t *testing.T, kc kafka.Config, group, input string, n int64) map[string]int64 {
	t.Helper()
	rows := map[string]int64{}
	for rowKey, count := range waitRows(t, kc, group, input, n) {
		k, _, err := windows.ParseRowKey(rowKey)
		if err != nil {
			t.Error(err)
		}
		rows[k] = count
	}
	return rows
}

// waitRows is waitCounted by row key (key and window start).
func waitRows(t *testing.T, kc kafka.Config, group, input string, n int64) map[string]int64 {
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
		if err1 == nil && err2 == nil && err3 == nil && ends.Error() == nil {
			in, _ := rekeyed.Lookup(input, 0)
			at, end := map[int32]int64{}, map[int32]int64{}
			ends.Each(func(o kadm.ListedOffset) {
				end[o.Partition] = o.Offset
				if c, ok := counted.Lookup(o.Topic, o.Partition); ok {
					at[o.Partition] = c.At
				}
			})
			if done, err := kafka.Consumed(ctx, kc, RepartitionTopic(group), at, end); in.At == n && err == nil && done {
				break
			}
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	// The table has one partition, like the input: its last row per key.
	start, end, err := kafka.Bounds(ctx, kc, TableTopic(group), 0)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int64{}
	err = kafka.ReadRange(ctx, kc, TableTopic(group), 0, start, end, kgo.ReadUncommitted(), func(r *kgo.Record) {
		var row windows.Row
		if wire.IsWatermarkRow(string(r.Key)) || row.UnmarshalBinary(r.Value) != nil {
			return
		}
		rows[string(r.Key)] = row.Count
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestBatchEndsBeforeTooLarge: a batch ends once a row's update reaches
// maxUpdateBytes, whatever --batch-max allows, so that its record stays
// far below the largest Kafka takes (a hot row with several --agg fields
// took about 10 bytes per event and field: a batch of 100,000 events of
// one row would not have fitted in a record, and its transaction would
// have failed for ever).
func TestBatchEndsBeforeTooLarge(t *testing.T) {
	a := &Aggregator{cfg: AggregateConfig{Group: "g", Windows: windows.Tumbling(time.Hour), BatchMax: MaxBatchMax}, fields: make([]codec.Path, 6)}
	w := windows.Tumbling(time.Hour).WindowAt(time.Date(2016, 7, 26, 8, 0, 0, 0, time.UTC))
	s := newRekeyStep(a)
	rp := s.partition(0)
	b := &rp.batch
	values := make([]byte, 60) // six fields of about ten bytes
	for round := range 2 {
		o := int64(round * MaxBatchMax)
		n := 0
		for ; n < MaxBatchMax; n++ {
			b.admit(o)
			b.add("hot", w, o, values)
			o++
			if s.due(b, false) {
				break
			}
		}
		if n == MaxBatchMax || n < maxUpdateBytes/len(values)/2 {
			t.Fatalf("round %d: the batch ended after %d events", round, n+1)
		}
		var got []*kgo.Record
		s.flush(rp, func(r *kgo.Record) { got = append(got, r) })
		if len(got) != 1 || len(got[0].Value) > maxUpdateBytes+len(values)+64 || len(got[0].Value) > kafka.MaxRecordBytes/2 {
			t.Fatalf("round %d: %d records, the first of %d bytes", round, len(got), len(got[0].Value))
		}
	}
}

// BenchmarkRekey is the rekey step's work per input record, W1's events
// (1,000 keys, hourly windows, time in order) through extraction, window
// assignment and batches of 20,000, their updates encoded and dropped.
func BenchmarkRekey(b *testing.B) {
	tb := &testing.T{}
	a, err := NewAggregator(testConfig(tb, []string{"127.0.0.1:1"}, windows.Tumbling(time.Hour)))
	if err != nil {
		b.Fatal(err)
	}
	const n = 20000
	records := make([]*kgo.Record, n)
	base := time.Date(2016, 7, 26, 0, 0, 0, 0, time.UTC).Unix()
	for i := range records {
		records[i] = &kgo.Record{Partition: 0, Offset: int64(i),
			Value: fmt.Appendf(nil, `{"time": %d, "action": "k%04d"}`, base+int64(i)/20, i%1000)}
	}
	s := newRekeyStep(a)
	updates := 0
	write := func(*kgo.Record) { updates++ }
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += n {
		rp := s.partition(0)
		if err := s.records(context.Background(), rp, records[:min(n, b.N-i)], write); err != nil {
			b.Fatal(err)
		}
		s.flush(rp, write)
	}
}
