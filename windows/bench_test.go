package windows

import (
	"testing"
	"time"
)

func BenchmarkAssignTumbling(b *testing.B) {
	spec := Tumbling(time.Hour)
	at := time.Unix(1469501107, 0)
	var buf [4]Window
	for b.Loop() {
		_ = spec.Assign(buf[:0], at)
	}
}

func BenchmarkRowApplyAndMarshal(b *testing.B) {
	r := Row{Window: Tumbling(time.Hour).WindowAt(time.Unix(1469498400, 0))}
	var off int64
	for b.Loop() {
		off++
		r.Apply(int32(off%8), off, 1)
		if _, err := r.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
}
