package processor

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/lovoo/goka/storage"
	"github.com/syndtr/goleveldb/leveldb"
	ldbiter "github.com/syndtr/goleveldb/leveldb/iterator"
	"github.com/syndtr/goleveldb/leveldb/util"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The count step's local table in a --state-dir is a LevelDB that stays
// consistent with its changelog through crashes.
//
// Goka writes a row to the local table before the changelog acknowledges
// it, so a process that dies leaves rows ahead of the changelog; a run
// resuming from them would skip updates that the changelog, and so every
// view and every other instance, never got. Wiping the table after every
// crash (what hourglass did before) costs a full read of the changelog.
// Instead, a row's first write that is not yet acknowledged goes into
// LevelDB in one batch with the row's value as the changelog last
// acknowledged it: its undo entry. A checkpoint, at most every
// checkpointEvery and at every clean close, writes in one batch the
// changelog offset the table reflects and, for each row acknowledged
// since, drops its undo entry (all its writes acknowledged) or sets it to
// the newest acknowledged value. A run that opens the table first puts
// back every row that has an undo entry; the table is then the changelog
// as of the checkpoint's offset, and goka reads only the changelog after
// it. Rows acknowledged after the checkpoint are among the records read
// again, as are the rows another instance wrote meanwhile.
//
// This holds for a process that dies (SIGKILL, a crash, an OOM kill):
// LevelDB has written what it was given. Like goka's own LevelDB storage,
// it does not fsync, so a machine that loses power may lose the end of
// the table's journal (each batch whole or not at all: an earlier
// consistent state) or leave a directory LevelDB cannot open, which is
// deleted to recover the table from the changelog.

const (
	// offsetKey is goka's key for the changelog offset in its LevelDB
	// storage, kept so that directories written by earlier versions open.
	offsetKey = "__offset"
	// undoPrefix begins the key of a row's undo entry. No row key begins
	// with it: row keys are a group key, "|" and a time (windows.RowKey),
	// or a watermark row's.
	undoPrefix = "\x00hourglass.undo\x00"
	// checkpointEvery bounds the changelog a restart after a crash reads
	// again to about this much of the table's writes.
	checkpointEvery = 250 * time.Millisecond
)

// localTables are the count step's tables in a state directory during one
// run: one tableLog per partition, kept while goka closes and reopens the
// partition's table across rebalances, so that acknowledgements arriving
// in between are not lost. A partition's table is restored to its last
// checkpoint when the run first opens it (nothing of an earlier run can be
// in flight then: its producer is closed).
type localTables struct {
	dir   string
	topic string // the changelog
	log   *slog.Logger

	mu    sync.Mutex
	parts map[int32]*tableLog
}

func newLocalTables(dir, topic string, log *slog.Logger) *localTables {
	return &localTables{dir: dir, topic: topic, log: log, parts: map[int32]*tableLog{}}
}

// builder is goka's storage builder for the tables.
func (t *localTables) builder() storage.Builder {
	return func(topic string, partition int32) (storage.Storage, error) {
		db, err := leveldb.OpenFile(filepath.Join(t.dir, fmt.Sprintf("%s.%d", topic, partition)), nil)
		if err != nil {
			return nil, fmt.Errorf("open local table: %w", err)
		}
		t.mu.Lock()
		l := t.parts[partition]
		first := l == nil
		if first {
			l = &tableLog{partition: partition, pending: map[string]int{}, acked: map[string]ackedRow{}, offset: -1}
			t.parts[partition] = l
		}
		t.mu.Unlock()
		if first {
			restored, err := restore(db)
			if err != nil {
				db.Close()
				return nil, fmt.Errorf("local table %s/%d: %w", topic, partition, err)
			}
			l.restored = restored
		}
		l.mu.Lock()
		l.db, l.recovering, l.read = db, true, 0
		l.mu.Unlock()
		return &localTable{l: l, log: t.log}, nil
	}
}

// acked is called by the count step's producer for every record it
// wrote, before goka hears of it.
func (t *localTables) acked(r *kgo.Record, err error) {
	if err != nil || r.Topic != t.topic {
		return
	}
	t.mu.Lock()
	l := t.parts[r.Partition]
	t.mu.Unlock()
	if l != nil {
		l.landed(string(r.Key), r.Value, r.Offset, true)
	}
}

// logged is called for each changelog record goka recovers into
// partition's table, before the record is applied (or kept out).
func (t *localTables) logged(partition int32, key string, value []byte, offset int64) {
	t.mu.Lock()
	l := t.parts[partition]
	t.mu.Unlock()
	if l != nil {
		l.landed(key, value, offset, false)
	}
}

