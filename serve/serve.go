// Package serve is hourglass's read-only HTTP face of a group table: a JSON
// API over a Goka view, Prometheus metrics, and a page that charts counts
// per window per key, live, with no asset from outside the binary.
package serve

import (
	"context"
	_ "embed"
	"encoding/json"
	"net/http"
	"time"

	"github.com/hourglass-stream/hourglass/metrics"
	"github.com/hourglass-stream/hourglass/table"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/prometheus/client_golang/prometheus"
)

//go:embed static/index.html
var indexHTML []byte

// View is what the handler reads: table.View.
type View interface {
	Rows(table.Filter) ([]windows.Result, error)
	Recovered() bool
	Lag(context.Context) (int64, error)
}

// Handler serves, for one group:
//
//	GET /api/windows?key=&from=&to=  {"rows":[{"key","window_start","window_end","count"}...], "recovered":bool, "lag":n}
//	GET /api/totals                  {"rows":[{"key","total"}...], "recovered":bool, "lag":n}
//	GET /metrics                     Prometheus, from gatherer
//	GET /healthz, /readyz            liveness; readiness: the view holds the table
//	GET /                            the live chart
//
// Anything else is 404, other methods 405: it changes nothing.
func Handler(group string, v View, gatherer prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/windows", func(w http.ResponseWriter, r *http.Request) {
		f, err := parseFilter(r)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		rows, err := v.Rows(f)
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		out := make([]windowJSON, len(rows))
		for i, r := range rows {
			out[i] = windowJSON{Key: r.Key, WindowStart: windows.FormatTime(r.WindowStart), WindowEnd: windows.FormatTime(r.WindowEnd), Count: r.Count}
		}
		writeJSON(w, http.StatusOK, freshness(r.Context(), group, v, out))
	})
	mux.HandleFunc("GET /api/totals", func(w http.ResponseWriter, r *http.Request) {
		rows, err := v.Rows(table.Filter{})
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		totals := table.Totals(rows)
		if totals == nil {
			totals = []table.Total{}
		}
		writeJSON(w, http.StatusOK, freshness(r.Context(), group, v, totals))
	})
	mux.Handle("GET /metrics", metrics.Handler(gatherer))
	metrics.Health(mux, func() (bool, string) {
		if r, ok := v.(interface{ Ready() (bool, string) }); ok {
			return r.Ready()
		}
		if !v.Recovered() {
			return false, "recovering the table from its changelog"
		}
		return true, ""
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
		_, _ = w.Write(indexHTML)
	})
	return readOnly(mux)
}

type windowJSON struct {
	Key         string `json:"key"`
	WindowStart string `json:"window_start"`
	WindowEnd   string `json:"window_end"`
	Count       int64  `json:"count"`
}

type response struct {
	Group     string `json:"group"`
	Rows      any    `json:"rows"`
	Recovered bool   `json:"recovered"`
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
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
