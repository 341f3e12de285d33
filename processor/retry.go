package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/kafka"
)

// DefaultMaxOutage is how long a processor keeps retrying while Kafka is
// unreachable before it gives up, when its config does not say.
const DefaultMaxOutage = 5 * time.Minute

// healthyRun is how long a run must last to count as healthy: a failure
// after it starts a new outage instead of extending the last one.
const healthyRun = time.Minute

// ErrOutage is wrapped when a processor gave up because something it
// depends on (Kafka, the schema registry) stayed unreachable for longer
// than its --max-outage.
var ErrOutage = errors.New("outage outlasted --max-outage")

// outage measures one outage: from the first failure that ended a healthy
// period to now. The zero value is "no outage".
type outage struct {
	since time.Time
}

// fail records a failure at now and returns how long the outage has lasted.
// A failure after a healthy period (the run before it lasted healthyRun, or
// nothing failed before) starts a new outage: a processor that ran for hours
// has not been failing for hours when the broker goes away.
func (o *outage) fail(now time.Time, healthy bool) time.Duration {
	if healthy || o.since.IsZero() {
		o.since = now
	}
	return now.Sub(o.since)
}

// retry runs run until ctx ends, restarting it with exponential back-off
// (0.5 s doubling to 30 s) when it fails. It gives up, returning the last
// error, when a failure is permanent (bad configuration, refused
// credentials, another process under this one's --instance-id, mismatched
// partitions, an outage a run already waited out)
// or when runs have kept failing for longer than maxOutage, measured from
// the first failure. A run that lasted healthyRun ends the outage.
func retry(ctx context.Context, log *slog.Logger, maxOutage time.Duration, run func(context.Context) error) error {
	return retryClock(ctx, log, maxOutage, realClock{}, run)
}

// clock is what retry reads the time and waits with; tests fake it.
type clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// retryClock is retry on clock c.
func retryClock(ctx context.Context, log *slog.Logger, maxOutage time.Duration, c clock, run func(context.Context) error) error {
	if maxOutage <= 0 {
		maxOutage = DefaultMaxOutage
	}
	var o outage
	backoff := 500 * time.Millisecond
	for {
		started := c.Now()
		err := run(ctx)
		if ctx.Err() != nil {
			// Asked to stop. A run that failed while stopping (say, in the
			// middle of a rebalance) loses nothing: uncommitted input is
			// read again next time and recognised as applied.
			if err != nil && !errors.Is(err, context.Canceled) {
				log.Warn("stopped with an error; the next run re-reads what was not committed", "error", err)
			}
			return nil
		}
		if err == nil {
			err = errors.New("stopped on its own")
		}
		if permanent(err) {
			return kafka.Classify(err)
		}
		failed := c.Now()
		healthy := failed.Sub(started) >= healthyRun
		if healthy {
			backoff = 500 * time.Millisecond
		}
		failingFor := o.fail(failed, healthy)
		if failingFor > maxOutage {
			return fmt.Errorf("gave up after failing for %s (--max-outage %s): %w: %w", failingFor.Round(time.Second), maxOutage, ErrOutage, err)
		}
		log.Warn("processor failed; restarting", "in", backoff, "failing_for", failingFor.Round(time.Second), "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-c.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// permanent reports errors that retrying cannot fix.
func permanent(err error) bool {
	c := kafka.Classify(err)
	if errors.Is(err, kafka.ErrPartitionMismatch) || errors.Is(err, ErrStateDirInUse) || errors.Is(err, ErrOutage) || errors.Is(err, ErrNoInput) || errors.Is(err, ErrAggMismatch) || errors.Is(c, kafka.ErrAuth) || errors.Is(c, kafka.ErrInstanceFenced) {
		return true
	}
	var cfgErr sarama.ConfigurationError
	return errors.As(err, &cfgErr)
}

// waiter waits out, in place, a dependency that a record's decoding needs
// and that does not answer (the schema registry): the record is not bad,
// so it is neither dead-lettered nor passed by, and nothing after it
// commits until it decodes. One waiter serves every partition of a
// processor, so an outage is one outage however many partitions meet it.
type waiter struct {
	maxOutage time.Duration
	log       *slog.Logger
	waits     atomic.Int64 // attempts that found the dependency unavailable
	failing   atomic.Bool  // an outage is on (read on every record: no lock)

	mu sync.Mutex // o
	o  outage
}

func newWaiter(maxOutage time.Duration, log *slog.Logger) *waiter {
	if maxOutage <= 0 {
		maxOutage = DefaultMaxOutage
	}
	return &waiter{maxOutage: maxOutage, log: log}
}

// decode decodes data with dec. While dec answers that something it needs
// is unavailable (codec.ErrUnavailable) it tries again with back-off
// (200 ms doubling to 5 s). It gives up with an error wrapping
// codec.ErrUnavailable when ctx ends, and also wrapping ErrOutage, which
// ends the processor, once the outage has lasted longer than maxOutage.
// The first failure of an outage is logged as a warning, its end as info.
func (w *waiter) decode(ctx context.Context, dec codec.Decoder, data []byte) (any, error) {
	backoff := 200 * time.Millisecond
	for {
		v, err := dec.Decode(ctx, data)
		if !errors.Is(err, codec.ErrUnavailable) {
			if w.failing.Load() {
				w.recovered()
			}
			return v, err
		}
		w.waits.Add(1)
		if ctx.Err() != nil {
			return nil, err
		}
		if d := w.failed(err); d > w.maxOutage {
			return nil, fmt.Errorf("gave up after waiting %s (--max-outage %s): %w: %w", d.Round(time.Second), w.maxOutage, ErrOutage, err)
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// failed records a failure and returns how long the outage has lasted.
func (w *waiter) failed(err error) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	first := !w.failing.Load()
	d := w.o.fail(time.Now(), first)
	if first {
		w.failing.Store(true)
		w.log.Warn("waiting for the schema registry; records wait, uncommitted, until it answers", "max_outage", w.maxOutage, "error", err)
	}
	return d
}

func (w *waiter) recovered() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failing.Load() {
		w.failing.Store(false)
		w.log.Info("the schema registry answers again", "waited", time.Since(w.o.since).Round(time.Millisecond))
	}
}
