// Package ingest streams files of records into a Kafka topic, the way
// Spark's file stream source reads a directory: files oldest first (by
// modification time, then name), a fixed number of files per trigger, and,
// with Watch, new files as they appear.
//
// Each non-blank line is one record. With FormatJSONL a line must be one
// JSON value; a line that is not is reported with its file and line number,
// counted as bad and not sent. With FormatLines every line is sent as it
// is, so that a downstream processor judges it (and dead-letters what it
// cannot read). With FormatAvro each file is an Avro object container file
// and each datum is sent as a schemaless Avro record of the file's schema
// (give the processor that schema with --schema). A trigger ends only when the broker has acknowledged every
// record of it, so a summary counts what Kafka holds.
package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Format says how lines are checked before they are sent.
type Format string

// The formats.
const (
	FormatJSONL Format = "jsonl" // each line must be JSON
	FormatLines Format = "lines" // each line is sent as it is
	FormatAvro  Format = "avro"  // Avro object container files: one record per datum
)

// ParseFormat reads "jsonl" or "lines".
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatJSONL, FormatLines, FormatAvro:
		return f, nil
	}
	return "", fmt.Errorf("format %q: want jsonl, lines or avro", s)
}

// MaxLineBytes is the longest line ingest reads.
const MaxLineBytes = 16 << 20

// Config describes one ingestion.
type Config struct {
	Topic  string // required
	Format Format // "" means FormatJSONL
	// KeyField, if set, is the field whose value becomes the record key
	// (FormatJSONL and FormatAvro). A record without it is bad.
	KeyField codec.Path
	// FilesPerTrigger is how many files one trigger sends; 0 means all.
	FilesPerTrigger int
	// TriggerInterval is the least time from the start of one trigger to
	// the start of the next; 0 means no wait. With Watch it is also how
	// often the paths are listed again (at least every second).
	TriggerInterval time.Duration
	// Watch keeps listing the paths for new files until ctx ends.
	Watch bool
	// Progress, if set, shows a progress bar of bytes sent.
	Progress io.Writer
	// OnTrigger, if set, is called after each trigger with the totals so far.
	OnTrigger func(Summary)
	// Logger receives bad-line reports; nil means slog.Default().
	Logger *slog.Logger
	// MaxRecordBytes is the largest record (key and value) that is sent;
	// a larger line or datum is a bad line. Zero means what the producer
	// can write (kafka.MaxRecordBytes less kafka.RecordOverhead).
	MaxRecordBytes int
}

// Summary counts what an ingestion sent.
type Summary struct {
	Files    int64 // files read completely
	Records  int64 // records acknowledged by the broker
	Bytes    int64 // bytes of the values of those records
	BadLines int64 // lines (or Avro datums) not sent: not JSON (FormatJSONL), no key, too large
	Triggers int64
}

// maxReportedBadLines limits per-line reports; the summary has the count.
const maxReportedBadLines = 20

// Producer is what ingest writes with. franz-go's *kgo.Client is one:
// hourglass gives it an idempotent client, so a record retried after a
// broker failure is stored once.
type Producer interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
	Flush(ctx context.Context) error
}

