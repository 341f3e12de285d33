package codec

import "unicode/utf8"

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
