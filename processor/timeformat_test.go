package processor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/predicate"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestWhereTimeFormatOffset: --where counts only matching records (a
// failing evaluation is dead-lettered, the rest rejected), --time-format
// mjd reads Modified Julian Dates, --window-offset 12h makes nights run
// from noon UTC; --time @timestamp counts by the records' timestamps.
func TestWhereTimeFormatOffset(t *testing.T) {
	kc := embeddedBroker(t)
	sc, cl := testClients(t, kc)
	ctx := context.Background()
	if _, err := kadm.NewClient(cl).CreateTopics(ctx, 1, 1, nil, "sky-events", "stamped-events"); err != nil {
		t.Fatal(err)
	}
	produce := func(topic string, recs ...*kgo.Record) {
		t.Helper()
		for _, r := range recs {
			r.Topic = topic
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	value := func(s string) *kgo.Record { return &kgo.Record{Value: []byte(s)} }
	// MJD 60000 is 2023-02-25T00:00Z: .4 is 09:36, before that day's noon.
	produce("sky-events",
		value(`{"t": 60000.4, "band": "r", "snr": 10}`),
		value(`{"t": 60000.6, "band": "r", "snr": 10}`),
		value(`{"t": 60000.6, "band": "r", "snr": 2}`), // rejected
		value(`{"t": 60000.7, "band": "g", "snr": 7}`),
		value(`{"t": 60000.7, "band": "g"}`),          // no snr: the expression fails
		value(`{"t": "soon", "band": "g", "snr": 9}`), // not an MJD
	)
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	stamped := func(ts string) *kgo.Record { return &kgo.Record{Value: []byte(`{"band": "r"}`), Timestamp: at(ts)} }
	produce("stamped-events", stamped("2016-07-26T08:10:00Z"), stamped("2016-07-26T08:50:00Z"), stamped("2016-07-26T09:05:00Z"))

	run := func(cfg AggregateConfig, n int64) (map[string]int64, AggregateStats) {
		t.Helper()
		cfg.Kafka, cfg.Sarama, cfg.MaxOutage = kc, sc, time.Hour
		cfg.Key, _ = codec.ParsePath("band")
		a, err := NewAggregator(cfg)
		if err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- a.Run(runCtx) }()
		rows := waitRows(t, kc, cfg.Group, cfg.Input, n)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return rows, a.Stats()
	}

	where, err := predicate.Compile("snr > 5", nil)
	if err != nil {
		t.Fatal(err)
	}
	mjd, _ := windows.ParseTimeFormat("mjd")
	tf, _ := codec.ParsePath("t")
	rows, st := run(AggregateConfig{Group: "nights", Input: "sky-events", Time: tf, TimeFormat: mjd, Where: where,
		Windows: windows.Spec{Size: 24 * time.Hour, Offset: 12 * time.Hour}}, 6)
	want := map[string]int64{"r|2023-02-24T12:00:00Z": 1, "r|2023-02-25T12:00:00Z": 1, "g|2023-02-25T12:00:00Z": 1}
	if fmt.Sprint(rows) != fmt.Sprint(want) || st.Rejected != 1 || st.DeadLettered != 2 {
		t.Errorf("rows %v, %d rejected, %d dead-lettered; want %v, 1 and 2", rows, st.Rejected, st.DeadLettered, want)
	}

	rows, st = run(AggregateConfig{Group: "stamped", Input: "stamped-events", RecordTime: true, Windows: windows.Tumbling(time.Hour)}, 3)
	want = map[string]int64{"r|2016-07-26T08:00:00Z": 2, "r|2016-07-26T09:00:00Z": 1}
	if fmt.Sprint(rows) != fmt.Sprint(want) || st.DeadLettered != 0 {
		t.Errorf("by record timestamp: rows %v, %d dead-lettered; want %v and none", rows, st.DeadLettered, want)
	}
}
