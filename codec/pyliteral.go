package codec

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DecodePyLiteral decodes one Python literal, the whole of data, as
// Python's repr() and str() print dicts, lists and tuples, and as pprint
// prints them over several lines. This is what LSST's sendAlertStream.py
// sent with --encode-off: str(alert), key order varying from run to run.
//
// The grammar: dicts with string keys, lists, tuples (as arrays), strings
// in single or double quotes with every escape of Python 3 (\xhh, \uXXXX,
// \UXXXXXXXX, octal, \a \b \f \n \r \t \v, line continuations) and the u
// prefix of Python 2, adjacent strings concatenated (pprint splits long
// strings so), bytes b'...' (as []byte), integers of any size (with
// Python 2's L suffix), floats including inf and nan, True, False and None.
// Values follow the package's model; bytes decode to []byte. Sets, non-string
// dict keys and duplicate keys are errors. Every error is a *DecodeError
// with the line and column of the problem and what was expected there.
func DecodePyLiteral(data []byte) (any, error) {
	if !utf8.Valid(data) {
		return nil, (&pyParser{src: data}).errAt(invalidUTF8At(data), "invalid UTF-8")
	}
	p := &pyParser{src: data}
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.src) {
		return nil, p.errAt(p.pos, "unexpected %s after the value", p.describe())
	}
	return v, nil
}

// maxPyDepth bounds nesting so that a hostile record cannot exhaust the
// stack; real alerts nest a handful of levels.
const maxPyDepth = 512

type pyParser struct {
	src []byte
	pos int
}

func (p *pyParser) errAt(pos int, format string, args ...any) *DecodeError {
	line, col := 1, 1
	for _, c := range p.src[:min(pos, len(p.src))] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return &DecodeError{Codec: "pyliteral", Offset: int64(pos), Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// describe names what is at the current position, for error messages.
func (p *pyParser) describe() string {
	if p.pos >= len(p.src) {
		return "end of input"
	}
	r, _ := utf8.DecodeRune(p.src[p.pos:])
	return strconv.QuoteRune(r)
}

func (p *pyParser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			p.pos++
		case '\\':
			// An explicit line continuation between tokens.
			if p.pos+1 < len(p.src) && p.src[p.pos+1] == '\n' {
				p.pos += 2
				continue
			}
			return
		default:
			return
		}
	}
}

func (p *pyParser) value(depth int) (any, error) {
	if depth > maxPyDepth {
		return nil, p.errAt(p.pos, "nesting deeper than %d", maxPyDepth)
	}
	if p.pos >= len(p.src) {
		return nil, p.errAt(p.pos, "expected a value, found end of input")
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.dict(depth)
	case c == '[':
		return p.sequence(depth, '[', ']')
	case c == '(':
		return p.paren(depth)
	case c == '\'' || c == '"':
		return p.strings()
	case c == 'b' || c == 'B' || c == 'u' || c == 'U' || c == 'r' || c == 'R':
		if p.pos+1 < len(p.src) && (p.src[p.pos+1] == '\'' || p.src[p.pos+1] == '"' ||
			(c|0x20 == 'r' || c|0x20 == 'b') && p.pos+2 < len(p.src) && (p.src[p.pos+1]|0x20 == 'b' || p.src[p.pos+1]|0x20 == 'r') && (p.src[p.pos+2] == '\'' || p.src[p.pos+2] == '"')) {
			return p.strings()
		}
		return p.word()
	case c == '-' || c == '+' || c == '.' || c >= '0' && c <= '9':
		return p.number()
	default:
		return p.word()
	}
}

