// Package report prints result rows and totals for people and scripts: an
// aligned table, CSV (header exactly "key,window_start,window_end,count"),
// or JSON lines (one object per row).
package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/hourglass-stream/hourglass/processor"
	"github.com/hourglass-stream/hourglass/windows"
)

// Format is an output format.
type Format string

// The formats.
const (
	Table Format = "table"
	CSV   Format = "csv"
	JSON  Format = "json"
)

// ParseFormat reads "table", "csv" or "json".
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case Table, CSV, JSON:
		return f, nil
	}
	return "", fmt.Errorf("format %q: want table, csv or json", s)
}

// Rows writes result rows in format f.
func Rows(w io.Writer, f Format, rows []windows.Result) error {
	switch f {
	case CSV:
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"key", "window_start", "window_end", "count"})
		for _, r := range rows {
			_ = cw.Write([]string{r.Key, windows.FormatTime(r.WindowStart), windows.FormatTime(r.WindowEnd), strconv.FormatInt(r.Count, 10)})
		}
		cw.Flush()
		return cw.Error()
	case JSON:
		enc := json.NewEncoder(w)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	default:
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "key\twindow_start\twindow_end\tcount\t")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t\n", r.Key, windows.FormatTime(r.WindowStart), windows.FormatTime(r.WindowEnd), r.Count)
		}
		return tw.Flush()
	}
}

// Totals writes per-key totals in format f (CSV header "key,total").
func Totals(w io.Writer, f Format, totals []processor.Total) error {
	switch f {
	case CSV:
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"key", "total"})
		for _, t := range totals {
			_ = cw.Write([]string{t.Key, strconv.FormatInt(t.Total, 10)})
		}
		cw.Flush()
		return cw.Error()
	case JSON:
		enc := json.NewEncoder(w)
		for _, t := range totals {
			if err := enc.Encode(t); err != nil {
				return err
			}
		}
		return nil
	default:
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "key\ttotal\t")
		for _, t := range totals {
			fmt.Fprintf(tw, "%s\t%d\t\n", t.Key, t.Total)
		}
		return tw.Flush()
	}
}
