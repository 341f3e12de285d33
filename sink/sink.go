// Package sink writes a group's result rows into PostgreSQL, exactly once
// (`hourglass sink`). It reads the group's --output topic (read committed)
// as consumer group <group>-sink-<table> and upserts every row into a table, which
// it creates from the first row if missing: a column per key, window_start
// and window_end as timestamptz, count, each --agg column as numeric, final,
// and a primary key of the keys and window_start. A tombstone (a merged
// session, a row --retain expired) deletes its row.
//
// Exactly once: each batch of records is one database transaction that
// also moves the partitions' next offsets in hourglass_offsets. A sink
// starts each partition it is assigned from the offset the database holds,
// not Kafka's, and applies only records at or after it; the offset rows are
// locked for the transaction, so a sink that lost a partition and a sink
// that gained it never both apply a record. A kill at any moment repeats
// and loses nothing.
package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/processor"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Config is one sink.
type Config struct {
	Kafka kafka.Config
	Group string // the aggregate group: names the sink's consumer group and dead-letter topic
	Topic string // the group's --output topic
	DSN   string // postgres://user@host:port/db?sslmode=...; the password as libpq finds it
	Table string
	Log   *slog.Logger
	// MaxBatch bounds the records of one transaction (default 5,000).
	MaxBatch int
}

// Stats are a sink's totals.
type Stats struct {
	Records, Upserts, Deletes, Skipped, DeadLettered, Batches int64
}

// Sink is a running sink; Run it.
type Sink struct {
	cfg   Config
	log   *slog.Logger
	table pgx.Identifier
	stats struct{ records, upserts, deletes, skipped, deadLettered, batches atomic.Int64 }
	cols  []string // the table's columns, in order, once known
	keys  []string // its key columns (the primary key less window_start)
	// joined: the current run has joined its group; failure: why the
	// last run ended, until a run joins (for /readyz).
	joined  atomic.Bool
	failure atomic.Pointer[string]
}

// Ready reports whether the sink works: it has joined its consumer group
// and is not retrying a failure.
func (s *Sink) Ready() (bool, string) {
	if f := s.failure.Load(); f != nil {
		return false, "in an outage, retrying: " + *f
	}
	if !s.joined.Load() {
		return false, "joining the consumer group"
	}
	return true, ""
}

var tableRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

