package codec

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"
	"github.com/klauspost/compress/zstd"
)

// ReadOCF reads an Avro object container file (the .avro files alert
// archives and fastavro.writer produce) and calls fn for each datum, in
// order, with the file's schema and the datum in the package's model (as
// DecodeAvro returns it). Blocks may be uncompressed, deflate, snappy or
// zstandard. It stops at the first error, from the file or from fn.
func ReadOCF(r io.Reader, fn func(schema avro.Schema, datum any) error) error {
	reader := avro.NewReader(bufio.NewReader(r), 64<<10)
	var h ocf.Header
	reader.ReadVal(ocf.HeaderSchema, &h)
	if reader.Error != nil {
		return fmt.Errorf("avro container file: header: %w", reader.Error)
	}
	if h.Magic != [4]byte{'O', 'b', 'j', 1} {
		return fmt.Errorf("avro container file: bad magic %q: not an Avro object container file", h.Magic[:])
	}
	schema, err := avro.ParseBytesWithCache(h.Meta["avro.schema"], "", &avro.SchemaCache{})
	if err != nil {
		return fmt.Errorf("avro container file: schema: %w", err)
	}
	var codec ocf.Codec
	switch name := string(h.Meta["avro.codec"]); name {
	case "", "null":
		codec = &ocf.NullCodec{}
	case "deflate":
		codec = &ocf.DeflateCodec{}
	case "snappy":
		codec = &ocf.SnappyCodec{}
	case "zstandard":
		dec, err := zstd.NewReader(nil)
		if err != nil {
			return fmt.Errorf("avro container file: zstandard: %w", err)
		}
		defer dec.Close()
		codec = zstdCodec{dec}
	default:
		return fmt.Errorf("avro container file: unsupported codec %q", name)
	}
	for block := 1; ; block++ {
		if reader.Peek(); reader.Error != nil {
			if reader.Error == io.EOF {
				return nil
			}
			return fmt.Errorf("avro container file: %w", reader.Error)
		}
		count := reader.ReadLong()
		size := reader.ReadLong()
		if reader.Error != nil || count < 0 || size < 0 || size > 1<<30 {
			return fmt.Errorf("avro container file: block %d: bad header (count %d, size %d): %v", block, count, size, reader.Error)
		}
		data := make([]byte, size)
		reader.Read(data)
		var sync [16]byte
		reader.Read(sync[:])
		if reader.Error != nil {
			return fmt.Errorf("avro container file: block %d: %w", block, reader.Error)
		}
		if !bytes.Equal(sync[:], h.Sync[:]) {
			return fmt.Errorf("avro container file: block %d: sync marker mismatch (corrupt file)", block)
		}
		plain, err := codec.Decode(data)
		if err != nil {
			return fmt.Errorf("avro container file: block %d: decompress: %w", block, err)
		}
		br := avro.NewReader(nil, 0).Reset(plain)
		for i := int64(0); i < count; i++ {
			v := readAvro(br, schema, 0)
			if br.Error != nil {
				return fmt.Errorf("avro container file: block %d datum %d: %w", block, i+1, br.Error)
			}
			if err := fn(schema, v); err != nil {
				return err
			}
		}
	}
}

// zstdCodec decodes zstandard blocks; hamba's own needs its constructor.
type zstdCodec struct{ dec *zstd.Decoder }

func (z zstdCodec) Decode(b []byte) ([]byte, error) { return z.dec.DecodeAll(b, nil) }
func (z zstdCodec) Encode(b []byte) []byte          { return nil } // never written here
