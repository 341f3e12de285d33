package main

import (
	"log/slog"

	"github.com/hourglass-stream/hourglass/predicate"
	"github.com/hourglass-stream/hourglass/processor"
	"github.com/spf13/cobra"
)

func newFilter(g *globals) *cobra.Command {
	var (
		cfg             processor.AlertFilterConfig
		codecs          codecFlags
		where, outCodec string
		start           string
		observe         observeFlags
		topics          topicFlags
	)
	cmd := &cobra.Command{
		Use:   "filter --group G --input T --output T --where EXPR [flags]",
		Short: "Pass the records matching a predicate (e.g. LSST alerts with diaSource.ra > 350) to a topic",
		Long: `Runs the alert filter until SIGINT or SIGTERM: every record of --input is
decoded (--codec json, pyliteral for Python str(dict) text, or avro), the
--where expression (expr-lang syntax) is evaluated on it, and matching records
go to --output, byte for byte by default (--output-codec same) or as JSON.
Records that do not decode, or on which the expression fails (a missing or null
field), go to <group>-dlq with the reason in headers. With a schemaless Avro
--schema, field paths in --where are checked against the schema at start-up.
Run several with the same --group to share the partitions.`,
		Example: `  hourglass filter --group far-east --input alerts --output alerts-east --codec pyliteral --where 'diaSource.ra > 350'
  hourglass filter --group bright --input alerts --output bright --codec avro --schema schema/lsst.alert.avsc \
      --where 'diaSource.snr > 50 && any(prv_diaSources ?? [], .snr > 5)' --output-codec json
  hourglass filter --group rubin --input rubin-alerts --output r-band --codec avro \
      --schema-registry http://127.0.0.1:8081 --where 'diaSource.band == "r"'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.Decoder, err = codecs.decoder(); err != nil {
				return err
			}
			if cfg.Where, err = predicate.Compile(where, cfg.Decoder.Schema()); err != nil {
				return err
			}
			cfg.OutputCodec = processor.OutputCodec(outCodec)
			if cfg.TopicReplication, cfg.TopicConfigs, err = topics.parse(); err != nil {
				return err
			}
			if cfg.Start, err = processor.ParseStart(start); err != nil {
				return err
			}
			if cfg.Kafka, cfg.Sarama, err = g.sarama(cmd.Context(), "hourglass-filter"); err != nil {
				return err
			}
			f, err := processor.NewAlertFilter(cfg)
			if err != nil {
				return err
			}
			if err := observe.startFilter(cmd, cfg, f); err != nil {
				return err
			}
			slog.Info("filtering", "group", cfg.Group, "input", cfg.Input, "output", cfg.Output, "where", where, "codec", cfg.Decoder.Name(), "builds", f.Builds())
			err = f.Run(cmd.Context())
			st := f.Stats()
			slog.Info("stopped", "read", st.Read, "matched", st.Matched, "rejected", st.Rejected, "dead_lettered", st.DeadLettered)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfg.Group, "group", "", "consumer group; names <group>-dlq (required)")
	fl.StringVar(&cfg.Input, "input", "", "input topic (required)")
	fl.StringVar(&cfg.Output, "output", "", "topic for matching records (required)")
	fl.StringVar(&where, "where", "", "predicate in expr-lang syntax, e.g. 'diaSource.ra > 350' (required)")
	fl.StringVar(&outCodec, "output-codec", "same", "same (input bytes unchanged) or json")
	fl.StringVar(&start, "start", "earliest", "where a new group starts reading: earliest or latest")
	fl.DurationVar(&cfg.MaxOutage, "max-outage", processor.DefaultMaxOutage, "keep retrying this long while Kafka is unreachable, then exit non-zero")
	fl.Int32Var(&cfg.Partitions, "partitions", 0, "partitions of the output and dead-letter topics when created (default: as the input)")
	fl.BoolVar(&cfg.CreateInput, "create-input", false, "create the input topic (8 partitions) if it is missing (without it a missing input is an error)")
	topics.register(fl, "the output and dead-letter topics")
	codecs.register(fl, "input record codec", "json")
	observe.register(fl)
	requireFlags(cmd, "group", "input", "output", "where")
	return cmd
}
