package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/processor"
)

// aggEvent is an event of TestAggregatesExact: bytes up to 2^60 (a
// window's sum is past int64), lat floats of 12 orders of magnitude (a
// running double would lose the small ones), a tenth of them null and a
// twentieth missing, and users to count distinct.
type aggEvent struct {
	at     int64
	action string
	bytes  int64
	lat    *float64 // nil: null or missing
	user   string
}

// writeAggEvents writes n events: the first half and three records of
// wrong types to first, the rest to second.
func writeAggEvents(t *testing.T, first, second string, n int, seed uint64) []aggEvent {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 17))
	var halves [2]strings.Builder
	var events []aggEvent
	start := pageEpoch.Unix()
	for i := range n {
		ev := aggEvent{at: start + rng.Int64N(12*3600), action: []string{"Open", "Close"}[rng.IntN(2)],
			bytes: rng.Int64N(1 << 60), user: "u" + strconv.Itoa(rng.IntN(300))}
		lat := ""
		switch i % 20 {
		case 0, 1:
			lat = `, "lat": null`
		case 2:
		default:
			f := rng.Float64() * math.Pow(10, float64(rng.IntN(12)-3))
			ev.lat = &f
			lat = `, "lat": ` + strconv.FormatFloat(f, 'g', -1, 64)
		}
		fmt.Fprintf(&halves[2*i/n], `{"time": %d, "action": %q, "bytes": %d%s, "user": %q}`+"\n", ev.at, ev.action, ev.bytes, lat, ev.user)
		events = append(events, ev)
	}
	writeFile(t, first, halves[0].String()+wrong)
	writeFile(t, second, halves[1].String())
	return events
}

// wrong are records with values of the wrong types: dead-lettered with
// reason value, not counted.
const wrong = `{"time": 1469491200, "action": "Open", "bytes": "12", "user": "x"}
{"time": 1469491200, "action": "Open", "bytes": 1, "lat": "fast", "user": "x"}
{"time": 1469491200, "action": "Open", "bytes": true, "user": "x"}
`

const aggList = "sum(bytes),avg(lat), max(lat),min(bytes) as least,count_distinct(user),p90(lat)"

// aggRow is a row of query --format json with aggList's columns.
type aggRow struct {
	Key         string      `json:"key"`
	WindowStart time.Time   `json:"window_start"`
	Count       int64       `json:"count"`
	SumBytes    json.Number `json:"sum_bytes"`
	AvgLat      *float64    `json:"avg_lat"`
	MaxLat      *float64    `json:"max_lat"`
	Least       json.Number `json:"least"`
	Distinct    int64       `json:"count_distinct_user"`
	P90         *float64    `json:"p90_lat"`
}

// queryAgg returns the group's rows as query --format json writes them,
// and their counts' sum; before the group has a table, nothing.
func queryAgg(t *testing.T, brokers, group string) (string, []aggRow, int64) {
	b, err := exec.Command(binary(t), "query", brokers, "--group", group, "--format", "json").Output()
	if err != nil {
		return "", nil, 0
	}
	out := string(b)
	var rows []aggRow
	var n int64
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r aggRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("query row %s: %v", sc.Text(), err)
		}
		rows = append(rows, r)
		n += r.Count
	}
	return out, rows, n
}

