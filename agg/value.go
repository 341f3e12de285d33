package agg

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"sync"

	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/internal/varint"
)

// Fields are the distinct field paths of specs, in order of first use, and
// for each spec the index of its field (-1 for count): what the rekey step
// extracts from each record and sends with each event.
func Fields(specs []Spec) (paths []codec.Path, index []int) {
	at := map[string]int{}
	for _, s := range specs {
		if s.Func == Count {
			index = append(index, -1)
			continue
		}
		i, ok := at[s.Field.String()]
		if !ok {
			i = len(paths)
			at[s.Field.String()] = i
			paths = append(paths, s.Field)
		}
		index = append(index, i)
	}
	return paths, index
}

// Check reports whether v can be added to s's state: nil when it can (or
// v is null, which is skipped), an error wrapping ErrValue when not. It
// is what State.Add would say, without a state: the rekey step checks
// every record with it.
func (s Spec) Check(v any) error {
	if v == nil || s.Func == Count {
		return nil
	}
	x, err := valueOf(v)
	if s.Func == CountDistinct {
		if err != nil {
			return fmt.Errorf("%w: %s cannot be counted distinct", ErrValue, describe(v))
		}
		return nil
	}
	if err != nil {
		return err
	}
	n, err := x.number()
	if err != nil || s.Func != Quantile {
		return err
	}
	if n.big != nil {
		return fmt.Errorf("%w: %s is beyond what the sketch of %s holds", ErrValue, n.big, s.Name)
	}
	if f := n.float(); math.Abs(f) > maxIndexable {
		return fmt.Errorf("%w: %v is beyond what the sketch of %s holds", ErrValue, f, s.Name)
	}
	return nil
}

// The value tags of AppendValue.
const (
	tagNull byte = iota
	tagInt
	tagFloat
	tagString
	tagFalse
	tagTrue
	tagBig
)

// AppendValue appends v, a value Check accepted, as an event's value in an
// update: a tag and the value (a varint, 8 bytes of float, or a length
// and bytes). Anything else is appended as null.
func AppendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return append(binary.AppendUvarint(append(b, tagString), uint64(len(x))), x...)
	case bool:
		if x {
			return append(b, tagTrue)
		}
		return append(b, tagFalse)
	}
	n, err := numberOf(v)
	if err != nil {
		return append(b, tagNull)
	}
	return appendNumber(b, n)
}

// appendNumber appends n as AppendValue does: an event's value, or the
// best value of min or max.
func appendNumber(b []byte, n number) []byte {
	switch {
	case n.big != nil:
		g, _ := n.big.GobEncode()
		return append(binary.AppendUvarint(append(b, tagBig), uint64(len(g))), g...)
	case n.isInt:
		return binary.AppendVarint(append(b, tagInt), n.i)
	}
	return binary.LittleEndian.AppendUint64(append(b, tagFloat), math.Float64bits(n.f))
}

// Value is one decoded value, unboxed: what ReadValueInto reads and
// State.AddValue takes.
type Value struct {
	kind byte // a tag of AppendValue
	num  number
	str  string
}

// IsNull reports whether v is null (or missing): aggregates skip it.
func (v *Value) IsNull() bool { return v.kind == tagNull }

func (v *Value) number() (number, error) {
	switch v.kind {
	case tagInt, tagFloat, tagBig:
		return v.num, nil
	}
	return number{}, fmt.Errorf("%w: %s is not a number", ErrValue, v.describe())
}

func (v *Value) describe() string {
	switch v.kind {
	case tagString:
		return strconv.Quote(v.str)
	case tagTrue:
		return "true"
	case tagFalse:
		return "false"
	}
	return "a value"
}

// valueOf is v (a decoded value) as a Value; objects and arrays are
// ErrValue.
func valueOf(v any) (Value, error) {
	switch x := v.(type) {
	case nil:
		return Value{kind: tagNull}, nil
	case string:
		return Value{kind: tagString, str: x}, nil
	case bool:
		if x {
			return Value{kind: tagTrue}, nil
		}
		return Value{kind: tagFalse}, nil
	}
	n, err := numberOf(v)
	if err != nil {
		return Value{}, err
	}
	switch {
	case n.big != nil:
		return Value{kind: tagBig, num: n}, nil
	case n.isInt:
		return Value{kind: tagInt, num: n}, nil
	}
	return Value{kind: tagFloat, num: n}, nil
}

// addAny is State.Add through valueOf.
func addAny(s State, v any) error {
	x, err := valueOf(v)
	if err != nil {
		return err
	}
	return s.AddValue(&x)
}

