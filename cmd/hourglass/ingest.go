package main

import (
	"fmt"
	"hash/fnv"
	"os"
	"time"

	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/ingest"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newIngest(g *globals) *cobra.Command {
	var (
		cfg        ingest.Config
		format     string
		keyField   string
		partitions int32
	)
	cmd := &cobra.Command{
		Use:   "ingest --topic T [flags] PATH...",
		Short: "Stream files of JSON lines into a topic, oldest file first",
		Long: `Sends files (or the files of directories, oldest first by modification time,
then name) to a topic, one record per non-blank line, like Spark's file stream
source. --files-per-trigger and --trigger-interval pace it; --watch keeps
picking up new files until SIGINT. Creates the topic if it is missing.`,
		Example: `  hourglass ingest --topic events --files-per-trigger 1 --trigger-interval 1s data/
  hourglass ingest --topic events --key-field action data/file-0.json
  hourglass ingest --topic raw --format lines --watch incoming/
  hourglass ingest --topic alerts --format avro --key-field diaSource.filterName archive/*.avro`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, paths []string) error {
			var err error
			if cfg.Format, err = ingest.ParseFormat(format); err != nil {
				return err
			}
			if keyField != "" {
				if cfg.KeyField, err = codec.ParsePath(keyField); err != nil {
					return fmt.Errorf("--key-field: %w", err)
				}
			}
			kc, sc, err := g.sarama(cmd.Context(), "hourglass-ingest")
			if err != nil {
				return err
			}
			if partitions == 0 {
				partitions = kafka.BrokerDefault
			}
			if _, err := kafka.EnsureTopics(kc.Brokers, sc, kafka.Topic{Name: cfg.Topic, Partitions: partitions}); err != nil {
				return err
			}
			producer, err := kc.Producer(fnv.New32a)
			if err != nil {
				return err
			}
			defer producer.Close()
			if term.IsTerminal(int(os.Stderr.Fd())) {
				cfg.Progress = os.Stderr
			}
			started := time.Now()
			sum, err := ingest.Run(cmd.Context(), producer, cfg, paths)
			fmt.Fprintf(cmd.OutOrStdout(), "ingested %d records (%d bytes) from %d files into %s in %s; %d bad lines not sent\n",
				sum.Records, sum.Bytes, sum.Files, cfg.Topic, time.Since(started).Round(time.Millisecond), sum.BadLines)
			if err != nil && cmd.Context().Err() != nil && cfg.Watch {
				return nil // a watch ends with SIGINT
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Topic, "topic", "", "topic to write to (required)")
	f.StringVar(&format, "format", "jsonl", "jsonl (each line must be JSON; bad lines are reported, not sent), lines (each line sent as it is) or avro (Avro object container files; each datum sent as schemaless Avro)")
	f.StringVar(&keyField, "key-field", "", "field (dotted path) whose value becomes the record key (default: no key)")
	f.IntVar(&cfg.FilesPerTrigger, "files-per-trigger", 0, "files per trigger (0: all at once)")
	f.DurationVar(&cfg.TriggerInterval, "trigger-interval", 0, "least time between the starts of two triggers")
	f.BoolVar(&cfg.Watch, "watch", false, "keep picking up new files until SIGINT/SIGTERM")
	f.Int32Var(&partitions, "partitions", 0, "partitions of the topic if it has to be created (0: the broker's num.partitions)")
	requireFlags(cmd, "topic")
	return cmd
}
