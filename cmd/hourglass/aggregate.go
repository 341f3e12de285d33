package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hourglass-stream/hourglass/agg"
	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/metrics"
	"github.com/hourglass-stream/hourglass/predicate"
	"github.com/hourglass-stream/hourglass/processor"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// aggregateFlags are the flags that describe an aggregation; aggregate
// and backfill share them.
type aggregateFlags struct {
	cfg         processor.AggregateConfig
	keys        []string
	timeF       string
	timeFormat  string
	where       string
	aggs        []string
	window, hop time.Duration
	offset      time.Duration
	gap         time.Duration
	start, emit string
	codecs      codecFlags
	partitions  int32
	inParts     int32
	createInput bool
	closer      windows.Closer
	topics      topicFlags
	flags       *pflag.FlagSet
}

func (a *aggregateFlags) register(f *pflag.FlagSet) {
	f.StringVar(&a.cfg.Group, "group", "", "group name: the consumer group, <group>-table, <group>-dlq (required)")
	f.StringVar(&a.cfg.Input, "input", "", "input topic (required)")
	f.StringArrayVar(&a.keys, "key", nil, "group key field, a dotted path such as action or diaSource.filterName (required); repeat it to group by several (--key band=diaSource.filterName --key night: NAME=PATH names its column, by default the path with dots as _)")
	f.StringVar(&a.timeF, "time", "", "event time field, read as --time-format says; or @timestamp for each record's Kafka timestamp (required)")
	f.StringVar(&a.timeFormat, "time-format", "auto", "how --time is read: auto (epoch s or ms, RFC 3339, or 2006-01-02 15:04:05[.fff] UTC; a number before 1973 is ambiguous and dead-lettered), unix, unix_ms, unix_us, rfc3339, mjd (Modified Julian Date), jd (Julian Date), or a Go layout such as 2006-01-02T15:04:05 (UTC unless it has a zone)")
	f.StringVar(&a.where, "where", "", "count only records matching this expression (the filter's expr-lang dialect, e.g. 'diaSource.snr > 5'); the others are neither counted nor dead-lettered (rejected_total)")
	f.StringArrayVar(&a.aggs, "agg", nil, "aggregates beside count, a comma-separated list (repeatable): sum(f), avg(f), min(f), max(f), count_distinct(f) (HyperLogLog), p1(f) to p99(f) (DDSketch, 1% relative accuracy), each optionally '... as name'; f is a dotted field path; columns default to sum_f with dots as _")
	f.DurationVar(&a.window, "window", 0, "window size, e.g. 1h (required unless --session-gap)")
	f.DurationVar(&a.hop, "hop", 0, "hopping windows: advance by this (must divide --window); default tumbling")
	f.DurationVar(&a.offset, "window-offset", 0, "windows start this long after the multiples of their hop since the Unix epoch: --window 24h --window-offset 12h runs from noon UTC to noon (an observing night)")
	f.DurationVar(&a.gap, "session-gap", 0, "session windows instead of --window: events of a key less than this apart share a session; a bridging event merges two")
	f.StringVar(&a.cfg.Output, "output", "", "topic receiving every changed row as JSON (compacted; default none)")
	f.StringVar(&a.emit, "emit", "complete", "output mode: complete (every change; the table keeps every row), update (every change; --retain may expire rows) or final (each window once, when the watermark closes it; needs --watermark and --output)")
	f.DurationVar(&a.closer.Lateness, "watermark", 0, "allowed lateness: an event is late when its window ended at or before its partition's max event time minus this (e.g. 10m); default: no watermark, nothing is late")
	f.StringVar(&a.cfg.LateTopic, "late-topic", "", "write late events here unchanged, with headers saying why (needs --watermark)")
	f.DurationVar(&a.cfg.Retain, "retain", 0, "delete rows whose window ended this long before the watermark (needs --watermark and --emit update or final)")
	f.DurationVar(&a.closer.IdleTimeout, "idle-timeout", processor.DefaultIdleTimeout, "a source partition silent this long, or that has sent nothing this long after the start, stops holding windows open; when all are silent the watermark is the largest of theirs (0: never)")
	f.DurationVar(&a.closer.IdleFlush, "idle-flush", 0, "a source partition silent this long advances its watermark by the wall time since its last event, so final rows appear when input stops (default: never)")
	a.flags = f
	a.codecs.register(f, "input record codec", "json")
	f.StringVar(&a.cfg.StateDir, "state-dir", "", "keep Goka's local table copy here across clean restarts, one process per directory (default: a fresh directory per process; the table is recovered from its changelog)")
	f.DurationVar(&a.cfg.MaxOutage, "max-outage", processor.DefaultMaxOutage, "keep retrying this long while Kafka is unreachable, then exit non-zero")
	f.Int32Var(&a.partitions, "partitions", 0, "partitions of the internal topics when created (default: as many as the input)")
	f.Int32Var(&a.inParts, "input-partitions", 8, "partitions of the input topic if --create-input has to create it")
	f.BoolVar(&a.createInput, "create-input", false, "create the input topic if it is missing (without it a missing input is an error: a typo must not idle for ever)")
	f.DurationVar(&a.cfg.BatchLinger, "batch-linger", processor.DefaultBatchLinger, "collect an input partition's records this long into one batch, written as one update per row (adds up to this much latency)")
	f.IntVar(&a.cfg.BatchMax, "batch-max", 0, fmt.Sprintf("most records in a batch (default %d; %d in a backfill); 1 writes an update per event", processor.DefaultBatchMax, processor.BoundedBatchMax))
	a.topics.register(f, "the group's topics (internal ones, --output, --late-topic)")
}

// recordTimestamp is the --time that takes each record's Kafka timestamp
// as its event time.
const recordTimestamp = "@timestamp"

