package integration

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/ingest"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/processor"
	"github.com/hourglass-stream/hourglass/table"
	"github.com/twmb/franz-go/pkg/kgo"
)

// proc is an hourglass process started by a test.
type proc struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer // written under out's lock
	out    *lockedWriter
	exited chan error
}

func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	p := &proc{cmd: cmd, stderr: &bytes.Buffer{}, exited: make(chan error, 1)}
	p.out = &lockedWriter{w: p.stderr}
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("stderr of %v:\n%s", cmd.Args[1:4], p.stderr)
		}
	})
	return p
}

// stop sends SIGTERM and expects a clean exit within 90 s.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.stopWithin(t, 90*time.Second)
}

// stopWithin sends SIGTERM and expects a clean exit within d.
func (p *proc) stopWithin(t *testing.T, d time.Duration) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("%s exited with %v:\n%s", p.cmd.Args[1], err, p.stderr)
		}
	case <-time.After(d):
		// A goroutine dump says where it hangs.
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
		}
		t.Fatalf("%s did not stop within %v of SIGTERM:\n%s", p.cmd.Args[1], d, p.stderr)
	}
}

// mustRun fails the test at once if p has exited.
func (p *proc) mustRun(t *testing.T) {
	t.Helper()
	select {
	case err := <-p.exited:
		p.exited <- err
		t.Fatalf("%s exited: %v\n%s", p.cmd.Args[1], err, p.stderr)
	default:
	}
}

// kill sends SIGKILL: no clean-up of any kind.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.exited
}

