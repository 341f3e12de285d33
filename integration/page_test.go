package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chartState is the page's window.hourglassChart: what it drew last.
type chartState struct {
	Mode        string            `json:"mode"`
	Windows     int               `json:"windows"`
	Keys        int               `json:"keys"`
	Rows        int               `json:"rows"`
	FetchedRows int               `json:"fetchedRows"`
	Bars        int               `json:"bars"`
	Points      int               `json:"points"`
	First       string            `json:"first"`
	Last        string            `json:"last"`
	Sum         int64             `json:"sum"`
	Fit         int               `json:"fit"`
	DrawMs      float64           `json:"drawMs"`
	RedrawMs    float64           `json:"redrawMs"`
	Redraws     int               `json:"redraws"`
	Polls       int               `json:"polls"`
	Colours     map[string]string `json:"colours"`
	Hidden      []string          `json:"hidden"`
	Measure     string            `json:"measure"`
	Measures    []string          `json:"measures"`
	MeasureSum  float64           `json:"measureSum"`
	Error       string            `json:"error"`
}

// pageCount is the count of key k in window w of TestServePage's tables:
// 1 to 11, a daily wave shifted per key, so that lines and bars differ.
func pageCount(w, k int) int {
	return 1 + k%5 + int(3*(1+math.Sin(2*math.Pi*float64(w)/24+float64(k))))
}

var pageEpoch = time.Date(2016, 7, 26, 0, 0, 0, 0, time.UTC)

// writePageEvents writes JSON lines, pageCount(w, k) events of key
// name(k) in each hourly window w < windows, each with v = 100w + k, and
// returns their number.
func writePageEvents(t *testing.T, path string, windows, keys int, name func(int) string) int {
	t.Helper()
	var b strings.Builder
	n := 0
	for w := range windows {
		for k := range keys {
			for i := range pageCount(w, k) {
				fmt.Fprintf(&b, `{"time": %d, "action": %q, "v": %d}`+"\n", pageEpoch.Unix()+int64(w*3600+i), name(k), 100*w+k)
				n++
			}
		}
	}
	writeFile(t, path, b.String())
	return n
}

// TestServePage loads serve's page in headless Chromium (make
// test-browser) over a table of 20 windows × 2 keys and one of 1,000
// windows × 30 keys. It checks what the page drew (bars or lines, windows,
// keys, the sum), that it fetched only the rows it drew, how long a redraw
// takes, that a key switched off in the legend stays off, and that colours
// stay with their keys as a key arrives; it saves both screenshots in
// $HOURGLASS_ARTIFACTS. The page does not depend on the broker, so it runs
// on the embedded one only.
func TestServePage(t *testing.T) {
	if os.Getenv("HOURGLASS_TEST_BROKERS") != "" {
		t.Skip("the page test runs on the embedded broker (make test-browser)")
	}
	chromium := findChromium(t)
	for _, tc := range []struct {
		windows, keys int
		mode          string
	}{{20, 2, "bars"}, {1000, 30, "lines"}} {
		t.Run(fmt.Sprintf("%dx%d", tc.windows, tc.keys), func(t *testing.T) {
			t.Parallel()
			servePage(t, chromium, tc.windows, tc.keys, tc.mode)
		})
	}
}

