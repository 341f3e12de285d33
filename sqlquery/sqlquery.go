// Package sqlquery runs SQL over a result table, as the notebook ran
// spark.sql over its counts. The rows are loaded into an in-memory SQLite
// database (modernc.org/sqlite: pure Go, no C library) as one table,
//
//	windows(key TEXT, window_start TEXT, window_end TEXT, count INTEGER)
//
// (with several --key, a TEXT column per key by name instead of key),
// with times as RFC 3339 UTC text ("2016-07-26T08:00:00Z"), which sorts and
// compares in time order and works with SQLite's date functions, and then a
// column per --agg aggregate, of no declared type so that SQLite keeps each
// value as it is: an integer, a float, text for an integer beyond 64 bits,
// or NULL. Each run has its own database, so a query can change nothing but
// its own copy.
package sqlquery

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/hourglass-stream/hourglass/agg"
	"github.com/hourglass-stream/hourglass/windows"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Schema is the table the rows are loaded into.
const Schema = `CREATE TABLE windows (key TEXT NOT NULL, window_start TEXT NOT NULL, window_end TEXT NOT NULL, count INTEGER NOT NULL)`

// Result is what a query returned: column names, and per row one value per
// column: int64, float64, string, []byte or nil (SQL NULL).
type Result struct {
	Columns []string
	Rows    [][]any
}

// Run loads rows into a fresh table windows and runs query over it.
func Run(ctx context.Context, rows []windows.Result, query string) (Result, error) {
	if strings.TrimSpace(query) == "" {
		return Result{}, errors.New("--sql: empty query")
	}
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return Result{}, fmt.Errorf("sql: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one connection: an in-memory database is per connection
	if err := load(ctx, db, rows); err != nil {
		return Result{}, err
	}
	rs, err := db.QueryContext(ctx, query)
	if err != nil {
		return Result{}, fmt.Errorf("--sql: %w", err)
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return Result{}, fmt.Errorf("--sql: %w", err)
	}
	res := Result{Columns: cols}
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return Result{}, fmt.Errorf("--sql: %w", err)
		}
		res.Rows = append(res.Rows, vals)
	}
	if err := rs.Err(); err != nil {
		return Result{}, fmt.Errorf("--sql: %w", err)
	}
	return res, nil
}

func load(ctx context.Context, db *sql.DB, rows []windows.Result) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sql: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var first windows.Result // without rows: Schema
	if len(rows) > 0 {
		first = rows[0]
	}
	schema, marks := columns(first)
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("sql: %w", err)
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO windows VALUES (`+marks+`)`)
	if err != nil {
		return fmt.Errorf("sql: %w", err)
	}
	defer ins.Close()
	for _, r := range rows {
		var args []any
		_, keys := r.KeyColumns()
		for _, k := range keys {
			args = append(args, k)
		}
		args = append(args, windows.FormatTime(r.WindowStart), windows.FormatTime(r.WindowEnd), r.Count)
		for _, c := range r.Aggs {
			args = append(args, sqlValue(c.State.Value()))
		}
		if _, err := ins.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("sql: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sql: %w", err)
	}
	return nil
}

// sqlValue is an aggregate's value for SQLite: an integer as int64 when
// it fits, else as text; a float as it is; null as NULL.
func sqlValue(v any) any {
	if n, ok := v.(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			return i
		}
		return string(n)
	}
	return v
}

// columns is the table for rows like r: Schema, with a TEXT column per key
// instead of key when there are several, and a column per aggregate; and
// the placeholders of a row. Names are identifiers (checked at the start
// of aggregate).
func columns(r windows.Result) (schema, marks string) {
	keys, _ := r.KeyColumns()
	var cols []string
	for _, k := range keys {
		cols = append(cols, k+" TEXT NOT NULL")
	}
	cols = append(cols, "window_start TEXT NOT NULL", "window_end TEXT NOT NULL", "count INTEGER NOT NULL")
	cols = append(cols, agg.Names(r.Aggs)...)
	marks = strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")
	return "CREATE TABLE windows (" + strings.Join(cols, ", ") + ")", marks
}
