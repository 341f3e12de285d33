package codec

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/hamba/avro/v2"
)

// Confluent wire format: one magic byte 0, the schema id as 4 big-endian
// bytes, then a schemaless Avro datum written with that schema.
const (
	wireMagic      = 0
	wireHeaderSize = 5
)

// SchemaResolver finds the Avro schema of a Confluent schema id. Its
// implementations are safe for concurrent use.
type SchemaResolver interface {
	Schema(ctx context.Context, id uint32) (avro.Schema, error)
}

// ErrUnknownSchema is wrapped when a resolver has no schema for an id.
var ErrUnknownSchema = errors.New("unknown schema id")

// DirResolver resolves ids from a directory: schema id N is N.avsc there,
// or the schema set in the subdirectory N/ (see LoadAvroSchema).
type DirResolver struct {
	Dir string
	schemaCache
}

// schemaCache is a resolver's schemas so far.
type schemaCache struct {
	cache sync.Map // uint32 → avro.Schema
}

// Cached returns the schema of id if it was resolved before.
func (c *schemaCache) Cached(id uint32) (avro.Schema, bool) {
	s, ok := c.cache.Load(id)
	if !ok {
		return nil, false
	}
	return s.(avro.Schema), true
}

// Schema implements SchemaResolver.
func (d *DirResolver) Schema(_ context.Context, id uint32) (avro.Schema, error) {
	if s, ok := d.cache.Load(id); ok {
		return s.(avro.Schema), nil
	}
	name := strconv.FormatUint(uint64(id), 10)
	var path string
	for _, p := range []string{filepath.Join(d.Dir, name+".avsc"), filepath.Join(d.Dir, name)} {
		if _, err := os.Stat(p); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		return nil, fmt.Errorf("%w %d: no %s.avsc or %s/ in %s", ErrUnknownSchema, id, name, name, d.Dir)
	}
	s, err := LoadAvroSchema(path)
	if err != nil {
		return nil, err
	}
	d.cache.Store(id, s)
	return s, nil
}

// WireID returns the schema id of a Confluent wire-format record.
func WireID(data []byte) (uint32, error) {
	if len(data) < wireHeaderSize {
		return 0, &DecodeError{Codec: "avro", Offset: int64(len(data)), Msg: fmt.Sprintf("a Confluent wire-format record has at least %d bytes, this one %d", wireHeaderSize, len(data))}
	}
	if data[0] != wireMagic {
		return 0, &DecodeError{Codec: "avro", Offset: 0, Msg: fmt.Sprintf("first byte is 0x%02x, not the Confluent wire-format magic byte 0x00", data[0])}
	}
	return binary.BigEndian.Uint32(data[1:wireHeaderSize]), nil
}

// DecodeWire decodes a Confluent wire-format record with the schema its id
// names.
func DecodeWire(ctx context.Context, resolver SchemaResolver, data []byte) (any, error) {
	id, err := WireID(data)
	if err != nil {
		return nil, err
	}
	schema, err := resolver.Schema(ctx, id)
	if err != nil {
		return nil, err
	}
	v, err := DecodeAvro(schema, data[wireHeaderSize:])
	if err != nil {
		return nil, withSchemaID(id, err)
	}
	return v, nil
}

// withSchemaID names the schema id in a datum's decode error.
func withSchemaID(id uint32, err error) error {
	var de *DecodeError
	if errors.As(err, &de) {
		de.Msg = fmt.Sprintf("schema id %d: %s", id, de.Msg)
	}
	return err
}

// cachedResolver is a SchemaResolver that can tell, without asking
// anyone, the schemas it has already resolved.
type cachedResolver interface {
	Cached(id uint32) (avro.Schema, bool)
}

// ExtractWire is Extract for Confluent wire format: the datum is extracted
// as ExtractAvro does, once the resolver has the id's schema at hand; until
// then it answers ok false, and Decode resolves the schema.
func ExtractWire(resolver SchemaResolver, data []byte, paths *PathSet, out []any) (bool, error) {
	id, err := WireID(data)
	if err != nil {
		return false, err
	}
	c, ok := resolver.(cachedResolver)
	if !ok {
		return false, nil
	}
	schema, ok := c.Cached(id)
	if !ok {
		return false, nil
	}
	ok, err = ExtractAvro(schema, data[wireHeaderSize:], paths, out)
	if err != nil {
		return false, withSchemaID(id, err)
	}
	return ok, nil
}

// EncodeWire writes v in Confluent wire format with schema id id.
func EncodeWire(id uint32, schema avro.Schema, v any) ([]byte, error) {
	body, err := EncodeAvro(schema, v)
	if err != nil {
		return nil, err
	}
	out := make([]byte, wireHeaderSize, wireHeaderSize+len(body))
	out[0] = wireMagic
	binary.BigEndian.PutUint32(out[1:], id)
	return append(out, body...), nil
}
