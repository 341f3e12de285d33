package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/metrics"
	"github.com/hourglass-stream/hourglass/processor"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// observeFlags are the flags of a processor's metrics and progress lines.
type observeFlags struct {
	listen   string
	interval time.Duration
}

func (o *observeFlags) register(f *pflag.FlagSet) {
	f.StringVar(&o.listen, "metrics-listen", "", "serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9464 (default: off)")
	f.DurationVar(&o.interval, "progress-interval", 30*time.Second, "log a progress line (rates, lag, dead letters) this often; 0: never")
}

// processorStats is what a processor reports in progress lines: fields to
// log as they are, and counters whose rates are logged.
type processorStats struct {
	fields func() []any
	rates  func() map[string]int64
	ready  func() (bool, string) // /readyz
}

// start serves the metrics of reg (after register has added the
// processor's) when --metrics-listen is set, and logs progress lines with
// the consumer lag of groups, until ctx ends.
func (o *observeFlags) start(ctx context.Context, kc kafka.Config, reg *prometheus.Registry, groups []string, register func(*metrics.Lag), st processorStats) error {
	lag, err := metrics.NewLag(kc, groups...)
	if err != nil {
		return err
	}
	register(lag)
	if o.listen != "" {
		addr, err := metrics.Listen(ctx, o.listen, reg, st.ready, slog.Default())
		if err != nil {
			lag.Close()
			return err
		}
		slog.Info("serving metrics", "url", "http://"+addr+"/metrics", "health", "http://"+addr+"/healthz", "ready", "http://"+addr+"/readyz")
	}
	go func() {
		defer lag.Close()
		metrics.Progress(ctx, slog.Default(), o.interval, func() []any {
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			fields := st.fields()
			if n, err := lag.Total(lctx); err == nil {
				fields = append(fields, "lag", n)
			}
			return fields
		}, st.rates)
	}()
	return nil
}

// startAggregator is start for an aggregator: its counters, and the lag of
// both its steps.
func (o *observeFlags) startAggregator(cmd *cobra.Command, cfg processor.AggregateConfig, reg *prometheus.Registry, agg *processor.Aggregator) error {
	return o.start(cmd.Context(), cfg.Kafka, reg, []string{processor.RekeyGroup(cfg.Group), cfg.Group},
		func(lag *metrics.Lag) { registerAggregator(reg, lag, cfg.Group, agg) },
		processorStats{
			fields: func() []any {
				st := agg.Stats()
				fields := []any{"group", cfg.Group, "read", st.Read, "counted", st.Applied, "duplicates_skipped", st.Duplicates, "dead_lettered", st.DeadLettered}
				if cfg.Where != nil {
					fields = append(fields, "rejected", st.Rejected)
				}
				if cfg.Watermark != nil {
					wm := "none"
					if t, ok := agg.Watermark(); ok {
						wm = windows.FormatTime(t)
					}
					fields = append(fields, "late", st.Late, "watermark", wm)
					if parts, why := agg.WatermarkWaiting(); len(parts) > 0 {
						fields = append(fields, "watermark_waiting_for", fmt.Sprintf("input partitions %v (%s)", parts, why))
					}
				}
				return fields
			},
			rates: func() map[string]int64 {
				st := agg.Stats()
				return map[string]int64{"read": st.Read, "counted": st.Applied}
			},
			ready: agg.Ready,
		})
}

// startFilter is start for an alert filter: its counters, and the lag of
// its group.
func (o *observeFlags) startFilter(cmd *cobra.Command, cfg processor.AlertFilterConfig, f *processor.AlertFilter) error {
	reg := metrics.NewRegistry()
	return o.start(cmd.Context(), cfg.Kafka, reg, []string{cfg.Group},
		func(lag *metrics.Lag) { registerFilter(reg, lag, cfg.Group, f) },
		processorStats{
			fields: func() []any {
				st := f.Stats()
				return []any{"group", cfg.Group, "read", st.Read, "matched", st.Matched, "rejected", st.Rejected, "dead_lettered", st.DeadLettered}
			},
			rates: func() map[string]int64 {
				st := f.Stats()
				return map[string]int64{"read": st.Read, "matched": st.Matched}
			},
			ready: f.Ready,
		})
}

