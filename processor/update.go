package processor

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hourglass-stream/hourglass/windows"
)

// update is Delta events of one source partition counted into one window:
// the repartition record from the rekey step to the count step. A batch of
// the rekey step (see combine.go) folds the events of source offsets
// [SourceFrom, SourceOffset] into one update per row, listing the offsets
// of the row's events (Offsets); an update of a single event has
// SourceFrom == SourceOffset and no list.
type update struct {
	Window          windows.Window
	Delta           int64
	SourcePartition int32
	SourceOffset    int64 // the batch's last source offset: what the row dedupes on
	SourceFrom      int64 // the batch's first source offset
	// Offsets are the source offsets of the update's Delta events, in
	// order, as gaps (see offsetList); nil for a single event, and for a
	// batch update of version 3, written before the lists were.
	Offsets offsetList
}

// updateVersion, batchUpdateVersion and listedUpdateVersion are the first
// byte of an encoded update of one event, of a batch without its offsets
// (no longer written; still read), and of a batch with them.
const (
	updateVersion       = 1
	batchUpdateVersion  = 3 // 2 is markKind
	listedUpdateVersion = 4
)

// offsetList is the source offsets of a batch update's events, each an
// unsigned varint: the first its distance from the batch's first offset,
// each next its distance from the one before less one. Consecutive records
// take a byte each.
type offsetList []byte

// appendOffset appends offset to l, whose last offset is prev (from − 1
// for the first).
func (l offsetList) appendOffset(prev, offset int64) offsetList {
	return binary.AppendUvarint(l, uint64(offset-prev-1))
}

// each calls fn with the offsets of l, which starts at from; l was checked
// by decodeUpdate or built by appendOffset.
func (l offsetList) each(from int64, fn func(offset int64)) {
	prev := from - 1
	for len(l) > 0 {
		gap, n := binary.Uvarint(l)
		prev += int64(gap) + 1
		fn(prev)
		l = l[n:]
	}
}

// check reports whether l holds exactly delta canonical varints whose
// offsets lie in [from, to].
func (l offsetList) check(from, to, delta int64) error {
	prev := from - 1
	for i := int64(0); i < delta; i++ {
		gap, n := binary.Uvarint(l)
		if n <= 0 {
			return fmt.Errorf("%w: offset list truncated at %d of %d", errBadUpdate, i, delta)
		}
		if n != uvarintLen(gap) {
			return fmt.Errorf("%w: offset %d is not a canonical varint", errBadUpdate, i)
		}
		if prev >= to || gap > uint64(to-prev-1) {
			return fmt.Errorf("%w: offset %d past the batch's end %d", errBadUpdate, i, to)
		}
		prev += int64(gap) + 1
		l = l[n:]
	}
	if len(l) != 0 {
		return fmt.Errorf("%w: %d bytes after the offset list", errBadUpdate, len(l))
	}
	return nil
}

func uvarintLen(v uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], v)
}

// after is u without its events at or before offset x, which a row that
// applied x has (windows.Row.Apply): a redo or a replay whose batches end
// elsewhere than the row's last one (see combine.go). dropped is how many
// events went. An update without a list is kept whole.
func (u update) after(x int64) (kept update, dropped int64) {
	if u.Offsets == nil || x < u.SourceFrom {
		return u, 0
	}
	kept = u
	kept.Offsets, kept.Delta = nil, 0
	prev := x
	u.Offsets.each(u.SourceFrom, func(o int64) {
		if o > x {
			kept.Offsets = kept.Offsets.appendOffset(prev, o)
			kept.Delta++
			prev = o
		}
	})
	// The kept events' list starts after x: their batch, for the row, is
	// [x+1, SourceOffset].
	kept.SourceFrom = x + 1
	if kept.Delta == 0 {
		kept.Offsets = nil
	}
	return kept, u.Delta - kept.Delta
}

// updateCodec is the goka.Codec of the repartition topic: a version byte and
// varints: source partition, source offset, window start and end in epoch
// milliseconds, delta, and for a batch the span SourceOffset − SourceFrom
// and (version 4) the offset list. It is compact because there is an
// update per row and batch, and a list takes about a byte per event.
type updateCodec struct{}

func (updateCodec) Encode(value any) ([]byte, error) {
	if m, ok := value.(windows.Mark); ok {
		return encodeMark(m), nil
	}
	u, ok := value.(update)
	if !ok {
		return nil, fmt.Errorf("encode update: %T is not an update", value)
	}
	if u.SourceFrom > u.SourceOffset || u.SourceFrom < 0 {
		return nil, fmt.Errorf("encode update: source offsets [%d, %d]", u.SourceFrom, u.SourceOffset)
	}
	return appendUpdate(nil, u), nil
}

// appendUpdate appends the encoding of u, whose offsets are in order, to
// buf.
func appendUpdate(buf []byte, u update) []byte {
	version := byte(updateVersion)
	switch {
	case u.SourceFrom < u.SourceOffset && u.Offsets != nil:
		version = listedUpdateVersion
	case u.SourceFrom < u.SourceOffset:
		version = batchUpdateVersion
	}
	if buf == nil {
		buf = make([]byte, 0, 1+6*binary.MaxVarintLen64+len(u.Offsets))
	}
	buf = append(buf, version)
	buf = binary.AppendVarint(buf, int64(u.SourcePartition))
	buf = binary.AppendVarint(buf, u.SourceOffset)
	buf = binary.AppendVarint(buf, u.Window.Start.UnixMilli())
	buf = binary.AppendVarint(buf, u.Window.End.UnixMilli())
	buf = binary.AppendVarint(buf, u.Delta)
	if version != updateVersion {
		buf = binary.AppendVarint(buf, u.SourceOffset-u.SourceFrom)
	}
	if version == listedUpdateVersion {
		buf = append(buf, u.Offsets...)
	}
	return buf
}

