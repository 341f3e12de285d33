package codec

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// ErrMissingField is wrapped by Lookup when the path leads nowhere.
var ErrMissingField = errors.New("missing field")

// Path is a parsed dotted field path such as "diaSource.ra". A step that is
// a non-negative integer indexes an array.
type Path struct {
	text  string
	steps []string
}

// ParsePath parses a dotted path. Empty steps ("a..b", ".a") are an error.
func ParsePath(s string) (Path, error) {
	if s == "" {
		return Path{}, errors.New("empty field path")
	}
	steps := strings.Split(s, ".")
	for _, st := range steps {
		if st == "" {
			return Path{}, fmt.Errorf("field path %q has an empty step", s)
		}
	}
	return Path{text: s, steps: steps}, nil
}

// String returns the path as written.
func (p Path) String() string { return p.text }

// Steps returns the path's steps; the caller must not change them.
func (p Path) Steps() []string { return p.steps }

// Lookup returns the value at path p in v. A missing key, an index out of
// range, or a step into a scalar is an error wrapping ErrMissingField that
// names the step.
func (p Path) Lookup(v any) (any, error) {
	cur := v
	for i, st := range p.steps {
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[st]
			if !ok {
				return nil, fmt.Errorf("%w %q", ErrMissingField, strings.Join(p.steps[:i+1], "."))
			}
			cur = next
		case []any:
			n, err := strconv.Atoi(st)
			if err != nil || n < 0 || n >= len(c) {
				return nil, fmt.Errorf("%w %q: no element %s in an array of %d", ErrMissingField, strings.Join(p.steps[:i+1], "."), st, len(c))
			}
			cur = c[n]
		default:
			return nil, fmt.Errorf("%w %q: %q is not an object", ErrMissingField, strings.Join(p.steps[:i+1], "."), strings.Join(p.steps[:i], "."))
		}
	}
	return cur, nil
}

// ErrNotScalar is returned by KeyString for values that cannot be a key.
var ErrNotScalar = errors.New("not a string, number or boolean")

// KeyString renders a scalar value as a group key: strings as they are,
// integers in decimal, floats in the shortest form that reads back the same,
// booleans as true/false. Null, objects and arrays are an error wrapping
// ErrNotScalar.
func KeyString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case *big.Int:
		return x.String(), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case nil:
		return "", fmt.Errorf("null is %w", ErrNotScalar)
	case map[string]any:
		return "", fmt.Errorf("an object is %w", ErrNotScalar)
	case []any:
		return "", fmt.Errorf("an array is %w", ErrNotScalar)
	default:
		return "", fmt.Errorf("%T is %w", v, ErrNotScalar)
	}
}

// Number returns a decoded numeric value (any integer or float type a
// decoder produces) as a float64, and whether it is a finite number.
// Integers beyond 2^53 lose precision.
func Number(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case int64:
		f = float64(x)
	case int:
		f = float64(x)
	case int32:
		f = float64(x)
	case float64:
		f = x
	case float32:
		f = float64(x)
	case *big.Int:
		f, _ = new(big.Float).SetInt(x).Float64()
	default:
		return 0, false
	}
	return f, !math.IsNaN(f) && !math.IsInf(f, 0)
}

// PathOf is the path of steps, each a field name (or an array index), as
// a parser that knows the steps gives them; a step may hold a dot.
func PathOf(steps ...string) Path {
	return Path{text: strings.Join(steps, "."), steps: steps}
}
