package codec

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// EncodePyLiteral prints a value of this package's model the way Python 3's
// repr() prints the equivalent dict, list, str, bytes, int, float, bool or
// None, with dict keys sorted (a Python dict keeps insertion order; a Go map
// has none). DecodePyLiteral reads the result back to the same value.
func EncodePyLiteral(v any) ([]byte, error) {
	return appendPy(nil, v, sort.Strings)
}

// EncodePyLiteralOrdered is EncodePyLiteral with the dict key order chosen
// by order, which rearranges the keys it is given in place; senders such
// as sendAlertStream.py printed dicts in whatever order they held them.
func EncodePyLiteralOrdered(v any, order func(keys []string)) ([]byte, error) {
	return appendPy(nil, v, order)
}

func appendPy(buf []byte, v any, order func([]string)) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(buf, "None"...), nil
	case bool:
		if x {
			return append(buf, "True"...), nil
		}
		return append(buf, "False"...), nil
	case int64:
		return strconv.AppendInt(buf, x, 10), nil
	case int:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case *big.Int:
		return x.Append(buf, 10), nil
	case float64:
		return append(buf, pyFloat(x)...), nil
	case string:
		return appendPyString(buf, x), nil
	case []byte:
		return appendPyBytes(buf, x), nil
	case []any:
		buf = append(buf, '[')
		for i, e := range x {
			if i > 0 {
				buf = append(buf, ", "...)
			}
			var err error
			if buf, err = appendPy(buf, e, order); err != nil {
				return nil, err
			}
		}
		return append(buf, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		order(keys)
		buf = append(buf, '{')
		for i, k := range keys {
			if i > 0 {
				buf = append(buf, ", "...)
			}
			buf = appendPyString(buf, k)
			buf = append(buf, ": "...)
			var err error
			if buf, err = appendPy(buf, x[k], order); err != nil {
				return nil, err
			}
		}
		return append(buf, '}'), nil
	}
	return nil, fmt.Errorf("encode pyliteral: %T is not a decoded value", v)
}

// pyFloat is Python's repr of a float: the shortest digits that read back
// the same, positional for exponents -4..15, scientific otherwise.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, expText, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expText)
	if exp >= -4 && exp < 16 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.ContainsAny(s, ".") {
			s += ".0"
		}
		return s
	}
	sign := "+"
	if exp < 0 {
		sign, exp = "-", -exp
	}
	return fmt.Sprintf("%se%s%02d", mant, sign, exp)
}

// appendPyString quotes like Python: single quotes unless the string has a
// single quote and no double quote.
func appendPyString(buf []byte, s string) []byte {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	buf = append(buf, q)
	for _, r := range s {
		switch {
		case r == '\\':
			buf = append(buf, `\\`...)
		case r == rune(q):
			buf = append(buf, '\\', q)
		case r == '\n':
			buf = append(buf, `\n`...)
		case r == '\r':
			buf = append(buf, `\r`...)
		case r == '\t':
			buf = append(buf, `\t`...)
		case r < 0x20 || r == 0x7f:
			buf = fmt.Appendf(buf, `\x%02x`, r)
		case r < 0x80 || pyPrintable(r):
			buf = utf8.AppendRune(buf, r)
		case r <= 0xff:
			buf = fmt.Appendf(buf, `\x%02x`, r)
		case r <= 0xffff:
			buf = fmt.Appendf(buf, `\u%04x`, r)
		default:
			buf = fmt.Appendf(buf, `\U%08x`, r)
		}
	}
	return append(buf, q)
}

// pyPrintable approximates Python's str.isprintable for characters beyond
// ASCII: letters, marks, numbers, punctuation and symbols, but no spaces
// other than the ASCII space, and no format or private-use characters.
func pyPrintable(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S)
}

func appendPyBytes(buf []byte, b []byte) []byte {
	q := byte('\'')
	if strings.IndexByte(string(b), '\'') >= 0 && strings.IndexByte(string(b), '"') < 0 {
		q = '"'
	}
	buf = append(buf, 'b', q)
	for _, c := range b {
		switch {
		case c == '\\':
			buf = append(buf, `\\`...)
		case c == q:
			buf = append(buf, '\\', q)
		case c == '\n':
			buf = append(buf, `\n`...)
		case c == '\r':
			buf = append(buf, `\r`...)
		case c == '\t':
			buf = append(buf, `\t`...)
		case c < 0x20 || c >= 0x7f:
			buf = fmt.Appendf(buf, `\x%02x`, c)
		default:
			buf = append(buf, c)
		}
	}
	return append(buf, q)
}