// registerAggregator exposes an aggregator's totals and the consumer lag of
// its groups (the rekey step on the input, the count step on the
// repartition topic).
func registerAggregator(reg prometheus.Registerer, lag *metrics.Lag, group string, a *processor.Aggregator) {
	l := prometheus.Labels{"group": group}
	metrics.Counter(reg, "records_in_total", "Input records read by the rekey step.", l, func() int64 { return a.Stats().Read })
	metrics.Counter(reg, "updates_total", "Window updates sent to the repartition topic: one per row and batch of the rekey step.", l, func() int64 { return a.Stats().Updates })
	metrics.Counter(reg, "counted_total", "Events counted into the table (an event in n windows counts n times).", l, func() int64 { return a.Stats().Applied })
	metrics.Counter(reg, "duplicates_total", "Events of redelivered updates recognised and skipped.", l, func() int64 { return a.Stats().Duplicates })
	metrics.Counter(reg, "dead_lettered_total", "Records sent to the dead-letter topic.", l, func() int64 { return a.Stats().DeadLettered })
	metrics.Counter(reg, "late_total", "Late events, not counted (--watermark).", l, func() int64 { return a.Stats().Late })
	metrics.Counter(reg, "rejected_total", "Input records that did not match --where, not counted.", l, func() int64 { return a.Stats().Rejected })
	metrics.Counter(reg, "null_values_total", "Values of --agg fields that were null or missing in counted records; their aggregates skipped them (SQL semantics).", l, func() int64 { return a.Stats().Nulls })
	metrics.Counter(reg, "expired_rows_total", "Rows deleted by --retain.", l, func() int64 { return a.Stats().Expired })
	metrics.Counter(reg, "sessions_moved_total", "Sessions that no event may reach any more, moved from their key's row to a row of their own.", l, func() int64 { return a.Stats().SessionsMoved })
	metrics.Counter(reg, "sessions_closed_early_total", "Sessions closed before the watermark closed them, because their key had more than a row holds (1,000); events that would have joined them are late.", l, func() int64 { return a.Stats().SessionsClosedEarly })
	metrics.Counter(reg, "registry_unavailable_total", "Decode attempts that found the schema registry unavailable; the record waited, uncommitted, and was tried again.", l, func() int64 { return a.Stats().Unavailable })
	metrics.Counter(reg, "write_errors_total", "Writes that failed; their records are not committed and are read again.", l, func() int64 { return a.Stats().WriteErrors })
	reg.MustRegister(lag)
}

// registerFilter exposes an alert filter's totals and its input lag.
func registerFilter(reg prometheus.Registerer, lag *metrics.Lag, group string, f *processor.AlertFilter) {
	l := prometheus.Labels{"group": group}
	metrics.Counter(reg, "records_in_total", "Input records read.", l, func() int64 { return f.Stats().Read })
	metrics.Counter(reg, "matched_total", "Records that matched --where and were written to the output.", l, func() int64 { return f.Stats().Matched })
	metrics.Counter(reg, "rejected_total", "Records that did not match --where.", l, func() int64 { return f.Stats().Rejected })
	metrics.Counter(reg, "registry_unavailable_total", "Decode attempts that found the schema registry unavailable; the record waited, uncommitted, and was tried again.", l, func() int64 { return f.Stats().Unavailable })
	metrics.Counter(reg, "write_errors_total", "Writes that failed; their records are not committed and are read again.", l, func() int64 { return f.Stats().WriteErrors })
	metrics.Counter(reg, "dead_lettered_total", "Records sent to the dead-letter topic.", l, func() int64 { return f.Stats().DeadLettered })
	reg.MustRegister(lag)
}