// output is what p has written to stderr so far.
func (p *proc) output() string {
	p.out.mu.Lock()
	defer p.out.mu.Unlock()
	return p.stderr.String()
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// counted is a condition helper: the sum of all counts in the view.
func counted(v *table.View) int64 {
	rows, err := v.Rows(table.Filter{})
	if err != nil {
		return -1
	}
	var n int64
	for _, r := range rows {
		n += r.Count
	}
	return n
}

// TestKillNineExact runs three aggregate processes in one group while
// 200,000 events stream in over 8 partitions, SIGKILLs one mid-stream,
// starts another, SIGKILLs a newcomer while it recovers state, and expects
// the table to equal the independent count exactly.
func TestKillNineExact(t *testing.T) {
	if testing.Short() {
		t.Skip("long: multi-process fault test")
	}
	if os.Getenv("HOURGLASS_TEST_BROKERS") == "" && os.Getenv("HOURGLASS_KNOWN_ISSUES") == "" {
		// On kfake, after members are SIGKILLed, about one run in three
		// stalls: the survivors' rekey steps sit in PollRecords and get
		// nothing from some input partitions (goroutine dumps), and the
		// count step reports those partitions as never heard from
		// (partitions="[0 1 6]"). The cause is in kfake (v0.0.0-20260918,
		// groups.go, handleOffsetFetch): it answers a RequireStable offset
		// fetch with UNSTABLE_OFFSET_COMMIT for every partition of a group
		// while any transaction holds pending offsets for the group
		// (txns.go, hasUnstableOffsets), where Kafka checks each partition
		// (its own comment says so). The survivors commit a transaction
		// every 20-100 ms each, so some member often has offsets pending
		// when the fetch of a partition newly assigned after the kill
		// arrives; franz-go retries it every second, and in the runs that
		// stall the partition is not read before the test's deadline. (That
		// it is this, and not another kfake path, is read from the code and
		// the stalled partitions, not proven.) RequireStable itself must stay
		// (KIP-447: without it a new owner can read an offset an open
		// transaction is about to move). Against Apache Kafka the test
		// passes. Run it here with HOURGLASS_KNOWN_ISSUES=1.
		t.Skip("known issue: consumption stalls on the embedded broker after SIGKILLed members; runs in make test-kafka")
	}
	e := newEnv(t)
	const n = 200000
	events, dir := writeData(t, n, 40, 21)
	input, group, output := e.name("events"), e.name("hourly"), e.name("counts")
	e.createTopic(input, 8)
	brokers := "--brokers=" + strings.Join(cluster, ",")
	// A watermark far behind lets nothing be late but runs its checkpoints,
	// restores and marks through every kill.
	args := []string{"aggregate", brokers, "--group", group, "--input", input, "--key", "action", "--time", "time", "--window", "1h",
		"--watermark", "100000h", "--output", output, "--log-level", "warn"}

	// The first process keeps its table in a state directory and is a
	// static member: the process that replaces it after the kill takes its
	// name and its directory, so it starts from the table's checkpoint and
	// takes the partitions back without waiting out the dead one's session.
	kept := append(slices.Clone(args), "--state-dir", t.TempDir(), "--instance-id", "killed")
	procs := []*proc{startProc(t, kept...), startProc(t, args...), startProc(t, args...)}
	// The input streams in over about 16 s, slower than it is counted, so
	// that the kills below land mid-stream.
	ingested := e.ingestInBackground(ingest.Config{Topic: input, FilesPerTrigger: 1, TriggerInterval: 400 * time.Millisecond}, dir)
	v := e.openView(group)
	waitCounted := func(atLeast int64) {
		t.Helper()
		eventually(t, 3*time.Minute, func() string {
			if c := counted(v); c < atLeast {
				return fmt.Sprintf("%d counted, waiting for %d", c, atLeast)
			}
			return ""
		})
	}
	waitCounted(n / 5)
	procs[0].kill(t) // mid-stream, with writes in flight
	t.Log("killed process 1 at", counted(v))
	procs = append(procs, startProc(t, kept...))
	waitCounted(n / 2)
	// A newcomer joins, is handed partitions and starts recovering their
	// tables from the changelog; kill it then.
	late := startProc(t, args...)
	time.Sleep(700 * time.Millisecond) // let it get into the rebalance and recovery; the kill point needs no precision
	late.kill(t)
	t.Log("killed a recovering newcomer at", counted(v))

	if err := <-ingested; err != nil {
		t.Fatal(err)
	}
	if msg := waitFor(2*time.Minute, viewMatches(v, expected(events))); msg != "" {
		fresh := e.openView(group)
		if err := fresh.WaitRecovered(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, p := range procs[1:] {
			_ = p.cmd.Process.Signal(syscall.SIGQUIT) // goroutine dumps into stderr
		}
		time.Sleep(time.Second)
		t.Fatalf("not exact after 2m (a fresh view counts %d, the old one %d):\n%s", counted(fresh), counted(v), msg)
	}
	// The output, read as a compacting reader would, holds every row's
	// last version despite the kills.
	eventually(t, time.Minute, e.outputMatches(output, expected(events)))
	for _, p := range procs[1:] {
		p.stop(t)
	}
}

// TestBrokerRestart restarts the broker while an aggregator runs and events
// keep coming: the aggregator rides out the outage and the table is exact.
func TestBrokerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("long: broker restart")
	}
	brokers, restart := restartableBroker(t)
	e := newEnv(t)
	e.kafka = kafka.Config{Brokers: brokers, ClientID: "hourglass-test"}
	events, dir := writeData(t, 40000, 4, 33)
	input, group := e.name("events"), e.name("hourly")
	e.createTopic(input, 4)
	half := writeSubset(t, dir, 2)
	e.ingestFiles(ingest.Config{Topic: input}, half...)

	cfg := e.aggregateConfig(group, input, "")
	cfg.MaxOutage = 3 * time.Minute
	r := e.startAggregator(cfg)
	eventually(t, time.Minute, func() string {
		if a := r.agg.Stats().Applied; a < 5000 {
			return fmt.Sprintf("%d applied", a)
		}
		return ""
	})
	restart(0)
	rest := remainingFiles(t, dir, half)
	e.ingestFiles(ingest.Config{Topic: input}, rest...)
	// The input holds every event once: a shortfall below is the
	// processor's, not the producer's or the broker's.
	if got := len(e.readTopic(input)); got != len(events) {
		t.Fatalf("the input topic holds %d records after the restart, want %d", got, len(events))
	}
	v := e.openView(group)
	if msg := waitFor(3*time.Minute, viewMatches(v, expected(events))); msg != "" {
		t.Fatalf("not exact after 3m (aggregator %+v):\n%s", r.agg.Stats(), msg)
	}
}

// restartableBroker gives the test a broker it may restart, staying down
// for the given time in between: the real Kafka's restart script when
// HOURGLASS_TEST_KAFKA_RESTART is set, or an `hourglass broker --data-dir`
// process of its own.
func restartableBroker(t *testing.T) ([]string, func(down time.Duration)) {
	if script := os.Getenv("HOURGLASS_TEST_KAFKA_RESTART"); script != "" {
		return cluster, func(down time.Duration) {
			t.Helper()
			if out, err := exec.Command(script, "1", strconv.FormatFloat(down.Seconds(), 'f', 1, 64)).CombinedOutput(); err != nil {
				t.Fatalf("restart kafka: %v\n%s", err, out)
			}
		}
	}
	if os.Getenv("HOURGLASS_TEST_BROKERS") != "" {
		t.Skip("HOURGLASS_TEST_BROKERS is set without HOURGLASS_TEST_KAFKA_RESTART")
	}
	dataDir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var current *proc
	start := func() *proc {
		p := startProc(t, "broker", "--listen", addr, "--data-dir", dataDir, "--log-level", "warn")
		// Registered after startProc's kill, so it runs first: the broker
		// still running at the end stops cleanly.
		t.Cleanup(func() {
			if p == current {
				p.stop(t)
			}
		})
		eventually(t, 30*time.Second, func() string {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return err.Error()
			}
			c.Close()
			return ""
		})
		return p
	}
	current = start()
	return []string{addr}, func(down time.Duration) {
		current.stop(t)
		// The outage's length is what the test is about, not a wait for
		// something to happen.
		time.Sleep(down)
		current = start()
	}
}

