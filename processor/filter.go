package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/predicate"
	"github.com/lovoo/goka"
	gokacodec "github.com/lovoo/goka/codec"
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
	Logger    *slog.Logger
}

func (c *AlertFilterConfig) validate() error {
	errs := validateClient(c.Kafka, c.Sarama, c.Group)
	if c.Input == "" || c.Output == "" {
		errs = append(errs, errors.New("set --input and --output"))
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
}

// AlertFilter passes the input records that match a predicate to the output
// topic. Bad records go to <group>-dlq with the reason.
type AlertFilter struct {
	cfg                                   AlertFilterConfig
	log                                   *slog.Logger
	read, matched, rejected, deadLettered atomic.Int64
	out                                   *passthrough
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
	return &AlertFilter{cfg: cfg, log: log.With("group", cfg.Group)}, nil
}

// Stats returns this process's totals so far.
func (f *AlertFilter) Stats() AlertFilterStats {
	return AlertFilterStats{Read: f.read.Load(), Matched: f.matched.Load(), Rejected: f.rejected.Load(), DeadLettered: f.deadLettered.Load()}
}

// Run creates missing topics and filters until ctx ends. Every output and
// dead-letter write is acknowledged before the input offset is committed.
// When Kafka fails under it, it restarts with back-off and gives up only
// after MaxOutage.
func (f *AlertFilter) Run(ctx context.Context) error {
	if err := retry(ctx, f.log, f.cfg.MaxOutage, f.runOnce); err != nil {
		return fmt.Errorf("filter %s: %w", f.cfg.Group, err)
	}
	return nil
}

func (f *AlertFilter) runOnce(ctx context.Context) error {
	counts, err := kafka.EnsureTopics(f.cfg.Kafka.Brokers, f.cfg.Sarama, kafka.Topic{Name: f.cfg.Input, Partitions: 8})
	if err != nil {
		return err
	}
	parts := f.cfg.Partitions
	if parts == 0 {
		parts = counts[0]
	}
	if _, err := kafka.EnsureTopics(f.cfg.Kafka.Brokers, f.cfg.Sarama,
		kafka.Topic{Name: f.cfg.Output, Partitions: parts}, kafka.Topic{Name: DeadLetterTopic(f.cfg.Group), Partitions: parts}); err != nil {
		return err
	}
	out, err := newPassthrough(f.cfg.Kafka)
	if err != nil {
		return err
	}
	f.out = out
	initial := sarama.OffsetOldest
	if f.cfg.Start == StartLatest {
		initial = sarama.OffsetNewest
	}
	graph := goka.DefineGroup(goka.Group(f.cfg.Group),
		goka.Input(goka.Stream(f.cfg.Input), new(gokacodec.Bytes), f.process))
	p, err := goka.NewProcessor(f.cfg.Kafka.Brokers, graph, gokaOptions(f.cfg.Kafka, f.cfg.Sarama, initial, f.log)...)
	if err != nil {
		_ = out.close()
		return err
	}
	err = p.Run(ctx)
	if cerr := out.close(); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil && ctx.Err() == nil {
		err = errors.New("stopped on its own")
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (f *AlertFilter) process(ctx goka.Context, msg any) {
	f.read.Add(1)
	raw, _ := msg.([]byte)
	v, err := f.cfg.Decoder.Decode(ctx.Context(), raw)
	if err != nil {
		f.deadLetter(ctx, raw, ReasonDecode, err)
		return
	}
	ok, err := f.cfg.Where.Match(v)
	if err != nil {
		f.deadLetter(ctx, raw, ReasonPredicate, err)
		return
	}
	if !ok {
		f.rejected.Add(1)
		return
	}
	out := raw
	if f.cfg.OutputCodec == OutputJSON {
		if out, err = codec.EncodeJSON(v); err != nil {
			f.deadLetter(ctx, raw, ReasonEncode, err)
			return
		}
	}
	f.matched.Add(1)
	h := sourceHeaders(ctx)
	f.out.emit(ctx, f.cfg.Output, out, h)
}

func (f *AlertFilter) deadLetter(ctx goka.Context, raw []byte, reason Reason, err error) {
	f.deadLettered.Add(1)
	f.out.emit(ctx, DeadLetterTopic(f.cfg.Group), raw, deadLetterHeaders(ctx, reason, err))
}

// sourceHeaders are the input record's headers plus where it came from, so
// that a consumer can recognise a record written twice after a crash.
func sourceHeaders(ctx goka.Context) goka.Headers {
	h := goka.Headers{}
	for k, v := range ctx.Headers() {
		h[k] = v
	}
	return withSource(h, string(ctx.Topic()), ctx.Partition(), ctx.Offset())
}

// withSource adds the headers naming where a record came from to h.
func withSource(h goka.Headers, topic string, partition int32, offset int64) goka.Headers {
	h[HeaderSourceTopic] = []byte(topic)
	h[HeaderSourcePartition] = []byte(strconv.FormatInt(int64(partition), 10))
	h[HeaderSourceOffset] = []byte(strconv.FormatInt(offset, 10))
	return h
}
