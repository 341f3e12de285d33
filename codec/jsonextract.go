package codec

import (
	"bytes"
	"unicode/utf8"
)

// Extractor is a Decoder that can decode just the values at some paths of
// a record, without building the rest, for callers that need only those
// (the aggregation's group key and event time).
type Extractor interface {
	// Extract sets out[i] to the value at paths[i] of the record in data
	// and reports ok. It accepts and rejects exactly the records Decode
	// does: err is Decode's error. ok is false, without an error, when
	// Extract cannot tell (a path that leads nowhere, through an array, or
	// to a value on the way to another path): Decode and Path.Lookup then
	// give the answer and its message.
	Extract(data []byte, paths *PathSet, out []any) (ok bool, err error)
}

// PathSet is paths compiled for Extract.
type PathSet struct {
	root *pathNode
	n    int
}

type pathNode struct {
	children map[string]*pathNode
	leaves   []int // the paths that end here
}

// NewPathSet compiles paths for Extract.
func NewPathSet(paths ...Path) *PathSet {
	root := &pathNode{}
	for i, p := range paths {
		n := root
		for _, st := range p.steps {
			if n.children == nil {
				n.children = map[string]*pathNode{}
			}
			c := n.children[st]
			if c == nil {
				c = &pathNode{}
				n.children[st] = c
			}
			n = c
		}
		n.leaves = append(n.leaves, i)
	}
	return &PathSet{root: root, n: len(paths)}
}

// Len is how many paths the set has: the length Extract's out needs.
func (ps *PathSet) Len() int { return ps.n }

// child is the node of key under n, nil if there is none (or n is nil).
func (n *pathNode) child(key []byte) *pathNode {
	if n == nil {
		return nil
	}
	return n.children[string(key)]
}

// keySet finds the duplicate keys of an object that is read without being
// built. Keys are compared as bytes, so they may point into the record.
// Its list starts in a caller's array, keySet{list: buf[:0]}, and it is
// passed by value (a pointer would move that array to the heap).
type keySet struct {
	list [][]byte
	// mask has bit keyBit(k) of each key k in list: a key whose bit is
	// clear is new without comparing it with any.
	mask uint64
	seen map[string]bool // for objects with many keys
}

func keyBit(key []byte) uint64 {
	n := len(key)
	if n == 0 {
		return 1
	}
	return 1 << ((uint(n)*7 + uint(key[0]) + uint(key[n-1])*3 + uint(key[n/2])*5) & 63)
}

// add adds key and reports whether it was there already.
func (k keySet) add(key []byte) (keySet, bool) {
	if k.seen != nil {
		dup := k.seen[string(key)]
		k.seen[string(key)] = true
		return k, dup
	}
	if bit := keyBit(key); k.mask&bit == 0 {
		k.mask |= bit
	} else {
		for _, have := range k.list {
			if bytes.Equal(have, key) {
				return k, true
			}
		}
	}
	k.list = append(k.list, key)
	if len(k.list) > 32 {
		k.seen = make(map[string]bool, 64)
		for _, have := range k.list {
			k.seen[string(have)] = true
		}
	}
	return k, false
}

// ExtractJSON is Extract for JSON (DecodeJSON's rules).
func ExtractJSON(data []byte, paths *PathSet, out []any) (bool, error) {
	if !utf8.Valid(data) {
		return false, &DecodeError{Codec: "json", Offset: int64(invalidUTF8At(data)), Msg: "invalid UTF-8"}
	}
	sc := scanner{data: data}
	found := 0
	ok, err := sc.extract(0, paths.root, out, &found)
	if err != nil {
		return false, err
	}
	sc.space()
	if sc.pos != len(data) {
		return false, &DecodeError{Codec: "json", Offset: int64(sc.pos), Msg: "unexpected data after the value"}
	}
	return ok && found == paths.n, nil
}

// extract reads the value at s.pos for node: built in full where a path
// ends, an object walked member by member where paths go on, anything
// else read (checked) and dropped. ok is false when the walk cannot
// answer (see Extractor); the value is still read to its end.
func (s *scanner) extract(depth int, node *pathNode, out []any, found *int) (ok bool, err error) {
	if len(node.leaves) > 0 || node.children == nil {
		v, err := s.value(depth)
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
	s.space()
	if s.pos >= len(s.data) || s.data[s.pos] != '{' || depth > maxDepth {
		_, err := s.value(depth) // the error, or a value the paths cannot enter
		return false, err
	}
	return s.extractObject(depth, node, out, found)
}

// extractObject is object with only node's members kept: the others are
// read and dropped. Keys are compared as bytes while unescaped; duplicates
// are refused as object refuses them.
func (s *scanner) extractObject(depth int, node *pathNode, out []any, found *int) (bool, error) {
	s.pos++ // '{'
	ok := true
	var keyBuf [32][]byte
	keys := keySet{list: keyBuf[:0]}
	s.space()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return ok, nil
	}
	for {
		at, err := s.keyStart()
		if err != nil {
			return false, err
		}
		key, err := s.keyBytes()
		if err != nil {
			return false, err
		}
		var dup bool
		if keys, dup = keys.add(key); dup {
			return false, s.fail(at, "duplicate key %q", key)
		}
		if err := s.colon(); err != nil {
			return false, err
		}
		if child := node.child(key); child != nil {
			childOK, err := s.extract(depth+1, child, out, found)
			if err != nil {
				return false, err
			}
			ok = ok && childOK
		} else if _, err := s.value(depth + 1); err != nil {
			return false, err
		}
		if done, err := s.next('}', "object key:value pair"); done || err != nil {
			return ok && err == nil, err
		}
	}
}

// keyBytes reads an object key at s.pos: the bytes between the quotes
// when there is no escape (no copy), else what string makes of it.
func (s *scanner) keyBytes() ([]byte, error) {
	for i := s.pos + 1; i < len(s.data); i++ {
		c := s.data[i]
		if c == '"' {
			k := s.data[s.pos+1 : i]
			s.pos = i + 1
			return k, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
	}
	str, err := s.string()
	return []byte(str), err
}
