package wire

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hourglass-stream/hourglass/internal/varint"
	"github.com/hourglass-stream/hourglass/windows"
)

// MarkKind is the first byte of a mark record (updates start with a
// version byte, 1, 3 or 4).
const MarkKind = 2

// IsMark reports whether data starts like a mark.
func IsMark(data []byte) bool { return len(data) > 0 && data[0] == MarkKind }

// EncodeMark writes a mark as the repartition topic and the watermark
// topic carry it: the kind byte, then varints partition, offset, max and
// wall in epoch ms, and a flags varint (1: ended).
func EncodeMark(m windows.Mark) []byte {
	buf := make([]byte, 0, 1+5*binary.MaxVarintLen64)
	buf = append(buf, MarkKind)
	buf = binary.AppendVarint(buf, int64(m.Partition))
	buf = binary.AppendVarint(buf, m.Offset)
	buf = binary.AppendVarint(buf, m.Max.UnixMilli())
	buf = binary.AppendVarint(buf, m.Wall.UnixMilli())
	var flags int64
	if m.Ended {
		flags = 1
	}
	return binary.AppendVarint(buf, flags)
}

// DecodeMark decodes a mark written by EncodeMark.
func DecodeMark(data []byte) (windows.Mark, error) {
	if !IsMark(data) {
		return windows.Mark{}, fmt.Errorf("%w: not a mark", ErrBadRecord)
	}
	r := varint.NewReader(data[1:])
	part, offset, maxT, wall, flags := r.Varint(), r.Varint(), r.Varint(), r.Varint(), r.Varint()
	if r.Err() != nil {
		return windows.Mark{}, fmt.Errorf("%w: mark: %w", ErrBadRecord, r.Err())
	}
	if r.Len() != 0 || part < 0 || part > 1<<31-1 || flags&^1 != 0 {
		return windows.Mark{}, fmt.Errorf("%w: bad mark", ErrBadRecord)
	}
	return windows.Mark{
		Partition: int32(part), Offset: offset,
		Max: time.UnixMilli(maxT).UTC(), Wall: time.UnixMilli(wall).UTC(),
		Ended: flags == 1,
	}, nil
}

// WatermarkRowPrefix starts the key of every watermark row of the table.
const WatermarkRowPrefix = "\x00watermark|"

// IsWatermarkRow reports whether a table key is a watermark row's: the
// prefix and a decimal number without leading zeros, exactly.
func IsWatermarkRow(key string) bool {
	n, ok := strings.CutPrefix(key, WatermarkRowPrefix)
	if !ok || n == "" || (len(n) > 1 && n[0] == '0') {
		return false
	}
	for _, c := range []byte(n) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// WatermarkRow is the table row of one table partition's event-time
// state: the last mark of every source partition, and how far windows are
// closed.
type WatermarkRow struct {
	Marks  map[int32]windows.Mark
	Closed time.Time // windows ending at or before it are closed
}

// Merge takes the newer mark of every source partition and the further
// closing from other, so a watermark never moves back.
func (w *WatermarkRow) Merge(other WatermarkRow) {
	if w.Marks == nil {
		w.Marks = make(map[int32]windows.Mark, len(other.Marks))
	}
	for p, m := range other.Marks {
		if old, ok := w.Marks[p]; !ok || m.Newer(old) {
			w.Marks[p] = m
		}
	}
	if other.Closed.After(w.Closed) {
		w.Closed = other.Closed
	}
}

// WatermarkRowTag starts an encoded WatermarkRow; window rows start with
// 0x01 (or '{', written before) and session rows with windows.SessionsTag.
const WatermarkRowTag = 'W'

type markJSON struct {
	Offset int64 `json:"offset"`
	Max    int64 `json:"max"`
	Wall   int64 `json:"wall"`
	Ended  bool  `json:"ended,omitempty"`
}

type watermarkRowJSON struct {
	Marks  map[string]markJSON `json:"marks"`
	Closed *int64              `json:"closed,omitempty"`
}

// MarshalBinary encodes the row: the tag, then JSON.
func (w WatermarkRow) MarshalBinary() ([]byte, error) {
	j := watermarkRowJSON{Marks: make(map[string]markJSON, len(w.Marks))}
	for p, m := range w.Marks {
		j.Marks[strconv.Itoa(int(p))] = markJSON{Offset: m.Offset, Max: m.Max.UnixMilli(), Wall: m.Wall.UnixMilli(), Ended: m.Ended}
	}
	if !w.Closed.IsZero() {
		c := w.Closed.UnixMilli()
		j.Closed = &c
	}
	b, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	return append([]byte{WatermarkRowTag}, b...), nil
}

// UnmarshalBinary decodes a row written by MarshalBinary.
func (w *WatermarkRow) UnmarshalBinary(data []byte) error {
	if len(data) == 0 || data[0] != WatermarkRowTag {
		return fmt.Errorf("%w: watermark row: bad tag", ErrBadRecord)
	}
	var j watermarkRowJSON
	if err := json.Unmarshal(data[1:], &j); err != nil {
		return fmt.Errorf("%w: watermark row: %w", ErrBadRecord, err)
	}
	*w = WatermarkRow{Marks: make(map[int32]windows.Mark, len(j.Marks))}
	for ps, m := range j.Marks {
		p, err := strconv.ParseInt(ps, 10, 32)
		if err != nil || p < 0 {
			return fmt.Errorf("%w: watermark row: source partition %q", ErrBadRecord, ps)
		}
		w.Marks[int32(p)] = windows.Mark{Partition: int32(p), Offset: m.Offset,
			Max: time.UnixMilli(m.Max).UTC(), Wall: time.UnixMilli(m.Wall).UTC(), Ended: m.Ended}
	}
	if j.Closed != nil {
		w.Closed = time.UnixMilli(*j.Closed).UTC()
	}
	return nil
}
