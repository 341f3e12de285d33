package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/metrics"
	"github.com/hourglass-stream/hourglass/processor"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/spf13/cobra"
)

func newAggregate(g *globals) *cobra.Command {
	var (
		cfg         processor.AggregateConfig
		key, timeF  string
		window, hop time.Duration
		start, emit string
		codecs      codecFlags
		partitions  int32
		inParts     int32
		observe     observeFlags
	)
	cmd := &cobra.Command{
		Use:   "aggregate --group G --input T --key EXPR --time EXPR --window D [flags]",
		Short: "Count events per key and event-time window into a Goka group table",
		Long: `Runs the aggregation processor until SIGINT or SIGTERM: events of --input are
counted per --key and --window of event time (--time) into the group table
<group>-table, which 'hourglass query' reads. Every change of a row also goes to
--output as a JSON row (complete mode). Records that cannot be counted go to
<group>-dlq with the reason in headers. Run several with the same --group to
share the work. A stop and restart never loses or repeats a count.`,
		Example: `  hourglass aggregate --group hourly --input events --key action --time time --window 1h --output hourly-counts
  hourglass aggregate --group quarter --input events --key action --time time --window 1h --hop 15m
  hourglass aggregate --group per-filter --input alerts --codec avro --schema schema/lsst.alert.avsc \
      --key diaSource.filterName --time diaSource.midPointTai --window 1h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if emit != "complete" {
				return fmt.Errorf("--emit %q: only complete is available in this version", emit)
			}
			if cfg.Decoder, err = codecs.decoder(); err != nil {
				return err
			}
			if cfg.Key, err = codec.ParsePath(key); err != nil {
				return fmt.Errorf("--key: %w", err)
			}
			if cfg.Time, err = codec.ParsePath(timeF); err != nil {
				return fmt.Errorf("--time: %w", err)
			}
			cfg.Windows = windows.Spec{Size: window, Hop: hop}
			if err := cfg.Windows.Validate(); err != nil {
				return fmt.Errorf("--window/--hop: %w", err)
			}
			if cfg.Start, err = processor.ParseStart(start); err != nil {
				return err
			}
			if cfg.Kafka, cfg.Sarama, err = g.sarama("hourglass-aggregate"); err != nil {
				return err
			}
			cfg.Partitions, cfg.InputPartitions = partitions, inParts
			reg := metrics.NewRegistry()
			cfg.ObserveLatency = metrics.Latency(reg, cfg.Group)
			agg, err := processor.NewAggregator(cfg)
			if err != nil {
				return err
			}
			err = observe.start(cmd.Context(), cfg.Kafka, reg, []string{processor.RekeyGroup(cfg.Group), cfg.Group},
				func(lag *metrics.Lag) { metrics.RegisterAggregator(reg, lag, cfg.Group, agg) },
				processorStats{
					fields: func() []any {
						st := agg.Stats()
						return []any{"group", cfg.Group, "read", st.Read, "counted", st.Applied, "duplicates_skipped", st.Duplicates, "dead_lettered", st.DeadLettered}
					},
					rates: func() map[string]int64 {
						st := agg.Stats()
						return map[string]int64{"read": st.Read, "counted": st.Applied}
					},
				})
			if err != nil {
				return err
			}
			slog.Info("aggregating", "group", cfg.Group, "input", cfg.Input, "key", key, "time", timeF, "window", window, "output", cfg.Output)
			err = agg.Run(cmd.Context())
			st := agg.Stats()
			slog.Info("stopped", "read", st.Read, "updates", st.Updates, "applied", st.Applied, "duplicates_skipped", st.Duplicates, "dead_lettered", st.DeadLettered, "kept_on_recovery", st.KeptOnRecovery)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Group, "group", "", "group name: the consumer group, <group>-table, <group>-dlq (required)")
	f.StringVar(&cfg.Input, "input", "", "input topic (required)")
	f.StringVar(&key, "key", "", "group key field, a dotted path such as action or diaSource.filterName (required)")
	f.StringVar(&timeF, "time", "", "event time field: epoch s or ms, RFC 3339, or 2006-01-02 15:04:05[.fff] UTC (required)")
	f.DurationVar(&window, "window", 0, "window size, e.g. 1h (required)")
	f.DurationVar(&hop, "hop", 0, "hopping windows: advance by this (must divide --window); default tumbling")
	f.StringVar(&cfg.Output, "output", "", "topic receiving every changed row as JSON (compacted; default none)")
	f.StringVar(&emit, "emit", "complete", "output mode: complete")
	codecs.register(f, "input record codec", "json")
	f.StringVar(&start, "start", "earliest", "where a new group starts reading: earliest or latest")
	f.StringVar(&cfg.StateDir, "state-dir", "", "keep Goka's local table copy here across clean restarts, one process per directory (default: a fresh directory per process; the table is recovered from its changelog)")
	f.DurationVar(&cfg.MaxOutage, "max-outage", processor.DefaultMaxOutage, "keep retrying this long while Kafka is unreachable, then exit non-zero")
	f.Int32Var(&partitions, "partitions", 0, "partitions of the internal topics when created (default: as many as the input)")
	f.Int32Var(&inParts, "input-partitions", 8, "partitions of the input topic if it has to be created")
	observe.register(f)
	for _, name := range []string{"group", "input", "key", "time", "window"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}
