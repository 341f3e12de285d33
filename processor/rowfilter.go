package processor

import (
	"fmt"
	"time"

	"github.com/bits-and-blooms/bloom/v3"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// A partition's table in a state directory answers most reads of rows it
// does not hold without LevelDB. Every event of a new window is such a
// read (goka reads a row before it writes it), and in LevelDB a miss is
// the costliest read there is: a search of its memtables and of a table
// on every level. When W4b filled 10M rows, those misses took 37% of the
// process's CPU. goleveldb's own Bloom filters (opt.Filter) spare the
// tables' data blocks but not the memtables, and share its 8 MiB block
// cache with the data; they did not make the fill faster.
//
// rowFilter is a Bloom filter, in memory, of every key the partition's
// LevelDB may hold: the keys it held when the filter was built, read in
// the background when the run opens the table, and every key written in
// the run since the filter began (a write reaches LevelDB only through a
// checkpoint of noted rows, or restore, which is over before). Until the
// build has read the whole table, reads go to LevelDB as before. Builds
// run one at a time in a process, so that a restart's counting keeps a
// core. The filter grows by layers of four times the keys of the one before,
// each with a 1% false positive rate, the first sized from the table's
// size on disk; a key is looked for in every layer. A layer costs about 10
// bits a key it has room for: 1.2 – 1.6 B a row after a restart, up to
// about 5 B while a table grows from empty (W4b's 10M rows, 1.25M a
// partition: 13 MB).

const (
	filterFirstLayer = 1 << 16 // keys in the first layer, at least
	filterFalse      = 0.01    // a layer's false positive rate
	filterChunk      = 4096    // keys the build adds under one lock
	// filterGrowth: a layer holds 1<<filterGrowth times the keys of the
	// one before.
	filterGrowth = 2
	// filterRowBytes is fewer bytes than a row takes on disk (W4's 27,
	// W1's 66), to size the first layer from the table's size.
	filterRowBytes = 16
)

// filterBuilds lets one build run at a time.
var filterBuilds = make(chan struct{}, 1)

type rowFilter struct {
	layers []*bloom.BloomFilter
	first  uint // keys in the first layer
	n      uint // keys in the newest layer
	keys   uint // in all layers
	// ready says that the filter holds every key in LevelDB: a key it
	// does not hold is not a row.
	ready bool

	// The build of one opening, stopped when goka closes the table.
	stop, done chan struct{}
}

// mayHold says whether key may be in the table: false means it is not.
func (f *rowFilter) mayHold(key []byte) bool {
	for _, l := range f.layers {
		if l.Test(key) {
			return true
		}
	}
	return false
}

// add puts key in the filter.
func (f *rowFilter) add(key []byte) {
	if !f.mayHold(key) {
		f.insert(key)
	}
}

// insert puts key, which the filter does not hold, in the filter.
func (f *rowFilter) insert(key []byte) {
	if len(f.layers) == 0 || f.n == f.first<<(filterGrowth*(len(f.layers)-1)) {
		f.first = max(f.first, filterFirstLayer)
		f.layers = append(f.layers, bloom.NewWithEstimates(f.first<<(filterGrowth*len(f.layers)), filterFalse))
		f.n = 0
	}
	f.layers[len(f.layers)-1].Add(key)
	f.n++
	f.keys++
}

// startFilter starts the build of the table's filter for this opening
// unless an earlier opening of the run finished it: it reads every key of
// db. The caller holds no lock.
func (l *tableLog) startFilter(db *leveldb.DB) {
	// A nil Limit is not the end here but the first key. Row keys are
	// UTF-8, so below 0xff; any others only make the first layer smaller.
	size, err := db.SizeOf([]util.Range{{Limit: []byte{0xff}}})
	l.mu.Lock()
	defer l.mu.Unlock()
	f := &l.filter
	if f.layers == nil && err == nil {
		f.first = uint(size.Sum() / filterRowBytes)
	}
	f.stop, f.done = make(chan struct{}), make(chan struct{})
	if f.ready {
		close(f.done)
		return
	}
	go func() {
		defer close(f.done)
		select {
		case filterBuilds <- struct{}{}:
			defer func() { <-filterBuilds }()
		case <-f.stop:
			return
		}
		err := l.buildFilter(db, f.stop)
		if err != nil && err != leveldb.ErrClosed {
			l.log.Warn("local table: reads go to LevelDB", "partition", l.partition, "error", err)
		}
	}()
}

// buildFilter adds every key of db to the filter, a chunk at a time, and
// marks it ready unless stopped first.
func (l *tableLog) buildFilter(db *leveldb.DB, stop chan struct{}) error {
	began := time.Now()
	it := &tableIterator{it: db.NewIterator(nil, &opt.ReadOptions{DontFillCache: true})} // rows only
	defer it.Release()
	var keys []byte                     // a chunk of keys, back to back
	ends := make([]int, 0, filterChunk) // where each ends
	add := func() {
		l.mu.Lock()
		begin := 0
		for _, end := range ends {
			l.filter.add(keys[begin:end])
			begin = end
		}
		l.mu.Unlock()
		keys, ends = keys[:0], ends[:0]
	}
	for it.Next() {
		keys = append(keys, it.Key()...)
		if ends = append(ends, len(keys)); len(ends) < filterChunk {
			continue
		}
		add()
		select {
		case <-stop:
			return nil
		default:
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("build the row filter: %w", err)
	}
	add()
	l.mu.Lock()
	l.filter.ready = true
	n, layers := l.filter.keys, len(l.filter.layers)
	l.mu.Unlock()
	l.log.Debug("local table: row filter ready", "partition", l.partition, "keys", n, "layers", layers, "took", time.Since(began))
	return nil
}

// stopFilter stops the opening's build and waits for it.
func (l *tableLog) stopFilter() {
	close(l.filter.stop)
	<-l.filter.done
}
