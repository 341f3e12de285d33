package ingest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/codec"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// recorder is a fake producer that keeps what it is sent, acknowledges
// each record at once (or fails it with failWith), and expects n records.
type recorder struct {
	mu       sync.Mutex
	recs     []*kgo.Record
	failWith error
}

func newRecorder(t *testing.T, n int) *recorder {
	r := &recorder{}
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.recs) != n {
			t.Errorf("producer got %d records, want %d", len(r.recs), n)
		}
	})
	return r
}

func (r *recorder) Produce(_ context.Context, rec *kgo.Record, promise func(*kgo.Record, error)) {
	r.mu.Lock()
	r.recs = append(r.recs, rec)
	r.mu.Unlock()
	promise(rec, r.failWith)
}

func (r *recorder) Flush(context.Context) error { return nil }

func (r *recorder) values() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.recs {
		out = append(out, string(m.Value))
	}
	return out
}

func writeFile(t *testing.T, dir, name, content string, mtime time.Time) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOldestFirstThenName(t *testing.T) {
	dir := t.TempDir()
	base := time.Now().Add(-time.Hour)
	writeFile(t, dir, "a.json", `{"n":"a"}`+"\n", base.Add(2*time.Second))
	writeFile(t, dir, "c.json", `{"n":"c"}`+"\n", base.Add(time.Second))
	writeFile(t, dir, "b.json", `{"n":"b"}`+"\n\n", base.Add(time.Second)) // a blank line is no record
	writeFile(t, dir, ".hidden.json", `{"n":"hidden"}`+"\n", base)
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := newRecorder(t, 3)
	var triggers []Summary
	sum, err := Run(context.Background(), p, Config{Topic: "t", FilesPerTrigger: 2, OnTrigger: func(s Summary) { triggers = append(triggers, s) }}, []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.values(), []string{`{"n":"b"}`, `{"n":"c"}`, `{"n":"a"}`}; !reflect.DeepEqual(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	if want := (Summary{Files: 3, Records: 3, Bytes: 27, Triggers: 2}); sum != want {
		t.Fatalf("summary %+v, want %+v", sum, want)
	}
	if len(triggers) != 2 || triggers[0].Files != 2 || triggers[1].Files != 3 {
		t.Fatalf("triggers %+v", triggers)
	}
}

func TestJSONLinesBadLinesAndKeys(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "x.json", "{\"action\":\"Open\",\"time\":1}\r\nnot json\n{\"time\":2}\n{\"action\":7,\"time\":3}\n", time.Now())
	p := newRecorder(t, 2)
	key, _ := codec.ParsePath("action")
	sum, err := Run(context.Background(), p, Config{Topic: "t", KeyField: key}, []string{f})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != 2 || sum.BadLines != 2 {
		t.Fatalf("summary %+v, want 2 records and 2 bad lines", sum)
	}
	var keys []string
	for _, m := range p.recs {
		k := m.Key
		keys = append(keys, string(k))
	}
	if !reflect.DeepEqual(keys, []string{"Open", "7"}) {
		t.Fatalf("keys %q", keys)
	}
	if got := p.values()[0]; got != `{"action":"Open","time":1}` {
		t.Fatalf("CRLF not stripped: %q", got)
	}
}

func TestLinesSendsEverything(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "x.txt", "not json\n{'a': 1}\n", time.Now())
	p := newRecorder(t, 2)
	sum, err := Run(context.Background(), p, Config{Topic: "t", Format: FormatLines}, []string{f})
	if err != nil || sum.Records != 2 || sum.BadLines != 0 {
		t.Fatalf("Run = %+v, %v", sum, err)
	}
}

func TestBrokerErrorStops(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "x.json", "{}\n", time.Now())
	p := newRecorder(t, 1)
	p.failWith = kerr.NotLeaderForPartition
	if _, err := Run(context.Background(), p, Config{Topic: "t"}, []string{f}); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("Run error = %v, want the broker's", err)
	}
}

func TestWatchPicksUpNewFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "1.json", "{}\n", time.Now().Add(-time.Minute))
	p := newRecorder(t, 2)
	files := make(chan int64, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, p, Config{Topic: "t", Watch: true, TriggerInterval: 10 * time.Millisecond,
			OnTrigger: func(s Summary) { files <- s.Files }}, []string{dir})
		done <- err
	}()
	waitFor := func(want int64) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case n := <-files:
				if n == want {
					return
				}
			case <-deadline:
				t.Fatalf("watch did not reach %d files", want)
			}
		}
	}
	waitFor(1)
	writeFile(t, dir, "2.json", "{}\n", time.Now())
	waitFor(2)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel = %v", err)
	}
}

