package processor

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/internal/diskuse"
	"github.com/hourglass-stream/hourglass/internal/gokautil"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/lovoo/goka/storage"
)

// BenchmarkTableBytesPerRow: what one row of W1's table (1,000 keys of 5
// characters, hourly windows, counted from 8 input partitions) costs in
// the count step's memory store (heap, B/row) and in LevelDB under
// --state-dir (disk-B/row, the directory after Close), for the README's
// sizing rule.
func BenchmarkTableBytesPerRow(b *testing.B) {
	const rows = 200_000
	base := time.Date(2016, 7, 26, 0, 0, 0, 0, time.UTC)
	row := func(i int) (string, []byte) {
		start := base.Add(time.Duration(i/1000) * time.Hour)
		w := windows.Window{Start: start, End: start.Add(time.Hour)}
		r := windows.Row{Window: w, Count: int64(1000 + i%97), Applied: map[int32]int64{}}
		for p := range int32(8) {
			r.Applied[p] = 1_250_000 + int64(i)*7 + int64(p)
		}
		v, err := r.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		return windows.RowKey(fmt.Sprintf("k%04d", i%1000), w), v
	}
	fill := func(st storage.Storage) {
		for i := range rows {
			k, v := row(i)
			if err := st.Set(k, v); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("memory", func(b *testing.B) {
		for b.Loop() {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			st, err := gokautil.MemStorage()("t", 0)
			if err != nil {
				b.Fatal(err)
			}
			fill(st)
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/rows, "B/row")
			runtime.KeepAlive(st)
		}
	})
	b.Run("leveldb", func(b *testing.B) {
		for b.Loop() {
			dir := b.TempDir()
			st, err := storage.DefaultBuilder(dir)("t", 0)
			if err != nil {
				b.Fatal(err)
			}
			if err := st.Open(); err != nil {
				b.Fatal(err)
			}
			fill(st)
			if err := st.Close(); err != nil {
				b.Fatal(err)
			}
			size, err := diskuse.Size(dir)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(size)/rows, "disk-B/row")
		}
	})
}
