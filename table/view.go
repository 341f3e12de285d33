// Package table reads a group's table, the result of `hourglass
// aggregate`: its format (Codec), its topic, and View, which follows it
// from any process, with row filters and totals. It is the read side:
// report, serve, query and the bench use it without the engine.
package table

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/hourglass-stream/hourglass/agg"
	"github.com/hourglass-stream/hourglass/internal/gokautil"
	"github.com/hourglass-stream/hourglass/internal/wire"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topic is the group table (compacted changelog) of group, as goka names
// it.
func Topic(group string) string { return string(goka.GroupTable(goka.Group(group))) }

// ViewConfig describes a reader of a group's table.
type ViewConfig struct {
	Kafka  kafka.Config   // required
	Sarama *sarama.Config // required
	Group  string         // required
	Logger *slog.Logger   // nil means slog.Default()
}

// ErrNoTable is returned by OpenView when the group has no table yet.
var ErrNoTable = errors.New("no group table")

// View follows a group table through a Goka view, from any process. It
// keeps the table in memory.
type View struct {
	view   *goka.View
	table  string
	kafka  kafka.Config
	admin  *kadm.Client // for Lag; made on first use
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done is closed
	log    *slog.Logger
	// unreadable holds the keys of rows that Rows skipped because they
	// cannot be read (logged once each).
	unreadable sync.Map
}

// OpenView starts a view of cfg.Group's table. It returns once the view
// runs; WaitRecovered waits until it holds the whole table. Close stops it.
func OpenView(ctx context.Context, cfg ViewConfig) (*View, error) {
	if err := cfg.Kafka.Validate(); err != nil {
		return nil, err
	}
	if cfg.Group == "" {
		return nil, fmt.Errorf("no group: set --group")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	table := Topic(cfg.Group)
	adm, err := kafka.NewAdmin(cfg.Kafka.Brokers, cfg.Sarama)
	if err != nil {
		return nil, err
	}
	n, err := adm.Partitions(table)
	adm.Close()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("%w %s: has `hourglass aggregate --group %s` run against these brokers?", ErrNoTable, table, cfg.Group)
	}
	c := *cfg.Sarama
	tmc := goka.NewTopicManagerConfig()
	tmc.NoCreate = true
	// Goka's view never closes the consumer and topic manager it builds:
	// they are kept here and closed with the view.
	var clients closers
	consumers, topicManagers := goka.SaramaConsumerBuilderWithConfig(&c), goka.TopicManagerBuilderWithConfig(&c, tmc)
	gv, err := goka.NewView(cfg.Kafka.Brokers, goka.Table(table), Codec{},
		goka.WithViewStorageBuilder(gokautil.MemStorage()),
		goka.WithViewConsumerSaramaBuilder(func(brokers []string, clientID string) (sarama.Consumer, error) {
			cons, err := consumers(brokers, clientID)
			clients.add(cons, err)
			return cons, err
		}),
		goka.WithViewTopicManagerBuilder(func(brokers []string) (goka.TopicManager, error) {
			tm, err := topicManagers(brokers)
			clients.add(tm, err)
			return tm, err
		}),
		goka.WithViewLogger(gokautil.Logger{Log: log.With("view", table), WarnErrors: true}),
		// A view outlives broker restarts and leader moves: a partition
		// whose consumer fails reloads from the offset it holds, within
		// seconds rather than goka's default of up to two minutes.
		goka.WithViewAutoReconnect(),
		goka.WithViewBackoffBuilder(func() (goka.Backoff, error) {
			return goka.NewSimpleBackoff(time.Second, 10*time.Second), nil
		}),
		goka.WithViewBackoffResetTimeout(time.Minute),
	)
	if err != nil {
		clients.close()
		return nil, fmt.Errorf("view %s: %w", table, err)
	}
	rctx, cancel := context.WithCancel(ctx)
	v := &View{view: gv, table: table, kafka: cfg.Kafka, cancel: cancel, done: make(chan struct{}), log: log}
	go func() {
		defer close(v.done)
		defer clients.close()
		if err := gv.Run(rctx); err != nil {
			v.err = fmt.Errorf("view %s: %w", table, err)
		}
	}()
	return v, nil
}