// writeSubset returns the first k files of dir, in ingest order.
func writeSubset(t *testing.T, dir string, k int) []string {
	var out []string
	for i := 0; i < k; i++ {
		out = append(out, dir+"/file-"+strconv.Itoa(i)+".json")
	}
	return out
}

func remainingFiles(t *testing.T, dir string, done []string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, d := range done {
		seen[d] = true
	}
	var out []string
	for i := 0; i < len(entries); i++ {
		p := dir + "/file-" + strconv.Itoa(i) + ".json"
		if !seen[p] {
			out = append(out, p)
		}
	}
	return out
}

// TestRollingRestart restarts every node of a 3-node Kafka cluster in turn
// (replication factor 3, min.insync.replicas 2), as an operator upgrading
// it would, while events stream into two aggregate processes; the table
// ends exact. It runs in make test-kafka, which starts such a cluster.
func TestRollingRestart(t *testing.T) {
	nodes, _ := strconv.Atoi(os.Getenv("HOURGLASS_TEST_KAFKA_NODES"))
	script := os.Getenv("HOURGLASS_TEST_KAFKA_RESTART")
	if nodes < 3 || script == "" {
		t.Skip("needs a Kafka cluster of 3 or more nodes (make test-kafka starts one)")
	}
	e := newEnv(t)
	const n = 60000
	events, dir := writeData(t, n, 30, 57)
	input, group := e.name("events"), e.name("hourly")
	e.createTopic(input, 8)
	args := []string{"aggregate", "--brokers=" + strings.Join(cluster, ","), "--group", group, "--input", input,
		"--key", "action", "--time", "time", "--window", "1h", "--log-level", "warn"}

	ingested := e.ingestInBackground(ingest.Config{Topic: input, FilesPerTrigger: 1, TriggerInterval: time.Second}, dir)
	procs := []*proc{startProc(t, args...), startProc(t, args...)}
	v := e.openView(group)
	for node := 1; node <= nodes; node++ {
		// Node k restarts once k/(nodes+1) of the events are counted (at
		// once if a slow restart before let the stream get further).
		at := int64(n * node / (nodes + 1))
		eventually(t, 2*time.Minute, func() string {
			if c := counted(v); c < at {
				return fmt.Sprintf("%d counted, waiting for %d before restarting node %d", c, at, node)
			}
			return ""
		})
		if out, err := exec.Command(script, strconv.Itoa(node)).CombinedOutput(); err != nil {
			t.Fatalf("restart node %d: %v\n%s", node, err, out)
		}
		t.Logf("restarted node %d at %d counted", node, counted(v))
	}
	if err := <-ingested; err != nil {
		t.Fatal(err)
	}
	// The idempotent producer stores each event once, node restarts or not.
	if got := len(e.readTopic(input)); got != n {
		t.Fatalf("the input topic holds %d records, want %d", got, n)
	}
	eventually(t, 3*time.Minute, viewMatches(v, expected(events)))
	for _, p := range procs {
		p.stop(t)
	}
}

