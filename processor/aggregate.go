package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/hourglass-stream/hourglass/agg"
	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/internal/gokautil"
	"github.com/hourglass-stream/hourglass/internal/wire"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/predicate"
	"github.com/hourglass-stream/hourglass/windows"
	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"
)

// Start says where a group without committed offsets starts reading its
// input.
type Start int

const (
	// StartEarliest reads the input from its oldest retained record, as the
	// notebook's file source did. It is the default.
	StartEarliest Start = iota
	// StartLatest reads only records produced after the group first starts
	// (goka's own default).
	StartLatest
)

// ParseStart reads "earliest" or "latest".
func ParseStart(s string) (Start, error) {
	switch s {
	case "", "earliest":
		return StartEarliest, nil
	case "latest":
		return StartLatest, nil
	}
	return 0, fmt.Errorf("--start %q: want earliest or latest", s)
}

// KeyColumn is one of several group keys: its column name and its field.
type KeyColumn struct {
	Name string
	Path codec.Path
}

// AggregateConfig describes one aggregation processor. Fields marked
// required have no default.
type AggregateConfig struct {
	Kafka  kafka.Config   // required: where the topics are
	Sarama *sarama.Config // required: built once by the caller from Kafka
	Group  string         // required: the group; names the table and internal topics
	Input  string         // required: the input topic
	Key    codec.Path     // required: the group key field (the first of Keys)
	// Keys are the group keys when there are several (--key a --key
	// b): rows are keyed by windows.JSONKeys of their values and name
	// them; nil or one: Key alone.
	Keys []KeyColumn
	Time codec.Path // required unless RecordTime: the event time field
	// TimeFormat says how Time is read; the zero value is windows.TimeAuto.
	TimeFormat windows.TimeFormat
	// RecordTime takes each record's Kafka timestamp as its event time
	// (--time @timestamp) instead of a field.
	RecordTime bool
	// Where, if set, counts only the records it matches (--where); the
	// others are neither counted nor dead-lettered (AggregateStats.Rejected).
	Where *predicate.Predicate
	// Decoder decodes input values; nil means JSON.
	Decoder codec.Decoder
	// Aggs are the aggregates beyond count (--agg, agg.Parse: count
	// first); empty or count alone: rows count only.
	Aggs []agg.Spec
	// Windows assigns events to windows; required.
	Windows windows.Spec
	// Output, if set, receives every change of a row as a JSON OutputRow
	// (complete mode). It is created compacted if missing.
	Output string
	// Start applies when the group has no committed input offsets.
	Start Start
	// StateDir keeps Goka's local copy of the table in LevelDB between
	// runs. Empty means a copy in memory; the table is then recovered from
	// its changelog on start, which is always correct and only slower for
	// big tables. A kept directory is reused only after a clean stop, and
	// only by one process at a time.
	StateDir string
	// MaxOutage is how long Run keeps restarting while Kafka fails under
	// it; zero means DefaultMaxOutage.
	MaxOutage time.Duration
	// Partitions is the partition count of the internal topics (repartition,
	// table, output, dead letters) when they are created. Zero means the
	// input's partition count. Existing topics keep theirs.
	Partitions int32
	// TopicReplication and TopicConfigs are the replication factor (zero:
	// the broker's default) and more configs of the topics the group
	// creates: internal ones, --output, --late-topic.
	TopicReplication int16
	TopicConfigs     map[string]string
	// InputPartitions is used only to create the input topic when it is
	// missing. Zero means 8.
	InputPartitions int32
	// CreateInput creates the input topic when it is missing; without it a
	// missing input is an error (ErrNoInput).
	CreateInput bool
	// Logger receives operational messages; nil means slog.Default().
	Logger *slog.Logger
	// Until, when set, bounds the input per partition: records at or past
	// Until[p] of partition p are read and committed but not counted (a
	// bounded backfill). Partitions not in the map are not bounded.
	Until map[int32]int64
	// Ended lists the input partitions of a bounded run that have nothing
	// to read: with a watermark they hold no window open.
	Ended []int32
	// Watermark, if set, enables event-time lateness and window closing
	// with its lateness and idleness rules (--watermark, --idle-timeout,
	// --idle-flush). Nil means nothing is late and no window closes.
	Watermark *windows.Closer
	// Emit is the output mode; EmitFinal needs Output and Watermark.
	Emit Emit
	// LateTopic, if set, receives late events unchanged (needs Watermark).
	LateTopic string
	// Retain, if positive, deletes rows whose window ended more than Retain
	// before the watermark (needs Watermark, and Emit update or final).
	Retain time.Duration
	// BatchLinger is how long the rekey step collects records into a batch
	// before writing its updates (one per row); zero means
	// DefaultBatchLinger. See combine.go.
	BatchLinger time.Duration
	// BatchMax is the most records in a batch; zero means DefaultBatchMax
	// (BoundedBatchMax with Until), and 1 writes an update per event (as
	// session windows always do).
	BatchMax int
	// ObserveLatency, if set, is called for every record a step finishes
	// with the step ("rekey" or "count") and the time since the record was
	// written to that step's input topic.
	ObserveLatency func(step string, d time.Duration)
}