// New checks cfg.
func New(cfg Config) (*Sink, error) {
	var errs []error
	if cfg.Group == "" {
		errs = append(errs, errors.New("no group: set --group"))
	}
	if cfg.Topic == "" {
		errs = append(errs, errors.New("no topic: set --topic, the group's --output"))
	}
	if cfg.DSN == "" {
		errs = append(errs, errors.New("no database: set --to postgres://USER@HOST:PORT/DB"))
	}
	if !tableRE.MatchString(cfg.Table) {
		errs = append(errs, fmt.Errorf("--table %q: want NAME or SCHEMA.NAME (letters, digits, _)", cfg.Table))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 5000
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Sink{cfg: cfg, log: cfg.Log.With("group", cfg.Group, "table", cfg.Table), table: pgx.Identifier(strings.Split(cfg.Table, "."))}, nil
}

// ConsumerGroup is the consumer group of the sinks of aggregate group g
// into table: sinks of one group and table share the partitions.
func ConsumerGroup(g, table string) string { return g + "-sink-" + table }

// Stats returns the totals so far.
func (s *Sink) Stats() Stats {
	return Stats{Records: s.stats.records.Load(), Upserts: s.stats.upserts.Load(), Deletes: s.stats.deletes.Load(),
		Skipped: s.stats.skipped.Load(), DeadLettered: s.stats.deadLettered.Load(), Batches: s.stats.batches.Load()}
}

// Run sinks until ctx ends. A database or Kafka failure restarts the sink
// (from the database's offsets) with back-off; it gives up when ctx ends.
func (s *Sink) Run(ctx context.Context) error {
	backoff := 500 * time.Millisecond
	for {
		started := time.Now()
		s.joined.Store(false)
		err := s.runOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if permanent(err) {
			return err
		}
		if time.Since(started) > time.Minute {
			backoff = 500 * time.Millisecond
		}
		why := err.Error()
		s.failure.Store(&why)
		s.log.Warn("sink failed; restarting from the database's offsets", "in", backoff, "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// errPermanent marks failures a retry cannot mend (the table cannot hold
// the rows' shape, bad credentials).
var errPermanent = errors.New("permanent")

func permanent(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && (pg.Code == "28P01" || pg.Code == "28000" || pg.Code == "3D000" || pg.Code == "42501") {
		return true // authentication, no database, no privilege
	}
	return errors.Is(err, errPermanent) || errors.Is(kafka.Classify(err), kafka.ErrAuth)
}

func (s *Sink) runOnce(ctx context.Context) error {
	db, err := pgx.Connect(ctx, s.cfg.DSN)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer db.Close(context.Background())
	if err := s.prepare(ctx, db); err != nil {
		return err
	}
	// dbMu serialises the connection's users: the poll loop's apply and
	// franz-go's AdjustFetchOffsetsFn, which a rebalance calls on a
	// goroutine of its own while partitions kept through it are applied
	// (a second sink joining did that: "begin: conn busy").
	var dbMu sync.Mutex
	opts, err := s.cfg.Kafka.Kgo()
	if err != nil {
		return err
	}
	groupOpts, err := s.cfg.Kafka.GroupOpts()
	if err != nil {
		return err
	}
	dlq, err := s.cfg.Kafka.Producer(fnv.New32a)
	if err != nil {
		return err
	}
	defer dlq.Close()
	cl, err := kgo.NewClient(append(append(opts, groupOpts...),
		kgo.ConsumerGroup(ConsumerGroup(s.cfg.Group, s.cfg.Table)),
		kgo.ConsumeTopics(s.cfg.Topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Start where the database says, not where Kafka does.
		kgo.AdjustFetchOffsetsFn(func(ctx context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
			dbMu.Lock()
			defer dbMu.Unlock()
			return s.dbOffsets(ctx, db, offs)
		}),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			s.joined.Store(true)
			s.failure.Store(nil)
		}),
	)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	for {
		fetches := cl.PollRecords(ctx, s.cfg.MaxBatch)
		if ctx.Err() != nil {
			cl.AllowRebalance()
			return nil
		}
		if err := fetches.Err0(); err != nil {
			cl.AllowRebalance()
			return fmt.Errorf("read %s: %w", s.cfg.Topic, err)
		}
		var firstErr error
		fetches.EachError(func(_ string, _ int32, err error) {
			if firstErr == nil {
				firstErr = err
			}
		})
		if firstErr != nil {
			cl.AllowRebalance()
			return fmt.Errorf("read %s: %w", s.cfg.Topic, firstErr)
		}
		recs := fetches.Records()
		if len(recs) > 0 {
			dbMu.Lock()
			err := s.apply(ctx, db, dlq, recs)
			dbMu.Unlock()
			if err != nil {
				cl.AllowRebalance()
				return err
			}
			// For `hourglass status` and lag metrics only: the database's
			// offsets are the ones the sink resumes from.
			_ = cl.CommitRecords(ctx, recs...)
		}
		cl.AllowRebalance()
	}
}

const offsetsDDL = `CREATE TABLE IF NOT EXISTS hourglass_offsets (
	sink text NOT NULL, topic text NOT NULL, partition integer NOT NULL, next_offset bigint NOT NULL,
	PRIMARY KEY (sink, topic, partition))`

// prepare creates the offsets table and reads the result table's columns
// if it exists.
func (s *Sink) prepare(ctx context.Context, db *pgx.Conn) error {
	if _, err := db.Exec(ctx, offsetsDDL); err != nil {
		return fmt.Errorf("create hourglass_offsets: %w", err)
	}
	return s.readColumns(ctx, db)
}

func (s *Sink) readColumns(ctx context.Context, db *pgx.Conn) error {
	schema, name := "", s.cfg.Table
	if i := strings.IndexByte(name, '.'); i >= 0 {
		schema, name = name[:i], name[i+1:]
	}
	rows, err := db.Query(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_name = $1 AND ($2 = '' OR table_schema = $2) AND ($2 <> '' OR table_schema = current_schema())
		ORDER BY ordinal_position`, name, schema)
	if err != nil {
		return fmt.Errorf("columns of %s: %w", s.cfg.Table, err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("columns of %s: %w", s.cfg.Table, err)
	}
	s.setColumns(cols)
	return nil
}

// setColumns takes the table's columns: the keys are those before
// window_start.
func (s *Sink) setColumns(cols []string) {
	s.cols, s.keys = cols, nil
	if i := slices.Index(cols, "window_start"); i > 0 {
		s.keys = cols[:i]
	}
}

// dbOffsets replaces the offsets Kafka would start the assigned
// partitions at with the database's: the next record after the last
// applied, or the start.
func (s *Sink) dbOffsets(ctx context.Context, db *pgx.Conn, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	rows, err := db.Query(ctx, `SELECT partition, next_offset FROM hourglass_offsets WHERE sink = $1 AND topic = $2`, s.cfg.Table, s.cfg.Topic)
	if err != nil {
		return nil, fmt.Errorf("read hourglass_offsets: %w", err)
	}
	next := map[int32]int64{}
	for rows.Next() {
		var p int32
		var o int64
		if err := rows.Scan(&p, &o); err != nil {
			rows.Close()
			return nil, err
		}
		next[p] = o
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := map[string]map[int32]kgo.Offset{}
	for t, ps := range offs {
		out[t] = map[int32]kgo.Offset{}
		for p := range ps {
			if o, ok := next[p]; ok {
				out[t][p] = kgo.NewOffset().At(o)
			} else {
				out[t][p] = kgo.NewOffset().AtStart()
			}
		}
	}
	s.log.Info("partitions assigned; starting at the database's offsets", "offsets", fmt.Sprint(next))
	return out, nil
}

// change is a row's last version in a batch: its values, or a delete.
type change struct {
	rec    *kgo.Record
	values map[string]any // nil: delete
	names  []string       // the row's fields, in order
	pk     []any
}

// apply writes recs in one transaction: for each partition only the
// records at or after the database's next offset, each row's last
// version, and the partitions' new next offsets.
func (s *Sink) apply(ctx context.Context, db *pgx.Conn, dlq *kgo.Client, recs []*kgo.Record) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	byPart := map[int32][]*kgo.Record{}
	var parts []int32
	for _, r := range recs {
		if _, ok := byPart[r.Partition]; !ok {
			parts = append(parts, r.Partition)
		}
		byPart[r.Partition] = append(byPart[r.Partition], r)
	}
	slices.Sort(parts) // one lock order for every sink
	var changes []*change
	at := map[string]int{}
	var bad []badRecord
	for _, p := range parts {
		next := int64(-1)
		err := tx.QueryRow(ctx, `SELECT next_offset FROM hourglass_offsets WHERE sink = $1 AND topic = $2 AND partition = $3 FOR UPDATE`,
			s.cfg.Table, s.cfg.Topic, p).Scan(&next)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("lock the offset of partition %d: %w", p, err)
		}
		last := int64(-1)
		for _, r := range byPart[p] {
			if r.Offset < next {
				s.stats.skipped.Add(1) // applied before: a redelivery
				continue
			}
			last = r.Offset
			c, err := s.parse(r)
			if err != nil {
				bad = append(bad, badRecord{r, err})
				continue
			}
			idb, _ := json.Marshal(c.pk) // keys with any characters stay apart
			id := string(idb)
			if i, ok := at[id]; ok {
				changes[i] = c
			} else {
				at[id] = len(changes)
				changes = append(changes, c)
			}
		}
		if last >= 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO hourglass_offsets (sink, topic, partition, next_offset) VALUES ($1, $2, $3, $4)
				ON CONFLICT (sink, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset`, s.cfg.Table, s.cfg.Topic, p, last+1); err != nil {
				return fmt.Errorf("store the offset of partition %d: %w", p, err)
			}
		}
	}
	if err := s.ensureTable(ctx, tx, changes); err != nil {
		return err
	}
	more, err := s.write(ctx, tx, changes)
	if err != nil {
		return err
	}
	bad = append(bad, more...)
	if len(bad) > 0 {
		if err := s.deadLetter(ctx, dlq, bad); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	s.stats.records.Add(int64(len(recs)))
	s.stats.batches.Add(1)
	return nil
}

// parse reads a result row, or a tombstone's key.
func (s *Sink) parse(r *kgo.Record) (*change, error) {
	key, start, err := windows.ParseRowKey(string(r.Key))
	if err != nil {
		return nil, err
	}
	c := &change{rec: r}
	if r.Value == nil {
		// A tombstone names its row by its key: split several keys as
		// the table's columns say.
		keys := []string{key}
		if len(s.keys) > 1 {
			vals, ok := windows.SplitKeys(key, s.keys)
			if !ok {
				return nil, fmt.Errorf("tombstone key %q: not %d keys", r.Key, len(s.keys))
			}
			keys = vals
		}
		for _, k := range keys {
			c.pk = append(c.pk, k)
		}
		c.pk = append(c.pk, start)
		return c, nil
	}
	names, obj, err := rowFields(r.Value)
	if err != nil {
		return nil, fmt.Errorf("result row: %w", err)
	}
	c.names, c.values = names, obj
	for _, n := range names {
		if n == "window_start" {
			break
		}
		c.pk = append(c.pk, obj[n])
	}
	c.pk = append(c.pk, start)
	return c, nil
}

// rowFields reads a result row, a JSON object, in one pass: its fields'
// names in order, and their values (numbers as json.Number).
func rowFields(data []byte) ([]string, map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, fmt.Errorf("not a JSON object (%v)", err)
	}
	var names []string
	values := map[string]any{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		name, _ := t.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		names, values[name] = append(names, name), v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, nil, err
	}
	return names, values, nil
}

// ensureTable creates the table from the first row, if it has no columns.
func (s *Sink) ensureTable(ctx context.Context, tx pgx.Tx, changes []*change) error {
	if len(s.cols) > 0 {
		return nil
	}
	var names []string
	for _, c := range changes {
		if c.values != nil {
			names = c.names
			break
		}
	}
	if names == nil {
		return nil
	}
	var defs, keys []string
	i := slices.Index(names, "window_start")
	if i < 1 {
		return fmt.Errorf("%w: result rows without keys and window_start: %v", errPermanent, names)
	}
	for j, n := range names {
		typ := "numeric"
		switch {
		case j < i:
			typ = "text NOT NULL"
			keys = append(keys, pgx.Identifier{n}.Sanitize())
		case n == "window_start", n == "window_end":
			typ = "timestamptz NOT NULL"
		case n == "count":
			typ = "bigint NOT NULL"
		case n == "final":
			typ = "boolean NOT NULL"
		}
		defs = append(defs, pgx.Identifier{n}.Sanitize()+" "+typ)
	}
	ddl := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s, PRIMARY KEY (%s, window_start))", s.table.Sanitize(), strings.Join(defs, ", "), strings.Join(keys, ", "))
	if _, err := tx.Exec(ctx, ddl); err != nil {
		return fmt.Errorf("create %s: %w", s.cfg.Table, err)
	}
	s.setColumns(names)
	s.log.Info("created the table", "ddl", ddl)
	return nil
}

type badRecord struct {
	rec *kgo.Record
	err error
}

// write applies changes; the rows the database refuses (a value its
// column cannot hold) are returned, each in a savepoint of its own so that
// the others commit.
func (s *Sink) write(ctx context.Context, tx pgx.Tx, changes []*change) ([]badRecord, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	if _, err := tx.Exec(ctx, "SAVEPOINT batch"); err != nil {
		return nil, err
	}
	err := s.writeAll(ctx, tx, changes)
	if err == nil {
		return nil, nil
	}
	if !dataError(err) {
		return nil, err
	}
	// One row is bad: apply them one by one.
	if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT batch"); err != nil {
		return nil, err
	}
	var bad []badRecord
	for _, c := range changes {
		if _, err := tx.Exec(ctx, "SAVEPOINT one"); err != nil {
			return nil, err
		}
		err := s.writeAll(ctx, tx, []*change{c})
		switch {
		case err == nil:
			if _, err := tx.Exec(ctx, "RELEASE SAVEPOINT one"); err != nil {
				return nil, err
			}
		case dataError(err):
			bad = append(bad, badRecord{c.rec, err})
			if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT one"); err != nil {
				return nil, err
			}
		default:
			return nil, err
		}
	}
	return bad, nil
}

