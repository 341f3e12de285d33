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
// Instead, writes are kept in memory and reach LevelDB at checkpoints, at
// most checkpointEvery apart (sooner once maxDirty rows wait), and at
// every clean close. A checkpoint writes, in one batch, the rows written
// since, the changelog offset the table reflects (the newest one
// acknowledged), and for each row with writes not yet acknowledged its
// undo entry: its value as the changelog last acknowledged it. A run that
// opens the table first puts back every row that has an undo entry; the
// table is then the changelog as of the checkpoint's offset, and goka
// reads only the changelog after it. Rows acknowledged after the
// checkpoint are among the records read again, as are the rows another
// instance wrote meanwhile. Batching the writes is also what makes the
// table fast: a row updated many times between checkpoints is written
// once, and LevelDB gets one write for thousands of rows (W1 with
// --state-dir: goleveldb's memtable took a quarter of the process's CPU
// when each update was its own write).
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
	// undoPrefix begins the key of a row's undo entry. Row keys are a
	// group key, "|" and a time (windows.RowKey), or a watermark row's: one
	// begins with it only if its group key begins with a NUL byte and this
	// text, as goka's own offset key is taken for granted.
	undoPrefix = "\x00hourglass.undo\x00"
	// checkpointEvery bounds the changelog a restart after a crash reads
	// again to about this much of the table's writes.
	checkpointEvery = 250 * time.Millisecond
)

// maxDirty bounds the rows a table keeps in memory between checkpoints
// (a variable for tests).
var maxDirty = 50000

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
			l = &tableLog{partition: partition, log: t.log, pending: map[string]int{}, acked: map[string]ackedRow{}, dirty: map[string]rowValue{}, clean: map[string]rowValue{}, undone: map[string]bool{}, offset: -1, savedOffset: -1}
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
		l.startFlusher()
		l.startFilter(db)
		return &localTable{l: l, log: t.log}, nil
	}
}

// acked is called by the count step's producer for every record it
// wrote, before goka hears of it. Tables in memory (nil) need nothing.
func (t *localTables) acked(r *kgo.Record, err error) {
	if t == nil || err != nil || r.Topic != t.topic {
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
	if t == nil {
		return
	}
	t.mu.Lock()
	l := t.parts[partition]
	t.mu.Unlock()
	if l != nil {
		l.landed(key, value, offset, false)
	}
}

// tableLog is one partition's bookkeeping in one run.
type tableLog struct {
	partition int32
	log       *slog.Logger

	mu         sync.Mutex
	db         *leveldb.DB // nil while goka has the table closed
	recovering bool        // goka is reading the changelog into the table
	pending    map[string]int
	// acked holds, for each row with writes not yet acknowledged (pending)
	// and each row acknowledged since the last checkpoint, its newest value
	// in the changelog: what its undo entry must say.
	acked    map[string]ackedRow
	failed   error               // a checkpoint's, which ends the run
	dirty    map[string]rowValue // rows written since the last checkpoint
	flushing map[string]rowValue // rows the checkpoint under way writes
	clean    map[string]rowValue // rows the last checkpoint wrote: read without LevelDB
	undone   map[string]bool     // rows with an undo entry on disk
	offset   int64               // the newest changelog offset the table reflects; -1: none
	// savedOffset is the offset the last checkpoint wrote.
	savedOffset int64
	// last is what get read last from LevelDB, until the next write: goka
	// reads a row before it writes it, and the write needs what it read.
	last struct {
		key   string
		value []byte
		found bool
		// filtered: the filter said the row is not in LevelDB, nor is
		// its key in the filter.
		filtered bool
	}

	// filter answers most reads of rows not in LevelDB (rowfilter.go).
	filter rowFilter

	restored int   // rows put back when the run opened the table
	read     int64 // changelog records recovered in this opening

	// Checkpoints are written by one goroutine per opening (the flusher,
	// every checkpointEvery or when woken), and by Close, MarkRecovered and
	// the iterators; cmu puts them in order. They build their batch under
	// mu and write it outside: neither the count step's writes nor the
	// producer's acknowledgements wait for LevelDB.
	cmu  sync.Mutex
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

// rowValue is a row's value, or its absence.
type rowValue struct {
	value   []byte
	present bool
}

// ackedRow is the newest value of a row that landed in the changelog, and
// its offset (-1: from before this run's writes).
type ackedRow struct {
	offset int64
	rowValue
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
		// The row was written before the record went out. A recovered
		// record is applied after this call: its offset comes with
		// goka's SetOffset, or a checkpoint in between would claim a row
		// it does not hold.
		l.offset = max(l.offset, offset)
	} else {
		l.read++
	}
	if a, ok := l.acked[key]; (ok && offset > a.offset) || (!ok && (l.pending[key] > 0 || own)) {
		l.acked[key] = ackedRow{offset: offset, rowValue: rowValue{value: value, present: value != nil}} // goka's encoding, not written to again
	}
}

// checkpoint writes, in one batch, the rows written since the last one,
// the undo entries of rows with writes not yet acknowledged (and drops
// those of rows acknowledged since), and the offset: the table as it was
// when the batch was built, which later writes and acknowledgements leave
// to the next checkpoint.
func (l *tableLog) checkpoint() error {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	return l.checkpointHeld()
}

// checkpointHeld is checkpoint for a caller holding cmu.
func (l *tableLog) checkpointHeld() error {
	l.mu.Lock()
	db, b := l.db, l.checkpointBatch()
	l.mu.Unlock()
	if b == nil {
		return nil
	}
	err := db.Write(b, nil)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		return fmt.Errorf("local table checkpoint: %w", err) // the run fails; the next one restores what is on disk
	}
	l.clean, l.flushing = l.flushing, nil
	return nil
}