func (c *AggregateConfig) validate() error {
	errs := validateClient(c.Kafka, c.Sarama, c.Group)
	if c.Input == "" {
		errs = append(errs, errors.New("no input topic: set --input"))
	}
	for _, t := range []struct{ flag, name string }{{"--input", c.Input}, {"--output", c.Output}, {"--late-topic", c.LateTopic}} {
		if err := validateTopic(t.flag, t.name); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Key.String() == "" {
		errs = append(errs, errors.New("no group key: set --key"))
	}
	if c.Time.String() == "" && !c.RecordTime {
		errs = append(errs, errors.New("no event time: set --time"))
	}
	if c.Time.String() != "" && c.RecordTime {
		errs = append(errs, errors.New("both an event time field and the record timestamp as event time"))
	}
	if err := c.Windows.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(c.Aggs) > 1 && c.Windows.IsSession() {
		errs = append(errs, errors.New("--agg beyond count needs tumbling or hopping windows: session windows count only, for now"))
	}
	if len(c.Keys) > 1 {
		if c.Windows.IsSession() {
			errs = append(errs, errors.New("several --key need tumbling or hopping windows: session windows group by one key, for now"))
		}
		taken := map[string]bool{"count": true} // and the aggregates' columns
		for _, s := range c.Aggs {
			taken[s.Name] = true
		}
		for _, k := range c.Keys {
			if taken[k.Name] || agg.CheckName(k.Name) != nil {
				errs = append(errs, fmt.Errorf("--key %s=%s: the column name %q is taken or not an identifier", k.Name, k.Path, k.Name))
			}
			taken[k.Name] = true
		}
	}
	for _, t := range []string{TableTopic(c.Group), RepartitionTopic(c.Group), DeadLetterTopic(c.Group), WatermarkTopic(c.Group)} {
		if t == c.Input || t == c.Output || t == c.LateTopic {
			errs = append(errs, fmt.Errorf("topic %s is internal to group %s; choose another input or output", t, c.Group))
		}
	}
	if c.Output != "" && c.Output == c.Input {
		errs = append(errs, errors.New("--output must differ from --input"))
	}
	if c.Watermark == nil {
		switch {
		case c.Emit == EmitFinal:
			errs = append(errs, errors.New("--emit final needs --watermark: windows close when the watermark passes their end"))
		case c.LateTopic != "":
			errs = append(errs, errors.New("--late-topic needs --watermark: without one nothing is late"))
		case c.Retain > 0:
			errs = append(errs, errors.New("--retain needs --watermark: rows expire relative to it"))
		}
	} else if c.Watermark.Lateness < 0 || c.Watermark.IdleTimeout < 0 || c.Watermark.IdleFlush < 0 {
		errs = append(errs, errors.New("--watermark, --idle-timeout and --idle-flush must not be negative"))
	}
	if c.Emit == EmitFinal && c.Output == "" {
		errs = append(errs, errors.New("--emit final needs --output: final rows are written there"))
	}
	if c.Retain > 0 && c.Emit == EmitComplete {
		errs = append(errs, errors.New("--retain deletes rows, but --emit complete keeps the whole result table: use --emit update or final"))
	}
	if c.Retain < 0 {
		errs = append(errs, errors.New("--retain must not be negative"))
	}
	if c.LateTopic != "" && (c.LateTopic == c.Input || c.LateTopic == c.Output) {
		errs = append(errs, errors.New("--late-topic must differ from --input and --output"))
	}
	if c.BatchLinger < 0 || c.BatchMax < 0 {
		errs = append(errs, errors.New("--batch-linger and --batch-max must not be negative"))
	}
	if c.BatchMax > MaxBatchMax {
		errs = append(errs, fmt.Errorf("--batch-max %d: at most %d", c.BatchMax, MaxBatchMax))
	}
	if err := kafka.ValidateTopicSettings(c.TopicReplication, c.TopicConfigs); err != nil {
		errs = append(errs, err)
	}
	if c.Partitions < 0 || c.InputPartitions < 0 {
		errs = append(errs, errors.New("partition counts must be positive"))
	}
	return errors.Join(errs...)
}

// ErrNULKey is wrapped when a group key holds a NUL byte: those keys are
// the table's internal rows'.
var ErrNULKey = errors.New("a group key must not contain a NUL byte (U+0000)")

// ErrRowKeyLike is wrapped when a group key of session windows ends in
// "|" and a window start, the shape of the row key a session of another
// key moves to.
var ErrRowKeyLike = errors.New("a group key of session windows must not end in \"|\" and an RFC 3339 time (the shape of a row key)")

// DefaultIdleTimeout is the CLI's --idle-timeout: a source partition that
// has sent nothing, or nothing for this long, stops holding windows open,
// so that a topic with empty partitions (ingest of one small file puts
// every unkeyed record in one) still closes windows.
const DefaultIdleTimeout = time.Minute

// AggregateStats are running totals of one Aggregator process.
type AggregateStats struct {
	Read         int64 // input records read by the rekey step
	DeadLettered int64 // records sent to the dead-letter topic
	Updates      int64 // window updates sent to the repartition topic (one per row and batch)
	Applied      int64 // events counted into the table (per window: the sum of the updates' counts)
	Duplicates   int64 // events of redelivered updates skipped
	Beyond       int64 // input records at or past Until, not counted
	Rejected     int64 // input records --where did not match, not counted
	// KeptOnRecovery counts changelog records that recovery did not apply
	// because the local row already contained them (see recoverRow).
	KeptOnRecovery int64
	Late           int64 // late events (or, closed by idleness, late updates)
	Marks          int64 // watermark marks written by the rekey step
	Expired        int64 // rows deleted by --retain
	// SessionsMoved counts sessions that left their key's row for a row of
	// their own; SessionsClosedEarly those a key with more than
	// windows.MaxOpenSessions open sessions closed before the watermark.
	SessionsMoved, SessionsClosedEarly int64
	// Unavailable counts decode attempts that found the schema registry
	// unavailable; the record waited and was tried again.
	Unavailable int64
	// WriteErrors counts writes of the rekey step that failed (their
	// records are read again).
	WriteErrors int64
	// Nulls counts the --agg field values that were null or missing in
	// counted records: their aggregates skipped them.
	Nulls int64
}

type aggregateCounters struct {
	read, deadLettered, updates, applied, duplicates, beyond, keptOnRecovery atomic.Int64
	rejected                                                                 atomic.Int64
	late, marks, expired, writeErrors                                        atomic.Int64
	sessionsMoved, sessionsClosedEarly                                       atomic.Int64
	nulls                                                                    atomic.Int64
}

// Aggregator counts events per group key and window into a Goka group
// table. Create it with NewAggregator and start it with Run.
type Aggregator struct {
	cfg    AggregateConfig
	log    *slog.Logger
	stats  aggregateCounters
	wait   *waiter // the schema registry's outages
	alarm  alarm   // dead letters that likely mean a mistake
	count  *countStep
	health *health
	// caughtUp tells a bounded run's end in-process, nil for another run.
	caughtUp *caughtUp

	// The topology, found by ensureTopics before each run.
	sources        int32 // input partitions
	tableParts     int32 // table (and repartition) partitions
	outputParts    int32 // output partitions
	partitionOf    kgo.PartitionerHasher
	checkpointKeys []string // per input partition: its key in WatermarkTopic
	tableKeys      []string // per table partition: its watermark row key

	keyTime *codec.PathSet // Key, Time and the aggregates' fields, for a codec.Extractor
	// The aggregates' fields (agg.Fields) and, per aggregate beyond count,
	// the index of its field.
	fields   []codec.Path
	fieldOf  []int
	aggSpecs []agg.Spec // cfg.Aggs less count
	// With several keys: the paths of those after the first, and all
	// their names.
	moreKeys []codec.Path
	keyNames []string
	// whereFields: Where reads only these fields (predicate.Fields), so
	// that an extractor may build just them; whereExtract says it can.
	whereFields  []codec.Path
	whereExtract bool
}

// NewAggregator checks cfg and returns an Aggregator ready to Run.
func NewAggregator(cfg AggregateConfig) (*Aggregator, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("aggregate: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.Decoder == nil {
		cfg.Decoder, _ = codec.NewDecoder(codec.Spec{Name: "json"})
	}
	if cfg.BatchLinger == 0 {
		cfg.BatchLinger = DefaultBatchLinger
	}
	switch {
	case cfg.BatchMax != 0:
	case cfg.Until != nil:
		cfg.BatchMax = BoundedBatchMax
	default:
		cfg.BatchMax = DefaultBatchMax
	}
	if cfg.Watermark != nil {
		// The end of a bounded run closes the windows of its events, and
		// no later ones (windows.Closer.Horizon).
		c := *cfg.Watermark
		c.Horizon = cfg.Windows.Size
		if cfg.Windows.IsSession() {
			c.Horizon = cfg.Windows.Gap
		}
		cfg.Watermark = &c
	}
	a := &Aggregator{cfg: cfg, log: log.With("group", cfg.Group)}
	if len(cfg.Aggs) > 1 {
		var index []int
		a.fields, index = agg.Fields(cfg.Aggs)
		a.fieldOf, a.aggSpecs = index[1:], cfg.Aggs[1:]
	}
	if len(cfg.Keys) > 1 {
		for _, k := range cfg.Keys[1:] {
			a.moreKeys = append(a.moreKeys, k.Path)
		}
		for _, k := range cfg.Keys {
			a.keyNames = append(a.keyNames, k.Name)
		}
	}
	if cfg.Where != nil {
		a.whereFields, a.whereExtract = cfg.Where.Fields()
	}
	// Extract fills key, time (the key again for RecordTime, when more
	// follows), the fields, the other keys, then what Where reads.
	more := append(append(append([]codec.Path(nil), a.fields...), a.moreKeys...), a.whereFields...)
	switch {
	case cfg.RecordTime && len(more) == 0:
		a.keyTime = codec.NewPathSet(cfg.Key)
	case cfg.RecordTime:
		a.keyTime = codec.NewPathSet(append([]codec.Path{cfg.Key, cfg.Key}, more...)...)
	default:
		a.keyTime = codec.NewPathSet(append([]codec.Path{cfg.Key, cfg.Time}, more...)...)
	}
	a.wait = newWaiter(cfg.MaxOutage, a.log)
	a.count = newCountStep(a)
	a.health = newHealth("rekey", "count")
	a.caughtUp = newCaughtUp(cfg.Until != nil, a.count.client.Load)
	timeFlags := fmt.Sprintf("--time %s --time-format %s", cfg.Time, cfg.TimeFormat)
	if cfg.RecordTime {
		timeFlags = "--time @timestamp"
	}
	hint := fmt.Sprintf("--key %s, %s and --codec %s", cfg.Key, timeFlags, cfg.Decoder.Name())
	if cfg.Where != nil {
		hint += ", --where " + cfg.Where.String()
	}
	a.alarm = alarm{log: a.log, hint: hint + " against the records"}
	return a, nil
}

// Stats returns the totals so far of this process.
func (a *Aggregator) Stats() AggregateStats {
	return AggregateStats{
		Read:         a.stats.read.Load(),
		DeadLettered: a.stats.deadLettered.Load(),
		Updates:      a.stats.updates.Load(),
		Applied:      a.stats.applied.Load(),
		Duplicates:   a.stats.duplicates.Load(),
		Beyond:       a.stats.beyond.Load(),
		Rejected:     a.stats.rejected.Load(),
		Late:         a.stats.late.Load(),
		Marks:        a.stats.marks.Load(),
		Expired:      a.stats.expired.Load(),
		Unavailable:  a.wait.waits.Load(),
		WriteErrors:  a.stats.writeErrors.Load(),

		Nulls:               a.stats.nulls.Load(),
		KeptOnRecovery:      a.stats.keptOnRecovery.Load(),
		SessionsMoved:       a.stats.sessionsMoved.Load(),
		SessionsClosedEarly: a.stats.sessionsClosedEarly.Load(),
	}
}

// Run creates missing topics, then runs both steps until ctx is cancelled.
// On cancellation it stops consuming, waits for every write in flight and
// commits the offsets of what it processed, so a restart neither loses nor
// repeats a count. When Kafka fails under it (a broker outage, a lost
// session), it restarts both steps with back-off, recovering the table
// from its changelog, and gives up only after MaxOutage. It returns nil
// after a clean stop.
func (a *Aggregator) Run(ctx context.Context) error {
	sd, err := openStateDir(a.cfg.StateDir, a.cfg.Group, a.log)
	if err != nil {
		return fmt.Errorf("aggregate %s: %w", a.cfg.Group, err)
	}
	defer sd.close()
	defer a.count.back.Close()
	err = retry(ctx, a.log, a.cfg.MaxOutage, func(ctx context.Context) error { return a.runOnce(ctx, sd) })
	if err != nil {
		return fmt.Errorf("aggregate %s: %w", a.cfg.Group, err)
	}
	return nil
}

func (a *Aggregator) runOnce(ctx context.Context, sd *stateDir) (err error) {
	a.health.begin()
	defer func() {
		if m := a.count.mismatch.Load(); m != nil {
			err = *m // permanent: another run's --agg
		}
		if err != nil {
			a.health.fail(err)
		}
	}()
	if err := a.ensureTopics(); err != nil {
		return err
	}
	if err := sd.begin(); err != nil {
		return err
	}
	a.caughtUp.begin(a.tableParts)
	count, err := a.count.processor(sd)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return newRekeyStep(a).run(gctx) })
	g.Go(func() error { return runProcessor(gctx, count, "count") })
	if a.cfg.Watermark != nil {
		g.Go(func() error { return a.count.closeWindows(gctx, count) })
	}
	err = g.Wait()
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
		return sd.end() // a clean stop: the local tables match the changelog
	}
	if err == nil {
		err = errors.New("stopped on its own")
	}
	return err
}

