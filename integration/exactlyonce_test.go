package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/alerts"
	"github.com/hourglass-stream/hourglass/ingest"
	"github.com/hourglass-stream/hourglass/processor"
)

// alertStream is a JSON alert stream with malformed records in it, and
// what a filter on diaSource.ra > 350 must make of it, worked out here.
type alertStream struct {
	values     [][]byte
	want, dead map[string]int // value → times it must appear
}

func newAlertStream(t *testing.T, n int, seed uint64) alertStream {
	t.Helper()
	enc, err := alerts.NewEncoder("json", 7)
	if err != nil {
		t.Fatal(err)
	}
	gen := alerts.NewGenerator(alerts.Spec{Seed: seed})
	s := alertStream{want: map[string]int{}, dead: map[string]int{}}
	for i := range n {
		a := gen.Next()
		v, err := enc.Encode(a, gen.Rng())
		if err != nil {
			t.Fatal(err)
		}
		s.values = append(s.values, v)
		if a["diaSource"].(map[string]any)["ra"].(float64) > 350 {
			s.want[string(v)]++
		}
		if i%500 == 0 {
			bad := fmt.Appendf(nil, `{"alertId": %d, "diaSource": {"ra": `, i) // truncated: a decode error
			s.values = append(s.values, bad)
			s.dead[string(bad)]++
		}
	}
	return s
}

// produceSlowly writes the stream in chunks, so that what happens to the
// filters happens mid-stream; the channel returns when all is written.
func (e *env) produceSlowly(topic string, values [][]byte, chunks int, every time.Duration) <-chan struct{} {
	done := make(chan struct{})
	size := (len(values) + chunks - 1) / chunks
	go func() {
		defer close(done)
		for i := 0; i < len(values); i += size {
			e.produce(topic, values[i:min(i+size, len(values))])
			time.Sleep(every) // pacing the input, not synchronisation
		}
	}()
	return done
}

// exactly compares a topic's committed records with want: each value as
// many times as want says, nothing else.
func (e *env) exactly(topic string, want map[string]int) func() string {
	return func() string {
		recs, err := e.tryReadTopic(topic)
		if err != nil {
			return err.Error()
		}
		got := map[string]int{}
		for _, r := range recs {
			got[string(r.Value)]++
		}
		var diffs []string
		dups, missing := 0, 0
		for v, n := range got {
			if n > want[v] {
				dups += n - want[v]
			}
		}
		for v, n := range want {
			if got[v] < n {
				missing += n - got[v]
			}
		}
		if dups > 0 || missing > 0 {
			diffs = append(diffs, fmt.Sprintf("%s: %d records, %d extra (duplicates or strays), %d missing", topic, len(recs), dups, missing))
		}
		return strings.Join(diffs, "; ")
	}
}

// holdsAtLeast is a condition: topic holds n committed records or more.
func (e *env) holdsAtLeast(topic string, n int) func() string {
	return func() string {
		if recs, err := e.tryReadTopic(topic); err != nil || len(recs) < n {
			return fmt.Sprintf("waiting for %d records in %s (%d, %v)", n, topic, len(recs), err)
		}
		return ""
	}
}

func filterArgs(group, input, output string) []string {
	return []string{"filter", "--brokers=" + strings.Join(cluster, ","), "--group", group, "--input", input, "--output", output,
		"--codec", "json", "--where", "diaSource.ra > 350", "--log-level", "warn"}
}

// TestFilterKillNine: three filter processes share a stream; one is
// SIGKILLed mid-stream and another joins. The output and the dead-letter
// topic, read committed, hold every selected alert and every bad record
// exactly once. Before transactions, what the killed process had written
// but not committed was written again by the next owner.
func TestFilterKillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("long: multi-process fault test")
	}
	e := newEnv(t)
	s := newAlertStream(t, 60000, 61)
	input, output, group := e.name("alerts"), e.name("east"), e.name("filter")
	e.createTopic(input, 6)
	args := filterArgs(group, input, output)
	procs := []*proc{startProc(t, args...), startProc(t, args...), startProc(t, args...)}
	// As fast as it goes: the filters are busy when one is killed.
	written := e.produceSlowly(input, s.values, 20, 0)
	eventually(t, time.Minute, e.holdsAtLeast(output, len(s.want)/4))
	procs[0].kill(t)
	procs = append(procs, startProc(t, args...))
	<-written
	eventually(t, 2*time.Minute, e.exactly(output, s.want))
	eventually(t, time.Minute, e.exactly(processor.DeadLetterTopic(group), s.dead))
	for _, p := range procs[1:] {
		p.mustRun(t)
		p.stop(t)
	}
}

