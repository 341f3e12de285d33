package windows

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/agg"
)

func TestRowKeyRoundTrip(t *testing.T) {
	w := Tumbling(time.Hour).WindowAt(ts("2016-07-26T08:00:00Z"))
	tests := []struct{ name, key, rowKey string }{
		{"plain", "Open", "Open|2016-07-26T08:00:00Z"},
		{"empty key", "", "|2016-07-26T08:00:00Z"},
		{"key with separator", "a|b", "a|b|2016-07-26T08:00:00Z"},
		{"unicode", "Öffnen ✓", "Öffnen ✓|2016-07-26T08:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rk := RowKey(tt.key, w)
			if rk != tt.rowKey {
				t.Fatalf("RowKey = %q, want %q", rk, tt.rowKey)
			}
			key, start, err := ParseRowKey(rk)
			if err != nil || key != tt.key || !start.Equal(w.Start) {
				t.Fatalf("ParseRowKey(%q) = %q, %v, %v", rk, key, start, err)
			}
		})
	}
}

func TestParseRowKeyErrors(t *testing.T) {
	for _, in := range []string{"", "Open", "Open|", "Open|yesterday", "Open|2016-07-26 08:00:00"} {
		if _, _, err := ParseRowKey(in); !errors.Is(err, ErrBadRowKey) {
			t.Errorf("ParseRowKey(%q) error = %v, want ErrBadRowKey", in, err)
		}
	}
}

func TestRowApplyIsIdempotent(t *testing.T) {
	var r Row
	steps := []struct {
		partition int32
		offset    int64
		applied   bool
		count     int64
	}{
		{0, 5, true, 1},
		{0, 5, false, 1}, // redelivered
		{0, 3, false, 1}, // replayed from an older commit
		{1, 3, true, 2},  // another source partition has its own offsets
		{0, 6, true, 3},
		{1, 3, false, 3},
	}
	for i, s := range steps {
		if got := r.Apply(s.partition, s.offset, 1); got != s.applied || r.Count != s.count {
			t.Fatalf("step %d: Apply(%d, %d) = %v, count %d; want %v, %d", i, s.partition, s.offset, got, r.Count, s.applied, s.count)
		}
	}
}

