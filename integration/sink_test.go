package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/internal/pgtest"
	"github.com/hourglass-stream/hourglass/processor"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/jackc/pgx/v5"
)

// pgQuery runs query on dsn and returns its rows as CSV-like lines.
func pgQuery(t *testing.T, dsn, query string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close(context.Background())
	rows, err := db.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		var cells []string
		for _, v := range vals {
			if tm, ok := v.(time.Time); ok {
				v = tm.UTC().Format(time.RFC3339)
			}
			cells = append(cells, fmt.Sprint(v))
		}
		out = append(out, strings.Join(cells, ","))
	}
	return out, rows.Err()
}

// TestSinkPostgres runs the demo's 100,000 events through aggregate
// --output and two sinks of one group into a real PostgreSQL (started
// here). One sink is killed with SIGKILL halfway and started again. The
// database ends equal to the group table (select key, sum(count) gives
// Close 50000 and Open 50000), and a second table whose CHECK refuses
// counts of 600 or more sends those rows to the dead-letter topic with the
// database's error.
func TestSinkPostgres(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Start(t)
	e := newEnv(t)
	brokers := "--brokers=" + strings.Join(cluster, ",")
	events, dir := writeData(t, 100000, 50, 1)
	input, group, output := e.name("events"), e.name("hourly"), e.name("rows")
	e.createTopic(input, 4)
	files := dataFiles(t, dir)
	run(t, append([]string{"ingest", brokers, "--topic", input}, files[:25]...)...)
	agg := startProc(t, "aggregate", brokers, "--group", group, "--input", input, "--key", "action", "--time", "time",
		"--window", "1h", "--output", output, "--log-level", "warn")
	defer agg.stop(t)
	sink := func(table string, extra ...string) *proc {
		return startProc(t, append([]string{"sink", brokers, "--group", group, "--topic", output, "--to", dsn, "--table", table, "--max-batch", "300", "--log-level", "warn"}, extra...)...)
	}
	metricsAddr := freeAddr(t)
	a, b := sink("hourly"), sink("hourly", "--metrics-listen", metricsAddr)
	eventually(t, 90*time.Second, func() string {
		rows, err := pgQuery(t, dsn, "select count(*) from hourly")
		if err != nil || len(rows) == 0 || rows[0] == "0" {
			return fmt.Sprintf("nothing in the database yet (%v)", err)
		}
		return ""
	})
	a.kill(t)
	run(t, append([]string{"ingest", brokers, "--topic", input}, files[25:]...)...)
	a = sink("hourly")
	defer a.stop(t)
	defer b.stop(t)

	want := expected(events)
	eventually(t, 120*time.Second, func() string {
		rows, err := pgQuery(t, dsn, "select key, window_start, count from hourly")
		if err != nil {
			return err.Error()
		}
		got := map[string]int64{}
		for _, r := range rows {
			f := strings.Split(r, ",")
			at, _ := time.Parse(time.RFC3339, f[1])
			var n int64
			fmt.Sscan(f[2], &n)
			got[fmt.Sprintf("%s|%d", f[0], at.Unix())] = n
		}
		return diff(got, want)
	})
	if rows, err := pgQuery(t, dsn, "select key, sum(count)::bigint from hourly group by key order by key"); err != nil || strings.Join(rows, ";") != "Close,50000;Open,50000" {
		t.Errorf("totals in the database: %v %v", rows, err)
	}
	if rows, err := pgQuery(t, dsn, "select count(*) from hourly where final"); err != nil || rows[0] != "0" {
		t.Errorf("final rows without a watermark: %v %v", rows, err)
	}
	// The second sink is ready and has applied records (its share).
	if code, body, err := httpStatus("http://" + metricsAddr + "/readyz"); err != nil || code != 200 {
		t.Errorf("sink /readyz: %d %s %v", code, body, err)
	}
	eventually(t, 30*time.Second, func() string {
		m, err := httpGet("http://" + metricsAddr + "/metrics")
		if err != nil {
			return err.Error()
		}
		if n, ok := metricValue(m, "hourglass_sink_records_total", fmt.Sprintf(`{group=%q,table="hourly"}`, group)); !ok || n == 0 {
			return fmt.Sprintf("hourglass_sink_records_total = %v (%v)", n, ok)
		}
		return ""
	})

	// A table that refuses big counts: those rows are dead letters.
	if _, err := pgQuery(t, dsn, `create table small (key text not null, window_start timestamptz not null, window_end timestamptz not null,
		count bigint not null check (count < 600), final boolean not null, primary key (key, window_start))`); err != nil {
		t.Fatal(err)
	}
	c := sink("small")
	defer c.stop(t)
	eventually(t, 90*time.Second, func() string {
		var refused []string
		seen := map[string]bool{} // row keys in small or dead-lettered
		recs, err := e.tryReadTopic(processor.DeadLetterTopic(group))
		if err != nil {
			return err.Error()
		}
		for _, r := range recs {
			if string(r.Headers[processor.HeaderErrorKind]) != "sink" || !strings.Contains(string(r.Headers[processor.HeaderError]), "check constraint") {
				return fmt.Sprintf("dead letter %s: %s", r.Headers[processor.HeaderErrorKind], r.Headers[processor.HeaderError])
			}
			refused = append(refused, string(r.Value))
			seen[string(r.Key)] = true
		}
		if len(refused) == 0 {
			return "no dead letters yet"
		}
		for _, v := range refused {
			var n int
			i := strings.Index(v, `"count":`)
			fmt.Sscan(v[i+len(`"count":`):], &n)
			if n < 600 {
				return "a row of count < 600 was refused: " + v
			}
		}
		rows, err := pgQuery(t, dsn, "select count(*) from small where count >= 600")
		if err != nil || rows[0] != "0" {
			return fmt.Sprintf("rows of 600 or more in small: %v %v", rows, err)
		}
		// Every row is in small (at a version under 600) or refused.
		rows, err = pgQuery(t, dsn, "select key || '|' || to_char(window_start at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') from small")
		if err != nil {
			return err.Error()
		}
		for _, k := range rows {
			seen[k] = true
		}
		if len(seen) != len(want) {
			return fmt.Sprintf("%d rows in small or refused, want all %d", len(seen), len(want))
		}
		return ""
	})
}