// dataError reports the database refusing a value or a column, not
// failing: SQLSTATE classes 22 (data exception) and 23 (integrity), and
// undefined column or a datatype mismatch.
func dataError(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (strings.HasPrefix(pg.Code, "22") || strings.HasPrefix(pg.Code, "23") || pg.Code == "42703" || pg.Code == "42804")
}

// writeAll upserts the rows of changes in multi-row statements and
// deletes the tombstoned ones.
func (s *Sink) writeAll(ctx context.Context, tx pgx.Tx, changes []*change) error {
	var upserts []*change
	for _, c := range changes {
		if c.values != nil {
			upserts = append(upserts, c)
			continue
		}
		where, args := s.pkWhere(c.pk)
		if _, err := tx.Exec(ctx, "DELETE FROM "+s.table.Sanitize()+" WHERE "+where, args...); err != nil {
			return err
		}
		s.stats.deletes.Add(1)
	}
	const perStatement = 500
	for len(upserts) > 0 {
		n := min(len(upserts), perStatement)
		if err := s.upsert(ctx, tx, upserts[:n]); err != nil {
			return err
		}
		s.stats.upserts.Add(int64(n))
		upserts = upserts[n:]
	}
	return nil
}

func (s *Sink) pkWhere(pk []any) (string, []any) {
	var conds []string
	for i, k := range s.keys {
		conds = append(conds, fmt.Sprintf("%s = $%d", pgx.Identifier{k}.Sanitize(), i+1))
	}
	conds = append(conds, fmt.Sprintf("window_start = $%d", len(s.keys)+1))
	return strings.Join(conds, " AND "), pk
}

