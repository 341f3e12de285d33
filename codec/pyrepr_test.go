package codec

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"os"
	"reflect"
	"strconv"
	"testing"
)

// untag turns the tagged JSON of testdata/pyrepr/gen.py into the model.
func untag(t *testing.T, v any) any {
	t.Helper()
	if v == nil {
		return nil
	}
	m := v.(map[string]any)
	for k, x := range m {
		switch k {
		case "bool":
			return x.(bool)
		case "i":
			s := x.(string)
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i
			}
			b, _ := new(big.Int).SetString(s, 10)
			return b
		case "f":
			switch s := x.(string); s {
			case "inf":
				return math.Inf(1)
			case "-inf":
				return math.Inf(-1)
			case "nan":
				return math.NaN()
			default:
				f, err := strconv.ParseFloat(s, 64)
				if err != nil {
					t.Fatalf("float %s: %v", s, err)
				}
				return f
			}
		case "s":
			return x.(string)
		case "b":
			b, err := hex.DecodeString(x.(string))
			if err != nil {
				t.Fatal(err)
			}
			return b
		case "l", "t":
			out := []any{}
			for _, e := range x.([]any) {
				out = append(out, untag(t, e))
			}
			return out
		case "d":
			out := map[string]any{}
			for _, kv := range x.([]any) {
				pair := kv.([]any)
				out[pair[0].(string)] = untag(t, pair[1])
			}
			return out
		}
	}
	t.Fatalf("bad tag %v", v)
	return nil
}

// sameValue is reflect.DeepEqual with NaN equal to NaN and -0 distinct
// from 0.
func sameValue(a, b any) bool {
	fa, ok1 := a.(float64)
	fb, ok2 := b.(float64)
	if ok1 && ok2 {
		return math.Float64bits(fa) == math.Float64bits(fb) || math.IsNaN(fa) && math.IsNaN(fb)
	}
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k := range x {
			if _, ok := y[k]; !ok || !sameValue(x[k], y[k]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// TestPythonReprFixtures decodes 400 values printed by CPython's repr()
// (testdata/pyrepr/gen.py) and, where the dict keys were inserted sorted,
// checks that EncodePyLiteral prints exactly what Python printed.
func TestPythonReprFixtures(t *testing.T) {
	f, err := os.Open("testdata/pyrepr/pyrepr.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		var fx struct {
			Repr   string `json:"repr"`
			Tagged any    `json:"tagged"`
			Exact  bool   `json:"exact"`
		}
		if err := json.Unmarshal(sc.Bytes(), &fx); err != nil {
			t.Fatalf("fixture %d: %v", n, err)
		}
		want := untag(t, fx.Tagged)
		got, err := DecodePyLiteral([]byte(fx.Repr))
		if err != nil {
			t.Errorf("fixture %d: %v\n%s", n, err, fx.Repr)
			continue
		}
		if !sameValue(got, want) {
			t.Errorf("fixture %d decodes to %#v, want %#v", n, got, want)
			continue
		}
		if fx.Exact {
			enc, err := EncodePyLiteral(got)
			if err != nil {
				t.Fatal(err)
			}
			if string(enc) != fx.Repr {
				t.Errorf("fixture %d encodes as\n%s\nPython printed\n%s", n, enc, fx.Repr)
			}
		}
	}
	if n != 400 {
		t.Fatalf("%d fixtures, want 400", n)
	}
}

// FuzzDecodePyLiteral: the decoder never panics, errors are *DecodeError
// with a position, and what it accepts survives encode → decode.
func FuzzDecodePyLiteral(f *testing.F) {
	for _, s := range []string{`{'a': [1, 2.5, 'x', None, True], 'b': (1,), 'c': b'\x00'}`, `'\U0001F600\x07'`, `{1, 2}`, `('a' 'b')`, `-inf`, `123L`, `{u'k': r'\d'}`} {
		f.Add([]byte(s))
	}
	if b, err := os.ReadFile("testdata/legacy_alert_pprint.txt"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := DecodePyLiteral(data)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Line < 1 || de.Column < 1 {
				t.Fatalf("error %v is not a positioned *DecodeError", err)
			}
			return
		}
		withinBudget(t, v, len(data))
		enc, err := EncodePyLiteral(v)
		if err != nil {
			t.Fatalf("encode %#v: %v", v, err)
		}
		again, err := DecodePyLiteral(enc)
		if err != nil {
			t.Fatalf("re-decode %s: %v", enc, err)
		}
		if !sameValue(v, again) {
			t.Fatalf("round trip changed %#v to %#v via %s", v, again, enc)
		}
	})
}
