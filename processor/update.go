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
// [SourceFrom, SourceOffset] into one update per row; an update of a single
// event has SourceFrom == SourceOffset.
type update struct {
	Window          windows.Window
	Delta           int64
	SourcePartition int32
	SourceOffset    int64 // the batch's last source offset: what the row dedupes on
	SourceFrom      int64 // the batch's first source offset
}

// updateVersion and batchUpdateVersion are the first byte of an encoded
// update of one event and of a batch.
const (
	updateVersion      = 1
	batchUpdateVersion = 3 // 2 is markKind
)

// updateCodec is the goka.Codec of the repartition topic: a version byte and
// varints: source partition, source offset, window start and end in epoch
// milliseconds, delta, and for a batch (version 2) the span SourceOffset −
// SourceFrom. It is compact because there is an update per row and batch.
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
	buf := make([]byte, 0, 1+6*binary.MaxVarintLen64)
	version := byte(updateVersion)
	if u.SourceFrom < u.SourceOffset {
		version = batchUpdateVersion
	}
	buf = append(buf, version)
	buf = binary.AppendVarint(buf, int64(u.SourcePartition))
	buf = binary.AppendVarint(buf, u.SourceOffset)
	buf = binary.AppendVarint(buf, u.Window.Start.UnixMilli())
	buf = binary.AppendVarint(buf, u.Window.End.UnixMilli())
	buf = binary.AppendVarint(buf, u.Delta)
	if version == batchUpdateVersion {
		buf = binary.AppendVarint(buf, u.SourceOffset-u.SourceFrom)
	}
	return buf, nil
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
	if len(data) == 0 || (data[0] != updateVersion && data[0] != batchUpdateVersion) {
		return nil, fmt.Errorf("%w: unknown version", errBadUpdate)
	}
	var all [6]int64
	fields := all[:5]
	if data[0] == batchUpdateVersion {
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
	if len(data) != 0 {
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
