package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The steps that keep no table (the aggregation's rekey step, the alert
// filter) read their input as a franz-go consumer group rather than as
// Goka processors: they need nothing of Goka, and Goka's per-record
// machinery (a context, channel selects and commit bookkeeping for every
// record, on sarama's consumer) cost more than their work. Records are
// handled per poll, a goroutine per partition, as Goka ran one per
// partition. An input offset is committed only once every write made for
// it and for every record before it is acknowledged, so a crash loses
// nothing; what was not committed is read again.
//
// Rebalances are blocked while a poll's records are being handled
// (BlockRebalanceOnPoll); a revoked partition first writes what it holds
// open, waits for its writes and commits, so the next owner starts exactly
// where this one stopped.

// commitInterval is how often acknowledged offsets are committed.
const commitInterval = 100 * time.Millisecond

// pollRecords bounds the records taken per poll.
const pollRecords = 50000

// groupStep is a step run by runGroup. Its calls for one partition never
// overlap.
type groupStep interface {
	// handle processes one poll's records of partition p, in order. An
	// error stops the step.
	handle(ctx context.Context, p int32, records []*kgo.Record) error
	// acks is partition p's commit tracker.
	acks(p int32) *acks
	// reset forgets what the step holds for p: it was assigned afresh, or
	// lost.
	reset(p int32)
	// settle writes what the step holds open for p, before a handover or
	// a stop.
	settle(p int32)
}

// acks tracks, for one input partition, the writes of its batches of
// records in offset order: the offset after a batch is committable once
// the batch and every batch before it are acknowledged. Acknowledgements
// arrive on the producer's goroutines and take only mu.
type acks struct {
	mu          sync.Mutex
	epoch       int          // bumped by reset: older batches never commit
	inflight    []*batchAcks // batches not yet committable, in offset order
	committable int64        // the offset to commit; -1 if none yet
	failed      error        // a batch that failed: nothing after it commits
	// onFail, if set, hears of a write that failed, at once, on the
	// producer's goroutine (the step's loop would hear of it only at its
	// next poll, which may be long in coming).
	onFail func(error)
}

// batchAcks counts the writes of one batch not yet acknowledged, plus one
// while the batch is open.
type batchAcks struct {
	t       *acks
	epoch   int
	to      int64 // the batch's last offset
	pending int
	err     error
}

// open starts the next batch (held open until its first done).
func (t *acks) open() *batchAcks {
	t.mu.Lock()
	defer t.mu.Unlock()
	x := &batchAcks{t: t, epoch: t.epoch, pending: 1}
	t.inflight = append(t.inflight, x)
	return x
}

// add counts n more writes of the batch.
func (x *batchAcks) add(n int) {
	x.t.mu.Lock()
	x.pending += n
	x.t.mu.Unlock()
}

// track counts one more write; call the function returned with its outcome.
func (x *batchAcks) track() func(error) {
	x.add(1)
	return x.done
}

// done takes one acknowledgement (or failure) of the batch's writes, or
// the end of its being open.
func (x *batchAcks) done(err error) {
	t := x.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if x.epoch != t.epoch {
		return // reset since
	}
	x.pending--
	if err != nil && x.err == nil {
		x.err = err
		if t.onFail != nil && !errors.Is(err, errRedoInterrupted) {
			go t.onFail(err)
		}
	}
	for len(t.inflight) > 0 && t.inflight[0].pending == 0 {
		head := t.inflight[0]
		if head.err != nil {
			t.failed = head.err
			return
		}
		t.committable, t.inflight = head.to+1, t.inflight[1:]
	}
}

// reset forgets the batches in flight: they will not commit.
func (t *acks) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.epoch++
	t.inflight, t.committable, t.failed = nil, -1, nil
}

// settled reports whether no write is outstanding (or a failed batch holds
// the rest back).
func (t *acks) settled() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.inflight) == 0 || t.inflight[0].pending == 0
}

func (t *acks) state() (committable int64, failed error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.committable, t.failed
}

// groupReader runs one groupStep as consumer group group on topic.
type groupReader struct {
	topic string
	step  groupStep
	log   *slog.Logger
	cl    *kgo.Client
	// writeFailed ends the poll at once when a write fails; failures
	// counts them (hourglass_write_errors_total).
	writeFailed context.CancelFunc
	failures    *atomic.Int64

	mu        sync.Mutex // the bookkeeping below, and commits
	owned     map[int32]bool
	committed map[int32]int64
}