// tableLog is one partition's bookkeeping. A row has an undo entry on
// disk exactly while it has writes not yet acknowledged (pending) or is
// in acked; the entry holds the row's value in the changelog as of the
// last checkpoint, or later.
type tableLog struct {
	partition int32

	mu         sync.Mutex
	db         *leveldb.DB         // nil while goka has the table closed
	recovering bool                // goka is reading the changelog into the table
	pending    map[string]int      // writes not yet acknowledged, by row
	acked      map[string]ackedRow // rows with an undo entry acknowledged since the checkpoint
	offset     int64               // the newest changelog offset the table reflects; -1: none
	saved      time.Time           // the last checkpoint
	restored   int                 // rows put back when the run opened the table
	read       int64               // changelog records recovered in this opening
	writes     int64               // writes prepared, for Get's cache
	// last is the row Get read last, until the next write: goka reads a
	// row before it writes it, and its undo entry needs what it read.
	last struct {
		key   string
		value []byte
		found bool
	}
}

// ackedRow is the newest value of a row that landed in the changelog, nil
// for a tombstone.
type ackedRow struct {
	offset int64
	value  []byte
}

// landed takes a changelog record into account: acknowledged to this
// process's producer (own) or read by recovery.
func (l *tableLog) landed(key string, value []byte, offset int64, own bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if own {
		if l.pending[key]--; l.pending[key] <= 0 {
			delete(l.pending, key)
		}
	} else {
		l.read++
	}
	if a, ok := l.acked[key]; (ok && offset > a.offset) || (!ok && (l.pending[key] > 0 || own)) {
		l.acked[key] = ackedRow{offset: offset, value: value} // goka's encoding, not written to again
	}
	l.offset = max(l.offset, offset)
}

// checkpoint writes the offset and the acknowledged rows' undo entries in
// one batch. The caller holds l.mu.
func (l *tableLog) checkpoint() error {
	if l.db == nil || l.offset < 0 {
		return nil
	}
	var b leveldb.Batch
	for key, a := range l.acked {
		if l.pending[key] > 0 {
			b.Put(undoKey(key), undoValue(a.value, a.value != nil))
		} else {
			b.Delete(undoKey(key))
		}
	}
	b.Put([]byte(offsetKey), strconv.AppendInt(nil, l.offset, 10))
	if err := l.db.Write(&b, nil); err != nil {
		return fmt.Errorf("local table checkpoint: %w", err)
	}
	clear(l.acked)
	l.saved = time.Now()
	return nil
}

func undoKey(key string) []byte { return append([]byte(undoPrefix), key...) }

// undoValue is an undo entry: 1 and the row's value, or 0 for a row the
// changelog does not hold.
func undoValue(value []byte, present bool) []byte {
	if !present {
		return []byte{0}
	}
	return append([]byte{1}, value...)
}

// restore puts back every row that has an undo entry and drops the
// entries, in one batch, and returns how many there were.
func restore(db *leveldb.DB) (int, error) {
	var b leveldb.Batch
	it := db.NewIterator(util.BytesPrefix([]byte(undoPrefix)), nil)
	n := 0
	for it.Next() {
		key, v := it.Key()[len(undoPrefix):], it.Value()
		switch {
		case len(v) > 0 && v[0] == 1:
			b.Put(key, v[1:])
		case len(v) == 1 && v[0] == 0:
			b.Delete(key)
		default:
			it.Release()
			return 0, fmt.Errorf("undo entry of %q is corrupt", key)
		}
		b.Delete(it.Key())
		n++
	}
	it.Release()
	if err := it.Error(); err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	if err := db.Write(&b, nil); err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	return n, nil
}

// localTable is goka's storage of one partition for one opening.
type localTable struct {
	l   *tableLog
	log *slog.Logger
}

// errTableClosed is the answer of a table goka has closed.
var errTableClosed = errors.New("local table: closed")

func (s *localTable) db() (*leveldb.DB, error) {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	if s.l.db == nil {
		return nil, errTableClosed
	}
	return s.l.db, nil
}

func (s *localTable) Open() error { return nil }

func (s *localTable) Has(key string) (bool, error) {
	db, err := s.db()
	if err != nil {
		return false, err
	}
	return db.Has([]byte(key), nil)
}

func (s *localTable) Get(key string) ([]byte, error) {
	l := s.l
	l.mu.Lock()
	db, writes := l.db, l.writes
	l.mu.Unlock()
	if db == nil {
		return nil, errTableClosed
	}
	v, err := db.Get([]byte(key), nil)
	found := err == nil
	if err == leveldb.ErrNotFound {
		v = nil // goka takes any non-nil value, even empty, for a row
	} else if err != nil {
		return nil, fmt.Errorf("local table: get %q: %w", key, err)
	}
	l.mu.Lock()
	if l.writes == writes { // no write since: v is still the row
		l.last.key, l.last.value, l.last.found = key, v, found
	}
	l.mu.Unlock()
	return v, nil
}

