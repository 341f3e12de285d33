package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hourglass-stream/hourglass/report"
	"github.com/hourglass-stream/hourglass/sqlquery"
	"github.com/hourglass-stream/hourglass/table"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/spf13/cobra"
)

func newQuery(g *globals) *cobra.Command {
	var (
		group, key, from, to, format, query string
		totals                              bool
		timeout                             time.Duration
	)
	cmd := &cobra.Command{
		Use:   "query --group G [--key K] [--window-from TIME] [--window-to TIME] [--totals] [--sql QUERY] [--format table|csv|json]",
		Short: "Print the result table of a group, read through a Goka view",
		Long: `Reads <group>-table through a Goka view, waits until the view has caught up
with the table, and prints its rows ordered by window start, then key:
key, window_start, window_end, count. --window-from and --window-to select
windows starting at or after --window-from and before --window-to (RFC 3339, "2006-01-02 15:04:05" UTC, or
epoch seconds). --totals prints key,total instead.

--sql runs a SQL query (SQLite's dialect) over the rows, loaded as the table
  windows(key TEXT, window_start TEXT, window_end TEXT, count INTEGER)
with times as RFC 3339 UTC text, and prints its result with its own columns.
--key, --window-from and --window-to still select the rows loaded.`,
		Example: `  hourglass query --group hourly
  hourglass query --group hourly --key Open --window-from 2016-07-26T08:00:00Z --window-to 2016-07-26T12:00:00Z --format csv
  hourglass query --group hourly --totals
  hourglass query --group hourly --sql 'select key, sum(count) as total from windows group by key'
  hourglass query --group hourly --sql "select key, strftime('%H:%M', window_end) as time, count from windows order by window_start, key"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := report.ParseFormat(format)
			if err != nil {
				return err
			}
			if totals && query != "" {
				return errors.New("--totals and --sql do not go together: sum in the query")
			}
			filter := table.Filter{Key: key, KeySet: cmd.Flags().Changed("key")}
			if filter.From, err = parseFlagTime("--window-from", from); err != nil {
				return err
			}
			if filter.To, err = parseFlagTime("--window-to", to); err != nil {
				return err
			}
			kc, sc, err := g.sarama(cmd.Context(), "hourglass-query")
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			v, err := table.OpenView(ctx, table.ViewConfig{Kafka: kc, Sarama: sc, Group: group})
			if err != nil {
				return err
			}
			defer v.Close()
			if err := v.WaitRecovered(ctx); err != nil {
				return err
			}
			rows, err := v.Rows(filter)
			if err != nil {
				return err
			}
			if query != "" {
				res, err := sqlquery.Run(ctx, rows, query)
				if err != nil {
					return err
				}
				return report.Query(cmd.OutOrStdout(), f, res.Columns, res.Rows)
			}
			if totals {
				return report.Totals(cmd.OutOrStdout(), f, table.Totals(rows))
			}
			return report.Rows(cmd.OutOrStdout(), f, rows)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&group, "group", "", "group whose table to read (required)")
	fl.StringVar(&key, "key", "", "only this group key")
	fl.StringVar(&from, "window-from", "", "only windows starting at or after this time")
	fl.StringVar(&to, "window-to", "", "only windows starting before this time")
	fl.StringVar(&from, "from", "", "")
	fl.StringVar(&to, "to", "", "")
	_ = fl.MarkDeprecated("from", "use --window-from (a window start)")
	_ = fl.MarkDeprecated("to", "use --window-to (a window start)")
	fl.BoolVar(&totals, "totals", false, "print the total count per key instead of rows")
	fl.StringVar(&query, "sql", "", "run this SQL query over the table windows(key, window_start, window_end, count)")
	fl.StringVar(&format, "format", "table", "table, csv or json (one object per line)")
	fl.DurationVar(&timeout, "timeout", 2*time.Minute, "give up if the view has not recovered by then")
	requireFlags(cmd, "group")
	return cmd
}

// parseFlagTime reads a time flag with the event-time rules; empty is zero.
func parseFlagTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	var v any = s
	if n, err := parseInt(s); err == nil {
		v = n
	}
	t, err := windows.ParseTime(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", flag, err)
	}
	return t, nil
}
