package codec

// The decoder DecodeJSON used before its scanner, on encoding/json's Token
// API: the reference the scanner is checked against.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func decodeJSONTokens(data []byte) (any, error) {
	if !utf8.Valid(data) {
		return nil, &DecodeError{Codec: "json", Offset: int64(invalidUTF8At(data)), Msg: "invalid UTF-8"}
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	v, err := refValue(d)
	if err != nil {
		return nil, jsonError(d, err)
	}
	end := d.InputOffset()
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		rest := bytes.TrimLeft(data[end:], " \t\r\n")
		return nil, &DecodeError{Codec: "json", Offset: int64(len(data) - len(rest)), Msg: "unexpected data after the value"}
	}
	return v, nil
}

func jsonError(d *json.Decoder, err error) error {
	var de *DecodeError
	if errors.As(err, &de) {
		return de
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &DecodeError{Codec: "json", Offset: se.Offset, Msg: se.Error()}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &DecodeError{Codec: "json", Offset: d.InputOffset(), Msg: "unexpected end of input"}
	}
	return &DecodeError{Codec: "json", Offset: d.InputOffset(), Msg: err.Error()}
}

func refValue(d *json.Decoder) (any, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			return refObject(d)
		case '[':
			return refArray(d)
		default:
			return nil, &DecodeError{Codec: "json", Offset: d.InputOffset(), Msg: fmt.Sprintf("unexpected %q", t)}
		}
	case json.Number:
		return refNumber(t, d.InputOffset())
	default: // string, bool, nil
		return t, nil
	}
}

func refObject(d *json.Decoder) (any, error) {
	obj := make(map[string]any)
	for d.More() {
		at := d.InputOffset()
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, &DecodeError{Codec: "json", Offset: at, Msg: "expected an object key"}
		}
		if _, dup := obj[key]; dup {
			return nil, &DecodeError{Codec: "json", Offset: at, Msg: fmt.Sprintf("duplicate key %q", key)}
		}
		v, err := refValue(d)
		if err != nil {
			return nil, err
		}
		obj[key] = v
	}
	if _, err := d.Token(); err != nil { // '}'
		return nil, err
	}
	return obj, nil
}

func refArray(d *json.Decoder) (any, error) {
	arr := []any{}
	for d.More() {
		v, err := refValue(d)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
	if _, err := d.Token(); err != nil { // ']'
		return nil, err
	}
	return arr, nil
}

// number keeps integers exact: int64 when they fit, *big.Int otherwise;
// anything with a fraction or an exponent is a float64.
func refNumber(n json.Number, at int64) (any, error) {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
		b, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return nil, &DecodeError{Codec: "json", Offset: at, Msg: fmt.Sprintf("bad integer %q", s)}
		}
		return b, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		// Only range errors remain after the decoder's syntax check.
		return nil, &DecodeError{Codec: "json", Offset: at, Msg: fmt.Sprintf("number %s is out of the float64 range", s)}
	}
	return f, nil
}

// FuzzScannerMatchesTokens: the scanner accepts exactly what the Token
// decoder accepted, with the same values.
func FuzzScannerMatchesTokens(f *testing.F) {
	for _, s := range []string{`{"time":1469501107,"action":"Open"}`, `[1,2.5,"x",null,true,-0,1e2,-1.5E-3]`, `{"a":{"b":[{}]}}`,
		`123456789012345678901234567890`, `{"a":1,"a":2}`, `"\ud800"`, `"\ud83d\ude00 \u00e9\n\t\/"`, `"\ud83d\u0041"`, ` [ ] `, `{"a" : [ 1 , { } ] }`, `01`, `1.`, `-`, `"\x"`, "\"a\tb\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := DecodeJSON(data)
		want, werr := decodeJSONTokens(data)
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: scanner error %v, token decoder error %v", data, err, werr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: scanner %#v, token decoder %#v", data, got, want)
		}
	})
}
