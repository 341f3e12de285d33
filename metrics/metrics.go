// Package metrics exposes hourglass's processors and views to Prometheus
// (names prefixed hourglass_) and logs periodic progress lines like Spark's
// StreamingQueryProgress. Counters read the processors' own running totals
// at scrape time, so they never disagree with the stop summary; consumer
// lag is asked of Kafka at scrape time.
package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/table"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// NewRegistry returns a registry with the Go runtime and process
// collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Counter registers hourglass_<name>, a counter read from f at each
// scrape, with labels.
func Counter(reg prometheus.Registerer, name, help string, labels prometheus.Labels, f func() int64) {
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "hourglass_" + name, Help: help, ConstLabels: labels,
	}, func() float64 { return float64(f()) }))
}

// Latency returns a histogram of processing latency per step and the
// function to set as AggregateConfig.ObserveLatency.
func Latency(reg prometheus.Registerer, group string) func(step string, d time.Duration) {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:        "hourglass_processing_latency_seconds",
		Help:        "Time from a record being written to a step's input topic to the step finishing it (rekey: the input, observed once per batch for its oldest record when the batch is written; count: the repartition topic, per update).",
		ConstLabels: prometheus.Labels{"group": group},
		Buckets:     prometheus.ExponentialBuckets(0.001, 2, 16),
	}, []string{"step"})
	reg.MustRegister(h)
	rekey, count := h.WithLabelValues("rekey"), h.WithLabelValues("count")
	return func(step string, d time.Duration) {
		if step == "rekey" {
			rekey.Observe(d.Seconds())
		} else {
			count.Observe(d.Seconds())
		}
	}
}

// RegisterView exposes a view's freshness: whether it has recovered, its
// lag behind the table, and its rows.
func RegisterView(reg prometheus.Registerer, group string, v *table.View) {
	l := prometheus.Labels{"group": group}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hourglass_view_recovered", Help: "1 when the view holds the whole table.", ConstLabels: l,
	}, func() float64 {
		if v.Recovered() {
			return 1
		}
		return 0
	}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hourglass_view_lag", Help: "Table records the view has not read yet.", ConstLabels: l,
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n, err := v.Lag(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hourglass_view_rows", Help: "Rows of the table in the view.", ConstLabels: l,
	}, func() float64 {
		rows, err := v.Rows(table.Filter{})
		if err != nil {
			return -1
		}
		return float64(len(rows))
	}))
}

// Lag is the consumer lag of some groups: per topic and partition, the end
// offset minus the group's committed offset. It is a Prometheus collector
// (hourglass_partition_lag) and gives the total for progress lines. A lag
// read that fails leaves the lag series out of that scrape, sets
// hourglass_lag_up to 0 and counts hourglass_lag_read_errors_total; every
// other metric is served as usual, and the next read starts on a new
// connection. Close it when done.
type Lag struct {
	opts   []kgo.Opt
	groups []string
	log    *slog.Logger
	desc   *prometheus.Desc
	up     *prometheus.Desc
	errs   prometheus.Counter

	mu     sync.Mutex   // adm, failed
	adm    *kadm.Client // nil after a failure: the next read reconnects
	failed bool         // the last read failed (a WARN was logged)
}

// NewLag connects to Kafka for the lag of groups.
func NewLag(kc kafka.Config, groups ...string) (*Lag, error) {
	opts, err := kc.Kgo()
	if err != nil {
		return nil, err
	}
	return &Lag{
		opts:   opts,
		groups: groups,
		log:    slog.Default(),
		desc: prometheus.NewDesc("hourglass_partition_lag",
			"Records of a partition not yet committed by a consumer group.",
			[]string{"group", "topic", "partition"}, nil),
		up: prometheus.NewDesc("hourglass_lag_up",
			"1 when the last read of consumer lag from Kafka succeeded, 0 when it failed (the lag series are left out then).", nil, nil),
		errs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hourglass_lag_read_errors_total", Help: "Reads of consumer lag from Kafka that failed.",
		}),
	}, nil
}

// Close releases the Kafka client.
func (c *Lag) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.adm != nil {
		c.adm.Close()
		c.adm = nil
	}
}

