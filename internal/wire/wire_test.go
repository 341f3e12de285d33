package wire

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/agg"
	"github.com/hourglass-stream/hourglass/internal/varint"
	"github.com/hourglass-stream/hourglass/windows"
)

// encode and decode are the repartition topic's codec: updates and marks.
func encode(v any) ([]byte, error) {
	switch v := v.(type) {
	case windows.Mark:
		return EncodeMark(v), nil
	case Update:
		return AppendUpdate(nil, v), nil
	}
	return nil, fmt.Errorf("%T is neither an update nor a mark", v)
}

func decode(data []byte) (any, error) {
	if IsMark(data) {
		return DecodeMark(data)
	}
	return DecodeUpdate(data)
}

func TestUpdateCodecRoundTrip(t *testing.T) {
	w := windows.Tumbling(time.Hour).WindowAt(time.Date(2016, 7, 26, 8, 0, 0, 0, time.UTC))
	for _, u := range []Update{
		{Window: w, Delta: 1, SourcePartition: 0, SourceOffset: 0},
		{Window: w, Delta: 1, SourcePartition: 7, SourceOffset: 1 << 40, SourceFrom: 1 << 40},
		{Window: windows.Tumbling(time.Minute).WindowAt(time.Unix(-3600, 0)), Delta: 3, SourcePartition: 2, SourceOffset: 5, SourceFrom: 5},
		{Window: w, Delta: 1200, SourcePartition: 3, SourceOffset: 20000, SourceFrom: 0},
		{Window: w, Delta: 2, SourcePartition: 3, SourceOffset: 20000, SourceFrom: 19999},
	} {
		b, err := encode(u)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, u) {
			t.Fatalf("round trip %+v → %+v", u, got)
		}
	}
	if _, err := encode("not an update"); err == nil {
		t.Fatal("encoded a string")
	}
}

func TestUpdateCodecRejects(t *testing.T) {
	good, _ := encode(Update{Window: windows.Tumbling(time.Hour).WindowAt(time.Unix(0, 0)), Delta: 1})
	tests := map[string][]byte{
		"empty":           nil,
		"unknown version": append([]byte{9}, good[1:]...),
		"truncated":       good[:len(good)-1],
		"trailing bytes":  append(append([]byte{}, good...), 0),
		"empty window":    {UpdateVersion, 0, 0, 2, 2, 2},
		"negative offset": {UpdateVersion, 0, 1, 0, 2, 2},
		"empty batch":     {BatchUpdateVersion, 0, 4, 0, 2, 2, 0},
		"batch before 0":  {BatchUpdateVersion, 0, 4, 0, 2, 2, 6},
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := decode(data); !errors.Is(err, ErrBadRecord) {
				t.Fatalf("Decode = %v, want ErrBadRecord", err)
			}
		})
	}
}

// FuzzUpdateCodec: Decode never panics, and what it accepts re-encodes to
// the same bytes.
func FuzzUpdateCodec(f *testing.F) {
	good, _ := encode(Update{Window: windows.Tumbling(time.Hour).WindowAt(time.Unix(3600, 0)), Delta: 1, SourcePartition: 3, SourceOffset: 99})
	f.Add(good)
	f.Add([]byte{UpdateVersion})
	batch, _ := encode(Update{Window: windows.Tumbling(time.Hour).WindowAt(time.Unix(3600, 0)), Delta: 40, SourcePartition: 1, SourceOffset: 999, SourceFrom: 500})
	f.Add(batch)
	mark, _ := encode(windows.Mark{Partition: 2, Offset: 7, Max: time.Unix(1469520000, 0), Wall: time.Unix(1800000000, 0), Ended: true})
	f.Add(mark)
	f.Add(AppendUpdate(nil, valuesUpdate(10, 30, []int64{10, 29}, 1, [][]any{{int64(5)}, {"x"}})))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decode(data)
		if err != nil {
			return
		}
		again, err := encode(v)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(again, data) {
			t.Fatalf("re-encoded %x as %x", data, again)
		}
	})
}

