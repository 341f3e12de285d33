package processor

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hourglass-stream/hourglass/windows"
)

// update is one event counted into one window: the repartition record from
// the rekey step to the count step.
type update struct {
	Window          windows.Window
	Delta           int64
	SourcePartition int32
	SourceOffset    int64
}

// updateVersion is the first byte of an encoded update.
const updateVersion = 1

// updateCodec is the goka.Codec of the repartition topic: a version byte and
// five varints (source partition, source offset, window start and end in
// epoch milliseconds, delta). It is compact because every input event
// becomes at least one update.
type updateCodec struct{}

func (updateCodec) Encode(value any) ([]byte, error) {
	if m, ok := value.(windows.Mark); ok {
		return encodeMark(m), nil
	}
	u, ok := value.(update)
	if !ok {
		return nil, fmt.Errorf("encode update: %T is not an update", value)
	}
	buf := make([]byte, 0, 1+5*binary.MaxVarintLen64)
	buf = append(buf, updateVersion)
	buf = binary.AppendVarint(buf, int64(u.SourcePartition))
	buf = binary.AppendVarint(buf, u.SourceOffset)
	buf = binary.AppendVarint(buf, u.Window.Start.UnixMilli())
	buf = binary.AppendVarint(buf, u.Window.End.UnixMilli())
	buf = binary.AppendVarint(buf, u.Delta)
	return buf, nil
}

var errBadUpdate = errors.New("bad repartition record")

func (updateCodec) Decode(data []byte) (any, error) {
	if len(data) > 0 && data[0] == markKind {
		return decodeMark(data)
	}
	if len(data) == 0 || data[0] != updateVersion {
		return nil, fmt.Errorf("%w: unknown version", errBadUpdate)
	}
	data = data[1:]
	var fields [5]int64
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
