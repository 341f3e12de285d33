package main

import (
	"fmt"

	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/spf13/pflag"
)

// codecFlags are the flags that choose how record values decode.
type codecFlags struct {
	spec codec.Spec
	// registryPasswordFile holds the registry password; without it the
	// password comes from HOURGLASS_SCHEMA_REGISTRY_PASSWORD. Never a flag
	// value: it would show in ps.
	registryPasswordFile string
}

// registryPasswordEnv is where the schema registry's password comes from
// without --schema-registry-password-file.
const registryPasswordEnv = "HOURGLASS_SCHEMA_REGISTRY_PASSWORD"

func (c *codecFlags) register(f *pflag.FlagSet, what, def string) {
	f.StringVar(&c.spec.Name, "codec", def, what+": json, pyliteral (Python str(dict) text) or avro")
	f.StringVar(&c.spec.Schema, "schema", "", "avro: the .avsc file (or directory) of schemaless records; sibling .avsc files supply named types")
	f.StringVar(&c.spec.SchemaDir, "schema-dir", "", "avro: Confluent wire-format records, schema id N read from N.avsc (or N/) here")
	f.StringVar(&c.spec.Registry, "schema-registry", "", "avro: Confluent wire-format records, schema ids resolved at this registry URL (env HOURGLASS_SCHEMA_REGISTRY)")
	f.StringVar(&c.spec.RegistryUser, "schema-registry-user", "", "schema registry basic-auth user (env HOURGLASS_SCHEMA_REGISTRY_USER); the password from --schema-registry-password-file or "+registryPasswordEnv)
	f.StringVar(&c.registryPasswordFile, "schema-registry-password-file", "", "file holding the schema registry password (default: the "+registryPasswordEnv+" environment variable)")
	f.StringVar(&c.spec.RegistryCA, "schema-registry-ca", "", "PEM file of CAs to trust for an https schema registry instead of the system's")
}

func (c *codecFlags) decoder() (codec.Decoder, error) {
	spec := c.spec
	if spec.RegistryUser != "" {
		pw, err := kafka.ReadPassword(c.registryPasswordFile, registryPasswordEnv)
		if err != nil {
			return nil, fmt.Errorf("--schema-registry-password-file: %w", err)
		}
		spec.RegistryPassword = pw
	}
	return codec.NewDecoder(spec)
}
