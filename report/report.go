// Package report prints result rows and totals for people and scripts: an
// aligned table, CSV (header exactly "key,window_start,window_end,count",
// then the --agg columns), or JSON lines (one object per row).
package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hourglass-stream/hourglass/agg"
	"github.com/hourglass-stream/hourglass/table"
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

// Rows writes result rows in format f, with the --agg columns of the
// first row after count.
func Rows(w io.Writer, f Format, rows []windows.Result) error {
	keys := []string{"key"}
	if len(rows) > 0 {
		keys, _ = rows[0].KeyColumns()
	}
	header := append(append(keys, "window_start", "window_end", "count"), names(rows, func(r windows.Result) []agg.Column { return r.Aggs })...)
	cells := make([][]string, len(rows))
	for i, r := range rows {
		_, vals := r.KeyColumns()
		cells[i] = append(append(vals, windows.FormatTime(r.WindowStart), windows.FormatTime(r.WindowEnd), strconv.FormatInt(r.Count, 10)), agg.Texts(r.Aggs)...)
	}
	return write(w, f, header, cells, len(keys)+2, func(i int) any { return rows[i] })
}

// Totals writes per-key totals in format f (CSV header "key,total", then
// the --agg columns, merged over the key's windows).
func Totals(w io.Writer, f Format, totals []table.Total) error {
	keys := []string{"key"}
	if len(totals) > 0 {
		keys, _ = totals[0].KeyColumns()
	}
	header := append(append(keys, "total"), names(totals, func(t table.Total) []agg.Column { return t.Aggs })...)
	cells := make([][]string, len(totals))
	for i, t := range totals {
		_, vals := t.KeyColumns()
		cells[i] = append(append(vals, strconv.FormatInt(t.Total, 10)), agg.Texts(t.Aggs)...)
	}
	return write(w, f, header, cells, len(keys), func(i int) any { return totals[i] })
}

// names are the --agg columns of the first of rows.
func names[T any](rows []T, cols func(T) []agg.Column) []string {
	if len(rows) == 0 {
		return nil
	}
	return agg.Names(cols(rows[0]))
}

// write writes cells under header as CSV or a table (numbers from column
// right on), or the objects of JSON lines (object(i) for row i).
func write(w io.Writer, f Format, header []string, cells [][]string, right int, object func(int) any) error {
	switch f {
	case CSV:
		cw := csv.NewWriter(w)
		_ = cw.Write(header)
		for _, r := range cells {
			_ = cw.Write(r)
		}
		cw.Flush()
		return cw.Error()
	case JSON:
		enc := json.NewEncoder(w)
		for i := range cells {
			if err := enc.Encode(object(i)); err != nil {
				return err
			}
		}
		return nil
	default:
		return alignTable(w, header, cells, right)
	}
}

// writeTable writes aligned columns two spaces apart: text left-aligned,
// the last column right-aligned. Widths count runes, so keys in any script
// line up as long as they are not double-width.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	return alignTable(w, header, rows, len(header)-1)
}

// alignTable is writeTable with the columns from right on right-aligned
// (a count and the --agg columns after it).
func alignTable(w io.Writer, header []string, rows [][]string, right int) error {
	for _, r := range rows {
		for i, c := range r {
			r[i] = Printable(c)
		}
	}
	widths := make([]int, len(header))
	for _, r := range append([][]string{header}, rows...) {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, r := range append([][]string{header}, rows...) {
		for i, c := range r {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			switch {
			case i == len(r)-1:
				b.WriteString(pad + c)
			case i >= right:
				b.WriteString(pad + c + "  ")
			default:
				b.WriteString(c + pad + "  ")
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Query writes the result of a SQL query: its columns as the header (CSV,
// table), or one JSON object per row with the columns as keys in order.
// Values are int64, float64, string, []byte (written as text) or nil (SQL
// NULL: empty in CSV and tables, null in JSON).
func Query(w io.Writer, f Format, columns []string, rows [][]any) error {
	switch f {
	case JSON:
		var b strings.Builder
		for _, r := range rows {
			b.WriteByte('{')
			for i, c := range columns {
				if i > 0 {
					b.WriteByte(',')
				}
				k, _ := json.Marshal(c)
				v := r[i]
				if raw, ok := v.([]byte); ok {
					v = string(raw)
				}
				val, err := json.Marshal(v)
				if err != nil {
					return fmt.Errorf("column %s: %w", c, err)
				}
				b.Write(k)
				b.WriteByte(':')
				b.Write(val)
			}
			b.WriteString("}\n")
		}
		_, err := io.WriteString(w, b.String())
		return err
	case CSV:
		cw := csv.NewWriter(w)
		_ = cw.Write(columns)
		for _, r := range rows {
			_ = cw.Write(cellTexts(r))
		}
		cw.Flush()
		return cw.Error()
	default:
		cells := make([][]string, len(rows))
		for i, r := range rows {
			cells[i] = cellTexts(r)
		}
		return writeTable(w, columns, cells)
	}
}

func cellTexts(r []any) []string {
	out := make([]string, len(r))
	for i, v := range r {
		switch v := v.(type) {
		case nil:
		case []byte:
			out[i] = string(v)
		case float64:
			out[i] = strconv.FormatFloat(v, 'g', -1, 64)
		default:
			out[i] = fmt.Sprint(v)
		}
	}
	return out
}

// Printable returns s as it may reach a terminal: unchanged if it holds no
// control characters, else quoted with Go's escapes, so that a key such as
// "\x1b]0;PWNED\x07\x1b[2J" shows as text instead of retitling and clearing
// the screen. Table output uses it; JSON and CSV stay exact.
func Printable(s string) string {
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == utf8.RuneError {
			return strconv.QuoteToGraphic(s)
		}
	}
	return s
}