var errBadUpdate = errors.New("bad repartition record")

// countInputCodec is updateCodec as the count step reads the repartition
// topic: a record it cannot decode (a tombstone, a foreign producer's) is
// handed to the callback as an unreadableRecord, which dead-letters it, in
// place of an error, which would stop goka's partition processor for good.
type countInputCodec struct{ updateCodec }

// unreadableRecord is a repartition record the count step cannot read.
type unreadableRecord struct {
	raw []byte
	err error
}

func (c countInputCodec) Decode(data []byte) (any, error) {
	v, err := c.updateCodec.Decode(data)
	if err != nil {
		return unreadableRecord{raw: bytes.Clone(data), err: err}, nil
	}
	return v, nil
}

func (updateCodec) Decode(data []byte) (any, error) {
	if len(data) > 0 && data[0] == markKind {
		return decodeMark(data)
	}
	if len(data) == 0 || (data[0] != updateVersion && data[0] != batchUpdateVersion && data[0] != listedUpdateVersion) {
		return nil, fmt.Errorf("%w: unknown version", errBadUpdate)
	}
	version := data[0]
	var all [6]int64
	fields := all[:5]
	if version != updateVersion {
		fields = all[:6]
	}
	data = data[1:]
	for i := range fields {
		v, n := binary.Varint(data)
		if n <= 0 {
			return nil, fmt.Errorf("%w: truncated at field %d", errBadUpdate, i)
		}
		// Only the shortest encoding is ours; anything else was not
		// written by updateCodec.
		var canon [binary.MaxVarintLen64]byte
		if binary.PutVarint(canon[:], v) != n {
			return nil, fmt.Errorf("%w: field %d is not a canonical varint", errBadUpdate, i)
		}
		fields[i] = v
		data = data[n:]
	}
	if len(data) != 0 && version != listedUpdateVersion {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadUpdate, len(data))
	}
	if fields[0] < 0 || fields[0] > math.MaxInt32 {
		return nil, fmt.Errorf("%w: source partition %d", errBadUpdate, fields[0])
	}
	u := update{
		SourcePartition: int32(fields[0]),
		SourceOffset:    fields[1],
		Window:          windows.Window{Start: time.UnixMilli(fields[2]).UTC(), End: time.UnixMilli(fields[3]).UTC()},
		Delta:           fields[4],
	}
	u.SourceFrom = u.SourceOffset
	if len(fields) == 6 {
		if fields[5] <= 0 || fields[5] > u.SourceOffset {
			return nil, fmt.Errorf("%w: batch span %d ending at offset %d", errBadUpdate, fields[5], u.SourceOffset)
		}
		u.SourceFrom = u.SourceOffset - fields[5]
	}
	if !u.Window.End.After(u.Window.Start) || u.SourceOffset < 0 || u.SourcePartition < 0 {
		return nil, fmt.Errorf("%w: window %v, source %d/%d", errBadUpdate, u.Window, u.SourcePartition, u.SourceOffset)
	}
	if version == listedUpdateVersion {
		if u.Delta <= 0 || u.Delta > u.SourceOffset-u.SourceFrom+1 {
			return nil, fmt.Errorf("%w: %d listed events in [%d, %d]", errBadUpdate, u.Delta, u.SourceFrom, u.SourceOffset)
		}
		if err := offsetList(data).check(u.SourceFrom, u.SourceOffset, u.Delta); err != nil {
			return nil, err
		}
		u.Offsets = bytes.Clone(data)
	}
	return u, nil
}

// rowCodec is the goka.Codec of the group table: window rows, and the
// watermark row of each partition (see watermark.go).
type rowCodec struct{}

func (rowCodec) Encode(value any) ([]byte, error) {
	switch v := value.(type) {
	case watermarkRow:
		return v.MarshalBinary()
	case windows.Sessions:
		return v.MarshalBinary()
	}
	r, ok := value.(windows.Row)
	if !ok {
		return nil, fmt.Errorf("encode row: %T is not a windows.Row", value)
	}
	return r.MarshalBinary()
}

func (rowCodec) Decode(data []byte) (any, error) {
	if len(data) > 0 && data[0] == watermarkRowTag {
		var w watermarkRow
		if err := w.UnmarshalBinary(data); err != nil {
			return nil, err
		}
		return w, nil
	}
	if len(data) > 0 && data[0] == windows.SessionsTag {
		var s windows.Sessions
		if err := s.UnmarshalBinary(data); err != nil {
			return nil, err
		}
		return s, nil
	}
	var r windows.Row
	if err := r.UnmarshalBinary(data); err != nil {
		return nil, err
	}
	return r, nil
}

// OutputRow is the JSON record of the output topic (see DESIGN): one row of
// the result table. Final is true only for a window's final emission.
type OutputRow struct {
	windows.Result
	Final bool `json:"final"`
}

func encodeOutputRow(r OutputRow) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode output row: %w", err)
	}
	return b, nil
}