// checkpointBatch builds a checkpoint's batch, nil if there is nothing to
// write, and notes what it holds as written. The caller holds mu.
func (l *tableLog) checkpointBatch() *leveldb.Batch {
	if l.db == nil || (len(l.dirty) == 0 && len(l.acked) == 0 && l.offset == l.savedOffset) {
		return nil
	}
	b := new(leveldb.Batch)
	for key, r := range l.dirty {
		if r.present {
			b.Put([]byte(key), r.value)
		} else {
			b.Delete([]byte(key))
		}
	}
	for key, a := range l.acked {
		switch {
		case l.pending[key] > 0:
			b.Put(undoKey(key), undoValue(a.rowValue))
			l.undone[key] = true
		case l.undone[key]:
			b.Delete(undoKey(key))
			delete(l.undone, key)
		}
		if l.pending[key] == 0 {
			delete(l.acked, key)
		}
	}
	if l.offset >= 0 {
		b.Put([]byte(offsetKey), strconv.AppendInt(nil, l.offset, 10))
	}
	l.flushing, l.dirty = l.dirty, make(map[string]rowValue, len(l.dirty))
	l.savedOffset = l.offset
	return b
}

// startFlusher starts the opening's flusher.
func (l *tableLog) startFlusher() {
	l.wake, l.stop, l.done = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(l.done)
		tick := time.NewTicker(checkpointEvery)
		defer tick.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-tick.C:
			case <-l.wake:
			}
			if err := l.checkpoint(); err != nil {
				l.mu.Lock()
				l.failed = err // the next write or close answers it
				l.mu.Unlock()
				return
			}
		}
	}()
}

// stopFlusher stops the opening's flusher and waits for it.
func (l *tableLog) stopFlusher() {
	close(l.stop)
	<-l.done
}

func undoKey(key string) []byte { return append([]byte(undoPrefix), key...) }

