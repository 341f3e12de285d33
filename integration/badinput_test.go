package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/demo"
	"github.com/hourglass-stream/hourglass/processor"
	"github.com/twmb/franz-go/pkg/kgo"
)

// jsonValues are events as the classic JSON records.
func jsonValues(evs []demo.Event) [][]byte {
	out := make([][]byte, len(evs))
	for i, ev := range evs {
		out[i] = fmt.Appendf(nil, `{"time": %d, "action": %q}`, ev.Time, ev.Action)
	}
	return out
}

// TestOneRecordNeverBreaksAGroup: records that used to stop a group or
// make its table unreadable go to the dead-letter topic with a reason; the
// table stays exact and readable, the output topic complete, and a
// restarted processor recovers. Before the fixes: a group key beginning
// with "\x00watermark|" made every restart fail ("decode watermark row: bad
// tag"); an event at 9999-12-31T23:30:00Z crash-looped the count step in
// Time.MarshalJSON and one at 9999-12-31T23:00:00-23:00 made query and
// serve fail for the whole table ("bad row key"); a foreign record in the
// repartition topic stopped the count step for ever.
func TestOneRecordNeverBreaksAGroup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	input, group, output := e.name("events"), e.name("hourly"), e.name("counts")
	e.createTopic(input, 2)
	good := demo.Generate(demo.DataSpec{Events: 400, Files: 1, Seed: 91})
	bad := map[string]processor.Reason{
		`{"time": 1469520000, "action": "\u0000watermark|x"}`:        processor.ReasonKey,
		`{"time": 1469520000, "action": "\u0000watermark|0"}`:        processor.ReasonKey,
		`{"time": "9999-12-31T23:30:00Z", "action": "Far"}`:          processor.ReasonTime,
		`{"time": "9999-12-31T23:00:00-23:00", "action": "Farther"}`: processor.ReasonTime,
	}
	var values [][]byte
	for i, v := range jsonValues(good) {
		values = append(values, v)
		if i%100 == 50 {
			for b := range bad {
				values = append(values, []byte(b))
			}
		}
	}
	e.produce(input, values)

	cfg := e.aggregateConfig(group, input, output)
	r := e.startAggregator(cfg)
	v := e.openView(group)
	eventually(t, time.Minute, viewMatches(v, expected(good)))
	eventually(t, time.Minute, e.outputMatches(output, expected(good)))

	// A foreign producer's records in the repartition topic: a tombstone
	// and bytes no update codec wrote.
	p, err := newProducer(e)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	foreign := []*kgo.Record{
		{Topic: processor.RepartitionTopic(group), Key: []byte("Open|2016-07-26T08:00:00Z")},
		{Topic: processor.RepartitionTopic(group), Key: []byte("Open|2016-07-26T08:00:00Z"), Value: []byte("not an update")},
	}
	if err := p.ProduceSync(context.Background(), foreign...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	more := demo.Generate(demo.DataSpec{Events: 100, Files: 1, Seed: 92})
	e.produce(input, jsonValues(more))
	all := append(append([]demo.Event{}, good...), more...)
	eventually(t, time.Minute, viewMatches(v, expected(all)))

	kinds := map[string]int{}
	eventually(t, 30*time.Second, func() string {
		clear(kinds)
		for _, rec := range e.readTopic(processor.DeadLetterTopic(group)) {
			kind := string(rec.Headers[processor.HeaderErrorKind])
			if kind != string(processor.ReasonInternal) {
				if want, ok := bad[string(rec.Value)]; !ok || string(want) != kind {
					return fmt.Sprintf("dead letter %q of kind %s (%s)", rec.Value, kind, rec.Headers[processor.HeaderError])
				}
			}
			kinds[kind]++
		}
		if kinds["key"] != 8 || kinds["time"] != 8 || kinds["internal"] != 2 {
			return fmt.Sprintf("dead letters by kind %v, want key 8, time 8, internal 2", kinds)
		}
		return ""
	})

	// A new process recovers the table and goes on.
	r.stop(t)
	e.startAggregator(cfg)
	last := demo.Generate(demo.DataSpec{Events: 50, Files: 1, Seed: 93})
	e.produce(input, jsonValues(last))
	all = append(all, last...)
	eventually(t, time.Minute, viewMatches(e.openView(group), expected(all)))
	eventually(t, time.Minute, e.outputMatches(output, expected(all)))
	if out := run(t, "query", "--brokers="+strings.Join(cluster, ","), "--group", group, "--totals"); !strings.Contains(out, "Open") {
		t.Fatalf("query --totals:\n%s", out)
	}
}