// TestOutageAfterLongRun stops the broker under an aggregate process that
// has run for longer than its --max-outage, and starts it again a few
// seconds later: the process rides the outage out and counts every event.
// Before the fix --max-outage was measured from the start of the process,
// so the first failure after that long ended it ("gave up after failing
// for 25s").
func TestOutageAfterLongRun(t *testing.T) {
	if testing.Short() {
		t.Skip("long: broker restart")
	}
	brokers, restart := restartableBroker(t)
	e := newEnv(t)
	e.kafka = kafka.Config{Brokers: brokers, ClientID: "hourglass-test"}
	sc, err := e.kafka.Sarama()
	if err != nil {
		t.Fatal(err)
	}
	e.sarama = sc
	events, dir := writeData(t, 4000, 4, 34)
	input, group := e.name("events"), e.name("hourly")
	e.createTopic(input, 2)
	half := writeSubset(t, dir, 2)
	e.ingestFiles(ingest.Config{Topic: input}, half...)

	const maxOutage = 20 * time.Second
	started := time.Now()
	p := startProc(t, "aggregate", "--brokers="+strings.Join(brokers, ","), "--group", group, "--input", input,
		"--key", "action", "--time", "time", "--window", "1h", "--max-outage", maxOutage.String(), "--log-level", "warn")
	v := e.openView(group)
	eventually(t, time.Minute, func() string {
		if c := counted(v); c < 2000 {
			return fmt.Sprintf("%d counted, waiting for 2000", c)
		}
		return ""
	})
	// The premise: the process has lived longer than its --max-outage.
	select {
	case err := <-p.exited:
		t.Fatalf("aggregate exited before the outage: %v\n%s", err, p.stderr)
	case <-time.After(time.Until(started.Add(maxOutage + 5*time.Second))):
	}
	restart(8 * time.Second)
	e.ingestFiles(ingest.Config{Topic: input}, remainingFiles(t, dir, half)...)
	if os.Getenv("HOURGLASS_TEST_BROKERS") != "" || os.Getenv("HOURGLASS_KNOWN_ISSUES") != "" {
		// Exactness across an embedded-broker restart is TestBrokerRestart's
		// known issue; on Apache Kafka the table must be exact.
		eventually(t, 2*time.Minute, viewMatches(v, expected(events)))
	} else {
		eventually(t, 2*time.Minute, func() string {
			p.mustRun(t)
			if c := counted(v); c != int64(len(events)) {
				return fmt.Sprintf("%d counted, want %d", c, len(events))
			}
			return ""
		})
	}
	p.mustRun(t)
	p.stop(t)
}

// TestStateDirRestarts: an aggregate with --state-dir holding a table of
// 200,000 rows is stopped with SIGTERM and started again, then SIGKILLed
// while events stream in and started again. Each restart reads only the
// changelog after its table's checkpoint (the process says how much, per
// partition: a clean stop reads nothing, a crash only the last moments'
// writes, not the 200,000 rows), and the table stays exact.
func TestStateDirRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("long: 200,000 rows and three processes")
	}
	e := newEnv(t)
	const rows, more = 200000, 60000
	input, group := e.name("events"), e.name("users")
	e.createTopic(input, 4)
	stateDir := t.TempDir()
	args := []string{"aggregate", "--brokers=" + strings.Join(cluster, ","), "--group", group, "--input", input,
		"--key", "user", "--time", "time", "--window", "1h", "--state-dir", stateDir, "--log-level", "info"}
	want := map[string]int64{}
	const hour = 1469491200 // 2016-07-26
	// produce counts events from to to in want, then writes them.
	produce := func(from, to int) <-chan error {
		var records []*kgo.Record
		for i := from; i < to; i++ {
			user := fmt.Sprintf("u%06d", i%(rows+more/2))
			want[user+"|"+strconv.Itoa(hour)]++
			records = append(records, &kgo.Record{Topic: input, Key: []byte(user), Value: fmt.Appendf(nil, `{"time":%d,"user":%q}`, hour+i%3600, user)})
		}
		return e.produceInBackground(func(p *kgo.Client) error {
			for _, r := range records {
				p.Produce(context.Background(), r, nil)
			}
			return p.Flush(context.Background())
		})
	}
	// recovered waits for p to recover all 4 table partitions and returns
	// the changelog records it read to do so.
	recovered := func(p *proc) (read int64) {
		t.Helper()
		line := regexp.MustCompile(`"local table recovered" .*partition=(\d+) .*changelog_records_read=(\d+)`)
		eventually(t, 2*time.Minute, func() string {
			p.mustRun(t)
			seen := map[string]int64{}
			for _, m := range line.FindAllStringSubmatch(p.output(), -1) {
				n, _ := strconv.ParseInt(m[2], 10, 64)
				seen[m[1]] += n
			}
			if len(seen) < 4 {
				return fmt.Sprintf("%d of 4 partitions recovered", len(seen))
			}
			read = 0
			for _, n := range seen {
				read += n
			}
			return ""
		})
		return read
	}

	first := startProc(t, args...)
	if err := <-produce(0, rows); err != nil {
		t.Fatal(err)
	}
	v := e.openView(group)
	eventually(t, 3*time.Minute, viewMatches(v, want))
	first.stop(t)

	second := startProc(t, args...)
	if read := recovered(second); read != 0 {
		t.Errorf("after a clean stop, the restart read %d changelog records, want none", read)
	}
	// Kill it while it writes: halfway through the next events.
	produced := produce(rows, rows+more)
	eventually(t, 2*time.Minute, func() string {
		if c := counted(v); c < rows+more/2 {
			return fmt.Sprintf("%d counted, waiting for %d", c, rows+more/2)
		}
		return ""
	})
	second.kill(t)

	third := startProc(t, args...)
	// The crash leaves the writes since the last checkpoint (250 ms) to
	// read again, whatever the table's size.
	if read := recovered(third); read > rows/4 {
		t.Errorf("after SIGKILL, the restart read %d changelog records of a table of %d rows, want only the tail", read, rows)
	} else {
		t.Logf("after SIGKILL, the restart read %d changelog records", read)
	}
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Minute, viewMatches(v, want))
	third.stop(t)
}