func runProcessor(ctx context.Context, p *goka.Processor, step string) error {
	if err := p.Run(ctx); err != nil {
		return fmt.Errorf("%s step: %w", step, err)
	}
	// A processor returns nil when its context ends; one that returns while
	// its context is live has stopped on its own, and the other step must
	// stop too.
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("%s step stopped on its own", step)
}

// ensureTopics creates the input (if missing) and the internal topics, and
// refuses topics whose partition counts do not match.
func (a *Aggregator) ensureTopics() error {
	adm, err := kafka.NewAdmin(a.cfg.Kafka.Brokers, a.cfg.Sarama)
	if err != nil {
		return err
	}
	defer adm.Close()

	inParts := a.cfg.InputPartitions
	if inParts == 0 {
		inParts = 8
	}
	in, err := ensureInput(adm, a.cfg.Input, inParts, a.cfg.CreateInput, a.log)
	if err != nil {
		return err
	}

	want := a.cfg.Partitions
	if want == 0 {
		want = in
	}
	repart, table := RepartitionTopic(a.cfg.Group), TableTopic(a.cfg.Group)
	existingRepart, err := adm.Partitions(repart)
	if err != nil {
		return err
	}
	existingTable, err := adm.Partitions(table)
	if err != nil {
		return err
	}
	switch {
	case existingRepart > 0 && existingTable > 0 && existingRepart != existingTable:
		return fmt.Errorf("%w: %s has %d partitions but the group table %s has %d; they must be equal. Delete both to start group %s afresh, or use a new --group",
			kafka.ErrPartitionMismatch, repart, existingRepart, table, existingTable, a.cfg.Group)
	case existingTable > 0:
		want = existingTable
	case existingRepart > 0:
		want = existingRepart
	}
	if a.cfg.Partitions > 0 && a.cfg.Partitions != want {
		return fmt.Errorf("%w: group %s already has %d partitions, not the %d asked for with --partitions",
			kafka.ErrPartitionMismatch, a.cfg.Group, want, a.cfg.Partitions)
	}
	topics := []kafka.Topic{
		// Updates must outlive any pause of the count step; a week matches
		// Kafka's default log retention.
		{Name: repart, Partitions: want, Retention: 7 * 24 * time.Hour},
		{Name: table, Partitions: want, Compacted: true},
		{Name: DeadLetterTopic(a.cfg.Group), Partitions: want},
	}
	if a.cfg.Output != "" {
		topics = append(topics, kafka.Topic{Name: a.cfg.Output, Partitions: want, Compacted: true})
	}
	if a.cfg.Watermark != nil {
		topics = append(topics, kafka.Topic{Name: WatermarkTopic(a.cfg.Group), Partitions: in, Retention: 7 * 24 * time.Hour})
	}
	if a.cfg.LateTopic != "" {
		topics = append(topics, kafka.Topic{Name: a.cfg.LateTopic, Partitions: in})
	}
	for _, t := range topics {
		t.Replication, t.Configs = a.cfg.TopicReplication, a.cfg.TopicConfigs
		n, created, err := adm.Ensure(t)
		if err != nil {
			return err
		}
		if created {
			a.log.Info("created topic", "topic", t.Name, "partitions", n, "compacted", t.Compacted)
		}
		if (t.Name == repart || t.Name == table || (t.Name == a.cfg.Output && a.cfg.Emit == EmitFinal)) && n != want {
			return fmt.Errorf("%w: %s has %d partitions, want %d like the rest of group %s",
				kafka.ErrPartitionMismatch, t.Name, n, want, a.cfg.Group)
		}
		if t.Name == WatermarkTopic(a.cfg.Group) && n != in {
			return fmt.Errorf("%w: %s has %d partitions, but the input %s has %d: the input changed under group %s; use a new --group",
				kafka.ErrPartitionMismatch, t.Name, n, a.cfg.Input, in, a.cfg.Group)
		}
	}
	a.sources, a.tableParts, a.partitionOf = in, want, partitioner()
	if a.cfg.Output != "" {
		if a.outputParts, err = adm.Partitions(a.cfg.Output); err != nil {
			return err
		}
	}
	if a.cfg.Watermark != nil {
		a.checkpointKeys = partitionKeys("checkpoint|", in)
		a.tableKeys = partitionKeys(wire.WatermarkRowPrefix, want)
	}
	return nil
}

