package codec

import (
	"context"
	"errors"
	"fmt"

	"github.com/hamba/avro/v2"
)

// Spec names a record codec and what it needs. The zero value is JSON.
type Spec struct {
	// Name is json, pyliteral or avro.
	Name string
	// Schema is the .avsc file (or directory of them) of schemaless Avro
	// records. Set exactly one of Schema, SchemaDir and Registry for avro.
	Schema string
	// SchemaDir resolves the schema ids of Confluent wire-format records
	// from a directory (id N is N.avsc or N/).
	SchemaDir string
	// Registry resolves the schema ids of Confluent wire-format records
	// from a schema registry URL.
	Registry string
	// RegistryUser and RegistryPassword are the registry's basic-auth
	// credentials; RegistryCA a PEM file of CAs for an https registry.
	RegistryUser, RegistryPassword, RegistryCA string
}

// Decoder decodes record values into the package's model. Implementations
// are safe for concurrent use.
type Decoder interface {
	Decode(ctx context.Context, data []byte) (any, error)
	// Schema is the schema every record has, when one is known before any
	// record is read (schemaless Avro); nil otherwise.
	Schema() avro.Schema
	// Name is the codec's name, for messages.
	Name() string
}

// NewDecoder returns the decoder spec describes, with its schema loaded.
func NewDecoder(spec Spec) (Decoder, error) {
	if spec.Registry == "" && (spec.RegistryUser != "" || spec.RegistryPassword != "" || spec.RegistryCA != "") {
		return nil, errors.New("--schema-registry-user, its password and --schema-registry-ca need --schema-registry")
	}
	switch spec.Name {
	case "", "json":
		if spec.Schema != "" || spec.SchemaDir != "" || spec.Registry != "" {
			return nil, errors.New("schemas apply to --codec avro only")
		}
		return jsonDecoder{funcDecoder{name: "json", fn: DecodeJSON}}, nil
	case "pyliteral":
		if spec.Schema != "" || spec.SchemaDir != "" || spec.Registry != "" {
			return nil, errors.New("schemas apply to --codec avro only")
		}
		return pyDecoder{funcDecoder{name: "pyliteral", fn: DecodePyLiteral}}, nil
	case "avro":
		n := 0
		for _, s := range []string{spec.Schema, spec.SchemaDir, spec.Registry} {
			if s != "" {
				n++
			}
		}
		if n != 1 {
			return nil, errors.New("--codec avro needs exactly one of --schema (schemaless records), --schema-dir or --schema-registry (Confluent wire format)")
		}
		switch {
		case spec.Schema != "":
			s, err := LoadAvroSchema(spec.Schema)
			if err != nil {
				return nil, err
			}
			return avroDecoder{schema: s}, nil
		case spec.SchemaDir != "":
			return wireDecoder{resolver: &DirResolver{Dir: spec.SchemaDir}}, nil
		default:
			r, err := NewRegistryResolver(Registry{URL: spec.Registry, User: spec.RegistryUser, Password: spec.RegistryPassword, CA: spec.RegistryCA})
			if err != nil {
				return nil, err
			}
			return wireDecoder{resolver: r}, nil
		}
	}
	return nil, fmt.Errorf("codec %q: want json, pyliteral or avro", spec.Name)
}

type funcDecoder struct {
	name string
	fn   func([]byte) (any, error)
}

func (d funcDecoder) Decode(_ context.Context, data []byte) (any, error) { return d.fn(data) }
func (d funcDecoder) Schema() avro.Schema                                { return nil }
func (d funcDecoder) Name() string                                       { return d.name }

// jsonDecoder is the JSON Decoder, and an Extractor.
type jsonDecoder struct{ funcDecoder }

func (jsonDecoder) Extract(data []byte, paths *PathSet, out []any) (bool, error) {
	return ExtractJSON(data, paths, out)
}

// pyDecoder is the Python-literal Decoder, and an Extractor.
type pyDecoder struct{ funcDecoder }

func (pyDecoder) Extract(data []byte, paths *PathSet, out []any) (bool, error) {
	return ExtractPyLiteral(data, paths, out)
}

type avroDecoder struct{ schema avro.Schema }

func (d avroDecoder) Decode(_ context.Context, data []byte) (any, error) {
	return DecodeAvro(d.schema, data)
}
func (d avroDecoder) Schema() avro.Schema { return d.schema }
func (d avroDecoder) Extract(data []byte, paths *PathSet, out []any) (bool, error) {
	return ExtractAvro(d.schema, data, paths, out)
}
func (d avroDecoder) Name() string { return "avro" }

type wireDecoder struct{ resolver SchemaResolver }

func (d wireDecoder) Decode(ctx context.Context, data []byte) (any, error) {
	return DecodeWire(ctx, d.resolver, data)
}
func (d wireDecoder) Schema() avro.Schema { return nil }
func (d wireDecoder) Extract(data []byte, paths *PathSet, out []any) (bool, error) {
	return ExtractWire(d.resolver, data, paths, out)
}
func (d wireDecoder) Name() string { return "avro (Confluent wire format)" }