func TestErrors(t *testing.T) {
	p := newRecorder(t, 0)
	if _, err := Run(context.Background(), p, Config{Topic: "t"}, []string{t.TempDir()}); err == nil {
		t.Error("an empty directory without --watch is not an error")
	}
	if _, err := Run(context.Background(), p, Config{Topic: "t"}, []string{"/does/not/exist"}); err == nil {
		t.Error("a missing path is not an error")
	}
	if _, err := Run(context.Background(), p, Config{}, []string{"x"}); err == nil {
		t.Error("no topic is not an error")
	}
	key, _ := codec.ParsePath("a")
	if _, err := Run(context.Background(), p, Config{Topic: "t", Format: FormatLines, KeyField: key}, []string{"x"}); err == nil {
		t.Error("--key-field with lines is not an error")
	}
}

func TestAvroContainerFiles(t *testing.T) {
	p := newRecorder(t, 25)
	key, _ := codec.ParsePath("diaSource.filterName")
	sum, err := Run(context.Background(), p, Config{Topic: "t", Format: FormatAvro, KeyField: key}, []string{"../codec/testdata/avro/alerts-deflate.avro"})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != 25 || sum.BadLines != 0 || sum.Files != 1 {
		t.Fatalf("summary %+v", sum)
	}
	if _, err := Run(context.Background(), newRecorder(t, 0), Config{Topic: "t", Format: FormatAvro}, []string{"../codec/testdata/legacy_alert.json"}); err == nil {
		t.Fatal("a JSON file was read as an Avro container file")
	}
}

// TestWatchWaitsForWriters: with --watch, a file still being written is
// taken only once it stops changing, so every line of it is sent; temporary
// names are never taken. Before the fix the watch took the file at its
// first listing (5 lines and half a line) and never sent the rest.
func TestWatchWaitsForWriters(t *testing.T) {
	dir := t.TempDir()
	const lines = 40
	p := newRecorder(t, lines)
	writeFile(t, dir, "part.tmp", "{}\n", time.Now())
	writeFile(t, dir, "backup.json~", "{}\n", time.Now())
	path := filepath.Join(dir, "growing.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	write := func(s string) {
		t.Helper()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		write(`{"n":` + strconv.Itoa(i) + "}\n")
	}
	write(`{"n":`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	triggers := make(chan Summary, 10)
	done := make(chan error, 1)
	go func() {
		// Listings 500 ms apart; the writer below adds a line every 10 ms,
		// so no two listings see the file alike until it is done.
		_, err := Run(ctx, p, Config{Topic: "t", Watch: true, TriggerInterval: 500 * time.Millisecond,
			OnTrigger: func(s Summary) { triggers <- s }}, []string{dir})
		done <- err
	}()
	write("5}\n")
	for i := 6; i < lines; i++ {
		time.Sleep(10 * time.Millisecond) // the writer's pace, not a synchronisation
		write(`{"n":` + strconv.Itoa(i) + "}\n")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-triggers:
		if s.Records != lines || s.BadLines != 0 || s.Files != 1 {
			t.Fatalf("took %+v, want one file of %d records and no bad lines", s, lines)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the finished file was not taken")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel = %v", err)
	}
}

// TestOversizedLinesAreBadLines: a line larger than a record may be, and
// one longer than MaxLineBytes, are bad lines; the lines around them are
// sent. Before, a line over the producer's limit aborted the ingest.
func TestOversizedLinesAreBadLines(t *testing.T) {
	dir := t.TempDir()
	big := `{"blob": "` + strings.Repeat("x", 2<<20) + `"}`
	huge := strings.Repeat("y", MaxLineBytes+10)
	content := strings.Join([]string{`{"n":1}`, `{"n":2}`, big, `{"n":3}`, huge, `{"n":4}`}, "\n") + "\n"
	path := writeFile(t, dir, "f.json", content, time.Now())
	p := newRecorder(t, 4)
	sum, err := Run(context.Background(), p, Config{Topic: "t", Format: FormatLines}, []string{path})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != 4 || sum.BadLines != 2 {
		t.Fatalf("summary %+v, want 4 records and 2 bad lines", sum)
	}
	if got := strings.Join(p.values(), " "); got != `{"n":1} {"n":2} {"n":3} {"n":4}` {
		t.Fatalf("sent %s", got)
	}
}

// failingAfter acknowledges the first n records and fails the rest.
type failingAfter struct {
	recorder
	n int
}

func (f *failingAfter) Produce(ctx context.Context, rec *kgo.Record, promise func(*kgo.Record, error)) {
	f.mu.Lock()
	i := len(f.recs)
	f.recs = append(f.recs, rec)
	f.mu.Unlock()
	if i < f.n {
		promise(rec, nil)
		return
	}
	promise(rec, kerr.MessageTooLarge)
}

// TestSummaryCountsAcknowledged: when the broker refuses a record, the
// summary still counts the records it acknowledged before ("ingested 0
// records" while 4 had landed, before the fix).
func TestSummaryCountsAcknowledged(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "f.json", "{}\n{}\n{}\n{}\n{}\n{}\n", time.Now())
	sum, err := Run(context.Background(), &failingAfter{n: 4}, Config{Topic: "t"}, []string{path})
	if err == nil {
		t.Fatal("no error for a refused record")
	}
	if sum.Records != 4 {
		t.Fatalf("summary %+v, want the 4 acknowledged records", sum)
	}
}
