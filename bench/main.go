// Command bench runs hourglass's benchmark suite (`make bench`) and writes
// its results as a Markdown table and as JSON, with a description of the
// machine:
//
//   - W1 hourly counts: JSON events, 1,000 keys, 8 partitions, 1-hour
//     windows; sustained events/s from the first input record to the last
//     count visible in the table's changelog (what every view reads), and
//     the aggregate process's peak RSS.
//   - W1a: W1 with a float field v and --agg sum(v),avg(v),max(v), and as
//     a ratio to the same events counted without --agg.
//   - W1b: W1's events already in the topic, counted by `backfill`, as a
//     multiple of a bare franz-go read of the same records (the ceiling).
//   - W5 sink: result rows of an output topic upserted into PostgreSQL
//     (started here with initdb and pg_ctl) by one `hourglass sink`: rows/s
//     from the sink's start until the database holds every record's
//     offset.
//   - W2 latency: events at a fixed rate; p50/p99 from produce to the count
//     being visible in the changelog.
//   - W3 alert filter: Python-literal alerts through `diaSource.ra > 350`:
//     alerts/s and MB/s, from the filter's start to its last commit; W3a
//     the same alerts as schemaless Avro.
//   - W4 recovery: how long a new aggregate process takes to restore a
//     table of a million rows and count one more event, and how long a new
//     view takes to read it.
//
// hourglass runs as separate processes (the binary given by -bin): the
// embedded broker (`hourglass broker`) unless -brokers names a cluster,
// `aggregate` and `filter`. The figures are single runs on a shared machine:
// compare them as ratios, and run again before believing a small change.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hourglass-stream/hourglass/alerts"
	"github.com/hourglass-stream/hourglass/internal/diskuse"
	"github.com/hourglass-stream/hourglass/internal/pgtest"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/processor"
	"github.com/hourglass-stream/hourglass/table"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type config struct {
	bin, brokers, out, only string
	profile                 string
	aggFlags                []string
	w1Events, w3Alerts      int
	w4Rows                  int
	w5Rows                  int
	warmup                  int
	w2Rate                  int
	w2For                   time.Duration
	keys                    int
	partitions              int32
}

// Result is one workload's figures.
type Result struct {
	Workload string             `json:"workload"`
	Summary  string             `json:"summary"`
	Figures  map[string]float64 `json:"figures"`
	Notes    string             `json:"notes,omitempty"`
}

// Report is what results.json holds.
type Report struct {
	When    time.Time         `json:"when"`
	Machine map[string]string `json:"machine"`
	Results []Result          `json:"results"`
}

func main() {
	var c config
	flag.StringVar(&c.bin, "bin", "bin/hourglass", "the hourglass binary")
	flag.StringVar(&c.brokers, "brokers", "", "a Kafka cluster to use (default: start the embedded broker)")
	flag.StringVar(&c.out, "out", ".cache/bench", "directory for results.md and results.json")
	flag.StringVar(&c.only, "only", "W1,W1a,W1b,W2,W3,W3a,W4,W4b,W5", "workloads to run")
	flag.IntVar(&c.w1Events, "w1-events", 10_000_000, "W1: events")
	flag.IntVar(&c.w2Rate, "w2-rate", 20_000, "W2: events per second")
	flag.DurationVar(&c.w2For, "w2-for", 60*time.Second, "W2: how long")
	flag.IntVar(&c.w3Alerts, "w3-alerts", 1_000_000, "W3: alerts")
	flag.IntVar(&c.w4Rows, "w4-rows", 1_000_000, "W4: table rows")
	flag.IntVar(&c.w5Rows, "w5-rows", 200_000, "W5: result rows into PostgreSQL")
	flag.IntVar(&c.keys, "keys", 1000, "distinct group keys")
	flag.StringVar(&c.profile, "profile", "", "write CPU profiles of the processes under test to PREFIX.<workload> (e.g. PREFIX.w1 for W1's aggregate, PREFIX.w4b for W4b's fill)")
	flag.IntVar(&c.warmup, "warmup", 2_000_000, "with -brokers: records written and read back before the workloads, so that a JVM broker's first workload is not also its warm-up (0: none)")
	aggFlags := flag.String("aggregate-flags", "", "extra flags for every aggregate process, space-separated (e.g. \"--batch-linger 100ms\")")
	flag.Parse()
	c.aggFlags = strings.Fields(*aggFlags)
	c.partitions = 8
	log.SetFlags(log.Ltime)
	if err := run(c); err != nil {
		log.Fatal(err)
	}
}

