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
		addr, err := metrics.Listen(ctx, o.listen, reg, slog.Default())
		if err != nil {
			lag.Close()
			return err
		}
		slog.Info("serving metrics", "url", "http://"+addr+"/metrics")
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
		func(lag *metrics.Lag) { metrics.RegisterAggregator(reg, lag, cfg.Group, agg) },
		processorStats{
			fields: func() []any {
				st := agg.Stats()
				fields := []any{"group", cfg.Group, "read", st.Read, "counted", st.Applied, "duplicates_skipped", st.Duplicates, "dead_lettered", st.DeadLettered}
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
		})
}

// startFilter is start for an alert filter: its counters, and the lag of
// its group.
func (o *observeFlags) startFilter(cmd *cobra.Command, cfg processor.AlertFilterConfig, f *processor.AlertFilter) error {
	reg := metrics.NewRegistry()
	return o.start(cmd.Context(), cfg.Kafka, reg, []string{cfg.Group},
		func(lag *metrics.Lag) { metrics.RegisterFilter(reg, lag, cfg.Group, f) },
		processorStats{
			fields: func() []any {
				st := f.Stats()
				return []any{"group", cfg.Group, "read", st.Read, "matched", st.Matched, "rejected", st.Rejected, "dead_lettered", st.DeadLettered}
			},
			rates: func() map[string]int64 {
				st := f.Stats()
				return map[string]int64{"read": st.Read, "matched": st.Matched}
			},
		})
}
