package processor

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/windows"
)

func TestUpdateCodecRoundTrip(t *testing.T) {
	w := windows.Tumbling(time.Hour).WindowAt(time.Date(2016, 7, 26, 8, 0, 0, 0, time.UTC))
	for _, u := range []update{
		{Window: w, Delta: 1, SourcePartition: 0, SourceOffset: 0},
		{Window: w, Delta: 1, SourcePartition: 7, SourceOffset: 1 << 40, SourceFrom: 1 << 40},
		{Window: windows.Tumbling(time.Minute).WindowAt(time.Unix(-3600, 0)), Delta: 3, SourcePartition: 2, SourceOffset: 5, SourceFrom: 5},
		{Window: w, Delta: 1200, SourcePartition: 3, SourceOffset: 20000, SourceFrom: 0},
		{Window: w, Delta: 2, SourcePartition: 3, SourceOffset: 20000, SourceFrom: 19999},
	} {
		b, err := updateCodec{}.Encode(u)
		if err != nil {
			t.Fatal(err)
		}
		got, err := updateCodec{}.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, u) {
			t.Fatalf("round trip %+v → %+v", u, got)
		}
	}
	if _, err := (updateCodec{}).Encode("not an update"); err == nil {
		t.Fatal("encoded a string")
	}
}

func TestUpdateCodecRejects(t *testing.T) {
	good, _ := updateCodec{}.Encode(update{Window: windows.Tumbling(time.Hour).WindowAt(time.Unix(0, 0)), Delta: 1})
	tests := map[string][]byte{
		"empty":           nil,
		"unknown version": append([]byte{9}, good[1:]...),
		"truncated":       good[:len(good)-1],
		"trailing bytes":  append(append([]byte{}, good...), 0),
		"empty window":    {updateVersion, 0, 0, 2, 2, 2},
		"negative offset": {updateVersion, 0, 1, 0, 2, 2},
		"empty batch":     {batchUpdateVersion, 0, 4, 0, 2, 2, 0},
		"batch before 0":  {batchUpdateVersion, 0, 4, 0, 2, 2, 6},
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := (updateCodec{}).Decode(data); !errors.Is(err, errBadUpdate) {
				t.Fatalf("Decode = %v, want errBadUpdate", err)
			}
		})
	}
}

// FuzzUpdateCodec: Decode never panics, and what it accepts re-encodes to
// the same bytes.
func FuzzUpdateCodec(f *testing.F) {
	good, _ := updateCodec{}.Encode(update{Window: windows.Tumbling(time.Hour).WindowAt(time.Unix(3600, 0)), Delta: 1, SourcePartition: 3, SourceOffset: 99})
	f.Add(good)
	f.Add([]byte{updateVersion})
	batch, _ := updateCodec{}.Encode(update{Window: windows.Tumbling(time.Hour).WindowAt(time.Unix(3600, 0)), Delta: 40, SourcePartition: 1, SourceOffset: 999, SourceFrom: 500})
	f.Add(batch)
	mark, _ := updateCodec{}.Encode(windows.Mark{Partition: 2, Offset: 7, Max: time.Unix(1469520000, 0), Wall: time.Unix(1800000000, 0), Ended: true})
	f.Add(mark)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := updateCodec{}.Decode(data)
		if err != nil {
			return
		}
		again, err := updateCodec{}.Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(again, data) {
			t.Fatalf("re-encoded %x as %x", data, again)
		}
	})
}

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
	if got, want := Totals(rows), []Total{{"", 1}, {"Close", 2}, {"Open", 8}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Totals = %v, want %v", got, want)
	}
}

func TestAggregateConfigValidate(t *testing.T) {
	if _, err := NewAggregator(AggregateConfig{}); err == nil {
		t.Fatal("empty config accepted")
	}
	if _, err := ParseStart("yesterday"); err == nil {
		t.Fatal("--start yesterday accepted")
	}
}
