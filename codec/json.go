package codec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"unicode/utf8"
)

// DecodeError is the error of every decoder in this package: the input is
// not a well-formed record of the codec's format.
type DecodeError struct {
	Codec  string // "json", "pyliteral", "avro"
	Offset int64  // byte offset of the problem in the record value; -1 when unknown
	Line   int    // 1-based line of Offset, for text codecs that track it; 0 otherwise
	Column int    // 1-based column (in bytes) of Offset when Line is set
	Msg    string // what is wrong, in words
}

func (e *DecodeError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("decode %s at line %d column %d (byte %d): %s", e.Codec, e.Line, e.Column, e.Offset, e.Msg)
	}
	if e.Offset < 0 {
		return fmt.Sprintf("decode %s: %s", e.Codec, e.Msg)
	}
	return fmt.Sprintf("decode %s at byte %d: %s", e.Codec, e.Offset, e.Msg)
}

// DecodeJSON decodes one JSON value, the whole of data, into the value
// model of this package (see the package documentation).
func DecodeJSON(data []byte) (any, error) {
	// encoding/json replaces invalid UTF-8 with U+FFFD; refuse instead of
	// changing the text behind the user's back.
	if !utf8.Valid(data) {
		return nil, &DecodeError{Codec: "json", Offset: int64(invalidUTF8At(data)), Msg: "invalid UTF-8"}
	}
	sc := scanner{data: data}
	v, err := sc.value(0)
	if err != nil {
		return nil, err
	}
	sc.space()
	if sc.pos != len(data) {
		return nil, &DecodeError{Codec: "json", Offset: int64(sc.pos), Msg: "unexpected data after the value"}
	}
	return v, nil
}

// EncodeJSON encodes a value of this package's model as compact JSON with
// object keys sorted. Integers, including *big.Int, are written exactly;
// floats always carry a fraction or an exponent, so that decoding the
// output gives back a float64 and not an int64. JSON has no bytes, NaN or
// infinities, so these are written as the protobuf JSON mapping writes
// them: bytes as a base64 string, NaN and ±Inf as the strings "NaN",
// "Infinity" and "-Infinity". Those are the only values whose JSON form
// decodes to something else (a string); formats that keep them are Avro
// and Python literals.
func EncodeJSON(v any) ([]byte, error) {
	return appendJSON(nil, v)
}

func appendJSON(buf []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...), nil
	case bool:
		return strconv.AppendBool(buf, x), nil
	case string:
		return appendString(buf, x), nil
	case int64:
		return strconv.AppendInt(buf, x, 10), nil
	case int:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case *big.Int:
		return x.Append(buf, 10), nil
	case float64:
		switch {
		case math.IsNaN(x):
			return append(buf, `"NaN"`...), nil
		case math.IsInf(x, 1):
			return append(buf, `"Infinity"`...), nil
		case math.IsInf(x, -1):
			return append(buf, `"-Infinity"`...), nil
		}
		start := len(buf)
		buf = strconv.AppendFloat(buf, x, 'g', -1, 64)
		if !bytes.ContainsAny(buf[start:], ".e") {
			buf = append(buf, ".0"...)
		}
		return buf, nil
	case []byte:
		buf = append(buf, '"')
		buf = base64.StdEncoding.AppendEncode(buf, x)
		return append(buf, '"'), nil
	case []any:
		buf = append(buf, '[')
		for i, e := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			var err error
			if buf, err = appendJSON(buf, e); err != nil {
				return nil, err
			}
		}
		return append(buf, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf = append(buf, '{')
		for i, k := range keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendString(buf, k)
			buf = append(buf, ':')
			var err error
			if buf, err = appendJSON(buf, x[k]); err != nil {
				return nil, err
			}
		}
		return append(buf, '}'), nil
	default:
		return nil, fmt.Errorf("encode json: %T is not a decoded value", v)
	}
}

// appendString writes s as a JSON string, with encoding/json's escaping
// minus its HTML escaping.
func appendString(buf []byte, s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(buf, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
}

func invalidUTF8At(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(data)
}
