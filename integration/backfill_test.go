package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/backfill"
	"github.com/hourglass-stream/hourglass/demo"
	"github.com/hourglass-stream/hourglass/ingest"
	"github.com/hourglass-stream/hourglass/processor"
	"github.com/hourglass-stream/hourglass/table"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceAt writes events as JSON with the given Kafka record timestamp.
func produceAt(t *testing.T, e *env, topic string, events []demo.Event, at time.Time) {
	t.Helper()
	p, err := newProducer(e)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var recs []*kgo.Record
	for _, ev := range events {
		v, _ := json.Marshal(map[string]any{"time": ev.Time, "action": ev.Action})
		recs = append(recs, &kgo.Record{Topic: topic, Value: v, Timestamp: at})
	}
	if err := p.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// viewTable is the whole table of group, once a fresh view has recovered.
func viewTable(t *testing.T, e *env, group string) map[string]int64 {
	t.Helper()
	v := e.openView(group)
	if err := v.WaitRecovered(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows, err := v.Rows(table.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return resultMap(rows)
}

func runBackfill(t *testing.T, e *env, group, input string, from, until backfill.Point) backfill.Summary {
	t.Helper()
	var progress bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := backfill.Run(ctx, backfill.Config{
		Aggregate: e.aggregateConfig(group, input, ""), From: from, Until: until,
		Progress: &progress, Every: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("backfill %s: %v\nprogress:\n%s", group, err, progress.String())
	}
	if !bytes.Contains(progress.Bytes(), []byte("backfill 100.0%")) {
		t.Errorf("progress never reached 100%%:\n%s", progress.String())
	}
	return sum
}

// TestBackfillEqualsLive: a backfill from earliest into a fresh group
// builds exactly the live group's table, and refuses a group that has one.
func TestBackfillEqualsLive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	events, dir := writeData(t, 8000, 4, 71)
	input, live, replay := e.name("events"), e.name("live"), e.name("replay")
	e.createTopic(input, 4)
	e.ingestFiles(ingestConfig(input), dir)
	r := e.startAggregator(e.aggregateConfig(live, input, ""))
	eventually(t, time.Minute, viewMatches(e.openView(live), expected(events)))
	r.stop(t)

	sum := runBackfill(t, e, replay, input, backfill.Point{Earliest: true}, backfill.Point{Now: true})
	if sum.Records != 8000 || sum.Stats.Applied != 8000 {
		t.Errorf("summary %+v", sum)
	}
	if msg := diff(viewTable(t, e, replay), viewTable(t, e, live)); msg != "" {
		t.Fatalf("backfilled table differs from the live one:\n%s", msg)
	}
	_, err := backfill.Run(context.Background(), backfill.Config{Aggregate: e.aggregateConfig(replay, input, ""),
		From: backfill.Point{Earliest: true}, Until: backfill.Point{Now: true}})
	if !errors.Is(err, backfill.ErrGroupInUse) {
		t.Errorf("a second backfill into %s: %v, want ErrGroupInUse", replay, err)
	}
}

// TestBackfillFromAndUntil: --from TIME counts exactly the records with a
// Kafka timestamp at or after it; --until TIME exactly those before.
func TestBackfillFromAndUntil(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	early := demo.Generate(demo.DataSpec{Events: 3000, Files: 1, Seed: 81})
	late := demo.Generate(demo.DataSpec{Events: 2000, Files: 1, Seed: 82})
	input := e.name("events")
	e.createTopic(input, 4)
	// Recent timestamps: Kafka's retention (7 days by default) would
	// delete records stamped months ago under the test.
	t1 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	t0 := t1.Add(-time.Hour)
	produceAt(t, e, input, early, t0)
	produceAt(t, e, input, late, t1)

	runBackfill(t, e, e.name("since"), input, backfill.Point{Time: t1}, backfill.Point{Now: true})
	if msg := diff(viewTable(t, e, e.name("since")), expected(late)); msg != "" {
		t.Errorf("--from %s:\n%s", t1, msg)
	}
	runBackfill(t, e, e.name("before"), input, backfill.Point{Earliest: true}, backfill.Point{Time: t1})
	if msg := diff(viewTable(t, e, e.name("before")), expected(early)); msg != "" {
		t.Errorf("--until %s:\n%s", t1, msg)
	}
}

// TestResetReplay: replaying into the same group after a reset changes no
// count; after reset --drop-state the replay rebuilds the same table.
func TestResetReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	events, dir := writeData(t, 5000, 2, 91)
	input, group := e.name("events"), e.name("hourly")
	e.createTopic(input, 4)
	e.ingestFiles(ingestConfig(input), dir)
	runBackfill(t, e, group, input, backfill.Point{Earliest: true}, backfill.Point{Now: true})
	want := expected(events)
	if msg := diff(viewTable(t, e, group), want); msg != "" {
		t.Fatal(msg)
	}

	reset := func(drop bool) {
		t.Helper()
		plan, err := backfill.Reset(context.Background(), backfill.ResetConfig{Kafka: e.kafka, Group: group,
			To: backfill.Point{Earliest: true}, DropState: drop, Yes: true})
		if err != nil {
			t.Fatalf("reset: %v (plan %q)", err, plan)
		}
	}
	// Replay everything into the same group: every update is a duplicate.
	reset(false)
	r := e.startAggregator(e.aggregateConfig(group, input, ""))
	eventually(t, time.Minute, func() string {
		if d := r.agg.Stats().Duplicates; d < 5000 {
			return fmt.Sprintf("%d duplicates skipped, waiting for 5000", d)
		}
		return ""
	})
	r.stop(t)
	if st := r.agg.Stats(); st.Applied != 0 {
		t.Errorf("a replay without --drop-state changed counts: %+v", st)
	}
	if msg := diff(viewTable(t, e, group), want); msg != "" {
		t.Fatal(msg)
	}

	// Drop the table and replay: the same table again.
	reset(true)
	runBackfill(t, e, group, input, backfill.Point{Earliest: true}, backfill.Point{Now: true})
	if msg := diff(viewTable(t, e, group), want); msg != "" {
		t.Fatalf("rebuilt table:\n%s", msg)
	}
}

func ingestConfig(topic string) ingest.Config { return ingest.Config{Topic: topic} }

// TestBackfillCLI drives backfill and reset through the binary.
func TestBackfillCLI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	events, input, brokers := e.ingestCLI(t, 2000, 2, 93)
	group := e.name("hourly")
	args := []string{"backfill", brokers, "--group", group, "--input", input, "--key", "action", "--time", "time", "--window", "1h", "--log-level", "warn"}
	if out := run(t, args...); !strings.HasPrefix(out, "backfilled 2000 records into "+group) {
		t.Errorf("backfill printed %q", out)
	}
	if got, want := run(t, "query", brokers, "--group", group, "--format", "csv"), expectedCSV(events); got != want {
		t.Errorf("backfilled table:\n%s\nwant\n%s", got, want)
	}
	// A second backfill into the group is refused with one line.
	out, err := exec.Command(binary(t), args...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "group is not new") || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Errorf("second backfill: %v: %s", err, out)
	}
	// reset without --yes only plans, and succeeds (a dry run).
	out, err = exec.Command(binary(t), "reset", brokers, "--group", group, "--to", "earliest", "--drop-state").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "would delete topic "+group+"-table") || !strings.Contains(string(out), "add --yes") {
		t.Errorf("reset without --yes: %v: %s", err, out)
	}
	if out := run(t, "reset", brokers, "--group", group, "--to", "earliest", "--drop-state", "--yes"); !strings.Contains(out, "done: delete topic "+group+"-table") {
		t.Errorf("reset --yes printed %q", out)
	}
	if out := run(t, args...); !strings.HasPrefix(out, "backfilled 2000 records") {
		t.Errorf("backfill after reset printed %q", out)
	}
	if got, want := run(t, "query", brokers, "--group", group, "--format", "csv"), expectedCSV(events); got != want {
		t.Errorf("rebuilt table:\n%s\nwant\n%s", got, want)
	}
}

