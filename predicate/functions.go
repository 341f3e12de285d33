package predicate

import (
	"fmt"
	"math"

	"github.com/expr-lang/expr"
	"github.com/hourglass-stream/hourglass/codec"
)

// Functions an expression may call besides expr-lang's builtins: the
// trigonometry of sky positions, in degrees where astronomers use degrees
// (radians and degrees convert), and angsep, the angular separation of two
// sky positions, so that a cone search reads
// `angsep(diaSource.ra, diaSource.decl, 351.57, 0.126) < 2.5/3600`.
var functions = map[string]struct {
	arity int
	fn    func(x []float64) float64
	doc   string
}{
	"sin":     {1, func(x []float64) float64 { return math.Sin(x[0]) }, "sin(radians)"},
	"cos":     {1, func(x []float64) float64 { return math.Cos(x[0]) }, "cos(radians)"},
	"tan":     {1, func(x []float64) float64 { return math.Tan(x[0]) }, "tan(radians)"},
	"asin":    {1, func(x []float64) float64 { return math.Asin(x[0]) }, "asin(x), in radians"},
	"acos":    {1, func(x []float64) float64 { return math.Acos(x[0]) }, "acos(x), in radians"},
	"atan2":   {2, func(x []float64) float64 { return math.Atan2(x[0], x[1]) }, "atan2(y, x), in radians"},
	"sqrt":    {1, func(x []float64) float64 { return math.Sqrt(x[0]) }, "sqrt(x)"},
	"radians": {1, func(x []float64) float64 { return x[0] * math.Pi / 180 }, "radians(degrees)"},
	"degrees": {1, func(x []float64) float64 { return x[0] * 180 / math.Pi }, "degrees(radians)"},
	"angsep":  {4, func(x []float64) float64 { return AngularSeparation(x[0], x[1], x[2], x[3]) }, "angsep(ra1, dec1, ra2, dec2), all in degrees"},
}

// AngularSeparation returns the angle between two sky positions (right
// ascension, declination), all in degrees. It uses Vincenty's formula for
// the sphere (as astropy's angular_separation does), which keeps full
// precision at arc-second and smaller separations, where the cosine
// formula loses it, and near antipodes, where the haversine formula does;
// right ascensions either side of 0/360 are as close as they are on the
// sky.
func AngularSeparation(ra1, dec1, ra2, dec2 float64) float64 {
	const rad = math.Pi / 180
	sdra, cdra := math.Sincos((ra2 - ra1) * rad)
	s1, c1 := math.Sincos(dec1 * rad)
	s2, c2 := math.Sincos(dec2 * rad)
	num1 := c2 * sdra
	num2 := c1*s2 - s1*c2*cdra
	den := s1*s2 + c1*c2*cdra
	return math.Atan2(math.Hypot(num1, num2), den) / rad
}

// functionOptions declares functions to expr-lang.
func functionOptions() []expr.Option {
	opts := make([]expr.Option, 0, len(functions))
	for name, f := range functions {
		opts = append(opts, expr.Function(name, func(args ...any) (any, error) {
			if len(args) != f.arity {
				return nil, fmt.Errorf("%s takes %d arguments, got %d", f.doc, f.arity, len(args))
			}
			x := make([]float64, len(args))
			for i, a := range args {
				v, ok := codec.Number(a)
				if !ok {
					return nil, fmt.Errorf("%s: argument %d is %s, not a number", name, i+1, describe(a))
				}
				x[i] = v
			}
			return f.fn(x), nil
		}))
	}
	return opts
}

func describe(v any) string {
	if v == nil {
		return "null"
	}
	return fmt.Sprintf("a %T", v)
}
