package codec

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hamba/avro/v2"
)

// LoadAvroSchema reads an Avro schema from a .avsc file or a directory of
// them. Named types may be defined in other files of the same directory, as
// LSST ships its alert schemas (lsst.v11_1.alert.avsc names
// lsst.v11_1.diaSource, defined in lsst.v11_1.diaSource.avsc): every .avsc
// file beside path (or in it) is parsed, in whatever order resolves their
// references, into a cache of this schema set alone. For a file, the schema
// is that file's; for a directory, it is the one schema no other file of the
// directory refers to, or among several such the one named "alert".
func LoadAvroSchema(path string) (avro.Schema, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("avro schema: %w", err)
	}
	dir, top := path, ""
	if !fi.IsDir() {
		dir, top = filepath.Dir(path), filepath.Base(path)
	}
	return LoadAvroSchemaFS(os.DirFS(dir), top)
}

// LoadAvroSchemaFS is LoadAvroSchema over the .avsc files at the root of
// fsys; top names the top-level file, or is empty to find it.
func LoadAvroSchemaFS(fsys fs.FS, top string) (avro.Schema, error) {
	files, err := fs.Glob(fsys, "*.avsc")
	if err != nil {
		return nil, fmt.Errorf("avro schema: %w", err)
	}
	if top != "" && !contains(files, top) {
		files = append(files, top)
	}
	texts := map[string][]byte{}
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("avro schema: %w", err)
		}
		texts[f] = b
	}
	cache := &avro.SchemaCache{}
	parsed := map[string]avro.Schema{}
	// Parse in rounds until no file is left or a round makes no progress:
	// a file that names a type of a file not parsed yet fails this round
	// and succeeds in a later one.
	pending := append([]string(nil), files...)
	sort.Strings(pending)
	for len(pending) > 0 {
		var next []string
		var lastErr error
		for _, f := range pending {
			s, err := avro.ParseBytesWithCache(texts[f], "", cache)
			if err != nil {
				next, lastErr = append(next, f), fmt.Errorf("%s: %w", f, err)
				continue
			}
			parsed[f] = s
		}
		if len(next) == len(pending) {
			return nil, fmt.Errorf("avro schema: %w", lastErr)
		}
		pending = next
	}
	if top != "" {
		return parsed[top], nil
	}
	return rootSchema(parsed, texts)
}

