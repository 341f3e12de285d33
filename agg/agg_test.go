package agg

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	specs, err := Parse([]string{"sum(bytes), avg(diaSource.psFlux), p99(latency_ms) as p99", "count_distinct(user),max(snr)"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range specs {
		got = append(got, s.Name+"="+s.String())
	}
	want := "count=count sum_bytes=sum(bytes) avg_diaSource_psFlux=avg(diaSource.psFlux) p99=p99(latency_ms) as p99 count_distinct_user=count_distinct(user) max_snr=max(snr)"
	if strings.Join(got, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
	if specs[3].Func != Quantile || specs[3].Q != 0.99 {
		t.Errorf("p99: %+v", specs[3])
	}
	for _, bad := range []string{"sum", "sum()", "median(x)", "p0(x)", "p100(x)", "sum(a..b)", "sum(x) as key", "sum(x) as 9x", "sum(x),sum(x)", "max(x) as m, min(y) as m", "count as"} {
		if _, err := Parse([]string{bad}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// fold adds values to a fresh state of spec, as a row does.
func fold(t *testing.T, spec string, values ...any) State {
	t.Helper()
	specs, err := Parse([]string{spec})
	if err != nil {
		t.Fatal(err)
	}
	s := specs[len(specs)-1].New()
	for _, v := range values {
		if err := s.Add(v); err != nil {
			t.Fatalf("%s: add %v: %v", spec, v, err)
		}
	}
	return s
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestHandWorked(t *testing.T) {
	two62 := int64(1) << 62
	huge, _ := new(big.Int).SetString("100000000000000000000", 10) // 1e20: beyond int64
	for _, tc := range []struct {
		spec   string
		values []any
		want   string
	}{
		// Integers stay exact past 2^53 and past int64.
		{"sum(v)", []any{two62, two62, two62}, "13835058055282163712"},
		{"sum(v)", []any{int64(1)<<53 + 1, int64(1)}, "9007199254740994"},
		{"sum(v)", []any{int64(math.MaxInt64), int64(1), int64(-1)}, "9223372036854775807"},
		{"sum(v)", []any{huge, int64(-1)}, "99999999999999999999"},
		// Floats sum exactly and round once: math.fsum's answers (a
		// running double gives 0, 0.9999999999999999 and +Inf).
		{"sum(v)", []any{1e16, 1.0, -1e16}, "1"},
		{"sum(v)", []any{0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1}, "1"},
		{"sum(v)", []any{1e308, 1e308, -1e308}, "1e+308"},
		{"sum(v)", []any{1.0, 1e-300, 1e308, 1e308, -1e308, -1e308}, "1"},
		// An integer and floats: 2^53 + 1.0 + 1 exactly.
		{"sum(v)", []any{int64(1) << 53, 1.0, int64(1)}, "9007199254740994"},
		{"sum(v)", nil, "null"},
		// avg is the exact sum over the count, rounded once:
		// (0.1+0.2+0.3)/3 is 0.2, where fsum(...)/3 is 0.19999999999999998.
		{"avg(v)", []any{0.1, 0.2, 0.3}, "0.2"},
		{"avg(v)", []any{int64(1), int64(2)}, "1.5"},
		{"avg(v)", []any{two62, two62, two62, two62}, "4611686018427388000"}, // 2^62, a float
		{"avg(v)", nil, "null"},
		// min and max compare exactly and keep the winner's type.
		{"min(v)", []any{int64(3), 2.5, int64(2)}, "2"},
		{"min(v)", []any{int64(3), 2.5}, "2.5"},
		{"max(v)", []any{1.0, int64(1)}, "1"},
		{"max(v)", []any{int64(1), 1.0}, "1"},
		{"max(v)", []any{huge, 1.5e20}, "150000000000000000000"},
		{"max(v)", []any{int64(1)<<53 + 1, float64(int64(1) << 53)}, "9007199254740993"},
		{"max(v)", nil, "null"},
		// count_distinct: by value and type: a, b, 1 (= 1.0), "1", true, false.
		{"count_distinct(v)", []any{"a", "b", "a", int64(1), 1.0, "1", true, false, true}, "6"},
		{"p50(v)", nil, "null"},
	} {
		s := fold(t, tc.spec, tc.values...)
		if got := show(s.Value()); got != tc.want {
			t.Errorf("%s over %v = %s, want %s", tc.spec, tc.values, got, tc.want)
		}
		// Every state reads back as it was written.
		b, err := s.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		back := fold(t, tc.spec)
		if err := back.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: decode: %v", tc.spec, err)
		}
		if got := show(back.Value()); got != tc.want {
			t.Errorf("%s read back = %s, want %s", tc.spec, got, tc.want)
		}
	}
}

func TestWrongTypes(t *testing.T) {
	for _, tc := range []struct {
		spec string
		v    any
	}{
		{"sum(v)", "12"}, {"avg(v)", true}, {"min(v)", map[string]any{}}, {"max(v)", []any{1.0}},
		{"sum(v)", math.NaN()}, {"sum(v)", math.Inf(1)}, {"p90(v)", "x"}, {"count_distinct(v)", []any{}},
	} {
		s := fold(t, tc.spec)
		if err := s.Add(tc.v); !errors.Is(err, ErrValue) {
			t.Errorf("%s of %v: %v, want ErrValue", tc.spec, tc.v, err)
		}
	}
}

// TestFsum: 180 floats from testdata/gen_fsum.py whose naive sum is
// -38335.58…, summed in order and in 20 other orders and batchings, give
// math.fsum's 24.449896935110175 every time.
func TestFsum(t *testing.T) {
	raw, err := os.ReadFile("testdata/fsum.txt")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(strings.TrimSpace(string(raw)), "\n", 2)
	head := strings.Fields(lines[0]) // naive N fsum F
	want, _ := strconv.ParseFloat(head[3], 64)
	var values []any
	naive := 0.0
	for _, f := range strings.Split(lines[1], ", ") {
		x, err := strconv.ParseFloat(f, 64)
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, x)
		naive += x
	}
	if naive == want {
		t.Fatal("the fixture does not tell an exact sum from a running one")
	}
	for _, spec := range []string{"sum(v)", "avg(v)"} {
		wantV := want
		if spec == "avg(v)" {
			// The exact sum over 180, rounded once (big.Rat: another
			// exact route).
			r := new(big.Rat)
			for _, v := range values {
				r.Add(r, new(big.Rat).SetFloat64(v.(float64)))
			}
			wantV, _ = r.Quo(r, big.NewRat(int64(len(values)), 1)).Float64()
		}
		for seed := range uint64(21) {
			got := batched(t, spec, values, seed).Value()
			if got != wantV {
				t.Errorf("%s, order %d: %v, want %v", spec, seed, got, wantV)
			}
		}
	}
}

// TestHugeFloats: partials that overflow (sums past 1e308, where
// math.fsum raises) move to a big.Float, in any order and batching.
func TestHugeFloats(t *testing.T) {
	values := []any{1e308, 1e308, 1e308, 1e308, -1e308, -1e308, -1e308, -1e308, 1.0, 2.5, 1e-300, 0.25}
	for seed := range uint64(30) {
		if got := batched(t, "sum(v)", values, seed).Value(); got != 3.75 {
			t.Errorf("order %d: %v, want 3.75", seed, got)
		}
	}
}

// batched folds values shuffled by seed (seed 0: in order) into random
// batches, each through its encoding, and merges the batches in random
// order: what replays, rebalances and batch boundaries do to a row.
func batched(t *testing.T, spec string, values []any, seed uint64) State {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 16))
	vs := append([]any(nil), values...)
	if seed > 0 {
		rng.Shuffle(len(vs), func(i, j int) { vs[i], vs[j] = vs[j], vs[i] })
	}
	var parts []State
	for len(vs) > 0 {
		n := 1 + rng.IntN(min(len(vs), 50))
		s := fold(t, spec, vs[:n]...)
		b, err := s.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		back := fold(t, spec)
		if err := back.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, back)
		vs = vs[n:]
	}
	rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	total := fold(t, spec)
	for _, p := range parts {
		if err := total.Merge(p); err != nil {
			t.Fatal(err)
		}
	}
	return total
}

// TestOrderIndependent: every aggregate gives the same value however its
// values are ordered, batched and merged.
func TestOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var values []any
	for i := range 3000 {
		switch i % 3 {
		case 0:
			values = append(values, rng.Int64N(1<<62)-1<<61)
		case 1:
			values = append(values, rng.NormFloat64()*math.Pow(10, float64(rng.IntN(12))))
		default:
			values = append(values, float64(rng.IntN(500)))
		}
	}
	for _, spec := range []string{"sum(v)", "avg(v)", "min(v)", "max(v)", "count_distinct(v)", "p50(v)", "p99(v)"} {
		want := show(batched(t, spec, values, 0).Value())
		for seed := uint64(1); seed <= 10; seed++ {
			if got := show(batched(t, spec, values, seed).Value()); got != want {
				t.Errorf("%s, order %d: %s, want %s", spec, seed, got, want)
			}
		}
	}
}

