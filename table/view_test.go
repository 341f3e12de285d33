package table

import (
	"reflect"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/agg"
	"github.com/hourglass-stream/hourglass/windows"
)

func TestFilterAndTotals(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2016, 7, 26, h, 0, 0, 0, time.UTC) }
	rows := []windows.Result{
		{Key: "Open", WindowStart: at(9), WindowEnd: at(10), Count: 5},
		{Key: "Close", WindowStart: at(8), WindowEnd: at(9), Count: 2},
		{Key: "Open", WindowStart: at(8), WindowEnd: at(9), Count: 3},
		{Key: "", WindowStart: at(8), WindowEnd: at(9), Count: 1},
	}
	SortResults(rows)
	var order []string
	for _, r := range rows {
		order = append(order, r.Key+"@"+r.WindowStart.Format("15"))
	}
	if got, want := order, []string{"@08", "Close@08", "Open@08", "Open@09"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	tests := []struct {
		name   string
		filter Filter
		want   int
	}{
		{"all", Filter{}, 4},
		{"key", Filter{Key: "Open", KeySet: true}, 2},
		{"empty key is a key", Filter{Key: "", KeySet: true}, 1},
		{"from is inclusive", Filter{From: at(9)}, 1},
		{"to is exclusive", Filter{To: at(9)}, 3},
		{"range", Filter{From: at(8), To: at(10), Key: "Open", KeySet: true}, 2},
	}
	for _, tt := range tests {
		n := 0
		for _, r := range rows {
			if tt.filter.match(r) {
				n++
			}
		}
		if n != tt.want {
			t.Errorf("%s: %d rows, want %d", tt.name, n, tt.want)
		}
	}
	if got, want := Totals(rows), []Total{{Key: "", Total: 1, Aggs: []agg.Column{}}, {Key: "Close", Total: 2, Aggs: []agg.Column{}}, {Key: "Open", Total: 8, Aggs: []agg.Column{}}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Totals = %v, want %v", got, want)
	}
}