// TestStaticMembership: two aggregates of one group run with
// --instance-id. The second is SIGKILLed and started again under its
// name: it is handed its partitions back in both steps' groups without a
// rebalance (the first process is assigned nothing anew), instead of the
// group waiting out the dead member's session and moving everything
// twice. A third process under the same name takes its place: the one it
// displaced ends at once, saying why, rather than fighting back. The
// table is exact throughout.
func TestStaticMembership(t *testing.T) {
	if testing.Short() {
		t.Skip("long: four processes")
	}
	e := newEnv(t)
	events, dir := writeData(t, 20000, 4, 41)
	input, group := e.name("events"), e.name("hourly")
	e.createTopic(input, 4)
	args := func(id string) []string {
		return []string{"aggregate", "--brokers=" + strings.Join(cluster, ","), "--group", group, "--input", input,
			"--key", "action", "--time", "time", "--window", "1h", "--log-level", "info", "--instance-id", id}
	}
	adm := e.admin(t)
	// settled: both steps' groups are stable with two members holding
	// partitions each.
	settled := func() string {
		for _, g := range []string{group, processor.RekeyGroup(group)} {
			described, err := adm.DescribeGroups(context.Background(), g)
			if err != nil {
				return err.Error()
			}
			d := described[g]
			if d.State != "Stable" || len(d.Members) != 2 {
				return fmt.Sprintf("group %s: %s with %d members", g, d.State, len(d.Members))
			}
			for _, m := range d.Members {
				if c, ok := m.Assigned.AsConsumer(); !ok || len(c.Topics) == 0 || len(c.Topics[0].Partitions) == 0 {
					return fmt.Sprintf("group %s: member %s holds no partition", g, *m.InstanceID)
				}
			}
		}
		return ""
	}
	assigned := regexp.MustCompile(`msg=assigned .*step=(count|rekey)`)
	assignedIn := func(p *proc) int { return len(assigned.FindAllString(p.output(), -1)) }

	a := startProc(t, args("a")...)
	eventually(t, time.Minute, func() string {
		if n := assignedIn(a); n < 2 {
			return fmt.Sprintf("the first process has %d assignments", n)
		}
		return ""
	})
	b := startProc(t, args("b")...)
	eventually(t, time.Minute, settled)
	before := len(a.output())

	b.kill(t)
	again := startProc(t, args("b")...)
	eventually(t, time.Minute, func() string {
		again.mustRun(t)
		if n := assignedIn(again); n < 2 {
			return fmt.Sprintf("the restarted process has %d assignments", n)
		}
		return settled()
	})
	// The count step's group is eager: a rebalance would have revoked and
	// assigned the other process's partitions again. In the rekey step's
	// (cooperative) one, the embedded broker rebalances when the member
	// that rejoins led the group (Kafka does not): nothing moves then.
	if moved := regexp.MustCompile(`msg=assigned .*step=(count|rekey partitions="\[)`).FindAllString(a.output()[before:], -1); len(moved) > 0 {
		t.Errorf("the restart of a static member moved the other process's partitions:\n%s", a.output()[before:])
	}

	// Another process under the same name takes the restarted one's place.
	third := startProc(t, args("b")...)
	select {
	case err := <-again.exited:
		if err == nil || !strings.Contains(again.output(), kafka.ErrInstanceFenced.Error()) {
			t.Fatalf("the displaced process exited with %v:\n%s", err, again.output())
		}
	case <-time.After(time.Minute):
		t.Fatalf("the displaced process still runs a minute after another took its --instance-id:\n%s", again.output())
	}

	if err := <-e.ingestInBackground(ingest.Config{Topic: input}, dir); err != nil {
		t.Fatal(err)
	}
	v := e.openView(group)
	if msg := waitFor(2*time.Minute, viewMatches(v, expected(events))); msg != "" {
		t.Fatalf("not exact:\n%s", msg)
	}
	a.stop(t)
	third.stop(t)
}