// sigstopPastSession stops p (SIGSTOP) for longer than a group session,
// so that its groups move its partitions to the other members, and wakes
// it (SIGCONT).
func sigstopPastSession(t *testing.T, p *proc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	for time.Since(stopped) < 15*time.Second {
		time.Sleep(500 * time.Millisecond) // waiting out the session timeout is the point of the test
	}
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
}

// TestAggregateZombie: an aggregate process is SIGSTOPped mid-stream past
// its group sessions, while its rekey step has a transaction open; both
// steps' partitions move to the other process, and it is woken. Its rekey
// transaction is fenced and aborts, so the updates it had written are never
// counted, and the table, the output and the dead letters are exact.
func TestAggregateZombie(t *testing.T) {
	if testing.Short() {
		t.Skip("long: waits out a group session")
	}
	e := newEnv(t)
	const n = 60000
	events, dir := writeData(t, n, 60, 63)
	dead := addBadLines(t, dir, 40)
	input, group, output := e.name("events"), e.name("hourly"), e.name("counts")
	e.createTopic(input, 4)
	args := []string{"aggregate", "--brokers=" + strings.Join(cluster, ","), "--group", group, "--input", input,
		"--key", "action", "--time", "time", "--window", "1h", "--output", output,
		// A long linger: the process is stopped with a transaction open.
		"--batch-linger", "300ms", "--log-level", "warn"}
	a, b := startProc(t, args...), startProc(t, args...)
	// About 30 s of input: the stop lands mid-stream, and more follows.
	ingested := e.ingestInBackground(ingest.Config{Topic: input, FilesPerTrigger: 1, TriggerInterval: 500 * time.Millisecond}, dir)
	v := e.openView(group)
	eventually(t, time.Minute, func() string {
		if c := counted(v); c < n/5 {
			return fmt.Sprintf("%d counted, waiting for %d", c, n/5)
		}
		return ""
	})
	sigstopPastSession(t, a)
	if err := <-ingested; err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, viewMatches(v, expected(events)))
	eventually(t, time.Minute, e.outputMatches(output, expected(events)))
	eventually(t, time.Minute, e.exactly(processor.DeadLetterTopic(group), dead))
	b.mustRun(t)
	a.stop(t)
	b.stop(t)
}

// addBadLines appends perFile lines to each file in dir that no event
// decodes from (each unique), and returns them as exactly's want.
func addBadLines(t *testing.T, dir string, perFile int) map[string]int {
	t.Helper()
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	dead := map[string]int{}
	for i, f := range files {
		path := filepath.Join(dir, f.Name())
		fh, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		for j := range perFile {
			line := fmt.Sprintf(`{"time": "not a time %d-%d", "action": "Open"}`, i, j)
			dead[line]++
			if _, err := fmt.Fprintln(fh, line); err != nil {
				t.Fatal(err)
			}
		}
		if err := fh.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return dead
}

// TestFilterZombie: a filter process is SIGSTOPped mid-stream past its
// group session, its partitions move to the other, and it is woken: its
// transaction is fenced (its offset commit names a passed generation) and
// aborts, so the output, read committed, holds every selected alert once.
// Before transactions, the zombie's buffered writes landed when it woke.
func TestFilterZombie(t *testing.T) {
	if testing.Short() {
		t.Skip("long: waits out a group session")
	}
	e := newEnv(t)
	s := newAlertStream(t, 40000, 62)
	input, output, group := e.name("alerts"), e.name("east"), e.name("filter")
	e.createTopic(input, 4)
	args := filterArgs(group, input, output)
	a, b := startProc(t, args...), startProc(t, args...)
	written := e.produceSlowly(input, s.values, 40, 150*time.Millisecond)
	eventually(t, time.Minute, e.holdsAtLeast(output, len(s.want)/5))
	sigstopPastSession(t, a) // past the group session: the group moves a's partitions to b
	<-written
	eventually(t, 2*time.Minute, e.exactly(output, s.want))
	eventually(t, time.Minute, e.exactly(processor.DeadLetterTopic(group), s.dead))
	b.mustRun(t)
	a.stop(t)
	b.stop(t)
}