// rootSchema picks the named schema that no other file mentions.
func rootSchema(parsed map[string]avro.Schema, texts map[string][]byte) (avro.Schema, error) {
	var roots []string
	for f, s := range parsed {
		named, ok := s.(avro.NamedSchema)
		if !ok {
			continue
		}
		used := false
		for g, text := range texts {
			if g != f && bytes.Contains(text, []byte(`"`+named.FullName()+`"`)) {
				used = true
				break
			}
		}
		if !used {
			roots = append(roots, f)
		}
	}
	if len(roots) > 1 {
		// Alert schema sets (LSST's among them) also ship types the alert
		// does not use; the record named "alert" is the one meant.
		var alerts []string
		for _, f := range roots {
			if n := parsed[f].(avro.NamedSchema); n.Name() == "alert" {
				alerts = append(alerts, f)
			}
		}
		if len(alerts) == 1 {
			roots = alerts
		}
	}
	if len(roots) != 1 {
		sort.Strings(roots)
		return nil, fmt.Errorf("avro schema: cannot tell the top-level schema among %d candidates (%s); name the file", len(roots), strings.Join(roots, ", "))
	}
	return parsed[roots[0]], nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// DecodeAvro decodes one schemaless Avro datum, the whole of data, written
// with schema. Values follow the package's model exactly as written: int
// and long become int64, float and double float64, bytes and fixed []byte,
// an enum its symbol, a union the value of its branch, a record or map a
// map[string]any. Logical types keep their underlying value (a
// timestamp-micros stays its int64), so nothing is converted.
func DecodeAvro(schema avro.Schema, data []byte) (any, error) {
	r := avro.NewReader(nil, 0).Reset(data)
	left := int64(len(data)) + AvroItemSlack
	v := readAvro(r, schema, 0, &left)
	if err := avroDatumError(r); err != nil {
		return nil, err
	}
	return v, nil
}

var errAvroTooDeep = errors.New("nesting deeper than 512")

// maxAvroItems bounds one array or map block; a corrupt length must not
// make the reader loop for 2^62 items.
const maxAvroItems = 1 << 24

// readAvro reads one value of schema; left is what remains of the datum's
// budget of array items and map entries (its length plus AvroItemSlack).
func readAvro(r *avro.Reader, schema avro.Schema, depth int, left *int64) any {
	if depth > maxPyDepth {
		r.Error = errAvroTooDeep
		return nil
	}
	switch schema.Type() {
	case avro.Null:
		return nil
	case avro.Boolean:
		return r.ReadBool()
	case avro.Int:
		return int64(r.ReadInt())
	case avro.Long:
		return r.ReadLong()
	case avro.Float:
		return float64(r.ReadFloat())
	case avro.Double:
		return r.ReadDouble()
	case avro.String:
		return r.ReadString()
	case avro.Bytes:
		return r.ReadBytes()
	case avro.Fixed:
		b := make([]byte, schema.(*avro.FixedSchema).Size())
		r.Read(b)
		return b
	case avro.Enum:
		symbols := schema.(*avro.EnumSchema).Symbols()
		i := int(r.ReadInt())
		if i < 0 || i >= len(symbols) {
			r.ReportError("decode enum", fmt.Sprintf("symbol index %d out of range", i))
			return nil
		}
		return symbols[i]
	case avro.Ref:
		return readAvro(r, schema.(*avro.RefSchema).Schema(), depth, left)
	case avro.Record:
		fields := schema.(*avro.RecordSchema).Fields()
		obj := make(map[string]any, len(fields))
		for _, f := range fields {
			obj[f.Name()] = readAvro(r, f.Type(), depth+1, left)
			if r.Error != nil {
				return nil
			}
		}
		return obj
	case avro.Union:
		types := schema.(*avro.UnionSchema).Types()
		i := r.ReadLong()
		if i < 0 || i >= int64(len(types)) {
			r.ReportError("decode union", fmt.Sprintf("branch %d out of range", i))
			return nil
		}
		return readAvro(r, types[i], depth+1, left)
	case avro.Array:
		items := schema.(*avro.ArraySchema).Items()
		arr := []any{}
		readBlocks(r, left, func() { arr = append(arr, readAvro(r, items, depth+1, left)) })
		return arr
	case avro.Map:
		values := schema.(*avro.MapSchema).Values()
		obj := map[string]any{}
		readBlocks(r, left, func() {
			k := r.ReadString()
			obj[k] = readAvro(r, values, depth+1, left)
		})
		return obj
	}
	r.ReportError("decode", fmt.Sprintf("unsupported schema type %s", schema.Type()))
	return nil
}

func readBlocks(r *avro.Reader, left *int64, item func()) {
	for r.Error == nil {
		n, _ := r.ReadBlockHeader()
		if n == 0 || r.Error != nil {
			return
		}
		if n > maxAvroItems {
			r.ReportError("decode", fmt.Sprintf("block of %d items", n))
			return
		}
		if *left -= n; *left < 0 {
			r.ReportError("decode", fmt.Sprintf("more array items and map entries than its bytes allow (%d more than its length)", AvroItemSlack))
			return
		}
		for i := int64(0); i < n && r.Error == nil; i++ {
			item()
		}
	}
}

// EncodeAvro writes v as a schemaless Avro datum of schema. v follows the
// package's model (as DecodeAvro returns it, or as JSON or Python-literal
// decoding gives it); a union takes the first branch the value fits. A
// value that does not fit the schema is an error naming the field.
func EncodeAvro(schema avro.Schema, v any) ([]byte, error) {
	var buf bytes.Buffer
	w := avro.NewWriter(&buf, 512)
	if err := writeAvro(w, schema, v, ""); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("encode avro: %w", err)
	}
	return buf.Bytes(), nil
}

func avroMismatch(path string, schema avro.Schema, v any) error {
	if path == "" {
		path = "the record"
	}
	return fmt.Errorf("encode avro: %s: %s does not fit %s", path, kindName(v), schema.Type())
}

