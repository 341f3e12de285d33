package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/predicate"
	"github.com/twmb/franz-go/pkg/kgo"
)

// OutputCodec says how matching records are written.
type OutputCodec string

// The output codecs.
const (
	OutputSame OutputCodec = "same" // the input bytes, unchanged
	OutputJSON OutputCodec = "json" // the decoded record as JSON
)

// AlertFilterConfig describes one alert filter processor.
type AlertFilterConfig struct {
	Kafka   kafka.Config         // required
	Sarama  *sarama.Config       // required
	Group   string               // required: the consumer group; names <group>-dlq
	Input   string               // required
	Output  string               // required
	Decoder codec.Decoder        // required: how input values decode
	Where   *predicate.Predicate // required
	// OutputCodec is OutputSame (the default) or OutputJSON.
	OutputCodec OutputCodec
	Start       Start
	// Partitions of the output and dead-letter topics when created; zero
	// means the input's.
	Partitions int32
	// MaxOutage is how long Run keeps restarting while Kafka fails under
	// it; zero means DefaultMaxOutage.
	MaxOutage time.Duration
	// CreateInput creates the input topic (8 partitions) when it is
	// missing; without it a missing input is an error.
	CreateInput bool
	// TopicReplication and TopicConfigs are the replication factor (zero:
	// the broker's default) and more configs of the output and dead-letter
	// topics when the filter creates them.
	TopicReplication int16
	TopicConfigs     map[string]string
	Logger           *slog.Logger
}

func (c *AlertFilterConfig) validate() error {
	errs := validateClient(c.Kafka, c.Sarama, c.Group)
	if c.Input == "" || c.Output == "" {
		errs = append(errs, errors.New("set --input and --output"))
	}
	for _, t := range []struct{ flag, name string }{{"--input", c.Input}, {"--output", c.Output}} {
		if err := validateTopic(t.flag, t.name); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Input == c.Output && c.Input != "" {
		errs = append(errs, errors.New("--output must differ from --input"))
	}
	if c.Output == DeadLetterTopic(c.Group) {
		errs = append(errs, fmt.Errorf("%s is the dead-letter topic of group %s", c.Output, c.Group))
	}
	if c.Decoder == nil || c.Where == nil {
		errs = append(errs, errors.New("no codec or predicate"))
	}
	if err := kafka.ValidateTopicSettings(c.TopicReplication, c.TopicConfigs); err != nil {
		errs = append(errs, err)
	}
	switch c.OutputCodec {
	case "":
		c.OutputCodec = OutputSame
	case OutputSame, OutputJSON:
	default:
		errs = append(errs, fmt.Errorf("--output-codec %q: want same or json", c.OutputCodec))
	}
	return errors.Join(errs...)
}

// AlertFilterStats are running totals of one Filter process.
type AlertFilterStats struct {
	Read         int64 // input records
	Matched      int64 // written to the output
	Rejected     int64 // decoded and evaluated to false
	DeadLettered int64 // could not be decoded or evaluated
	// Unavailable counts decode attempts that found the schema registry
	// unavailable; the record waited and was tried again.
	Unavailable int64
	// WriteErrors counts writes that failed (their records are read again).
	WriteErrors int64
}

// AlertFilter passes the input records that match a predicate to the output
// topic. Bad records go to <group>-dlq with the reason.
type AlertFilter struct {
	cfg                                   AlertFilterConfig
	log                                   *slog.Logger
	wait                                  *waiter // the schema registry's outages
	alarm                                 alarm   // dead letters that likely mean a mistake
	health                                *health
	read, matched, rejected, deadLettered atomic.Int64
	writeErrors                           atomic.Int64

	// extractor and fields, when the codec can build just the fields the
	// predicate reads: the rest of a record is only checked.
	extractor codec.Extractor
	fields    *codec.PathSet
}

// NewAlertFilter checks cfg.
func NewAlertFilter(cfg AlertFilterConfig) (*AlertFilter, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("group", cfg.Group)
	f := &AlertFilter{cfg: cfg, log: log, wait: newWaiter(cfg.MaxOutage, log), health: newHealth("filter"),
		alarm: alarm{log: log, hint: fmt.Sprintf("--where %s and --codec %s against the records", cfg.Where, cfg.Decoder.Name())}}
	if x, ok := cfg.Decoder.(codec.Extractor); ok {
		if paths, ok := cfg.Where.Fields(); ok {
			f.extractor, f.fields = x, codec.NewPathSet(paths...)
		}
	}
	return f, nil
}

// Stats returns this process's totals so far.
func (f *AlertFilter) Stats() AlertFilterStats {
	return AlertFilterStats{Read: f.read.Load(), Matched: f.matched.Load(), Rejected: f.rejected.Load(), DeadLettered: f.deadLettered.Load(), Unavailable: f.wait.waits.Load(), WriteErrors: f.writeErrors.Load()}
}

// Run creates missing topics and filters until ctx ends. The output and
// dead-letter records of each poll commit in one transaction with the
// input offsets after it (see txn.go): exactly once, for readers of
// committed records.
// When Kafka fails under it, it restarts with back-off and gives up only
// after MaxOutage.
func (f *AlertFilter) Run(ctx context.Context) error {
	if err := retry(ctx, f.log, f.cfg.MaxOutage, f.runOnce); err != nil {
		return fmt.Errorf("filter %s: %w", f.cfg.Group, err)
	}
	return nil
}

func (f *AlertFilter) runOnce(ctx context.Context) (err error) {
	f.health.begin()
	defer func() {
		if err != nil {
			f.health.fail(err)
		}
	}()
	adm, err := kafka.NewAdmin(f.cfg.Kafka.Brokers, f.cfg.Sarama)
	if err != nil {
		return err
	}
	in, err := ensureInput(adm, f.cfg.Input, 8, f.cfg.CreateInput, f.log)
	adm.Close()
	if err != nil {
		return err
	}
	parts := f.cfg.Partitions
	if parts == 0 {
		parts = in
	}
	rf, configs := f.cfg.TopicReplication, f.cfg.TopicConfigs
	if _, err := kafka.EnsureTopics(f.cfg.Kafka.Brokers, f.cfg.Sarama,
		kafka.Topic{Name: f.cfg.Output, Partitions: parts, Replication: rf, Configs: configs},
		kafka.Topic{Name: DeadLetterTopic(f.cfg.Group), Partitions: parts, Replication: rf, Configs: configs}); err != nil {
		return err
	}
	return runTransactGroup(ctx, f.cfg.Kafka, f.cfg.Group, f.cfg.Input, f.cfg.Start, filterStep{f}, &f.writeErrors, f.log,
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
			f.health.join("filter")
			f.log.Info("assigned", "partitions", slices.Sorted(slices.Values(assigned[f.cfg.Input])))
		}))
}