// TestDeadLettersKeepKeyAndHeaders: a dead letter of an unkeyed record has
// a null key (not "", which put every one on one partition), and keeps the
// record's headers as a list, repeats and order included, before
// hourglass's own. The filter's dead letters and outputs likewise.
func TestDeadLettersKeepKeyAndHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	input, group := e.name("events"), e.name("hourly")
	e.createTopic(input, 1)
	p, err := newProducer(e)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	in := []kgo.RecordHeader{{Key: "trace", Value: []byte("1")}, {Key: "trace", Value: []byte("2")}, {Key: "app", Value: []byte("x")}}
	if err := p.ProduceSync(context.Background(), &kgo.Record{Topic: input, Value: []byte("not json"), Headers: in}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	r := e.startAggregator(e.aggregateConfig(group, input, ""))
	eventually(t, 30*time.Second, func() string {
		if st := r.agg.Stats(); st.DeadLettered != 1 {
			return fmt.Sprintf("stats %+v", st)
		}
		return ""
	})
	opts, err := e.kafka.Kgo()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(processor.DeadLetterTopic(group)), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var dl *kgo.Record
	for dl == nil {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("no dead letter read")
		}
		fs.EachRecord(func(r *kgo.Record) { dl = r })
	}
	if dl.Key != nil {
		t.Errorf("dead letter key %q, want null", dl.Key)
	}
	var got []string
	for _, h := range dl.Headers {
		got = append(got, h.Key+"="+string(h.Value))
	}
	if len(got) < 4 || strings.Join(got[:3], " ") != "trace=1 trace=2 app=x" {
		t.Errorf("dead letter headers %v, want the record's trace=1 trace=2 app=x first, then hourglass's", got)
	}
}

// TestTooLargeCopyBecomesReference: the dead letter of an input record
// near the size limit, with hourglass's headers added, is too large to
// write; a reference record (where the original is, and why) takes its
// place and the stream goes on, its offsets committed. Before, the write
// failed with MESSAGE_TOO_LARGE on every retry and the partition's
// commits were stuck for good while the process looked healthy.
func TestTooLargeCopyBecomesReference(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	input, group := e.name("events"), e.name("hourly")
	e.createTopic(input, 1)
	// Written by another producer, near Kafka's default limit (1,048,588)
	// and above what hourglass's producer writes; not JSON: a dead letter.
	big := bytes.Repeat([]byte("x"), 1_040_000)
	opts, err := e.kafka.Kgo()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(opts, kgo.ProducerBatchMaxBytes(1_048_000))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: input, Value: big},
		&kgo.Record{Topic: input, Value: []byte(`{"time": 1469520000, "action": "Open"}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	r := e.startAggregator(e.aggregateConfig(group, input, ""))
	eventually(t, time.Minute, viewMatches(e.openView(group), map[string]int64{"Open|1469520000": 1}))
	eventually(t, 30*time.Second, func() string {
		recs, err := e.tryReadTopic(processor.DeadLetterTopic(group))
		if err != nil || len(recs) != 1 {
			return fmt.Sprintf("%d dead letters (%v)", len(recs), err)
		}
		var ref struct {
			Topic, Partition, Offset string
			Bytes                    int
		}
		if string(recs[0].Headers[processor.HeaderCopy]) != "reference" || json.Unmarshal(recs[0].Value, &ref) != nil ||
			ref.Topic != input || ref.Partition != "0" || ref.Offset != "0" || ref.Bytes < len(big) {
			return fmt.Sprintf("dead letter is not a reference to %s/0@0: %.200q %v", input, recs[0].Value, recs[0].Headers)
		}
		if string(recs[0].Headers[processor.HeaderErrorKind]) != string(processor.ReasonDecode) {
			return fmt.Sprintf("reference without the reason: %v", recs[0].Headers)
		}
		return ""
	})
	e.committedAt(t, processor.RekeyGroup(group), input, 0, 2)
	if st := r.agg.Stats(); st.WriteErrors != 0 {
		t.Fatalf("stats %+v: writes failed", st)
	}
}
