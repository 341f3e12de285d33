package main

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/hourglass-stream/hourglass/demo"
	"github.com/hourglass-stream/hourglass/report"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newDemo(_ *globals) *cobra.Command {
	var (
		opts      demo.Options
		format    string
		writeData string
	)
	cmd := &cobra.Command{
		Use:   "demo [--events 100000] [--files 50] [--data DIR] [--format table|csv|json]",
		Short: "Run the classic hourly Open/Close counts on an embedded broker",
		Long: `Starts an embedded Kafka-protocol broker, writes the classic open/close event
files (or reads yours from --data), streams them one file per trigger, counts
events per action per 1-hour event-time window with the aggregate processor,
and shows the complete result table as it fills; then the final table and
the totals per action. Exits once every event is counted. --format csv|json
prints only the final table, for scripts.`,
		Example: `  hourglass demo
  hourglass demo --events 20000 --files 10 --format csv > counts.csv
  hourglass demo --data ~/databricks-datasets/structured-streaming/events
  hourglass demo --write-data ./events   # only write the generated files, for 'hourglass ingest'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Format, err = report.ParseFormat(format); err != nil {
				return err
			}
			if opts.Data.Events <= 0 || opts.Data.Files <= 0 {
				return fmt.Errorf("--events and --files must be positive")
			}
			if writeData != "" {
				if err := os.MkdirAll(writeData, 0o755); err != nil {
					return err
				}
				paths, err := demo.WriteFiles(writeData, demo.Generate(opts.Data), opts.Data.Files)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %d events in %d files to %s\n", opts.Data.Events, len(paths), writeData)
				return nil
			}
			opts.Out = cmd.OutOrStdout()
			fd := int(os.Stdout.Fd())
			if opts.Format == report.Table && term.IsTerminal(fd) {
				opts.Live = true
				if _, h, err := term.GetSize(fd); err == nil {
					opts.Height = h
				}
			}
			// The processor's own info logs would scroll the live table away.
			opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			_, err = demo.Run(cmd.Context(), opts)
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Data.Events, "events", 100000, "events to generate (half Open, half Close)")
	f.IntVar(&opts.Data.Files, "files", 50, "files to spread them over (one per trigger)")
	f.StringVar(&opts.Dir, "data", "", "read JSON-lines files from this directory instead of generating them")
	f.StringVar(&format, "format", "table", "table (live, then totals), csv or json (final table only)")
	f.StringVar(&writeData, "write-data", "", "only write the generated files into this directory and exit")
	f.DurationVar(&opts.TriggerInterval, "trigger-interval", 0, "least time between two files (default 200ms)")
	return cmd
}

func parseInt(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }
