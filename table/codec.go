package table

import (
	"fmt"

	"github.com/hourglass-stream/hourglass/internal/wire"
	"github.com/hourglass-stream/hourglass/windows"
)

// Codec is the goka.Codec of the group table: window rows (windows.Row),
// session rows (windows.Sessions), and the watermark row of each table
// partition (wire.WatermarkRow).
type Codec struct{}

func (Codec) Encode(value any) ([]byte, error) {
	switch v := value.(type) {
	case wire.WatermarkRow:
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

func (Codec) Decode(data []byte) (any, error) {
	if len(data) > 0 && data[0] == wire.WatermarkRowTag {
		var w wire.WatermarkRow
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
