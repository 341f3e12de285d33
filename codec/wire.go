package codec

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
)

// Confluent wire format: one magic byte 0, the schema id as 4 big-endian
// bytes, then a schemaless Avro datum written with that schema.
const (
	wireMagic      = 0
	wireHeaderSize = 5
)

// SchemaResolver finds the Avro schema of a Confluent schema id. Its
// implementations are safe for concurrent use.
type SchemaResolver interface {
	Schema(ctx context.Context, id uint32) (avro.Schema, error)
}

// ErrUnknownSchema is wrapped when a resolver has no schema for an id.
var ErrUnknownSchema = errors.New("unknown schema id")

// DirResolver resolves ids from a directory: schema id N is N.avsc there,
// or the schema set in the subdirectory N/ (see LoadAvroSchema).
type DirResolver struct {
	Dir   string
	cache sync.Map // uint32 → avro.Schema
}

// Schema implements SchemaResolver.
func (d *DirResolver) Schema(_ context.Context, id uint32) (avro.Schema, error) {
	if s, ok := d.cache.Load(id); ok {
		return s.(avro.Schema), nil
	}
	name := strconv.FormatUint(uint64(id), 10)
	var path string
	for _, p := range []string{filepath.Join(d.Dir, name+".avsc"), filepath.Join(d.Dir, name)} {
		if _, err := os.Stat(p); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		return nil, fmt.Errorf("%w %d: no %s.avsc or %s/ in %s", ErrUnknownSchema, id, name, name, d.Dir)
	}
	s, err := LoadAvroSchema(path)
	if err != nil {
		return nil, err
	}
	d.cache.Store(id, s)
	return s, nil
}

// RegistryResolver resolves ids with a Confluent-compatible schema registry
// (GET {URL}/schemas/ids/{id}), caching each schema for the life of the
// process: a registered id never changes its schema.
type RegistryResolver struct {
	URL    string
	Client *http.Client // nil means a client with a 10 s timeout
	cache  sync.Map     // uint32 → avro.Schema
	mu     sync.Mutex   // one fetch at a time, so a burst asks once
}

// Schema implements SchemaResolver.
func (g *RegistryResolver) Schema(ctx context.Context, id uint32) (avro.Schema, error) {
	if s, ok := g.cache.Load(id); ok {
		return s.(avro.Schema), nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if s, ok := g.cache.Load(id); ok {
		return s.(avro.Schema), nil
	}
	client := g.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	u, err := url.JoinPath(g.URL, "schemas", "ids", strconv.FormatUint(uint64(id), 10))
	if err != nil {
		return nil, fmt.Errorf("schema registry url %q: %w", g.URL, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/vnd.schemaregistry.v1+json, application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("schema registry: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("schema registry: read %s: %w", u, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("%w %d: the registry at %s does not know it", ErrUnknownSchema, id, g.URL)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("schema registry: GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	var out struct {
		Schema     string            `json:"schema"`
		SchemaType string            `json:"schemaType"`
		References []json.RawMessage `json:"references"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("schema registry: GET %s: %w", u, err)
	}
	if out.SchemaType != "" && out.SchemaType != "AVRO" {
		return nil, fmt.Errorf("schema %d is %s, not Avro", id, out.SchemaType)
	}
	if len(out.References) > 0 {
		return nil, fmt.Errorf("schema %d uses schema references, which hourglass does not resolve yet; register a self-contained schema or use --schema-dir", id)
	}
	s, err := avro.ParseWithCache(out.Schema, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("schema %d from the registry: %w", id, err)
	}
	g.cache.Store(id, s)
	return s, nil
}

// WireID returns the schema id of a Confluent wire-format record.
func WireID(data []byte) (uint32, error) {
	if len(data) < wireHeaderSize {
		return 0, &DecodeError{Codec: "avro", Offset: int64(len(data)), Msg: fmt.Sprintf("a Confluent wire-format record has at least %d bytes, this one %d", wireHeaderSize, len(data))}
	}
	if data[0] != wireMagic {
		return 0, &DecodeError{Codec: "avro", Offset: 0, Msg: fmt.Sprintf("first byte is 0x%02x, not the Confluent wire-format magic byte 0x00", data[0])}
	}
	return binary.BigEndian.Uint32(data[1:wireHeaderSize]), nil
}

// DecodeWire decodes a Confluent wire-format record with the schema its id
// names.
func DecodeWire(ctx context.Context, resolver SchemaResolver, data []byte) (any, error) {
	id, err := WireID(data)
	if err != nil {
		return nil, err
	}
	schema, err := resolver.Schema(ctx, id)
	if err != nil {
		return nil, err
	}
	v, err := DecodeAvro(schema, data[wireHeaderSize:])
	if err != nil {
		var de *DecodeError
		if errors.As(err, &de) {
			de.Msg = fmt.Sprintf("schema id %d: %s", id, de.Msg)
		}
		return nil, err
	}
	return v, nil
}

// EncodeWire writes v in Confluent wire format with schema id id.
func EncodeWire(id uint32, schema avro.Schema, v any) ([]byte, error) {
	body, err := EncodeAvro(schema, v)
	if err != nil {
		return nil, err
	}
	out := make([]byte, wireHeaderSize, wireHeaderSize+len(body))
	out[0] = wireMagic
	binary.BigEndian.PutUint32(out[1:], id)
	return append(out, body...), nil
}
