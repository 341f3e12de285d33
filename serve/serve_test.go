package serve

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/agg"
	"github.com/hourglass-stream/hourglass/table"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/prometheus/client_golang/prometheus"
)

type fakeView struct{ rows []windows.Result }

func (f fakeView) Rows(flt table.Filter) ([]windows.Result, error) {
	var out []windows.Result
	for _, r := range f.rows {
		if (flt.KeySet && r.Key != flt.Key) || (!flt.From.IsZero() && r.WindowStart.Before(flt.From)) || (!flt.To.IsZero() && !r.WindowStart.Before(flt.To)) {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}
func (f fakeView) Select(q table.Query) (table.Page, error) {
	rows, _ := f.Rows(q.Filter)
	var out []table.Row
	for _, r := range rows {
		out = append(out, table.Row{Result: r, Final: r.WindowStart.Hour() == 0})
	}
	p, err := table.Paginate(out, q)
	p.Progress.ClosedTo = time.Date(2016, 7, 26, 1, 0, 0, 0, time.UTC)
	return p, err
}
func (fakeView) Recovered() bool                    { return true }
func (fakeView) Lag(context.Context) (int64, error) { return 3, nil }

func server(t *testing.T) *httptest.Server {
	at := func(h int) time.Time { return time.Date(2016, 7, 26, h, 0, 0, 0, time.UTC) }
	v := fakeView{rows: []windows.Result{
		{Key: "Close", WindowStart: at(0), WindowEnd: at(1), Count: 2},
		{Key: "Open", WindowStart: at(0), WindowEnd: at(1), Count: 5},
		{Key: "Open", WindowStart: at(1), WindowEnd: at(2), Count: 7},
	}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "hourglass_test_gauge", Help: "a test gauge"}))
	s := httptest.NewServer(Handler("hourly", v, reg))
	t.Cleanup(s.Close)
	return s
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestAPI(t *testing.T) {
	s := server(t)
	for _, tc := range []struct{ path, want string }{
		// Newest window first, with the final flag and the watermark.
		{"/api/windows", `{"group":"hourly","rows":[{"key":"Open","window_start":"2016-07-26T01:00:00Z","window_end":"2016-07-26T02:00:00Z","count":7,"final":false},{"key":"Close","window_start":"2016-07-26T00:00:00Z","window_end":"2016-07-26T01:00:00Z","count":2,"final":true},{"key":"Open","window_start":"2016-07-26T00:00:00Z","window_end":"2016-07-26T01:00:00Z","count":5,"final":true}],"recovered":true,"lag":3,"watermark":"2016-07-26T01:00:00Z"}`},
		{"/api/windows?order=oldest&limit=2", `{"group":"hourly","rows":[{"key":"Close","window_start":"2016-07-26T00:00:00Z","window_end":"2016-07-26T01:00:00Z","count":2,"final":true},{"key":"Open","window_start":"2016-07-26T00:00:00Z","window_end":"2016-07-26T01:00:00Z","count":5,"final":true}],"recovered":true,"lag":3,"next":"WzE0Njk0OTEyMDAwMDAsMTQ2OTQ5NDgwMDAwMCwiT3BlbiJd","watermark":"2016-07-26T01:00:00Z"}`},
		{"/api/windows?order=oldest&limit=2&cursor=WzE0Njk0OTEyMDAwMDAsMTQ2OTQ5NDgwMDAwMCwiT3BlbiJd", `{"group":"hourly","rows":[{"key":"Open","window_start":"2016-07-26T01:00:00Z","window_end":"2016-07-26T02:00:00Z","count":7,"final":false}],"recovered":true,"lag":3,"watermark":"2016-07-26T01:00:00Z"}`},
		{"/api/windows?key=Open&from=2016-07-26T01:00:00Z", `{"group":"hourly","rows":[{"key":"Open","window_start":"2016-07-26T01:00:00Z","window_end":"2016-07-26T02:00:00Z","count":7,"final":false}],"recovered":true,"lag":3,"watermark":"2016-07-26T01:00:00Z"}`},
		{"/api/windows?key=none", `{"group":"hourly","rows":[],"recovered":true,"lag":3,"watermark":"2016-07-26T01:00:00Z"}`},
		{"/api/totals", `{"group":"hourly","rows":[{"key":"Close","total":2},{"key":"Open","total":12}],"recovered":true,"lag":3}`},
	} {
		code, body := get(t, s.URL+tc.path)
		if code != 200 || strings.TrimSpace(body) != tc.want {
			t.Errorf("GET %s: %d %s\nwant %s", tc.path, code, body, tc.want)
		}
	}
	for _, bad := range []string{"from=yesterday", "limit=0", "limit=100001", "limit=ten", "order=random", "cursor=nope"} {
		if code, body := get(t, s.URL+"/api/windows?"+bad); code != 400 || !strings.Contains(body, "error") {
			t.Errorf("%s: %d %s", bad, code, body)
		}
	}
}

func TestPageMetricsAndReadOnly(t *testing.T) {
	s := server(t)
	code, body := get(t, s.URL+"/")
	if code != 200 || !strings.Contains(body, `id="chart"`) {
		t.Errorf("page: %d, %d bytes", code, len(body))
	}
	for _, external := range []string{`src="http`, `href="http`, `src="//`, `href="//`, "@import"} {
		if strings.Contains(body, external) {
			t.Errorf("the page loads an asset from outside: %s", external)
		}
	}
	// The page's own script, style and uPlot, from the binary; no listings,
	// and a policy that allows no inline script and no other origin.
	for path, want := range map[string]string{
		"/static/page.js":                 "hourglassChart",
		"/static/page.css":                "#chart",
		"/static/uplot/uPlot.iife.min.js": "uPlot",
		"/static/uplot/uPlot.min.css":     ".uplot",
	} {
		res, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d, %d bytes, want %q in it", path, res.StatusCode, len(b), want)
		}
		if csp := res.Header.Get("Content-Security-Policy"); csp != pageCSP {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
	}
	for _, path := range []string{"/static/", "/static/uplot/", "/static/index.html", "/static/nope.js"} {
		if code, _ := get(t, s.URL+path); code != 404 {
			t.Errorf("%s: %d, want 404", path, code)
		}
	}
	res, err := http.Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if csp := res.Header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe") || !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("page: Content-Security-Policy %q", csp)
	}
	if code, body := get(t, s.URL+"/metrics"); code != 200 || !strings.Contains(body, "hourglass_test_gauge 0") {
		t.Errorf("metrics: %d %s", code, body)
	}
	if code, _ := get(t, s.URL+"/nope"); code != 404 {
		t.Errorf("unknown path: %d", code)
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(m, s.URL+"/api/windows", strings.NewReader("{}"))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d, want 405", m, res.StatusCode)
		}
	}
	var v map[string]any
	_, body = get(t, s.URL+"/api/totals")
	if err := json.Unmarshal([]byte(body), &v); err != nil || v["recovered"] != true {
		t.Errorf("totals JSON %s: %v", body, err)
	}
}

