package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hourglass-stream/hourglass/agg"
	"github.com/hourglass-stream/hourglass/internal/varint"
	"github.com/hourglass-stream/hourglass/windows"
)

// ErrBadRecord is wrapped by every decode error of this package.
var ErrBadRecord = errors.New("bad internal record")

// Update is Delta events of one source partition counted into one window:
// the repartition record from the rekey step to the count step. A batch of
// the rekey step folds the events of source offsets [SourceFrom,
// SourceOffset] into one update per row, listing the offsets of the row's
// events (Offsets); an update of a single event has SourceFrom ==
// SourceOffset and no list.
type Update struct {
	Window          windows.Window
	Delta           int64
	SourcePartition int32
	SourceOffset    int64 // the batch's last source offset: what the row dedupes on
	SourceFrom      int64 // the batch's first source offset
	// Offsets are the source offsets of the update's Delta events, in
	// order (see OffsetList); nil for a single event, and for a batch
	// update of version 3, written before the lists were.
	Offsets OffsetList
	// Fields is how many values each event carries (--agg's fields), and
	// Values those values, Fields per event in the events' order
	// (agg.AppendValue). With values an update always lists its offsets,
	// even a single event's, so that After can keep the values of the
	// events it keeps.
	Fields int
	Values []byte
}

// UpdateVersion, BatchUpdateVersion and ListedUpdateVersion are the first
// byte of an encoded update of one event, of a batch without its offsets
// (no longer written; still read), and of a batch with them. MarkKind (2)
// starts a mark.
//
// ValuesUpdateVersion starts an update whose events carry values: always
// a span (0 for one event), the number of values per event, the offset
// list, and the values.
const (
	UpdateVersion       = 1
	BatchUpdateVersion  = 3
	ListedUpdateVersion = 4
	ValuesUpdateVersion = 5
)

// OffsetList is the source offsets of a batch update's events, each an
// unsigned varint: the first its distance from the batch's first offset,
// each next its distance from the one before less one. Consecutive records
// take a byte each.
type OffsetList []byte

// Append appends offset to l, whose last offset is prev (the batch's
// first less one, for the first).
func (l OffsetList) Append(prev, offset int64) OffsetList {
	return binary.AppendUvarint(l, uint64(offset-prev-1))
}

// Each calls fn with the offsets of l, which starts at from; l was checked
// by DecodeUpdate or built by Append.
func (l OffsetList) Each(from int64, fn func(offset int64)) {
	prev := from - 1
	for len(l) > 0 {
		gap, n := binary.Uvarint(l)
		prev += int64(gap) + 1
		fn(prev)
		l = l[n:]
	}
}

// check reports whether l holds exactly delta varints whose offsets lie in
// [from, to].
func (l OffsetList) check(from, to, delta int64) error {
	r := varint.NewReader(l)
	prev := from - 1
	for i := int64(0); i < delta; i++ {
		gap := r.Uvarint()
		if r.Err() != nil {
			return fmt.Errorf("%w: offset %d of %d: %w", ErrBadRecord, i, delta, r.Err())
		}
		if prev >= to || gap > uint64(to-prev-1) {
			return fmt.Errorf("%w: offset %d past the batch's end %d", ErrBadRecord, i, to)
		}
		prev += int64(gap) + 1
	}
	if r.Len() != 0 {
		return fmt.Errorf("%w: %d bytes after the offset list", ErrBadRecord, r.Len())
	}
	return nil
}

// After is u without its events at or before offset x, which a row that
// applied x has (windows.Row.Apply): a replay whose batches end elsewhere
// than the row's last one. dropped is how many events went. An update
// without a list is kept whole.
func (u Update) After(x int64) (kept Update, dropped int64) {
	if u.Offsets == nil || x < u.SourceFrom {
		return u, 0
	}
	kept = u
	kept.Offsets, kept.Delta, kept.Values = nil, 0, nil
	prev := x
	u.Events(func(o int64, values []byte) {
		if o > x {
			kept.Offsets = kept.Offsets.Append(prev, o)
			kept.Values = append(kept.Values, values...)
			kept.Delta++
			prev = o
		}
	})
	// The kept events' batch, for the row, is [x+1, SourceOffset].
	kept.SourceFrom = x + 1
	if kept.Delta == 0 {
		kept.Offsets = nil
	}
	return kept, u.Delta - kept.Delta
}

// Events calls fn with each listed event's offset and values, in order;
// u was checked by DecodeUpdate or built by the rekey step.
func (u Update) Events(fn func(offset int64, values []byte)) {
	r := varint.NewReader(u.Values)
	u.Offsets.Each(u.SourceFrom, func(o int64) {
		rest := r.Rest()
		_ = agg.SkipValues(r, int64(u.Fields))
		fn(o, rest[:len(rest)-r.Len()])
	})
}

