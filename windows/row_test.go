package windows

import (
	"errors"
	"reflect"
	"testing"
	"time"
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

// FuzzRowBinary: whatever decodes re-encodes to a row that decodes the same.
func FuzzRowBinary(f *testing.F) {
	r := Row{Window: Tumbling(time.Hour).WindowAt(time.Unix(3600, 0)), Count: 3, State: Closing, Applied: map[int32]int64{0: 1, 5: 9}}
	b, _ := r.MarshalBinary()
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
		if err := b.UnmarshalBinary(enc); err != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("%x decoded to %+v, re-encoded decodes to %+v (%v)", data, a, b, err)
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
