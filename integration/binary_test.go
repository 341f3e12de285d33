package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/demo"
	"github.com/hourglass-stream/hourglass/kafka"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/hourglass once per test run and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hourglass-bin-*")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "hourglass")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/hourglass").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// run runs the binary to completion and returns its stdout.
func run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("hourglass %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// expectedCSV is the result table of events in `query --format csv` form,
// built without the project's code: rows ordered by window start, then key.
func expectedCSV(events []demo.Event) string {
	type row struct {
		start int64
		key   string
		n     int
	}
	counts := map[[2]string]*row{}
	for _, ev := range events {
		start := ev.Time - ((ev.Time%3600)+3600)%3600
		k := [2]string{strconv.FormatInt(start, 10), ev.Action}
		if counts[k] == nil {
			counts[k] = &row{start: start, key: ev.Action}
		}
		counts[k].n++
	}
	rows := make([]*row, 0, len(counts))
	for _, r := range counts {
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].start != rows[j].start {
			return rows[i].start < rows[j].start
		}
		return rows[i].key < rows[j].key
	})
	var b strings.Builder
	b.WriteString("key,window_start,window_end,count\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%s,%s,%s,%d\n", r.key,
			time.Unix(r.start, 0).UTC().Format("2006-01-02T15:04:05Z"),
			time.Unix(r.start+3600, 0).UTC().Format("2006-01-02T15:04:05Z"), r.n)
	}
	return b.String()
}

// TestDemoBinary: `hourglass demo --format csv` prints exactly the table of
// the data it generated.
func TestDemoBinary(t *testing.T) {
	t.Parallel()
	got := run(t, "demo", "--events", "4000", "--files", "4", "--format", "csv", "--trigger-interval", "1ms")
	want := expectedCSV(demo.Generate(demo.DataSpec{Events: 4000, Files: 4}))
	if got != want {
		t.Fatalf("demo csv:\n%s\nwant:\n%s", got, want)
	}
}

// TestDemoBinaryUserData: `hourglass demo --data DIR` counts the user's
// files, the reference slice of the classic set among them, and sets the
// bad lines aside.
func TestDemoBinaryUserData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ref, err := os.ReadFile("../../shared/data/databricks_events_file-0_head60.json")
	if os.IsNotExist(err) {
		ref, err = os.ReadFile("testdata/databricks_events_file-0_head60.json")
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "file-0.json"), append(ref, "not json\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	out := run(t, "demo", "--data", dir, "--trigger-interval", "1ms")
	// The first 60 events of the classic set all fall in 02:00-03:00 UTC on
	// 2016-07-26.
	closes := strings.Count(string(ref), `"action":"Close"`)
	rows := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		rows[strings.Join(strings.Fields(line), " ")] = true
	}
	for _, want := range []string{
		fmt.Sprintf("Close 2016-07-26T02:00:00Z 2016-07-26T03:00:00Z %d", closes),
		fmt.Sprintf("Open 2016-07-26T02:00:00Z 2016-07-26T03:00:00Z %d", 60-closes),
		fmt.Sprintf("Close %d", closes),
		fmt.Sprintf("Open %d", 60-closes),
		"60 events from 1 files counted exactly; 1 bad records set aside in demo-dlq.",
	} {
		if !rows[want] {
			t.Errorf("demo output lacks the line %q:\n%s", want, out)
		}
	}
}

