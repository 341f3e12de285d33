package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/report"
	"github.com/hourglass-stream/hourglass/tail"
	"github.com/spf13/cobra"
)

func newTail(g *globals) *cobra.Command {
	var (
		cfg          tail.Config
		from, format string
		codecs       codecFlags
	)
	cmd := &cobra.Command{
		Use:   "tail --topic T [--start earliest|latest] [--max N] [--follow] [--format table|json]",
		Short: "Print the raw records of a topic",
		Long: `Prints records as Kafka stores them: key, value, topic, partition, offset,
timestamp and timestamp type. Values that are not valid UTF-8 are printed in
base64 and marked so. Without --follow it stops at the end offsets it saw when
it started (or after --max records). --codec json shows decoded values.`,
		Example: `  hourglass tail --topic events --max 5
  hourglass tail --topic demo-dlq --format json
  hourglass tail --topic hourly-counts --start latest --follow`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch from {
			case "earliest":
			case "latest":
				cfg.Latest = true
			default:
				return fmt.Errorf("--start %q: want earliest or latest", from)
			}
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: want table or json", format)
			}
			var dec codec.Decoder
			if codecs.spec.Name != "none" {
				var err error
				if dec, err = codecs.decoder(); err != nil {
					return err
				}
			}
			kc, err := g.kafkaConfig(cmd.Context(), "hourglass-tail")
			if err != nil {
				return err
			}
			cfg.Kafka = kc
			out := cmd.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(out)
				enc.SetEscapeHTML(false)
				return tail.Run(cmd.Context(), cfg, func(r tail.Record) error {
					return enc.Encode(jsonRecord(cmd.Context(), r, dec))
				})
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			lines := 0
			err = tail.Run(cmd.Context(), cfg, func(r tail.Record) error {
				if lines == 0 {
					fmt.Fprintln(tw, "partition\toffset\ttimestamp\ttimestampType\tkey\tvalue")
				}
				writeTableRecord(cmd.Context(), tw, r, dec)
				// Flush now and then so that --follow shows records as
				// they come, with columns aligned within each flush.
				if lines++; lines%100 == 0 || cfg.Follow {
					return tw.Flush()
				}
				return nil
			})
			if ferr := tw.Flush(); err == nil {
				err = ferr
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Topic, "topic", "", "topic to read (required)")
	f.StringVar(&from, "start", "earliest", "the offset to read from: earliest or latest")
	f.StringVar(&from, "from", "earliest", "")
	_ = f.MarkDeprecated("from", "use --start (the offset to read from)")
	f.IntVar(&cfg.Max, "max", 0, "stop after N records (0: no limit)")
	f.BoolVar(&cfg.Follow, "follow", false, "keep printing new records until SIGINT")
	f.BoolVar(&cfg.Uncommitted, "read-uncommitted", false, "show records of open and aborted transactions too (by default only committed records, as the filter's readers see them)")
	f.StringVar(&format, "format", "table", "table or json (one object per line)")
	codecs.register(f, "show values raw (none) or decoded", "none")
	requireFlags(cmd, "topic")
	return cmd
}

func timestampString(r tail.Record) string {
	if r.Timestamp.IsZero() {
		return "-"
	}
	return r.Timestamp.Format("2006-01-02T15:04:05.000Z07:00")
}

func writeTableRecord(ctx context.Context, w io.Writer, r tail.Record, dec codec.Decoder) {
	key := "null"
	if r.Key != nil {
		key, _ = tail.Text(r.Key)
	}
	value, ok := tail.Text(r.Value)
	switch {
	case dec != nil:
		value = decodedText(ctx, dec, r.Value)
	case !ok:
		value = "base64:" + value
	}
	fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%s\t%s\n", r.Partition, r.Offset, timestampString(r), r.TimestampType,
		oneLineText(key), oneLineText(value))
}

// decodedText shows a value as the codec decodes it (in Python-literal
// notation, which can show bytes, NaN and infinities, unlike JSON), or the
// decode error after a "!".
func decodedText(ctx context.Context, dec codec.Decoder, raw []byte) string {
	v, err := dec.Decode(ctx, raw)
	if err != nil {
		return "!" + err.Error()
	}
	b, err := codec.EncodePyLiteral(v)
	if err != nil {
		return "!" + err.Error()
	}
	return string(b)
}

// oneLineText keeps a table cell on one line and free of the control
// characters that would drive the terminal (report.Printable).
func oneLineText(s string) string { return report.Printable(s) }

// tailJSON is one line of `tail --format json`, fields in DESIGN's order.
type tailJSON struct {
	Key           *string           `json:"key"`
	KeyEncoding   string            `json:"key_encoding,omitempty"`
	Value         any               `json:"value"`
	ValueEncoding string            `json:"value_encoding,omitempty"`
	DecodeError   string            `json:"decode_error,omitempty"`
	Topic         string            `json:"topic"`
	Partition     int32             `json:"partition"`
	Offset        int64             `json:"offset"`
	Timestamp     *int64            `json:"timestamp"` // epoch ms; null when the record has none
	TimestampType string            `json:"timestampType"`
	Headers       map[string]string `json:"headers,omitempty"`
}

func jsonRecord(ctx context.Context, r tail.Record, dec codec.Decoder) tailJSON {
	out := tailJSON{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, TimestampType: r.TimestampType}
	if !r.Timestamp.IsZero() {
		ms := r.Timestamp.UnixMilli()
		out.Timestamp = &ms
	}
	if r.Key != nil {
		k, ok := tail.Text(r.Key)
		out.Key = &k
		if !ok {
			out.KeyEncoding = "base64"
		}
	}
	v, ok := tail.Text(r.Value)
	out.Value = v
	if !ok {
		out.ValueEncoding = "base64"
	}
	if dec != nil {
		dv, err := dec.Decode(ctx, r.Value)
		if err == nil {
			var b []byte
			if b, err = codec.EncodeJSON(dv); err == nil {
				out.Value, out.ValueEncoding = json.RawMessage(b), "decoded"
			}
		}
		if err != nil {
			out.DecodeError = err.Error()
		}
	}
	if len(r.Headers) > 0 {
		out.Headers = map[string]string{}
		for k, b := range r.Headers {
			out.Headers[k], _ = tail.Text(b)
		}
	}
	return out
}