// TestAggregatesExact runs --agg over 6,000 events as batches of one
// event, default batches, default batches through a kill -9 halfway, and
// batches of 7 halfway then, after reset --to earliest, default batches
// (which straddle the rows' last applied offsets, with new events after
// them). The rows are identical, and equal to what the events give worked
// out exactly here (sums with math/big, the mean rounded once, extremes);
// the sketches are within their documented errors. Three records with
// values of the wrong type are dead-lettered with reason value.
func TestAggregatesExact(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	brokers := "--brokers=" + strings.Join(cluster, ",")
	input := e.name("events")
	dir := t.TempDir()
	first, second := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	events := writeAggEvents(t, first, second, 6000, 5)
	e.createTopic(input, 3)
	run(t, "ingest", brokers, "--topic", input, "--format", "jsonl", "--key-field", "user", first)
	start := func(group string, extra ...string) *proc {
		return startProc(t, append([]string{"aggregate", brokers, "--group", group, "--input", input, "--key", "action", "--time", "time",
			"--window", "1h", "--agg", aggList, "--log-level", "warn"}, extra...)...)
	}
	counts := func(group string, n int) string {
		t.Helper()
		var out string
		eventually(t, 90*time.Second, func() string {
			var got int64
			out, _, got = queryAgg(t, brokers, group)
			if got != int64(n) {
				return fmt.Sprintf("%s counts %d of %d events", group, got, n)
			}
			return ""
		})
		return out
	}

	// The first half, then a kill -9 of one and a clean stop of the other.
	killed, replayed := e.name("killed"), e.name("replayed")
	k, r := start(killed, "--batch-max", "500"), start(replayed, "--batch-max", "7")
	counts(killed, len(events)/2)
	counts(replayed, len(events)/2)
	k.kill(t)
	r.stop(t)
	run(t, "ingest", brokers, "--topic", input, "--format", "jsonl", "--key-field", "user", second)

	one, batched := e.name("one"), e.name("batched")
	p := start(one, "--batch-max", "1")
	want := counts(one, len(events))
	p.stop(t)
	for _, g := range []struct {
		name, group string
		extra       []string
	}{{"default batches", batched, nil}, {"through a kill -9", killed, nil}} {
		p := start(g.group, g.extra...)
		if got := counts(g.group, len(events)); got != want {
			t.Errorf("%s:\n%s\nbatches of one:\n%s", g.name, got, want)
		}
		p.stop(t)
	}

	// Everything again into replayed, with other batch boundaries: the
	// first half is duplicates, some in batches that straddle what its
	// rows applied; the second half counts.
	run(t, "reset", brokers, "--group", replayed, "--to", "earliest", "--yes")
	metricsAddr := freeAddr(t)
	p = start(replayed, "--metrics-listen", metricsAddr)
	labels := fmt.Sprintf(`{group=%q}`, replayed)
	eventually(t, 90*time.Second, func() string {
		m, err := httpGet("http://" + metricsAddr + "/metrics")
		if err != nil {
			return err.Error()
		}
		counted, _ := metricValue(m, "hourglass_counted_total", labels)
		dups, _ := metricValue(m, "hourglass_duplicates_total", labels)
		if counted != float64(len(events)/2) || dups < float64(len(events)/2) {
			return fmt.Sprintf("replay: %v counted, %v duplicates; want %d and at least %d", counted, dups, len(events)/2, len(events)/2)
		}
		return ""
	})
	if got := counts(replayed, len(events)); got != want {
		t.Errorf("after the replay:\n%s\nbatches of one:\n%s", got, want)
	}
	p.stop(t)

	_, rows, _ := queryAgg(t, brokers, one)
	checkAggRows(t, rows, events)

	// The group again with other aggregates: at the first new event of a
	// row it stops, saying why, instead of mixing states.
	p = startProc(t, "aggregate", brokers, "--group", one, "--input", input, "--key", "action", "--time", "time",
		"--window", "1h", "--agg", "sum(bytes)", "--log-level", "warn")
	more := filepath.Join(dir, "c.json")
	writeFile(t, more, fmt.Sprintf(`{"time": %d, "action": "Open", "bytes": 1, "user": "u1"}`+"\n", events[0].at))
	run(t, "ingest", brokers, "--topic", input, "--format", "jsonl", more)
	select {
	case err := <-p.exited:
		if err == nil || !strings.Contains(p.stderr.String(), "other aggregates or keys than --agg") {
			t.Errorf("aggregate with other --agg: %v\n%s", err, p.stderr)
		}
	case <-time.After(90 * time.Second):
		t.Error("aggregate with other --agg still runs after 90 s")
	}
	var reasons []string
	for _, rec := range e.readTopic(processor.DeadLetterTopic(one)) {
		reasons = append(reasons, string(rec.Headers[processor.HeaderErrorKind]))
	}
	if strings.Join(reasons, ",") != "value,value,value" {
		t.Errorf("dead letters of kinds %v, want three of value", reasons)
	}
}

