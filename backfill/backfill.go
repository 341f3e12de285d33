// Package backfill replays history into an aggregation: a bounded run of
// the aggregator into a new group from a point in the input (its start or a
// time, resolved per partition with Kafka's offsets-for-times) up to the
// end offsets taken at start (or the offsets of an --until time), and the
// reset of a stopped group's offsets and state for a replay into it.
package backfill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/hourglass-stream/hourglass/processor"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Point is where in the input a backfill starts or ends: the start of
// each partition (Earliest), its end when the backfill starts (Now), or
// the first record whose Kafka timestamp is at or after Time.
type Point struct {
	Earliest bool
	Now      bool
	Time     time.Time
}

func (p Point) String() string {
	switch {
	case p.Earliest:
		return "earliest"
	case p.Now:
		return "now"
	}
	return p.Time.UTC().Format(time.RFC3339Nano)
}

// Config is one backfill.
type Config struct {
	// Aggregate describes the aggregation; its Group must be new or empty,
	// and its Start and Until are set by the backfill.
	Aggregate processor.AggregateConfig
	From      Point // default: earliest
	Until     Point // default: now
	// ThenFollow keeps aggregating live after the backfill has caught up,
	// until ctx ends.
	ThenFollow bool
	// Progress receives a progress display when it is a terminal
	// (Terminal true: redrawn in place) or periodic lines otherwise.
	Progress io.Writer
	Terminal bool
	// Every is the interval of progress lines; zero means 5 s (terminal:
	// 200 ms).
	Every time.Duration
	// OnStart, if set, is called with the aggregator before it runs (to
	// expose its metrics, say); an error ends the backfill.
	OnStart func(*processor.Aggregator) error
}

// Summary is what a backfill did.
type Summary struct {
	Start, End map[int32]int64 // input offsets per partition: [Start, End)
	Records    int64           // End - Start, summed
	Stats      processor.AggregateStats
	Took       time.Duration
}

// ErrGroupInUse is returned when the group already has state or members.
var ErrGroupInUse = errors.New("group is not new")

