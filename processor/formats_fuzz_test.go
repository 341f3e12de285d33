package processor

import (
	"reflect"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/windows"
)

// The internal record formats take any bytes without panicking, and what
// they accept re-encodes to a value that decodes the same (round trip).

func FuzzWatermarkRow(f *testing.F) {
	w := watermarkRow{Marks: map[int32]windows.Mark{0: {Partition: 0, Offset: 5, Max: time.UnixMilli(1469520000000).UTC(), Wall: time.UnixMilli(1700000000000).UTC()}, 3: {Partition: 3, Offset: -1, Ended: true}},
		Closed: time.UnixMilli(1469520000000).UTC()}
	b, _ := w.MarshalBinary()
	f.Add(b)
	f.Add(encodeMark(windows.Mark{Partition: 1, Offset: 2, Ended: true}))
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, err := decodeMark(data); err == nil {
			if m2, err := decodeMark(encodeMark(m)); err != nil || !reflect.DeepEqual(m, m2) {
				t.Fatalf("mark %+v does not round-trip: %+v %v", m, m2, err)
			}
		}
		var a watermarkRow
		if a.UnmarshalBinary(data) != nil {
			return
		}
		enc, err := a.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var b watermarkRow
		if err := b.UnmarshalBinary(enc); err != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("%x decoded to %+v, re-encoded decodes to %+v (%v)", data, a, b, err)
		}
	})
}