// WaitRecovered blocks until the view has caught up with the table's
// changelog, the view stops, or ctx ends.
func (v *View) WaitRecovered(ctx context.Context) error {
	// Poll rather than use goka's ObserveStateChanges: goka delivers state
	// changes while holding the lock that Recovered needs, so a reader that
	// checks Recovered between two receives deadlocks the view.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if v.view.Recovered() {
			return nil
		}
		select {
		case <-tick.C:
		case <-v.done:
			if v.err != nil {
				return v.err
			}
			return errors.New("view stopped before it recovered")
		case <-ctx.Done():
			return fmt.Errorf("wait for the view to recover: %w", ctx.Err())
		}
	}
}

// Recovered reports whether the view holds the whole table.
func (v *View) Recovered() bool { return v.view.Recovered() }

// Filter selects result rows. Its zero value selects all.
type Filter struct {
	Key  string    // only this group key, if set (KeySet says so)
	From time.Time // only windows starting at or after From, if not zero
	To   time.Time // only windows starting before To, if not zero
	// KeySet distinguishes "no key filter" from a filter on the empty key.
	KeySet bool
}

func (f Filter) match(r windows.Result) bool {
	return (!f.KeySet || r.Key == f.Key) &&
		(f.From.IsZero() || !r.WindowStart.Before(f.From)) &&
		(f.To.IsZero() || r.WindowStart.Before(f.To))
}

// Row is a result row with its state: Final once the watermark has
// closed its window and the final row is written (--emit final).
type Row struct {
	windows.Result
	Final bool `json:"final"`
}

// MarshalJSON writes the result's key (or keys, by name), window, count,
// --agg columns, then final.
func (r Row) MarshalJSON() ([]byte, error) { return r.Result.MarshalFinal(r.Final) }

// scan calls fn for every result row f selects, in no order, and returns
// the event-time progress the partitions' watermark rows record.
func (v *View) scan(f Filter, fn func(Row)) (p Progress, err error) {
	it, err := v.iterator()
	if err != nil {
		return p, fmt.Errorf("read view: %w", err)
	}
	defer it.Release()
	// A session moving to a row of its own is in its key's row too until
	// the key's row without it arrives: it counts once.
	sessions := map[string]Row{}
	own := map[string]bool{}
	for it.Next() {
		val, err := it.Value()
		if err != nil {
			v.skip(it.Key(), err)
			continue
		}
		switch x := val.(type) {
		case nil: // a deleted row
		case wire.WatermarkRow:
			p.add(x)
		case windows.Sessions:
			for _, s := range x.List {
				r := Row{Result: windows.Result{Key: it.Key(), WindowStart: s.Window.Start, WindowEnd: s.Window.End, Count: s.Count}, Final: s.State == windows.Final}
				if f.match(r.Result) {
					sessions[windows.RowKey(r.Key, s.Window)] = r
				}
			}
		case windows.Row:
			key, _, err := windows.ParseRowKey(it.Key())
			if err != nil {
				v.skip(it.Key(), err)
				continue
			}
			r := Row{Result: x.Result(key), Final: x.State == windows.Final}
			if f.match(r.Result) {
				fn(r)
				own[it.Key()] = true
			}
		}
	}
	if err := it.Err(); err != nil {
		return Progress{}, fmt.Errorf("read view: %w", err)
	}
	for k, r := range sessions {
		if !own[k] {
			fn(r)
		}
	}
	slices.Sort(p.Ended)
	return p, nil
}

// Rows returns the rows of the table that f selects, ordered by window
// start, then key.
func (v *View) Rows(f Filter) ([]windows.Result, error) {
	var rows []windows.Result
	if _, err := v.scan(f, func(r Row) { rows = append(rows, r.Result) }); err != nil {
		return nil, err
	}
	SortResults(rows)
	return rows, nil
}

// Query selects a page of rows: those Filter selects, newest window first
// (or Oldest first), at most Limit (0: all), after the row Cursor names.
type Query struct {
	Filter
	Limit  int
	Oldest bool
	Cursor string // from a Page's Next; empty: from the first row
}

// Page is one page of a Query's rows, Next the cursor of the page after
// it (empty: none), and the table's event-time Progress, read in the same
// pass.
type Page struct {
	Rows     []Row
	Next     string
	Progress Progress
}

// Select reads a page of rows.
func (v *View) Select(q Query) (Page, error) {
	var rows []Row
	progress, err := v.scan(q.Filter, func(r Row) { rows = append(rows, r) })
	if err != nil {
		return Page{}, err
	}
	p, err := Paginate(rows, q)
	p.Progress = progress
	return p, err
}

// ErrBadCursor is wrapped when a Query's cursor is not one of Select's.
var ErrBadCursor = errors.New("bad cursor")

