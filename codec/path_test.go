package codec

import (
	"errors"
	"math/big"
	"testing"
)

func TestLookup(t *testing.T) {
	doc, err := DecodeJSON([]byte(`{"action":"Open","diaSource":{"ra":351.57,"filterName":"r"},"prv":[{"snr":3},{"snr":7}],"n":null}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want any
		ok   bool
	}{
		{"action", "Open", true},
		{"diaSource.ra", 351.57, true},
		{"prv.1.snr", int64(7), true},
		{"n", nil, true},
		{"missing", nil, false},
		{"diaSource.dec", nil, false},
		{"prv.2.snr", nil, false},
		{"prv.x", nil, false},
		{"action.length", nil, false},
		{"n.x", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p, err := ParsePath(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Lookup(doc)
			if !tt.ok {
				if !errors.Is(err, ErrMissingField) {
					t.Fatalf("Lookup(%s) = %v, %v; want ErrMissingField", tt.path, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Lookup(%s) = %#v, %v; want %#v", tt.path, got, err, tt.want)
			}
		})
	}
}

func TestParsePathErrors(t *testing.T) {
	for _, in := range []string{"", ".", "a.", ".a", "a..b"} {
		if _, err := ParsePath(in); err == nil {
			t.Errorf("ParsePath(%q) accepted", in)
		}
	}
}

func TestKeyString(t *testing.T) {
	b, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	tests := []struct {
		in   any
		want string
		ok   bool
	}{
		{"Open", "Open", true},
		{int64(281323062375219200), "281323062375219200", true},
		{b, "123456789012345678901234567890", true},
		{0.5, "0.5", true},
		{true, "true", true},
		{nil, "", false},
		{map[string]any{}, "", false},
		{[]any{}, "", false},
	}
	for _, tt := range tests {
		got, err := KeyString(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("KeyString(%#v) = %q, %v", tt.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrNotScalar) {
			t.Errorf("KeyString(%#v) error %v does not wrap ErrNotScalar", tt.in, err)
		}
	}
}
