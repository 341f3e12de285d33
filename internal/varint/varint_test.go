package varint

import (
	"encoding/binary"
	"math"
	"testing"
)

func TestReaderRoundTripsAndRefusesLongForms(t *testing.T) {
	var buf []byte
	values := []int64{0, 1, -1, 63, -64, 64, math.MaxInt64, math.MinInt64}
	for _, v := range values {
		buf = binary.AppendVarint(buf, v)
	}
	buf = binary.AppendUvarint(buf, math.MaxUint64)
	r := NewReader(buf)
	for _, want := range values {
		if got := r.Varint(); got != want {
			t.Fatalf("Varint = %d, want %d", got, want)
		}
	}
	if got := r.Uvarint(); got != math.MaxUint64 || r.Err() != nil || r.Len() != 0 {
		t.Fatalf("Uvarint = %d (%v, %d left)", got, r.Err(), r.Len())
	}
	for name, data := range map[string][]byte{
		"empty":          nil,
		"truncated":      {0x80},
		"zero, two long": {0x80, 0x00},
		"one, two long":  {0x82, 0x00},
	} {
		r := NewReader(data)
		if r.Varint(); r.Err() == nil {
			t.Errorf("%s: %x read without error", name, data)
		}
		if r.Uvarint(); r.Err() == nil {
			t.Errorf("%s: a read after a bad one has no error", name)
		}
	}
}

func TestBytes(t *testing.T) {
	r := NewReader([]byte{3, 'a', 'b', 'c', 'd'})
	if got := string(r.LenBytes()); got != "abc" || r.Err() != nil {
		t.Fatalf("LenBytes: %q, %v", got, r.Err())
	}
	if got := string(r.Bytes(1)); got != "d" || r.Len() != 0 {
		t.Fatalf("Bytes(1): %q, %d left", got, r.Len())
	}
	for _, data := range [][]byte{{4, 'a', 'b', 'c'}, {0x80}} {
		r := NewReader(data)
		if b := r.LenBytes(); b != nil || r.Err() != ErrBad {
			t.Errorf("LenBytes of %v: %q, %v; want ErrBad", data, b, r.Err())
		}
	}
	if r := NewReader([]byte{1}); r.Bytes(2) != nil || r.Err() != ErrBad {
		t.Error("Bytes past the end: no ErrBad")
	}
}