// upsert writes rows as INSERT ... ON CONFLICT DO UPDATE over the table's
// columns; a row's missing column is NULL, a column the table lacks is an
// error (undefined column) that dead-letters the row.
func (s *Sink) upsert(ctx context.Context, tx pgx.Tx, rows []*change) error {
	cols := s.cols
	for _, c := range rows {
		for n := range c.values {
			if !slices.Contains(cols, n) {
				return &pgconn.PgError{Code: "42703", Message: fmt.Sprintf("column %q of the row is not in table %s", n, s.cfg.Table)}
			}
		}
	}
	var quoted, sets []string
	for _, c := range cols {
		q := pgx.Identifier{c}.Sanitize()
		quoted = append(quoted, q)
		if c != "window_start" && !slices.Contains(s.keys, c) {
			sets = append(sets, q+" = EXCLUDED."+q)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", s.table.Sanitize(), strings.Join(quoted, ", "))
	args := make([]any, 0, len(rows)*len(cols))
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j, c := range cols {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$%d", len(args)+1)
			args = append(args, sqlValue(r.values[c]))
		}
		b.WriteByte(')')
	}
	var pk []string
	for _, k := range s.keys {
		pk = append(pk, pgx.Identifier{k}.Sanitize())
	}
	fmt.Fprintf(&b, " ON CONFLICT (%s, window_start) DO UPDATE SET %s", strings.Join(pk, ", "), strings.Join(sets, ", "))
	_, err := tx.Exec(ctx, b.String(), args...)
	return err
}

// sqlValue passes a JSON value to pgx: numbers as their text (numeric and
// bigint columns take it exactly), the rest as they are.
func sqlValue(v any) any {
	if n, ok := v.(json.Number); ok {
		return string(n)
	}
	return v
}

// deadLetter writes refused rows to <group>-dlq with the database's error
// (at least once: a crash before the commit writes them again).
func (s *Sink) deadLetter(ctx context.Context, dlq *kgo.Client, bad []badRecord) error {
	var recs []*kgo.Record
	for _, b := range bad {
		s.log.Warn("dead-lettered a row the database refused", "partition", b.rec.Partition, "offset", b.rec.Offset, "error", b.err)
		recs = append(recs, &kgo.Record{Topic: processor.DeadLetterTopic(s.cfg.Group), Key: b.rec.Key, Value: b.rec.Value, Headers: []kgo.RecordHeader{
			{Key: processor.HeaderError, Value: []byte(b.err.Error())},
			{Key: processor.HeaderErrorKind, Value: []byte("sink")},
			{Key: processor.HeaderSourceTopic, Value: []byte(b.rec.Topic)},
			{Key: processor.HeaderSourcePartition, Value: []byte(strconv.Itoa(int(b.rec.Partition)))},
			{Key: processor.HeaderSourceOffset, Value: []byte(strconv.FormatInt(b.rec.Offset, 10))},
		}})
	}
	if err := dlq.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("write dead letters: %w", err)
	}
	s.stats.deadLettered.Add(int64(len(bad)))
	return nil
}
