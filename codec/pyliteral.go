package codec

import (
	"bytes"
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
	v, err := p.value(0, true)
	if err != nil {
		return nil, err
	}
	return v, p.end()
}

// end checks that nothing but space follows the value.
func (p *pyParser) end() error {
	p.skipSpace()
	if p.pos < len(p.src) {
		return p.errAt(p.pos, "unexpected %s after the value", p.describe())
	}
	return nil
}

// maxPyDepth bounds nesting so that a hostile record cannot exhaust the
// stack; real alerts nest a handful of levels.
const maxPyDepth = 512

type pyParser struct {
	src     []byte
	pos     int
	scratch []byte // escapes of strings read but not kept
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
	// Inlined: most tokens follow one another or one space.
	if p.pos >= len(p.src) || !notSpace[p.src[p.pos]] {
		p.skipSpaces()
	}
}

// notSpace: the bytes that end space (a backslash may continue a line).
var notSpace = func() (t [256]bool) {
	for c := range t {
		t[c] = c > ' ' && c != '\\'
	}
	return t
}()

// afterLiteral: bytes that end a literal and start no other.
var afterLiteral = [256]bool{':': true, ',': true, '}': true, ']': true, ')': true}

func (p *pyParser) skipSpaces() {
	src, i := p.src, p.pos
	for i < len(src) {
		switch src[i] {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			i++
		case '\\':
			// An explicit line continuation between tokens.
			if i+1 < len(src) && src[i+1] == '\n' {
				i += 2
				continue
			}
			p.pos = i
			return
		default:
			p.pos = i
			return
		}
	}
	p.pos = i
}

// value reads the value at p.pos. Unless keep, it is only read and
// checked, with the same errors, and nil is returned: nothing is built.
func (p *pyParser) value(depth int, keep bool) (any, error) {
	if !keep {
		if end, ok := skim(p.src, p.pos, depth); ok {
			p.pos = end
			return nil, nil
		}
	}
	if depth > maxPyDepth {
		return nil, p.errAt(p.pos, "nesting deeper than %d", maxPyDepth)
	}
	if p.pos >= len(p.src) {
		return nil, p.errAt(p.pos, "expected a value, found end of input")
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.dict(depth, keep)
	case c == '[':
		return p.sequence(depth, '[', ']', keep)
	case c == '(':
		return p.paren(depth, keep)
	case c == '\'' || c == '"':
		return p.strings(keep)
	case c == 'b' || c == 'B' || c == 'u' || c == 'U' || c == 'r' || c == 'R':
		if p.pos+1 < len(p.src) && (p.src[p.pos+1] == '\'' || p.src[p.pos+1] == '"' ||
			(c|0x20 == 'r' || c|0x20 == 'b') && p.pos+2 < len(p.src) && (p.src[p.pos+1]|0x20 == 'b' || p.src[p.pos+1]|0x20 == 'r') && (p.src[p.pos+2] == '\'' || p.src[p.pos+2] == '"')) {
			return p.strings(keep)
		}
		return p.word()
	case c == '-' || c == '+' || c == '.' || c >= '0' && c <= '9':
		return p.number(keep)
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
	w := p.src[start:p.pos]
	switch string(w) { // compared without a copy
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
		return nil, p.errAt(start, "expected a value, found the name %q", string(w))
	}
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *pyParser) number(keep bool) (any, error) {
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
	isFloat, underscore := false, false
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c >= '0' && c <= '9':
		case c == '_':
			underscore = true
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
		if !keep {
			return nil, nil
		}
		if neg {
			i = -i
		}
		return i, nil
	}
	// The digits without their underscores: the literal itself when it has
	// none, so that a number read but not kept costs no allocation.
	text := p.src[digits:p.pos]
	if underscore {
		text = bytes.ReplaceAll(text, []byte("_"), nil)
	}
	if len(text) == 0 || len(text) == 1 && text[0] == '.' {
		return nil, p.errAt(start, "expected a number")
	}
	if isFloat {
		if !keep && plainFloat(text) {
			return nil, nil
		}
		f, err := strconv.ParseFloat(string(text), 64)
		if err != nil {
			return nil, p.errAt(start, "bad float %q", string(p.src[start:p.pos]))
		}
		if !keep {
			return nil, nil
		}
		if neg {
			f = -f
		}
		return f, nil
	}
	if p.pos < len(p.src) && (p.src[p.pos] == 'L' || p.src[p.pos] == 'l') {
		p.pos++ // Python 2 long
	}
	if len(text) > 1 && text[0] == '0' && len(bytes.Trim(text, "0")) > 0 {
		return nil, p.errAt(start, "integer %q has a leading zero", string(text))
	}
	if len(text) > MaxIntDigits {
		// CPython refuses such a str → int too (sys.int_info.default_max_str_digits).
		return nil, p.errAt(start, "integer literal of %d digits: at most %d are read", len(text), MaxIntDigits)
	}
	if !keep {
		return nil, nil // digits only: ParseInt or big.Int takes them
	}
	s := string(text)
	if neg {
		s = "-" + s
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, nil
	}
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, p.errAt(start, "bad integer %q", s)
	}
	return b, nil
}