// Describe implements prometheus.Collector.
func (c *Lag) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
	ch <- c.up
	c.errs.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *Lag) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	up := 1.0
	err := c.each(ctx, func(group, topic string, p int32, lag int64) {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(lag), group, topic, fmt.Sprint(p))
	})
	if err != nil {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
	c.errs.Collect(ch)
}

// Total is the lag summed over groups, topics and partitions.
func (c *Lag) Total(ctx context.Context) (int64, error) {
	var n int64
	err := c.each(ctx, func(_, _ string, _ int32, lag int64) { n += lag })
	return n, err
}

func (c *Lag) each(ctx context.Context, f func(group, topic string, p int32, lag int64)) error {
	lags, err := c.read(ctx)
	if err != nil {
		return err
	}
	for group, gl := range lags {
		if gl.Error() != nil {
			continue // a group that has not started yet
		}
		for topic, parts := range gl.Lag {
			for p, ml := range parts {
				if ml.Err == nil {
					f(group, topic, p, max(ml.Lag, 0))
				}
			}
		}
	}
	return nil
}

// read asks Kafka for the lag of the groups, on the current connection or
// a new one. A failure drops the connection, so that one that died (as
// franz-go's can, "the broker connection has died") is not asked again.
func (c *Lag) read(ctx context.Context) (kadm.DescribedGroupLags, error) {
	c.mu.Lock()
	adm := c.adm
	if adm == nil {
		cl, err := kgo.NewClient(c.opts...)
		if err != nil {
			c.mu.Unlock()
			return nil, c.fail(err)
		}
		adm = kadm.NewClient(cl)
		c.adm = adm
	}
	c.mu.Unlock()
	lags, err := adm.Lag(ctx, c.groups...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if c.adm == adm {
			adm.Close()
			c.adm = nil
		}
		return nil, c.failLocked(err)
	}
	if c.failed {
		c.log.Info("consumer lag readable again")
		c.failed = false
	}
	return lags, nil
}

func (c *Lag) fail(err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failLocked(err)
}

// failLocked counts a failed read and logs the first of an outage.
func (c *Lag) failLocked(err error) error {
	c.errs.Inc()
	if !c.failed {
		c.log.Warn("cannot read consumer lag from Kafka; lag metrics are left out until it can", "error", err)
		c.failed = true
	}
	return err
}

// Handler serves the metrics of g. A collector that fails leaves its own
// metrics out and the rest are served: one failing part never turns a
// scrape into an HTTP 500.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Health adds to mux GET /healthz, which answers 200 while the process
// serves (liveness), and GET /readyz, which answers 200 when ready says
// so and 503 with its reason otherwise (readiness), both as JSON.
func Health(mux *http.ServeMux, ready func() (bool, string)) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := ready()
		if !ok {
			WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "why": why})
			return
		}
		WriteJSON(w, http.StatusOK, map[string]any{"ready": true})
	})
}

// WriteJSON answers status with v as JSON, not cached (the answers of
// hourglass's HTTP endpoints).
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// Listen serves /metrics of reg, /healthz and /readyz (see Health) on addr
// until ctx ends. It returns once the listener is bound, with the address
// it got.
func Listen(ctx context.Context, addr string, reg *prometheus.Registry, ready func() (bool, string), log *slog.Logger) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("--metrics-listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", Handler(reg))
	Health(mux, ready)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "error", err)
		}
	}()
	return ln.Addr().String(), nil
}

// Progress logs a line every interval until ctx ends: what line returns,
// plus the rates of the named counters since the last line.
func Progress(ctx context.Context, log *slog.Logger, interval time.Duration, line func() []any, rates func() map[string]int64) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	last, lastAt := rates(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			cur := rates()
			secs := now.Sub(lastAt).Seconds()
			attrs := line()
			for name, v := range cur {
				attrs = append(attrs, name+"_per_s", fmt.Sprintf("%.1f", float64(v-last[name])/secs))
			}
			log.Info("progress", attrs...)
			last, lastAt = cur, now
		}
	}
}