// Run backfills cfg.Aggregate.Group and returns when every input record in
// [From, Until) is counted and visible in the table's changelog and, with a
// watermark, every window is closed (final rows written): the end of input
// is the end of event time. With ThenFollow it returns when ctx ends.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	began := time.Now()
	agg := cfg.Aggregate
	if cfg.Until.Earliest {
		return Summary{}, errors.New("--until: want now or a time")
	}
	adm, closeAdm, err := admin(agg.Kafka)
	if err != nil {
		return Summary{}, err
	}
	defer closeAdm()

	if err := requireNew(ctx, adm, agg.Group); err != nil {
		return Summary{}, err
	}
	start, err := resolve(ctx, adm, agg.Input, cfg.From, true)
	if err != nil {
		return Summary{}, fmt.Errorf("--from: %w", err)
	}
	end, err := resolve(ctx, adm, agg.Input, cfg.Until, false)
	if err != nil {
		return Summary{}, fmt.Errorf("--until: %w", err)
	}
	sum := Summary{Start: start, End: end}
	for p, s := range start {
		if end[p] < s {
			end[p] = s // --until before --from: nothing in this partition
		}
		sum.Records += end[p] - s
	}
	// The rekey step starts where the backfill starts: a new group's
	// committed offsets are the only start goka takes per partition.
	offs := make(kadm.Offsets)
	for p, o := range start {
		offs.Add(kadm.Offset{Topic: agg.Input, Partition: p, At: o, LeaderEpoch: -1})
	}
	if err := adm.CommitAllOffsets(ctx, processor.RekeyGroup(agg.Group), offs); err != nil {
		return sum, fmt.Errorf("set the start offsets of %s: %w", processor.RekeyGroup(agg.Group), err)
	}
	if !cfg.ThenFollow {
		agg.Until = end
		for p, s := range start {
			if end[p] <= s {
				agg.Ended = append(agg.Ended, p)
			}
		}
	}
	a, err := processor.NewAggregator(agg)
	if err != nil {
		return sum, err
	}
	if cfg.OnStart != nil {
		if err := cfg.OnStart(a); err != nil {
			return sum, err
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()

	prog := newProgress(cfg, sum)
	caughtUp, err := waitCaughtUp(ctx, adm, agg, sum, prog, done, a.CaughtUp())
	if caughtUp && err == nil && agg.Watermark != nil && !cfg.ThenFollow {
		// The end of input closes every window: wait for the final rows.
		select {
		case <-a.Flushed():
		case runErr := <-done:
			done <- runErr
			caughtUp, err = false, errors.New("the aggregation stopped before it closed every window")
		case <-ctx.Done():
			caughtUp = false
		}
	}
	if caughtUp {
		prog.complete()
	}
	prog.finish()
	sum.Stats, sum.Took = a.Stats(), time.Since(began)
	if err != nil || !caughtUp {
		stop()
		runErr := <-done
		return sum, errors.Join(err, runErr)
	}
	if cfg.ThenFollow {
		slog.Info("backfill caught up; following the input live", "group", agg.Group, "records", sum.Records, "took", sum.Took.Round(time.Millisecond))
		return sum, <-done
	}
	stop()
	return sum, <-done
}

// waitCaughtUp polls the committed offsets of both steps until the rekey
// step has passed End on every input partition and the count step has
// consumed the repartition topic up to where it stood then, unless the
// aggregator says first that it caught up (in-process, which it knows
// sooner when it did the whole run alone). It returns false when ctx
// ended or the aggregator stopped first.
func waitCaughtUp(ctx context.Context, adm *kadm.Client, agg processor.AggregateConfig, sum Summary, prog *progress, done <-chan error, inProcess <-chan struct{}) (bool, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var repartEnd map[int32]int64
	// Reading a topic to tell whether only transaction markers are left
	// is asked only of a step that stood still since the last tick: one
	// still moving is not done.
	var lastCommitted, lastCounted map[int32]int64
	for {
		select {
		case <-ctx.Done():
			return false, nil
		case err := <-done:
			if err == nil {
				err = errors.New("the aggregator stopped before the backfill caught up")
			}
			return false, err
		case <-inProcess:
			return true, nil
		case <-tick.C:
		}
		committed, err := committedOffsets(ctx, adm, processor.RekeyGroup(agg.Group), agg.Input)
		if err != nil {
			continue // the group may not have committed yet
		}
		prog.update(committed)
		if repartEnd == nil {
			if !reached(committed, sum.End) {
				// An input written in transactions ends in a marker the
				// rekey step commits no offset past.
				moved := !maps.Equal(committed, lastCommitted)
				lastCommitted = committed
				if moved || !consumed(ctx, agg.Kafka, agg.Input, committed, sum.End) {
					continue
				}
			}
			ends, err := adm.ListEndOffsets(ctx, processor.RepartitionTopic(agg.Group))
			if err == nil {
				err = ends.Error() // a partition's own error
			}
			if err != nil {
				continue
			}
			repartEnd = map[int32]int64{}
			ends.Each(func(o kadm.ListedOffset) { repartEnd[o.Partition] = o.Offset })
		}
		// The repartition topic is written in transactions: the count
		// step's offsets stop short of each one's closing marker.
		counted, err := committedOffsets(ctx, adm, agg.Group, processor.RepartitionTopic(agg.Group))
		if err != nil {
			continue
		}
		moved := !maps.Equal(counted, lastCounted)
		lastCounted = counted
		if moved || !consumed(ctx, agg.Kafka, processor.RepartitionTopic(agg.Group), counted, repartEnd) {
			continue
		}
		return true, nil
	}
}

// consumed is kafka.Consumed, waiting at most a few seconds for open
// transactions: the caller asks again.
func consumed(ctx context.Context, kc kafka.Config, topic string, at, end map[int32]int64) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ok, err := kafka.Consumed(ctx, kc, topic, at, end)
	return err == nil && ok
}