func writeAvro(w *avro.Writer, schema avro.Schema, v any, path string) error {
	switch schema.Type() {
	case avro.Null:
		if v != nil {
			return avroMismatch(path, schema, v)
		}
		return nil
	case avro.Boolean:
		b, ok := v.(bool)
		if !ok {
			return avroMismatch(path, schema, v)
		}
		w.WriteBool(b)
	case avro.Int, avro.Long:
		var i int64
		ok := true
		switch n := v.(type) {
		case int64:
			i = n
		case int:
			i = int64(n)
		case int32: // field defaults from the schema parser
			i = int64(n)
		default:
			ok = false
		}
		if !ok || schema.Type() == avro.Int && (i < math.MinInt32 || i > math.MaxInt32) {
			return avroMismatch(path, schema, v)
		}
		if schema.Type() == avro.Int {
			w.WriteInt(int32(i))
		} else {
			w.WriteLong(i)
		}
	case avro.Float, avro.Double:
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case int64:
			// An integer in JSON or Python text for a float field (1 for
			// 1.0) is the same number when float64 holds it exactly.
			if x > 1<<53 || x < -(1<<53) {
				return avroMismatch(path, schema, v)
			}
			f = float64(x)
		default:
			return avroMismatch(path, schema, v)
		}
		if schema.Type() == avro.Float {
			if float64(float32(f)) != f && !math.IsNaN(f) {
				return fmt.Errorf("encode avro: %s: %v does not fit a 32-bit float exactly", path, f)
			}
			w.WriteFloat(float32(f))
		} else {
			w.WriteDouble(f)
		}
	case avro.String:
		s, ok := v.(string)
		if !ok {
			return avroMismatch(path, schema, v)
		}
		w.WriteString(s)
	case avro.Bytes:
		b, ok := v.([]byte)
		if !ok {
			return avroMismatch(path, schema, v)
		}
		w.WriteBytes(b)
	case avro.Fixed:
		b, ok := v.([]byte)
		if !ok || len(b) != schema.(*avro.FixedSchema).Size() {
			return avroMismatch(path, schema, v)
		}
		_, _ = w.Write(b)
	case avro.Enum:
		s, ok := v.(string)
		if !ok {
			return avroMismatch(path, schema, v)
		}
		for i, sym := range schema.(*avro.EnumSchema).Symbols() {
			if sym == s {
				w.WriteInt(int32(i))
				return nil
			}
		}
		return fmt.Errorf("encode avro: %s: %q is not a symbol of the enum", path, s)
	case avro.Ref:
		return writeAvro(w, schema.(*avro.RefSchema).Schema(), v, path)
	case avro.Record:
		obj, ok := v.(map[string]any)
		if !ok {
			return avroMismatch(path, schema, v)
		}
		fields := schema.(*avro.RecordSchema).Fields()
		known := make(map[string]bool, len(fields))
		for _, f := range fields {
			known[f.Name()] = true
			fv, present := obj[f.Name()]
			if !present {
				if !f.HasDefault() {
					return fmt.Errorf("encode avro: %s: missing field %q, which has no default", path, f.Name())
				}
				fv = f.Default()
			}
			if err := writeAvro(w, f.Type(), fv, joinPath(path, f.Name())); err != nil {
				return err
			}
		}
		for k := range obj {
			if !known[k] {
				return fmt.Errorf("encode avro: %s: field %q is not in the schema and would be lost", path, k)
			}
		}
	case avro.Union:
		types := schema.(*avro.UnionSchema).Types()
		var firstErr error
		for i, t := range types {
			// Try each branch into a scratch writer; keep the first that fits.
			var scratch bytes.Buffer
			sw := avro.NewWriter(&scratch, 64)
			err := writeAvro(sw, t, v, path)
			if err == nil {
				if err = sw.Flush(); err == nil {
					w.WriteLong(int64(i))
					_, _ = w.Write(scratch.Bytes())
					return nil
				}
			}
			if firstErr == nil && t.Type() != avro.Null {
				firstErr = err
			}
		}
		if firstErr == nil {
			firstErr = avroMismatch(path, schema, v)
		}
		return firstErr
	case avro.Array:
		arr, ok := v.([]any)
		if !ok {
			return avroMismatch(path, schema, v)
		}
		if len(arr) > 0 {
			w.WriteBlockHeader(int64(len(arr)), 0)
			for i, e := range arr {
				if err := writeAvro(w, schema.(*avro.ArraySchema).Items(), e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
		w.WriteBlockHeader(0, 0)
	case avro.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return avroMismatch(path, schema, v)
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) > 0 {
			w.WriteBlockHeader(int64(len(keys)), 0)
			for _, k := range keys {
				w.WriteString(k)
				if err := writeAvro(w, schema.(*avro.MapSchema).Values(), obj[k], joinPath(path, k)); err != nil {
					return err
				}
			}
		}
		w.WriteBlockHeader(0, 0)
	default:
		return fmt.Errorf("encode avro: %s: unsupported schema type %s", path, schema.Type())
	}
	return nil
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