// ReadValueInto reads one value written by AppendValue into v, without
// boxing it.
func ReadValueInto(r *varint.Reader, v *Value) error {
	tag := r.Bytes(1)
	if len(tag) == 0 {
		return fmt.Errorf("%w: no tag", ErrBadValue)
	}
	*v = Value{kind: tag[0]}
	switch tag[0] {
	case tagNull, tagFalse, tagTrue:
	case tagInt:
		v.num = number{isInt: true, i: r.Varint()}
	case tagFloat:
		raw := r.Bytes(8)
		if len(raw) == 8 {
			v.num = number{f: math.Float64frombits(binary.LittleEndian.Uint64(raw))}
		}
	case tagString:
		v.str = string(r.LenBytes())
	case tagBig:
		i := new(big.Int)
		if err := i.GobDecode(r.LenBytes()); err != nil {
			return fmt.Errorf("%w: %w", ErrBadValue, err)
		}
		v.num = number{isInt: true, big: i}
	default:
		return fmt.Errorf("%w: tag %d", ErrBadValue, tag[0])
	}
	if r.Err() != nil {
		return fmt.Errorf("%w: %w", ErrBadValue, r.Err())
	}
	return nil
}

// ErrBadValue is wrapped when an encoded value does not read back.
var ErrBadValue = errors.New("bad encoded value")

// ReadValue reads one value written by AppendValue from r, boxed as the
// decoders box values (int64, float64, string, bool, *big.Int, nil).
func ReadValue(r *varint.Reader) (any, error) {
	var v Value
	if err := ReadValueInto(r, &v); err != nil {
		return nil, err
	}
	switch v.kind {
	case tagInt:
		return v.num.i, nil
	case tagFloat:
		return v.num.f, nil
	case tagString:
		return v.str, nil
	case tagFalse:
		return false, nil
	case tagTrue:
		return true, nil
	case tagBig:
		return v.num.big, nil
	}
	return nil, nil
}

// SkipValues checks n values at the front of r and steps past them.
func SkipValues(r *varint.Reader, n int64) error {
	var v Value
	for range n {
		if err := ReadValueInto(r, &v); err != nil {
			return err
		}
	}
	return nil
}

// Column is one aggregate of a row: its spec and its state.
type Column struct {
	Spec  Spec
	State State
}

// NewColumns returns empty columns for specs, count (always first, kept in
// the row itself) left out.
func NewColumns(specs []Spec) []Column {
	var cols []Column
	for _, s := range specs[min(1, len(specs)):] {
		cols = append(cols, Column{Spec: s, State: s.New()})
	}
	return cols
}

// Clone returns a copy of cols with states of their own (through their
// encodings).
func Clone(cols []Column) ([]Column, error) {
	out := make([]Column, len(cols))
	for i, c := range cols {
		b, err := c.State.AppendBinary(nil)
		if err != nil {
			return nil, err
		}
		st := c.Spec.New()
		if err := st.UnmarshalBinary(b); err != nil {
			return nil, err
		}
		out[i] = Column{Spec: c.Spec, State: st}
	}
	return out, nil
}

// specs caches ParseSpec: rows name their columns' specs, and rows are
// decoded at every update.
var specs sync.Map // string → Spec

// ParseSpec parses one item of --agg as Spec.String writes it.
func ParseSpec(item string) (Spec, error) {
	if s, ok := specs.Load(item); ok {
		return s.(Spec), nil
	}
	s, err := parseItem(item)
	if err != nil {
		return Spec{}, err
	}
	specs.Store(item, s)
	return s, nil
}

// scratchPool holds the buffers AppendColumns encodes a state into before
// it knows its length.
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// AppendColumns appends cols to a row's encoding: their number, then for
// each its spec (as --agg writes it) and its state, each length-prefixed.
func AppendColumns(b []byte, cols []Column) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(len(cols)))
	scratch := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(scratch)
	for _, c := range cols {
		spec := c.Spec.String()
		b = append(binary.AppendUvarint(b, uint64(len(spec))), spec...)
		st, err := c.State.AppendBinary((*scratch)[:0])
		if err != nil {
			return nil, err
		}
		*scratch = st
		b = append(binary.AppendUvarint(b, uint64(len(st))), st...)
	}
	return b, nil
}

// ReadColumns reads what AppendColumns wrote.
func ReadColumns(r *varint.Reader) ([]Column, error) {
	n := r.Uvarint()
	if n > uint64(r.Len()) {
		return nil, fmt.Errorf("%w: %d columns", ErrState, n)
	}
	cols := make([]Column, 0, n)
	for range n {
		text, raw := r.LenBytes(), r.LenBytes()
		if r.Err() != nil {
			return nil, fmt.Errorf("%w: %w", ErrState, r.Err())
		}
		s, err := ParseSpec(string(text))
		if err != nil {
			return nil, fmt.Errorf("%w: column %q: %w", ErrState, text, err)
		}
		st := s.New()
		if err := st.UnmarshalBinary(raw); err != nil {
			return nil, fmt.Errorf("column %s: %w", s.Name, err)
		}
		cols = append(cols, Column{Spec: s, State: st})
	}
	return cols, nil
}

// Same reports whether two column lists are of the same specs, in order.
func Same(a, b []Column) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Spec.String() != b[i].Spec.String() {
			return false
		}
	}
	return true
}

// Text is a Value as a CSV or table cell: integers and floats as JSON
// writes them, nothing for null.
func Text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case json.Number:
		return string(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

// Names are the columns' names.
func Names(cols []Column) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Spec.Name
	}
	return names
}

// Texts are the columns' values as Text.
func Texts(cols []Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = Text(c.State.Value())
	}
	return out
}
