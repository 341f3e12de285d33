package alerts

import (
	"os"
	"reflect"
	"testing"

	"github.com/hourglass-stream/hourglass/codec"
)

// TestSchemaFitsTheSampleAlert: the reconstructed schema encodes the
// seed-era sample alert and decodes it back unchanged (its cutouts null).
func TestSchemaFitsTheSampleAlert(t *testing.T) {
	schema, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../codec/testdata/legacy_alert.json")
	if err != nil {
		t.Fatal(err)
	}
	sample, err := codec.DecodeJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := codec.EncodeAvro(schema, sample)
	if err != nil {
		t.Fatal(err)
	}
	got, err := codec.DecodeAvro(schema, enc)
	if err != nil {
		t.Fatal(err)
	}
	want := sample.(map[string]any)
	want["cutoutDifference"], want["cutoutTemplate"] = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip differs:\n got %v\nwant %v", got, want)
	}
}

// TestGeneratedAlertsRoundTrip: generated alerts, with and without stamps,
// survive Avro, Confluent wire format, JSON-free Python literal and back.
func TestGeneratedAlertsRoundTrip(t *testing.T) {
	schema, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	for _, stamps := range []bool{false, true} {
		g := NewGenerator(Spec{Seed: 7, Stamps: stamps})
		for i := 0; i < 200; i++ {
			a := g.Next()
			enc, err := codec.EncodeAvro(schema, a)
			if err != nil {
				t.Fatal(err)
			}
			back, err := codec.DecodeAvro(schema, enc)
			if err != nil || !reflect.DeepEqual(back, any(a)) {
				t.Fatalf("alert %d via avro: %v", i, err)
			}
			py, err := codec.EncodePyLiteral(a)
			if err != nil {
				t.Fatal(err)
			}
			back, err = codec.DecodePyLiteral(py)
			if err != nil || !reflect.DeepEqual(back, any(a)) {
				t.Fatalf("alert %d via pyliteral: %v", i, err)
			}
		}
	}
}

func TestGeneratorVariety(t *testing.T) {
	g := NewGenerator(Spec{Seed: 1})
	const n = 20000
	east, south := 0, 0
	seenFilter := map[string]bool{}
	for i := 0; i < n; i++ {
		src := g.Next()["diaSource"].(map[string]any)
		if src["ra"].(float64) > 350 {
			east++
		}
		if src["decl"].(float64) < 0 {
			south++
		}
		seenFilter[src["filterName"].(string)] = true
	}
	// ra > 350 covers 10/360 of the sky: 556 of 20000 expected.
	if east < 450 || east > 670 {
		t.Errorf("%d of %d alerts have ra > 350, want about %d", east, n, n*10/360)
	}
	if south < n*45/100 || south > n*55/100 {
		t.Errorf("%d of %d alerts in the south", south, n)
	}
	if len(seenFilter) != 6 {
		t.Errorf("filters seen: %v", seenFilter)
	}
	a, b := NewGenerator(Spec{Seed: 3}).Next(), NewGenerator(Spec{Seed: 3}).Next()
	if !reflect.DeepEqual(a, b) {
		t.Error("the same seed gave different alerts")
	}
}
