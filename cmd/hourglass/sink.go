package main

import (
	"log/slog"

	"github.com/hourglass-stream/hourglass/metrics"
	"github.com/hourglass-stream/hourglass/sink"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
)

func newSink(g *globals) *cobra.Command {
	var (
		cfg     sink.Config
		observe observeFlags
	)
	cmd := &cobra.Command{
		Use:   "sink --group G --topic T --to postgres://USER@HOST:PORT/DB --table NAME",
		Short: "Upsert a group's result rows into a PostgreSQL table, exactly once",
		Long: `Reads the group's --output topic (read committed) as consumer group
<group>-sink-<table> and upserts every row into --table, which it creates from the
first row if missing: a text column per key, window_start and window_end as
timestamptz, count as bigint, each --agg column as numeric, final, and a
primary key of the keys and window_start. A tombstone (a merged session, a
row --retain expired) deletes its row. Each batch is one transaction that
also stores the partitions' next offsets in hourglass_offsets; a sink starts
from those, so a kill at any moment neither loses nor repeats a change. Run
several with one --group and --table to share the partitions. A row the database refuses
(a value its column cannot hold) goes to <group>-dlq with the database's
error. The password comes from the URL, PGPASSWORD or PGPASSFILE; TLS as
libpq's sslmode says.`,
		Example: `  hourglass sink --group hourly --topic hourly-counts --to postgres://hourglass@127.0.0.1:5432/metrics --table hourly`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.Kafka, err = g.kafkaConfig(cmd.Context(), "hourglass-sink"); err != nil {
				return err
			}
			s, err := sink.New(cfg)
			if err != nil {
				return err
			}
			if err := observe.startSink(cmd, cfg, s); err != nil {
				return err
			}
			slog.Info("sinking", "group", cfg.Group, "topic", cfg.Topic, "table", cfg.Table)
			err = s.Run(cmd.Context())
			st := s.Stats()
			slog.Info("stopped", "records", st.Records, "upserts", st.Upserts, "deletes", st.Deletes, "skipped", st.Skipped, "dead_lettered", st.DeadLettered, "batches", st.Batches)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfg.Group, "group", "", "the aggregate group whose rows to write; names <group>-sink-<table> and <group>-dlq")
	fl.StringVar(&cfg.Topic, "topic", "", "the group's --output topic")
	fl.StringVar(&cfg.DSN, "to", "", "the database, postgres://USER@HOST:PORT/DB[?sslmode=...]")
	fl.StringVar(&cfg.Table, "table", "", "the table, NAME or SCHEMA.NAME")
	fl.IntVar(&cfg.MaxBatch, "max-batch", 5000, "most records in one transaction")
	observe.register(fl)
	requireFlags(cmd, "group", "topic", "to", "table")
	return cmd
}

// startSink is observeFlags.start for a sink: its counters, and the lag of
// its consumer group (committed after each database commit).
func (o *observeFlags) startSink(cmd *cobra.Command, cfg sink.Config, s *sink.Sink) error {
	reg := metrics.NewRegistry()
	group := sink.ConsumerGroup(cfg.Group, cfg.Table)
	return o.start(cmd.Context(), cfg.Kafka, reg, []string{group},
		func(lag *metrics.Lag) {
			l := prometheus.Labels{"group": cfg.Group, "table": cfg.Table}
			metrics.Counter(reg, "sink_records_total", "Output records read and applied (in a committed transaction).", l, func() int64 { return s.Stats().Records })
			metrics.Counter(reg, "sink_upserts_total", "Rows upserted (a batch writes a row's last version once).", l, func() int64 { return s.Stats().Upserts })
			metrics.Counter(reg, "sink_deletes_total", "Rows deleted for tombstones.", l, func() int64 { return s.Stats().Deletes })
			metrics.Counter(reg, "sink_skipped_total", "Records the database had applied already (redeliveries).", l, func() int64 { return s.Stats().Skipped })
			metrics.Counter(reg, "sink_batches_total", "Transactions committed.", l, func() int64 { return s.Stats().Batches })
			metrics.Counter(reg, "dead_lettered_total", "Rows the database refused, sent to the dead-letter topic.", l, func() int64 { return s.Stats().DeadLettered })
			reg.MustRegister(lag)
		},
		processorStats{
			fields: func() []any {
				st := s.Stats()
				return []any{"group", cfg.Group, "table", cfg.Table, "records", st.Records, "upserts", st.Upserts, "deletes", st.Deletes, "dead_lettered", st.DeadLettered}
			},
			rates: func() map[string]int64 { return map[string]int64{"records": s.Stats().Records} },
			ready: s.Ready,
		})
}
