package codec

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner decodes JSON in one pass over the bytes into the value model,
// with the rules of DecodeJSON: unique object keys, exact integers, nothing
// after the value. encoding/json's Token API, which the decoder used
// before, allocated for every token and took a fifth of the aggregation's
// time; the tests check this scanner against it (FuzzScannerMatchesTokens).
type scanner struct {
	data []byte
	pos  int
}

// maxDepth bounds nesting, as encoding/json does (10000), so a hostile
// record cannot exhaust the stack.
const maxDepth = 10000

func (s *scanner) fail(at int, format string, args ...any) error {
	return &DecodeError{Codec: "json", Offset: int64(at), Msg: fmt.Sprintf(format, args...)}
}

func (s *scanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) value(depth int) (any, error) {
	s.space()
	if s.pos >= len(s.data) {
		return nil, s.fail(s.pos, "unexpected end of input")
	}
	if depth > maxDepth {
		return nil, s.fail(s.pos, "nested too deep")
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return s.object(depth)
	case c == '[':
		return s.array(depth)
	case c == '"':
		return s.string()
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return true, s.literal("true")
	case c == 'f':
		return false, s.literal("false")
	case c == 'n':
		return nil, s.literal("null")
	default:
		return nil, s.fail(s.pos, "invalid character %q looking for beginning of value", c)
	}
}

func (s *scanner) literal(word string) error {
	if len(s.data)-s.pos < len(word) || string(s.data[s.pos:s.pos+len(word)]) != word {
		for i := 0; i < len(word); i++ {
			if s.pos+i >= len(s.data) {
				return s.fail(s.pos+i, "unexpected end of input")
			}
			if s.data[s.pos+i] != word[i] {
				return s.fail(s.pos+i, "invalid character %q in literal %s", s.data[s.pos+i], word)
			}
		}
	}
	s.pos += len(word)
	return nil
}

func (s *scanner) object(depth int) (any, error) {
	s.pos++ // '{'
	obj := make(map[string]any)
	s.space()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return obj, nil
	}
	for {
		at, err := s.keyStart()
		if err != nil {
			return nil, err
		}
		key, err := s.string()
		if err != nil {
			return nil, err
		}
		if _, dup := obj[key]; dup {
			return nil, s.fail(at, "duplicate key %q", key)
		}
		if err := s.colon(); err != nil {
			return nil, err
		}
		v, err := s.value(depth + 1)
		if err != nil {
			return nil, err
		}
		obj[key] = v
		if done, err := s.next('}', "object key:value pair"); done || err != nil {
			return obj, err
		}
	}
}

// keyStart skips space to an object key's opening quote and returns its
// offset.
func (s *scanner) keyStart() (int, error) {
	s.space()
	if s.pos >= len(s.data) {
		return 0, s.fail(s.pos, "unexpected end of input")
	}
	if s.data[s.pos] != '"' {
		return 0, s.fail(s.pos, "expected an object key")
	}
	return s.pos, nil
}

// colon reads the ':' after an object key.
func (s *scanner) colon() error {
	s.space()
	if s.pos >= len(s.data) {
		return s.fail(s.pos, "unexpected end of input")
	}
	if s.data[s.pos] != ':' {
		return s.fail(s.pos, "invalid character %q after object key", s.data[s.pos])
	}
	s.pos++
	return nil
}

// next reads what follows a member of an object or array: a comma (more
// to come) or the closing bracket (done).
func (s *scanner) next(closing byte, member string) (done bool, err error) {
	s.space()
	if s.pos >= len(s.data) {
		return false, s.fail(s.pos, "unexpected end of input")
	}
	switch s.data[s.pos] {
	case ',':
		s.pos++
		return false, nil
	case closing:
		s.pos++
		return true, nil
	}
	return false, s.fail(s.pos, "invalid character %q after %s", s.data[s.pos], member)
}

func (s *scanner) array(depth int) (any, error) {
	s.pos++ // '['
	arr := []any{}
	s.space()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return arr, nil
	}
	for {
		v, err := s.value(depth + 1)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		if done, err := s.next(']', "array element"); done || err != nil {
			return arr, err
		}
	}
}