// Run sends the files of paths (files or directories) to cfg.Topic with
// producer. It returns when all files are sent (or, with Watch, when ctx
// ends). Run does not close the producer.
func Run(ctx context.Context, producer Producer, cfg Config, paths []string) (Summary, error) {
	if cfg.Topic == "" {
		return Summary{}, errors.New("ingest: no topic: set --topic")
	}
	if len(paths) == 0 {
		return Summary{}, errors.New("ingest: no files or directories given")
	}
	if cfg.Format == "" {
		cfg.Format = FormatJSONL
	}
	if cfg.KeyField.String() != "" && cfg.Format == FormatLines {
		return Summary{}, errors.New("ingest: --key-field needs --format jsonl or avro")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxRecordBytes <= 0 {
		cfg.MaxRecordBytes = kafka.MaxRecordBytes - kafka.RecordOverhead
	}
	r := &runner{cfg: cfg, producer: producer, seen: map[string]bool{}, growing: map[string]file{}}
	return r.run(ctx, paths)
}

type runner struct {
	cfg      Config
	producer Producer
	seen     map[string]bool
	// growing holds, with Watch, the files seen at the last listing but not
	// taken yet, as they were then: a file is taken only once a listing
	// finds its size and mtime unchanged, so one still being written is
	// not sent in part.
	growing map[string]file
	sum     Summary
	bar     *progressBar
}

func (r *runner) run(ctx context.Context, paths []string) (Summary, error) {
	files, err := r.newFiles(paths)
	if err != nil {
		return r.sum, err
	}
	if len(files) == 0 && !r.cfg.Watch {
		return r.sum, fmt.Errorf("ingest: no files in %s", strings.Join(paths, ", "))
	}
	if r.cfg.Progress != nil && !r.cfg.Watch {
		r.bar = newProgressBar(r.cfg.Progress, totalSize(files))
		defer r.bar.finish()
	}
	for {
		sent := len(files) > 0
		for len(files) > 0 {
			n := len(files)
			if r.cfg.FilesPerTrigger > 0 && r.cfg.FilesPerTrigger < n {
				n = r.cfg.FilesPerTrigger
			}
			started := time.Now()
			if err := r.trigger(ctx, files[:n]); err != nil {
				return r.sum, err
			}
			files = files[n:]
			if err := r.pause(ctx, started, len(files) > 0 || r.cfg.Watch); err != nil {
				return r.sum, err
			}
		}
		if !r.cfg.Watch {
			return r.sum, nil
		}
		if !sent {
			// Each trigger paused after itself; a listing that found
			// nothing to send waits before the next.
			if err := r.pause(ctx, time.Now(), true); err != nil {
				return r.sum, err
			}
		}
		if files, err = r.newFiles(paths); err != nil {
			return r.sum, err
		}
	}
}

// pause waits out the trigger interval; with Watch and no interval it
// waits a second between listings. It returns nil when ctx ended during a
// watch, which is how a watch stops.
func (r *runner) pause(ctx context.Context, started time.Time, more bool) error {
	if !more {
		return nil
	}
	wait := r.cfg.TriggerInterval
	if r.cfg.Watch && wait == 0 {
		wait = time.Second
	}
	wait -= time.Since(started)
	if wait <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type file struct {
	path  string
	mtime time.Time
	size  int64
}

// newFiles lists the files of paths not sent yet, oldest first. Hidden
// files (.x, _x), temporary files (x.tmp, x~) and subdirectories of a
// directory are skipped, as Spark does. With Watch, a file is listed only
// once it has stayed the same size with the same mtime since the listing
// before, so a file still being written waits for its writer.
func (r *runner) newFiles(paths []string) ([]file, error) {
	var out []file
	listed := map[string]bool{}
	add := func(path string, fi os.FileInfo) {
		if !fi.Mode().IsRegular() || r.seen[path] {
			return
		}
		f := file{path: path, mtime: fi.ModTime(), size: fi.Size()}
		if r.cfg.Watch {
			listed[path] = true
			if last, ok := r.growing[path]; !ok || last.size != f.size || !last.mtime.Equal(f.mtime) {
				r.growing[path] = f
				return
			}
			delete(r.growing, path)
		}
		out = append(out, f)
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
		if !fi.IsDir() {
			add(p, fi)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
		for _, e := range entries {
			if skipped(e.Name()) {
				continue
			}
			info, err := e.Info()
			if err != nil {
				return nil, fmt.Errorf("ingest: %w", err)
			}
			add(filepath.Join(p, e.Name()), info)
		}
	}
	for path := range r.growing {
		if !listed[path] {
			delete(r.growing, path) // gone, or renamed
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].mtime.Equal(out[j].mtime) {
			return out[i].mtime.Before(out[j].mtime)
		}
		return out[i].path < out[j].path
	})
	for _, f := range out {
		r.seen[f.path] = true
	}
	return out, nil
}

// skipped reports names a directory listing passes over: hidden files and
// the temporary files of writers and editors.
func skipped(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") ||
		strings.HasSuffix(name, ".tmp") || strings.HasSuffix(name, "~")
}

func totalSize(files []file) int64 {
	var n int64
	for _, f := range files {
		n += f.size
	}
	return n
}

// trigger sends files and waits until the broker acknowledged every record.
// The summary counts the records the broker acknowledged, also when the
// trigger fails: a re-run after a failure knows what landed.
func (r *runner) trigger(ctx context.Context, files []file) error {
	acks := &acks{}
	count := func() {
		n, b := acks.acknowledged()
		r.sum.Records += n
		r.sum.Bytes += b
	}
	for _, f := range files {
		if err := r.sendFile(ctx, f, acks); err != nil {
			_ = r.producer.Flush(ctx) // what is in flight lands, or fails, before it is counted
			count()
			return err
		}
		r.sum.Files++
	}
	err := r.producer.Flush(ctx)
	count()
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	if err := acks.err(); err != nil {
		return fmt.Errorf("ingest: broker refused a record: %w", err)
	}
	r.sum.Triggers++
	if r.cfg.OnTrigger != nil {
		r.cfg.OnTrigger(r.sum)
	}
	return nil
}

func (r *runner) sendFile(ctx context.Context, f file, acks *acks) error {
	fh, err := os.Open(f.path)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	defer fh.Close()
	// send returns false for a record too large to write: a bad line.
	send := func(key, value []byte) (bool, error) {
		if err := acks.err(); err != nil {
			return true, fmt.Errorf("ingest: send to %s: %w", r.cfg.Topic, err)
		}
		if err := ctx.Err(); err != nil {
			return true, err
		}
		if n := len(key) + len(value); n > r.cfg.MaxRecordBytes {
			return false, nil
		}
		r.producer.Produce(ctx, &kgo.Record{Topic: r.cfg.Topic, Key: key, Value: value}, acks.done)
		return true, nil
	}
	if r.cfg.Format == FormatAvro {
		return r.sendOCF(f, fh, send)
	}
	br := bufio.NewReaderSize(fh, 64<<10)
	for line := 1; ; line++ {
		raw, tooLong, err := readLine(br, MaxLineBytes)
		if err == io.EOF && len(raw) == 0 && !tooLong {
			return nil
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("ingest: %s line %d: %w", f.path, line, err)
		}
		r.bar.add(int64(len(raw) + 1))
		value := bytes.TrimRight(raw, "\r")
		switch {
		case tooLong:
			r.badLine(f.path, fmt.Sprintf("line %d", line), fmt.Errorf("a line of more than %d bytes", MaxLineBytes))
		case len(bytes.TrimSpace(value)) == 0:
		default:
			key, cerr := r.check(value)
			if cerr != nil {
				r.badLine(f.path, fmt.Sprintf("line %d", line), cerr)
				break
			}
			ok, serr := send(key, bytes.Clone(value))
			if serr != nil {
				return serr
			}
			if !ok {
				r.badLine(f.path, fmt.Sprintf("line %d", line), r.tooLarge(len(key)+len(value)))
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// tooLarge is the bad-line error of a record of n bytes.
func (r *runner) tooLarge(n int) error {
	return fmt.Errorf("a record of %d bytes; the most one may be is %d (Kafka's message.max.bytes less the batch's own)", n, r.cfg.MaxRecordBytes)
}

// readLine reads one line without its newline. A line longer than max is
// read to its end and dropped: tooLong, no bytes.
func readLine(br *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > max+1 {
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil:
			return line, tooLong, err
		}
		return bytes.TrimSuffix(line, []byte("\n")), tooLong, nil
	}
}

func (r *runner) badLine(path, where string, err error) {
	r.sum.BadLines++
	if r.sum.BadLines <= maxReportedBadLines {
		r.cfg.Logger.Warn("bad record not sent", "file", path, "at", where, "error", err)
	}
}

// sendOCF sends each datum of an Avro object container file as a
// schemaless Avro record of the file's schema. A file that is not a
// container file, or is corrupt, is an error: its records cannot be told
// apart.
func (r *runner) sendOCF(f file, fh io.Reader, send func(key, value []byte) (bool, error)) error {
	n := 0
	err := codec.ReadOCF(fh, func(schema avro.Schema, v any) error {
		n++
		value, err := codec.EncodeAvro(schema, v)
		if err != nil {
			return err
		}
		var key []byte
		if r.cfg.KeyField.String() != "" {
			if key, err = keyOf(r.cfg.KeyField, v); err != nil {
				r.badLine(f.path, fmt.Sprintf("datum %d", n), err)
				return nil
			}
		}
		ok, err := send(key, value)
		if err == nil && !ok {
			r.badLine(f.path, fmt.Sprintf("datum %d", n), r.tooLarge(len(key)+len(value)))
		}
		return err
	})
	r.bar.add(f.size)
	if err != nil {
		return fmt.Errorf("ingest: %s: %w", f.path, err)
	}
	return nil
}

// check validates a line for the format and returns its record key.
func (r *runner) check(value []byte) ([]byte, error) {
	if r.cfg.Format == FormatLines {
		return nil, nil
	}
	if r.cfg.KeyField.String() == "" {
		_, err := codec.DecodeJSON(value)
		return nil, err
	}
	v, err := codec.DecodeJSON(value)
	if err != nil {
		return nil, err
	}
	return keyOf(r.cfg.KeyField, v)
}

func keyOf(field codec.Path, v any) ([]byte, error) {
	kv, err := field.Lookup(v)
	if err != nil {
		return nil, fmt.Errorf("key field: %w", err)
	}
	k, err := codec.KeyString(kv)
	if err != nil {
		return nil, fmt.Errorf("key field %s: %w", field, err)
	}
	return []byte(k), nil
}

// acks keeps the first error the producer reported for a trigger.
type acks struct {
	mu           sync.Mutex
	first        error
	records, val int64 // acknowledged records and their value bytes
}

func (a *acks) done(r *kgo.Record, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err == nil {
		a.records++
		a.val += int64(len(r.Value))
		return
	}
	if a.first == nil {
		a.first = err
	}
}

// acknowledged returns the records the broker acknowledged so far, and
// their value bytes.
func (a *acks) acknowledged() (records, bytes int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.records, a.val
}

func (a *acks) err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.first
}
