package codec

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hamba/avro/v2"
)

// lsstSchemaDir is where `make lsst-schemas` puts Rubin's v11.1 schemas
// from the PyPI package lsst-alert-packet (GPLv3, so fetched rather than
// committed). HOURGLASS_LSST_SCHEMAS overrides it.
func lsstSchemaDir(t *testing.T) string {
	if d := os.Getenv("HOURGLASS_LSST_SCHEMAS"); d != "" {
		return d
	}
	d, err := filepath.Abs("../.cache/lsst-alert-packet/lsst/alert/packet/schema/11/1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d); err != nil {
		t.Fatalf("Rubin schemas missing at %s: run `make lsst-schemas` (or set HOURGLASS_LSST_SCHEMAS)", d)
	}
	return d
}

// TestFastavroFixtures decodes records written by Python's fastavro
// (testdata/avro/gen.py) with the seed-era schema set and Rubin's v11.1 set,
// schemaless and in Confluent wire format, and compares them with what
// fastavro itself reads back. It also re-encodes each value and expects
// fastavro's bytes exactly.
func TestFastavroFixtures(t *testing.T) {
	legacy, err := LoadAvroSchema("../alerts/schema/legacy/lsst.alert.avsc")
	if err != nil {
		t.Fatal(err)
	}
	rubinDir := lsstSchemaDir(t)
	rubin, err := LoadAvroSchema(filepath.Join(rubinDir, "lsst.v11_1.alert.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	if dirRoot, err := LoadAvroSchema(rubinDir); err != nil || dirRoot.(avro.NamedSchema).FullName() != "lsst.v11_1.alert" {
		t.Fatalf("the directory's top-level schema: %v, %v", dirRoot, err)
	}
	ids := t.TempDir()
	for id, src := range map[string]string{"42": "../alerts/schema/legacy", "1101": rubinDir} {
		if err := os.Symlink(mustAbs(t, src), filepath.Join(ids, id)); err != nil {
			t.Fatal(err)
		}
	}
	resolver := &DirResolver{Dir: ids}

	f, err := os.Open("testdata/avro/fixtures.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	counts := map[string]int{}
	for n := 1; sc.Scan(); n++ {
		var fx struct {
			Set        string `json:"set"`
			Schemaless string `json:"schemaless"`
			Wire       string `json:"wire"`
			Tagged     any    `json:"tagged"`
		}
		if err := json.Unmarshal(sc.Bytes(), &fx); err != nil {
			t.Fatal(err)
		}
		schema := map[string]avro.Schema{"legacy": legacy, "v11_1": rubin}[fx.Set]
		body, _ := hex.DecodeString(fx.Schemaless)
		wire, _ := hex.DecodeString(fx.Wire)
		want := untag(t, fx.Tagged)

		got, err := DecodeAvro(schema, body)
		if err != nil {
			t.Fatalf("fixture %d (%s): %v", n, fx.Set, err)
		}
		if !sameValue(got, want) {
			t.Fatalf("fixture %d (%s) decodes to\n%v\nfastavro read\n%v", n, fx.Set, got, want)
		}
		viaWire, err := DecodeWire(context.Background(), resolver, wire)
		if err != nil || !sameValue(viaWire, want) {
			t.Fatalf("fixture %d (%s) in wire format: %v", n, fx.Set, err)
		}
		again, err := EncodeAvro(schema, got)
		if err != nil {
			t.Fatalf("fixture %d (%s): re-encode: %v", n, fx.Set, err)
		}
		if hex.EncodeToString(again) != fx.Schemaless {
			t.Fatalf("fixture %d (%s): re-encoded bytes differ from fastavro's", n, fx.Set)
		}
		counts[fx.Set]++
	}
	if counts["legacy"] != 31 || counts["v11_1"] != 31 {
		t.Fatalf("fixtures per set: %v", counts)
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAvroErrors(t *testing.T) {
	legacy, err := LoadAvroSchema("../alerts/schema/legacy/lsst.alert.avsc")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"empty":             {},
		"truncated":         {0x02, 0x04},
		"bad union branch":  append(make([]byte, 0), 0x02, 0x04, 0x00, 0x00, 0x00, 0x02, 0x72, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x09),
		"huge array length": {0x02, 0x04, 0x00, 0x00, 0x00, 0x02, 0x72, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeAvro(legacy, data)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("DecodeAvro = %v, want a *DecodeError", err)
			}
		})
	}
	if _, err := DecodeWire(context.Background(), &DirResolver{Dir: t.TempDir()}, []byte{0, 0, 0, 0, 1, 2}); !errors.Is(err, ErrUnknownSchema) {
		t.Errorf("unknown id: %v", err)
	}
	if _, err := WireID([]byte("{json}")); err == nil {
		t.Error("JSON taken for wire format")
	}
}

// FuzzDecodeAvro: schemaless and wire-format decoding never panic or hang,
// errors are *DecodeError (or an unknown schema id), and what decodes
// re-encodes to the same bytes.
func FuzzDecodeAvro(f *testing.F) {
	schema, err := LoadAvroSchema("../alerts/schema/legacy/lsst.alert.avsc")
	if err != nil {
		f.Fatal(err)
	}
	if fx, err := os.ReadFile("testdata/avro/fixtures.jsonl"); err == nil {
		var first struct{ Schemaless, Wire string }
		line, _, _ := bufioCut(fx)
		if json.Unmarshal(line, &first) == nil {
			b, _ := hex.DecodeString(first.Schemaless)
			f.Add(b)
			w, _ := hex.DecodeString(first.Wire)
			f.Add(w)
		}
	}
	f.Add([]byte{0, 0, 0, 0, 42, 2})
	resolver := &staticResolver{schema: schema}
	nothings := avro.MustParse(`{"type": "array", "items": "null"}`)
	f.Add([]byte{0x80, 0x80, 0x80, 0x04, 0x80, 0x80, 0x80, 0x04, 0}) // two blocks of 4,194,304 nulls: 9 bytes
	f.Fuzz(func(t *testing.T, data []byte) {
		// A schema whose items take no bytes: the datum's item budget is
		// all that bounds it.
		if v, err := DecodeAvro(nothings, data); err == nil {
			withinBudget(t, v, len(data))
		}
		if v, err := DecodeAvro(schema, data); err == nil {
			withinBudget(t, v, len(data))
			enc, err := EncodeAvro(schema, v)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			if string(enc) != string(data) {
				// Avro allows several encodings of one value (block sizes);
				// the value must survive, not necessarily the bytes.
				again, err := DecodeAvro(schema, enc)
				if err != nil || !sameValue(again, v) {
					t.Fatalf("round trip changed the value: %v", err)
				}
			}
		} else {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DecodeError", err)
			}
		}
		if _, err := DecodeWire(context.Background(), resolver, data); err != nil {
			var de *DecodeError
			if !errors.As(err, &de) && !errors.Is(err, ErrUnknownSchema) {
				t.Fatalf("wire error %v", err)
			}
		}
	})
}

type staticResolver struct{ schema avro.Schema }

func (s *staticResolver) Schema(_ context.Context, id uint32) (avro.Schema, error) {
	if id != 42 {
		return nil, ErrUnknownSchema
	}
	return s.schema, nil
}

func bufioCut(b []byte) ([]byte, []byte, bool) {
	for i, c := range b {
		if c == '\n' {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}