// Builds says what the filter builds of a record to evaluate the
// predicate: its fields (predicate.Fields, comma-separated) when the codec
// extracts them, else "the whole record". For the start-up log line.
func (f *AlertFilter) Builds() string {
	if f.extractor == nil {
		return "the whole record"
	}
	paths, _ := f.cfg.Where.Fields()
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = p.String()
	}
	return strings.Join(names, ",")
}

// Ready reports whether the filter does its work (its consumer group
// joined, no outage) and, if not, why: /readyz.
func (f *AlertFilter) Ready() (bool, string) { return f.health.state() }

// filterStep is the txnStep of the filter.
type filterStep struct{ f *AlertFilter }

func (s filterStep) handle(ctx context.Context, _ int32, records []*kgo.Record, write func(*kgo.Record)) error {
	for _, r := range records {
		if err := s.f.process(ctx, r, write); err != nil {
			return err
		}
	}
	return nil
}

// process filters one record. Its error, a record that cannot be decoded
// yet because the schema registry does not answer, stops the step.
func (f *AlertFilter) process(ctx context.Context, r *kgo.Record, write func(*kgo.Record)) error {
	v, ok, reason, err := f.match(ctx, r.Value)
	if errors.Is(err, codec.ErrUnavailable) {
		return fmt.Errorf("%s/%d offset %d: %w", r.Topic, r.Partition, r.Offset, err)
	}
	if ok && f.cfg.OutputCodec == OutputJSON && v == nil {
		// Only the predicate's fields were built: the output needs all.
		// The extractor accepted the record, so the decoder does too; only
		// the registry can fail it now.
		if v, err = f.wait.decode(ctx, f.cfg.Decoder, r.Value); errors.Is(err, codec.ErrUnavailable) {
			return fmt.Errorf("%s/%d offset %d: %w", r.Topic, r.Partition, r.Offset, err)
		} else if err != nil {
			reason = ReasonDecode
		}
	}
	f.read.Add(1)
	if err != nil {
		f.deadLetter(r, write, reason, err)
		return nil
	}
	if !ok {
		f.rejected.Add(1)
		return nil
	}
	out := r.Value
	if f.cfg.OutputCodec == OutputJSON {
		if out, err = codec.EncodeJSON(v); err != nil {
			f.deadLetter(r, write, ReasonEncode, err)
			return nil
		}
	}
	f.matched.Add(1)
	write(outgoing(&kgo.Record{Topic: f.cfg.Output, Key: r.Key, Value: out}, recordSourceHeaders(r)))
	return nil
}

// match decodes a record's value and evaluates the predicate on it. With
// an extractor only the predicate's fields are built, and v is nil; a
// record the extractor cannot answer for is decoded in full. A failure is
// err with its reason (ReasonDecode, ReasonPredicate), or err wrapping
// codec.ErrUnavailable: the registry does not answer.
func (f *AlertFilter) match(ctx context.Context, data []byte) (v any, ok bool, reason Reason, err error) {
	if f.extractor != nil {
		vals := make([]any, f.fields.Len())
		done, err := f.extractor.Extract(data, f.fields, vals)
		if err != nil {
			return nil, false, ReasonDecode, err
		}
		if done {
			ok, err := f.cfg.Where.MatchValues(vals)
			return nil, ok, ReasonPredicate, err
		}
	}
	if v, err = f.wait.decode(ctx, f.cfg.Decoder, data); err != nil {
		return nil, false, ReasonDecode, err
	}
	ok, err = f.cfg.Where.Match(v)
	return v, ok, ReasonPredicate, err
}

func (f *AlertFilter) deadLetter(r *kgo.Record, write func(*kgo.Record), reason Reason, err error) {
	f.alarm.deadLettered(reason, err, f.read.Load(), f.deadLettered.Add(1))
	// The input's key (null if it has none) goes with it.
	write(outgoing(&kgo.Record{Topic: DeadLetterTopic(f.cfg.Group), Key: r.Key, Value: r.Value}, errorHeaders(recordSourceHeaders(r), reason, err)))
}

// recordSourceHeaders are r's headers plus where it came from, so that a
// consumer can recognise a record written twice after a crash.
func recordSourceHeaders(r *kgo.Record) headers {
	return withSource(slices.Clone(headers(r.Headers)), r.Topic, r.Partition, r.Offset)
}

// withSource adds the headers naming where a record came from to h.
func withSource(h headers, topic string, partition int32, offset int64) headers {
	h = h.set(HeaderSourceTopic, []byte(topic))
	h = h.set(HeaderSourcePartition, []byte(strconv.FormatInt(int64(partition), 10)))
	return h.set(HeaderSourceOffset, []byte(strconv.FormatInt(offset, 10)))
}
