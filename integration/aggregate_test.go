package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/hourglass-stream/hourglass/ingest"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/processor"
)

// TestAggregateExact: ingest → aggregate → view and output topic equal an
// independent count, for 1 and 8 partitions, keyed and unkeyed input.
func TestAggregateExact(t *testing.T) {
	tests := []struct {
		partitions int32
		keyed      bool
	}{
		{1, false}, {8, false}, {1, true}, {8, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("partitions=%d/keyed=%v", tt.partitions, tt.keyed), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			events, dir := writeData(t, 6000, 3, uint64(tt.partitions)+10)
			input, group, output := e.name("events"), e.name("hourly"), e.name("counts")
			e.createTopic(input, tt.partitions)
			cfg := ingest.Config{Topic: input, FilesPerTrigger: 1}
			if tt.keyed {
				cfg.KeyField = mustPath(t, "action")
			}
			sum := e.ingestFiles(cfg, dir)
			if sum.Records != int64(len(events)) || sum.Files != 3 || sum.BadLines != 0 {
				t.Fatalf("ingest summary %+v, want %d records from 3 files", sum, len(events))
			}

			r := e.startAggregator(e.aggregateConfig(group, input, output))
			want := expected(events)
			v := e.openView(group)
			eventually(t, 60*time.Second, viewMatches(v, want))
			eventually(t, 30*time.Second, e.outputMatches(output, want))
			st := r.agg.Stats()
			if st.Read != int64(len(events)) || st.DeadLettered != 0 || st.Applied != int64(len(events)) {
				t.Errorf("stats %+v, want %d read and applied, none dead-lettered", st, len(events))
			}
		})
	}
}

// TestGracefulRestart stops the aggregator mid-stream and starts a new one
// in its place; the result must still be exact.
func TestGracefulRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	events, dir := writeData(t, 40000, 4, 7)
	input, group, output := e.name("events"), e.name("hourly"), e.name("counts")
	e.createTopic(input, 4)
	cfg := e.aggregateConfig(group, input, output)

	first := e.startAggregator(cfg)
	sum := e.ingestFiles(ingest.Config{Topic: input}, dir)
	if sum.Records != int64(len(events)) {
		t.Fatalf("ingested %d, want %d", sum.Records, len(events))
	}
	eventually(t, 60*time.Second, func() string {
		if n := first.agg.Stats().Applied; n < 2000 {
			return fmt.Sprintf("%d applied, waiting for 2000", n)
		}
		return ""
	})
	first.stop(t)
	applied := first.agg.Stats().Applied
	if applied >= int64(len(events)) {
		t.Logf("the first run counted everything (%d) before it was stopped; the restart then only proves nothing is repeated", applied)
	}

	second := e.startAggregator(cfg)
	want := expected(events)
	v := e.openView(group)
	eventually(t, 90*time.Second, viewMatches(v, want))
	eventually(t, 30*time.Second, e.outputMatches(output, want))
	st := second.agg.Stats()
	if total := applied + st.Applied; total != int64(len(events)) {
		t.Errorf("applied %d + %d = %d updates over two runs, want exactly %d", applied, st.Applied, total, len(events))
	}
	t.Logf("first run applied %d, second %d (skipped %d redelivered)", applied, st.Applied, st.Duplicates)
}

