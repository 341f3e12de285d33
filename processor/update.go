package processor

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/hourglass-stream/hourglass/internal/wire"
	"github.com/hourglass-stream/hourglass/windows"
)

// updateCodec is the goka.Codec of the repartition topic: wire.Update and
// watermark marks (windows.Mark).
type updateCodec struct{}

func (updateCodec) Encode(value any) ([]byte, error) {
	if m, ok := value.(windows.Mark); ok {
		return wire.EncodeMark(m), nil
	}
	u, ok := value.(wire.Update)
	if !ok {
		return nil, fmt.Errorf("encode update: %T is not an update", value)
	}
	if u.SourceFrom > u.SourceOffset || u.SourceFrom < 0 {
		return nil, fmt.Errorf("encode update: source offsets [%d, %d]", u.SourceFrom, u.SourceOffset)
	}
	return wire.AppendUpdate(nil, u), nil
}

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
	if wire.IsMark(data) {
		return wire.DecodeMark(data)
	}
	return wire.DecodeUpdate(data)
}

// OutputRow is the JSON record of the output topic (see DESIGN): one row of
// the result table. Final is true only for a window's final emission.
type OutputRow struct {
	windows.Result
	Final bool `json:"final"`
}

// MarshalJSON writes the result's fields, its aggregates, then final.
func (r OutputRow) MarshalJSON() ([]byte, error) { return r.Result.MarshalFinal(r.Final) }

func encodeOutputRow(r OutputRow) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode output row: %w", err)
	}
	return b, nil
}
