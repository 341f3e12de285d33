package codec

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"
	"github.com/klauspost/compress/flate"
)

// TestIntegerDigitsCapped: integer literals of more than MaxIntDigits
// digits are decode errors in JSON and Python-literal text, in fields that
// are read and in fields that are only skipped; before, a 4,000,000-digit
// integer cost 31 s of CPU.
func TestIntegerDigitsCapped(t *testing.T) {
	ok, tooMany, huge := strings.Repeat("7", MaxIntDigits), strings.Repeat("7", MaxIntDigits+1), strings.Repeat("9", 4_000_000)
	json, _ := NewDecoder(Spec{Name: "json"})
	py, _ := NewDecoder(Spec{Name: "pyliteral"})
	for _, tc := range []struct {
		name string
		dec  Decoder
		text string
		ok   bool
	}{
		{"json at the cap", json, `{"id": -` + ok + `}`, true},
		{"json over the cap", json, `{"id": ` + tooMany + `}`, false},
		{"json huge", json, `{"id": ` + huge + `}`, false},
		{"python at the cap", py, `{'id': -` + ok + `}`, true},
		{"python over the cap", py, `{'id': ` + tooMany + `}`, false},
		{"python huge", py, `{'id': ` + huge + `}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.dec.Decode(context.Background(), []byte(tc.text))
			var de *DecodeError
			switch {
			case tc.ok && err != nil:
				t.Fatal(err)
			case !tc.ok && (!errors.As(err, &de) || !strings.Contains(err.Error(), "at most 4300")):
				t.Fatalf("got %v, want a DecodeError naming the cap", err)
			}
		})
	}
	// The key-and-time extractor refuses exactly the same.
	paths := NewPathSet(mustParsePath(t, "action"))
	out := make([]any, 1)
	if _, err := ExtractJSON([]byte(`{"action": "Open", "id": `+tooMany+`}`), paths, out); err == nil {
		t.Fatal("the extractor accepted what DecodeJSON refuses")
	}
}

func mustParsePath(t *testing.T, s string) Path {
	t.Helper()
	p, err := ParsePath(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAvroItemsCapped: an array of zero-size items is a few bytes for
// millions of items; one datum may hold at most its length plus
// AvroItemSlack (a 17-byte record made 16.7 million items and 1.5 GB
// before).
func TestAvroItemsCapped(t *testing.T) {
	schema := avro.MustParse(`{"type": "array", "items": "null"}`)
	var data []byte
	for range 4 {
		data = binary.AppendVarint(data, 1<<22) // a block of 4,194,304 nulls
	}
	data = append(data, 0)
	if _, err := DecodeAvro(schema, data); err == nil || !strings.Contains(err.Error(), "array items and map entries than its bytes allow") {
		t.Fatalf("got %v, want the item cap", err)
	}
	small := append(binary.AppendVarint(nil, 1000), 0)
	if v, err := DecodeAvro(schema, small); err != nil || len(v.([]any)) != 1000 {
		t.Fatalf("1000 nulls: %v", err)
	}
}

// TestOCFBlocksCapped: a container file block may declare at most
// MaxOCFBlock bytes and inflate to at most that (a deflate bomb).
func TestOCFBlocksCapped(t *testing.T) {
	schema := avro.MustParse(`"bytes"`)
	write := func(codec ocf.CodecName, datums ...[]byte) []byte {
		var buf bytes.Buffer
		enc, err := ocf.NewEncoderWithSchema(schema, &buf, ocf.WithCodec(codec))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range datums {
			if err := enc.Encode(d); err != nil {
				t.Fatal(err)
			}
		}
		if err := enc.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	count := func(file []byte) (int, error) {
		n := 0
		err := ReadOCF(bytes.NewReader(file), func(avro.Schema, any) error { n++; return nil })
		return n, err
	}
	if n, err := count(write(ocf.Deflate, []byte("a"), []byte("b"))); err != nil || n != 2 {
		t.Fatalf("a small deflate file: %d datums, %v", n, err)
	}

	// A header, then a block that declares 1 GiB.
	file := write(ocf.Null)
	file = binary.AppendVarint(file, 1)
	file = binary.AppendVarint(file, 1<<30)
	if _, err := count(file); err == nil || !strings.Contains(err.Error(), "bad header") {
		t.Fatalf("a block declaring 1 GiB: %v, want it refused", err)
	}

	// A deflate block of 100 MiB of zeros (about 100 KB compressed).
	file = write(ocf.Deflate)
	var bomb bytes.Buffer
	fw, _ := flate.NewWriter(&bomb, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 100 {
		_, _ = fw.Write(zeros)
	}
	_ = fw.Close()
	header := file
	sync := header[len(header)-16:]
	file = binary.AppendVarint(append([]byte{}, header...), 1)
	file = binary.AppendVarint(file, int64(bomb.Len()))
	file = append(append(file, bomb.Bytes()...), sync...)
	if _, err := count(file); err == nil || !strings.Contains(err.Error(), "inflates to more than") {
		t.Fatalf("a deflate bomb: %v, want it refused", err)
	}
}

// withinBudget checks the limits a decoded value keeps however hostile its
// input of n bytes: no integer over MaxIntDigits digits, at most n +
// AvroItemSlack array items and map entries. The fuzz targets call it on
// what they decode.
func withinBudget(t *testing.T, v any, n int) {
	t.Helper()
	items := 0
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case *big.Int:
			if n := len(strings.TrimPrefix(x.String(), "-")); n > MaxIntDigits {
				t.Fatalf("an integer of %d digits", n)
			}
		case []any:
			items += len(x)
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			items += len(x)
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	if items > n+AvroItemSlack {
		t.Fatalf("%d items in one value", items)
	}
}
