package agg

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"

	"github.com/hourglass-stream/hourglass/internal/varint"
)

// ErrValue is wrapped when a value has the wrong type for its aggregate
// (a string for sum): the record is dead-lettered with reason "value".
var ErrValue = errors.New("wrong value type for the aggregate")

// ErrState is wrapped when a stored state does not decode.
var ErrState = errors.New("bad aggregate state")

// State is one aggregate of one row. Add takes a non-null value; Merge
// takes a state of the same spec; neither depends on order.
type State interface {
	Add(v any) error
	// AddValue is Add of a value read by ReadValueInto (no boxing).
	AddValue(v *Value) error
	Merge(o State) error
	// Value is the aggregate as a JSON value: json.Number for exact
	// integers, float64, or nil when no value was added.
	Value() any
	AppendBinary(b []byte) ([]byte, error)
	UnmarshalBinary(b []byte) error
}

// Counter is count: values added, whatever they are.
type Counter struct{ N int64 }

func (c *Counter) Add(any) error         { c.N++; return nil }
func (c *Counter) AddValue(*Value) error { c.N++; return nil }
func (c *Counter) Merge(o State) error {
	x, ok := o.(*Counter)
	if !ok {
		return mismatch(c, o)
	}
	c.N += x.N
	return nil
}
func (c *Counter) Value() any { return json.Number(strconv.FormatInt(c.N, 10)) }
func (c *Counter) AppendBinary(b []byte) ([]byte, error) {
	return binary.AppendVarint(b, c.N), nil
}
func (c *Counter) UnmarshalBinary(b []byte) error {
	r := varint.NewReader(b)
	c.N = r.Varint()
	return done(r)
}

func mismatch(s, o State) error { return fmt.Errorf("%w: merge %T into %T", ErrState, o, s) }

func done(r *varint.Reader) error {
	if r.Err() != nil {
		return fmt.Errorf("%w: %w", ErrState, r.Err())
	}
	if r.Len() != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrState, r.Len())
	}
	return nil
}

// number is a decoded numeric value, exactly: an integer (int64 or
// *big.Int) or a finite float64.
type number struct {
	isInt bool
	i     int64
	big   *big.Int // when the integer does not fit i
	f     float64
}

// numberOf reads v as a number, or ErrValue.
func numberOf(v any) (number, error) {
	switch x := v.(type) {
	case int64:
		return number{isInt: true, i: x}, nil
	case int:
		return number{isInt: true, i: int64(x)}, nil
	case int32:
		return number{isInt: true, i: int64(x)}, nil
	case *big.Int:
		if x.IsInt64() {
			return number{isInt: true, i: x.Int64()}, nil
		}
		return number{isInt: true, big: x}, nil
	case float32:
		return finite(float64(x))
	case float64:
		return finite(x)
	}
	return number{}, fmt.Errorf("%w: %s is not a number", ErrValue, describe(v))
}

func finite(f float64) (number, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return number{}, fmt.Errorf("%w: %v is not a finite number", ErrValue, f)
	}
	return number{f: f}, nil
}

func describe(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case bool:
		return strconv.FormatBool(x)
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("a %T", v)
}

// canonical appends n's identity for count_distinct: an integer value
// (an integer, or an integral float) as 'i' and 8 bytes, or 'I' and its
// sign and magnitude beyond int64; any other float as 'f' and its bits.
func (n number) canonical(b []byte) []byte {
	switch {
	case n.big != nil:
		return canonicalBig(b, n.big)
	case n.isInt:
		return binary.LittleEndian.AppendUint64(append(b, 'i'), uint64(n.i))
	case n.f == math.Trunc(n.f) && n.f >= -(1<<63) && n.f < 1<<63:
		return binary.LittleEndian.AppendUint64(append(b, 'i'), uint64(int64(n.f)))
	case n.f == math.Trunc(n.f):
		i, _ := new(big.Float).SetFloat64(n.f).Int(nil)
		return canonicalBig(b, i)
	}
	return binary.LittleEndian.AppendUint64(append(b, 'f'), math.Float64bits(n.f))
}

func canonicalBig(b []byte, i *big.Int) []byte {
	return i.Append(append(b, 'I'), 16)
}

// float is n as the nearest float64.
func (n number) float() float64 {
	switch {
	case n.big != nil:
		f, _ := n.exact().Float64()
		return f
	case n.isInt:
		return float64(n.i) // rounded to nearest, as Go converts
	}
	return n.f
}

// exact returns n as an exact big.Float.
func (n number) exact() *big.Float {
	switch {
	case n.big != nil:
		return new(big.Float).SetInt(n.big)
	case n.isInt:
		return new(big.Float).SetInt64(n.i)
	}
	return new(big.Float).SetFloat64(n.f)
}

// floatPrec holds any sum of float64s exactly: their bits span 2^-1074 to
// 2^1024, and 2^64 of them carry 64 bits more.
const floatPrec = 1074 + 1024 + 64 + 64