// string reads a string at s.pos (a '"'). Lone surrogates in \u escapes
// become U+FFFD, as encoding/json makes them.
func (s *scanner) string() (string, error) {
	start := s.pos
	s.pos++
	// The common case: no escapes.
	for i := s.pos; i < len(s.data); i++ {
		c := s.data[i]
		if c == '"' {
			str := string(s.data[s.pos:i])
			s.pos = i + 1
			return str, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", s.fail(i, "invalid character %q in string literal", c)
		}
	}
	var buf []byte
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return string(buf), nil
		case c < 0x20:
			return "", s.fail(s.pos, "invalid character %q in string literal", c)
		case c != '\\':
			buf = append(buf, c)
			s.pos++
			continue
		}
		if s.pos+1 >= len(s.data) {
			return "", s.fail(len(s.data), "unexpected end of input")
		}
		esc := s.data[s.pos+1]
		s.pos += 2
		switch esc {
		case '"', '\\', '/':
			buf = append(buf, esc)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, err := s.hex4()
			if err != nil {
				return "", err
			}
			if utf16.IsSurrogate(r) {
				// A high surrogate followed by \u and a low one is a pair.
				if s.pos+6 <= len(s.data) && s.data[s.pos] == '\\' && s.data[s.pos+1] == 'u' {
					save := s.pos
					s.pos += 2
					r2, err := s.hex4()
					if err != nil {
						return "", err
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						buf = utf8.AppendRune(buf, dec)
						continue
					}
					s.pos = save
				}
				r = utf8.RuneError
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", s.fail(s.pos-1, "invalid character %q in string escape code", esc)
		}
	}
	return "", s.fail(len(s.data), "unexpected end of input (string from byte %d)", start)
}

func (s *scanner) hex4() (rune, error) {
	if s.pos+4 > len(s.data) {
		for i := s.pos; i < len(s.data); i++ {
			if !isHex(s.data[i]) {
				return 0, s.fail(i, "invalid character %q in \\u hexadecimal character escape", s.data[i])
			}
		}
		return 0, s.fail(len(s.data), "unexpected end of input")
	}
	var r rune
	for i := 0; i < 4; i++ {
		c := s.data[s.pos+i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, s.fail(s.pos+i, "invalid character %q in \\u hexadecimal character escape", c)
		}
		r = r<<4 | rune(d)
	}
	s.pos += 4
	return r, nil
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// number reads a JSON number: integers exact (int64, else *big.Int),
// anything with a fraction or exponent a float64.
func (s *scanner) number() (any, error) {
	start := s.pos
	digits := func() int {
		n := 0
		for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
			s.pos++
			n++
		}
		return n
	}
	if s.data[s.pos] == '-' {
		s.pos++
	}
	if s.pos >= len(s.data) {
		return nil, s.fail(s.pos, "unexpected end of input in number")
	}
	if s.data[s.pos] == '0' {
		s.pos++
	} else if digits() == 0 {
		return nil, s.fail(s.pos, "invalid character %q in numeric literal", s.data[s.pos])
	}
	integer := true
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		integer = false
		s.pos++
		if digits() == 0 {
			return nil, s.numberEnd("after decimal point in numeric literal")
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		integer = false
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if digits() == 0 {
			return nil, s.numberEnd("in exponent of numeric literal")
		}
	}
	if integer {
		// The common integer, without the string ParseInt needs.
		lit, neg := s.data[start:s.pos], s.data[start] == '-'
		if neg {
			lit = lit[1:]
		}
		if i, ok := smallInt(lit, false); ok {
			if neg {
				i = -i
			}
			return i, nil
		}
	}
	text := string(s.data[start:s.pos])
	if integer {
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return i, nil
		}
		if n := len(strings.TrimPrefix(text, "-")); n > MaxIntDigits {
			return nil, s.fail(start, "integer literal of %d digits: at most %d are read", n, MaxIntDigits)
		}
		b, ok := new(big.Int).SetString(text, 10)
		if !ok {
			return nil, s.fail(start, "bad integer %q", text)
		}
		return b, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return nil, s.fail(start, "number %s is out of the float64 range", text)
	}
	return f, nil
}

func (s *scanner) numberEnd(where string) error {
	if s.pos >= len(s.data) {
		return s.fail(s.pos, "unexpected end of input")
	}
	return s.fail(s.pos, "invalid character %q %s", s.data[s.pos], where)
}