// undoValue is an undo entry: 1 and the row's value, or 0 for a row the
// changelog does not hold.
func undoValue(r rowValue) []byte {
	if !r.present {
		return []byte{0}
	}
	return append([]byte{1}, r.value...)
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

func (s *localTable) Open() error { return nil }

func (s *localTable) Has(key string) (bool, error) {
	_, found, err := s.l.get(key)
	return found, err
}

func (s *localTable) Get(key string) ([]byte, error) {
	v, _, err := s.l.get(key)
	return v, err
}

// get reads a row, from the rows not yet checkpointed or from LevelDB:
// nil and false if it is not there (goka takes any non-nil value, even
// an empty one, for a row).
func (l *tableLog) get(key string) ([]byte, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.db == nil {
		return nil, false, errTableClosed
	}
	return l.current(key)
}

// current is get for a caller holding l.mu.
func (l *tableLog) current(key string) ([]byte, bool, error) {
	if r, ok := l.dirty[key]; ok {
		return r.value, r.present, nil
	}
	if r, ok := l.flushing[key]; ok {
		return r.value, r.present, nil
	}
	if r, ok := l.clean[key]; ok {
		return r.value, r.present, nil
	}
	if l.last.key == key && key != "" {
		return l.last.value, l.last.found, nil
	}
	if l.filter.ready && !l.filter.mayHold([]byte(key)) {
		l.last.key, l.last.value, l.last.found, l.last.filtered = key, nil, false, true
		return nil, false, nil
	}
	v, err := l.db.Get([]byte(key), nil)
	if err != nil && err != leveldb.ErrNotFound {
		return nil, false, fmt.Errorf("local table: get %q: %w", key, err)
	}
	if err != nil {
		v = nil
	}
	l.last.key, l.last.value, l.last.found, l.last.filtered = key, v, err == nil, false
	return v, err == nil, nil
}

func (s *localTable) Set(key string, value []byte) error { return s.l.write(key, value, true) }

func (s *localTable) Delete(key string) error { return s.l.write(key, nil, false) }

// write sets (present) or deletes a row, in memory until the next
// checkpoint. Once the table is recovered, a write is the count step's,
// and goka writes it to the changelog next: a row's first write since all
// its earlier ones were acknowledged notes the row's value as the
// changelog has it, for its undo entry.
func (l *tableLog) write(key string, value []byte, present bool) error {
	behind, err := l.note(key, value, present)
	if err != nil || !behind {
		return err
	}
	return l.checkpoint() // the flusher falls behind: wait for it
}

// note is write's bookkeeping under mu; behind says the rows in memory
// have grown past twice maxDirty.
func (l *tableLog) note(key string, value []byte, present bool) (behind bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.db == nil {
		return false, errTableClosed
	}
	if l.failed != nil {
		return false, l.failed
	}
	if !l.recovering {
		if _, ok := l.acked[key]; !ok && l.pending[key] == 0 {
			old, found, err := l.current(key)
			if err != nil {
				return false, err
			}
			l.acked[key] = ackedRow{offset: -1, rowValue: rowValue{value: old, present: found}}
		}
		l.pending[key]++
	}
	prev, written := l.dirty[key]
	l.dirty[key] = rowValue{value: value, present: present}
	switch {
	case !present || (written && prev.present): // in the filter since
	case l.last.key == key && l.last.filtered: // a new row, as W4's
		l.filter.insert([]byte(key))
	default:
		l.filter.add([]byte(key))
	}
	l.last.key, l.last.value = "", nil
	if len(l.dirty) >= maxDirty {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
	return len(l.dirty) >= 2*maxDirty, nil
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
	l.offset, l.savedOffset = o, o
	return o, nil
}

// SetOffset is goka's: after each recovered record, and after each
// acknowledged table write (which acked saw first).
func (s *localTable) SetOffset(offset int64) error {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.offset = max(l.offset, offset)
	return nil
}

func (s *localTable) MarkRecovered() error {
	l := s.l
	l.mu.Lock()
	l.recovering = false
	s.log.Info("local table recovered", "partition", l.partition, "offset", l.offset, "changelog_records_read", l.read, "rows_restored", l.restored)
	l.restored = 0
	l.mu.Unlock()
	return l.checkpoint()
}

// Close stops the flusher, writes a last checkpoint and closes LevelDB.
func (s *localTable) Close() error {
	l := s.l
	l.mu.Lock()
	open := l.db != nil
	l.mu.Unlock()
	if !open {
		return nil
	}
	l.stopFlusher()
	l.stopFilter()
	l.cmu.Lock() // no checkpoint of another goroutine's writes to a closed table
	defer l.cmu.Unlock()
	err := l.checkpointHeld()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed != nil && err == nil {
		err = l.failed
	}
	if cerr := l.db.Close(); err == nil {
		err = cerr
	}
	l.db, l.failed = nil, nil
	return err
}

func (s *localTable) Iterator() (storage.Iterator, error) { return s.IteratorWithRange(nil, nil) }

// IteratorWithRange checkpoints first: LevelDB's iterator then sees every
// row written so far (and none written while it iterates).
func (s *localTable) IteratorWithRange(start, limit []byte) (storage.Iterator, error) {
	l := s.l
	if err := l.checkpoint(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	db := l.db
	l.mu.Unlock()
	if db == nil {
		return nil, errTableClosed
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
