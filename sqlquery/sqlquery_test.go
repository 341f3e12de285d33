package sqlquery

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/windows"
)

func rows() []windows.Result {
	at := func(h int) time.Time { return time.Date(2016, 7, 26, h, 0, 0, 0, time.UTC) }
	return []windows.Result{
		{Key: "Open", WindowStart: at(1), WindowEnd: at(2), Count: 5},
		{Key: "Close", WindowStart: at(1), WindowEnd: at(2), Count: 3},
		{Key: "Open", WindowStart: at(0), WindowEnd: at(1), Count: 7},
		{Key: "Close", WindowStart: at(2), WindowEnd: at(3), Count: 1},
	}
}

func TestNotebookQueries(t *testing.T) {
	for _, tc := range []struct {
		query string
		cols  []string
		rows  [][]any
	}{
		{ // totals per action
			"select key, sum(count) as total from windows group by key order by key",
			[]string{"key", "total"},
			[][]any{{"Close", int64(4)}, {"Open", int64(12)}},
		},
		{ // rows ordered by window
			"select key, window_start, count from windows order by window_start, key",
			[]string{"key", "window_start", "count"},
			[][]any{
				{"Open", "2016-07-26T00:00:00Z", int64(7)},
				{"Close", "2016-07-26T01:00:00Z", int64(3)},
				{"Open", "2016-07-26T01:00:00Z", int64(5)},
				{"Close", "2016-07-26T02:00:00Z", int64(1)},
			},
		},
		{ // the notebook's "MMM-dd HH:mm" of the window end, with SQLite's date functions
			"select key, strftime('%m-%d %H:%M', window_end) as time, count from windows where window_start >= '2016-07-26T01:00:00Z' and key = 'Close' order by time",
			[]string{"key", "time", "count"},
			[][]any{{"Close", "07-26 02:00", int64(3)}, {"Close", "07-26 03:00", int64(1)}},
		},
		{
			"select avg(count) as mean, max(window_end) as last, null as missing from windows",
			[]string{"mean", "last", "missing"},
			[][]any{{4.0, "2016-07-26T03:00:00Z", nil}},
		},
	} {
		got, err := Run(context.Background(), rows(), tc.query)
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		if !reflect.DeepEqual(got.Columns, tc.cols) || !reflect.DeepEqual(got.Rows, tc.rows) {
			t.Errorf("%s:\ngot  %v %v\nwant %v %v", tc.query, got.Columns, got.Rows, tc.cols, tc.rows)
		}
	}
}

func TestErrors(t *testing.T) {
	for query, want := range map[string]string{
		"":                         "empty query",
		"select nope from windows": "no such column",
		"select * from counts":     "no such table",
		"selec key from windows":   "syntax error",
	} {
		if _, err := Run(context.Background(), rows(), query); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one mentioning %q", query, err, want)
		}
	}
}

func TestEachRunIsFresh(t *testing.T) {
	if _, err := Run(context.Background(), rows(), "delete from windows"); err != nil {
		t.Fatal(err)
	}
	got, err := Run(context.Background(), rows(), "select count(*) from windows")
	if err != nil || got.Rows[0][0] != int64(4) {
		t.Fatalf("after a delete in another run: %v, %v", got.Rows, err)
	}
}

// TestColumnsOfCountRows: rows of one key and no --agg (or no rows at
// all) make the table Schema documents.
func TestColumnsOfCountRows(t *testing.T) {
	if schema, marks := columns(windows.Result{}); schema != Schema || marks != "?, ?, ?, ?" {
		t.Errorf("columns of a count row: %s (%s), want %s", schema, marks, Schema)
	}
	res, err := Run(context.Background(), nil, "select count(*) as n from windows")
	if err != nil || len(res.Rows) != 1 || res.Rows[0][0] != int64(0) {
		t.Errorf("a query over no rows: %+v %v", res, err)
	}
}
