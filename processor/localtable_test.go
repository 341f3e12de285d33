package processor

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/windows"
	"github.com/lovoo/goka/storage"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// changelogModel is a partition of a changelog: its records in offset
// order.
type changelogModel struct {
	records []*kgo.Record
}

func (c *changelogModel) append(key string, value []byte) *kgo.Record {
	r := &kgo.Record{Topic: "t", Key: []byte(key), Value: value, Offset: int64(len(c.records))}
	c.records = append(c.records, r)
	return r
}

// state is what the changelog says of every row.
func (c *changelogModel) state() map[string]string {
	m := map[string]string{}
	for _, r := range c.records {
		if r.Value == nil {
			delete(m, string(r.Key))
		} else {
			m[string(r.Key)] = string(r.Value)
		}
	}
	return m
}

// recoverTable does what goka does when it opens a partition: read the
// changelog after the table's offset into it, then mark it recovered.
// It returns how many records it read.
func recoverTable(t *testing.T, tables *localTables, st storage.Storage, c *changelogModel) int {
	t.Helper()
	off, err := st.GetOffset(-1)
	if err != nil {
		t.Fatal(err)
	}
	read := 0
	for _, r := range c.records[off+1:] {
		tables.logged(0, string(r.Key), r.Value, r.Offset)
		if r.Value == nil {
			err = st.Delete(string(r.Key))
		} else {
			err = st.Set(string(r.Key), r.Value)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SetOffset(r.Offset); err != nil {
			t.Fatal(err)
		}
		read++
	}
	if err := st.MarkRecovered(); err != nil {
		t.Fatal(err)
	}
	return read
}

func tableRows(t *testing.T, st storage.Storage) map[string]string {
	t.Helper()
	it, err := st.Iterator()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Release()
	m := map[string]string{}
	for it.Next() {
		v, _ := it.Value()
		m[string(it.Key())] = string(v)
	}
	return m
}

// TestLocalTableCrashes: whatever point a process dies at (writes in
// flight, some of them landed in the changelog without an
// acknowledgement, others lost), the next run's table, restored to its
// checkpoint and caught up from the changelog after it, is the changelog;
// and the changelog it reads again is only what came after the last
// checkpoint. Before checkpoints, such a table was ahead of the changelog
// and had to be discarded.
func TestLocalTableCrashes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	dir := t.TempDir()
	defer func(n int) { maxDirty = n }(maxDirty)
	maxDirty = 16 // checkpoints on size as well as on time
	log := slog.New(slog.DiscardHandler)
	var c changelogModel
	checkpoint := -1 // the offset the last run's table had saved
	for run := range 60 {
		tables := newLocalTables(dir, "t", log)
		st, err := tables.builder()("t", 0)
		if err != nil {
			t.Fatal(err)
		}
		before := len(c.records)
		read := recoverTable(t, tables, st, &c)
		l := tables.parts[0]
		if run%3 > 0 { // reads of rows not in the filter skip LevelDB
			waitFiltered(t, l)
		}
		if got, want := tableRows(t, st), c.state(); !maps.Equal(got, want) {
			t.Fatalf("run %d: the recovered table is\n%v\nthe changelog says\n%v", run, got, want)
		}
		for i := range 50 { // goka takes a non-nil value for a row
			key := fmt.Sprintf("k%d", i)
			if v, err := st.Get(key); err != nil || (v == nil) != (c.state()[key] == "") {
				t.Fatalf("run %d: Get(%s) = %q, %v; the changelog has %q", run, key, v, err, c.state()[key])
			}
		}
		if want := before - (checkpoint + 1); read != want {
			t.Fatalf("run %d read %d changelog records, want the %d after the checkpoint at %d", run, read, want, checkpoint)
		}
		// Writes, acknowledged in order, a few at a time; a read gives
		// what was written last (local).
		var inflight []*kgo.Record
		local := c.state()
		for range 1 + rng.IntN(300) {
			key := fmt.Sprintf("k%d", rng.IntN(40))
			var value []byte
			if rng.IntN(8) > 0 {
				value = fmt.Appendf(nil, "v%d", rng.Int())
			}
			if rng.IntN(2) == 0 { // goka reads a row before it writes it
				if v, err := st.Get(key); err != nil || string(v) != local[key] || (v == nil) != (local[key] == "") {
					t.Fatalf("run %d: Get(%s) = %q, %v; it was last set to %q", run, key, v, err, local[key])
				}
			}
			if value == nil {
				err = st.Delete(key)
				delete(local, key)
			} else {
				err = st.Set(key, value)
				local[key] = string(value)
			}
			if err != nil {
				t.Fatal(err)
			}
			inflight = append(inflight, &kgo.Record{Topic: "t", Key: []byte(key), Value: value})
			for len(inflight) > 0 && rng.IntN(3) == 0 {
				r := c.append(string(inflight[0].Key), inflight[0].Value)
				inflight = inflight[1:]
				tables.acked(r, nil)
				if err := st.SetOffset(r.Offset); err != nil {
					t.Fatal(err)
				}
				if rng.IntN(4) == 0 { // as the flusher does, every 250 ms
					if err := l.checkpoint(); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		// goka's visits iterate the table: rows only, whatever is in flight.
		for key := range tableRows(t, st) {
			if strings.HasPrefix(key, undoPrefix) || key == offsetKey {
				t.Fatalf("run %d: the table's iterator gave %q", run, key)
			}
		}
		switch rng.IntN(3) {
		case 0: // a clean stop: every write acknowledged, the table closed
			for _, r := range inflight {
				tables.acked(c.append(string(r.Key), r.Value), nil)
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			checkpoint = len(c.records) - 1
		default: // a crash: some writes in flight land, unacknowledged
			landed := rng.IntN(len(inflight) + 1)
			for _, r := range inflight[:landed] {
				c.append(string(r.Key), r.Value)
			}
			l.stopFlusher()
			l.stopFilter()
			l.mu.Lock()
			checkpoint = -1
			if v, err := l.db.Get([]byte(offsetKey), nil); err == nil {
				checkpoint, _ = strconv.Atoi(string(v))
			}
			if err := l.db.Close(); err != nil { // what the kernel does for a dead process
				t.Fatal(err)
			}
			l.db = nil
			l.mu.Unlock()
		}
		// Another instance writes a little while this one is away.
		for range rng.IntN(5) {
			c.append(fmt.Sprintf("k%d", rng.IntN(50)), fmt.Appendf(nil, "other%d", rng.Int()))
		}
	}
}

// waitFiltered waits until l's row filter holds every key of its LevelDB.
func waitFiltered(t testing.TB, l *tableLog) {
	t.Helper()
	l.mu.Lock()
	done := l.filter.done
	l.mu.Unlock()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the row filter was not built in 10 s")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.filter.ready {
		t.Fatal("the row filter's build ended before it was ready")
	}
}

// BenchmarkLocalTableRow is a row's cost in the count step's table under
// --state-dir as W4 fills it: a read, a write, its acknowledgement and
// goka's offset after it, every row new; against goka's own LevelDB
// storage, which hourglass used before (no undo entries, no checkpoints).
func BenchmarkLocalTableRow(b *testing.B) {
	value := make([]byte, 40)
	run := func(b *testing.B, st storage.Storage, acked func(*kgo.Record)) {
		for i := 0; b.Loop(); i++ {
			key := "k" + strconv.Itoa(i) + "|2016-07-26T08:00:00Z"
			if _, err := st.Get(key); err != nil {
				b.Fatal(err)
			}
			if err := st.Set(key, value); err != nil {
				b.Fatal(err)
			}
			if acked != nil {
				acked(&kgo.Record{Topic: "t", Key: []byte(key), Value: value, Offset: int64(i)})
			}
			if err := st.SetOffset(int64(i)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("checkpointed", func(b *testing.B) {
		tables := newLocalTables(b.TempDir(), "t", slog.New(slog.DiscardHandler))
		st, err := tables.builder()("t", 0)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		if err := st.MarkRecovered(); err != nil {
			b.Fatal(err)
		}
		run(b, st, func(r *kgo.Record) { tables.acked(r, nil) })
	})
	b.Run("goka", func(b *testing.B) {
		st, err := storage.DefaultBuilder(b.TempDir())("t", 0)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		if err := st.MarkRecovered(); err != nil {
			b.Fatal(err)
		}
		run(b, st, nil)
	})
}

// TestMovedRowSurvivesRestart: a session the count step moves into a row
// of its own is written to the table outside goka (moveOut); once Kafka
// has it, the next run's table has it too. Had its acknowledgement not
// reached the table, its undo entry would have put the row back to
// nothing at the restart, though the changelog holds it.
func TestMovedRowSurvivesRestart(t *testing.T) {
	kc := embeddedBroker(t)
	_, cl := testClients(t, kc)
	a := &Aggregator{cfg: AggregateConfig{Group: "moved", Windows: windows.SessionGap(time.Minute)}, log: slog.New(slog.DiscardHandler)}
	topic := TableTopic(a.cfg.Group)
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	producer, err := kc.Producer(fnv.New32a)
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	dir := t.TempDir()
	s := newCountStep(a)
	s.tables = newLocalTables(dir, topic, a.log)
	s.client.Store(producer)
	st, err := s.opened(s.tables.builder())(topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.MarkRecovered(); err != nil {
		t.Fatal(err)
	}
	w := windows.Window{Start: time.Unix(3600, 0).UTC(), End: time.Unix(4200, 0).UTC()}
	key := windows.RowKey("k", w)
	if err := s.moveOut(0, key, windows.Row{Window: w, Count: 3}); err != nil {
		t.Fatal(err)
	}
	if err := producer.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	next := newLocalTables(dir, topic, a.log)
	st, err = next.builder()(topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if v, err := st.Get(key); err != nil || v == nil {
		t.Fatalf("the moved row after a restart: %q, %v; the changelog holds it", v, err)
	}
}
