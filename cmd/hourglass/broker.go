package main

import (
	"fmt"
	"log/slog"

	"github.com/hourglass-stream/hourglass/broker"
	"github.com/spf13/cobra"
)

func newBroker(_ *globals) *cobra.Command {
	var cfg broker.Config
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run a standalone embedded Kafka-protocol broker",
		Long: `Runs a single-node Kafka-protocol broker (franz-go's kfake) in this process
until SIGINT or SIGTERM. Any Kafka client can use it. Topics are created on
first use with --partitions partitions; with --data-dir they survive restarts.`,
		Example: `  hourglass broker --listen 127.0.0.1:9092 --data-dir ./kafka-data
  HOURGLASS_BROKERS=127.0.0.1:9092 hourglass ingest --topic events data/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := broker.Start(cfg)
			if err != nil {
				return err
			}
			defer b.Close()
			slog.Info("broker listening", "addr", b.Addr(), "data_dir", cfg.DataDir)
			fmt.Fprintln(cmd.OutOrStdout(), b.Addr())
			<-cmd.Context().Done()
			slog.Info("broker stopping")
			return nil
		},
	}
	cmd.Flags().StringVar(&cfg.Listen, "listen", "127.0.0.1:9092", "host:port to listen on (port 0: a free port)")
	cmd.Flags().StringVar(&cfg.DataDir, "data-dir", "", "keep topics and offsets in this directory across restarts (default: memory only)")
	cmd.Flags().IntVar(&cfg.Partitions, "partitions", broker.DefaultPartitions, "partitions of topics created on first use")
	return cmd
}
