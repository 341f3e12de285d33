package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/ingest"
)

// BenchmarkAggregateEndToEnd measures events per second from an input topic
// that already holds the classic data set (100,000 events, 8 partitions)
// to the moment the aggregator has applied every count to its group table.
// Each iteration uses a new group, so it re-reads the whole input; the view
// check that the table is exact is not timed.
func BenchmarkAggregateEndToEnd(b *testing.B) {
	e := newEnv(b)
	const n = 100000
	events, dir := writeData(b, n, 50, 1)
	input := e.name("events")
	e.createTopic(input, 8)
	e.ingestFiles(ingest.Config{Topic: input}, dir)
	want := expected(events)
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		group := e.name(fmt.Sprintf("bench-%d", i))
		started := time.Now()
		r := e.startAggregator(e.aggregateConfig(group, input, ""))
		eventually(b, 5*time.Minute, func() string {
			if got := r.agg.Stats().Applied; got < n {
				return fmt.Sprintf("%d of %d applied", got, n)
			}
			return ""
		})
		total += time.Since(started)
		b.StopTimer()
		v := e.openView(group)
		eventually(b, time.Minute, viewMatches(v, want))
		r.stop(b)
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "events/s")
	b.ReportMetric(0, "ns/op")
}
