// Package gokautil adapts goka to hourglass: a table storage in memory and
// a logger on slog, for the count step and the views.
package gokautil

import (
	"bytes"
	"errors"
	"sort"
	"strings"
	"sync"

	"github.com/lovoo/goka/storage"
)

// memStore is a goka storage in memory: a map and the partition's offset.
// The table's changelog is the source of truth, so a copy that dies with
// the process needs no write-ahead log (LevelDB writes one). goka's own
// memory storage keeps its keys in a slice it sorts on every new key, which
// makes a table of a million rows take hours to fill; here writes are O(1)
// and an iterator sorts its snapshot once.
type memStore struct {
	mu     sync.RWMutex
	rows   map[string][]byte
	offset int64
	hasOff bool
}

// MemStorage is the storage.Builder of memStore.
func MemStorage() storage.Builder {
	return func(string, int32) (storage.Storage, error) {
		return &memStore{rows: map[string][]byte{}}, nil
	}
}

func (m *memStore) Open() error          { return nil }
func (m *memStore) Close() error         { return nil }
func (m *memStore) MarkRecovered() error { return nil }

func (m *memStore) Has(key string) (bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.rows[key]
	return ok, nil
}

func (m *memStore) Get(key string) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.rows[key], nil
}

func (m *memStore) Set(key string, value []byte) error {
	if value == nil {
		return errors.New("cannot write nil value")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rows[key] = value
	return nil
}

func (m *memStore) Delete(key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.rows, key)
	return nil
}

func (m *memStore) GetOffset(def int64) (int64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.hasOff {
		return def, nil
	}
	return m.offset, nil
}

func (m *memStore) SetOffset(offset int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.offset, m.hasOff = offset, true
	return nil
}

// Iterator returns an iterator over a snapshot of the rows, in key order.
// Values are never changed in place, so the snapshot shares them.
func (m *memStore) Iterator() (storage.Iterator, error) {
	return m.snapshot(func(string) bool { return true }), nil
}

// IteratorWithRange is Iterator over the keys in [start, limit]; an empty
// limit means every key starting with start.
func (m *memStore) IteratorWithRange(start, limit []byte) (storage.Iterator, error) {
	if len(limit) == 0 {
		return m.snapshot(func(k string) bool { return strings.HasPrefix(k, string(start)) }), nil
	}
	return m.snapshot(func(k string) bool {
		return bytes.Compare([]byte(k), start) >= 0 && bytes.Compare([]byte(k), limit) <= 0
	}), nil
}

func (m *memStore) snapshot(keep func(string) bool) *memIter {
	m.mu.RLock()
	it := &memIter{i: -1, rows: make([]memRow, 0, len(m.rows))}
	for k, v := range m.rows {
		if keep(k) {
			it.rows = append(it.rows, memRow{k, v})
		}
	}
	m.mu.RUnlock()
	sort.Slice(it.rows, func(i, j int) bool { return it.rows[i].key < it.rows[j].key })
	return it
}

type memRow struct {
	key   string
	value []byte
}

type memIter struct {
	i    int
	rows []memRow
}

func (it *memIter) Next() bool {
	if it.i < len(it.rows) {
		it.i++
	}
	return it.i < len(it.rows)
}

func (it *memIter) Err() error             { return nil }
func (it *memIter) Key() []byte            { return []byte(it.rows[it.i].key) }
func (it *memIter) Value() ([]byte, error) { return it.rows[it.i].value, nil }
func (it *memIter) Release()               { it.i = len(it.rows) }

func (it *memIter) Seek(key []byte) bool {
	it.i = sort.Search(len(it.rows), func(i int) bool { return it.rows[i].key >= string(key) }) - 1
	return it.i+1 < len(it.rows)
}
