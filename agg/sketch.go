package agg

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
	"github.com/axiomhq/hyperloglog"
)

// Distinct is count_distinct: a HyperLogLog of the values, each hashed
// with its type (1 and "1" differ; 1 and 1.0 do not).
type Distinct struct {
	hll     *hyperloglog.Sketch
	scratch []byte
}

func newDistinct() *Distinct { return &Distinct{hll: hyperloglog.New14()} }

func (d *Distinct) Add(v any) error { return addAny(d, v) }

func (d *Distinct) AddValue(v *Value) error {
	var buf [1 + 8]byte
	var b []byte
	switch v.kind {
	case tagString:
		d.scratch = append(append(d.scratch[:0], 's'), v.str...)
		b = d.scratch
	case tagTrue:
		b = append(buf[:0], 'b', 1)
	case tagFalse:
		b = append(buf[:0], 'b', 0)
	default:
		n, err := v.number()
		if err != nil {
			return fmt.Errorf("%w: %s cannot be counted distinct", ErrValue, v.describe())
		}
		b = n.canonical(buf[:0])
	}
	d.hll.Insert(b)
	return nil
}

func (d *Distinct) Merge(o State) error {
	x, ok := o.(*Distinct)
	if !ok {
		return mismatch(d, o)
	}
	return d.hll.Merge(x.hll)
}

func (d *Distinct) Value() any { return json.Number(strconv.FormatUint(d.hll.Estimate(), 10)) }

// AppendBinary appends the HyperLogLog's own encoding (sparse while
// small), with the hashes of its sparse set in ascending order: the
// library writes them in its hash table's order, which a decode into a
// table of another size changes, so one sketch had several encodings.
func (d *Distinct) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b, err := d.hll.AppendBinary(b)
	if err != nil || b[start+3] != 1 {
		return b, err
	}
	set := b[start+8 : start+8+4*int(binary.BigEndian.Uint32(b[start+4:]))]
	var room [1<<14/100 + 1]uint32 // the most a set holds before the sketch merges it
	hashes := room[:0]
	for i := 0; i < len(set); i += 4 {
		hashes = append(hashes, binary.BigEndian.Uint32(set[i:]))
	}
	slices.Sort(hashes)
	for i, h := range hashes {
		binary.BigEndian.PutUint32(set[4*i:], h)
	}
	return b, nil
}

func (d *Distinct) UnmarshalBinary(b []byte) (err error) {
	defer recoverState(&err)
	if err := checkHLL(b); err != nil {
		return err
	}
	d.hll = hyperloglog.New14()
	if err := d.hll.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	return nil
}

// The sketches of pNN: 1% relative accuracy, at most maxBins bins for
// each sign (a few kB at most), collapsing the lowest.
const (
	relativeAccuracy = 0.01
	maxBins          = 2048
)

// Quantiles is pNN: a DDSketch of the values, read at Q.
type Quantiles struct {
	q float64
	s *ddsketch.DDSketch
}

func newSketch() *ddsketch.DDSketch {
	s, err := ddsketch.LogCollapsingLowestDenseDDSketch(relativeAccuracy, maxBins)
	if err != nil {
		panic(err) // constant arguments
	}
	return s
}

// maxIndexable is the largest magnitude the sketches hold.
var maxIndexable = newSketch().MaxIndexableValue()

func newQuantiles(q float64) *Quantiles { return &Quantiles{q: q, s: newSketch()} }

func (p *Quantiles) Add(v any) error { return addAny(p, v) }

func (p *Quantiles) AddValue(v *Value) error {
	n, err := v.number()
	if err != nil {
		return err
	}
	f := n.float()
	if err := p.s.Add(f); err != nil {
		return fmt.Errorf("%w: %v: %w", ErrValue, f, err)
	}
	return nil
}

func (p *Quantiles) Merge(o State) error {
	x, ok := o.(*Quantiles)
	if !ok || x.q != p.q {
		return mismatch(p, o)
	}
	return p.s.MergeWith(x.s)
}

// Value is the sketch's value at Q (within 1% of a value of rank Q), or
// nil without values.
func (p *Quantiles) Value() any {
	if p.s.IsEmpty() {
		return nil
	}
	v, err := p.s.GetValueAtQuantile(p.q)
	if err != nil {
		return nil
	}
	return v
}

// AppendBinary appends the DDSketch's own encoding, without its index
// mapping: UnmarshalBinary makes the same one, so that a state read back
// answers as it did (a mapping decoded from the bytes answered up to 1%
// differently).
func (p *Quantiles) AppendBinary(b []byte) ([]byte, error) {
	p.s.Encode(&b, true)
	return b, nil
}

func (p *Quantiles) UnmarshalBinary(b []byte) (err error) {
	defer recoverState(&err)
	m, err := mapping.NewLogarithmicMapping(relativeAccuracy)
	if err != nil {
		return err
	}
	s, err := ddsketch.DecodeDDSketch(b, func() store.Store { return store.NewCollapsingLowestDenseStore(maxBins) }, m)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	p.s = s
	return nil
}

// recoverState turns a sketch library's panic on bytes it did not write
// (axiomhq/hyperloglog indexes past a short buffer) into ErrState: a bad
// row is an error of that row, never a crash of the step reading it.
func recoverState(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %v", ErrState, r)
	}
}

// checkHLL checks what axiomhq/hyperloglog's UnmarshalBinary trusts: the
// precision (14, all this package writes) and, of a sparse sketch, the
// sizes of its temporary set and list, which it allocates before reading
// (a bad length was gigabytes).
func checkHLL(b []byte) error {
	if len(b) < 8 || b[1] != 14 {
		return fmt.Errorf("%w: not a HyperLogLog of precision 14", ErrState)
	}
	if b[3] != 1 {
		return nil // dense: its registers are the bytes that follow
	}
	set := uint64(binary.BigEndian.Uint32(b[4:8]))
	list := 8 + 4*set // the list: count, last, size, bytes
	if list+12 > uint64(len(b)) || list+12+uint64(binary.BigEndian.Uint32(b[list+8:list+12])) > uint64(len(b)) {
		return fmt.Errorf("%w: HyperLogLog lengths past its %d bytes", ErrState, len(b))
	}
	return nil
}
