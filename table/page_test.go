package table

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/windows"
)

// TestPaginate: newest window first by default (keys in order within a
// window), oldest first on request, pages that meet exactly through their
// cursors, and a cursor that is not one is an error.
func TestPaginate(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2016, 7, 26, h, 0, 0, 0, time.UTC) }
	var rows []Row
	for h := range 3 {
		for _, k := range []string{"Open", "Close"} {
			rows = append(rows, Row{Result: windows.Result{Key: k, WindowStart: at(h), WindowEnd: at(h + 1), Count: int64(h)}})
		}
	}
	names := func(rs []Row) string {
		var s []string
		for _, r := range rs {
			s = append(s, fmt.Sprintf("%s@%d", r.Key, r.WindowStart.Hour()))
		}
		return strings.Join(s, " ")
	}
	p, err := Paginate(append([]Row(nil), rows...), Query{Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(p.Rows); got != "Close@2 Open@2 Close@1 Open@1" || p.Next == "" {
		t.Fatalf("newest first, 4: %s, next %q", got, p.Next)
	}
	p2, err := Paginate(append([]Row(nil), rows...), Query{Limit: 4, Cursor: p.Next})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(p2.Rows); got != "Close@0 Open@0" || p2.Next != "" {
		t.Fatalf("the next page: %s, next %q", got, p2.Next)
	}
	p3, err := Paginate(append([]Row(nil), rows...), Query{Oldest: true, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(p3.Rows); got != "Close@0 Open@0 Close@1" {
		t.Fatalf("oldest first: %s", got)
	}
	p4, err := Paginate(append([]Row(nil), rows...), Query{Oldest: true, Cursor: p3.Next})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(p4.Rows); got != "Open@1 Close@2 Open@2" || p4.Next != "" {
		t.Fatalf("oldest first, the rest: %s, next %q", got, p4.Next)
	}
	if _, err := Paginate(rows, Query{Cursor: "nope"}); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
	if p, _ := Paginate(nil, Query{Limit: 5}); p.Rows == nil || len(p.Rows) != 0 || p.Next != "" {
		t.Fatalf("no rows: %+v", p)
	}
}
