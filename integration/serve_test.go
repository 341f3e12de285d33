package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// freeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago, for a process that must be told its --listen address.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func httpGet(url string) (string, error) {
	res, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", url, res.Status, b)
	}
	return string(b), err
}

// metricValue finds one sample of a Prometheus text exposition.
func metricValue(exposition, name, labels string) (float64, bool) {
	for _, line := range strings.Split(exposition, "\n") {
		if rest, ok := strings.CutPrefix(line, name+labels+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			return v, err == nil
		}
	}
	return 0, false
}

// windowsResponse is serve's answer to GET /api/windows.
type windowsResponse struct {
	Group string `json:"group"`
	Rows  []struct {
		Key         string `json:"key"`
		WindowStart string `json:"window_start"`
		WindowEnd   string `json:"window_end"`
		Count       int64  `json:"count"`
	} `json:"rows"`
	Recovered bool  `json:"recovered"`
	Lag       int64 `json:"lag"`
}

// counts returns the rows' counts by "key|window start (epoch s)", as
// expected builds them.
func (w windowsResponse) counts() (map[string]int64, error) {
	got := map[string]int64{}
	for _, r := range w.Rows {
		start, err := time.Parse(time.RFC3339, r.WindowStart)
		if err != nil {
			return nil, err
		}
		got[fmt.Sprintf("%s|%d", r.Key, start.Unix())] = r.Count
	}
	return got, nil
}

// TestServe runs aggregate (with --metrics-listen) and serve as processes
// and checks the JSON API, both metrics endpoints and query --sql
// (TestServePage checks the page).
func TestServe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	events, input, brokers := e.ingestCLI(t, 3000, 2, 61)
	bad := filepath.Join(t.TempDir(), "bad.txt")
	writeFile(t, bad, "not json\n{\"time\": \"soon\", \"action\": \"Open\"}\n{\"action\": \"Close\"}\n")
	group := e.name("hourly")
	run(t, "ingest", brokers, "--topic", input, "--format", "lines", bad)

	metricsAddr, serveAddr := freeAddr(t), freeAddr(t)
	agg := startProc(t, "aggregate", brokers, "--group", group, "--input", input, "--key", "action", "--time", "time",
		"--window", "1h", "--metrics-listen", metricsAddr, "--log-level", "warn")
	want := expected(events)
	eventually(t, 60*time.Second, func() string {
		if _, err := httpGet("http://" + metricsAddr + "/metrics"); err != nil {
			return err.Error()
		}
		return ""
	})
	// serve refuses a group without a table; aggregate creates it after its
	// metrics endpoint is up.
	e.openView(group)
	srv := startProc(t, "serve", brokers, "--group", group, "--listen", serveAddr, "--log-level", "warn")
	base := "http://" + serveAddr

	var last windowsResponse
	eventually(t, 60*time.Second, func() string {
		body, err := httpGet(base + "/api/windows")
		if err != nil {
			return err.Error()
		}
		last = windowsResponse{}
		if err := json.Unmarshal([]byte(body), &last); err != nil {
			return err.Error()
		}
		if !last.Recovered || last.Lag != 0 {
			return fmt.Sprintf("recovered %v, lag %d", last.Recovered, last.Lag)
		}
		got, err := last.counts()
		if err != nil {
			return err.Error()
		}
		return diff(got, want)
	})
	if last.Group != group {
		t.Errorf("group %q", last.Group)
	}
	wantTotals := fmt.Sprintf(`{"group":%q,"rows":[{"key":"Close","total":%d},{"key":"Open","total":%d}],"recovered":true,"lag":0}`,
		group, countAction(want, "Close"), countAction(want, "Open"))
	if body, err := httpGet(base + "/api/totals"); err != nil || strings.TrimSpace(body) != wantTotals {
		t.Errorf("/api/totals: %s %v\nwant %s", body, err, wantTotals)
	}

	// The aggregator's metrics after a known input: 3,000 events counted,
	// 3 bad lines dead-lettered.
	labels := fmt.Sprintf(`{group=%q}`, group)
	eventually(t, 30*time.Second, func() string {
		m, err := httpGet("http://" + metricsAddr + "/metrics")
		if err != nil {
			return err.Error()
		}
		for name, want := range map[string]float64{
			"hourglass_records_in_total": 3003, "hourglass_counted_total": 3000,
			"hourglass_dead_lettered_total": 3, "hourglass_duplicates_total": 0,
		} {
			if got, ok := metricValue(m, name, labels); !ok || got != want {
				return fmt.Sprintf("%s%s = %v (found %v), want %v", name, labels, got, ok, want)
			}
		}
		if !strings.Contains(m, "hourglass_partition_lag{") || !strings.Contains(m, "hourglass_processing_latency_seconds_count") {
			return "no lag or latency metrics"
		}
		return ""
	})
	m, err := httpGet(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := metricValue(m, "hourglass_view_recovered", labels); !ok || v != 1 {
		t.Errorf("hourglass_view_recovered = %v, %v", v, ok)
	}
	if v, ok := metricValue(m, "hourglass_view_rows", labels); !ok || int(v) != len(want) {
		t.Errorf("hourglass_view_rows = %v, want %d", v, len(want))
	}

	// The notebook's queries through query --sql.
	if got, want := run(t, "query", brokers, "--group", group, "--format", "csv", "--sql",
		"select key, sum(count) as total from windows group by key order by key"),
		fmt.Sprintf("key,total\nClose,%d\nOpen,%d\n", countAction(want, "Close"), countAction(want, "Open")); got != want {
		t.Errorf("query --sql totals:\n%s\nwant\n%s", got, want)
	}
	ordered := run(t, "query", brokers, "--group", group, "--format", "csv", "--sql",
		"select key, window_start, count from windows order by window_start, key")
	if lines := strings.Count(ordered, "\n"); lines != len(want)+1 {
		t.Errorf("query --sql ordered rows: %d lines, want %d", lines, len(want)+1)
	}

	srv.stop(t)
	agg.stop(t)
}

