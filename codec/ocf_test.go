package codec

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"
)

// legacyFixtures returns the first n seed-era datums of fixtures.jsonl as
// fastavro wrote them.
func legacyFixtures(t *testing.T, n int) [][]byte {
	f, err := os.Open("testdata/avro/fixtures.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() && len(out) < n {
		var fx struct{ Set, Schemaless string }
		if err := json.Unmarshal(sc.Bytes(), &fx); err != nil {
			t.Fatal(err)
		}
		if fx.Set == "legacy" {
			b, _ := hex.DecodeString(fx.Schemaless)
			out = append(out, b)
		}
	}
	return out
}

// TestReadOCF reads container files written by fastavro (null and deflate
// codecs) and by hamba's writer (snappy, zstandard); every datum re-encodes
// to fastavro's schemaless bytes for it.
func TestReadOCF(t *testing.T) {
	want := legacyFixtures(t, 25)
	files := map[string][]byte{}
	for _, name := range []string{"alerts-null.avro", "alerts-deflate.avro"} {
		b, err := os.ReadFile("testdata/avro/" + name)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	schema, err := LoadAvroSchema("../alerts/schema/legacy/lsst.alert.avsc")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []ocf.CodecName{ocf.Snappy, ocf.ZStandard} {
		var buf bytes.Buffer
		enc, err := ocf.NewEncoderWithSchema(schema, &buf, ocf.WithCodec(c), ocf.WithBlockLength(7))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if _, err := enc.Write(w); err != nil { // raw datums: already encoded
				t.Fatal(err)
			}
		}
		if err := enc.Close(); err != nil {
			t.Fatal(err)
		}
		files["hamba-"+string(c)] = buf.Bytes()
	}
	for name, data := range files {
		t.Run(name, func(t *testing.T) {
			i := 0
			err := ReadOCF(bytes.NewReader(data), func(s avro.Schema, v any) error {
				got, err := EncodeAvro(s, v)
				if err != nil {
					return err
				}
				if i >= len(want) || !bytes.Equal(got, want[i]) {
					t.Fatalf("datum %d differs from fastavro's", i)
				}
				i++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if i != len(want) {
				t.Fatalf("read %d datums, want %d", i, len(want))
			}
		})
	}
	if err := ReadOCF(bytes.NewReader([]byte(`{"not":"avro"}`)), func(avro.Schema, any) error { return nil }); err == nil {
		t.Error("JSON read as a container file")
	}
	corrupt := append([]byte(nil), files["alerts-null.avro"]...)
	corrupt[len(corrupt)-3] ^= 0xff // inside the last sync marker
	if err := ReadOCF(bytes.NewReader(corrupt), func(avro.Schema, any) error { return nil }); err == nil {
		t.Error("a corrupt sync marker went unnoticed")
	}
}