// SumState is sum or avg: the exact sum of the integers and of the floats
// added, and how many were.
//
// The floats' sum is Shewchuk's partials, as Python's math.fsum keeps it:
// float64s of non-overlapping bits whose exact sum is the sum of all
// values, rounded once when read. It is written by hand because
// measurements justify it: a big.Float accumulator costs 300-500 ns a
// value here, the partials ~15 ns (BenchmarkAdd). Should a partial
// overflow (sums near 1e308), the state moves to a big.Float.
type SumState struct {
	avg      bool
	N        int64
	i        int64    // the integers' sum while it fits
	big      *big.Int // the integers' sum once it does not
	partials []float64
	wide     *big.Float // the floats' sum after an overflow of the partials
	// floatsSeen: a float was added (whose partials may have cancelled
	// out): the sum is a float, not an integer.
	floatsSeen bool
}

func (s *SumState) Add(v any) error { return addAny(s, v) }

func (s *SumState) AddValue(v *Value) error {
	n, err := v.number()
	if err != nil {
		return err
	}
	s.N++
	switch {
	case n.big != nil:
		s.addBig(n.big)
	case n.isInt:
		s.addInt(n.i)
	default:
		s.floatsSeen = true
		s.addFloat(n.f)
	}
	return nil
}

// addFloat is msum of Python's math module: x joins the partials exactly.
func (s *SumState) addFloat(x float64) {
	if s.wide != nil {
		s.wide.Add(s.wide, new(big.Float).SetFloat64(x))
		return
	}
	i := 0
	for j, y := range s.partials {
		if math.Abs(x) < math.Abs(y) {
			x, y = y, x
		}
		hi := x + y
		if math.IsInf(hi, 0) {
			// The sum is x + y + partials[:i] (placed) + partials[j+1:]
			// (not reached yet).
			s.widen(append(append([]float64{x, y}, s.partials[:i]...), s.partials[j+1:]...))
			return
		}
		lo := y - (hi - x)
		if lo != 0 {
			s.partials[i] = lo
			i++
		}
		x = hi
	}
	s.partials = append(s.partials[:i], x)
}

// widen moves the floats' sum, the exact sum of fs, to a big.Float.
func (s *SumState) widen(fs []float64) {
	w := new(big.Float).SetPrec(floatPrec)
	for _, f := range fs {
		w.Add(w, new(big.Float).SetFloat64(f))
	}
	s.partials, s.wide = nil, w
}

func (s *SumState) addInt(x int64) {
	if s.big != nil {
		s.big.Add(s.big, big.NewInt(x))
		return
	}
	sum := s.i + x
	// Signed overflow: both operands of one sign, the sum of the other.
	if (s.i >= 0) == (x >= 0) && (sum >= 0) != (x >= 0) {
		s.big = new(big.Int).Add(big.NewInt(s.i), big.NewInt(x))
		s.i = 0
		return
	}
	s.i = sum
}

func (s *SumState) addBig(x *big.Int) {
	if s.big == nil {
		s.big = big.NewInt(s.i)
		s.i = 0
	}
	s.big.Add(s.big, x)
}

func (s *SumState) hasFloats() bool { return len(s.partials) > 0 || s.wide != nil || s.floatsSeen }

func (s *SumState) Merge(o State) error {
	x, ok := o.(*SumState)
	if !ok || x.avg != s.avg {
		return mismatch(s, o)
	}
	s.N += x.N
	if x.big != nil {
		s.addBig(x.big)
	} else {
		s.addInt(x.i)
	}
	s.floatsSeen = s.floatsSeen || x.hasFloats()
	if x.wide != nil {
		if s.wide == nil {
			s.wide = s.floats()
			s.partials = nil
		}
		s.wide.Add(s.wide, x.wide)
	}
	for _, p := range x.partials {
		s.addFloat(p)
	}
	return nil
}

// floats is the floats' sum, exactly.
func (s *SumState) floats() *big.Float {
	t := new(big.Float).SetPrec(floatPrec)
	if s.wide != nil {
		t.Set(s.wide)
	}
	for _, p := range s.partials {
		t.Add(t, new(big.Float).SetFloat64(p))
	}
	return t
}

// total is the exact sum of everything added.
func (s *SumState) total() *big.Float {
	t := s.floats()
	if s.big != nil {
		t.Add(t, new(big.Float).SetInt(s.big))
	} else {
		t.Add(t, new(big.Float).SetInt64(s.i))
	}
	return t
}

// Value is sum's exact integer when only integers were added, else the
// exact sum rounded once to a float64; avg's is the exact sum over N,
// rounded once. Without values it is nil (SQL's sum of nothing).
func (s *SumState) Value() any {
	if s.N == 0 {
		return nil
	}
	if s.avg {
		q := new(big.Float).SetPrec(53).Quo(s.total(), new(big.Float).SetInt64(s.N))
		f, _ := q.Float64()
		return f
	}
	if !s.hasFloats() {
		if s.big != nil {
			return json.Number(s.big.String())
		}
		return json.Number(strconv.FormatInt(s.i, 10))
	}
	f, _ := s.total().Float64()
	return f
}

