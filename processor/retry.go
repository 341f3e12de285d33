package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/IBM/sarama"
	"github.com/hourglass-stream/hourglass/kafka"
)

// DefaultMaxOutage is how long a processor keeps retrying while Kafka is
// unreachable before it gives up, when its config does not say.
const DefaultMaxOutage = 5 * time.Minute

// retry runs run until ctx ends, restarting it with exponential back-off
// (0.5 s doubling to 30 s) when it fails. It gives up, returning the last
// error, when a failure is permanent (bad configuration, refused
// credentials, mismatched partitions) or when runs have kept failing for
// longer than maxOutage. A run that lasted a minute resets the clock.
func retry(ctx context.Context, log *slog.Logger, maxOutage time.Duration, run func(context.Context) error) error {
	if maxOutage <= 0 {
		maxOutage = DefaultMaxOutage
	}
	var failingSince time.Time
	backoff := 500 * time.Millisecond
	for {
		started := time.Now()
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
		if time.Since(started) > time.Minute || failingSince.IsZero() {
			failingSince, backoff = started, 500*time.Millisecond
		}
		if time.Since(failingSince) > maxOutage {
			return fmt.Errorf("gave up after failing for %s (--max-outage): %w", time.Since(failingSince).Round(time.Second), err)
		}
		log.Warn("processor failed; restarting", "in", backoff, "failing_for", time.Since(failingSince).Round(time.Second), "error", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// permanent reports errors that retrying cannot fix.
func permanent(err error) bool {
	if errors.Is(err, kafka.ErrPartitionMismatch) || errors.Is(err, ErrStateDirInUse) || errors.Is(kafka.Classify(err), kafka.ErrAuth) {
		return true
	}
	var cfgErr sarama.ConfigurationError
	return errors.As(err, &cfgErr)
}