// gokaOptions are the options every goka processor of this package uses:
// the one sarama config for consuming, the idempotent franz-go producer for
// every write (see kgoProducer), goka's co-partitioning balancer, no topic
// creation by goka (ensureTopics did it with the right configs), logs
// through slog.
func gokaOptions(kc kafka.Config, cfg *sarama.Config, initial int64, log *slog.Logger) []goka.ProcessorOption {
	c := *cfg
	c.Consumer.Offsets.Initial = initial
	c.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{goka.CopartitioningStrategy}
	tmc := goka.NewTopicManagerConfig()
	tmc.NoCreate = true
	tmc.Table.Replication = 1
	tmc.Stream.Replication = 1
	return []goka.ProcessorOption{
		goka.WithConsumerGroupBuilder(goka.ConsumerGroupBuilderWithConfig(&c)),
		goka.WithConsumerSaramaBuilder(goka.SaramaConsumerBuilderWithConfig(&c)),
		goka.WithProducerBuilder(producerBuilder(kc, nil)),
		goka.WithTopicManagerBuilder(goka.TopicManagerBuilderWithConfig(&c, tmc)),
		goka.WithLogger(gokautil.Logger{Log: log}),
	}
}

func (a *Aggregator) observe(step string, written time.Time) {
	if a.cfg.ObserveLatency != nil && !written.IsZero() {
		a.cfg.ObserveLatency(step, time.Since(written))
	}
}

