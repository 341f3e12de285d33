package codec

import (
	"bytes"
	"unicode/utf8"
)

// ExtractPyLiteral is Extract for Python literals (DecodePyLiteral's
// rules): only dicts are walked, the rest is read and checked as the full
// decoder reads it, without building it.
func ExtractPyLiteral(data []byte, paths *PathSet, out []any) (bool, error) {
	if !utf8.Valid(data) {
		return false, (&pyParser{src: data}).errAt(invalidUTF8At(data), "invalid UTF-8")
	}
	p := &pyParser{src: data}
	p.skipSpace()
	found := 0
	ok, err := p.extract(0, paths.root, out, &found)
	if err == nil {
		err = p.end()
	}
	if err != nil {
		return false, err
	}
	return ok && found == paths.n, nil
}

// extract reads the value at p.pos for node, as scanner.extract does for
// JSON: built in full where a path ends, a dict walked key by key where
// paths go on, anything else read and dropped with ok false.
func (p *pyParser) extract(depth int, node *pathNode, out []any, found *int) (ok bool, err error) {
	if len(node.leaves) > 0 || node.children == nil {
		v, err := p.value(depth, true)
		if err != nil {
			return false, err
		}
		for _, i := range node.leaves {
			out[i] = v
		}
		*found += len(node.leaves)
		// A path that ends here and another that goes on: not walked.
		return node.children == nil, nil
	}
	if p.pos >= len(p.src) || p.src[p.pos] != '{' || depth > maxPyDepth {
		_, err := p.value(depth, false) // the error, or a value the paths cannot enter
		return false, err
	}
	return p.dictWalk(depth, node, out, found)
}

// skimDepth bounds skim's nesting: alerts nest three or four levels, and
// a value that skim gives up on is read again, so that a hostile record
// costs at most skimDepth readings of itself.
const skimDepth = 16

// skim reads past the value at i when it is of the plain kind repr prints
// for alerts (dicts with plain string keys, lists, strings without
// escapes, decimal numbers, None, True, False, nan, inf) and returns where
// it ends. It gives up (ok false) on anything else, and on anything wrong:
// value then reads it and gives the error. What it takes, value takes too,
// ending at the same place (FuzzPyExtractMatchesDecode); it is a faster
// loop for reading what nobody keeps.
func skim(src []byte, i, depth int) (end int, ok bool) {
	if i >= len(src) || depth > skimDepth {
		return 0, false
	}
	switch c := src[i]; {
	case c == '\'' || c == '"':
		j, ok := skimString(src, i)
		if !ok {
			return 0, false
		}
		// Not followed by another literal (concatenated): by space and
		// the end, or a delimiter.
		if k := skimSpace(src, j); k < len(src) && !afterLiteral[src[k]] {
			return 0, false
		}
		return j, true
	case c == '{':
		// Duplicate keys: each key's keyBit in mask, and its span; a key
		// whose bit is set is compared with the others.
		var spans [32]uint64
		var mask uint64
		n := 0
		i = skimSpace(src, i+1)
		for {
			if i >= len(src) {
				return 0, false
			}
			if src[i] == '}' {
				return i + 1, true
			}
			j, ok := skimString(src, i)
			if !ok || n == len(spans) {
				return 0, false
			}
			key := src[i+1 : j-1]
			if bit := keyBit(key); mask&bit == 0 {
				mask |= bit
			} else {
				for _, sp := range spans[:n] {
					if bytes.Equal(src[sp>>32:uint32(sp)], key) {
						return 0, false // value reports it
					}
				}
			}
			spans[n] = uint64(i+1)<<32 | uint64(j-1)
			n++
			if j = skimSpace(src, j); j >= len(src) || src[j] != ':' {
				return 0, false
			}
			if i, ok = skim(src, skimSpace(src, j+1), depth+1); !ok {
				return 0, false
			}
			if i = skimSpace(src, i); i < len(src) && src[i] == ',' {
				i = skimSpace(src, i+1)
			} else if i >= len(src) || src[i] != '}' {
				return 0, false
			}
		}
	case c == '[':
		i = skimSpace(src, i+1)
		for {
			if i >= len(src) {
				return 0, false
			}
			if src[i] == ']' {
				return i + 1, true
			}
			var ok bool
			if i, ok = skim(src, i, depth+1); !ok {
				return 0, false
			}
			if i = skimSpace(src, i); i < len(src) && src[i] == ',' {
				i = skimSpace(src, i+1)
			} else if i >= len(src) || src[i] != ']' {
				return 0, false
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		return skimNumber(src, i)
	default:
		for _, w := range [...]string{"None", "True", "False", "nan", "inf"} {
			if j := i + len(w); j <= len(src) && string(src[i:j]) == w && (j == len(src) || !isIdent(src[j])) {
				return j, true
			}
		}
		return 0, false
	}
}

// skimString reads past a plain string literal at i (no prefix, escape or
// newline; not a triple quote) and returns where it ends.
func skimString(src []byte, i int) (int, bool) {
	if i >= len(src) {
		return 0, false
	}
	stop := &stopSingle
	switch src[i] {
	case '\'':
	case '"':
		stop = &stopDouble
	default:
		return 0, false
	}
	j := i + 1
	for j < len(src) && !stop[src[j]] {
		j++
	}
	switch {
	case j >= len(src) || src[j] != src[i]:
		return 0, false // an escape or a newline
	case j == i+1 && j+1 < len(src) && src[j+1] == src[i]:
		return 0, false // three quotes: a triple-quoted string
	}
	return j + 1, true
}

// stopSingle and stopDouble are the bytes that end skimString's loop in
// a string in single or in double quotes.
var stopSingle, stopDouble = [256]bool{'\'': true, '\\': true, '\n': true}, [256]bool{'"': true, '\\': true, '\n': true}

// skimNumber reads past a number at i in one pass: an int of at most 18
// digits without a leading zero, or a float that plainFloat would take;
// anything after it that number would read on (a second point, an
// underscore, an L) gives up.
func skimNumber(src []byte, i int) (int, bool) {
	if src[i] == '-' {
		i++
	}
	d, ok := scanDecimal(src, i)
	if !ok || d.end < len(src) && numberGoesOn[src[d.end]] {
		return 0, false
	}
	if !d.isFloat {
		return d.end, d.intDigits <= 18 && (src[i] != '0' || d.intDigits == 1)
	}
	return d.end, d.intDigits+d.exp <= 300
}

// numberGoesOn: bytes that number would read as part of a number.
var numberGoesOn = [256]bool{'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true,
	'8': true, '9': true, '.': true, '_': true, 'e': true, 'E': true, 'L': true, 'l': true}

// skimSpace skips the space repr and pprint print between tokens.
func skimSpace(src []byte, i int) int {
	for i < len(src) && (src[i] == ' ' || src[i] == '\n' || src[i] == '\t' || src[i] == '\r') {
		i++
	}
	return i
}
