package codec

import (
	"os"
	"testing"
)

func BenchmarkDecodeJSONEvent(b *testing.B) {
	data := []byte(`{"time":1469501107,"action":"Open"}`)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := DecodeJSON(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodePyLiteralAlert: the seed-era sample alert as Python's
// str(dict) printed it, the filter's input in W3.
func BenchmarkDecodePyLiteralAlert(b *testing.B) {
	data, err := os.ReadFile("testdata/legacy_alert_repr_one_line.txt")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := DecodePyLiteral(data); err != nil {
			b.Fatal(err)
		}
	}
}
