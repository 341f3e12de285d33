package main

import (
	"fmt"
	"github.com/twmb/franz-go/pkg/kgo"
	"hash/fnv"
	"sync/atomic"
	"time"

	"github.com/hourglass-stream/hourglass/alerts"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/spf13/cobra"
)

func newProduceAlerts(g *globals) *cobra.Command {
	var (
		topic, format, writeSchema string
		count                      int
		encodeOff, noStamps        bool
		spec                       alerts.Spec
		schemaID                   uint32
		partitions                 int32
	)
	cmd := &cobra.Command{
		Use:   "produce-alerts --topic T [--count N] [--encode-off] [--no-stamps] [--format avro|confluent|json|pyliteral]",
		Short: "Send sample LSST-style alerts, like alert_stream's sendAlertStream.py",
		Long: `Sends --count generated alerts in the shape of the LSST seed-era sample alert
(alertId, diaSource{ra, decl, psFlux, snr, filterName, ...}, prv_diaSources,
diaObject, ssObject), with positions over the whole sky, varied fluxes, SNR,
filters and previous sources, from --seed. Formats: avro (schemaless; see
--write-schema), confluent (wire format with --schema-id), json, and pyliteral
(Python str(dict) text; --encode-off is the same, as in sendAlertStream.py).
--no-stamps leaves the cutouts null.`,
		Example: `  hourglass produce-alerts --topic my-stream --count 10 --no-stamps --encode-off
  hourglass produce-alerts --topic alerts --count 10000 --format avro --write-schema ./schema
  hourglass produce-alerts --topic alerts-cf --format confluent --schema-id 1 --write-schema ./ids/1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if encodeOff {
				if cmd.Flags().Changed("format") && format != "pyliteral" {
					return fmt.Errorf("--encode-off sends Python str(dict) text; it contradicts --format %s", format)
				}
				format = "pyliteral"
			}
			spec.Stamps = !noStamps
			enc, err := alerts.NewEncoder(format, schemaID)
			if err != nil {
				return err
			}
			if writeSchema != "" {
				if err := alerts.WriteSchema(writeSchema); err != nil {
					return err
				}
			}
			kc, sc, err := g.sarama(cmd.Context(), "hourglass-produce-alerts")
			if err != nil {
				return err
			}
			if _, err := kafka.EnsureTopics(kc.Brokers, sc, kafka.Topic{Name: topic, Partitions: partitions}); err != nil {
				return err
			}
			producer, err := kc.Producer(fnv.New32a)
			if err != nil {
				return err
			}
			defer producer.Close()
			gen := alerts.NewGenerator(spec)
			started := time.Now()
			var bytes int
			var failed atomic.Pointer[error]
			onAck := func(_ *kgo.Record, err error) {
				if err != nil {
					failed.CompareAndSwap(nil, &err)
				}
			}
			for i := 0; i < count; i++ {
				if err := cmd.Context().Err(); err != nil {
					return err
				}
				value, err := enc.Encode(gen.Next(), gen.Rng())
				if err != nil {
					return err
				}
				bytes += len(value)
				producer.Produce(cmd.Context(), &kgo.Record{Topic: topic, Value: value}, onAck)
			}
			// The idempotent producer retries until each record is stored
			// once; Flush waits for that, and the first failure ends the run.
			if err := producer.Flush(cmd.Context()); err != nil {
				return fmt.Errorf("send alerts: %w", err)
			}
			if err := failed.Load(); err != nil {
				return fmt.Errorf("send alerts: %w", *err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sent %d alerts (%s, %d bytes) to %s in %s\n", count, enc.Name(), bytes, topic, time.Since(started).Round(time.Millisecond))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&topic, "topic", "", "topic to send to (required)")
	f.IntVar(&count, "count", 10, "number of alerts")
	f.StringVar(&format, "format", "avro", "avro (schemaless), confluent (wire format), json or pyliteral")
	f.BoolVar(&encodeOff, "encode-off", false, "send Python str(dict) text, as sendAlertStream.py --encode-off did")
	f.BoolVar(&noStamps, "no-stamps", false, "leave cutoutDifference and cutoutTemplate null")
	f.Uint64Var(&spec.Seed, "seed", 1, "random seed: the same seed sends the same alerts")
	f.Uint32Var(&schemaID, "schema-id", 1, "schema id written in Confluent wire format")
	f.StringVar(&writeSchema, "write-schema", "", "also write the alert schema's .avsc files into this directory")
	f.Int32Var(&partitions, "partitions", 8, "partitions of the topic if it has to be created")
	requireFlags(cmd, "topic")
	return cmd
}
