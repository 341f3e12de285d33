package codec

import (
	"encoding/json"
	"errors"
	"math/big"
	"reflect"
	"testing"
)

func TestDecodeJSON(t *testing.T) {
	big1, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	tests := []struct {
		name string
		in   string
		want any
	}{
		{"classic event", `{"time":1469501107,"action":"Open"}`, map[string]any{"time": int64(1469501107), "action": "Open"}},
		{"id keeps precision", `{"alertId":281323062375219200}`, map[string]any{"alertId": int64(281323062375219200)}},
		{"negative", `-5`, int64(-5)},
		{"beyond int64", `123456789012345678901234567890`, big1},
		{"float", `351.570546978`, 351.570546978},
		{"exponent is a float", `1e3`, 1000.0},
		{"nested", `{"diaSource":{"ra":351.5,"flags":[true,null]}}`, map[string]any{"diaSource": map[string]any{"ra": 351.5, "flags": []any{true, nil}}}},
		{"empty array", `[]`, []any{}},
		{"surrounding space", " \n{\"a\":\"b\"}\t ", map[string]any{"a": "b"}},
		{"unicode escape", `"\u00e9"`, "é"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeJSON([]byte(tt.in))
			if err != nil {
				t.Fatalf("DecodeJSON(%s): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("DecodeJSON(%s) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		offset int64
	}{
		{"empty", ``, 0},
		// Offsets point at the offending byte (the end, for truncation).
		{"not json", `this is not json`, 1},
		{"truncated", `{"time":1469501107,"action":"Op`, 31},
		{"trailing data", `{"a":1} {"a":2}`, 8},
		{"duplicate key", `{"a":1,"a":2}`, 7},
		{"python literal", `{'a': 1}`, 1},
		{"float out of range", `1e999`, 0},
		{"missing value", `{"a":}`, 5},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeJSON([]byte(tt.in))
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("DecodeJSON(%q) error = %v, want a *DecodeError", tt.in, err)
			}
			if de.Offset != tt.offset {
				t.Errorf("offset = %d, want %d (%v)", de.Offset, tt.offset, de)
			}
		})
	}
}

// FuzzDecodeJSON: DecodeJSON never panics; what it accepts, encoding/json
// accepts too; and decode → encode → decode is stable.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"time":1469501107,"action":"Open"}`, `[1,2.5,"x",null,true]`, `{"a":{"b":[{}]}}`, `123456789012345678901234567890`, `{"a":1,"a":2}`, `"\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := DecodeJSON(data)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DecodeError", err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		withinBudget(t, v, len(data))
		enc, err := EncodeJSON(v)
		if err != nil {
			t.Fatalf("EncodeJSON(%#v): %v", v, err)
		}
		again, err := DecodeJSON(enc)
		if err != nil {
			t.Fatalf("re-decode %s: %v", enc, err)
		}
		if !reflect.DeepEqual(v, again) {
			t.Fatalf("round trip changed %#v to %#v", v, again)
		}
	})
}