// TestAPIAggregates: rows with --agg columns carry them by name, after
// count and before final; totals merge them (2^63 + 2.5, a float sum,
// rounds once to 2^63).
func TestAPIAggregates(t *testing.T) {
	specs, err := agg.Parse([]string{"sum(v),max(v) as top"})
	if err != nil {
		t.Fatal(err)
	}
	at := func(h int) time.Time { return time.Date(2016, 7, 26, h, 0, 0, 0, time.UTC) }
	row := func(h int, vals ...any) windows.Result {
		cols := agg.NewColumns(specs)
		for _, c := range cols {
			for _, v := range vals {
				_ = c.State.Add(v)
			}
		}
		return windows.Result{Key: "Open", WindowStart: at(h), WindowEnd: at(h + 1), Count: int64(len(vals)), Aggs: cols}
	}
	s := httptest.NewServer(Handler("g", fakeView{rows: []windows.Result{row(1, int64(2), 0.5), row(2, int64(1)<<62, int64(1)<<62)}}, prometheus.NewRegistry()))
	defer s.Close()
	for path, want := range map[string]string{
		"/api/windows?order=oldest": `"rows":[{"key":"Open","window_start":"2016-07-26T01:00:00Z","window_end":"2016-07-26T02:00:00Z","count":2,"sum_v":2.5,"top":2,"final":false},{"key":"Open","window_start":"2016-07-26T02:00:00Z","window_end":"2016-07-26T03:00:00Z","count":2,"sum_v":9223372036854775808,"top":4611686018427387904,"final":false}]`,
		"/api/totals":               `"rows":[{"key":"Open","total":4,"sum_v":9223372036854776000,"top":4611686018427387904}]`,
	} {
		if _, body := get(t, s.URL+path); !strings.Contains(body, want) {
			t.Errorf("%s: %s\nwant %s", path, body, want)
		}
	}
}
