package processor

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/windows"
)

// TestRowFilter: every key added is held, across the layers the filter
// grows by, and keys never added are mostly told apart (a filter that
// held everything would send every read to LevelDB).
func TestRowFilter(t *testing.T) {
	var f rowFilter
	const n = 400_000 // the first layer and two more
	for i := range n {
		f.add(fmt.Appendf(nil, "k%d|2016-07-26T08:00:00Z", i))
	}
	// add skips a key the filter already seems to hold: a false positive
	// is not inserted, and needs no room.
	if len(f.layers) != 3 || f.keys > n || f.keys < n-n*3*filterFalse {
		t.Fatalf("%d keys in %d layers, want about %d in 3", f.keys, len(f.layers), n)
	}
	for i := range n {
		if key := fmt.Appendf(nil, "k%d|2016-07-26T08:00:00Z", i); !f.mayHold(key) {
			t.Fatalf("the filter lost %s", key)
		}
	}
	held := 0
	for i := range n {
		if f.mayHold(fmt.Appendf(nil, "k%d|2016-07-26T09:00:00Z", i)) {
			held++
		}
	}
	if rate := float64(held) / n; rate > 3*filterFalse {
		t.Fatalf("%.2f%% of keys never added are held, want at most %.0f%%", 100*rate, 300*filterFalse)
	}
}

// TestRowFilterSizedFromTable: a table that already holds rows gets a
// first layer for all of them, so that a restart's filter is one layer.
func TestRowFilterSizedFromTable(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	tables := newLocalTables(dir, "t", log)
	st, err := tables.builder()("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	const n = 500_000
	start := time.Date(2016, 7, 26, 0, 0, 0, 0, time.UTC)
	for i := range n { // recovered from the changelog, rows as W4's
		w := windows.Window{Start: start.Add(time.Duration(i/1000) * time.Hour)}
		w.End = w.Start.Add(time.Hour)
		value, err := windows.Row{Window: w, Count: 1, Applied: map[int32]int64{int32(i % 8): int64(i / 8)}}.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Set(windows.RowKey(fmt.Sprintf("k%d", i%1000), w), value); err != nil {
			t.Fatal(err)
		}
		if err := st.SetOffset(int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.MarkRecovered(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	tables = newLocalTables(dir, "t", log)
	st, err = tables.builder()("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l := tables.parts[0]
	waitFiltered(t, l)
	if l.filter.keys > n || l.filter.keys < n-n*3*filterFalse || len(l.filter.layers) != 1 {
		t.Fatalf("the restart's filter has %d keys in %d layers, want about %d in one", l.filter.keys, len(l.filter.layers), n)
	}
}
