package codec

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hamba/avro/v2"
)

// avroMaxBytes is the longest string or bytes value hamba/avro's default
// config reads (Config.MaxByteSliceSize); skipAvro refuses longer ones as
// readAvro does (TestAvroSkipLimits).
const avroMaxBytes = 1 << 20

// ExtractAvro is Extract for schemaless Avro (DecodeAvro's rules): only
// records are walked; what the paths do not need is read past, with the
// checks readAvro makes, without being built.
func ExtractAvro(schema avro.Schema, data []byte, paths *PathSet, out []any) (bool, error) {
	r := avro.NewReader(nil, 0).Reset(data)
	left := int64(len(data)) + AvroItemSlack
	found := 0
	ok := extractAvro(r, schema, paths.root, 0, &left, out, &found)
	if err := avroDatumError(r); err != nil {
		return false, err
	}
	return ok && found == paths.n, nil
}

// avroDatumError is DecodeAvro's error once a datum is read: the reader's,
// or bytes left over.
func avroDatumError(r *avro.Reader) error {
	if r.Error != nil {
		msg := r.Error.Error()
		if !errors.Is(r.Error, errAvroTooDeep) && strings.Contains(msg, "EOF") {
			msg = "the record ends before the schema does (truncated, or written with another schema)"
		}
		return &DecodeError{Codec: "avro", Offset: -1, Msg: msg}
	}
	if r.Peek(); r.Error == nil {
		return &DecodeError{Codec: "avro", Offset: -1, Msg: "bytes left after the record (written with another schema?)"}
	}
	return nil
}

// extractAvro reads one value of schema for node, as readAvro would:
// built in full where a path ends, a record's fields walked where paths go
// on (through unions and references), anything else skipped with ok
// false.
func extractAvro(r *avro.Reader, schema avro.Schema, node *pathNode, depth int, left *int64, out []any, found *int) bool {
	if len(node.leaves) > 0 || node.children == nil {
		v := readAvro(r, schema, depth, left)
		for _, i := range node.leaves {
			out[i] = v
		}
		*found += len(node.leaves)
		return node.children == nil
	}
	if depth > maxPyDepth {
		r.Error = errAvroTooDeep
		return false
	}
	switch schema.Type() {
	case avro.Ref:
		return extractAvro(r, schema.(*avro.RefSchema).Schema(), node, depth, left, out, found)
	case avro.Union:
		types := schema.(*avro.UnionSchema).Types()
		i := r.ReadLong()
		if i < 0 || i >= int64(len(types)) {
			r.ReportError("decode union", fmt.Sprintf("branch %d out of range", i))
			return false
		}
		return extractAvro(r, types[i], node, depth+1, left, out, found)
	case avro.Record:
		ok := true
		for _, f := range schema.(*avro.RecordSchema).Fields() {
			if child := node.children[f.Name()]; child != nil {
				ok = extractAvro(r, f.Type(), child, depth+1, left, out, found) && ok
			} else {
				skipAvro(r, f.Type(), depth+1, left)
			}
			if r.Error != nil {
				return false
			}
		}
		return ok
	}
	skipAvro(r, schema, depth, left) // a value the paths cannot enter
	return false
}

// skipAvro reads past one value of schema: readAvro's reads and checks in
// the same order, so the same errors, with nothing built.
func skipAvro(r *avro.Reader, schema avro.Schema, depth int, left *int64) {
	if depth > maxPyDepth {
		r.Error = errAvroTooDeep
		return
	}
	switch schema.Type() {
	case avro.Null:
	case avro.Boolean:
		r.ReadBool()
	case avro.Int:
		r.ReadInt()
	case avro.Long:
		r.ReadLong()
	case avro.Float:
		r.ReadFloat()
	case avro.Double:
		r.ReadDouble()
	case avro.String:
		skipAvroBytes(r, "string")
	case avro.Bytes:
		skipAvroBytes(r, "bytes")
	case avro.Fixed:
		skipAvroN(r, schema.(*avro.FixedSchema).Size())
	case avro.Enum:
		symbols := schema.(*avro.EnumSchema).Symbols()
		if i := int(r.ReadInt()); i < 0 || i >= len(symbols) {
			r.ReportError("decode enum", fmt.Sprintf("symbol index %d out of range", i))
		}
	case avro.Ref:
		skipAvro(r, schema.(*avro.RefSchema).Schema(), depth, left)
	case avro.Record:
		for _, f := range schema.(*avro.RecordSchema).Fields() {
			skipAvro(r, f.Type(), depth+1, left)
			if r.Error != nil {
				return
			}
		}
	case avro.Union:
		types := schema.(*avro.UnionSchema).Types()
		i := r.ReadLong()
		if i < 0 || i >= int64(len(types)) {
			r.ReportError("decode union", fmt.Sprintf("branch %d out of range", i))
			return
		}
		skipAvro(r, types[i], depth+1, left)
	case avro.Array:
		items := schema.(*avro.ArraySchema).Items()
		readBlocks(r, left, func() { skipAvro(r, items, depth+1, left) })
	case avro.Map:
		values := schema.(*avro.MapSchema).Values()
		readBlocks(r, left, func() {
			skipAvroBytes(r, "string")
			skipAvro(r, values, depth+1, left)
		})
	default:
		r.ReportError("decode", fmt.Sprintf("unsupported schema type %s", schema.Type()))
	}
}

// skipAvroBytes is hamba's Reader.ReadString or ReadBytes (op "string" or
// "bytes") without the copy: the same length checks and errors.
func skipAvroBytes(r *avro.Reader, op string) {
	size := int(r.ReadLong())
	if size < 0 {
		r.ReportError("Read"+strings.ToTitle(op), "invalid "+op+" length")
		return
	}
	if size == 0 {
		return
	}
	if size > avroMaxBytes {
		r.ReportError("Read"+strings.ToTitle(op), "size is greater than `Config.MaxByteSliceSize`")
		return
	}
	skipAvroN(r, size)
}

// skipAvroN is Reader.Read of n bytes without a buffer: running out of
// data is io.ErrUnexpectedEOF, as Read makes it.
func skipAvroN(r *avro.Reader, n int) {
	if r.Error != nil {
		// Read replaces an error when the data runs out, SkipNBytes does
		// not: read for real (after an error, so rarely).
		r.Read(make([]byte, n))
		return
	}
	r.SkipNBytes(n)
	if r.Error != nil {
		r.Error = io.ErrUnexpectedEOF
	}
}
