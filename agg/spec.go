// Package agg is hourglass's aggregates beyond count (issue 16 item 1): the
// --agg list, and the state each aggregate keeps in a row. Every state is
// exact or a mergeable sketch whose merges do not depend on order, so that
// however events are batched, replayed or split between processes, a row
// ends with the same value:
//
//   - sum: integers exactly, at any size (int64 while it fits, then
//     math/big); floats exactly (a big.Float wide enough for any sum of
//     float64s), rounded once when read, as Python's math.fsum rounds;
//   - avg: that exact sum over the count of values, rounded once;
//   - min, max: exact comparisons across integers and floats;
//   - count_distinct: HyperLogLog (axiomhq/hyperloglog, precision 14,
//     sparse while small: exact-ish below a few thousand values, about
//     0.8% standard error beyond);
//   - pNN: DDSketch (DataDog/sketches-go) with 1% relative accuracy and at
//     most 2,048 bins per sign, collapsing the lowest.
//
// A null or missing value is skipped (SQL semantics: the caller counts it);
// a value of the wrong type is ErrValue.
package agg

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/hourglass-stream/hourglass/codec"
)

// Func is an aggregate function.
type Func string

// The functions of --agg; pNN is Quantile with Spec.Q.
const (
	Count         Func = "count"
	Sum           Func = "sum"
	Avg           Func = "avg"
	Min           Func = "min"
	Max           Func = "max"
	CountDistinct Func = "count_distinct"
	Quantile      Func = "p"
)

// Spec is one aggregate of --agg: Func over Field, as column Name.
type Spec struct {
	Func  Func
	Field codec.Path // none for count
	P     int        // NN of pNN, 1 to 99
	Q     float64    // the quantile of pNN: P/100
	Name  string
	text  string // String, made once
}

// String is the spec as --agg takes it.
func (s Spec) String() string {
	if s.text != "" {
		return s.text
	}
	return s.format()
}

func (s Spec) format() string {
	f := string(s.Func)
	if s.Func == Count {
		return withName(f, s.Name, "count")
	}
	if s.Func == Quantile {
		f = "p" + strconv.Itoa(s.P)
	}
	call := f + "(" + s.Field.String() + ")"
	return withName(call, s.Name, defaultName(f, s.Field.String()))
}

func withName(call, name, def string) string {
	if name == def {
		return call
	}
	return call + " as " + name
}

func defaultName(f, path string) string { return f + "_" + strings.ReplaceAll(path, ".", "_") }

var (
	itemRE = regexp.MustCompile(`^([a-z_]+|p[0-9]{1,2})\(\s*([^()\s]+)\s*\)(?:\s+as\s+(\S+))?$`)
	nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// reserved are the columns every row has.
var reserved = map[string]bool{"key": true, "window_start": true, "window_end": true, "final": true}

// Parse reads --agg values, each a comma-separated list of count,
// sum(f), avg(f), min(f), max(f), count_distinct(f) and pNN(f), each
// optionally "... as name". count comes first whether it is listed or
// not; names must be unique identifiers.
func Parse(lists []string) ([]Spec, error) {
	specs := []Spec{{Func: Count, Name: "count", text: "count"}}
	seen := map[string]bool{"count": true}
	for _, list := range lists {
		for _, item := range strings.Split(list, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			s, err := parseItem(item)
			if err != nil {
				return nil, fmt.Errorf("--agg %q: %w", item, err)
			}
			if s.Func == Count && s.Name == "count" {
				continue // always there
			}
			if seen[s.Name] {
				return nil, fmt.Errorf("--agg %q: column %q twice", item, s.Name)
			}
			seen[s.Name] = true
			specs = append(specs, s)
		}
	}
	return specs, nil
}

func parseItem(item string) (Spec, error) {
	if name, ok := strings.CutPrefix(item, "count"); ok && (name == "" || strings.HasPrefix(name, " ")) {
		name = strings.TrimSpace(name)
		if name == "" {
			return Spec{Func: Count, Name: "count", text: "count"}, nil
		}
		n, ok := strings.CutPrefix(name, "as ")
		if !ok {
			return Spec{}, errors.New(`want count, or count as NAME`)
		}
		s := Spec{Func: Count, Name: strings.TrimSpace(n)}
		s.text = s.format()
		return s, CheckName(s.Name)
	}
	m := itemRE.FindStringSubmatch(item)
	if m == nil {
		return Spec{}, errors.New("want FUNC(field.path) [as NAME], FUNC one of sum, avg, min, max, count_distinct, p1 to p99")
	}
	path, err := codec.ParsePath(m[2])
	if err != nil {
		return Spec{}, err
	}
	s := Spec{Func: Func(m[1]), Field: path, Name: m[3]}
	switch s.Func {
	case Sum, Avg, Min, Max, CountDistinct:
	default:
		q, ok := strings.CutPrefix(m[1], "p")
		n, err := strconv.Atoi(q)
		if !ok || err != nil || n < 1 || n > 99 {
			return Spec{}, fmt.Errorf("unknown function %q: want sum, avg, min, max, count_distinct or p1 to p99", m[1])
		}
		s.Func, s.P, s.Q = Quantile, n, float64(n)/100
	}
	if s.Name == "" {
		s.Name = defaultName(m[1], path.String())
	}
	s.text = s.format()
	return s, CheckName(s.Name)
}

// CheckName reports whether name can be a column: an identifier, and not
// one of the columns every row has (key, window_start, window_end,
// final). Aggregates and several keys name their columns with it.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("column name %q: want letters, digits and _, not starting with a digit", name)
	}
	if reserved[name] {
		return fmt.Errorf("column name %q is taken by the row itself", name)
	}
	return nil
}

// New returns an empty state for s.
func (s Spec) New() State {
	switch s.Func {
	case Sum, Avg:
		return &SumState{avg: s.Func == Avg}
	case Min:
		return &Extreme{max: false}
	case Max:
		return &Extreme{max: true}
	case CountDistinct:
		return newDistinct()
	case Quantile:
		return newQuantiles(s.Q)
	}
	return &Counter{}
}