func servePage(t *testing.T, chromium string, windows, keys int, mode string) {
	e := newEnv(t)
	name := func(k int) string { return fmt.Sprintf("k%02d", k) }
	input, group, brokers := e.name("events"), e.name("page"), "--brokers="+strings.Join(cluster, ",")
	file := filepath.Join(t.TempDir(), "events.json")
	events := writePageEvents(t, file, windows, keys, name)
	run(t, "ingest", brokers, "--topic", input, "--format", "lines", file)
	args := []string{"aggregate", brokers, "--group", group, "--input", input, "--key", "action", "--time", "time", "--window", "1h", "--log-level", "warn"}
	if mode == "bars" {
		args = append(args, "--agg", "max(v)") // a measure to pick
	}
	agg := startProc(t, args...)
	defer agg.stop(t)
	e.openView(group)
	addr := freeAddr(t)
	srv := startProc(t, "serve", brokers, "--group", group, "--listen", addr, "--log-level", "warn")
	defer srv.stop(t)
	waitTotal(t, "http://"+addr, int64(events))

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 800), chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx, chromedp.Navigate("http://"+addr+"/")); err != nil {
		t.Fatal(err)
	}
	state := func() chartState {
		raw, err := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify(window.hourglassChart || {})`))
		if err != nil {
			t.Fatal(err)
		}
		var s chartState
		if err := json.Unmarshal([]byte(raw), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	// waitDrawn waits for a redraw after the poll counted now, of keys keys.
	waitDrawn := func(keys int) chartState {
		t.Helper()
		after := state().Polls
		var s chartState
		eventually(t, 60*time.Second, func() string {
			if s = state(); s.Error != "" {
				return "page: " + s.Error
			}
			if s.Polls < after+2 || s.Redraws < 1 || s.Keys != keys {
				return fmt.Sprintf("polls %d (after %d), redraws %d, keys %d (want %d)", s.Polls, after, s.Redraws, s.Keys, keys)
			}
			return ""
		})
		return s
	}

	s := waitDrawn(keys)
	drawn := min(windows, s.Fit)
	var sum int64
	for w := windows - drawn; w < windows; w++ {
		for k := range keys {
			sum += int64(pageCount(w, k))
		}
	}
	wantFirst := pageEpoch.Add(time.Duration(windows-drawn) * time.Hour).Format(time.RFC3339)
	wantLast := pageEpoch.Add(time.Duration(windows-1) * time.Hour).Format(time.RFC3339)
	if s.Mode != mode || s.Windows != drawn || s.Rows != drawn*keys || s.First != wantFirst || s.Last != wantLast || s.Sum != sum {
		t.Errorf("drew %s, %d windows (%s to %s), %d rows summing to %d; want %s, %d windows (%s to %s), %d rows summing to %d",
			s.Mode, s.Windows, s.First, s.Last, s.Rows, s.Sum, mode, drawn, wantFirst, wantLast, drawn*keys, sum)
	}
	if s.FetchedRows != s.Rows {
		t.Errorf("fetched %d rows to draw %d", s.FetchedRows, s.Rows)
	}
	if mode == "bars" && s.Bars != drawn*keys {
		t.Errorf("%d bars, want %d", s.Bars, drawn*keys)
	}
	if s.Points != drawn*keys {
		t.Errorf("%d points, want %d", s.Points, drawn*keys)
	}
	legend, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("#chart .u-legend tr.u-series").length`))
	if err != nil {
		t.Fatal(err)
	}
	if legend != keys {
		t.Errorf("legend of %d keys, want %d", legend, keys)
	}
	// A redraw must be done well within a poll (1 s).
	t.Logf("%d windows × %d keys (%s): first draw %.1f ms, redraw %.1f ms (%d redraws)", drawn, keys, s.Mode, s.DrawMs, s.RedrawMs, s.Redraws)
	if s.RedrawMs <= 0 || s.RedrawMs >= 1000 {
		t.Errorf("redraw took %.1f ms", s.RedrawMs)
	}
	screenshot(t, bctx, fmt.Sprintf("serve-page-%dx%d.png", windows, keys))

	// Switch k01 off in the legend: it stays off through the next redraws.
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#chart .u-legend tr.u-series:nth-child(2) th`))); err != nil {
		t.Fatal(err)
	}
	s = waitDrawn(keys)
	if strings.Join(s.Hidden, ",") != name(1) || s.Points != drawn*(keys-1) {
		t.Errorf("after clicking %s: hidden %v, %d points; want [%s], %d", name(1), s.Hidden, s.Points, name(1), drawn*(keys-1))
	}
	if mode == "bars" && s.Bars != drawn*(keys-1) {
		t.Errorf("after clicking %s: %d bars, want %d", name(1), s.Bars, drawn*(keys-1))
	}
	if mode != "bars" {
		return
	}

	// Pick the measure max(v): the bars are 100w + k.
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(() => { const m = document.getElementById("measure"); m.value = "max_v"; m.dispatchEvent(new Event("change")); return true })()`)); err != nil {
		t.Fatal(err)
	}
	var wantV float64
	for w := windows - drawn; w < windows; w++ {
		for k := range keys {
			wantV += float64(100*w + k)
		}
	}
	eventually(t, 30*time.Second, func() string {
		s = state()
		if s.Measure != "max_v" || s.MeasureSum != wantV || strings.Join(s.Measures, ",") != "count,max_v" {
			return fmt.Sprintf("measure %s of %v summing to %v; want max_v summing to %v", s.Measure, s.Measures, s.MeasureSum, wantV)
		}
		return ""
	})
	if s.Bars != drawn*(keys-1) {
		t.Errorf("max_v: %d bars, want %d", s.Bars, drawn*(keys-1))
	}
	screenshot(t, bctx, fmt.Sprintf("serve-page-%dx%d-max_v.png", windows, keys))

	// A key that sorts first arrives: the others keep their colours, k01
	// stays off.
	before := s.Colours
	more := filepath.Join(t.TempDir(), "more.json")
	added := writePageEvents(t, more, windows, 1, func(int) string { return "Aaa" })
	run(t, "ingest", brokers, "--topic", input, "--format", "lines", more)
	waitTotal(t, "http://"+addr, int64(events+added))
	s = waitDrawn(keys + 1)
	for k, c := range before {
		if s.Colours[k] != c {
			t.Errorf("%s's colour went from %s to %s", k, c, s.Colours[k])
		}
	}
	if c := s.Colours["Aaa"]; c == "" || c == before[name(0)] || c == before[name(1)] {
		t.Errorf("new key's colour %q (others %v)", c, before)
	}
	if strings.Join(s.Hidden, ",") != name(1) || s.Bars != drawn*keys {
		t.Errorf("after Aaa arrived: hidden %v, %d bars; want [%s], %d", s.Hidden, s.Bars, name(1), drawn*keys)
	}
}

// waitTotal waits for serve's /api/totals to add up to n, current.
func waitTotal(t *testing.T, base string, n int64) {
	t.Helper()
	eventually(t, 120*time.Second, func() string {
		body, err := httpGet(base + "/api/totals")
		if err != nil {
			return err.Error()
		}
		var got struct {
			Rows []struct {
				Total int64 `json:"total"`
			} `json:"rows"`
			Recovered bool  `json:"recovered"`
			Lag       int64 `json:"lag"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			return err.Error()
		}
		var sum int64
		for _, r := range got.Rows {
			sum += r.Total
		}
		if sum != n || !got.Recovered || got.Lag != 0 {
			return fmt.Sprintf("totals add up to %d (want %d), recovered %v, lag %d", sum, n, got.Recovered, got.Lag)
		}
		return ""
	})
}

// findChromium finds Chromium ($HOURGLASS_CHROMIUM, or on the path); without
// it the test skips, unless HOURGLASS_REQUIRE_BROWSER is set (make
// test-browser).
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HOURGLASS_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("HOURGLASS_REQUIRE_BROWSER") != "" {
		t.Fatal("no Chromium: install Debian's chromium or set HOURGLASS_CHROMIUM")
	}
	t.Skip("no Chromium (make test-browser runs this test)")
	return ""
}

// screenshot saves the page as name in $HOURGLASS_ARTIFACTS (or the test's
// temporary directory).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("HOURGLASS_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}
