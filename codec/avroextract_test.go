package codec

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/hamba/avro/v2"
)

// extractSchema has every Avro type, on paths and beside them.
var extractSchema = avro.MustParse(`{"type": "record", "name": "top", "fields": [
	{"name": "a", "type": {"type": "record", "name": "inner", "fields": [
		{"name": "b", "type": "string"}, {"name": "c", "type": "double"}, {"name": "z", "type": "bytes"}]}},
	{"name": "d", "type": ["null", {"type": "record", "name": "dee", "fields": [{"name": "e", "type": "long"}]}]},
	{"name": "m", "type": {"type": "map", "values": "long"}},
	{"name": "arr", "type": {"type": "array", "items": "inner"}},
	{"name": "f", "type": {"type": "fixed", "name": "four", "size": 4}},
	{"name": "en", "type": {"type": "enum", "name": "band", "symbols": ["g", "r", "i"]}},
	{"name": "bo", "type": "boolean"},
	{"name": "fl", "type": "float"},
	{"name": "i", "type": "int"},
	{"name": "again", "type": ["null", "inner"]},
	{"name": "x", "type": "string"}]}`)

var avroExtractPathSets = [][]string{
	{"a.b", "x"},
	{"a.c", "d.e", "i"},
	{"m", "arr", "en"},
	{"again.b", "bo"},
	{"a", "a.b"},
	{"m.k", "x"}, // into a map: not walked
}

func extractValue() map[string]any {
	return map[string]any{
		"a": map[string]any{"b": "bee", "c": 351.5, "z": []byte{1, 2}},
		"d": map[string]any{"e": int64(-7)},
		"m": map[string]any{"k": int64(1), "l": int64(2)},
		"arr": []any{map[string]any{"b": "", "c": 0.0, "z": []byte{}},
			map[string]any{"b": "two", "c": -1.0, "z": []byte("x")}},
		"f": []byte("four"), "en": "r", "bo": true, "fl": 1.5, "i": int64(3),
		"again": map[string]any{"b": "b2", "c": 2.0, "z": []byte{}}, "x": "ex",
	}
}

func checkAvroExtract(t *testing.T, schema avro.Schema, data []byte, steps []string) bool {
	t.Helper()
	return checkExtractWith(t, func(b []byte) (any, error) { return DecodeAvro(schema, b) },
		func(b []byte, ps *PathSet, out []any) (bool, error) { return ExtractAvro(schema, b, ps, out) }, data, steps)
}

func TestExtractAvro(t *testing.T) {
	good, err := EncodeAvro(extractSchema, extractValue())
	if err != nil {
		t.Fatal(err)
	}
	for i, steps := range avroExtractPathSets {
		wantOK := i < 4
		if ok := checkAvroExtract(t, extractSchema, good, steps); ok != wantOK {
			t.Errorf("%v: ok %v, want %v", steps, ok, wantOK)
		}
	}
	// Every truncation, and every single-byte change, errs (or not) alike.
	for n := range len(good) {
		for _, steps := range avroExtractPathSets {
			checkAvroExtract(t, extractSchema, good[:n], steps)
		}
	}
	for i := range good {
		for _, b := range []byte{0x00, 0x01, 0x02, 0x7f, 0x80, 0xff} {
			bad := bytes.Clone(good)
			bad[i] = b
			for _, steps := range avroExtractPathSets {
				checkAvroExtract(t, extractSchema, bad, steps)
			}
		}
	}
	checkAvroExtract(t, extractSchema, append(bytes.Clone(good), 0), avroExtractPathSets[0])
}

// TestAvroSkipLimits: strings and bytes skipped refuse what readAvro
// refuses at hamba/avro's size limit (avroMaxBytes), and at a bad length.
func TestAvroSkipLimits(t *testing.T) {
	s := avro.MustParse(`{"type": "record", "name": "r", "fields": [{"name": "s", "type": "string"}, {"name": "k", "type": "long"}]}`)
	for _, n := range []int{avroMaxBytes, avroMaxBytes + 1} {
		data := avroLong(nil, int64(n))
		data = append(data, bytes.Repeat([]byte{'x'}, n)...)
		data = append(data, 2)
		_, decodeErr := DecodeAvro(s, data)
		if (decodeErr == nil) != (n == avroMaxBytes) {
			t.Errorf("DecodeAvro of a %d-byte string: %v", n, decodeErr)
		}
		if ok := checkAvroExtract(t, s, data, []string{"k"}); ok != (n == avroMaxBytes) {
			t.Errorf("a %d-byte string: ok %v", n, ok)
		}
	}
	checkAvroExtract(t, s, avroLong(nil, -1), []string{"k"})
}