// TestUpdateAfter: of a batch update, a row that applied offset x takes
// only the events after x.
func TestUpdateAfter(t *testing.T) {
	var list OffsetList
	prev := int64(99)
	for _, o := range []int64{100, 101, 150, 151, 300} {
		list, prev = list.Append(prev, o), o
	}
	u := Update{Window: windows.Tumbling(time.Hour).WindowAt(time.Unix(0, 0)), Delta: 5, SourcePartition: 1, SourceFrom: 100, SourceOffset: 310, Offsets: list}
	for _, tt := range []struct {
		x       int64
		kept    []int64
		from    int64
		dropped int64
	}{
		{99, []int64{100, 101, 150, 151, 300}, 100, 0},
		{100, []int64{101, 150, 151, 300}, 101, 1},
		{149, []int64{150, 151, 300}, 150, 2},
		{151, []int64{300}, 152, 4},
		{305, nil, 306, 5},
	} {
		kept, dropped := u.After(tt.x)
		var got []int64
		kept.Offsets.Each(kept.SourceFrom, func(o int64) { got = append(got, o) })
		if fmt.Sprint(got) != fmt.Sprint(tt.kept) || dropped != tt.dropped || kept.Delta != int64(len(tt.kept)) || kept.SourceOffset != 310 ||
			(tt.x >= u.SourceFrom && kept.SourceFrom != tt.from) {
			t.Errorf("after(%d) = %+v (offsets %v), dropped %d; want offsets %v, dropped %d", tt.x, kept, got, dropped, tt.kept, tt.dropped)
		}
		if kept.Delta > 0 {
			if _, err := decode(AppendUpdate(nil, kept)); err != nil {
				t.Errorf("after(%d) does not encode: %v", tt.x, err)
			}
		}
	}
}

func FuzzWatermarkRow(f *testing.F) {
	w := WatermarkRow{Marks: map[int32]windows.Mark{0: {Partition: 0, Offset: 5, Max: time.UnixMilli(1469520000000).UTC(), Wall: time.UnixMilli(1700000000000).UTC()}, 3: {Partition: 3, Offset: -1, Ended: true}},
		Closed: time.UnixMilli(1469520000000).UTC()}
	b, _ := w.MarshalBinary()
	f.Add(b)
	f.Add(EncodeMark(windows.Mark{Partition: 1, Offset: 2, Ended: true}))
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, err := DecodeMark(data); err == nil {
			if m2, err := DecodeMark(EncodeMark(m)); err != nil || !reflect.DeepEqual(m, m2) {
				t.Fatalf("mark %+v does not round-trip: %+v %v", m, m2, err)
			}
		}
		var a WatermarkRow
		if a.UnmarshalBinary(data) != nil {
			return
		}
		enc, err := a.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var b WatermarkRow
		if err := b.UnmarshalBinary(enc); err != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("%x decoded to %+v, re-encoded decodes to %+v (%v)", data, a, b, err)
		}
	})
}

// valuesUpdate is a batch of events at offsets, each with the values
// vals[i] (fields per event).
func valuesUpdate(from, to int64, offsets []int64, fields int, vals [][]any) Update {
	u := Update{Window: windows.Tumbling(time.Hour).WindowAt(time.Unix(0, 0)), Delta: int64(len(offsets)), SourcePartition: 2,
		SourceFrom: from, SourceOffset: to, Fields: fields}
	prev := from - 1
	for i, o := range offsets {
		u.Offsets, prev = u.Offsets.Append(prev, o), o
		for _, v := range vals[i] {
			u.Values = agg.AppendValue(u.Values, v)
		}
	}
	return u
}

// TestValuesUpdate: an update whose events carry values (--agg) round
// trips, even of one event, and After keeps the values of the events it
// keeps.
func TestValuesUpdate(t *testing.T) {
	one := valuesUpdate(7, 7, []int64{7}, 2, [][]any{{int64(3), "x"}})
	u := valuesUpdate(100, 160, []int64{100, 120, 150}, 2, [][]any{{1.5, nil}, {int64(-2), true}, {"s", 2.25}})
	for _, x := range []Update{one, u} {
		b := AppendUpdate(nil, x)
		if b[0] != ValuesUpdateVersion {
			t.Fatalf("version %d", b[0])
		}
		got, err := decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, x) {
			t.Fatalf("round trip %+v → %+v", x, got)
		}
	}
	kept, dropped := u.After(120)
	var got []string
	kept.Events(func(o int64, values []byte) {
		r := varint.NewReader(values)
		a, _ := agg.ReadValue(r)
		b, _ := agg.ReadValue(r)
		got = append(got, fmt.Sprintf("%d %v %v", o, a, b))
	})
	if dropped != 2 || fmt.Sprint(got) != "[150 s 2.25]" {
		t.Errorf("after(120): dropped %d, events %v", dropped, got)
	}
	if _, err := decode(AppendUpdate(nil, kept)); err != nil {
		t.Errorf("after(120) does not encode: %v", err)
	}
	b := AppendUpdate(nil, u)
	for name, data := range map[string][]byte{
		"values cut":  b[:len(b)-1],
		"value added": append(append([]byte{}, b...), 0),
	} {
		if _, err := decode(data); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: %v, want ErrBadRecord", name, err)
		}
	}
}
