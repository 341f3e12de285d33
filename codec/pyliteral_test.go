package codec

import (
	"errors"
	"math"
	"math/big"
	"os"
	"reflect"
	"testing"
)

func TestDecodePyLiteral(t *testing.T) {
	huge, _ := new(big.Int).SetString("1000000000000000000000000000000", 10)
	tests := []struct {
		name string
		in   string
		want any
	}{
		{"dict", `{'alertId': 1231321321, 'ra': 351.570546978}`, map[string]any{"alertId": int64(1231321321), "ra": 351.570546978}},
		{"id keeps precision", `{'diaSourceId': 281323062375219200}`, map[string]any{"diaSourceId": int64(281323062375219200)}},
		{"huge int", `1000000000000000000000000000000`, huge},
		{"negative", `-5`, int64(-5)},
		{"python 2 long", `123L`, int64(123)},
		{"float exponent", `1e-05`, 1e-05},
		{"negative zero", `-0.0`, math.Copysign(0, -1)},
		{"inf", `inf`, math.Inf(1)},
		{"negative inf", `-inf`, math.Inf(-1)},
		{"constants", `[True, False, None]`, []any{true, false, nil}},
		{"tuple", `(1, 'a')`, []any{int64(1), "a"}},
		{"one-tuple", `(1,)`, []any{int64(1)}},
		{"empty tuple", `()`, []any{}},
		{"grouping is not a tuple", `(1)`, int64(1)},
		{"trailing commas", `{'a': [1, 2,],}`, map[string]any{"a": []any{int64(1), int64(2)}}},
		{"double quotes", `"it's"`, "it's"},
		{"escaped quote", `'it\'s "q"'`, `it's "q"`},
		{"escapes", `'\x07\t\n\\\u00e9\U0001F600\101'`, "\a\t\n\\é😀A"},
		{"raw unicode", `'é😀'`, "é😀"},
		{"bytes", `b'\x00\xffA'`, []byte{0, 0xff, 'A'}},
		{"empty bytes", `b''`, []byte{}},
		{"python 2 unicode prefix", `{u'a': u'b'}`, map[string]any{"a": "b"}},
		{"adjacent strings (pprint)", "('abc'\n 'def')", "abcdef"},
		{"pprint layout", "{'a': 1,\n 'b': {'c': 2}}", map[string]any{"a": int64(1), "b": map[string]any{"c": int64(2)}}},
		{"unknown escape kept", `'\d'`, `\d`},
		{"raw string", `r'\d\''`, `\d\'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodePyLiteral([]byte(tt.in))
			if err != nil {
				t.Fatalf("DecodePyLiteral(%s): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("DecodePyLiteral(%s) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
	nan, err := DecodePyLiteral([]byte(`{'psFlux': nan}`))
	if err != nil || !math.IsNaN(nan.(map[string]any)["psFlux"].(float64)) {
		t.Fatalf("nan: %v, %v", nan, err)
	}
}

func TestDecodePyLiteralErrors(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		line, col int
	}{
		{"empty", ``, 1, 1},
		{"unclosed dict", `{'a': 1`, 1, 8},
		{"missing colon", `{'a' 1}`, 1, 6},
		{"set", `{1, 2}`, 1, 1},
		{"int key", `{1: 2}`, 1, 2},
		{"duplicate key", `{'a': 1, 'a': 2}`, 1, 10},
		{"unclosed string", `{'a': 'b}`, 1, 7},
		{"json true", `{'a': true}`, 1, 7},
		{"trailing data", `{} {}`, 1, 4},
		{"second line", "{'a': 1,\n 'b': }", 2, 7},
		{"lone surrogate", `'\ud800'`, 1, 2},
		{"bad hex", `'\xZZ'`, 1, 2},
		{"mixed str and bytes", `'a' b'b'`, 1, 5},
		{"leading zero", `012`, 1, 1},
		{"non-ascii bytes", `b'é'`, 1, 3},
		{"newline in string", "'a\nb'", 1, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodePyLiteral([]byte(tt.in))
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("DecodePyLiteral(%q) error = %v, want a *DecodeError", tt.in, err)
			}
			if de.Line != tt.line || de.Column != tt.col {
				t.Errorf("at line %d column %d, want %d:%d (%v)", de.Line, de.Column, tt.line, tt.col, de)
			}
		})
	}
}

// TestLegacyAlertFixtures: the seed-era alert as str(dict) on one line and
// as pprint output decode to the same value as its JSON.
func TestLegacyAlertFixtures(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	want, err := DecodeJSON(read("legacy_alert.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"legacy_alert_repr_one_line.txt", "legacy_alert_pprint.txt"} {
		got, err := DecodePyLiteral(read(name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s decodes differently from legacy_alert.json", name)
		}
	}
	v := want.(map[string]any)
	if id := v["diaSource"].(map[string]any)["diaSourceId"]; id != int64(281323062375219200) {
		t.Fatalf("diaSourceId = %v", id)
	}
}