// word reads True, False, None, inf and nan.
func (p *pyParser) word() (any, error) {
	start := p.pos
	for p.pos < len(p.src) && (isIdent(p.src[p.pos])) {
		p.pos++
	}
	switch w := string(p.src[start:p.pos]); w {
	case "True":
		return true, nil
	case "False":
		return false, nil
	case "None":
		return nil, nil
	case "inf":
		return math.Inf(1), nil
	case "nan":
		return math.NaN(), nil
	case "":
		p.pos = start
		return nil, p.errAt(start, "expected a value, found %s", p.describe())
	case "set", "frozenset":
		return nil, p.errAt(start, "sets are not supported: they have no order and no JSON or Avro form")
	default:
		return nil, p.errAt(start, "expected a value, found the name %q", w)
	}
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *pyParser) number() (any, error) {
	start := p.pos
	neg := false
	if c := p.src[p.pos]; c == '-' || c == '+' {
		neg = c == '-'
		p.pos++
		p.skipSpace() // repr never puts space there, but Python allows it
		if p.pos < len(p.src) && (p.src[p.pos] == 'i' || p.src[p.pos] == 'n') {
			v, err := p.word()
			if err != nil {
				return nil, err
			}
			f, ok := v.(float64)
			if !ok {
				return nil, p.errAt(start, "expected a number after the sign")
			}
			if neg {
				f = -f
			}
			return f, nil
		}
	}
	digits := p.pos
	isFloat := false
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c >= '0' && c <= '9' || c == '_':
		case c == '.':
			isFloat = true
		case c == 'e' || c == 'E':
			isFloat = true
			if p.pos+1 < len(p.src) && (p.src[p.pos+1] == '+' || p.src[p.pos+1] == '-') {
				p.pos++
			}
		default:
			goto done
		}
		p.pos++
	}
done:
	if i, ok := smallInt(p.src[digits:p.pos], isFloat); ok {
		if p.pos < len(p.src) && (p.src[p.pos] == 'L' || p.src[p.pos] == 'l') {
			p.pos++ // Python 2 long
		}
		if neg {
			i = -i
		}
		return i, nil
	}
	text := strings.ReplaceAll(string(p.src[digits:p.pos]), "_", "")
	if text == "" || text == "." {
		return nil, p.errAt(start, "expected a number")
	}
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, p.errAt(start, "bad float %q", string(p.src[start:p.pos]))
		}
		if neg {
			f = -f
		}
		return f, nil
	}
	if p.pos < len(p.src) && (p.src[p.pos] == 'L' || p.src[p.pos] == 'l') {
		p.pos++ // Python 2 long
	}
	if len(text) > 1 && text[0] == '0' && strings.Trim(text, "0") != "" {
		return nil, p.errAt(start, "integer %q has a leading zero", text)
	}
	if len(text) > MaxIntDigits {
		// CPython refuses such a str → int too (sys.int_info.default_max_str_digits).
		return nil, p.errAt(start, "integer literal of %d digits: at most %d are read", len(text), MaxIntDigits)
	}
	if neg {
		text = "-" + text
	}
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		return i, nil
	}
	b, ok := new(big.Int).SetString(text, 10)
	if !ok {
		return nil, p.errAt(start, "bad integer %q", text)
	}
	return b, nil
}

// smallInt parses the common integer without allocating: plain digits, no
// leading zero, at most 18 of them (so it fits in an int64). Anything else
// takes the general path.
func smallInt(b []byte, isFloat bool) (int64, bool) {
	if isFloat || len(b) == 0 || len(b) > 18 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func (p *pyParser) expect(c byte) error {
	p.skipSpace()
	if p.pos >= len(p.src) || p.src[p.pos] != c {
		return p.errAt(p.pos, "expected %q, found %s", c, p.describe())
	}
	p.pos++
	return nil
}

func (p *pyParser) dict(depth int) (any, error) {
	open := p.pos
	p.pos++ // {
	obj := map[string]any{}
	for {
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == '}' {
			p.pos++
			return obj, nil
		}
		if p.pos >= len(p.src) {
			return nil, p.errAt(p.pos, "expected a key or '}' to close the dict opened at byte %d", open)
		}
		keyAt := p.pos
		k, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		key, ok := k.(string)
		if !ok {
			p.skipSpace()
			if p.pos < len(p.src) && (p.src[p.pos] == ',' || p.src[p.pos] == '}') {
				return nil, p.errAt(open, "sets are not supported: they have no order and no JSON or Avro form")
			}
			return nil, p.errAt(keyAt, "dict key is %s, not a string: keys must be strings", kindName(k))
		}
		if _, dup := obj[key]; dup {
			return nil, p.errAt(keyAt, "duplicate key %q", key)
		}
		if err := p.expect(':'); err != nil {
			return nil, err
		}
		p.skipSpace()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		obj[key] = v
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.src) && p.src[p.pos] == '}' {
			continue
		}
		return nil, p.errAt(p.pos, "expected ',' or '}' in the dict, found %s", p.describe())
	}
}

