package codec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/s2"
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
	var decompress func([]byte) ([]byte, error)
	switch name := string(h.Meta["avro.codec"]); name {
	case "", "null":
		decompress = func(b []byte) ([]byte, error) { return b, nil }
	case "deflate":
		decompress = inflate
	case "snappy":
		decompress = unsnappy
	case "zstandard":
		dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(MaxOCFBlock))
		if err != nil {
			return fmt.Errorf("avro container file: zstandard: %w", err)
		}
		defer dec.Close()
		decompress = func(b []byte) ([]byte, error) { return dec.DecodeAll(b, nil) }
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
		if reader.Error != nil || count < 0 || size < 0 || size > MaxOCFBlock {
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
		plain, err := decompress(data)
		if err != nil {
			return fmt.Errorf("avro container file: block %d: decompress: %w", block, err)
		}
		br := avro.NewReader(nil, 0).Reset(plain)
		left := int64(len(plain)) + AvroItemSlack // the block's datums share it
		for i := int64(0); i < count; i++ {
			v := readAvro(br, schema, 0, &left)
			if br.Error != nil {
				return fmt.Errorf("avro container file: block %d datum %d: %w", block, i+1, br.Error)
			}
			if err := fn(schema, v); err != nil {
				return err
			}
		}
	}
}

// inflate decompresses a deflate block, refusing one that inflates past
// MaxOCFBlock (a deflate bomb).
func inflate(b []byte) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(b)), MaxOCFBlock+1))
	if err != nil {
		return nil, err
	}
	if len(out) > MaxOCFBlock {
		return nil, fmt.Errorf("inflates to more than %d bytes", MaxOCFBlock)
	}
	return out, nil
}

// unsnappy decompresses an Avro snappy block (snappy, then a CRC-32 of the
// plain bytes), refusing one that declares more than MaxOCFBlock.
func unsnappy(b []byte) ([]byte, error) {
	if len(b) < 4 {
		return nil, errors.New("snappy block shorter than its checksum")
	}
	n, err := s2.DecodedLen(b[:len(b)-4])
	if err != nil {
		return nil, err
	}
	if n > MaxOCFBlock {
		return nil, fmt.Errorf("declares %d bytes, more than %d", n, MaxOCFBlock)
	}
	return (&ocf.SnappyCodec{}).Decode(b)
}