// runGroup runs step on topic as consumer group group until ctx ends (nil,
// after committing what was written) or the step fails.
func runGroup(ctx context.Context, kc kafka.Config, group, topic string, start Start, step groupStep, failures *atomic.Int64, log *slog.Logger) error {
	opts, err := kc.Kgo()
	if err != nil {
		return err
	}
	parent := ctx
	ctx, writeFailed := context.WithCancel(ctx)
	defer writeFailed()
	g := &groupReader{topic: topic, step: step, log: log, owned: map[int32]bool{}, committed: map[int32]int64{},
		writeFailed: writeFailed, failures: failures}
	reset := kgo.NewOffset().AtStart()
	if start == StartLatest {
		reset = kgo.NewOffset().AtEnd()
	}
	opts = append(opts, kafka.GroupOpts()...)
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(reset),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(g.assigned),
		kgo.OnPartitionsRevoked(g.revoked),
		kgo.OnPartitionsLost(g.lost),
	)...)
	if err != nil {
		return err
	}
	g.cl = cl
	defer func() {
		cl.AllowRebalance() // leaving the group waits for it
		cl.Close()
	}()
	bg, stopBg := context.WithCancel(context.Background())
	committer := make(chan struct{})
	go func() {
		defer close(committer)
		_ = every(bg, commitInterval, func() error { g.commit(bg, nil); return nil })
	}()
	defer func() { stopBg(); <-committer }()

	for {
		fs := cl.PollRecords(ctx, pollRecords)
		if ctx.Err() != nil {
			if parent.Err() == nil {
				// A write failed: nothing after it commits; the run ends
				// so that the step starts again from the committed offsets.
				if err := g.failure(); err != nil {
					return err
				}
			}
			break
		}
		if err := fetchError(fs); err != nil {
			return err
		}
		if err := g.handle(ctx, fs); err != nil {
			return err
		}
		if err := g.failure(); err != nil {
			return err
		}
		cl.AllowRebalance()
	}
	// Stopping: write what is open, wait for it, commit.
	owned := g.ownedPartitions()
	g.settle(owned)
	g.commit(context.Background(), owned)
	return g.failure()
}

// handle hands a poll's records to the step, each partition's on its own
// goroutine.
func (g *groupReader) handle(ctx context.Context, fs kgo.Fetches) error {
	return eachPartition(fs, func(p int32, records []*kgo.Record) error {
		return g.step.handle(ctx, p, records)
	})
}

// fetchError is the first error of a poll: the client closed, or a
// partition that could not be read.
func fetchError(fs kgo.Fetches) error {
	if fs.IsClientClosed() {
		return errors.New("consumer closed")
	}
	var ferr error
	fs.EachError(func(t string, p int32, err error) {
		if ferr == nil {
			ferr = fmt.Errorf("read %s/%d: %w", t, p, err)
		}
	})
	return ferr
}

// eachPartition calls fn for the records of each partition of a poll, each
// partition on its own goroutine, and returns the first error.
func eachPartition(fs kgo.Fetches, fn func(p int32, records []*kgo.Record) error) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
		if len(ftp.Records) == 0 {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ftp.Partition, ftp.Records); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	})
	wg.Wait()
	return firstErr
}

func (g *groupReader) ownedPartitions() []int32 {
	g.mu.Lock()
	defer g.mu.Unlock()
	ps := make([]int32, 0, len(g.owned))
	for p := range g.owned {
		ps = append(ps, p)
	}
	return ps
}

// assigned starts the bookkeeping of newly assigned partitions.
func (g *groupReader) assigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range assigned[g.topic] {
		g.step.reset(p)
		t := g.step.acks(p)
		t.reset()
		t.mu.Lock()
		t.onFail = g.failed
		t.mu.Unlock()
		g.owned[p] = true
		delete(g.committed, p)
	}
}

// revoked hands partitions over cleanly: what they hold open is written,
// their writes awaited, their offsets committed.
func (g *groupReader) revoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	ps := revoked[g.topic]
	g.settle(ps)
	g.commit(ctx, ps)
	g.forget(ps)
}

// lost forgets partitions taken away without a handover: nothing of
// theirs is committed any more; the next owner reads it again.
func (g *groupReader) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	g.forget(lost[g.topic])
}

func (g *groupReader) forget(ps []int32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range ps {
		g.step.reset(p)
		g.step.acks(p).reset()
		delete(g.owned, p)
		delete(g.committed, p)
	}
}

// settle writes what partitions ps hold open and waits (up to
// closeTimeout) until their writes are acknowledged.
func (g *groupReader) settle(ps []int32) {
	for _, p := range ps {
		g.step.settle(p)
	}
	deadline := time.Now().Add(closeTimeout)
	for _, p := range ps {
		t := g.step.acks(p)
		for !t.settled() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond) // acknowledgements arrive on the producer's goroutines
		}
	}
}

// commit commits the acknowledged offsets of partitions ps (nil: every
// owned partition) that moved.
func (g *groupReader) commit(ctx context.Context, ps []int32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ps == nil {
		for p := range g.owned {
			ps = append(ps, p)
		}
	}
	offsets := map[int32]kgo.EpochOffset{}
	for _, p := range ps {
		if !g.owned[p] {
			continue
		}
		at, _ := g.step.acks(p).state()
		if last, ok := g.committed[p]; at < 0 || (ok && at <= last) {
			continue
		}
		offsets[p] = kgo.EpochOffset{Epoch: -1, Offset: at}
	}
	if len(offsets) == 0 {
		return
	}
	g.cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{g.topic: offsets},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				g.log.Debug("commit failed; retried with the next", "error", err)
				return
			}
			for _, t := range resp.Topics {
				for _, rp := range t.Partitions {
					if rp.ErrorCode == 0 {
						g.committed[rp.Partition] = offsets[rp.Partition].Offset
					}
				}
			}
		})
}

// failed hears of a failed write at once: it is logged, counted, and ends
// the step's poll.
func (g *groupReader) failed(err error) {
	if g.failures != nil {
		g.failures.Add(1)
	}
	g.log.Error("a write failed; nothing from its record on is committed, and the step restarts from the committed offsets", "topic", g.topic, "error", err)
	g.writeFailed()
}

// failure returns the error of a batch that failed to write, if any.
func (g *groupReader) failure() error {
	for _, p := range g.ownedPartitions() {
		if _, err := g.step.acks(p).state(); err != nil && !errors.Is(err, errRedoInterrupted) {
			return err
		}
	}
	return nil
}