// AppendUpdate appends the encoding of u to buf: a version byte and
// varints: source partition, source offset, window start and end in epoch
// milliseconds, delta, and for a batch the span SourceOffset − SourceFrom
// and (version 4) the offset list. It is compact because there is an
// update per row and batch, and a list takes about a byte per event.
func AppendUpdate(buf []byte, u Update) []byte {
	version := byte(UpdateVersion)
	switch {
	case u.Fields > 0:
		version = ValuesUpdateVersion
	case u.SourceFrom < u.SourceOffset && u.Offsets != nil:
		version = ListedUpdateVersion
	case u.SourceFrom < u.SourceOffset:
		version = BatchUpdateVersion
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
	if version != UpdateVersion {
		buf = binary.AppendVarint(buf, u.SourceOffset-u.SourceFrom)
	}
	if version == ValuesUpdateVersion {
		buf = binary.AppendUvarint(buf, uint64(u.Fields))
		buf = binary.AppendUvarint(buf, uint64(len(u.Offsets)))
	}
	if version == ListedUpdateVersion || version == ValuesUpdateVersion {
		buf = append(buf, u.Offsets...)
	}
	if version == ValuesUpdateVersion {
		buf = append(buf, u.Values...)
	}
	return buf
}

// IsUpdate reports whether data starts like an update.
func IsUpdate(data []byte) bool {
	return len(data) > 0 && (data[0] == UpdateVersion || data[0] == BatchUpdateVersion || data[0] == ListedUpdateVersion || data[0] == ValuesUpdateVersion)
}

// DecodeUpdate decodes an update written by AppendUpdate (of any version).
func DecodeUpdate(data []byte) (Update, error) {
	if !IsUpdate(data) {
		return Update{}, fmt.Errorf("%w: unknown version", ErrBadRecord)
	}
	version := data[0]
	r := varint.NewReader(data[1:])
	part, offset, start, end, delta := r.Varint(), r.Varint(), r.Varint(), r.Varint(), r.Varint()
	span := int64(0)
	if version != UpdateVersion {
		span = r.Varint()
	}
	var fields, listLen uint64
	if version == ValuesUpdateVersion {
		fields, listLen = r.Uvarint(), r.Uvarint()
	}
	if r.Err() != nil {
		return Update{}, fmt.Errorf("%w: update: %w", ErrBadRecord, r.Err())
	}
	if r.Len() != 0 && version != ListedUpdateVersion && version != ValuesUpdateVersion {
		return Update{}, fmt.Errorf("%w: %d trailing bytes", ErrBadRecord, r.Len())
	}
	if part < 0 || part > math.MaxInt32 {
		return Update{}, fmt.Errorf("%w: source partition %d", ErrBadRecord, part)
	}
	u := Update{
		SourcePartition: int32(part),
		SourceOffset:    offset,
		SourceFrom:      offset,
		Window:          windows.Window{Start: time.UnixMilli(start).UTC(), End: time.UnixMilli(end).UTC()},
		Delta:           delta,
	}
	if version == ValuesUpdateVersion {
		if span < 0 || span > offset || fields == 0 || fields > 1000 || listLen > uint64(r.Len()) {
			return Update{}, fmt.Errorf("%w: values update: span %d, %d fields, a list of %d bytes", ErrBadRecord, span, fields, listLen)
		}
		u.SourceFrom = offset - span
	} else if version != UpdateVersion {
		if span <= 0 || span > offset {
			return Update{}, fmt.Errorf("%w: batch span %d ending at offset %d", ErrBadRecord, span, offset)
		}
		u.SourceFrom = offset - span
	}
	if !u.Window.End.After(u.Window.Start) || u.SourceOffset < 0 {
		return Update{}, fmt.Errorf("%w: window %v, source %d/%d", ErrBadRecord, u.Window, u.SourcePartition, u.SourceOffset)
	}
	if version == ListedUpdateVersion || version == ValuesUpdateVersion {
		if u.Delta <= 0 || u.Delta > u.SourceOffset-u.SourceFrom+1 {
			return Update{}, fmt.Errorf("%w: %d listed events in [%d, %d]", ErrBadRecord, u.Delta, u.SourceFrom, u.SourceOffset)
		}
		list := r.Rest()
		if version == ValuesUpdateVersion {
			list = r.Bytes(int(listLen))
		}
		if err := OffsetList(list).check(u.SourceFrom, u.SourceOffset, u.Delta); err != nil {
			return Update{}, err
		}
		u.Offsets = bytes.Clone(list)
	}
	if version == ValuesUpdateVersion {
		values := r.Rest()
		if err := agg.SkipValues(r, u.Delta*int64(fields)); err != nil || r.Len() != 0 {
			return Update{}, fmt.Errorf("%w: the events' values: %v, %d bytes after them", ErrBadRecord, err, r.Len())
		}
		u.Fields, u.Values = int(fields), bytes.Clone(values)
	}
	return u, nil
}