func TestRowCodecRoundTrip(t *testing.T) {
	r := Row{
		Window:  Tumbling(time.Hour).WindowAt(ts("2016-07-26T08:00:00Z")),
		Count:   1028,
		Applied: map[int32]int64{0: 17, 7: 1 << 40},
	}
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Row
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip: got %+v, want %+v", got, r)
	}
	// Rows written before the binary form are JSON and still read.
	var legacy Row
	if err := legacy.UnmarshalBinary([]byte(`{"start":1469520000000,"end":1469523600000,"count":1028,"applied":{"0":17,"7":1099511627776}}`)); err != nil || !reflect.DeepEqual(legacy, r) {
		t.Fatalf("legacy JSON row: %+v, %v", legacy, err)
	}
	r.State = Final
	if b, err = r.MarshalBinary(); err != nil || got.UnmarshalBinary(b) != nil || got.State != Final {
		t.Fatalf("state round trip: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "{", `{"start":10,"end":10,"count":1}`, `{"start":0,"end":10,"applied":{"x":1}}`,
		"\x01", "\x01\x02\x02\x02\x00\x00", "\x01\x00\x02\x02\x09\x00", "\x01\x00\x02\x02\x00\x05", "\x01\x00\x02\x02\x00\x00\x00"} {
		if err := new(Row).UnmarshalBinary([]byte(bad)); err == nil {
			t.Errorf("UnmarshalBinary(%q) accepted", bad)
		}
	}
}

func TestRowContains(t *testing.T) {
	w := Window{Start: time.Unix(3600, 0).UTC(), End: time.Unix(7200, 0).UTC()}
	var old Row
	old.Window = w
	old.Apply(0, 10, 1)
	old.Apply(1, 5, 1)
	newer := Row{Window: w, Count: old.Count, Applied: map[int32]int64{0: 10, 1: 5}}
	newer.Apply(0, 11, 1)
	newer.Apply(2, 1, 1)
	otherWindow := Row{Window: Window{Start: w.End, End: w.End.Add(time.Hour)}, Applied: newer.Applied}
	diverged := Row{Window: w, Applied: map[int32]int64{0: 12, 1: 4}}
	for _, tc := range []struct {
		name      string
		r, older  Row
		contained bool
	}{
		{"itself", old, old, true},
		{"a later row", newer, old, true},
		{"an earlier row", old, newer, false},
		{"an empty row", old, Row{Window: w}, true},
		{"another window", otherWindow, old, false},
		{"diverged", diverged, old, false},
	} {
		if got := tc.r.Contains(tc.older); got != tc.contained {
			t.Errorf("%s: Contains = %v, want %v", tc.name, got, tc.contained)
		}
	}
}

// aggRow is a row of three events with every kind of aggregate.
func aggRow(t testing.TB) Row {
	specs, err := agg.Parse([]string{"sum(b),avg(l),min(l),max(b) as top,count_distinct(u),p50(l)"})
	if err != nil {
		t.Fatal(err)
	}
	r := Row{Window: Tumbling(time.Hour).WindowAt(time.Unix(3600, 0)), Count: 3, Applied: map[int32]int64{2: 40}, Aggs: agg.NewColumns(specs)}
	for _, ev := range [][3]any{{int64(1) << 62, 1e16, "a"}, {int64(1) << 62, 1.0, "b"}, {int64(1) << 62, -1e16, "a"}} {
		for _, c := range r.Aggs {
			v := ev[0]
			switch c.Spec.Field.String() {
			case "l":
				v = ev[1]
			case "u":
				v = ev[2]
			}
			if err := c.State.Add(v); err != nil {
				t.Fatal(err)
			}
		}
	}
	return r
}

// TestRowAggs: a row with aggregates reads back with them, and its result
// writes them after count, by name, worked out by hand: 3·2^62 past
// int64, the mean of 1e16, 1 and -1e16 exactly 1/3, the minimum -1e16, 2
// distinct, and the median 1 within 1% (the sketch answers 1.01).
func TestRowAggs(t *testing.T) {
	r := aggRow(t)
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back Row
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	want := `{"key":"Open","window_start":"1970-01-01T01:00:00Z","window_end":"1970-01-01T02:00:00Z","count":3,"sum_b":13835058055282163712,"avg_l":0.3333333333333333,"min_l":-10000000000000000,"top":4611686018427387904,"count_distinct_u":2,"p50_l":1.0099999999999998}`
	for _, row := range []Row{r, back} {
		got, err := json.Marshal(row.Result("Open"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("result\n%s\nwant\n%s", got, want)
		}
	}
	if back.Count != 3 || back.Applied[2] != 40 || !agg.Same(back.Aggs, r.Aggs) {
		t.Errorf("read back %+v", back)
	}
	if _, err := json.Marshal(Row{Window: r.Window}.Result("k")); err != nil {
		t.Error(err)
	}
}

// FuzzRowBinary: whatever decodes re-encodes to a row that decodes the same.
func FuzzRowBinary(f *testing.F) {
	r := Row{Window: Tumbling(time.Hour).WindowAt(time.Unix(3600, 0)), Count: 3, State: Closing, Applied: map[int32]int64{0: 1, 5: 9}}
	b, _ := r.MarshalBinary()
	f.Add(b)
	b, _ = aggRow(f).MarshalBinary()
	f.Add(b)
	f.Add([]byte(`{"start":0,"end":10,"count":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var a Row
		if a.UnmarshalBinary(data) != nil {
			return
		}
		enc, err := a.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var b Row
		if err := b.UnmarshalBinary(enc); err != nil {
			t.Fatalf("%x decoded to %+v, re-encoded does not decode: %v", data, a, err)
		}
		again, _ := b.MarshalBinary()
		// The aggregates compare by their encodings (a sketch's
		// internals need not be equal to hold the same).
		a.Aggs, b.Aggs = nil, nil
		if !reflect.DeepEqual(a, b) || !bytes.Equal(enc, again) {
			t.Fatalf("%x decoded to %+v, re-encoded decodes to %+v", data, a, b)
		}
	})
}

func FuzzSessionsBinary(f *testing.F) {
	var s Sessions
	_, _, _ = s.Add(Window{Start: time.UnixMilli(0).UTC(), End: time.UnixMilli(1800000).UTC()}, 2, 1, 7)
	b, _ := s.MarshalBinary()
	f.Add(b)
	f.Add([]byte{SessionsTag})
	f.Fuzz(func(t *testing.T, data []byte) {
		var a Sessions
		if a.UnmarshalBinary(data) != nil {
			return
		}
		enc, err := a.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var b Sessions
		if err := b.UnmarshalBinary(enc); err != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("%x decoded to %+v, re-encoded decodes to %+v (%v)", data, a, b, err)
		}
	})
}
