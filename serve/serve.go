// Package serve is hourglass's read-only HTTP face of a group table: a JSON
// API over a Goka view, Prometheus metrics, and a page that charts counts
// per window per key, live, with no asset from outside the binary (the
// chart is uPlot, vendored in static/uplot: make vendor-uplot).
package serve

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hourglass-stream/hourglass/metrics"
	"github.com/hourglass-stream/hourglass/table"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/prometheus/client_golang/prometheus"
)

//go:embed static
var static embed.FS

// pageCSP lets the page load its own script, style and uPlot, and nothing
// else: no inline script, no other origin.
const pageCSP = "default-src 'self'; img-src 'self' data:"

// View is what the handler reads: table.View.
type View interface {
	Rows(table.Filter) ([]windows.Result, error)
	Select(table.Query) (table.Page, error)
	Recovered() bool
	Lag(context.Context) (int64, error)
}

// DefaultLimit and MaxLimit bound the rows of one /api/windows answer.
const (
	DefaultLimit = 1000
	MaxLimit     = 100000
)

// Handler serves, for one group:
//
//	GET /api/windows?key=&from=&to=&limit=&order=&cursor=
//	                                 {"rows":[{"key","window_start","window_end","count","final"}...],
//	                                  "next":cursor, "watermark":time|null, "recovered":bool, "lag":n}
//	GET /api/totals                  {"rows":[{"key","total"}...], "recovered":bool, "lag":n}
//	GET /metrics                     Prometheus, from gatherer
//	GET /healthz, /readyz            liveness; readiness: the view holds the table
//	GET /                            the live chart
//	GET /static/...                  its script, style and uPlot
//
// Anything else is 404, other methods 405: it changes nothing.
func Handler(group string, v View, gatherer prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/windows", func(w http.ResponseWriter, r *http.Request) {
		q, err := parseQuery(r)
		if err != nil {
			metrics.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		page, err := v.Select(q)
		if errors.Is(err, table.ErrBadCursor) {
			metrics.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if err != nil {
			metrics.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		rows := page.Rows
		if rows == nil {
			rows = []table.Row{} // [], not null
		}
		resp := windowsResponse{response: freshness(r.Context(), group, v, rows), Next: page.Next}
		if len(page.Rows) > 0 && len(page.Rows[0].KeyNames) > 0 {
			resp.Keys = page.Rows[0].KeyNames
		}
		if closed := page.Progress.ClosedTo; !closed.IsZero() {
			wm := windows.FormatTime(closed)
			resp.Watermark = &wm
		}
		metrics.WriteJSON(w, http.StatusOK, resp)
	})
	mux.HandleFunc("GET /api/totals", func(w http.ResponseWriter, r *http.Request) {
		rows, err := v.Rows(table.Filter{})
		if err != nil {
			metrics.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		totals := table.Totals(rows)
		if totals == nil {
			totals = []table.Total{}
		}
		resp := freshness(r.Context(), group, v, totals)
		if len(totals) > 0 && len(totals[0].KeyNames) > 0 {
			resp.Keys = totals[0].KeyNames
		}
		metrics.WriteJSON(w, http.StatusOK, resp)
	})
	mux.Handle("GET /metrics", metrics.Handler(gatherer))
	metrics.Health(mux, func() (bool, string) {
		if r, ok := v.(interface{ Ready() (bool, string) }); ok {
			return r.Ready()
		}
		return ready(v)
	})
	files, _ := fs.Sub(static, "static")
	assets := http.FileServerFS(files)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", pageCSP)
		http.ServeFileFS(w, r, files, "index.html")
	})
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == "" || strings.HasSuffix(p, "/") || p == "index.html" { // files only: no listings
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Security-Policy", pageCSP)
		assets.ServeHTTP(w, r)
	})))
	return readOnly(mux)
}

// ready says whether v is ready to serve (recovered) and if not why.
func ready(v View) (bool, string) {
	if !v.Recovered() {
		return false, "recovering the table from its changelog"
	}
	return true, ""
}

// windowsResponse is /api/windows' answer: a page of rows, the cursor of
// the next (absent after the last), and how far windows are closed (null
// without --watermark, or before any closing).
type windowsResponse struct {
	response
	Next      string  `json:"next,omitempty"`
	Watermark *string `json:"watermark"`
}

type response struct {
	Group string `json:"group"`
	// Keys name the key columns of rows of several keys (--key a --key
	// b); absent for one key (the column key).
	Keys      []string `json:"keys,omitempty"`
	Rows      any      `json:"rows"`
	Recovered bool     `json:"recovered"`
	// Lag is the number of table records the view has not read; -1 when
	// Kafka could not be asked.
	Lag int64 `json:"lag"`
}

func freshness(ctx context.Context, group string, v View, rows any) response {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	lag, err := v.Lag(ctx)
	if err != nil {
		lag = -1
	}
	return response{Group: group, Rows: rows, Recovered: v.Recovered(), Lag: lag}
}

// parseQuery reads /api/windows' parameters: the filter, limit (default
// DefaultLimit, at most MaxLimit), order (newest, the default, or oldest)
// and cursor.
func parseQuery(r *http.Request) (table.Query, error) {
	f, err := parseFilter(r)
	if err != nil {
		return table.Query{}, err
	}
	q := table.Query{Filter: f, Limit: DefaultLimit, Cursor: r.URL.Query().Get("cursor")}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return q, fmt.Errorf("limit %q: want 1 to %d", s, MaxLimit)
		}
		q.Limit = n
	}
	switch o := r.URL.Query().Get("order"); o {
	case "", "newest":
	case "oldest":
		q.Oldest = true
	default:
		return q, fmt.Errorf("order %q: want newest or oldest", o)
	}
	return q, nil
}

func parseFilter(r *http.Request) (table.Filter, error) {
	q := r.URL.Query()
	f := table.Filter{Key: q.Get("key"), KeySet: q.Has("key")}
	var err error
	if s := q.Get("from"); s != "" {
		if f.From, err = windows.ParseTime(s); err != nil {
			return f, err
		}
	}
	if s := q.Get("to"); s != "" {
		if f.To, err = windows.ParseTime(s); err != nil {
			return f, err
		}
	}
	return f, nil
}

// readOnly refuses every method but GET and HEAD.
func readOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "read-only", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}