// TestSketchAccuracy: the documented errors, on known distributions.
func TestSketchAccuracy(t *testing.T) {
	var values []any
	for i := 1; i <= 100000; i++ {
		values = append(values, float64(i))
	}
	for _, q := range []struct {
		spec string
		want float64
	}{{"p50(v)", 50000}, {"p90(v)", 90000}, {"p99(v)", 99000}, {"p1(v)", 1000}} {
		got := fold(t, q.spec, values...).Value().(float64)
		if math.Abs(got-q.want)/q.want > relativeAccuracy {
			t.Errorf("%s of 1..100000 = %v, want %v within 1%%", q.spec, got, q.want)
		}
	}
	for _, n := range []int{100, 1000, 100000} {
		var vs []any
		for i := range n {
			vs = append(vs, "user-"+strconv.Itoa(i))
		}
		got, _ := strconv.Atoi(string(fold(t, "count_distinct(v)", vs...).Value().(json.Number)))
		// Sparse below ~thousands (near exact), then about 0.8%: 3σ.
		if math.Abs(float64(got-n))/float64(n) > 0.025 {
			t.Errorf("count_distinct of %d values = %d", n, got)
		}
	}
}

// TestDistinctEncodingCanonical: a sparse HyperLogLog has one encoding
// whatever order its values came in and however often it was decoded
// (make fuzz found a row whose sketch re-encoded differently each time).
func TestDistinctEncodingCanonical(t *testing.T) {
	for _, n := range []int{2, 7, 40, 160} {
		var vs []any
		for i := range n {
			vs = append(vs, "v"+strconv.Itoa(i))
		}
		want, _ := fold(t, "count_distinct(v)", vs...).AppendBinary(nil)
		slices.Reverse(vs)
		reversed, _ := fold(t, "count_distinct(v)", vs...).AppendBinary(nil)
		if !bytes.Equal(reversed, want) {
			t.Errorf("%d values: reversed encode as\n%x\nwant\n%x", n, reversed, want)
		}
		b := want
		for range 3 {
			var d Distinct
			if err := d.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			b, _ = d.AppendBinary(nil)
			if !bytes.Equal(b, want) {
				t.Errorf("%d values: decoded and encoded as\n%x\nwant\n%x", n, b, want)
				break
			}
		}
	}
}