// dataFiles lists writeData's files in time order (file-0.json, …).
func dataFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	for i := 0; ; i++ {
		f := filepath.Join(dir, fmt.Sprintf("file-%d.json", i))
		if _, err := os.Stat(f); err != nil {
			break
		}
		files = append(files, f)
	}
	if len(files) != 50 {
		t.Fatalf("%d data files", len(files))
	}
	return files
}

// TestSinkSessions: sessions that merge leave tombstones in the output,
// and the sink deletes their rows: the database holds the merged session
// only, as the group table does.
func TestSinkSessions(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Start(t)
	e := newEnv(t)
	input, group, output := e.name("events"), e.name("sessions"), e.name("rows")
	e.createTopic(input, 1)
	cfg := e.aggregateConfig(group, input, output)
	cfg.Windows = windows.SessionGap(30 * time.Minute)
	cfg.Watermark, cfg.Emit = &windows.Closer{Lateness: 2 * time.Hour}, processor.EmitUpdate // nothing here is late
	e.startAggregator(cfg)
	e.produceTo(input,
		ev{0, "08:00:00", "Open"}, ev{0, "08:50:00", "Open"}, ev{0, "09:30:00", "Close"})
	s := startProc(t, "sink", "--brokers="+strings.Join(cluster, ","), "--group", group, "--topic", output, "--to", dsn, "--table", "sessions", "--log-level", "warn")
	defer s.stop(t)
	rows := func() string {
		r, err := pgQuery(t, dsn, "select key, window_start, window_end, count from sessions order by window_start")
		if err != nil {
			return err.Error()
		}
		return strings.Join(r, " ")
	}
	eventually(t, time.Minute, func() string {
		if got := rows(); got != "Open,2016-07-26T08:00:00Z,2016-07-26T08:30:00Z,1 Open,2016-07-26T08:50:00Z,2016-07-26T09:20:00Z,1 Close,2016-07-26T09:30:00Z,2016-07-26T10:00:00Z,1" {
			return "before the merge: " + got
		}
		return ""
	})
	e.produceTo(input, ev{0, "08:25:00", "Open"}) // bridges 08:00 and 08:50: one session 08:00–09:20
	eventually(t, time.Minute, func() string {
		if got := rows(); got != "Open,2016-07-26T08:00:00Z,2016-07-26T09:20:00Z,3 Close,2016-07-26T09:30:00Z,2016-07-26T10:00:00Z,1" {
			return "after the merge: " + got
		}
		return ""
	})
}