// TestCLIPipeline runs ingest, aggregate, query and tail as separate
// processes, the way users run them against a real cluster.
func TestCLIPipeline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	events, dir := writeData(t, 4000, 2, 5)
	brokers := "--brokers=" + strings.Join(cluster, ",")
	input, group, output := e.name("events"), e.name("hourly"), e.name("counts")

	out := run(t, "ingest", brokers, "--topic", input, "--files-per-trigger", "1", dir)
	if !strings.HasPrefix(out, "ingested 4000 records") || !strings.Contains(out, "from 2 files") || !strings.Contains(out, "0 bad lines") {
		t.Fatalf("ingest printed %q", out)
	}

	agg := startProc(t, "aggregate", brokers, "--group", group, "--input", input,
		"--key", "action", "--time", "time", "--window", "1h", "--output", output)

	want := expectedCSV(events)
	eventually(t, 60*time.Second, func() string {
		cmd := exec.Command(binary(t), "query", brokers, "--group", group, "--format", "csv")
		got, err := cmd.Output()
		if err != nil {
			return fmt.Sprintf("query: %v", err)
		}
		if string(got) != want {
			return fmt.Sprintf("query csv:\n%s", got)
		}
		return ""
	})
	if got := run(t, "query", brokers, "--group", group, "--totals", "--format", "csv"); got != "key,total\nClose,2000\nOpen,2000\n" {
		t.Errorf("totals: %q", got)
	}

	// A filtered query: Open rows of windows starting in [03:00, 05:00).
	got := run(t, "query", brokers, "--group", group, "--key", "Open",
		"--window-from", "2016-07-26T03:00:00Z", "--window-to", "2016-07-26 05:00:00", "--format", "json")
	// --from and --to, the old names, still work, with a warning.
	cmd := exec.Command(binary(t), "query", brokers, "--group", group, "--key", "Open",
		"--from", "2016-07-26T03:00:00Z", "--to", "2016-07-26 05:00:00", "--format", "json")
	var oldErr bytes.Buffer
	cmd.Stderr = &oldErr
	if old, err := cmd.Output(); err != nil || string(old) != got || !strings.Contains(oldErr.String(), "use --window-from") {
		t.Errorf("query --from/--to: %v, %q (stderr %q); want %q and a deprecation warning", err, old, oldErr.String(), got)
	}
	var starts []string
	sc := bufio.NewScanner(strings.NewReader(got))
	for sc.Scan() {
		var r struct {
			Key         string `json:"key"`
			WindowStart string `json:"window_start"`
			WindowEnd   string `json:"window_end"`
			Count       int64  `json:"count"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("query json line %q: %v", sc.Text(), err)
		}
		if r.Key != "Open" || r.Count <= 0 {
			t.Errorf("filtered row %+v", r)
		}
		starts = append(starts, r.WindowStart)
	}
	if strings.Join(starts, ",") != "2016-07-26T03:00:00Z,2016-07-26T04:00:00Z" {
		t.Errorf("filtered windows %v", starts)
	}

	// SIGTERM: a clean stop with exit status 0.
	agg.stopWithin(t, 60*time.Second)

	// tail shows the output topic's rows with the record metadata.
	lines := strings.Split(strings.TrimSpace(run(t, "tail", brokers, "--topic", output, "--max", "3", "--format", "json")), "\n")
	if len(lines) != 3 {
		t.Fatalf("tail --max 3 printed %d lines", len(lines))
	}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("tail line %q: %v", l, err)
		}
		for _, f := range []string{"key", "value", "topic", "partition", "offset", "timestamp", "timestampType"} {
			if _, ok := rec[f]; !ok {
				t.Errorf("tail record lacks %q: %s", f, l)
			}
		}
		if rec["timestampType"] != "CreateTime" || rec["topic"] != output {
			t.Errorf("tail record %s", l)
		}
	}
}

// TestBrokerCommandPersists: `hourglass broker --data-dir` keeps its topics
// across a stop and a start.
func TestBrokerCommandPersists(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	start := func() (string, *exec.Cmd) {
		cmd := exec.Command(binary(t), "broker", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "warn")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			t.Fatalf("broker printed no address: %v", err)
		}
		return "--brokers=" + strings.TrimSpace(line), cmd
	}
	stop := func(cmd *exec.Cmd) {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("broker exited with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("broker did not stop within 30s")
		}
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.json"), []byte("{\"n\":1}\n{\"n\":2}\n\xff\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	brokers, cmd := start()
	run(t, "ingest", brokers, "--topic", "kept", "--format", "lines", "--partitions", "1", dir)
	stop(cmd)

	brokers, cmd = start()
	defer stop(cmd)
	got := run(t, "tail", brokers, "--topic", "kept", "--format", "json")
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != 3 {
		t.Fatalf("after restart the topic has %d records, want 3:\n%s", len(lines), got)
	}
	var third map[string]any
	if err := json.Unmarshal([]byte(lines[2]), &third); err != nil {
		t.Fatal(err)
	}
	if third["value"] != "/w==" || third["value_encoding"] != "base64" {
		t.Errorf("a non-UTF-8 value should be shown in base64: %s", lines[2])
	}
}

// TestCLIAlertNotebook is the first notebook's job as separate processes:
// sendAlertStream.py-style Python str(dict) alerts, filtered by
// diaSource.ra > 350, read back decoded with tail --codec pyliteral.
func TestCLIAlertNotebook(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	brokers := "--brokers=" + strings.Join(cluster, ",")
	input, output, group := e.name("my-stream"), e.name("east"), e.name("filter")

	out := run(t, "produce-alerts", brokers, "--topic", input, "--count", "400", "--no-stamps", "--encode-off", "--seed", "5")
	if !strings.HasPrefix(out, "sent 400 alerts (pyliteral") {
		t.Fatalf("produce-alerts printed %q", out)
	}
	// The independent count: decode what was sent with the Go decoder and
	// compare ra directly.
	want := 0
	for _, r := range e.readTopic(input) {
		v, err := codec.DecodePyLiteral(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if v.(map[string]any)["diaSource"].(map[string]any)["ra"].(float64) > 350 {
			want++
		}
	}

	metricsAddr := freeAddr(t)
	filter := startProc(t, "filter", brokers, "--group", group, "--input", input, "--output", output,
		"--codec", "pyliteral", "--where", "diaSource.ra > 350", "--metrics-listen", metricsAddr)

	var lines []string
	eventually(t, 60*time.Second, func() string {
		cmd := exec.Command(binary(t), "tail", brokers, "--topic", output, "--codec", "pyliteral", "--format", "json")
		got, err := cmd.Output()
		if err != nil {
			return fmt.Sprintf("tail: %v", err)
		}
		lines = strings.Split(strings.TrimSpace(string(got)), "\n")
		if len(lines) != want || (want == 0 && strings.TrimSpace(string(got)) != "") {
			return fmt.Sprintf("%d alerts in the output, want %d", len(lines), want)
		}
		return ""
	})
	for _, l := range lines {
		var rec struct {
			Value         map[string]any `json:"value"`
			ValueEncoding string         `json:"value_encoding"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("tail line %q: %v", l, err)
		}
		ra := rec.Value["diaSource"].(map[string]any)["ra"].(float64)
		if rec.ValueEncoding != "decoded" || ra <= 350 {
			t.Errorf("output alert with ra %v (%s)", ra, rec.ValueEncoding)
		}
	}
	// It has joined its group: ready.
	if body, err := httpGet("http://" + metricsAddr + "/readyz"); err != nil || strings.TrimSpace(body) != `{"ready":true}` {
		t.Errorf("filter /readyz: %s %v", body, err)
	}
	labels := fmt.Sprintf(`{group=%q}`, group)
	eventually(t, 30*time.Second, func() string {
		m, err := httpGet("http://" + metricsAddr + "/metrics")
		if err != nil {
			return err.Error()
		}
		for name, n := range map[string]int{"hourglass_records_in_total": 400, "hourglass_matched_total": want,
			"hourglass_rejected_total": 400 - want, "hourglass_dead_lettered_total": 0} {
			if got, ok := metricValue(m, name, labels); !ok || got != float64(n) {
				return fmt.Sprintf("%s = %v (found %v), want %d", name, got, ok, n)
			}
		}
		return ""
	})
	filter.stopWithin(t, 60*time.Second)
	if stderr := filter.stderr; !strings.Contains(stderr.String(), fmt.Sprintf("read=400 matched=%d rejected=%d dead_lettered=0", want, 400-want)) {
		t.Errorf("filter's last words: %s", stderr.String())
	}
	// Only the predicate's field is built, and the start-up line says so.
	if stderr := filter.stderr.String(); !strings.Contains(stderr, "builds=diaSource.ra") {
		t.Errorf("filter's start-up line does not say what it builds: %s", stderr)
	}

	// A typo in --where with a known schema is one clear line at start-up.
	schemaDir := t.TempDir()
	run(t, "produce-alerts", brokers, "--topic", e.name("avro"), "--count", "1", "--write-schema", schemaDir)
	cmd := exec.Command(binary(t), "filter", brokers, "--group", e.name("typo"), "--input", e.name("avro"), "--output", e.name("x"),
		"--codec", "avro", "--schema", schemaDir, "--where", "diaSource.rra > 350")
	msg, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "unknown field diaSource.rra") || strings.Count(strings.TrimSpace(string(msg)), "\n") != 0 {
		t.Errorf("typo in --where: %v: %q", err, msg)
	}
}

