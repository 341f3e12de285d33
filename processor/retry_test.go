package processor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/twmb/franz-go/pkg/kerr"
)

// fakeClock moves only when told: runs advance it by how long they "last",
// back-off waits by the wait.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }
func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.t = c.t.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.t
	return ch
}

var errBroker = errors.New("broker unreachable")

// TestRetryOutageClock checks that --max-outage is measured from the first
// failure, not from the start of the process, and that a healthy run ends an
// outage. On the old code a processor that had run 20 minutes gave up at
// its first failure ("gave up after failing for 20m0s").
func TestRetryOutageClock(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name string
		// lasts is how long each run lasts before it fails; after the
		// last one the run blocks until the test ends.
		lasts     []time.Duration
		maxOutage time.Duration
		wantErr   string // "" means it was still running at the end
	}{
		{"long healthy run, then a short outage", []time.Duration{20 * time.Minute, time.Second, 2 * time.Second}, 30 * time.Second, ""},
		{"outage longer than max-outage", []time.Duration{20 * time.Minute, 10 * time.Second, 10 * time.Second, 10 * time.Second}, 20 * time.Second, "gave up after failing for"},
		{"healthy run between two outages", []time.Duration{time.Second, 5 * time.Second, 2 * time.Minute, 5 * time.Second, 5 * time.Second}, 20 * time.Second, ""},
		{"failing from the start", []time.Duration{time.Second, time.Second, time.Second, time.Second, time.Second, time.Second, time.Second}, 10 * time.Second, "gave up after failing for"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			i := 0
			err := retryClock(ctx, quiet, tc.maxOutage, c, func(ctx context.Context) error {
				if i == len(tc.lasts) {
					cancel() // still running: the test is over
					return nil
				}
				c.t = c.t.Add(tc.lasts[i])
				i++
				return errBroker
			})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("gave up after %d runs: %v", i, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
			case tc.wantErr != "" && !errors.Is(err, ErrOutage):
				t.Fatalf("%v does not wrap ErrOutage", err)
			}
		})
	}
}

// unavailableDecoder fails with codec.ErrUnavailable until up is set.
type unavailableDecoder struct {
	codec.Decoder
	up    atomic.Bool
	tries atomic.Int64
}

func (d *unavailableDecoder) Decode(ctx context.Context, data []byte) (any, error) {
	d.tries.Add(1)
	if !d.up.Load() {
		return nil, fmt.Errorf("%w: down", codec.ErrUnavailable)
	}
	return string(data), nil
}

// TestWaiter: a record whose decoding needs the schema registry waits for
// it; it comes back as an error wrapping codec.ErrUnavailable (so that the
// caller stops without dead-lettering or committing) only when the caller
// stops, or wrapping ErrOutage too after --max-outage.
func TestWaiter(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Run("comes back", func(t *testing.T) {
		d := &unavailableDecoder{}
		w := newWaiter(time.Minute, quiet)
		go func() {
			for d.tries.Load() < 3 {
				runtime.Gosched()
			}
			d.up.Store(true)
		}()
		v, err := w.decode(context.Background(), d, []byte("x"))
		if err != nil || v != "x" {
			t.Fatalf("got %v, %v", v, err)
		}
		if w.waits.Load() < 2 {
			t.Fatalf("%d waits counted", w.waits.Load())
		}
	})
	t.Run("stopped", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		d := &unavailableDecoder{}
		go func() {
			for d.tries.Load() < 2 {
				runtime.Gosched()
			}
			cancel()
		}()
		_, err := newWaiter(time.Minute, quiet).decode(ctx, d, []byte("x"))
		if !errors.Is(err, codec.ErrUnavailable) || errors.Is(err, ErrOutage) {
			t.Fatalf("got %v, want ErrUnavailable only", err)
		}
	})
	t.Run("outage", func(t *testing.T) {
		_, err := newWaiter(300*time.Millisecond, quiet).decode(context.Background(), &unavailableDecoder{}, []byte("x"))
		if !errors.Is(err, codec.ErrUnavailable) || !errors.Is(err, ErrOutage) || !permanent(err) {
			t.Fatalf("got %v, want ErrUnavailable and ErrOutage, permanent", err)
		}
	})
}

// TestFencedIsPermanent: another process under this one's --instance-id
// ends the run for good, however the client reports it (sarama's error,
// franz-go's, or its text only), with one explanation.
func TestFencedIsPermanent(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("count step: %w", sarama.ErrFencedInstancedId),
		fmt.Errorf("rekey step: unable to join group session: %w", kerr.FencedInstanceID),
		fmt.Errorf("goka: %v", sarama.ErrFencedInstancedId),
	} {
		if !permanent(err) {
			t.Errorf("%v: not permanent", err)
		}
		c := kafka.Classify(kafka.Classify(err))
		if !errors.Is(c, kafka.ErrInstanceFenced) || strings.Count(c.Error(), kafka.ErrInstanceFenced.Error()) != 1 {
			t.Errorf("%v classified as %v", err, c)
		}
	}
	if permanent(errBroker) {
		t.Error("an unreachable broker is permanent")
	}
}