func countAction(want map[string]int64, action string) int64 {
	var n int64
	for k, v := range want {
		if strings.HasPrefix(k, action+"|") {
			n += v
		}
	}
	return n
}

// httpStatus returns the status code and body of GET url.
func httpStatus(url string) (int, string, error) {
	res, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

// TestServeBeforeAggregate: serve started before its group's table exists
// (the order a deployment starts them in) stays up: /healthz 200, /readyz
// and the API 503 saying why, until aggregate has made the table and the
// view has caught up; then it serves the table. aggregate's own /readyz
// turns 200 once both its steps have joined their groups. Before, serve
// exited at once with "no group table".
func TestServeBeforeAggregate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	events, dir := writeData(t, 1000, 2, 67)
	input, group := e.name("events"), e.name("hourly")
	brokers := "--brokers=" + strings.Join(cluster, ",")
	serveAddr, metricsAddr := freeAddr(t), freeAddr(t)
	srv := startProc(t, "serve", brokers, "--group", group, "--listen", serveAddr, "--log-level", "warn")
	base := "http://" + serveAddr
	eventually(t, 30*time.Second, func() string {
		code, body, err := httpStatus(base + "/readyz")
		switch {
		case err != nil:
			return err.Error()
		case code != http.StatusServiceUnavailable || !strings.Contains(body, "no group table"):
			return fmt.Sprintf("/readyz before the table: %d %s", code, body)
		}
		return ""
	})
	if code, body, err := httpStatus(base + "/healthz"); err != nil || code != http.StatusOK {
		t.Fatalf("/healthz: %d %s %v", code, body, err)
	}
	if code, body, err := httpStatus(base + "/api/windows"); err != nil || code != http.StatusServiceUnavailable || !strings.Contains(body, "no group table") {
		t.Fatalf("/api/windows before the table: %d %s %v", code, body, err)
	}

	run(t, "ingest", brokers, "--topic", input, dir)
	agg := startProc(t, "aggregate", brokers, "--group", group, "--input", input, "--key", "action", "--time", "time",
		"--window", "1h", "--metrics-listen", metricsAddr, "--log-level", "warn")
	eventually(t, 60*time.Second, func() string {
		code, body, err := httpStatus("http://" + metricsAddr + "/readyz")
		if err != nil || code != http.StatusOK || strings.TrimSpace(body) != `{"ready":true}` {
			return fmt.Sprintf("aggregate /readyz: %d %s %v", code, body, err)
		}
		return ""
	})
	if code, _, err := httpStatus("http://" + metricsAddr + "/healthz"); err != nil || code != http.StatusOK {
		t.Errorf("aggregate /healthz: %d %v", code, err)
	}
	want := expected(events)
	eventually(t, 60*time.Second, func() string {
		if code, body, err := httpStatus(base + "/readyz"); err != nil || code != http.StatusOK {
			return fmt.Sprintf("serve /readyz: %d %s %v", code, body, err)
		}
		body, err := httpGet(base + "/api/windows")
		if err != nil {
			return err.Error()
		}
		var resp windowsResponse
		if err := json.Unmarshal([]byte(body), &resp); err != nil {
			return err.Error()
		}
		got, err := resp.counts()
		if err != nil {
			return err.Error()
		}
		return diff(got, want)
	})
	agg.stop(t)
	srv.stop(t)
}