// Paginate orders rows as q asks and cuts its page: Select's, for views
// of other kinds too. A cursor is the order position (window start, window
// end, key) of the last row given.
func Paginate(rows []Row, q Query) (Page, error) {
	before := func(a, b Row) bool { // a comes first
		if !a.WindowStart.Equal(b.WindowStart) {
			return a.WindowStart.Before(b.WindowStart) == q.Oldest
		}
		if !a.WindowEnd.Equal(b.WindowEnd) {
			return a.WindowEnd.Before(b.WindowEnd) == q.Oldest
		}
		return a.Key < b.Key
	}
	sort.Slice(rows, func(i, j int) bool { return before(rows[i], rows[j]) })
	if q.Cursor != "" {
		last, err := decodeCursor(q.Cursor)
		if err != nil {
			return Page{}, err
		}
		i := sort.Search(len(rows), func(i int) bool { return before(last, rows[i]) })
		rows = rows[i:]
	}
	var p Page
	if q.Limit > 0 && len(rows) > q.Limit {
		rows = rows[:q.Limit]
		p.Next = encodeCursor(rows[len(rows)-1])
	}
	p.Rows = rows
	if p.Rows == nil {
		p.Rows = []Row{}
	}
	return p, nil
}

func encodeCursor(r Row) string {
	b, _ := json.Marshal([]any{r.WindowStart.UnixMilli(), r.WindowEnd.UnixMilli(), r.Key})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (Row, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	var parts []json.RawMessage
	if err == nil {
		err = json.Unmarshal(b, &parts)
	}
	var start, end int64
	var key string
	if err == nil && len(parts) == 3 {
		err = errors.Join(json.Unmarshal(parts[0], &start), json.Unmarshal(parts[1], &end), json.Unmarshal(parts[2], &key))
	} else if err == nil {
		err = errors.New("not three parts")
	}
	if err != nil {
		return Row{}, fmt.Errorf("%w %q: %v", ErrBadCursor, s, err)
	}
	return Row{Result: windows.Result{Key: key, WindowStart: time.UnixMilli(start).UTC(), WindowEnd: time.UnixMilli(end).UTC()}}, nil
}

// Progress is how far event time has got, from the table's watermark
// rows (aggregations with --watermark).
type Progress struct {
	// ClosedTo is how far every table partition has closed windows: the
	// earliest of the partitions' closing watermarks. Zero before any.
	ClosedTo time.Time
	// Latest holds, per input partition, the largest event time its marks
	// report, and Ended the input partitions of a bounded run that ended.
	Latest map[int32]time.Time
	Ended  []int32
	// Partitions counts the table partitions with a watermark row: none
	// without --watermark.
	Partitions int
}

// add takes one table partition's watermark row into account.
func (p *Progress) add(w wire.WatermarkRow) {
	p.Partitions++
	if p.Partitions == 1 || w.Closed.Before(p.ClosedTo) {
		p.ClosedTo = w.Closed
	}
	if p.Latest == nil {
		p.Latest = map[int32]time.Time{}
	}
	for src, m := range w.Marks {
		if m.Max.After(p.Latest[src]) {
			p.Latest[src] = m.Max
		}
		if m.Ended && !slices.Contains(p.Ended, src) {
			p.Ended = append(p.Ended, src)
		}
	}
}

// skip reports a row that cannot be read: one bad row never makes the
// table unreadable. Each is logged once; Unreadable counts them.
func (v *View) skip(key string, err error) {
	if _, seen := v.unreadable.LoadOrStore(key, true); !seen && v.log != nil {
		v.log.Warn("skipped a table row that cannot be read", "table", v.table, "key", fmt.Sprintf("%q", key), "error", err)
	}
}

// Unreadable returns how many distinct rows Rows has skipped as
// unreadable.
func (v *View) Unreadable() int {
	n := 0
	v.unreadable.Range(func(any, any) bool { n++; return true })
	return n
}

// readWait bounds how long Rows waits for partitions that are not running
// (still recovering, or reconnecting after a broker went away).
const readWait = 10 * time.Second

// iterator opens an iterator over the whole view. goka refuses one while a
// partition is not running; a reconnecting partition is back within
// seconds, so wait up to readWait for it.
func (v *View) iterator() (goka.Iterator, error) {
	deadline := time.Now().Add(readWait)
	for {
		it, err := v.view.Iterator()
		if err == nil || time.Now().After(deadline) {
			return it, err
		}
		select {
		case <-v.done:
			if v.err != nil {
				return nil, v.err
			}
			return nil, errors.New("view stopped")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// SortResults orders rows by window start, then window end, then key.
func SortResults(rows []windows.Result) {
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if !a.WindowStart.Equal(b.WindowStart) {
			return a.WindowStart.Before(b.WindowStart)
		}
		if !a.WindowEnd.Equal(b.WindowEnd) {
			return a.WindowEnd.Before(b.WindowEnd)
		}
		return a.Key < b.Key
	})
}

// Total is the sum of counts of one key over all its windows, and its
// aggregates merged over them (the sums summed, the sketches merged).
type Total struct {
	Key      string       `json:"key"`
	Total    int64        `json:"total"`
	Aggs     []agg.Column `json:"-"`
	KeyNames []string     `json:"-"` // several keys (windows.Result.KeyNames)
}

// KeyColumns are the total's key columns and values (as a Result's).
func (t Total) KeyColumns() (names, values []string) {
	return windows.Result{Key: t.Key, KeyNames: t.KeyNames}.KeyColumns()
}

// MarshalJSON writes the key (or keys, by name) and total, then each
// aggregate by name.
func (t Total) MarshalJSON() ([]byte, error) {
	names, values := t.KeyColumns()
	return windows.MarshalKeyed(names, values, struct {
		Total int64 `json:"total"`
	}{t.Total}, t.Aggs)
}

// Totals sums rows per key, ordered by key, and merges their aggregates.
func Totals(rows []windows.Result) []Total {
	at := map[string]int{}
	var out []Total
	for _, r := range rows {
		i, ok := at[r.Key]
		if !ok {
			cols, _ := agg.Clone(r.Aggs)
			at[r.Key], i = len(out), len(out)
			out = append(out, Total{Key: r.Key, Aggs: cols, KeyNames: r.KeyNames})
			out[i].Total = r.Count
			continue
		}
		t := &out[i]
		t.Total += r.Count
		if !agg.Same(t.Aggs, r.Aggs) {
			continue // the count step keeps a table's rows alike
		}
		for j, c := range t.Aggs {
			_ = c.State.Merge(r.Aggs[j].State)
		}
	}
	if out == nil {
		out = []Total{}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Lag is how many table records the view has not read yet: over the
// table's partitions, the end offset minus the next offset the view reads.
// It is 0 when the view is current.
func (v *View) Lag(ctx context.Context) (int64, error) {
	v.mu.Lock()
	if v.admin == nil {
		opts, err := v.kafka.Kgo()
		if err != nil {
			v.mu.Unlock()
			return 0, err
		}
		client, err := kgo.NewClient(opts...)
		if err != nil {
			v.mu.Unlock()
			return 0, err
		}
		v.admin = kadm.NewClient(client)
	}
	adm := v.admin
	v.mu.Unlock()
	ends, err := adm.ListEndOffsets(ctx, v.table)
	if err != nil {
		return 0, fmt.Errorf("view lag: %w", err)
	}
	starts, err := adm.ListStartOffsets(ctx, v.table)
	if err != nil {
		return 0, fmt.Errorf("view lag: %w", err)
	}
	stats := v.view.Stats(ctx)
	var lag int64
	ends.Each(func(end kadm.ListedOffset) {
		next := int64(0)
		if start, ok := starts.Lookup(v.table, end.Partition); ok {
			next = start.Offset
		}
		if ps, ok := stats.Partitions[end.Partition]; ok && ps != nil && ps.Input != nil && ps.Input.Count > 0 {
			next = max(next, ps.Input.LastOffset+1)
		}
		lag += max(0, end.Offset-next)
	})
	return lag, nil
}

// Close stops the view and waits for it. It is safe to call more than once.
func (v *View) Close() error {
	v.cancel()
	<-v.done
	v.mu.Lock()
	if v.admin != nil {
		v.admin.Close()
		v.admin = nil
	}
	v.mu.Unlock()
	if v.err != nil && !errors.Is(v.err, context.Canceled) {
		return v.err
	}
	return nil
}

// closers are clients to close once, whatever closed some of them before.
type closers struct {
	mu  sync.Mutex
	all []io.Closer
}

func (c *closers) add(cl io.Closer, err error) {
	if err != nil || cl == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.all = append(c.all, cl)
}

func (c *closers) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range c.all {
		_ = cl.Close() // one goka closed itself already answers an error
	}
	c.all = nil
}
