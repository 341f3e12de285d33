// Package varint reads the signed and unsigned varints of hourglass's
// internal records (encoding/binary's), strictly: only the shortest
// encoding of a value is accepted, so that a record decodes only if its
// writer's encoder could have written it, and re-encodes to the same
// bytes.
package varint

import (
	"encoding/binary"
	"errors"
)

// ErrBad is the error of a Reader that met a truncated or non-canonical
// varint.
var ErrBad = errors.New("truncated or non-canonical varint")

// Reader reads varints from the front of a byte slice. After the first
// bad varint every read returns 0 and Err reports it.
type Reader struct {
	data []byte
	err  error
}

// NewReader reads data.
func NewReader(data []byte) *Reader { return &Reader{data: data} }

// Varint reads a signed varint: an unsigned one holding the value
// zig-zag encoded, as encoding/binary writes it.
func (r *Reader) Varint() int64 {
	ux := r.Uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.data)
	if n <= 0 {
		r.err = ErrBad
		return 0
	}
	var canon [binary.MaxVarintLen64]byte
	if binary.PutUvarint(canon[:], v) != n {
		r.err = ErrBad
		return 0
	}
	r.data = r.data[n:]
	return v
}

// Err returns ErrBad if a read failed.
func (r *Reader) Err() error { return r.err }

// Rest returns what is left unread.
func (r *Reader) Rest() []byte { return r.data }

// Len returns how many bytes are left unread.
func (r *Reader) Len() int { return len(r.data) }

// Bytes reads the next n bytes (a length read before them, say); fewer
// left, or a negative n, is ErrBad.
func (r *Reader) Bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.data) {
		r.err = ErrBad
		return nil
	}
	b := r.data[:n:n]
	r.data = r.data[n:]
	return b
}

// LenBytes reads an unsigned varint length and that many bytes.
func (r *Reader) LenBytes() []byte {
	n := r.Uvarint()
	if n > uint64(len(r.data)) {
		r.err = ErrBad
		return nil
	}
	return r.Bytes(int(n))
}