// plainFloat reports, without converting it, that strconv.ParseFloat
// takes text: decimal digits with at most one point, at least one digit,
// an optional exponent, and a magnitude below 10^300 (ParseFloat refuses
// only overflow; it rounds underflow to zero). false means "ask
// ParseFloat", not "invalid".
func plainFloat(text []byte) bool {
	d, ok := scanDecimal(text, 0)
	return ok && d.end == len(text) && d.intDigits+d.exp <= 300
}

// decimal is what scanDecimal read of a decimal number.
type decimal struct {
	end       int  // where it ends
	intDigits int  // digits before the point
	exp       int  // the exponent, its magnitude capped at 10,000
	isFloat   bool // a point or an exponent
}

// scanDecimal reads digits, an optional point and digits, at least one
// digit in all, and an optional exponent e[+-]digits, from b[i:], as far
// as they go. ok is false when there is no digit, or an e without digits.
func scanDecimal(b []byte, i int) (d decimal, ok bool) {
	start := i
	for i < len(b) && b[i]-'0' < 10 {
		i++
	}
	d.intDigits = i - start
	digits := d.intDigits
	if i < len(b) && b[i] == '.' {
		d.isFloat = true
		i++
		f := i
		for i < len(b) && b[i]-'0' < 10 {
			i++
		}
		digits += i - f
	}
	if digits == 0 {
		return d, false
	}
	if i < len(b) && b[i]|0x20 == 'e' {
		d.isFloat = true
		i++
		neg := i < len(b) && b[i] == '-'
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		e := i
		for ; i < len(b) && b[i]-'0' < 10; i++ {
			if d.exp < 10000 {
				d.exp = d.exp*10 + int(b[i]-'0')
			}
		}
		if i == e {
			return d, false
		}
		if neg {
			d.exp = -d.exp
		}
	}
	d.end = i
	return d, true
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

// dict reads a dict; unless keep, only its keys are kept (in a keySet),
// to find duplicates.
func (p *pyParser) dict(depth int, keep bool) (any, error) {
	if !keep {
		_, err := p.dictWalk(depth, nil, nil, nil)
		return nil, err
	}
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
		key, err := p.stringKey(depth, open)
		if err != nil {
			return nil, err
		}
		if _, dup := obj[key]; dup {
			return nil, p.errAt(keyAt, "duplicate key %q", key)
		}
		if err := p.expect(':'); err != nil {
			return nil, err
		}
		p.skipSpace()
		v, err := p.value(depth+1, true)
		if err != nil {
			return nil, err
		}
		obj[key] = v
		if err := p.dictNext(); err != nil {
			return nil, err
		}
	}
}

// keyError is the error of a dict key k that is not a string.
func (p *pyParser) keyError(open, keyAt int, k any) error {
	p.skipSpace()
	if p.pos < len(p.src) && (p.src[p.pos] == ',' || p.src[p.pos] == '}') {
		return p.errAt(open, "sets are not supported: they have no order and no JSON or Avro form")
	}
	return p.errAt(keyAt, "dict key is %s, not a string: keys must be strings", kindName(k))
}

// dictNext reads what follows a dict's value: a comma, or the closing
// brace left for the loop to take.
func (p *pyParser) dictNext() error {
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ',' {
		p.pos++
		return nil
	}
	if p.pos < len(p.src) && p.src[p.pos] == '}' {
		return nil
	}
	return p.errAt(p.pos, "expected ',' or '}' in the dict, found %s", p.describe())
}

// dictWalk is dict without building it: the values of node's children
// are extracted (see pyParser.extract), the others read and dropped (all
// of them when node is nil). ok is false when a child's walk cannot
// answer.
func (p *pyParser) dictWalk(depth int, node *pathNode, out []any, found *int) (ok bool, err error) {
	open := p.pos
	p.pos++ // {
	ok = true
	var keyBuf [32][]byte
	keys := keySet{list: keyBuf[:0]}
	for {
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == '}' {
			p.pos++
			return ok, nil
		}
		if p.pos >= len(p.src) {
			return false, p.errAt(p.pos, "expected a key or '}' to close the dict opened at byte %d", open)
		}
		keyAt := p.pos
		key, err := p.key(depth, open)
		if err != nil {
			return false, err
		}
		var dup bool
		if keys, dup = keys.add(key); dup {
			return false, p.errAt(keyAt, "duplicate key %q", key)
		}
		if err := p.expect(':'); err != nil {
			return false, err
		}
		p.skipSpace()
		if child := node.child(key); child != nil {
			childOK, err := p.extract(depth+1, child, out, found)
			if err != nil {
				return false, err
			}
			ok = ok && childOK
		} else if _, err := p.value(depth+1, false); err != nil {
			return false, err
		}
		if err := p.dictNext(); err != nil {
			return false, err
		}
	}
}