// TestBackfillUntilThenLive: a backfill --until T leaves the records past T
// uncommitted, and a live run of the same group afterwards counts exactly
// them, none of them late although the backfill closed its windows
// (--watermark). Before the fix the backfill committed the records past T
// without counting them (beyond_until=…), so the live run read nothing,
// and its ended marks would have made every new event late.
func TestBackfillUntilThenLive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	input, group := e.name("events"), e.name("hourly")
	e.createTopic(input, 2)
	day := func(d, n int) []demo.Event {
		var out []demo.Event
		base := time.Date(2016, 7, 26+d, 0, 0, 0, 0, time.UTC).Unix()
		for i := range n {
			out = append(out, demo.Event{Time: base + int64(i)*97, Action: []string{"Open", "Close"}[i%2]})
		}
		return out
	}
	first, second := day(0, 600), day(2, 400)
	t1 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	produceAt(t, e, input, first, t1.Add(-time.Hour))
	produceAt(t, e, input, second, t1)

	cfg := e.aggregateConfig(group, input, "")
	cfg.Watermark = &windows.Closer{Lateness: 10 * time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := backfill.Run(ctx, backfill.Config{Aggregate: cfg, From: backfill.Point{Earliest: true}, Until: backfill.Point{Time: t1}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Stats.Applied != int64(len(first)) {
		t.Fatalf("backfill counted %d, want %d (%+v)", sum.Stats.Applied, len(first), sum.Stats)
	}
	if msg := diff(viewTable(t, e, group), expected(first)); msg != "" {
		t.Fatalf("after the backfill:\n%s", msg)
	}

	r := e.startAggregator(cfg)
	eventually(t, time.Minute, viewMatches(e.openView(group), expected(append(first, second...))))
	if st := r.agg.Stats(); st.Late != 0 || st.Read != int64(len(second)) {
		t.Fatalf("the live run read %d records and called %d late; want %d read, none late (%+v)", st.Read, st.Late, len(second), st)
	}
}

// TestBackfillNightsCLI: `backfill` with --where (a cone search and a
// signal-to-noise cut), --time-format mjd and --window-offset 12h counts
// alerts per band and observing night (noon to noon UTC); a number that
// is no MJD is dead-lettered, the alerts outside the cone are rejected.
func TestBackfillNightsCLI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	input, group := e.name("alerts"), e.name("nights")
	brokers := "--brokers=" + strings.Join(cluster, ",")
	dir := t.TempDir()
	// MJD 60000 is 2023-02-25T00:00Z. The cone: 2.5" around (351.57, 0.126).
	lines := []string{
		`{"mjd": 60000.40, "band": "r", "ra": 351.570546978, "decl": 0.126243049656, "snr": 40}`, // night of the 24th
		`{"mjd": 60000.60, "band": "r", "ra": 351.5705, "decl": 0.1262, "snr": 40}`,              // night of the 25th
		`{"mjd": 60000.61, "band": "g", "ra": 351.5700, "decl": 0.1260, "snr": 9}`,               // the centre
		`{"mjd": 60000.62, "band": "g", "ra": 351.5700, "decl": 0.1260, "snr": 3}`,               // too faint
		`{"mjd": 60000.63, "band": "g", "ra": 351.5710, "decl": 0.1260, "snr": 50}`,              // 3.6" away
		`{"mjd": 60000.64, "band": "g", "ra": 0.0001, "decl": 0.1260, "snr": 50}`,                // the other side of 0h
		`{"mjd": "tonight", "band": "g", "ra": 351.5700, "decl": 0.1260, "snr": 50}`,             // no MJD
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts.json"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "ingest", brokers, "--topic", input, dir)
	out := run(t, "backfill", brokers, "--group", group, "--input", input, "--key", "band", "--time", "mjd", "--time-format", "mjd",
		"--window", "24h", "--window-offset", "12h", "--where", "snr > 5 && angsep(ra, decl, 351.57, 0.126) < 2.5/3600", "--log-level", "error")
	if !strings.HasPrefix(out, "backfilled 7 records into "+group) || !strings.HasSuffix(out, "(3 counted, 1 dead-lettered, 3 rejected by --where)\n") {
		t.Errorf("backfill printed %q", out)
	}
	got := run(t, "query", brokers, "--group", group, "--format", "csv")
	want := "key,window_start,window_end,count\n" +
		"r,2023-02-24T12:00:00Z,2023-02-25T12:00:00Z,1\n" +
		"g,2023-02-25T12:00:00Z,2023-02-26T12:00:00Z,1\n" +
		"r,2023-02-25T12:00:00Z,2023-02-26T12:00:00Z,1\n"
	if got != want {
		t.Errorf("nights:\n%s\nwant\n%s", got, want)
	}
	if n := len(e.readTopic(processor.DeadLetterTopic(group))); n != 1 {
		t.Errorf("%d dead letters, want 1 (the record without an MJD)", n)
	}
}

// TestTopicSettingsCLI: --topic-config reaches the topics a group creates
// (over hourglass's own retention of the repartition topic), -X settings
// are taken, and a cleanup.policy or an unknown -X setting is refused at
// start-up.
func TestTopicSettingsCLI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, input, brokers := e.ingestCLI(t, 200, 1, 79)
	group := e.name("hourly")
	args := []string{"backfill", brokers, "--group", group, "--input", input, "--key", "action", "--time", "time", "--window", "1h", "--log-level", "warn"}
	for bad, says := range map[string]string{
		"--topic-config=cleanup.policy=delete": "cleanup.policy",
		"-Xacks=all":                           "unknown Kafka client setting",
		"-Xsession.timeout.ms=soon":            "milliseconds",
	} {
		out, err := exec.Command(binary(t), append(args, bad)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), says) {
			t.Errorf("%s: %v: %s", bad, err, out)
		}
	}
	run(t, append(args, "--topic-config", "retention.ms=3600000", "--topic-config", "max.message.bytes=2000000",
		"-X", "session.timeout.ms=30000", "-X", "client.rack=r1")...)
	described, err := e.admin(t).DescribeTopicConfigs(context.Background(), processor.RepartitionTopic(group), processor.DeadLetterTopic(group), processor.TableTopic(group))
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range described {
		got := map[string]string{}
		for _, c := range rc.Configs {
			got[c.Key] = c.MaybeValue()
		}
		if got["retention.ms"] != "3600000" || got["max.message.bytes"] != "2000000" {
			t.Errorf("%s: retention.ms %s, max.message.bytes %s; want 3600000 and 2000000", rc.Name, got["retention.ms"], got["max.message.bytes"])
		}
		if want := map[bool]string{true: "compact", false: "delete"}[rc.Name == processor.TableTopic(group)]; got["cleanup.policy"] != want {
			t.Errorf("%s: cleanup.policy %s, want %s", rc.Name, got["cleanup.policy"], want)
		}
	}
}
