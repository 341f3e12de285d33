package processor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hourglass-stream/hourglass/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The alert filter reads, filters and writes in Kafka transactions, the
// way Kafka Streams' exactly_once_v2 does: the output and dead-letter
// records of one poll and the input offsets after it commit together, or
// none of them does. A consumer reading committed records only (the
// default of tail, and of every reader hourglass runs) sees each record
// once, whatever crashes, restarts or rebalances happen. A member that
// stalls past its session (a zombie) is fenced when it wakes: its offset
// commit names a group generation that has passed (KIP-447), so its
// transaction aborts and its writes are never visible.

// TxnTimeout bounds a transaction: the broker aborts one left open longer,
// as it does for a process killed mid-transaction. Readers of committed
// records wait at most this long behind a killed writer's open
// transaction.
const TxnTimeout = 10 * time.Second

// txnStep is a step run by runTransactGroup: it handles one poll's records
// of partition p, in order, writing what they produce with write. Its
// calls for different partitions run concurrently. An error stops the step
// (the transaction aborts; its records are read again).
type txnStep interface {
	handle(ctx context.Context, p int32, records []*kgo.Record, write func(*kgo.Record)) error
}

// transactionalID names one run of a transactional step: unique per
// process, so two processes never fence each other but only through the
// group's generation.
func transactionalID(group string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return group + "-" + hex.EncodeToString(b[:])
}

// newTransactSession joins group on topic as a transactional consumer and
// producer: its writes are partitioned by part, it reads committed
// records only, and a partition without a committed offset starts as
// start says. opts come last.
func newTransactSession(kc kafka.Config, group, topic string, start Start, part kgo.Partitioner, opts ...kgo.Opt) (*kgo.GroupTransactSession, error) {
	base, err := kc.ProducerOpts(part)
	if err != nil {
		return nil, err
	}
	reset := kgo.NewOffset().AtStart()
	if start == StartLatest {
		reset = kgo.NewOffset().AtEnd()
	}
	groupOpts, err := kc.GroupOpts()
	if err != nil {
		return nil, err
	}
	base = append(append(base, groupOpts...),
		kgo.TransactionalID(transactionalID(group)),
		kgo.TransactionTimeout(TxnTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(reset),
	)
	sess, err := kgo.NewGroupTransactSession(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("transactional session: %w", kafka.Classify(err))
	}
	return sess, nil
}

// runTransactGroup runs step on topic as consumer group group, one
// transaction per poll, until ctx ends (nil, after ending the transaction
// under way) or the step or a transaction fails. opts go to the session.
func runTransactGroup(ctx context.Context, kc kafka.Config, group, topic string, start Start, step txnStep, failures *atomic.Int64, log *slog.Logger, opts ...kgo.Opt) error {
	sess, err := newTransactSession(kc, group, topic, start, kafka.KeyPartitioner(fnv.New32a), opts...)
	if err != nil {
		return err
	}
	defer sess.Close()
	t := &txn{sess: sess, failures: failures, log: log}
	for {
		fs := sess.PollRecords(ctx, pollRecords)
		if ctx.Err() != nil {
			return nil
		}
		if err := fetchError(fs); err != nil {
			return err
		}
		if fs.NumRecords() == 0 {
			continue
		}
		if err := t.begin(); err != nil {
			return err
		}
		work := eachPartition(fs, func(p int32, records []*kgo.Record) error {
			return step.handle(ctx, p, records, t.write)
		})
		if _, err := t.end(work); err != nil {
			return err
		}
	}
}

// txn is the transaction of a transactional step: open or not, and the
// first of its writes that failed.
type txn struct {
	sess     *kgo.GroupTransactSession
	failures *atomic.Int64 // failed writes (hourglass_write_errors_total)
	log      *slog.Logger
	// track names a topic whose offsets the transactions keep: per
	// partition, the offset after the last record written to it in a
	// committed transaction (committed).
	track     string
	committed map[int32]int64

	open  bool
	began time.Time

	mu       sync.Mutex
	writeErr error
	written  map[int32]int64 // track's, in the open transaction
}

// begin opens a transaction, unless one is open.
func (t *txn) begin() error {
	if t.open {
		return nil
	}
	if err := t.sess.Begin(); err != nil {
		return fmt.Errorf("begin a transaction: %w", err)
	}
	t.open, t.began = true, time.Now()
	t.mu.Lock()
	t.writeErr = nil
	clear(t.written)
	t.mu.Unlock()
	return nil
}

// write queues r in the open transaction. It is safe for concurrent use.
func (t *txn) write(r *kgo.Record) {
	// Not the step's context: a stop ends the transaction under way with
	// what it holds.
	t.sess.Produce(context.Background(), r, func(r *kgo.Record, err error) {
		if err == nil {
			if r.Topic == t.track {
				t.mu.Lock()
				if t.written == nil {
					t.written = map[int32]int64{}
				}
				t.written[r.Partition] = max(t.written[r.Partition], r.Offset+1)
				t.mu.Unlock()
			}
			return
		}
		t.failures.Add(1)
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.writeErr == nil {
			t.writeErr = fmt.Errorf("write to %s: %w", r.Topic, err)
		}
	})
}

// end ends the open transaction: it commits, with the offsets after every
// record polled, unless work (the step's error) or a write failed, and
// then aborts. It reports whether it committed; the error is work's, a
// write's, or the one that ended it. A rebalance since begin aborts it
// too (no error): the records are read again from the committed offsets.
func (t *txn) end(work error) (committed bool, err error) {
	t.open = false
	end, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := t.sess.Client().Flush(end); err != nil {
		return false, errors.Join(work, fmt.Errorf("write the transaction: %w", err))
	}
	t.mu.Lock()
	writeErr := t.writeErr
	t.mu.Unlock()
	if failed := errors.Join(work, writeErr); failed != nil {
		if _, err := t.sess.End(end, kgo.TryAbort); err != nil {
			failed = errors.Join(failed, fmt.Errorf("abort the transaction: %w", err))
		}
		if writeErr != nil {
			t.log.Error("a write failed; the transaction is aborted and its records are read again", "error", writeErr)
		}
		return false, failed
	}
	committed, err = t.sess.End(end, kgo.TryCommit)
	if err != nil {
		return false, fmt.Errorf("commit the transaction: %w", err)
	}
	if !committed {
		t.log.Info("a rebalance aborted the transaction under way; its records are read again")
		return false, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for q, o := range t.written {
		if t.committed == nil {
			t.committed = map[int32]int64{}
		}
		t.committed[q] = max(t.committed[q], o)
	}
	return true, nil
}