func (p *pyParser) sequence(depth int, open, close byte) (any, error) {
	p.pos++ // open
	arr := []any{}
	for {
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == close {
			p.pos++
			return arr, nil
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.src) && p.src[p.pos] == close {
			continue
		}
		return nil, p.errAt(p.pos, "expected ',' or %q, found %s", close, p.describe())
	}
}

// paren reads a tuple, or a parenthesised value such as pprint's
// ('long string ' 'continued').
func (p *pyParser) paren(depth int) (any, error) {
	start := p.pos
	p.pos++ // (
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ')' {
		p.pos++
		return []any{}, nil
	}
	first, err := p.value(depth + 1)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ')' {
		p.pos++
		return first, nil // grouping, not a tuple
	}
	if p.pos >= len(p.src) || p.src[p.pos] != ',' {
		return nil, p.errAt(p.pos, "expected ',' or ')' in the tuple opened at byte %d, found %s", start, p.describe())
	}
	return p.tupleRest(depth, first)
}

func (p *pyParser) tupleRest(depth int, first any) (any, error) {
	arr := []any{first}
	for {
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == ')' {
			p.pos++
			return arr, nil
		}
		if p.pos >= len(p.src) || p.src[p.pos] != ',' {
			return nil, p.errAt(p.pos, "expected ',' or ')' in the tuple, found %s", p.describe())
		}
		p.pos++
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == ')' {
			p.pos++
			return arr, nil
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
}

// strings reads one string or bytes literal and any adjacent ones, which
// Python concatenates. Mixing str and bytes is an error, as in Python.
func (p *pyParser) strings() (any, error) {
	var sb strings.Builder
	var bb []byte
	isBytes := -1 // unknown
	for first := true; ; first = false {
		at := p.pos
		s, b, bytesLit, err := p.stringLit()
		if err != nil {
			return nil, err
		}
		if first {
			// Most values are one literal: no concatenation buffers.
			save := p.pos
			p.skipSpace()
			more := p.pos < len(p.src) && isStringStart(p.src[p.pos:])
			p.pos = save
			if !more {
				if bytesLit {
					if b == nil {
						b = []byte{}
					}
					return b, nil
				}
				return s, nil
			}
		}
		want := 0
		if bytesLit {
			want = 1
		}
		if isBytes >= 0 && isBytes != want {
			return nil, p.errAt(at, "cannot concatenate str and bytes literals")
		}
		isBytes = want
		sb.WriteString(s)
		bb = append(bb, b...)
		save := p.pos
		p.skipSpace()
		if p.pos < len(p.src) && isStringStart(p.src[p.pos:]) {
			continue
		}
		p.pos = save
		if isBytes == 1 {
			if bb == nil {
				bb = []byte{}
			}
			return bb, nil
		}
		return sb.String(), nil
	}
}

func isStringStart(b []byte) bool {
	i := 0
	for i < len(b) && i < 2 && strings.IndexByte("bBuUrR", b[i]) >= 0 {
		i++
	}
	return i < len(b) && (b[i] == '\'' || b[i] == '"')
}

// stringLit reads one literal with its prefix.
func (p *pyParser) stringLit() (s string, b []byte, isBytes bool, err error) {
	raw := false
	for p.pos < len(p.src) && strings.IndexByte("bBuUrR", p.src[p.pos]) >= 0 {
		switch p.src[p.pos] | 0x20 {
		case 'b':
			isBytes = true
		case 'r':
			raw = true
		}
		p.pos++
	}
	start := p.pos
	q := p.src[p.pos]
	triple := p.pos+2 < len(p.src) && p.src[p.pos+1] == q && p.src[p.pos+2] == q
	if triple {
		p.pos += 3
	} else {
		p.pos++
	}
	// Fast path: a plain string up to its closing quote, taken whole.
	if !triple && !isBytes {
		for i := p.pos; i < len(p.src); i++ {
			c := p.src[i]
			if c == q {
				s = string(p.src[p.pos:i])
				p.pos = i + 1
				return s, nil, false, nil
			}
			if c == '\\' || c == '\n' {
				break
			}
		}
	}
	var out []byte
	for {
		if p.pos >= len(p.src) {
			return "", nil, false, p.errAt(start, "string opened here is not closed")
		}
		c := p.src[p.pos]
		switch {
		case c == q && (!triple || p.pos+2 < len(p.src) && p.src[p.pos+1] == q && p.src[p.pos+2] == q):
			if triple {
				p.pos += 3
			} else {
				p.pos++
			}
			if isBytes {
				return "", out, true, nil
			}
			return string(out), nil, false, nil
		case c == '\n' && !triple:
			return "", nil, false, p.errAt(p.pos, "newline inside a string opened at byte %d", start)
		case c == '\\' && !raw:
			if out, err = p.escape(out, isBytes); err != nil {
				return "", nil, false, err
			}
		case c == '\\' && raw:
			// In raw strings a backslash stays, and still protects the quote.
			out = append(out, c)
			p.pos++
			if p.pos < len(p.src) {
				out = append(out, p.src[p.pos])
				p.pos++
			}
		default:
			if isBytes && c >= 0x80 {
				return "", nil, false, p.errAt(p.pos, "bytes literals hold only ASCII characters")
			}
			out = append(out, c)
			p.pos++
		}
	}
}

// simpleEscapes maps the character after a backslash to what it stands for
// (zero: not a one-character escape).
var simpleEscapes = [256]byte{'\\': '\\', '\'': '\'', '"': '"', 'a': 7, 'b': 8, 'f': 12, 'n': 10, 'r': 13, 't': 9, 'v': 11}

func (p *pyParser) escape(out []byte, isBytes bool) ([]byte, error) {
	at := p.pos
	p.pos++ // backslash
	if p.pos >= len(p.src) {
		return nil, p.errAt(at, "unfinished escape")
	}
	c := p.src[p.pos]
	p.pos++
	if v := simpleEscapes[c]; v != 0 {
		return append(out, v), nil
	}
	switch {
	case c == '\n':
		return out, nil // line continuation
	case c >= '0' && c <= '7':
		n := int(c - '0')
		for i := 0; i < 2 && p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '7'; i++ {
			n = n*8 + int(p.src[p.pos]-'0')
			p.pos++
		}
		if isBytes {
			if n > 0xff {
				return nil, p.errAt(at, "octal escape above \\377 in bytes")
			}
			return append(out, byte(n)), nil
		}
		return utf8.AppendRune(out, rune(n)), nil
	case c == 'x':
		n, err := p.hex(at, 2)
		if err != nil {
			return nil, err
		}
		if isBytes {
			return append(out, byte(n)), nil
		}
		return utf8.AppendRune(out, rune(n)), nil
	case (c == 'u' || c == 'U') && !isBytes:
		digits := 4
		if c == 'U' {
			digits = 8
		}
		n, err := p.hex(at, digits)
		if err != nil {
			return nil, err
		}
		if n > utf8.MaxRune {
			return nil, p.errAt(at, "\\U%08x is beyond Unicode", n)
		}
		if n >= 0xd800 && n <= 0xdfff {
			return nil, p.errAt(at, "lone surrogate \\u%04x has no UTF-8 form", n)
		}
		return utf8.AppendRune(out, rune(n)), nil
	case c == 'N' && !isBytes:
		return nil, p.errAt(at, "named escapes (\\N{...}) are not supported")
	default:
		// Python keeps unknown escapes as they are (with a warning).
		return append(out, '\\', c), nil
	}
}

func (p *pyParser) hex(at, digits int) (uint32, error) {
	if p.pos+digits > len(p.src) {
		return 0, p.errAt(at, "escape needs %d hex digits", digits)
	}
	n, err := strconv.ParseUint(string(p.src[p.pos:p.pos+digits]), 16, 32)
	if err != nil {
		return 0, p.errAt(at, "escape needs %d hex digits", digits)
	}
	p.pos += digits
	return uint32(n), nil
}

func kindName(v any) string {
	switch v.(type) {
	case nil:
		return "None"
	case bool:
		return "a boolean"
	case int64, *big.Int:
		return "an integer"
	case float64:
		return "a float"
	case []byte:
		return "bytes"
	case []any:
		return "a list or tuple"
	case map[string]any:
		return "a dict"
	}
	return fmt.Sprintf("%T", v)
}
