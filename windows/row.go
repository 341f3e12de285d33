package windows

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hourglass-stream/hourglass/agg"
	"github.com/hourglass-stream/hourglass/internal/varint"
)

// RowKeySeparator separates the group key from the window start in a row key.
const RowKeySeparator = '|'

// RowKey is the table and output key of the row for group key key and
// window w: key + "|" + the window start in RFC 3339.
func RowKey(key string, w Window) string {
	return key + string(RowKeySeparator) + FormatTime(w.Start)
}

// ErrBadRowKey is wrapped by errors of ParseRowKey.
var ErrBadRowKey = errors.New("bad row key")

// ParseRowKey splits a row key into its group key and window start. The
// group key may contain '|' itself; the window start never does.
func ParseRowKey(rowKey string) (key string, start time.Time, err error) {
	i := strings.LastIndexByte(rowKey, RowKeySeparator)
	if i < 0 {
		return "", time.Time{}, fmt.Errorf("%w: %q has no %q", ErrBadRowKey, rowKey, RowKeySeparator)
	}
	start, err = time.Parse(time.RFC3339Nano, rowKey[i+1:])
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w: %q: window start: %w", ErrBadRowKey, rowKey, err)
	}
	return rowKey[:i], start.UTC(), nil
}

// Row is the aggregate state of one (group key, window): what the group
// table stores under RowKey.
//
// Applied makes counting idempotent: for every source partition it holds
// the offset of the last source record counted into this row. Records of
// one source partition reach a row in offset order, so a record at or below
// that offset was already counted and Apply skips it. This is what keeps
// the counts exact when Kafka redelivers records after a restart or a
// rebalance.
type Row struct {
	Window Window
	Count  int64
	// State says whether the window's final row has been written (see
	// RowState). Rows of runs without a watermark stay Open.
	State RowState
	// Applied maps source partition to the last applied source offset.
	Applied map[int32]int64
	// Aggs are the row's aggregates beyond Count (--agg), in --agg's
	// order; nil for rows that count only.
	Aggs []agg.Column
	// KeyNames name the group keys of a row of several (--key a --key
	// b), whose group key is JSONKeys of their values; nil for one key.
	KeyNames []string
}

// Result is the row as users see it, under group key key.
func (r Row) Result(key string) Result {
	return Result{Key: key, WindowStart: r.Window.Start, WindowEnd: r.Window.End, Count: r.Count, Aggs: r.Aggs, KeyNames: r.KeyNames}
}

// JSONKeys is the group key of several key values: a JSON array of their
// strings (codec.KeyString's), in --key's order.
func JSONKeys(values []string) string {
	b, _ := json.Marshal(values)
	return string(b)
}

// SplitKeys returns the values of a group key of len(names) keys, and
// whether it is one (JSONKeys of as many values).
func SplitKeys(key string, names []string) ([]string, bool) {
	var vals []string
	if len(names) == 0 || json.Unmarshal([]byte(key), &vals) != nil || len(vals) != len(names) {
		return nil, false
	}
	return vals, true
}

// RowState is where a row is in its life: open to updates, or closed by
// the watermark, with its final row being written or written.
type RowState uint8

const (
	// Open rows take updates.
	Open RowState = iota
	// Closing rows are closed; their final row is being written.
	Closing
	// Final rows are closed and their final row is written.
	Final
)

// Apply counts delta events from the record at (partition, offset) into
// the row, unless that record was already applied. It reports whether the
// row changed.
func (r *Row) Apply(partition int32, offset int64, delta int64) bool {
	if last, ok := r.Applied[partition]; ok && offset <= last {
		return false
	}
	if r.Applied == nil {
		r.Applied = make(map[int32]int64)
	}
	r.Applied[partition] = offset
	r.Count += delta
	return true
}

// Has reports whether the record at (partition, offset) was applied.
func (r Row) Has(partition int32, offset int64) bool {
	last, ok := r.Applied[partition]
	return ok && offset <= last
}