// reached reports whether every partition of want with records is at or
// past its offset in got.
func reached(got, want map[int32]int64) bool {
	for p, w := range want {
		if w > 0 && got[p] < w {
			return false
		}
	}
	return true
}

func committedOffsets(ctx context.Context, adm *kadm.Client, group, topic string) (map[int32]int64, error) {
	resp, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.Topic == topic {
			out[o.Partition] = o.At
		}
	})
	return out, nil
}

// resolve turns a point into an offset per partition of topic. A time is
// the first offset whose record timestamp is at or after it (the end if
// there is none).
func resolve(ctx context.Context, adm *kadm.Client, topic string, p Point, isFrom bool) (map[int32]int64, error) {
	var (
		listed kadm.ListedOffsets
		err    error
	)
	switch {
	case p.Earliest || (isFrom && !p.Now && p.Time.IsZero()):
		listed, err = adm.ListStartOffsets(ctx, topic)
	case p.Now || p.Time.IsZero():
		listed, err = adm.ListEndOffsets(ctx, topic)
	default:
		listed, err = adm.ListOffsetsAfterMilli(ctx, p.Time.UnixMilli(), topic)
	}
	if err != nil {
		return nil, err
	}
	if err := listed.Error(); err != nil {
		return nil, fmt.Errorf("topic %s: %w", topic, err)
	}
	out := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	if len(out) == 0 {
		return nil, fmt.Errorf("topic %s does not exist", topic)
	}
	return out, nil
}

// requireNew refuses a group that has a table with records or members.
// Committed offsets alone (a group after reset --drop-state) are fine: the
// backfill sets the rekey step's, and the count step's point past the
// updates of the dropped table.
func requireNew(ctx context.Context, adm *kadm.Client, group string) error {
	var problems []string
	table := processor.TableTopic(group)
	if ends, err := adm.ListEndOffsets(ctx, table); err == nil && ends.Error() == nil {
		var n int64
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		if n > 0 {
			problems = append(problems, fmt.Sprintf("its table %s has %d records", table, n))
		}
	}
	if err := requireStopped(ctx, adm, group); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s: %s; backfill into a new --group, or `hourglass reset --group %s --to earliest --drop-state --yes` first",
			ErrGroupInUse, group, strings.Join(problems, ", "), group)
	}
	return nil
}

// requireStopped refuses a group whose steps have members. It waits out
// a coordinator that is not ready yet (a fresh cluster creates its offsets
// topic on the first group request).
func requireStopped(ctx context.Context, adm *kadm.Client, group string) error {
	var (
		described kadm.DescribedGroups
		err       error
	)
	for deadline := time.Now().Add(30 * time.Second); ; {
		described, err = adm.DescribeGroups(ctx, group, processor.RekeyGroup(group))
		if err == nil {
			for _, g := range described {
				// A group Kafka does not know has no members.
				if g.Err != nil && !errors.Is(g.Err, kerr.GroupIDNotFound) {
					err = fmt.Errorf("%s: %w", g.Group, g.Err)
					break
				}
			}
		}
		if err == nil || !kerr.IsRetriable(err) || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("describe group %s: %w", group, err)
	}
	var active []string
	for _, g := range described.Sorted() {
		if len(g.Members) > 0 {
			active = append(active, fmt.Sprintf("%s has %d active members", g.Group, len(g.Members)))
		}
	}
	if len(active) > 0 {
		sort.Strings(active)
		return errors.New(strings.Join(active, ", "))
	}
	return nil
}

func admin(kc kafka.Config) (*kadm.Client, func(), error) {
	opts, err := kc.Kgo()
	if err != nil {
		return nil, nil, err
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, nil, kafka.Classify(err)
	}
	return kadm.NewClient(client), client.Close, nil
}