// TestStartupChecks: a command pointed at Kafka with the wrong TLS setting
// ends within the start-up check's bound with one line naming the likely
// cause, and SIGINT ends it at once. Before the fix `aggregate --tls`
// against a plaintext listener hung for about 4 minutes (sarama's 45 s read
// timeout, again and again) and ignored SIGINT, and HOURGLASS_TLS=false
// turned TLS on.
func TestStartupChecks(t *testing.T) {
	e := newEnv(t)
	brokers := "--brokers=" + strings.Join(cluster, ",")
	args := []string{"aggregate", brokers, "--group", e.name("g"), "--input", e.name("in"),
		"--key", "action", "--time", "time", "--window", "1h", "--tls"}
	t.Run("TLS to a plaintext listener", func(t *testing.T) {
		p := startProc(t, args...)
		select {
		case err := <-p.exited:
			if err == nil {
				t.Fatal("exited 0")
			}
			if msg := p.stderr.String(); !strings.Contains(msg, "plaintext listener") || strings.Count(strings.TrimSpace(msg), "\n") > 0 {
				t.Fatalf("want one line naming a plaintext listener, got:\n%s", msg)
			}
		case <-time.After(kafka.CheckTimeout + 10*time.Second):
			t.Fatalf("still running %v after start:\n%s", kafka.CheckTimeout+10*time.Second, p.stderr)
		}
	})
	t.Run("SIGINT during the check", func(t *testing.T) {
		// A listener that accepts and never answers: the check waits on it
		// (Apache Kafka hangs up on a TLS handshake at once, so it cannot
		// stand in here).
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		silent := append([]string{"aggregate", "--brokers=" + l.Addr().String()}, args[2:]...)
		p := startProc(t, silent...)
		time.Sleep(time.Second) // into the check; the signal's moment needs no precision
		if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			t.Fatalf("still running 5 s after SIGINT:\n%s", p.stderr)
		}
	})
	t.Run("HOURGLASS_TLS", func(t *testing.T) {
		topic := e.name("tls-env")
		e.createTopic(topic, 1)
		for _, tc := range []struct{ value, wantErr string }{
			{"false", ""}, {"0", ""}, {"junk", `HOURGLASS_TLS="junk"`},
		} {
			cmd := exec.Command(binary(t), "tail", brokers, "--topic", topic)
			cmd.Env = append(os.Environ(), "HOURGLASS_TLS="+tc.value)
			out, err := cmd.CombinedOutput()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("HOURGLASS_TLS=%s: %v\n%s", tc.value, err, out)
			case tc.wantErr != "" && (err == nil || !strings.Contains(string(out), tc.wantErr)):
				t.Errorf("HOURGLASS_TLS=%s: %v, want an error naming %s:\n%s", tc.value, err, tc.wantErr, out)
			}
		}
	})
}

