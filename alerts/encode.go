package alerts

import (
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/hamba/avro/v2"
	"github.com/hourglass-stream/hourglass/codec"
)

// Encoder writes alerts in one of the formats real alert streams used.
type Encoder struct {
	format   string
	schema   avro.Schema
	schemaID uint32
}

// NewEncoder returns an encoder for format: avro (schemaless, with
// Schema()), confluent (wire format with schemaID), json, or pyliteral
// (Python str(dict) text, dict keys in a varying order as real senders
// produced them).
func NewEncoder(format string, schemaID uint32) (*Encoder, error) {
	e := &Encoder{format: format, schemaID: schemaID}
	switch format {
	case "avro", "confluent":
		s, err := Schema()
		if err != nil {
			return nil, err
		}
		e.schema = s
	case "json", "pyliteral":
	default:
		return nil, fmt.Errorf("--format %q: want avro, confluent, json or pyliteral", format)
	}
	return e, nil
}

// Name is the format's name.
func (e *Encoder) Name() string { return e.format }

// Encode writes one alert. rng shuffles dict keys for pyliteral.
func (e *Encoder) Encode(alert map[string]any, rng *rand.Rand) ([]byte, error) {
	switch e.format {
	case "avro":
		return codec.EncodeAvro(e.schema, alert)
	case "confluent":
		return codec.EncodeWire(e.schemaID, e.schema, alert)
	case "json":
		return codec.EncodeJSON(alert)
	default:
		return codec.EncodePyLiteralOrdered(alert, func(keys []string) {
			sort.Strings(keys)
			rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		})
	}
}