// checkAggRows compares rows with the aggregates of events worked out
// exactly.
func checkAggRows(t *testing.T, rows []aggRow, events []aggEvent) {
	t.Helper()
	type cell struct {
		n     int64
		bytes big.Int
		lats  []float64
		least int64
		users map[string]bool
	}
	cells := map[string]*cell{}
	for _, ev := range events {
		k := fmt.Sprintf("%s|%d", ev.action, ev.at/3600*3600)
		c := cells[k]
		if c == nil {
			c = &cell{least: math.MaxInt64, users: map[string]bool{}}
			cells[k] = c
		}
		c.n++
		c.bytes.Add(&c.bytes, big.NewInt(ev.bytes))
		c.least = min(c.least, ev.bytes)
		c.users[ev.user] = true
		if ev.lat != nil {
			c.lats = append(c.lats, *ev.lat)
		}
	}
	if len(rows) != len(cells) {
		t.Fatalf("%d rows, want %d", len(rows), len(cells))
	}
	for _, r := range rows {
		c := cells[fmt.Sprintf("%s|%d", r.Key, r.WindowStart.Unix())]
		if c == nil {
			t.Errorf("unexpected row %+v", r)
			continue
		}
		sum := new(big.Rat)
		for _, f := range c.lats {
			sum.Add(sum, new(big.Rat).SetFloat64(f))
		}
		avg, _ := sum.Quo(sum, big.NewRat(int64(len(c.lats)), 1)).Float64()
		sorted := slices.Clone(c.lats)
		sort.Float64s(sorted)
		if r.Count != c.n || string(r.SumBytes) != c.bytes.String() || r.AvgLat == nil || *r.AvgLat != avg ||
			r.MaxLat == nil || *r.MaxLat != sorted[len(sorted)-1] || string(r.Least) != strconv.FormatInt(c.least, 10) {
			t.Errorf("row %s %s: count %d, sum %s, avg %v, max %v, least %s; want %d, %s, %v, %v, %d",
				r.Key, r.WindowStart, r.Count, r.SumBytes, deref(r.AvgLat), deref(r.MaxLat), r.Least, c.n, c.bytes.String(), avg, sorted[len(sorted)-1], c.least)
		}
		if d := math.Abs(float64(r.Distinct - int64(len(c.users)))); d > 0.025*float64(len(c.users)) {
			t.Errorf("row %s %s: %d distinct users, want %d within 2.5%%", r.Key, r.WindowStart, r.Distinct, len(c.users))
		}
		// DDSketch: within 1% of a value whose rank is near 0.9.
		lo, hi := sorted[int(math.Floor(0.9*float64(len(sorted)-1)))], sorted[int(math.Ceil(0.9*float64(len(sorted)-1)))]
		if r.P90 == nil || *r.P90 < lo*0.99 || *r.P90 > hi*1.01 {
			t.Errorf("row %s %s: p90 %v, want within 1%% of [%v, %v]", r.Key, r.WindowStart, deref(r.P90), lo, hi)
		}
	}
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

// TestSeveralKeys groups by three keys, one renamed (--key band=meta.band):
// every output gives a column per key (query in each format, --totals,
// --sql, the output topic, serve's API), the counts are exact, a record
// without one of the keys is dead-lettered with reason key, and a list
// in --key is a start-up error saying to repeat the flag.
func TestSeveralKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	brokers := "--brokers=" + strings.Join(cluster, ",")
	input, group, output := e.name("events"), e.name("keys"), e.name("rows")
	var b strings.Builder
	want := map[string]int{}
	totals := map[string]int{}
	for i := range 600 {
		action, site, band := []string{"Open", "Close"}[i%2], fmt.Sprintf("s%d", i%3), []string{"g", "r"}[i%5/4]
		at := pageEpoch.Unix() + int64(i*30) // 5 hours
		fmt.Fprintf(&b, `{"time": %d, "action": %q, "site": %q, "meta": {"band": %q}}`+"\n", at, action, site, band)
		want[fmt.Sprintf("%s,%s,%s,%s", action, site, band, time.Unix(at/3600*3600, 0).UTC().Format(time.RFC3339))]++
		totals[action+","+site+","+band]++
	}
	b.WriteString(`{"time": 1469491200, "action": "Open", "meta": {"band": "g"}}` + "\n")
	file := filepath.Join(t.TempDir(), "events.json")
	writeFile(t, file, b.String())
	e.createTopic(input, 3)
	run(t, "ingest", brokers, "--topic", input, "--format", "lines", file)

	if out, err := exec.Command(binary(t), "aggregate", brokers, "--group", group, "--input", input, "--key", "action,site", "--time", "time", "--window", "1h").CombinedOutput(); err == nil || !strings.Contains(string(out), "repeat --key") {
		t.Errorf("--key action,site: %v\n%s", err, out)
	}
	serveAddr := freeAddr(t)
	p := startProc(t, "aggregate", brokers, "--group", group, "--input", input, "--key", "action", "--key", "site", "--key", "band=meta.band",
		"--time", "time", "--window", "1h", "--output", output, "--log-level", "warn")
	defer p.stop(t)
	var csv string
	eventually(t, 90*time.Second, func() string {
		b, err := exec.Command(binary(t), "query", brokers, "--group", group, "--format", "csv").Output()
		if err != nil {
			return err.Error()
		}
		csv = string(b)
		got := map[string]int{}
		lines := strings.Split(strings.TrimSpace(csv), "\n")
		if lines[0] != "action,site,band,window_start,window_end,count" {
			return "header " + lines[0]
		}
		for _, l := range lines[1:] {
			f := strings.Split(l, ",")
			n, _ := strconv.Atoi(f[5])
			got[strings.Join(f[:4], ",")] = n
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Sprintf("rows %v, want %v", got, want)
		}
		return ""
	})
	var tot []string
	for k, n := range totals {
		tot = append(tot, fmt.Sprintf("%s,%d", k, n))
	}
	sort.Strings(tot)
	if got := run(t, "query", brokers, "--group", group, "--format", "csv", "--totals"); got != "action,site,band,total\n"+strings.Join(tot, "\n")+"\n" {
		t.Errorf("--totals:\n%s\nwant\n%s", got, strings.Join(tot, "\n"))
	}
	if got := run(t, "query", brokers, "--group", group, "--format", "csv", "--sql", "select band, sum(count) as n from windows group by band order by band"); got != "band,n\ng,480\nr,120\n" {
		t.Errorf("--sql by band:\n%s", got)
	}
	if got := run(t, "query", brokers, "--group", group, "--format", "json"); !strings.Contains(got, `{"action":"Close","site":"s1","band":"g","window_start":"2016-07-26T00:00:00Z"`) {
		t.Errorf("--format json:\n%s", got)
	}
	eventually(t, 30*time.Second, func() string {
		for _, rec := range e.readTopic(output) {
			var row map[string]any
			if err := json.Unmarshal(rec.Value, &row); err != nil {
				return err.Error()
			}
			if row["action"] == nil || row["site"] == nil || row["band"] == nil || row["key"] != nil || row["final"] != false {
				return fmt.Sprintf("output row %s", rec.Value)
			}
		}
		return ""
	})
	var kinds []string
	for _, rec := range e.readTopic(processor.DeadLetterTopic(group)) {
		kinds = append(kinds, string(rec.Headers[processor.HeaderErrorKind])+": "+string(rec.Headers[processor.HeaderError]))
	}
	if len(kinds) != 1 || !strings.HasPrefix(kinds[0], "key: group key site") {
		t.Errorf("dead letters %v, want one of kind key naming site", kinds)
	}

	srv := startProc(t, "serve", brokers, "--group", group, "--listen", serveAddr, "--log-level", "warn")
	defer srv.stop(t)
	eventually(t, 60*time.Second, func() string {
		body, err := httpGet("http://" + serveAddr + "/api/totals")
		if err != nil {
			return err.Error()
		}
		if !strings.Contains(body, `"keys":["action","site","band"]`) || !strings.Contains(body, `{"action":"Close","site":"s0","band":"g","total":`) {
			return body
		}
		return ""
	})
}
