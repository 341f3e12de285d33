package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/backfill"
	"github.com/hourglass-stream/hourglass/processor"
	"github.com/hourglass-stream/hourglass/table"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ev is one input event of the event-time cases: its source partition, and
// its time of day on 2016-07-26 and action.
type ev struct {
	p      int32
	hhmmss string
	action string
}

func (v ev) value() []byte {
	t, err := time.Parse("2006-01-02 15:04:05", "2016-07-26 "+v.hhmmss)
	if err != nil {
		panic(err)
	}
	return fmt.Appendf(nil, `{"time": %d, "action": %q}`, t.Unix(), v.action)
}

// produceTo writes events to their partitions of topic, in order, and
// returns the records as written.
func (e *env) produceTo(topic string, evs ...ev) []*kgo.Record {
	e.t.Helper()
	opts, err := e.kafka.Kgo()
	if err != nil {
		e.t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MaxProduceRequestsInflightPerBroker(1))...)
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i, v := range evs {
		r := &kgo.Record{Topic: topic, Partition: v.p, Key: fmt.Appendf(nil, "k%d", i), Value: v.value()}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			e.t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs
}

// produceValues writes values (nil keys) to one partition of topic and
// waits for the acks.
func (e *env) produceValues(topic string, partition int32, values [][]byte) {
	e.t.Helper()
	opts, err := e.kafka.Kgo()
	if err != nil {
		e.t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Topic: topic, Partition: partition, Value: v}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

// rowsOf is the view's table as "key@HH:MM=count" strings, sorted.
func rowsOf(v *table.View) (string, error) {
	rows, err := v.Rows(table.Filter{})
	if err != nil {
		return "", err
	}
	var s []string
	for _, r := range rows {
		s = append(s, fmt.Sprintf("%s@%s=%d", r.Key, r.WindowStart.Format("15:04"), r.Count))
	}
	sort.Strings(s)
	return strings.Join(s, " "), nil
}

// finalsOf reads an output topic of --emit final: every record must be a
// final row; it returns them as rowsOf does, duplicates kept.
func (e *env) finalsOf(topic string) (string, error) {
	recs, err := e.tryReadTopic(topic)
	if err != nil {
		return "", err
	}
	var s []string
	for _, r := range recs {
		var row processor.OutputRow
		if err := json.Unmarshal(r.Value, &row); err != nil {
			return "", err
		}
		if !row.Final {
			return "", fmt.Errorf("non-final row in %s: %s", topic, r.Value)
		}
		s = append(s, fmt.Sprintf("%s@%s=%d", row.Key, row.WindowStart.Format("15:04"), row.Count))
	}
	sort.Strings(s)
	return strings.Join(s, " "), nil
}

func equals(got func() (string, error), want string) func() string {
	return func() string {
		g, err := got()
		if err != nil {
			return err.Error()
		}
		if g != want {
			return fmt.Sprintf("got  %s\nwant %s", g, want)
		}
		return ""
	}
}

// TestWatermarkEmitModes runs one hand-worked input through all three
// output modes at once (1h windows, --watermark 10m, two source
// partitions), then more input that closes another window.
func TestWatermarkEmitModes(t *testing.T) {
	e := newEnv(t)
	input, late := e.name("events"), e.name("late")
	e.createTopic(input, 2)
	type run struct {
		group, output string
		emit          processor.Emit
		retain        time.Duration
	}
	runs := []run{
		{group: e.name("complete"), output: e.name("out-complete"), emit: processor.EmitComplete},
		{group: e.name("update"), output: e.name("out-update"), emit: processor.EmitUpdate, retain: time.Hour},
		{group: e.name("final"), output: e.name("out-final"), emit: processor.EmitFinal},
	}
	aggs := map[processor.Emit]*running{}
	for _, r := range runs {
		cfg := e.aggregateConfig(r.group, input, r.output)
		cfg.Watermark = &windows.Closer{Lateness: 10 * time.Minute}
		cfg.Emit, cfg.Retain = r.emit, r.retain
		if r.emit == processor.EmitFinal {
			cfg.LateTopic = late
		}
		aggs[r.emit] = e.startAggregator(cfg)
	}
	recs := e.produceTo(input,
		ev{0, "08:05:00", "Open"}, ev{0, "08:30:00", "Open"},
		ev{1, "08:40:00", "Close"},
		ev{0, "09:20:00", "Open"}, // p0's watermark 09:10
		ev{0, "08:50:00", "Open"}, // its window ended 09:00: late
		ev{1, "08:55:00", "Open"}, // p1's watermark 08:30: on time
		ev{0, "09:05:00", "Close"},
		ev{1, "09:15:00", "Close"},
		ev{0, "10:30:00", "Open"},  // p0 10:20
		ev{1, "11:30:00", "Close"}, // p1 11:20: the input's watermark is 10:20
	)
	all := "Close@08:00=1 Close@09:00=2 Close@11:00=1 Open@08:00=3 Open@09:00=1 Open@10:00=1"
	views := map[processor.Emit]*table.View{}
	for _, r := range runs {
		views[r.emit] = e.openView(r.group)
	}
	// complete keeps everything; update with --retain 1h has deleted the
	// 08:00 windows (ended 09:00, before 10:20 − 1h); final keeps rows.
	eventually(t, time.Minute, equals(func() (string, error) { return rowsOf(views[processor.EmitComplete]) }, all))
	eventually(t, time.Minute, equals(func() (string, error) { return rowsOf(views[processor.EmitFinal]) }, all))
	eventually(t, time.Minute, equals(func() (string, error) { return rowsOf(views[processor.EmitUpdate]) },
		"Close@09:00=2 Close@11:00=1 Open@09:00=1 Open@10:00=1"))
	// Final rows of the windows the watermark 10:20 closed, once each.
	eventually(t, time.Minute, equals(func() (string, error) { return e.finalsOf(runs[2].output) },
		"Close@08:00=1 Close@09:00=2 Open@08:00=3 Open@09:00=1"))
	// The complete output, read as a compacted topic, is the whole table.
	eventually(t, time.Minute, e.outputMatches(runs[0].output, map[string]int64{
		// key|window start in epoch seconds: 08:00 is 1469520000.
		"Close|1469520000": 1, "Close|1469523600": 2, "Close|1469530800": 1,
		"Open|1469520000": 3, "Open|1469523600": 1, "Open|1469527200": 1,
	}))
	for emit, a := range aggs {
		if got := a.agg.Stats().Late; got != 1 {
			t.Errorf("%s: late = %d, want 1", emit, got)
		}
	}
	// The late topic holds exactly the late event, byte for byte.
	lateRecs := e.readTopic(late)
	if len(lateRecs) != 1 || !bytes.Equal(lateRecs[0].Value, recs[4].Value) || !bytes.Equal(lateRecs[0].Key, recs[4].Key) {
		t.Fatalf("late topic: %v, want only %s", lateRecs, recs[4].Value)
	}
	h := map[string]string{}
	for k, v := range lateRecs[0].Headers {
		h[k] = string(v)
	}
	for k, want := range map[string]string{
		processor.HeaderLateReason:      processor.ReasonLate,
		processor.HeaderLateWindows:     "[2016-07-26T08:00:00Z, 2016-07-26T09:00:00Z)",
		processor.HeaderLateWatermark:   "2016-07-26T09:10:00Z",
		processor.HeaderSourceTopic:     input,
		processor.HeaderSourcePartition: "0",
		processor.HeaderSourceOffset:    fmt.Sprint(recs[4].Offset),
	} {
		if h[k] != want {
			t.Errorf("late header %s = %q, want %q", k, h[k], want)
		}
	}

	// Restart the final run between the 10:00 window's last event and its
	// close: it must still be written exactly once.
	aggs[processor.EmitFinal].stop(t)
	cfg := e.aggregateConfig(runs[2].group, input, runs[2].output)
	cfg.Watermark, cfg.Emit, cfg.LateTopic = &windows.Closer{Lateness: 10 * time.Minute}, processor.EmitFinal, late
	e.startAggregator(cfg)
	e.produceTo(input, ev{0, "12:00:00", "Open"}, ev{1, "12:10:00", "Close"}) // watermark 11:50
	eventually(t, time.Minute, equals(func() (string, error) { return e.finalsOf(runs[2].output) },
		"Close@08:00=1 Close@09:00=2 Open@08:00=3 Open@09:00=1 Open@10:00=1"))
	eventually(t, time.Minute, equals(func() (string, error) { return rowsOf(views[processor.EmitUpdate]) },
		"Close@11:00=1 Close@12:00=1 Open@10:00=1 Open@12:00=1"))
	// A later pass must not write anything again.
	eventually(t, time.Minute, equals(func() (string, error) { return rowsOf(views[processor.EmitFinal]) },
		"Close@08:00=1 Close@09:00=2 Close@11:00=1 Close@12:00=1 Open@08:00=3 Open@09:00=1 Open@10:00=1 Open@12:00=1"))
	if got, err := e.finalsOf(runs[2].output); err != nil || got != "Close@08:00=1 Close@09:00=2 Open@08:00=3 Open@09:00=1 Open@10:00=1" {
		t.Fatalf("final rows after the restart: %s %v", got, err)
	}
}

// TestWatermarkHopping: with hopping windows an event can be late for its
// earlier window and on time for the later one.
func TestWatermarkHopping(t *testing.T) {
	e := newEnv(t)
	input := e.name("events")
	e.createTopic(input, 1)
	cfg := e.aggregateConfig(e.name("g"), input, "")
	cfg.Windows = windows.Hopping(time.Hour, 30*time.Minute)
	cfg.Watermark = &windows.Closer{}
	a := e.startAggregator(cfg)
	e.produceTo(input, ev{0, "09:40:00", "Open"}, ev{0, "10:20:00", "Open"}, ev{0, "09:50:00", "Open"})
	// 09:40 → [09:00,10:00) and [09:30,10:30); 10:20 → [09:30,10:30) and
	// [10:00,11:00); 09:50 after max 10:20: [09:00,10:00) is late,
	// [09:30,10:30) is not.
	v := e.openView(cfg.Group)
	eventually(t, time.Minute, equals(func() (string, error) { return rowsOf(v) }, "Open@09:00=1 Open@09:30=3 Open@10:00=1"))
	if got := a.agg.Stats().Late; got != 1 {
		t.Fatalf("late = %d, want 1", got)
	}
}

// TestIdleFlushAndTimeout: with 2s windows, --idle-flush closes the last
// window when input stops, and --idle-timeout lets a partition that never
// sends close windows; an event that then finds its window closed is late,
// and goes to the late topic read back from the input.
func TestIdleFlushAndTimeout(t *testing.T) {
	e := newEnv(t)
	input, output, late := e.name("events"), e.name("out"), e.name("late")
	e.createTopic(input, 2)
	cfg := e.aggregateConfig(e.name("g"), input, output)
	cfg.Windows = windows.Tumbling(2 * time.Second)
	cfg.Watermark = &windows.Closer{IdleTimeout: time.Second, IdleFlush: time.Second}
	cfg.Emit, cfg.LateTopic = processor.EmitFinal, late
	a := e.startAggregator(cfg)
	e.produceTo(input, ev{0, "08:00:00", "Open"}, ev{0, "08:00:01", "Open"}, ev{0, "08:00:02", "Close"})
	// Partition 1 never sends; after a second it stops holding windows
	// open, and partition 0's silence flushes its last window too.
	eventually(t, time.Minute, equals(func() (string, error) { return e.finalsOf(output) }, "Close@08:00=1 Open@08:00=2"))
	recs := e.produceTo(input, ev{1, "08:00:01", "Close"})
	eventually(t, time.Minute, func() string {
		recs, err := e.tryReadTopic(late)
		if err != nil {
			return err.Error()
		}
		if len(recs) != 1 {
			return fmt.Sprintf("%d late records", len(recs))
		}
		return ""
	})
	r := e.readTopic(late)[0]
	if !bytes.Equal(r.Value, recs[0].Value) {
		t.Fatalf("late record %s, want %s", r.Value, recs[0].Value)
	}
	if got := string(r.Headers[processor.HeaderLateReason]); got != processor.ReasonClosed {
		t.Fatalf("late reason %q, want %s", got, processor.ReasonClosed)
	}
	if got := a.agg.Stats().Late; got != 1 {
		t.Fatalf("late = %d, want 1", got)
	}
	if got, _ := e.finalsOf(output); got != "Close@08:00=1 Open@08:00=2" {
		t.Fatalf("final rows changed: %s", got)
	}
}

// TestLatenessSurvivesRestart: a new process takes the partitions over
// with the clock the old one had, rebuilt from the checkpoint and the input
// after it, so the same events are late as in one uninterrupted run.
func TestLatenessSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	input := e.name("events")
	e.createTopic(input, 1)
	cfg := e.aggregateConfig(e.name("g"), input, "")
	cfg.Watermark = &windows.Closer{Lateness: 10 * time.Minute}
	first := e.startAggregator(cfg)
	// One burst: a checkpoint is written at its first record only, so the
	// next process must re-read the rest of the input to know max 09:30.
	e.produceTo(input, ev{0, "08:05:00", "Open"}, ev{0, "08:10:00", "Open"}, ev{0, "09:30:00", "Open"}, ev{0, "08:15:00", "Open"})
	v := e.openView(cfg.Group)
	eventually(t, time.Minute, equals(func() (string, error) { return rowsOf(v) }, "Open@08:00=2 Open@09:00=1"))
	if got := first.agg.Stats().Late; got != 1 {
		t.Fatalf("first process: late = %d, want 1", got)
	}
	first.stop(t)
	second := e.startAggregator(cfg)
	e.produceTo(input, ev{0, "08:55:00", "Open"}, ev{0, "09:25:00", "Open"})
	eventually(t, time.Minute, equals(func() (string, error) { return rowsOf(v) }, "Open@08:00=2 Open@09:00=2"))
	if got := second.agg.Stats().Late; got != 1 {
		t.Fatalf("second process: late = %d, want 1 (08:55 after max 09:30)", got)
	}
}