// errNotMatched is extract's answer for a record --where leaves out.
var errNotMatched = errors.New("not matched by --where")

// extract reads the group key and event time of one record: the value at
// Time in format TimeFormat, or the record's timestamp (RecordTime). A
// record that Where leaves out is errNotMatched, with no reason: it is
// neither counted nor dead-lettered.
func (a *Aggregator) extract(ctx context.Context, r *kgo.Record) (key string, at time.Time, reason Reason, err error) {
	key, at, _, reason, err = a.extractValues(ctx, r, nil, false)
	return key, at, reason, err
}

// extractLen is how many values extractValues extracts: key, time, the
// aggregates' fields, the other keys, Where's fields.
func (a *Aggregator) extractLen() int {
	return 2 + len(a.fields) + len(a.moreKeys) + len(a.whereFields)
}

// extractValues is extract and, withValues, also returns the values of
// the aggregates' fields (values[i] of field i, nil when null or missing)
// after checking them: a value of the wrong type for an aggregate is
// reason ReasonValue. scratch, if long enough (extractLen), holds what the
// decoder extracts, values included: the rekey step passes its own, so
// that a record costs no allocation for it.
func (a *Aggregator) extractValues(ctx context.Context, r *kgo.Record, scratch []any, withValues bool) (key string, at time.Time, values []any, reason Reason, err error) {
	vals := scratch
	if n := a.extractLen(); len(vals) < n {
		vals = make([]any, n)
	} else {
		vals = vals[:n]
		clear(vals)
	}
	if a.cfg.RecordTime && len(vals) == 2 {
		vals = vals[:1] // keyTime is the key alone
	}
	ok := false
	if x, can := a.cfg.Decoder.(codec.Extractor); can && (a.cfg.Where == nil || a.whereExtract) {
		// Only the key, the time and the fields are built; a record it
		// cannot answer for (a field missing, say) is decoded in full
		// below.
		if ok, err = x.Extract(r.Value, a.keyTime, vals); err != nil {
			return "", time.Time{}, nil, ReasonDecode, err
		}
		if ok && a.cfg.Where != nil {
			match, err := a.cfg.Where.MatchValues(vals[len(vals)-len(a.whereFields):])
			if err != nil {
				return "", time.Time{}, nil, ReasonPredicate, err
			}
			if !match {
				return "", time.Time{}, nil, "", errNotMatched
			}
		}
	}
	var timeErr error
	if !ok {
		v, err := a.wait.decode(ctx, a.cfg.Decoder, r.Value)
		if err != nil {
			return "", time.Time{}, nil, ReasonDecode, err
		}
		if a.cfg.Where != nil {
			match, err := a.cfg.Where.Match(v)
			if err != nil {
				return "", time.Time{}, nil, ReasonPredicate, err
			}
			if !match {
				return "", time.Time{}, nil, "", errNotMatched
			}
		}
		if vals[0], err = a.cfg.Key.Lookup(v); err != nil {
			return "", time.Time{}, nil, ReasonKey, fmt.Errorf("group key: %w", err)
		}
		if !a.cfg.RecordTime {
			vals[1], timeErr = a.cfg.Time.Lookup(v)
		}
		for i, f := range a.fields {
			// A missing field is null: the aggregate skips it.
			vals[2+i], _ = f.Lookup(v)
		}
		for i, k := range a.moreKeys {
			if vals[2+len(a.fields)+i], err = k.Lookup(v); err != nil {
				return "", time.Time{}, nil, ReasonKey, fmt.Errorf("group key %s: %w", a.keyNames[1+i], err)
			}
		}
	}
	if withValues && len(a.fields) > 0 {
		values = vals[2 : 2+len(a.fields)]
		for i, s := range a.aggSpecs {
			if err := s.Check(values[a.fieldOf[i]]); err != nil {
				return "", time.Time{}, nil, ReasonValue, fmt.Errorf("%s of %s: %w", s.Name, s.Field, err)
			}
		}
	}
	key, err = codec.KeyString(vals[0])
	if err != nil {
		return "", time.Time{}, nil, ReasonKey, fmt.Errorf("group key %q: %w", a.cfg.Key, err)
	}
	if a.moreKeys != nil {
		keys := []string{key}
		for i, v := range vals[2+len(a.fields) : 2+len(a.fields)+len(a.moreKeys)] {
			k, err := codec.KeyString(v)
			if err != nil {
				return "", time.Time{}, nil, ReasonKey, fmt.Errorf("group key %s (%s): %w", a.keyNames[1+i], a.moreKeys[i], err)
			}
			keys = append(keys, k)
		}
		key = windows.JSONKeys(keys)
	}
	if strings.IndexByte(key, 0) >= 0 {
		// Internal rows (watermark rows) live under keys with a NUL: a
		// group key must never reach them.
		return "", time.Time{}, nil, ReasonKey, fmt.Errorf("group key %q: %w", a.cfg.Key, ErrNULKey)
	}
	if a.cfg.Windows.IsSession() {
		if _, _, err := windows.ParseRowKey(key); err == nil {
			// A session moves to a row under its row key (sessions.go): a
			// group key of that shape would share it.
			return "", time.Time{}, nil, ReasonKey, fmt.Errorf("group key %q: %w", a.cfg.Key, ErrRowKeyLike)
		}
	}
	if a.cfg.RecordTime {
		return key, time.UnixMilli(r.Timestamp.UnixMilli()).UTC(), values, "", nil
	}
	if timeErr != nil {
		return "", time.Time{}, nil, ReasonTime, fmt.Errorf("event time: %w", timeErr)
	}
	at, err = a.cfg.TimeFormat.Parse(vals[1])
	if err != nil {
		return "", time.Time{}, nil, ReasonTime, fmt.Errorf("event time %q: %w", a.cfg.Time, err)
	}
	return key, at, values, "", nil
}

// Flushed is closed once a bounded run (Until, with a watermark) has closed
// every window: final rows written (--emit final) and expired rows deleted.
// Only a process that holds every table partition sees it.
func (a *Aggregator) Flushed() <-chan struct{} { return a.count.flushed }

// Watermark returns how far this process has closed windows: the lowest
// closing watermark over the table partitions it holds; ok is false before
// any (or without --watermark).
func (a *Aggregator) Watermark() (wm time.Time, ok bool) { return a.count.watermark() }

// WatermarkWaiting returns the input partitions that hold the watermark
// back without having sent anything, and why, for progress lines; none
// when nothing is held back that way.
func (a *Aggregator) WatermarkWaiting() (partitions []int32, why string) {
	return a.count.watermarkWaiting()
}

// Ready reports whether the aggregator does its work (both steps have
// joined their consumer groups, no outage) and, if not, why: /readyz.
func (a *Aggregator) Ready() (bool, string) { return a.health.state() }