// TestMissingInputRefused: a misspelt --input ends aggregate and filter
// with one line instead of creating the topic and idling (read=0 for ever,
// as before the fix), unless --create-input; a comma in a topic name is
// refused instead of creating a topic literally named "a,b".
func TestMissingInputRefused(t *testing.T) {
	e := newEnv(t)
	brokers := "--brokers=" + strings.Join(cluster, ",")
	typo := e.name("clasic-events")
	agg := []string{"aggregate", brokers, "--log-level", "warn", "--group", e.name("g"), "--key", "action", "--time", "time", "--window", "1h"}
	filter := []string{"filter", brokers, "--log-level", "warn", "--group", e.name("f"), "--output", e.name("out"), "--where", "x > 1"}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{append(agg, "--input", typo), "input topic does not exist: " + typo},
		{append(filter, "--input", typo), "input topic does not exist: " + typo},
		{append(agg, "--input", "a,b"), "without commas"},
		{append(filter, "--input", "a,b"), "without commas"},
	} {
		out, err := exec.Command(binary(t), tc.args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.msg) || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
			t.Errorf("%v: %v, want one line containing %q, got:\n%s", tc.args[6:], err, tc.msg, out)
		}
	}
	if n, err := e.partitions(typo); err != nil || n != 0 {
		t.Errorf("the misspelt input topic exists (%d partitions, %v)", n, err)
	}
	// With --create-input it is created and the processor runs.
	p := startProc(t, append(agg, "--input", typo, "--create-input")...)
	eventually(t, 30*time.Second, func() string {
		p.mustRun(t)
		if n, err := e.partitions(typo); err != nil || n == 0 {
			return fmt.Sprintf("no input topic yet (%v)", err)
		}
		return ""
	})
	p.stop(t)
}

// TestMistakesAreLoud: a --key that fails on every record logs an ERROR
// with the reason at the first dead letter, and again once the first 100
// records all failed; a --where calling an unknown function is a start-up
// error. Before, both started normally and dead-lettered everything with
// only INFO lines.
func TestMistakesAreLoud(t *testing.T) {
	e := newEnv(t)
	brokers := "--brokers=" + strings.Join(cluster, ",")
	input := e.name("events")
	e.createTopic(input, 1)
	var values [][]byte
	for i := range 150 {
		values = append(values, fmt.Appendf(nil, `{"time": %d, "action": "Open"}`, 1469520000+i))
	}
	e.produce(input, values)
	p := startProc(t, "aggregate", brokers, "--group", e.name("g"), "--input", input, "--key", "actoin", "--time", "time", "--window", "1h")
	eventually(t, 30*time.Second, func() string {
		s := p.stderr.String()
		if !strings.Contains(s, `level=ERROR msg="dead-lettered a record"`) || !strings.Contains(s, `reason=key error="group key: missing field`) || !strings.Contains(s, `level=ERROR msg="every one of the first 100`) {
			return "no ERROR lines for the dead letters yet:\n" + s
		}
		return ""
	})
	p.stop(t)

	// A filter that starts would run for ever: a deadline makes that a failure.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary(t), "filter", brokers, "--group", e.name("f"), "--input", input, "--output", e.name("out"),
		"--where", "sinh(diaSource.ra) > 0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "unknown function sinh()") {
		t.Fatalf("--where sinh(...): %v, want a start-up error naming the function:\n%s", err, out)
	}
}