// TestFinalExactlyOnceWithLateness streams a disordered data set over four
// partitions and backfills it with --emit final: at the end of input every
// window is written exactly once, and the counts equal an independent
// computation that drops exactly the late events, which the late topic
// holds. A live run on the same input, restarted in the middle, counts the
// same table.
func TestFinalExactlyOnceWithLateness(t *testing.T) {
	e := newEnv(t)
	input, live, liveOut, bf, bfOut, late := e.name("events"), e.name("live"), e.name("live-out"), e.name("bf"), e.name("bf-out"), e.name("late")
	const parts, n, lateness = 4, 4000, 20 * 60
	e.createTopic(input, parts)
	// Times advance ~3 s per event with jitter of up to ±25 min, so some
	// events fall behind their partition's max by more than the lateness.
	rng := rand.New(rand.NewPCG(7, 11))
	base := int64(1469520000) // 2016-07-26T08:00:00Z: all times fall on that day
	var evs []ev
	want := map[string]int64{} // "Action@HH:MM" → count, late events left out
	maxOf := map[int32]int64{}
	lateWant := 0
	for i := 0; i < n; i++ {
		p := int32(rng.IntN(parts))
		t := base + int64(i)*3 + rng.Int64N(3000) - 1500
		action := []string{"Open", "Close"}[rng.IntN(2)]
		end := (t/3600 + 1) * 3600
		if m, ok := maxOf[p]; ok && end <= m-lateness {
			lateWant++
		} else {
			want[fmt.Sprintf("%s@%s=", action, time.Unix(t/3600*3600, 0).UTC().Format("15:04"))]++
		}
		if m, ok := maxOf[p]; !ok || t > m {
			maxOf[p] = t
		}
		evs = append(evs, ev{p, time.Unix(t, 0).UTC().Format("15:04:05"), action})
	}
	if lateWant == 0 || lateWant > n/4 {
		t.Fatalf("the data set has %d late events; make it have some", lateWant)
	}
	var wantRows []string
	for k, c := range want {
		wantRows = append(wantRows, fmt.Sprintf("%s%d", k, c))
	}
	sort.Strings(wantRows)
	wantTable := strings.Join(wantRows, " ")

	half := len(evs) / 2
	e.produceTo(input, evs[:half]...)
	cfg := e.aggregateConfig(live, input, liveOut)
	cfg.Watermark = &windows.Closer{Lateness: lateness * time.Second}
	cfg.Emit = processor.EmitFinal
	r := e.startAggregator(cfg)
	eventually(t, time.Minute, func() string {
		if st := r.agg.Stats(); st.Read < int64(half) {
			return fmt.Sprintf("read %d of %d", st.Read, half)
		}
		return ""
	})
	r.stop(t)
	e.produceTo(input, evs[half:]...)
	e.startAggregator(cfg)
	v := e.openView(live)
	eventually(t, time.Minute, equals(func() (string, error) { return rowsOf(v) }, wantTable))

	bcfg := e.aggregateConfig(bf, input, bfOut)
	bcfg.Watermark = &windows.Closer{Lateness: lateness * time.Second}
	bcfg.Emit, bcfg.LateTopic = processor.EmitFinal, late
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := backfill.Run(ctx, backfill.Config{Aggregate: bcfg, From: backfill.Point{Earliest: true}, Until: backfill.Point{Now: true}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Stats.Late != int64(lateWant) {
		t.Errorf("late = %d, want %d", sum.Stats.Late, lateWant)
	}
	// Backfill returns once every window is closed: all final rows are out.
	if got, err := e.finalsOf(bfOut); err != nil || got != wantTable {
		t.Fatalf("final rows of the backfill (%v):\ngot  %s\nwant %s", err, got, wantTable)
	}
	if got := len(e.readTopic(late)); got != lateWant {
		t.Fatalf("late topic holds %d records, want %d", got, lateWant)
	}
}

// TestSessionWindows: sessions of a key merge when an event bridges them;
// the merged session replaces the old ones in the table and, with
// tombstones, in the output; final rows come when the watermark passes a
// session's end.
func TestSessionWindows(t *testing.T) {
	e := newEnv(t)
	input := e.name("events")
	e.createTopic(input, 1)
	upd, fin := e.name("update"), e.name("final")
	updOut, finOut := e.name("update-out"), e.name("final-out")
	for _, g := range []struct {
		group, out string
		emit       processor.Emit
	}{{upd, updOut, processor.EmitUpdate}, {fin, finOut, processor.EmitFinal}} {
		cfg := e.aggregateConfig(g.group, input, g.out)
		cfg.Windows = windows.SessionGap(30 * time.Minute)
		cfg.Watermark, cfg.Emit = &windows.Closer{}, g.emit
		e.startAggregator(cfg)
	}
	e.produceTo(input,
		ev{0, "08:00:00", "Open"}, ev{0, "08:10:00", "Close"}, ev{0, "08:50:00", "Open"},
		ev{0, "08:25:00", "Open"},                             // within 30m of 08:00 and 08:50: one session 08:00–09:20
		ev{0, "09:30:00", "Close"}, ev{0, "10:30:00", "Open"}, // watermark 10:30
		ev{0, "09:10:00", "Open"}, // its session would end 09:40, before 10:30: late
	)
	want := "Close@08:10=1 Close@09:30=1 Open@08:00=3 Open@10:30=1"
	for _, g := range []string{upd, fin} {
		v := e.openView(g)
		eventually(t, time.Minute, equals(func() (string, error) { return rowsOf(v) }, want))
	}
	eventually(t, time.Minute, e.outputMatches(updOut, map[string]int64{
		"Open|1469520000": 3, "Open|1469529000": 1, "Close|1469520600": 1, "Close|1469525400": 1,
	}))
	eventually(t, time.Minute, equals(func() (string, error) { return e.finalsOf(finOut) }, "Close@08:10=1 Close@09:30=1 Open@08:00=3"))
}

// TestEventTimeCLI: the event-time flags through the binary. Misused flags
// are one clear line; a run with --watermark exposes late_total, logs late
// and watermark in its progress line, and writes final rows.
func TestEventTimeCLI(t *testing.T) {
	e := newEnv(t)
	brokers := "--brokers=" + strings.Join(cluster, ",")
	input, group, output := e.name("events"), e.name("g"), e.name("out")
	base := []string{"aggregate", brokers, "--group", group, "--input", input, "--key", "action", "--time", "time", "--window", "1h"}
	for _, c := range []struct {
		extra []string
		msg   string
	}{
		{[]string{"--emit", "final", "--output", output}, "--emit final needs --watermark"},
		{[]string{"--watermark", "10m", "--emit", "final"}, "--emit final needs --output"},
		{[]string{"--watermark", "10m", "--retain", "1h"}, "--emit complete keeps the whole result table"},
		{[]string{"--idle-flush", "1m"}, "--idle-timeout and --idle-flush need --watermark"},
		{[]string{"--emit", "sometimes"}, `--emit "sometimes"`},
		{[]string{"--session-gap", "30m"}, "take no window size"},
	} {
		out, err := exec.Command(binary(t), append(base, c.extra...)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.msg) || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
			t.Errorf("%v: %v, want one line containing %q, got:\n%s", c.extra, err, c.msg, out)
		}
	}

	e.createTopic(input, 2)
	e.produceTo(input, ev{0, "08:05:00", "Open"}, ev{0, "09:20:00", "Open"}, ev{0, "08:40:00", "Open"},
		ev{1, "08:30:00", "Close"}, ev{1, "09:30:00", "Close"}, ev{1, "08:10:00", "Close"}, ev{1, "10:00:00", "Close"})
	metricsAddr := freeAddr(t)
	p := startProc(t, append(base, "--watermark", "10m", "--emit", "final", "--output", output,
		"--metrics-listen", metricsAddr, "--progress-interval", "200ms")...)
	labels := fmt.Sprintf(`{group=%q}`, group)
	eventually(t, time.Minute, func() string {
		m, err := httpGet("http://" + metricsAddr + "/metrics")
		if err != nil {
			return err.Error()
		}
		if got, ok := metricValue(m, "hourglass_late_total", labels); !ok || got != 2 {
			return fmt.Sprintf("hourglass_late_total = %v (found %v), want 2", got, ok)
		}
		return ""
	})
	// Watermark: min(09:20, 10:00) − 10m = 09:10: the 08:00 windows close.
	eventually(t, time.Minute, equals(func() (string, error) { return e.finalsOf(output) }, "Close@08:00=1 Open@08:00=1"))
	eventually(t, time.Minute, func() string {
		if s := p.stderr.String(); !strings.Contains(s, "late=2 watermark=2016-07-26T09:10:00Z") {
			return "no progress line with late=2 watermark=2016-07-26T09:10:00Z yet"
		}
		return ""
	})
	p.stop(t)
}

// TestFinalAfterTakeover: a process that finds windows marked closing in
// the table (a predecessor died between marking them and marking them
// final) writes the final row of those whose final row is not in the
// output yet, and only of those.
func TestFinalAfterTakeover(t *testing.T) {
	e := newEnv(t)
	input, group, output := e.name("events"), e.name("g"), e.name("out")
	e.createTopic(input, 2)
	e.createTopic(processor.TableTopic(group), 2)
	e.createTopic(output, 2)
	w := windows.Window{Start: time.Date(2016, 7, 26, 8, 0, 0, 0, time.UTC), End: time.Date(2016, 7, 26, 9, 0, 0, 0, time.UTC)}
	closing := func(count int64) []byte {
		b, err := windows.Row{Window: w, Count: count, State: windows.Closing, Applied: map[int32]int64{0: 100}}.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	finalRow, _ := json.Marshal(processor.OutputRow{Result: windows.Result{Key: "Close", WindowStart: w.Start, WindowEnd: w.End, Count: 7}, Final: true})
	p, err := newProducer(e)
	if err != nil {
		t.Fatal(err)
	}
	// The predecessor marked both rows closing and wrote Close's final row.
	err = p.ProduceSync(context.Background(),
		&kgo.Record{Topic: processor.TableTopic(group), Key: []byte(windows.RowKey("Open", w)), Value: closing(5)},
		&kgo.Record{Topic: processor.TableTopic(group), Key: []byte(windows.RowKey("Close", w)), Value: closing(7)},
		&kgo.Record{Topic: output, Key: []byte(windows.RowKey("Close", w)), Value: finalRow},
	).FirstErr()
	p.Close()
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.aggregateConfig(group, input, output)
	cfg.Watermark, cfg.Emit = &windows.Closer{}, processor.EmitFinal
	e.startAggregator(cfg)
	e.produceTo(input, ev{0, "10:30:00", "Open"}, ev{1, "10:30:00", "Close"})
	eventually(t, time.Minute, equals(func() (string, error) { return e.finalsOf(output) }, "Close@08:00=7 Open@08:00=5"))
	// Both rows end final in the changelog, and nothing more is written.
	eventually(t, time.Minute, func() string {
		last := map[string][]byte{}
		for _, r := range e.readTopic(processor.TableTopic(group)) {
			last[string(r.Key)] = r.Value
		}
		for _, k := range []string{"Open", "Close"} {
			var r windows.Row
			if err := r.UnmarshalBinary(last[windows.RowKey(k, w)]); err != nil || r.State != windows.Final {
				return fmt.Sprintf("%s row: state %v, %v", k, r.State, err)
			}
		}
		return ""
	})
	if got, err := e.finalsOf(output); err != nil || got != "Close@08:00=7 Open@08:00=5" {
		t.Fatalf("final rows: %s %v", got, err)
	}
}

// TestFinalWithEmptyPartitions: `ingest` of one small file into a new topic
// puts every unkeyed record in one partition of the several the topic gets;
// `aggregate --emit final` must still close windows once the other
// partitions have been silent for --idle-timeout, and say meanwhile which
// partitions hold the watermark back. Before the fix the watermark stayed
// "none" for ever: no final row, no warning.
func TestFinalWithEmptyPartitions(t *testing.T) {
	e := newEnv(t)
	brokers := "--brokers=" + strings.Join(cluster, ",")
	input, group, output := e.name("events"), e.name("g"), e.name("out")
	dir := t.TempDir()
	var lines []string
	for i, at := range []string{"08:05:00", "08:40:00", "09:20:00", "10:30:00"} {
		ts, _ := time.Parse(time.RFC3339, "2016-07-26T"+at+"Z")
		lines = append(lines, fmt.Sprintf(`{"time": %d, "action": "%s"}`, ts.Unix(), []string{"Open", "Close"}[i%2]))
	}
	writeFile(t, filepath.Join(dir, "events.json"), strings.Join(lines, "\n")+"\n")
	run(t, "ingest", brokers, "--topic", input, dir)
	parts, err := e.partitions(input)
	if err != nil {
		t.Fatal(err)
	}
	if parts < 2 {
		t.Fatalf("ingest created %s with %d partition(s); the test needs the broker's default of several", input, parts)
	}

	p := startProc(t, "aggregate", brokers, "--group", group, "--input", input, "--key", "action", "--time", "time", "--window", "1h",
		"--watermark", "10m", "--emit", "final", "--output", output, "--idle-timeout", "3s", "--progress-interval", "200ms")
	// Within the idle timeout the progress line names what it waits for.
	eventually(t, 30*time.Second, func() string {
		if s := p.stderr.String(); !strings.Contains(s, "watermark_waiting_for=") {
			return "no progress line naming the partitions the watermark waits for"
		}
		return ""
	})
	// Then the one partition with records sets it: 10:30 − 10m = 10:20,
	// and once it is silent too the watermark stays the largest of the
	// silent ones, so the 08:00 and 09:00 windows are final.
	eventually(t, time.Minute, equals(func() (string, error) { return e.finalsOf(output) }, "Close@08:00=1 Open@08:00=1 Open@09:00=1"))
	p.stop(t)
}

// TestExpiredSessionRowsDeleted: with --retain, a key whose sessions have
// all expired leaves no row behind (a tombstone in the changelog), and an
// event late for a key with no sessions creates none. Before, every such
// key kept an empty row for ever.
func TestExpiredSessionRowsDeleted(t *testing.T) {
	e := newEnv(t)
	input, group := e.name("events"), e.name("sessions")
	e.createTopic(input, 1)
	cfg := e.aggregateConfig(group, input, e.name("out"))
	cfg.Windows = windows.SessionGap(30 * time.Minute)
	cfg.Watermark, cfg.Emit, cfg.Retain = &windows.Closer{}, processor.EmitUpdate, time.Hour
	e.startAggregator(cfg)
	e.produceTo(input, ev{0, "08:00:00", "Open"}, ev{0, "08:10:00", "Open"}, ev{0, "12:00:00", "Close"})
	// Open's session 08:00–08:40 ended more than 1 h before the watermark
	// (12:00): it expires, and its row with it. Late, for a key never seen:
	e.produceTo(input, ev{0, "09:00:00", "Late"}, ev{0, "14:00:00", "Close"})
	eventually(t, time.Minute, func() string {
		last := map[string][]byte{}
		recs, err := e.tryReadTopic(processor.TableTopic(group))
		if err != nil {
			return err.Error()
		}
		for _, r := range recs {
			last[string(r.Key)] = r.Value
		}
		v, ok := last["Open"]
		if !ok || v != nil {
			return fmt.Sprintf("the table's last record for Open is %q (present %v), want a tombstone", v, ok)
		}
		if _, ok := last["Late"]; ok {
			return "a row was created for a key whose only event was late"
		}
		return ""
	})
}

// TestManySessionsOneKey: 50,000 sessions of one key under --retain keep
// the key's state small: expired sessions leave it, and every session is
// counted once. Before, one row held every session of the key and was
// rewritten whole on each event: quadratic, and past about 19,000
// sessions larger than a record may be (MESSAGE_TOO_LARGE for ever).
func TestManySessionsOneKey(t *testing.T) {
	e := newEnv(t)
	input, group, output := e.name("events"), e.name("sessions"), e.name("out")
	e.createTopic(input, 1)
	cfg := e.aggregateConfig(group, input, output)
	cfg.Windows = windows.SessionGap(time.Minute)
	cfg.Watermark, cfg.Emit, cfg.Retain = &windows.Closer{}, processor.EmitUpdate, time.Hour
	r := e.startAggregator(cfg)
	const n = 50000
	start := time.Date(2016, 7, 26, 0, 0, 0, 0, time.UTC).Unix()
	values := make([][]byte, n)
	for i := range values {
		// Two minutes apart with a gap of one: every event is a session.
		values[i] = fmt.Appendf(nil, `{"time": %d, "action": "Open"}`, start+int64(i)*120)
	}
	e.produce(input, values)
	eventually(t, 3*time.Minute, func() string {
		if s := r.agg.Stats(); s.Applied < n {
			return fmt.Sprintf("%d of %d events counted (%+v)", s.Applied, n, s)
		}
		return ""
	})
	largest, rows := 0, 0
	recs := e.readTopic(processor.TableTopic(group))
	for _, rec := range recs {
		if string(rec.Key) == "Open" {
			rows++
			largest = max(largest, len(rec.Value))
		}
	}
	if s := r.agg.Stats(); s.Applied != n || s.Late != 0 || s.DeadLettered != 0 {
		t.Errorf("stats %+v: want %d applied, none late or dead-lettered", s, n)
	}
	// An hour of retention and a watermark that trails by a batch: a few
	// hundred sessions at most, not 50,000.
	t.Logf("largest table record of key Open: %d bytes; %+v", largest, r.agg.Stats())
	if largest > 16<<10 {
		t.Errorf("the largest of %d table records of key Open is %d bytes, want at most 16 KiB", rows, largest)
	}
	out, err := e.outputTable(output)
	if err != nil {
		t.Fatal(err)
	}
	ones := 0
	for _, c := range out {
		if c == 1 {
			ones++
		}
	}
	if ones < n-100 {
		t.Errorf("the output holds %d sessions of one event, want about %d", ones, n)
	}
}

// TestSessionsMoveExact: sessions of many keys over several table
// partitions move out of their keys' rows into rows of their own, in their
// keys' partitions, across a restart, and the table and the output hold
// every session exactly, as worked out here from the events. With a
// --state-dir, the moved rows' writes, which the count step makes to
// other partitions' tables, are checkpointed like its own: an undo entry
// left behind would put a moved row back to nothing at the restart.
func TestSessionsMoveExact(t *testing.T) {
	t.Run("memory", func(t *testing.T) { sessionsMoveExact(t, false) })
	t.Run("state-dir", func(t *testing.T) { sessionsMoveExact(t, true) })
}

func sessionsMoveExact(t *testing.T, stateDir bool) {
	e := newEnv(t)
	input, group, output := e.name("events"), e.name("sessions"), e.name("out")
	e.createTopic(input, 3)
	gap := 20 * time.Minute
	cfg := e.aggregateConfig(group, input, output)
	if stateDir {
		cfg.StateDir = t.TempDir()
	}
	cfg.Windows, cfg.Partitions = windows.SessionGap(gap), 4
	// Events are at most 30 min out of order: a watermark an hour behind
	// closes sessions but finds nothing late.
	cfg.Watermark, cfg.Emit = &windows.Closer{Lateness: time.Hour}, processor.EmitUpdate

	rng := rand.New(rand.NewPCG(7, 14))
	base := time.Date(2016, 7, 26, 0, 0, 0, 0, time.UTC)
	type event struct {
		p   int32
		key string
		at  time.Time
	}
	var evs []event
	for i := range 6000 {
		// Mostly 5-minute steps (sessions grow), now and then an hour's
		// pause (a new session); jitter of up to 30 min reorders them.
		step := 5 * time.Minute
		if rng.IntN(8) == 0 {
			step = time.Hour
		}
		base = base.Add(step / 8)
		at := base.Add(-time.Duration(rng.IntN(30)) * time.Minute)
		evs = append(evs, event{int32(i % 3), fmt.Sprintf("k%d", rng.IntN(8)), at})
	}
	want := map[string]int64{} // key|start unix → count
	byKey := map[string][]time.Time{}
	for _, v := range evs {
		byKey[v.key] = append(byKey[v.key], v.at)
	}
	var wantRows []string
	for k, ts := range byKey {
		slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
		start, end, n := ts[0], ts[0].Add(gap), int64(0)
		for _, at := range ts {
			if !at.Before(end) {
				want[fmt.Sprintf("%s|%d", k, start.Unix())] = n
				wantRows = append(wantRows, fmt.Sprintf("%s@%s=%d", k, start.Format("15:04"), n))
				start, n = at, 0
			}
			n++
			if at.Add(gap).After(end) {
				end = at.Add(gap)
			}
		}
		want[fmt.Sprintf("%s|%d", k, start.Unix())] = n
		wantRows = append(wantRows, fmt.Sprintf("%s@%s=%d", k, start.Format("15:04"), n))
	}
	sort.Strings(wantRows)
	values := func(evs []event) [][]byte {
		var vs [][]byte
		for _, v := range evs {
			vs = append(vs, fmt.Appendf(nil, `{"time": %d, "action": %q}`, v.at.Unix(), v.key))
		}
		return vs
	}
	produce := func(evs []event) {
		for p := int32(0); p < 3; p++ {
			var mine []event
			for _, v := range evs {
				if v.p == p {
					mine = append(mine, v)
				}
			}
			e.produceValues(input, p, values(mine))
		}
	}

	first := e.startAggregator(cfg)
	produce(evs[:3000])
	eventually(t, time.Minute, func() string {
		if s := first.agg.Stats(); s.Applied < 3000 || s.SessionsMoved == 0 {
			return fmt.Sprintf("first run: %+v", s)
		}
		return ""
	})
	first.stop(t)
	second := e.startAggregator(cfg)
	produce(evs[3000:])
	v := e.openView(group)
	eventually(t, 2*time.Minute, equals(func() (string, error) { return rowsOf(v) }, strings.Join(wantRows, " ")))
	eventually(t, time.Minute, e.outputMatches(output, want))
	if s := second.agg.Stats(); s.Late != 0 || s.DeadLettered != 0 || s.SessionsMoved == 0 {
		t.Errorf("second run: %+v, want sessions moved and nothing late", s)
	}
	// Every session's row is in its key's partition.
	partOf := map[string]int32{}
	for _, r := range e.readTopic(processor.TableTopic(group)) {
		key := string(r.Key)
		if k, _, err := windows.ParseRowKey(key); err == nil {
			key = k
		} else if strings.HasPrefix(key, "\x00") {
			continue
		}
		if p, ok := partOf[key]; ok && p != r.Partition {
			t.Fatalf("table record %q is in partition %d, its key's rows in %d", r.Key, r.Partition, p)
		}
		partOf[key] = r.Partition
	}
}

// TestSessionsBoundWithoutWatermark: with no watermark to close sessions,
// a key's row holds at most windows.MaxOpenSessions of them; the oldest
// are closed early, and an event that would have joined one of those is
// late (counted, not lost without a word), not a row past the record size.
func TestSessionsBoundWithoutWatermark(t *testing.T) {
	e := newEnv(t)
	input, group := e.name("events"), e.name("sessions")
	e.createTopic(input, 1)
	cfg := e.aggregateConfig(group, input, e.name("out"))
	cfg.Windows, cfg.Emit = windows.SessionGap(time.Minute), processor.EmitUpdate
	r := e.startAggregator(cfg)
	n := windows.MaxOpenSessions * 3 / 2
	start := time.Date(2016, 7, 26, 0, 0, 0, 0, time.UTC).Unix()
	values := make([][]byte, n)
	for i := range values {
		values[i] = fmt.Appendf(nil, `{"time": %d, "action": "Open"}`, start+int64(i)*120)
	}
	// The first session again, 30 s in: it was closed early. And a key of
	// a session's row key shape, "Open|<its start>": it would share that
	// row.
	values = append(values, fmt.Appendf(nil, `{"time": %d, "action": "Open"}`, start+30),
		fmt.Appendf(nil, `{"time": %d, "action": "Open|2016-07-26T00:00:00Z"}`, start))
	e.produceValues(input, 0, values)
	eventually(t, time.Minute, func() string {
		if s := r.agg.Stats(); s.Applied != int64(n) || s.Late != 1 || s.SessionsClosedEarly == 0 || s.DeadLettered != 1 {
			return fmt.Sprintf("want %d counted, 1 late, 1 dead-lettered, sessions closed early: %+v", n, s)
		}
		return ""
	})
	if dl := e.readTopic(processor.DeadLetterTopic(group)); len(dl) != 1 || string(dl[0].Headers[processor.HeaderErrorKind]) != string(processor.ReasonKey) {
		t.Fatalf("dead letters %+v, want the row-key-shaped key's, of kind key", dl)
	}
	largest := 0
	for _, rec := range e.readTopic(processor.TableTopic(group)) {
		if string(rec.Key) == "Open" {
			largest = max(largest, len(rec.Value))
		}
	}
	if limit := windows.MaxOpenSessions * 80; largest > limit {
		t.Errorf("the largest row of key Open is %d bytes, want at most %d", largest, limit)
	}
	v := e.openView(group)
	eventually(t, time.Minute, func() string {
		rows, err := v.Rows(table.Filter{})
		if err != nil {
			return err.Error()
		}
		total := int64(0)
		for _, row := range rows {
			total += row.Count
		}
		if len(rows) != n || total != int64(n) {
			return fmt.Sprintf("the view holds %d sessions of %d events, want %d of one each", len(rows), total, n)
		}
		return ""
	})
}