// key reads a dict key as dict does (value, then the string check), as
// the literal's bytes when it is one plain string, without a copy.
func (p *pyParser) key(depth, open int) ([]byte, error) {
	keyAt := p.pos
	if depth+1 <= maxPyDepth {
		if end, ok := skimString(p.src, keyAt); ok {
			p.pos = end
			if !p.stringFollows() {
				return p.src[keyAt+1 : end-1], nil
			}
			p.pos = keyAt // adjacent literals: concatenated below
		}
	}
	key, err := p.stringKey(depth, open)
	return []byte(key), err
}

// stringKey reads a key of the dict opened at open: a value, which must be
// a string.
func (p *pyParser) stringKey(depth, open int) (string, error) {
	keyAt := p.pos
	k, err := p.value(depth+1, true)
	if err != nil {
		return "", err
	}
	key, ok := k.(string)
	if !ok {
		return "", p.keyError(open, keyAt, k)
	}
	return key, nil
}

func (p *pyParser) sequence(depth int, open, close byte, keep bool) (any, error) {
	p.pos++ // open
	var arr []any
	if keep {
		arr = []any{}
	}
	for {
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == close {
			p.pos++
			return arr, nil
		}
		v, err := p.value(depth+1, keep)
		if err != nil {
			return nil, err
		}
		if keep {
			arr = append(arr, v)
		}
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
func (p *pyParser) paren(depth int, keep bool) (any, error) {
	start := p.pos
	p.pos++ // (
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ')' {
		p.pos++
		if !keep {
			return nil, nil
		}
		return []any{}, nil
	}
	first, err := p.value(depth+1, keep)
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
	return p.tupleRest(depth, first, keep)
}

func (p *pyParser) tupleRest(depth int, first any, keep bool) (any, error) {
	var arr []any
	if keep {
		arr = []any{first}
	}
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
		v, err := p.value(depth+1, keep)
		if err != nil {
			return nil, err
		}
		if keep {
			arr = append(arr, v)
		}
	}
}

// strings reads one string or bytes literal and any adjacent ones, which
// Python concatenates. Mixing str and bytes is an error, as in Python.
func (p *pyParser) strings(keep bool) (any, error) {
	var sb strings.Builder
	var bb []byte
	isBytes := -1 // unknown
	for first := true; ; first = false {
		at := p.pos
		s, b, bytesLit, err := p.stringLit(keep)
		if err != nil {
			return nil, err
		}
		if first && !p.stringFollows() {
			// Most values are one literal: no concatenation buffers.
			switch {
			case !keep:
				return nil, nil
			case bytesLit && b == nil:
				return []byte{}, nil
			case bytesLit:
				return b, nil
			}
			return s, nil
		}
		want := 0
		if bytesLit {
			want = 1
		}
		if isBytes >= 0 && isBytes != want {
			return nil, p.errAt(at, "cannot concatenate str and bytes literals")
		}
		isBytes = want
		if keep {
			sb.WriteString(s)
			bb = append(bb, b...)
		}
		if p.stringFollows() {
			p.skipSpace()
			continue
		}
		switch {
		case !keep:
			return nil, nil
		case isBytes == 1 && bb == nil:
			return []byte{}, nil
		case isBytes == 1:
			return bb, nil
		}
		return sb.String(), nil
	}
}

// stringFollows reports whether another string literal follows (after
// space), leaving p.pos where it is.
func (p *pyParser) stringFollows() bool {
	if p.pos < len(p.src) && afterLiteral[p.src[p.pos]] {
		return false // inlined: what follows nearly every literal
	}
	return p.stringAfterSpace()
}

func (p *pyParser) stringAfterSpace() bool {
	save := p.pos
	p.skipSpace()
	more := p.pos < len(p.src) && isStringStart(p.src[p.pos:])
	p.pos = save
	return more
}

func isStringStart(b []byte) bool {
	i := 0
	for i < len(b) && i < 2 && strings.IndexByte("bBuUrR", b[i]) >= 0 {
		i++
	}
	return i < len(b) && (b[i] == '\'' || b[i] == '"')
}

// stringLit reads one literal with its prefix. Unless keep, s and b are
// not built (escapes are still checked, in p.scratch).
func (p *pyParser) stringLit(keep bool) (s string, b []byte, isBytes bool, err error) {
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
				if keep {
					s = string(p.src[p.pos:i])
				}
				p.pos = i + 1
				return s, nil, false, nil
			}
			if c == '\\' || c == '\n' {
				break
			}
		}
	}
	var out []byte
	if !keep {
		out = p.scratch[:0]
		defer func() { p.scratch = out[:0] }()
	}
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
			switch {
			case !keep:
				return "", nil, isBytes, nil
			case isBytes:
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
