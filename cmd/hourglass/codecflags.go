package main

import (
	"github.com/hourglass-stream/hourglass/codec"
	"github.com/spf13/pflag"
)

// codecFlags are the flags that choose how record values decode.
type codecFlags struct{ spec codec.Spec }

func (c *codecFlags) register(f *pflag.FlagSet, what, def string) {
	f.StringVar(&c.spec.Name, "codec", def, what+": json, pyliteral (Python str(dict) text) or avro")
	f.StringVar(&c.spec.Schema, "schema", "", "avro: the .avsc file (or directory) of schemaless records; sibling .avsc files supply named types")
	f.StringVar(&c.spec.SchemaDir, "schema-dir", "", "avro: Confluent wire-format records, schema id N read from N.avsc (or N/) here")
	f.StringVar(&c.spec.Registry, "schema-registry", "", "avro: Confluent wire-format records, schema ids resolved at this registry URL")
}

func (c *codecFlags) decoder() (codec.Decoder, error) { return codec.NewDecoder(c.spec) }