func avroLong(b []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

// FuzzAvroExtractMatchesDecode: ExtractAvro accepts and rejects exactly
// what DecodeAvro does, with the same error, and extracts what Lookup
// finds, with the alert schema and extractSchema.
func FuzzAvroExtractMatchesDecode(f *testing.F) {
	alert, err := LoadAvroSchema("../alerts/schema/legacy/lsst.alert.avsc")
	if err != nil {
		f.Fatal(err)
	}
	alertPaths := [][]string{{"diaSource.ra", "alertId"}, {"prv_diaSources", "ssObject.ssObjectId"}, {"diaObject.ra", "diaSource.filterName"}}
	if good, err := EncodeAvro(extractSchema, extractValue()); err == nil {
		f.Add(good, uint8(0))
	}
	if fx, err := os.ReadFile("testdata/avro/fixtures.jsonl"); err == nil {
		for line := range bytes.Lines(fx) {
			var rec struct{ Schemaless string }
			if json.Unmarshal(line, &rec) == nil {
				b, _ := hex.DecodeString(rec.Schemaless)
				f.Add(b, uint8(1))
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, set uint8) {
		if set%2 == 0 {
			checkAvroExtract(t, extractSchema, data, avroExtractPathSets[int(set/2)%len(avroExtractPathSets)])
		} else {
			checkAvroExtract(t, alert, data, alertPaths[int(set/2)%len(alertPaths)])
		}
	})
}

func BenchmarkExtractAvroAlert(b *testing.B) {
	schema, err := LoadAvroSchema("../alerts/schema/legacy/lsst.alert.avsc")
	if err != nil {
		b.Fatal(err)
	}
	fx, err := os.ReadFile("testdata/avro/fixtures.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	line, _, _ := bufioCut(fx)
	var rec struct{ Schemaless string }
	if err := json.Unmarshal(line, &rec); err != nil {
		b.Fatal(err)
	}
	data, _ := hex.DecodeString(rec.Schemaless)
	ra, _ := ParsePath("diaSource.ra")
	ps := NewPathSet(ra)
	out := make([]any, 1)
	b.Run("extract", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if ok, err := ExtractAvro(schema, data, ps, out); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeAvro(schema, data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestExtractWire: wire format is extracted once the resolver has the
// schema at hand, with DecodeWire's errors; before, ok is false.
func TestExtractWire(t *testing.T) {
	ids := t.TempDir()
	if err := os.Symlink(mustAbs(t, "../alerts/schema/legacy"), ids+"/42"); err != nil {
		t.Fatal(err)
	}
	fx, err := os.ReadFile("testdata/avro/fixtures.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := bufioCut(fx)
	var rec struct{ Wire string }
	if err := json.Unmarshal(line, &rec); err != nil {
		t.Fatal(err)
	}
	wire, _ := hex.DecodeString(rec.Wire)
	resolver := &DirResolver{Dir: ids}
	decode := func(b []byte) (any, error) { return DecodeWire(context.Background(), resolver, b) }
	extract := func(b []byte, ps *PathSet, out []any) (bool, error) { return ExtractWire(resolver, b, ps, out) }
	steps := []string{"diaSource.ra", "alertId"}
	ra, _ := ParsePath("diaSource.ra")
	if ok, err := ExtractWire(resolver, wire, NewPathSet(ra), make([]any, 1)); ok || err != nil {
		t.Fatalf("before the schema is resolved: %v, %v", ok, err)
	}
	if !checkExtractWith(t, decode, extract, wire, steps) {
		t.Fatal("not extracted once resolved")
	}
	for _, bad := range [][]byte{wire[:3], append([]byte{1}, wire[1:]...), wire[:len(wire)-1], append(bytes.Clone(wire), 0)} {
		checkExtractWith(t, decode, extract, bad, steps)
	}
}