func (s *localTable) Set(key string, value []byte) error { return s.write(key, value, true) }

func (s *localTable) Delete(key string) error { return s.write(key, nil, false) }

// write sets (present) or deletes a row. Once the table is recovered, a
// write is the count step's, and goka writes it to the changelog next: a
// row's first write since all its earlier ones were acknowledged takes
// its undo entry along.
func (s *localTable) write(key string, value []byte, present bool) error {
	b := batches.Get().(*leveldb.Batch)
	defer batches.Put(b)
	b.Reset()
	db, err := s.l.prepare(b, key)
	if err != nil {
		return err
	}
	if present {
		b.Put([]byte(key), value)
	} else {
		b.Delete([]byte(key))
	}
	// Outside l.mu: the producer's acknowledgements do not wait for the
	// disk. A checkpoint writes under l.mu, so a write prepared after it
	// lands after it.
	if err := db.Write(b, nil); err != nil {
		return fmt.Errorf("local table: write %q: %w", key, err)
	}
	return nil
}

// batches are the writes' LevelDB batches, reused.
var batches = sync.Pool{New: func() any { return new(leveldb.Batch) }}

// prepare notes a write of key and puts its undo entry in b if it needs
// one, and returns the table to write b to.
func (l *tableLog) prepare(b *leveldb.Batch, key string) (*leveldb.DB, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.db == nil {
		return nil, errTableClosed
	}
	if !l.recovering {
		if l.pending[key] == 0 {
			switch a, ok := l.acked[key]; {
			case ok:
				b.Put(undoKey(key), undoValue(a.value, a.value != nil))
			case l.last.key == key:
				b.Put(undoKey(key), undoValue(l.last.value, l.last.found))
			default:
				old, err := l.db.Get([]byte(key), nil)
				if err != nil && err != leveldb.ErrNotFound {
					return nil, fmt.Errorf("local table: get %q: %w", key, err)
				}
				b.Put(undoKey(key), undoValue(old, err == nil))
			}
		}
		l.pending[key]++
	}
	l.last.key, l.last.value = "", nil
	l.writes++
	return l.db, nil
}

func (s *localTable) GetOffset(def int64) (int64, error) {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.offset >= 0 {
		return l.offset, nil
	}
	if l.db == nil {
		return 0, errTableClosed
	}
	v, err := l.db.Get([]byte(offsetKey), nil)
	if err == leveldb.ErrNotFound {
		return def, nil
	}
	if err != nil {
		return 0, fmt.Errorf("local table: offset: %w", err)
	}
	o, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("local table: offset %q: %w", v, err)
	}
	l.offset = o
	return o, nil
}

// SetOffset is goka's: after each recovered record, and after each
// acknowledged table write (which acked saw first).
func (s *localTable) SetOffset(offset int64) error {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.offset = max(l.offset, offset)
	if time.Since(l.saved) < checkpointEvery {
		return nil
	}
	return l.checkpoint()
}

func (s *localTable) MarkRecovered() error {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recovering = false
	s.log.Info("local table recovered", "partition", l.partition, "offset", l.offset, "changelog_records_read", l.read, "rows_restored", l.restored)
	l.restored = 0
	return l.checkpoint()
}

func (s *localTable) Close() error {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.db == nil {
		return nil
	}
	err := l.checkpoint()
	if cerr := l.db.Close(); err == nil {
		err = cerr
	}
	l.db = nil
	return err
}

func (s *localTable) Iterator() (storage.Iterator, error) { return s.IteratorWithRange(nil, nil) }

func (s *localTable) IteratorWithRange(start, limit []byte) (storage.Iterator, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	r := util.BytesPrefix(start)
	if len(limit) > 0 {
		r = &util.Range{Start: start, Limit: limit}
	}
	return &tableIterator{it: db.NewIterator(r, nil)}, nil
}

// tableIterator is LevelDB's iterator over rows only.
type tableIterator struct{ it ldbiter.Iterator }

func (i *tableIterator) skip(ok bool) bool {
	for ok && (bytes.HasPrefix(i.it.Key(), []byte(undoPrefix)) || string(i.it.Key()) == offsetKey) {
		ok = i.it.Next()
	}
	return ok
}

func (i *tableIterator) Next() bool             { return i.skip(i.it.Next()) }
func (i *tableIterator) Seek(key []byte) bool   { return i.skip(i.it.Seek(key)) }
func (i *tableIterator) Err() error             { return i.it.Error() }
func (i *tableIterator) Key() []byte            { return i.it.Key() }
func (i *tableIterator) Value() ([]byte, error) { return i.it.Value(), nil }
func (i *tableIterator) Release()               { i.it.Release() }
