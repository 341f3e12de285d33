package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/hourglass-stream/hourglass/broker"
	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/demo"
	"github.com/hourglass-stream/hourglass/ingest"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/processor"
	"github.com/hourglass-stream/hourglass/table"
	"github.com/hourglass-stream/hourglass/tail"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

// cluster is the broker every test of this package shares: the Kafka named
// by HOURGLASS_TEST_BROKERS, or one embedded broker started by TestMain.
var cluster []string

func TestMain(m *testing.M) {
	// The processors log topic creation at info level; keep test output to
	// what matters.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if env := os.Getenv("HOURGLASS_TEST_BROKERS"); env != "" {
		cluster = kafka.ParseBrokers(env)
		os.Exit(m.Run())
	}
	b, err := broker.Start(broker.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start embedded broker:", err)
		os.Exit(1)
	}
	cluster = []string{b.Addr()}
	code := m.Run()
	b.Close()
	if code == 0 {
		if err := goleak.Find(leakIgnores...); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines outlived the tests:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// leakIgnores are the goroutines libraries keep for the process's life.
var leakIgnores = []goleak.Option{
	// go-metrics' meter ticker, started once by sarama's first config.
	goleak.IgnoreTopFunction("github.com/rcrowley/go-metrics.(*meterArbiter).tick"),
	// goleveldb v1.0.0's closed DB (a --state-dir table) drains its memory
	// pool for up to a second after Close returns (mpoolDrain).
	goleak.IgnoreTopFunction("github.com/syndtr/goleveldb/leveldb.(*DB).mpoolDrain"),
}

type env struct {
	t      testing.TB
	kafka  kafka.Config
	sarama *sarama.Config
	prefix string
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// newEnv gives a test its Kafka config and a unique prefix for its topics
// and groups.
func newEnv(t testing.TB) *env {
	t.Helper()
	kc := kafka.Config{Brokers: cluster, ClientID: "hourglass-test"}
	sc, err := kc.Sarama()
	if err != nil {
		t.Fatal(err)
	}
	name := strings.ToLower(unsafeName.ReplaceAllString(t.Name(), "-"))
	return &env{t: t, kafka: kc, sarama: sc, prefix: fmt.Sprintf("%s-%06d", name, rand.IntN(1e6))}
}

func (e *env) name(s string) string { return e.prefix + "-" + s }

// partitions returns the partition count of topic (0 if it does not exist).
func (e *env) partitions(topic string) (int32, error) {
	adm, err := kafka.NewAdmin(e.kafka.Brokers, e.sarama)
	if err != nil {
		return 0, err
	}
	defer adm.Close()
	return adm.Partitions(topic)
}

// createTopic creates a topic with the given partitions.
func (e *env) createTopic(name string, partitions int32) {
	e.t.Helper()
	adm, err := kafka.NewAdmin(e.kafka.Brokers, e.sarama)
	if err != nil {
		e.t.Fatal(err)
	}
	defer adm.Close()
	if _, _, err := adm.Ensure(kafka.Topic{Name: name, Partitions: partitions}); err != nil {
		e.t.Fatal(err)
	}
}

func newProducer(e *env) (*kgo.Client, error) {
	return e.kafka.Producer(fnv.New32a)
}

// ingestInBackground streams the files of dir into cfg.Topic with the
// ingest package while the test goes on; the channel gets its result.
func (e *env) ingestInBackground(cfg ingest.Config, dir string) <-chan error {
	return e.produceInBackground(func(p *kgo.Client) error {
		_, err := ingest.Run(context.Background(), p, cfg, []string{dir})
		return err
	})
}

// produceInBackground runs write with a producer of its own while the
// test goes on; the channel gets its result.
func (e *env) produceInBackground(write func(*kgo.Client) error) <-chan error {
	done := make(chan error, 1)
	go func() {
		p, err := newProducer(e)
		if err != nil {
			done <- err
			return
		}
		defer p.Close()
		done <- write(p)
	}()
	return done
}

// ingestFiles sends files with the ingest package and returns its summary.
func (e *env) ingestFiles(cfg ingest.Config, paths ...string) ingest.Summary {
	e.t.Helper()
	p, err := newProducer(e)
	if err != nil {
		e.t.Fatal(err)
	}
	defer p.Close()
	sum, err := ingest.Run(context.Background(), p, cfg, paths)
	if err != nil {
		e.t.Fatal(err)
	}
	return sum
}

func mustPath(t testing.TB, s string) codec.Path {
	t.Helper()
	p, err := codec.ParsePath(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// aggregateConfig is the hourly Open/Close job on the test's topics.
func (e *env) aggregateConfig(group, input, output string) processor.AggregateConfig {
	return processor.AggregateConfig{
		Kafka: e.kafka, Sarama: e.sarama, Group: group, Input: input, Output: output,
		Key: mustPath(e.t, "action"), Time: mustPath(e.t, "time"), Windows: windows.Tumbling(time.Hour),
	}
}

// running is an aggregator running in this process.
type running struct {
	agg    *processor.Aggregator
	cancel context.CancelFunc
	done   chan error
}

func (e *env) startAggregator(cfg processor.AggregateConfig) *running {
	e.t.Helper()
	agg, err := processor.NewAggregator(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{agg: agg, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- agg.Run(ctx) }()
	e.t.Cleanup(func() { r.stop(e.t) })
	return r
}

// stop stops the aggregator gracefully and fails the test if it did not
// stop cleanly. It is safe to call twice.
func (r *running) stop(t testing.TB) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok && err != nil {
			t.Errorf("aggregator stopped with error: %v", err)
		}
		if ok {
			close(r.done)
		}
	case <-time.After(60 * time.Second):
		t.Errorf("aggregator did not stop within 60s")
	}
}

// expected counts events per action per hour, independently of the
// windows package: floor division of epoch seconds.
func expected(events []demo.Event) map[string]int64 {
	want := map[string]int64{}
	for _, ev := range events {
		start := ev.Time - ((ev.Time%3600)+3600)%3600
		want[fmt.Sprintf("%s|%d", ev.Action, start)]++
	}
	return want
}

func resultMap(rows []windows.Result) map[string]int64 {
	got := map[string]int64{}
	for _, r := range rows {
		got[fmt.Sprintf("%s|%d", r.Key, r.WindowStart.Unix())] += r.Count
	}
	return got
}

// diff describes how got differs from want, or returns "".
func diff(got, want map[string]int64) string {
	var lines []string
	for k, w := range want {
		if g := got[k]; g != w {
			lines = append(lines, fmt.Sprintf("%s: got %d, want %d", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			lines = append(lines, fmt.Sprintf("%s: got %d, want no row", k, g))
		}
	}
	sort.Strings(lines)
	if len(lines) > 10 {
		lines = append(lines[:10], fmt.Sprintf("... %d more", len(lines)-10))
	}
	return strings.Join(lines, "\n")
}

// waitFor polls cond until it returns "" or the deadline passes, and
// returns cond's last message.
func waitFor(timeout time.Duration, cond func() string) string {
	deadline := time.Now().Add(timeout)
	for {
		msg := cond()
		if msg == "" || time.Now().After(deadline) {
			return msg
		}
		time.Sleep(100 * time.Millisecond) // polling interval, not synchronisation
	}
}

// eventually polls cond until it returns "" or the deadline passes, then
// fails with cond's last message.
func eventually(t testing.TB, timeout time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v:\n%s", timeout, msg)
		}
		time.Sleep(100 * time.Millisecond) // polling interval, not synchronisation
	}
}

// openView opens a view of group and closes it at the end of the test.
func (e *env) openView(group string) *table.View {
	e.t.Helper()
	var v *table.View
	// A view opened while the processors are still creating the table can
	// stop with an error; only a view that has recovered once is returned.
	eventually(e.t, 60*time.Second, func() string {
		var err error
		v, err = table.OpenView(context.Background(), table.ViewConfig{Kafka: e.kafka, Sarama: e.sarama, Group: group})
		if err != nil {
			return err.Error()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := v.WaitRecovered(ctx); err != nil {
			_ = v.Close()
			return err.Error()
		}
		return ""
	})
	e.t.Cleanup(func() { _ = v.Close() })
	return v
}

// viewMatches is a condition: the view's rows equal want.
func viewMatches(v *table.View, want map[string]int64) func() string {
	return func() string {
		if !v.Recovered() {
			return "view not recovered"
		}
		rows, err := v.Rows(table.Filter{})
		if err != nil {
			return err.Error()
		}
		return diff(resultMap(rows), want)
	}
}

// readTopic returns all records of topic up to its current end.
func (e *env) readTopic(topic string) []tail.Record {
	e.t.Helper()
	recs, err := e.tryReadTopic(topic)
	if err != nil {
		e.t.Fatal(err)
	}
	return recs
}

// tryReadTopic is readTopic for conditions: a topic that does not exist
// yet is an error to wait out, not a failure.
func (e *env) tryReadTopic(topic string) ([]tail.Record, error) {
	var recs []tail.Record
	err := tail.Run(context.Background(), tail.Config{Kafka: e.kafka, Topic: topic}, func(r tail.Record) error {
		recs = append(recs, r)
		return nil
	})
	return recs, err
}

// outputTable reads the complete-mode output topic the way a compacting
// reader sees it: the last row per key.
func (e *env) outputTable(topic string) (map[string]int64, error) {
	last := map[string]processor.OutputRow{}
	recs, err := e.tryReadTopic(topic)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if r.Value == nil { // a tombstone: a merged session's old row
			delete(last, string(r.Key))
			continue
		}
		var row processor.OutputRow
		if err := json.Unmarshal(r.Value, &row); err != nil {
			return nil, fmt.Errorf("output record %s/%d: %w", topic, r.Offset, err)
		}
		if want := windows.RowKey(row.Key, windows.Window{Start: row.WindowStart}); string(r.Key) != want {
			return nil, fmt.Errorf("output record key %q, want %q", r.Key, want)
		}
		last[string(r.Key)] = row
	}
	rows := make([]windows.Result, 0, len(last))
	for _, r := range last {
		rows = append(rows, r.Result)
	}
	return resultMap(rows), nil
}

// outputMatches is a condition: the output topic, read as a compacting
// reader would, equals want.
func (e *env) outputMatches(topic string, want map[string]int64) func() string {
	return func() string {
		got, err := e.outputTable(topic)
		if err != nil {
			return err.Error()
		}
		return diff(got, want)
	}
}

// writeData generates a data set shaped like the classic one and writes it
// as files into a new directory.
// ingestCLI writes n events in files (writeData) and sends them with
// `hourglass ingest` into a new input topic of the test; it returns the
// events, the topic and the --brokers flag for more commands.
func (e *env) ingestCLI(t *testing.T, n, files int, seed uint64) (events []demo.Event, input, brokers string) {
	t.Helper()
	events, dir := writeData(t, n, files, seed)
	input, brokers = e.name("events"), "--brokers="+strings.Join(cluster, ",")
	run(t, "ingest", brokers, "--topic", input, dir)
	return events, input, brokers
}

func writeData(t testing.TB, events, files int, seed uint64) ([]demo.Event, string) {
	t.Helper()
	evs := demo.Generate(demo.DataSpec{Events: events, Files: files, Seed: seed})
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.WriteFiles(dir, evs, files); err != nil {
		t.Fatal(err)
	}
	return evs, dir
}

// admin returns an admin client of the test's cluster, closed with the
// test.
func (e *env) admin(t testing.TB) *kadm.Client {
	t.Helper()
	opts, err := e.kafka.Kgo()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// committedAt waits until group has committed offset at (or past) on
// topic/partition.
func (e *env) committedAt(t testing.TB, group, topic string, partition int32, at int64) {
	t.Helper()
	adm := e.admin(t)
	eventually(t, 30*time.Second, func() string {
		offs, err := adm.FetchOffsets(context.Background(), group)
		if err != nil {
			return err.Error()
		}
		o, ok := offs.Lookup(topic, partition)
		if !ok || o.At < at {
			return fmt.Sprintf("%s committed %d on %s/%d, waiting for %d", group, o.At, topic, partition, at)
		}
		return ""
	})
}