// Contains reports whether r already holds everything older holds: the
// same window, and for every source partition older has applied, r has
// applied that offset or a later one, and r's state is not behind older's.
// Rows of one key only grow by Apply and move from Open to Final, so a row
// that contains another is the same row, later.
func (r Row) Contains(older Row) bool {
	if !r.Window.Start.Equal(older.Window.Start) || !r.Window.End.Equal(older.Window.End) || r.State < older.State {
		return false
	}
	for p, off := range older.Applied {
		if mine, ok := r.Applied[p]; !ok || mine < off {
			return false
		}
	}
	return true
}

// rowTag starts a binary-encoded Row, aggRowTag one with aggregates
// after its applied offsets (agg.AppendColumns). Rows written before
// rowTag are JSON objects (starting with '{') and still decode.
const (
	rowTag    = 0x01
	aggRowTag = 0x02
)

// MarshalBinary encodes the row as the group table stores it: rowTag, then
// signed varints: window start and end (epoch ms), count, state, the number of
// applied source partitions, and (partition, offset) pairs in partition
// order. It is compact and quick because every update writes its row.
func (r Row) MarshalBinary() ([]byte, error) {
	buf := make([]byte, 0, 1+5*binary.MaxVarintLen64+len(r.Applied)*(binary.MaxVarintLen32+binary.MaxVarintLen64))
	tag := byte(rowTag)
	if len(r.Aggs) > 0 || len(r.KeyNames) > 0 {
		tag = aggRowTag
	}
	buf = append(buf, tag)
	buf = binary.AppendVarint(buf, r.Window.Start.UnixMilli())
	buf = binary.AppendVarint(buf, r.Window.End.UnixMilli())
	buf = binary.AppendVarint(buf, r.Count)
	buf = binary.AppendVarint(buf, int64(r.State))
	buf = binary.AppendVarint(buf, int64(len(r.Applied)))
	var parts [16]int32
	ps := parts[:0]
	for p := range r.Applied {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	for _, p := range ps {
		buf = binary.AppendVarint(buf, int64(p))
		buf = binary.AppendVarint(buf, r.Applied[p])
	}
	if tag == aggRowTag {
		buf = binary.AppendUvarint(buf, uint64(len(r.KeyNames)))
		for _, n := range r.KeyNames {
			buf = append(binary.AppendUvarint(buf, uint64(len(n))), n...)
		}
		return agg.AppendColumns(buf, r.Aggs)
	}
	return buf, nil
}

var errRow = errors.New("decode window row")

// UnmarshalBinary decodes a row written by MarshalBinary, or the JSON
// form of rows written before it.
func (r *Row) UnmarshalBinary(data []byte) error {
	if len(data) > 0 && data[0] == '{' {
		return r.unmarshalJSON(data)
	}
	if len(data) == 0 || (data[0] != rowTag && data[0] != aggRowTag) {
		return fmt.Errorf("%w: not a row", errRow)
	}
	rd := varint.NewReader(data[1:])
	start, end, count := rd.Varint(), rd.Varint(), rd.Varint()
	state, n := rd.Varint(), rd.Varint()
	if rd.Err() != nil || end <= start || state < 0 || state > int64(Final) || n < 0 || n > int64(rd.Len()) {
		return fmt.Errorf("%w: bad header", errRow)
	}
	*r = Row{
		Window: Window{Start: time.UnixMilli(start).UTC(), End: time.UnixMilli(end).UTC()},
		Count:  count,
		State:  RowState(state),
	}
	if n > 0 {
		r.Applied = make(map[int32]int64, n)
		for i := int64(0); i < n; i++ {
			p, off := rd.Varint(), rd.Varint()
			if rd.Err() != nil || p < 0 || p > math.MaxInt32 {
				return fmt.Errorf("%w: bad applied offsets", errRow)
			}
			r.Applied[int32(p)] = off
		}
	}
	if data[0] == aggRowTag {
		n := rd.Uvarint()
		if n > uint64(rd.Len()) {
			return fmt.Errorf("%w: %d key names", errRow, n)
		}
		for range n {
			r.KeyNames = append(r.KeyNames, string(rd.LenBytes()))
		}
		cols, err := agg.ReadColumns(rd)
		if err != nil {
			return fmt.Errorf("%w: %w", errRow, err)
		}
		if len(cols) > 0 {
			r.Aggs = cols
		}
	}
	if rd.Len() != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errRow, rd.Len())
	}
	return nil
}