// fieldPath parses the field path of flag: a dotted path whose steps hold
// none of the characters that say it is something else (a list, an
// expression, quotes).
func fieldPath(flag, s string) (codec.Path, error) {
	if i := strings.IndexAny(s, ", \t\"'()[]=<>!|&"); i >= 0 {
		hint := ""
		if s[i] == ',' && flag == "--key" {
			hint = "; to group by several fields repeat --key: --key a --key b"
		}
		return codec.Path{}, fmt.Errorf("%s %q is not a field path (a dotted path such as diaSource.filterName): it holds %q%s", flag, s, s[i], hint)
	}
	p, err := codec.ParsePath(s)
	if err != nil {
		return codec.Path{}, fmt.Errorf("%s: %w", flag, err)
	}
	return p, nil
}

// required are the flags without a default.
var requiredAggregateFlags = []string{"group", "input", "key", "time"}

// config builds the aggregation from the flags (Start from --start when
// withStart).
func (a *aggregateFlags) config(ctx context.Context, g *globals, clientID string, withStart bool) (processor.AggregateConfig, error) {
	cfg := a.cfg
	var err error
	if cfg.Emit, err = processor.ParseEmit(a.emit); err != nil {
		return cfg, err
	}
	if a.flags.Changed("watermark") {
		closer := a.closer
		cfg.Watermark = &closer
	} else if a.flags.Changed("idle-timeout") || a.flags.Changed("idle-flush") {
		return cfg, fmt.Errorf("--idle-timeout and --idle-flush need --watermark")
	}
	if cfg.Decoder, err = a.codecs.decoder(); err != nil {
		return cfg, err
	}
	for _, k := range a.keys {
		name, path, renamed := strings.Cut(k, "=")
		if !renamed {
			path = k
		}
		p, err := fieldPath("--key", path)
		if err != nil {
			return cfg, err
		}
		if !renamed {
			name = strings.ReplaceAll(path, ".", "_")
		}
		cfg.Keys = append(cfg.Keys, processor.KeyColumn{Name: name, Path: p})
	}
	if len(cfg.Keys) == 0 {
		return cfg, errors.New("no group key: set --key")
	}
	cfg.Key = cfg.Keys[0].Path
	if a.timeF == recordTimestamp {
		cfg.RecordTime = true
		if a.flags.Changed("time-format") {
			return cfg, fmt.Errorf("--time-format reads a field; --time %s takes the records' timestamps", recordTimestamp)
		}
	} else if cfg.Time, err = fieldPath("--time", a.timeF); err != nil {
		return cfg, err
	}
	if cfg.TimeFormat, err = windows.ParseTimeFormat(a.timeFormat); err != nil {
		return cfg, err
	}
	if a.flags.Changed("where") {
		if cfg.Where, err = predicate.Compile(a.where, cfg.Decoder.Schema()); err != nil {
			return cfg, err
		}
	}
	if cfg.Aggs, err = agg.Parse(a.aggs); err != nil {
		return cfg, err
	}
	cfg.Windows = windows.Spec{Size: a.window, Hop: a.hop, Gap: a.gap, Offset: a.offset}
	if a.window == 0 && a.gap == 0 {
		return cfg, fmt.Errorf("set --window (tumbling or, with --hop, hopping windows) or --session-gap")
	}
	if err := cfg.Windows.Validate(); err != nil {
		return cfg, fmt.Errorf("--window/--hop/--session-gap: %w", err)
	}
	if withStart {
		if cfg.Start, err = processor.ParseStart(a.start); err != nil {
			return cfg, err
		}
	}
	if cfg.Kafka, cfg.Sarama, err = g.sarama(ctx, clientID); err != nil {
		return cfg, err
	}
	cfg.Partitions, cfg.InputPartitions, cfg.CreateInput = a.partitions, a.inParts, a.createInput
	if cfg.TopicReplication, cfg.TopicConfigs, err = a.topics.parse(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func newAggregate(g *globals) *cobra.Command {
	var (
		flags   aggregateFlags
		observe observeFlags
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
			cfg, err := flags.config(cmd.Context(), g, "hourglass-aggregate", true)
			if err != nil {
				return err
			}
			reg := metrics.NewRegistry()
			cfg.ObserveLatency = metrics.Latency(reg, cfg.Group)
			agg, err := processor.NewAggregator(cfg)
			if err != nil {
				return err
			}
			if err := observe.startAggregator(cmd, cfg, reg, agg); err != nil {
				return err
			}
			slog.Info("aggregating", "group", cfg.Group, "input", cfg.Input, "key", strings.Join(flags.keys, ","), "time", flags.timeF, "time_format", cfg.TimeFormat.String(), "where", flags.where, "agg", aggList(cfg.Aggs), "windows", cfg.Windows.String(), "emit", cfg.Emit.String(), "output", cfg.Output)
			err = agg.Run(cmd.Context())
			logStopped(agg.Stats())
			return err
		},
	}
	f := cmd.Flags()
	flags.register(f)
	f.StringVar(&flags.start, "start", "earliest", "where a new group starts reading: earliest or latest")
	observe.register(f)
	requireFlags(cmd, requiredAggregateFlags...)
	return cmd
}

func logStopped(st processor.AggregateStats) {
	slog.Info("stopped", "read", st.Read, "updates", st.Updates, "applied", st.Applied, "duplicates_skipped", st.Duplicates,
		"dead_lettered", st.DeadLettered, "rejected", st.Rejected, "beyond_until", st.Beyond, "kept_on_recovery", st.KeptOnRecovery)
}

// aggList is the aggregates as --agg takes them, for the log.
func aggList(specs []agg.Spec) string {
	var items []string
	for _, s := range specs {
		items = append(items, s.String())
	}
	return strings.Join(items, ",")
}