// TestDeadLetters mixes malformed records into the input: they go to the
// dead-letter topic with reasons and sources, not into the counts, and the
// processor keeps going.
func TestDeadLetters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	events, dir := writeData(t, 2000, 1, 3)
	bad := []struct{ line, kind string }{
		{`this is not json`, "decode"},
		{`{"time":1469501107,"action":"Open"`, "decode"},
		{`{"action":"Open"}`, "time"},
		{`{"time":"yesterday","action":"Open"}`, "time"},
		{`{"time":true,"action":"Close"}`, "time"},
		{`{"time":1469501107}`, "key"},
		{`{"time":1469501107,"action":null}`, "key"},
		{`{"time":1469501107,"action":{"name":"Open"}}`, "key"},
	}
	var lines []string
	for _, b := range bad {
		lines = append(lines, b.line)
	}
	badFile := filepath.Join(dir, "zz-bad.json")
	if err := os.WriteFile(badFile, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	input, group := e.name("events"), e.name("hourly")
	e.createTopic(input, 2)
	// lines, not jsonl: the records must reach the processor as they are.
	sum := e.ingestFiles(ingest.Config{Topic: input, Format: ingest.FormatLines}, dir)
	if want := int64(len(events) + len(bad)); sum.Records != want {
		t.Fatalf("ingested %d, want %d", sum.Records, want)
	}
	r := e.startAggregator(e.aggregateConfig(group, input, ""))
	v := e.openView(group)
	eventually(t, 60*time.Second, viewMatches(v, expected(events)))

	var dlq []string
	eventually(t, 30*time.Second, func() string {
		recs := e.readTopic(processor.DeadLetterTopic(group))
		dlq = dlq[:0]
		for _, rec := range recs {
			h := rec.Headers
			if string(h[processor.HeaderSourceTopic]) != input || len(h[processor.HeaderSourcePartition]) == 0 ||
				len(h[processor.HeaderSourceOffset]) == 0 || len(h[processor.HeaderError]) == 0 {
				return fmt.Sprintf("dead letter %q lacks source or error headers: %v", rec.Value, h)
			}
			dlq = append(dlq, string(h[processor.HeaderErrorKind])+" "+string(rec.Value))
		}
		if len(dlq) != len(bad) {
			return fmt.Sprintf("%d dead letters, want %d: %q", len(dlq), len(bad), dlq)
		}
		return ""
	})
	for _, b := range bad {
		found := false
		for _, d := range dlq {
			found = found || d == b.kind+" "+b.line
		}
		if !found {
			t.Errorf("no dead letter of kind %s for %q; have %q", b.kind, b.line, dlq)
		}
	}
	if st := r.agg.Stats(); st.DeadLettered != int64(len(bad)) {
		t.Errorf("dead-letter count %d, want %d", st.DeadLettered, len(bad))
	}
}

// TestPartitionMismatch: a group table whose partitions differ from the
// repartition topic's is refused with a clear error, not used.
func TestPartitionMismatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	input, group := e.name("events"), e.name("hourly")
	e.createTopic(input, 4)
	e.createTopic(processor.RepartitionTopic(group), 4)
	e.createTopic(processor.TableTopic(group), 2)
	agg, err := processor.NewAggregator(e.aggregateConfig(group, input, ""))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = agg.Run(ctx)
	if !errors.Is(err, kafka.ErrPartitionMismatch) {
		t.Fatalf("Run = %v, want ErrPartitionMismatch", err)
	}
	if !strings.Contains(err.Error(), processor.TableTopic(group)) {
		t.Errorf("error %q does not name the table", err)
	}
}

// TestReplayDoesNotDoubleCount deletes the group's committed offsets after
// a complete run, so that a new run re-reads the input and the repartition
// topic from the start: every update must be recognised as applied already.
func TestReplayDoesNotDoubleCount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	events, dir := writeData(t, 4000, 2, 11)
	input, group, output := e.name("events"), e.name("hourly"), e.name("counts")
	e.createTopic(input, 3)
	e.ingestFiles(ingest.Config{Topic: input}, dir)
	cfg := e.aggregateConfig(group, input, output)
	want := expected(events)

	first := e.startAggregator(cfg)
	v := e.openView(group)
	eventually(t, 60*time.Second, viewMatches(v, want))
	first.stop(t)

	adm, err := sarama.NewClusterAdmin(e.kafka.Brokers, e.sarama)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	for _, g := range []string{group, group + "-rekey"} {
		if err := adm.DeleteConsumerGroup(g); err != nil {
			t.Fatalf("delete consumer group %s: %v", g, err)
		}
	}

	second := e.startAggregator(cfg)
	// Both steps re-read everything: all input records, and the old updates
	// followed by the re-sent ones.
	eventually(t, 60*time.Second, func() string {
		st := second.agg.Stats()
		if st.Read != int64(len(events)) || st.Duplicates != 2*int64(len(events)) {
			return fmt.Sprintf("second run: %+v; want %d read and %d duplicates", st, len(events), 2*len(events))
		}
		return ""
	})
	if st := second.agg.Stats(); st.Applied != 0 {
		t.Errorf("the replay applied %d updates again", st.Applied)
	}
	eventually(t, 30*time.Second, viewMatches(v, want))
	got, err := e.outputTable(output)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(got, want); d != "" {
		t.Fatalf("output topic after replay:\n%s", d)
	}
}
