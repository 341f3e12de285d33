package agg

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkAdd is the cost of one value per aggregate: what the count
// step would pay per event and aggregate (issue 16's W1 target).
func BenchmarkAdd(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	floats, ints := make([]any, 4096), make([]any, 4096)
	for i := range floats {
		floats[i] = rng.Float64() * 1e6
		ints[i] = rng.Int64N(1 << 40)
	}
	for _, bc := range []struct {
		spec   string
		values []any
	}{
		{"sum(v)", ints}, {"sum(v)", floats}, {"avg(v)", floats}, {"max(v)", floats},
		{"count_distinct(v)", ints}, {"p99(v)", floats},
	} {
		name := bc.spec
		if _, ok := bc.values[0].(int64); ok {
			name += "/int"
		} else {
			name += "/float"
		}
		b.Run(name, func(b *testing.B) {
			specs, _ := Parse([]string{bc.spec})
			s := specs[1].New()
			for i := 0; b.Loop(); i++ {
				if err := s.Add(bc.values[i&4095]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
