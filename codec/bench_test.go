package codec

import "testing"

func BenchmarkDecodeJSONEvent(b *testing.B) {
	data := []byte(`{"time":1469501107,"action":"Open"}`)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := DecodeJSON(data); err != nil {
			b.Fatal(err)
		}
	}
}