// rowJSON is the form of rows written before rowTag. Times are epoch
// milliseconds; partitions are JSON object keys.
type rowJSON struct {
	Start   int64            `json:"start"`
	End     int64            `json:"end"`
	Count   int64            `json:"count"`
	State   RowState         `json:"state,omitempty"`
	Applied map[string]int64 `json:"applied,omitempty"`
}

func (r *Row) unmarshalJSON(data []byte) error {
	var j rowJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("%w: %w", errRow, err)
	}
	if j.End <= j.Start {
		return fmt.Errorf("%w: window end %d is not after start %d", errRow, j.End, j.Start)
	}
	if j.State > Final {
		return fmt.Errorf("%w: unknown state %d", errRow, j.State)
	}
	*r = Row{
		Window: Window{Start: time.UnixMilli(j.Start).UTC(), End: time.UnixMilli(j.End).UTC()},
		Count:  j.Count,
		State:  j.State,
	}
	if len(j.Applied) > 0 {
		r.Applied = make(map[int32]int64, len(j.Applied))
		for p, o := range j.Applied {
			n, err := strconv.ParseInt(p, 10, 32)
			if err != nil {
				return fmt.Errorf("%w: source partition %q: %w", errRow, p, err)
			}
			r.Applied[int32(n)] = o
		}
	}
	return nil
}

// Result is one row of the result table as users see it: in `query`, in the
// output topic and in the demo.
type Result struct {
	Key         string    `json:"key"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	Count       int64     `json:"count"`
	// Aggs are the --agg columns after count, each written as its
	// name and value (MarshalJSON).
	Aggs []agg.Column `json:"-"`
	// KeyNames name the keys of a group key of several (JSONKeys):
	// MarshalJSON writes each by name instead of key.
	KeyNames []string `json:"-"`
}

// KeyColumns are the result's key columns and their values: key and
// Key, or each of several keys by name.
func (r Result) KeyColumns() (names, values []string) {
	if vals, ok := SplitKeys(r.Key, r.KeyNames); ok {
		return r.KeyNames, vals
	}
	return []string{"key"}, []string{r.Key}
}

// MarshalJSON writes the key (or keys, by name), the window, count, then
// each aggregate as "name": value (null when no value was aggregated).
func (r Result) MarshalJSON() ([]byte, error) {
	names, values := r.KeyColumns()
	type plain struct {
		WindowStart time.Time `json:"window_start"`
		WindowEnd   time.Time `json:"window_end"`
		Count       int64     `json:"count"`
	}
	return MarshalKeyed(names, values, plain{r.WindowStart, r.WindowEnd, r.Count}, r.Aggs)
}

// MarshalFinal is MarshalJSON with "final": final last: a row of the
// output topic, or of serve's API.
func (r Result) MarshalFinal(final bool) ([]byte, error) {
	b, err := r.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return appendJSONField(b, "final", final)
}

// MarshalKeyed writes an object of the key columns (names and their
// values), then the fields of rest (a struct), then cols by name.
func MarshalKeyed(names, values []string, rest any, cols []agg.Column) ([]byte, error) {
	b := []byte("{}")
	var err error
	for i, n := range names {
		if b, err = appendJSONField(b, n, values[i]); err != nil {
			return nil, err
		}
	}
	tail, err := marshalWithAggs(rest, cols)
	if err != nil {
		return nil, err
	}
	return append(append(b[:len(b)-1], ','), tail[1:]...), nil
}

// marshalWithAggs marshals v, a struct, and adds each aggregate of cols
// as "name": value after its fields.
func marshalWithAggs(v any, cols []agg.Column) ([]byte, error) {
	b, err := json.Marshal(v)
	for _, c := range cols {
		if err != nil {
			return nil, err
		}
		b, err = appendJSONField(b, c.Spec.Name, c.State.Value())
	}
	return b, err
}

// appendJSONField adds "name": v to obj, a JSON object, as its last field.
func appendJSONField(obj []byte, name string, v any) ([]byte, error) {
	k, _ := json.Marshal(name)
	val, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("column %s: %w", name, err)
	}
	obj = obj[:len(obj)-1] // the closing brace
	if len(obj) > 1 {
		obj = append(obj, ',')
	}
	return append(append(append(append(obj, k...), ':'), val...), '}'), nil
}