func run(c config) error {
	broker := "Apache Kafka at " + c.brokers
	external := c.brokers != ""
	if !external {
		addr, stop, err := startBroker(c)
		if err != nil {
			return err
		}
		defer stop()
		c.brokers, broker = addr, "embedded (hourglass broker, kfake, in memory)"
	}
	kc := kafka.Config{Brokers: kafka.ParseBrokers(c.brokers), ClientID: "hourglass-bench"}
	rep := Report{When: time.Now().UTC(), Machine: machine()}
	rep.Machine["broker"] = broker
	if external && c.warmup > 0 {
		// The first workload on a fresh JVM broker measured 25% to 40%
		// below the next ones (W1 688k against 930k - 1,049k events/s):
		// the broker's JIT at work, not hourglass.
		if err := warmUp(c, kc); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	for _, w := range []struct {
		name string
		fn   func(config, kafka.Config) (Result, error)
	}{{"W1", w1}, {"W1a", w1a}, {"W1b", w1b}, {"W2", w2}, {"W3", w3}, {"W3a", w3a}, {"W4", w4}, {"W4b", w4b}, {"W5", w5}} {
		if !strings.Contains(","+c.only+",", ","+w.name+",") {
			continue
		}
		log.Printf("%s: running", w.name)
		r, err := w.fn(c, kc)
		if err != nil {
			return fmt.Errorf("%s: %w", w.name, err)
		}
		log.Printf("%s: %s", w.name, r.Summary)
		rep.Results = append(rep.Results, r)
	}
	return write(c.out, rep)
}

// startBroker runs `hourglass broker` on a free port until stop.
func startBroker(c config) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := l.Addr().String()
	l.Close()
	p, err := start(c.bin, "broker", "--listen", addr, "--partitions", "8", "--log-level", "warn")
	if err != nil {
		return "", nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
			return addr, func() { p.stop() }, nil
		}
		if time.Now().After(deadline) {
			p.stop()
			return "", nil, fmt.Errorf("broker did not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// proc is a process the bench started; stop ends it by its PID.
type proc struct {
	cmd  *exec.Cmd
	done chan error
}

func start(bin string, args ...string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

// peakRSS is the process's peak resident set (VmHWM) in MiB.
func (p *proc) peakRSS() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(90 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func name(prefix string) string { return fmt.Sprintf("bench-%s-%06d", prefix, rand.IntN(1e6)) }

func createTopic(kc kafka.Config, topic string, partitions int32) error {
	cl, err := client(kc)
	if err != nil {
		return err
	}
	defer cl.Close()
	_, err = kadm.NewClient(cl).CreateTopic(context.Background(), partitions, 1, nil, topic)
	return err
}

func client(kc kafka.Config, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := kc.Kgo()
	if err != nil {
		return nil, err
	}
	return kgo.NewClient(append(opts, extra...)...)
}

// event is the JSON of one W1/W2/W4 event.
func event(key int, at int64) []byte {
	return fmt.Appendf(nil, `{"time": %d, "action": "k%04d"}`, at, key)
}

// produce sends n records made by gen as fast as the producer takes them.
func produce(kc kafka.Config, topic string, n int, gen func(i int) []byte) (time.Time, error) {
	return produceKeyed(kc, topic, n, func(i int) ([]byte, []byte) { return nil, gen(i) })
}

// produceKeyed is produce of records with keys: gen gives key and value.
func produceKeyed(kc kafka.Config, topic string, n int, gen func(i int) (key, value []byte)) (time.Time, error) {
	p, err := kc.Producer(fnv.New32a)
	if err != nil {
		return time.Time{}, err
	}
	defer p.Close()
	var first time.Time
	var mu sync.Mutex
	var perr error
	for i := 0; i < n; i++ {
		if i == 0 {
			first = time.Now()
		}
		key, value := gen(i)
		p.Produce(context.Background(), &kgo.Record{Topic: topic, Key: key, Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				perr = err
				mu.Unlock()
			}
		})
	}
	if err := p.Flush(context.Background()); err != nil {
		return first, err
	}
	return first, perr
}

// changelog follows a group table's changelog like a view does and calls
// fn with each row's key and count, until fn returns true or the timeout.
func changelog(kc kafka.Config, group string, timeout time.Duration, fn func(key string, count int64, at time.Time) bool) error {
	cl, err := client(kc, kgo.ConsumeTopics(processor.TableTopic(group)), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("changelog of %s: %w", group, ctx.Err())
		}
		now := time.Now()
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			var row windows.Row
			if done || r.Value == nil || row.UnmarshalBinary(r.Value) != nil {
				return
			}
			done = fn(string(r.Key), row.Count, now)
		})
		if done {
			return nil
		}
	}
}

// aggregateArgs are the arguments of the hourly-counts job on input.
func aggregateArgs(c config, group, input string) []string {
	return append([]string{"aggregate", "--brokers", c.brokers, "--group", group, "--input", input,
		"--key", "action", "--time", "time", "--window", "1h", "--log-level", "warn", "--progress-interval", "0"}, c.aggFlags...)
}

// aggregate starts `hourglass aggregate` for group on input and waits
// until its table exists.
func aggregate(c config, kc kafka.Config, group, input string, extra ...string) (*proc, error) {
	p, err := start(c.bin, append(aggregateArgs(c, group, input), extra...)...)
	if err != nil {
		return nil, err
	}
	cl, err := client(kc)
	if err != nil {
		p.stop()
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		// Both steps have joined their groups once both are stable.
		gs, err := adm.DescribeGroups(context.Background(), group, processor.RekeyGroup(group))
		if err == nil {
			stable := 0
			for _, g := range gs {
				if g.State == "Stable" && len(g.Members) > 0 {
					stable++
				}
			}
			if stable == 2 {
				return p, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.stop()
	return nil, errors.New("aggregate did not join its groups within a minute")
}

// base is 2016-07-26T00:00:00Z, the classic data set's day.
const base = 1469491200

func w1(c config, kc kafka.Config) (Result, error) {
	return hourly(c, kc, "w1", "W1 hourly counts", event)
}

// w1a is W1's shape with a float field v, counted with --agg
// sum(v),avg(v),max(v) and, as its control, without (issue 16's target:
// at least 70% of the control's rate). Both produce their own input of
// the same events: the larger events alone cost W1's end-to-end figure
// about a third here, since the bench's producer shares the machine.
func w1a(c config, kc kafka.Config) (Result, error) {
	gen := func(key int, at int64) []byte {
		return fmt.Appendf(nil, `{"time": %d, "action": "k%04d", "v": %d.%03d}`, at, key, at%1000, key%1000)
	}
	control, err := hourly(c, kc, "w1ac", "W1a control", gen)
	if err != nil {
		return Result{}, err
	}
	r, err := hourly(c, kc, "w1a", "W1a hourly counts with --agg sum(v),avg(v),max(v)", gen, "--agg", "sum(v),avg(v),max(v)")
	if err != nil {
		return Result{}, err
	}
	ratio := r.Figures["events_per_s"] / control.Figures["events_per_s"]
	r.Summary += fmt.Sprintf("; %.0f%% of the same events counted without --agg (%.0f events/s)", 100*ratio, control.Figures["events_per_s"])
	r.Figures["control_events_per_s"], r.Figures["x_control"] = control.Figures["events_per_s"], ratio
	return r, nil
}

// hourly runs W1's shape: n events of gen over 100 hours, counted per key
// per hour by aggregate with extra flags.
func hourly(c config, kc kafka.Config, label, workload string, gen func(key int, at int64) []byte, extra ...string) (Result, error) {
	input, group := name(label), name(label+"g")
	if err := createTopic(kc, input, c.partitions); err != nil {
		return Result{}, err
	}
	if c.profile != "" {
		extra = append(extra, "--cpu-profile", c.profile+"."+label, "--mem-profile", c.profile+"."+label+".heap")
	}
	agg, err := aggregate(c, kc, group, input, extra...)
	if err != nil {
		return Result{}, err
	}
	defer agg.stop()
	n := c.w1Events
	// 100 hours of events: 100 windows per key.
	step := float64(100*3600) / float64(n)
	var first time.Time
	prodErr := make(chan error, 1)
	var produced time.Duration
	go func() {
		var err error
		first, err = produce(kc, input, n, func(i int) []byte { return gen(i%c.keys, base+int64(float64(i)*step)) })
		produced = time.Since(first)
		prodErr <- err
	}()
	rows := map[string]int64{}
	var total int64
	var last time.Time
	err = changelog(kc, group, 30*time.Minute, func(key string, count int64, at time.Time) bool {
		total += count - rows[key]
		rows[key] = count
		last = at
		return total >= int64(n)
	})
	if err != nil {
		return Result{}, err
	}
	if err := <-prodErr; err != nil {
		return Result{}, err
	}
	took := last.Sub(first)
	rate := float64(n) / took.Seconds()
	rss := agg.peakRSS()
	return Result{
		Workload: workload,
		Summary: fmt.Sprintf("%.0f events/s end to end (%d events, %d keys, %d rows, 8 partitions, 1h windows, in %.1f s; input produced in %.1f s); aggregate peak RSS %.0f MiB",
			rate, n, c.keys, len(rows), took.Seconds(), produced.Seconds(), rss),
		Figures: map[string]float64{"events_per_s": rate, "seconds": took.Seconds(), "peak_rss_mib": rss, "rows": float64(len(rows))},
	}, nil
}

func w2(c config, kc kafka.Config) (Result, error) {
	input, group := name("w2"), name("w2g")
	if err := createTopic(kc, input, c.partitions); err != nil {
		return Result{}, err
	}
	agg, err := aggregate(c, kc, group, input)
	if err != nil {
		return Result{}, err
	}
	defer agg.stop()
	p, err := kc.Producer(fnv.New32a)
	if err != nil {
		return Result{}, err
	}
	defer p.Close()
	// sent[row] holds the produce times of the row's events in order; the
	// changelog's count c for the row makes its c-th event visible.
	var mu sync.Mutex
	sent := map[string][]time.Time{}
	n := int(float64(c.w2Rate) * c.w2For.Seconds())
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		perTick := c.w2Rate / 100
		began := time.Now()
		for i := 0; i < n; {
			<-tick.C
			for j := 0; j < perTick && i < n; j, i = j+1, i+1 {
				now := time.Now()
				at := base + int64(now.Sub(began)/time.Second)
				key := i % c.keys
				row := windows.RowKey(fmt.Sprintf("k%04d", key), windows.Tumbling(time.Hour).Assign(nil, time.Unix(at, 0))[0])
				mu.Lock()
				sent[row] = append(sent[row], now)
				mu.Unlock()
				p.Produce(context.Background(), &kgo.Record{Topic: input, Value: event(key, at)}, nil)
			}
		}
	}()
	var lat []time.Duration
	seen := map[string]int64{}
	err = changelog(kc, group, c.w2For+5*time.Minute, func(key string, count int64, at time.Time) bool {
		mu.Lock()
		times := sent[key]
		mu.Unlock()
		for i := seen[key]; i < count && int(i) < len(times); i++ {
			lat = append(lat, at.Sub(times[i]))
		}
		if count > seen[key] {
			seen[key] = count
		}
		return len(lat) >= n
	})
	if err != nil {
		return Result{}, err
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond) }
	return Result{
		Workload: "W2 latency",
		Summary: fmt.Sprintf("p50 %.0f ms, p99 %.0f ms, max %.0f ms from produce to count visible (%d events/s for %s, %d events)",
			pct(0.5), pct(0.99), pct(1), c.w2Rate, c.w2For, n),
		Figures: map[string]float64{"p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": pct(1), "rate": float64(c.w2Rate)},
	}, nil
}

func w3(c config, kc kafka.Config) (Result, error) {
	return filterAlerts(c, kc, "W3", "pyliteral", "Python-literal", "--codec", "pyliteral")
}

// w3a is W3 with the alerts as schemaless Avro.
func w3a(c config, kc kafka.Config) (Result, error) {
	dir, err := os.MkdirTemp("", "hourglass-bench-schema")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	if err := alerts.WriteSchema(dir); err != nil {
		return Result{}, err
	}
	return filterAlerts(c, kc, "W3a", "avro", "schemaless Avro", "--codec", "avro", "--schema", filepath.Join(dir, alerts.SchemaTop))
}

// filterAlerts runs one filter over c.w3Alerts generated alerts encoded
// as format, read with codecFlags.
func filterAlerts(c config, kc kafka.Config, workload, format, formatName string, codecFlags ...string) (Result, error) {
	tag := strings.ToLower(workload)
	input, output, group := name(tag), name(tag+"out"), name(tag+"g")
	if err := createTopic(kc, input, c.partitions); err != nil {
		return Result{}, err
	}
	gen := alerts.NewGenerator(alerts.Spec{Seed: 3})
	enc, err := alerts.NewEncoder(format, 0)
	if err != nil {
		return Result{}, err
	}
	var bytes int64
	var genErr error
	if _, err := produce(kc, input, c.w3Alerts, func(int) []byte {
		b, err := enc.Encode(gen.Next(), gen.Rng())
		if err != nil {
			genErr = err
		}
		bytes += int64(len(b))
		return b
	}); err != nil || genErr != nil {
		return Result{}, errors.Join(err, genErr)
	}
	cl, err := client(kc)
	if err != nil {
		return Result{}, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(context.Background(), input)
	if err != nil {
		return Result{}, err
	}
	began := time.Now()
	args := append([]string{"filter", "--brokers", c.brokers, "--group", group, "--input", input, "--output", output,
		"--where", "diaSource.ra > 350", "--log-level", "warn", "--progress-interval", "0"}, codecFlags...)
	if c.profile != "" {
		args = append(args, "--cpu-profile", c.profile+"."+tag)
	}
	f, err := start(c.bin, args...)
	if err != nil {
		return Result{}, err
	}
	defer f.stop()
	var took time.Duration
	for {
		offs, err := adm.FetchOffsets(context.Background(), group)
		if err == nil {
			done := true
			ends.Each(func(o kadm.ListedOffset) {
				if c, ok := offs.Lookup(input, o.Partition); !ok || c.At < o.Offset {
					done = false
				}
			})
			if done {
				took = time.Since(began)
				break
			}
		}
		if time.Since(began) > 30*time.Minute {
			return Result{}, errors.New("the filter did not finish within 30 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	rate := float64(c.w3Alerts) / took.Seconds()
	mbs := float64(bytes) / 1e6 / took.Seconds()
	rss := f.peakRSS()
	bare, err := bareRead(kc, input, c.w3Alerts)
	if err != nil {
		return Result{}, err
	}
	return Result{
		Workload: workload + " alert filter",
		Summary: fmt.Sprintf("%.0f alerts/s, %.1f MB/s (%d %s alerts of %.1f KB on average through diaSource.ra > 350, in %.1f s from process start: %.1f× a bare read of them, %.2f s; filter peak RSS %.0f MiB)",
			rate, mbs, c.w3Alerts, formatName, float64(bytes)/float64(c.w3Alerts)/1e3, took.Seconds(), took.Seconds()/bare.Seconds(), bare.Seconds(), rss),
		Figures: map[string]float64{"alerts_per_s": rate, "mb_per_s": mbs, "seconds": took.Seconds(), "peak_rss_mib": rss,
			"bare_read_s": bare.Seconds(), "x_bare_read": took.Seconds() / bare.Seconds()},
	}, nil
}

// warmUp writes c.warmup of W1's events to a topic of its own and reads
// them back.
func warmUp(c config, kc kafka.Config) error {
	topic := name("warmup")
	if err := createTopic(kc, topic, c.partitions); err != nil {
		return err
	}
	began := time.Now()
	if _, err := produce(kc, topic, c.warmup, func(i int) []byte { return event(i%c.keys, base+int64(i)) }); err != nil {
		return err
	}
	if _, err := bareRead(kc, topic, c.warmup); err != nil {
		return err
	}
	log.Printf("warm-up: %d records written and read in %.1f s", c.warmup, time.Since(began).Seconds())
	return nil
}

// bareRead is the ceiling (issue 19): how long a plain franz-go consumer
// takes to read the n records of topic from the start, doing nothing else.
func bareRead(kc kafka.Config, topic string, n int) (time.Duration, error) {
	began := time.Now()
	cl, err := client(kc, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	read := 0
	for read < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("bare read of %s: %d of %d records: %w", topic, read, n, err)
		}
		read += fs.NumRecords()
	}
	return time.Since(began), nil
}

// w1b counts W1's events already in the topic, as backfill does (issue
// 19's first target: within 3× of a bare read of the same records).
func w1b(c config, kc kafka.Config) (Result, error) {
	input, group := name("w1b"), name("w1bg")
	if err := createTopic(kc, input, c.partitions); err != nil {
		return Result{}, err
	}
	n := c.w1Events
	step := float64(100*3600) / float64(n)
	if _, err := produce(kc, input, n, func(i int) []byte { return event(i%c.keys, base+int64(float64(i)*step)) }); err != nil {
		return Result{}, err
	}
	bare, err := bareRead(kc, input, n)
	if err != nil {
		return Result{}, err
	}
	args := []string{"backfill", "--brokers", c.brokers, "--group", group, "--input", input,
		"--key", "action", "--time", "time", "--window", "1h", "--log-level", "warn", "--progress-interval", "0"}
	if c.profile != "" {
		args = append(args, "--cpu-profile", c.profile+".w1b")
	}
	began := time.Now()
	p, err := start(c.bin, append(args, c.aggFlags...)...)
	if err != nil {
		return Result{}, err
	}
	var rss float64
	for done := false; !done; {
		select {
		case err := <-p.done:
			if err != nil {
				return Result{}, fmt.Errorf("backfill: %w", err)
			}
			done = true
		case <-time.After(50 * time.Millisecond):
			rss = max(rss, p.peakRSS())
		}
	}
	took := time.Since(began)
	rate := float64(n) / took.Seconds()
	return Result{
		Workload: "W1b backfill of pre-loaded events",
		Summary: fmt.Sprintf("%.0f events/s (%d events already in the topic, %d keys, 1h windows, in %.1f s from process start to exit: %.1f× a bare read of them, %.2f s); backfill peak RSS %.0f MiB",
			rate, n, c.keys, took.Seconds(), took.Seconds()/bare.Seconds(), bare.Seconds(), rss),
		Figures: map[string]float64{"events_per_s": rate, "seconds": took.Seconds(), "bare_read_s": bare.Seconds(), "x_bare_read": took.Seconds() / bare.Seconds(), "peak_rss_mib": rss},
	}, nil
}

// loadTable fills a table of c.w4Rows rows (every event its own row:
// keys × hourly windows) with an aggregate run with extra flags, stopped
// once all are in the changelog, and returns the rows/s of that fill (from
// the aggregate's start: issue 20 asks how a big table keeps up).
func loadTable(c config, kc kafka.Config, label string, extra ...string) (input, group string, rate float64, err error) {
	input, group = name(label), name(label+"g")
	if err := createTopic(kc, input, c.partitions); err != nil {
		return "", "", 0, err
	}
	n := c.w4Rows
	gen := func(i int) []byte { return event(i%c.keys, base+int64(i/c.keys)*3600) }
	if _, err := produce(kc, input, n, gen); err != nil {
		return "", "", 0, err
	}
	if c.profile != "" {
		extra = append(extra, "--cpu-profile", c.profile+"."+label)
	}
	began := time.Now()
	agg, err := aggregate(c, kc, group, input, extra...)
	if err != nil {
		return "", "", 0, err
	}
	rows := 0
	err = changelog(kc, group, 30*time.Minute, func(string, int64, time.Time) bool { rows++; return rows >= n })
	rate = float64(n) / time.Since(began).Seconds()
	agg.stop()
	return input, group, rate, err
}

func w4(c config, kc kafka.Config) (Result, error) {
	n := c.w4Rows
	input, group, fill, err := loadTable(c, kc, "w4")
	if err != nil {
		return Result{}, err
	}
	// A new instance: fresh state, the table recovered from its changelog;
	// one more event is counted once it runs.
	agg2, proc, err := restoreAndCount(c, kc, group, input, 1)
	if err != nil {
		return Result{}, err
	}
	defer agg2.stop()
	// A new view of the same table.
	sc, err := kc.Sarama()
	if err != nil {
		return Result{}, err
	}
	vBegan := time.Now()
	v, err := table.OpenView(context.Background(), table.ViewConfig{Kafka: kc, Sarama: sc, Group: group})
	if err != nil {
		return Result{}, err
	}
	defer v.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := v.WaitRecovered(ctx); err != nil {
		return Result{}, err
	}
	view := time.Since(vBegan)
	return Result{
		Workload: "W4 recovery",
		Summary: fmt.Sprintf("a new aggregate process restored a %d-row table and counted one more event in %.1f s; a new view read the table in %.1f s; restoring process peak RSS %.0f MiB (the table was filled at %.0f rows/s)",
			n+1, proc.Seconds(), view.Seconds(), agg2.peakRSS(), fill),
		Figures: map[string]float64{"process_restore_s": proc.Seconds(), "view_restore_s": view.Seconds(), "rows": float64(n + 1), "peak_rss_mib": agg2.peakRSS(), "fill_rows_per_s": fill},
	}, nil
}

// restoreAndCount starts an aggregate on group's table with extra flags,
// counts one more event (key 0, hours before base) and returns how long it
// took from the process's start until that count was in the changelog.
func restoreAndCount(c config, kc kafka.Config, group, input string, hours int64, extra ...string) (*proc, time.Duration, error) {
	began := time.Now()
	p, err := start(c.bin, append(aggregateArgs(c, group, input), extra...)...)
	if err != nil {
		return nil, 0, err
	}
	at := base - hours*3600
	if _, err := produce(kc, input, 1, func(int) []byte { return event(0, at) }); err != nil {
		p.stop()
		return nil, 0, err
	}
	probe := windows.RowKey("k0000", windows.Tumbling(time.Hour).Assign(nil, time.Unix(at, 0))[0])
	var restored time.Time
	err = changelog(kc, group, 30*time.Minute, func(key string, _ int64, when time.Time) bool {
		restored = when
		return key == probe
	})
	if err != nil {
		p.stop()
		return nil, 0, err
	}
	return p, restored.Sub(began), nil
}

// w4b is W4 with --state-dir (issue 20): a restart after a clean stop,
// which uses the directory as it is, and after SIGKILL, which puts the
// table back to its last checkpoint and reads the changelog after it; and
// the directory's size per row.
func w4b(c config, kc kafka.Config) (Result, error) {
	dir, err := os.MkdirTemp("", "hourglass-bench-state")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	// Static membership, as the README recommends with a state
	// directory: a restart after SIGKILL takes the dead process's place at
	// once instead of waiting out its session (10 s).
	state := []string{"--state-dir", dir, "--instance-id", "w4b"}
	n := c.w4Rows
	input, group, fill, err := loadTable(c, kc, "w4b", state...)
	if err != nil {
		return Result{}, err
	}
	size, err := diskuse.Size(dir)
	if err != nil {
		return Result{}, err
	}
	clean, cleanTook, err := restoreAndCount(c, kc, group, input, 1, state...)
	if err != nil {
		return Result{}, err
	}
	rss := clean.peakRSS()
	_ = clean.cmd.Process.Kill() // a crash: the directory is not marked clean
	<-clean.done
	crashed, crashTook, err := restoreAndCount(c, kc, group, input, 2, state...)
	if err != nil {
		return Result{}, err
	}
	crashed.stop()
	perRow := float64(size) / float64(n)
	return Result{
		Workload: "W4b recovery with --state-dir",
		Summary: fmt.Sprintf("a %d-row table in LevelDB (%.0f B a row on disk, filled at %.0f rows/s): a restart after a clean stop counted one more event in %.1f s (peak RSS %.0f MiB), after SIGKILL in %.1f s",
			n+1, perRow, fill, cleanTook.Seconds(), rss, crashTook.Seconds()),
		Figures: map[string]float64{"clean_restart_s": cleanTook.Seconds(), "crash_restart_s": crashTook.Seconds(), "disk_bytes_per_row": perRow,
			"rows": float64(n + 1), "clean_peak_rss_mib": rss, "fill_rows_per_s": fill},
	}, nil
}

// machine describes where the bench ran.
func machine() map[string]string {
	m := map[string]string{"go": runtime.Version(), "cores": strconv.Itoa(runtime.NumCPU()), "os": runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0]); len(f) >= 2 {
			kb, _ := strconv.ParseFloat(f[1], 64)
			m["memory"] = fmt.Sprintf("%.1f GiB", kb/1024/1024)
		}
	}
	return m
}

func write(dir string, rep Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	j, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(j, '\n'), 0o644); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# hourglass benchmarks, %s\n\n", rep.When.Format("2006-01-02 15:04 MST"))
	keys := make([]string, 0, len(rep.Machine))
	for k := range rep.Machine {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "- %s: %s\n", k, rep.Machine[k])
	}
	b.WriteString("\n| workload | result |\n|---|---|\n")
	for _, r := range rep.Results {
		fmt.Fprintf(&b, "| %s | %s |\n", r.Workload, r.Summary)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(b.String())
	return nil
}

// w5 upserts c.w5Rows distinct result rows (c.keys keys, an hour each)
// from an output topic into PostgreSQL with one `hourglass sink`.
func w5(c config, kc kafka.Config) (Result, error) {
	dsn, stopPG, err := pgtest.Run()
	if err != nil {
		return Result{}, err
	}
	defer func() { _ = stopPG() }()
	topic, group := name("w5"), name("w5g")
	if err := createTopic(kc, topic, c.partitions); err != nil {
		return Result{}, err
	}
	n := c.w5Rows
	if _, err := produceKeyed(kc, topic, n, func(i int) ([]byte, []byte) {
		key := fmt.Sprintf("k%04d", i%c.keys)
		start := time.Unix(base+int64(i/c.keys)*3600, 0).UTC()
		value := fmt.Appendf(nil, `{"key":%q,"window_start":%q,"window_end":%q,"count":%d,"final":false}`,
			key, start.Format(time.RFC3339), start.Add(time.Hour).Format(time.RFC3339), i%977+1)
		return []byte(windows.RowKey(key, windows.Window{Start: start})), value
	}); err != nil {
		return Result{}, err
	}
	db, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		return Result{}, err
	}
	defer db.Close(context.Background())
	t0 := time.Now()
	sink, err := start(c.bin, "sink", "--brokers", c.brokers, "--group", group, "--topic", topic, "--to", dsn, "--table", "w5", "--log-level", "warn")
	if err != nil {
		return Result{}, err
	}
	defer sink.stop()
	deadline := time.Now().Add(10 * time.Minute)
	for {
		var done int64
		err := db.QueryRow(context.Background(), `SELECT coalesce(sum(next_offset), 0) FROM hourglass_offsets WHERE topic = $1`, topic).Scan(&done)
		if err == nil && done >= int64(n) {
			break
		}
		if time.Now().After(deadline) {
			return Result{}, fmt.Errorf("the sink wrote %d of %d records in 10 min (%v)", done, n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(t0)
	var rows int64
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM w5`).Scan(&rows); err != nil {
		return Result{}, err
	}
	if rows != int64(n) {
		return Result{}, fmt.Errorf("%d rows in the table, want %d", rows, n)
	}
	rate := float64(n) / took.Seconds()
	return Result{
		Workload: "W5 sink into PostgreSQL",
		Summary:  fmt.Sprintf("%.0f rows/s upserted (%d rows, %d partitions, in %.1f s from the sink's start, PostgreSQL with fsync off); sink peak RSS %.0f MiB", rate, n, c.partitions, took.Seconds(), sink.peakRSS()),
		Figures:  map[string]float64{"rows_per_s": rate, "seconds": took.Seconds(), "peak_rss_mib": sink.peakRSS()},
	}, nil
}