// AppendBinary: N, the integers' sum (a varint, and the big.Int's gob or
// nothing, length-prefixed), whether floats were added, the partials
// (a count and their bits), and the wide sum's gob or nothing.
func (s *SumState) AppendBinary(b []byte) ([]byte, error) {
	b = binary.AppendVarint(b, s.N)
	b = binary.AppendVarint(b, s.i)
	var ib, wb []byte
	var err error
	if s.big != nil {
		if ib, err = s.big.GobEncode(); err != nil {
			return nil, err
		}
	}
	if s.wide != nil {
		if wb, err = s.wide.GobEncode(); err != nil {
			return nil, err
		}
	}
	b = append(binary.AppendUvarint(b, uint64(len(ib))), ib...)
	flag := byte(0)
	if s.hasFloats() {
		flag = 1
	}
	b = append(b, flag)
	b = binary.AppendUvarint(b, uint64(len(s.partials)))
	for _, p := range s.partials {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p))
	}
	return append(binary.AppendUvarint(b, uint64(len(wb))), wb...), nil
}

func (s *SumState) UnmarshalBinary(b []byte) error {
	r := varint.NewReader(b)
	s.N, s.i = r.Varint(), r.Varint()
	s.big, s.partials, s.wide = nil, nil, nil
	if ib := r.LenBytes(); len(ib) > 0 {
		s.big = new(big.Int)
		if err := s.big.GobDecode(ib); err != nil {
			return fmt.Errorf("%w: %w", ErrState, err)
		}
	}
	flag := r.Bytes(1)
	s.floatsSeen = len(flag) == 1 && flag[0] == 1
	n := r.Uvarint()
	if n > uint64(r.Len()/8) {
		return fmt.Errorf("%w: %d partials", ErrState, n)
	}
	s.partials = make([]float64, 0, n+2) // room for the next adds
	for range n {
		s.partials = append(s.partials, math.Float64frombits(binary.LittleEndian.Uint64(r.Bytes(8))))
	}
	if wb := r.LenBytes(); len(wb) > 0 {
		s.wide = new(big.Float)
		if err := s.wide.GobDecode(wb); err != nil {
			return fmt.Errorf("%w: %w", ErrState, err)
		}
		s.wide.SetPrec(floatPrec)
	}
	return done(r)
}

// Extreme is min or max, compared exactly across integers and floats; the
// value keeps the type it came as.
type Extreme struct {
	max  bool
	set  bool
	best number
	key  *big.Float // best, exactly, for comparisons across types (nil: not made yet)
}

func (e *Extreme) Add(v any) error { return addAny(e, v) }

func (e *Extreme) AddValue(v *Value) error {
	n, err := v.number()
	if err != nil {
		return err
	}
	e.offer(n)
	return nil
}

func (e *Extreme) offer(n number) {
	if !e.set {
		e.set, e.best, e.key = true, n, nil
		return
	}
	if n.big == nil && e.best.big == nil && n.isInt == e.best.isInt {
		// Two int64s or two float64s compare as they are.
		var c int
		switch {
		case n.isInt:
			c = cmp.Compare(n.i, e.best.i)
		default:
			c = cmp.Compare(n.f, e.best.f)
		}
		if (e.max && c <= 0) || (!e.max && c >= 0) {
			return
		}
		e.best, e.key = n, nil
		return
	}
	// Across types, exactly.
	x := n.exact()
	if e.key == nil {
		e.key = e.best.exact()
	}
	c := x.Cmp(e.key)
	// Equal values: an integer wins over a float, so that the result does
	// not depend on which came first.
	if (e.max && c < 0) || (!e.max && c > 0) || (c == 0 && (e.best.isInt || !n.isInt)) {
		return
	}
	e.best, e.key = n, x
}

func (e *Extreme) Merge(o State) error {
	x, ok := o.(*Extreme)
	if !ok || x.max != e.max {
		return mismatch(e, o)
	}
	if x.set {
		e.offer(x.best)
	}
	return nil
}

func (e *Extreme) Value() any {
	switch {
	case !e.set:
		return nil
	case e.best.big != nil:
		return json.Number(e.best.big.String())
	case e.best.isInt:
		return json.Number(strconv.FormatInt(e.best.i, 10))
	}
	return e.best.f
}

// AppendBinary: the best value as AppendValue writes a value (null while
// none was added).
func (e *Extreme) AppendBinary(b []byte) ([]byte, error) {
	if !e.set {
		return append(b, tagNull), nil
	}
	return appendNumber(b, e.best), nil
}

func (e *Extreme) UnmarshalBinary(b []byte) error {
	e.set, e.best, e.key = false, number{}, nil
	r := varint.NewReader(b)
	var v Value
	if err := ReadValueInto(r, &v); err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	if err := done(r); err != nil {
		return err
	}
	if v.IsNull() {
		return nil
	}
	n, err := v.number()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	e.offer(n)
	return nil
}
