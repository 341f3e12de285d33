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

// runTransactGroup runs step on topic as consumer group group, one
// transaction per poll, until ctx ends (nil, after ending the transaction
// under way) or the step or a transaction fails.
func runTransactGroup(ctx context.Context, kc kafka.Config, group, topic string, start Start, step txnStep, failures *atomic.Int64, log *slog.Logger) error {
	opts, err := kc.ProducerOpts(kafka.KeyPartitioner(fnv.New32a))
	if err != nil {
		return err
	}
	reset := kgo.NewOffset().AtStart()
	if start == StartLatest {
		reset = kgo.NewOffset().AtEnd()
	}
	opts = append(append(opts, kafka.GroupOpts()...),
		kgo.TransactionalID(transactionalID(group)),
		kgo.TransactionTimeout(TxnTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(reset),
	)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("transactional session: %w", kafka.Classify(err))
	}
	defer sess.Close()
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
		if err := transact(ctx, sess, fs, step, failures, log); err != nil {
			return err
		}
	}
}

// transact handles one poll in one transaction.
func transact(ctx context.Context, sess *kgo.GroupTransactSession, fs kgo.Fetches, step txnStep, failures *atomic.Int64, log *slog.Logger) error {
	if err := sess.Begin(); err != nil {
		return fmt.Errorf("begin a transaction: %w", err)
	}
	var (
		mu       sync.Mutex
		writeErr error
	)
	write := func(r *kgo.Record) {
		sess.Produce(ctx, r, func(r *kgo.Record, err error) {
			if err == nil {
				return
			}
			failures.Add(1)
			mu.Lock()
			defer mu.Unlock()
			if writeErr == nil {
				writeErr = fmt.Errorf("write to %s: %w", r.Topic, err)
			}
		})
	}
	proErr := eachPartition(fs, func(p int32, records []*kgo.Record) error {
		return step.handle(ctx, p, records, write)
	})
	// The transaction ends even when ctx has: a stop finishes the poll it
	// is in.
	end, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := sess.Client().Flush(end); err != nil {
		return fmt.Errorf("write the transaction: %w", err)
	}
	mu.Lock()
	failed := errors.Join(proErr, writeErr)
	mu.Unlock()
	if failed != nil {
		if _, err := sess.End(end, kgo.TryAbort); err != nil {
			failed = errors.Join(failed, fmt.Errorf("abort the transaction: %w", err))
		}
		if writeErr != nil {
			log.Error("a write failed; the transaction is aborted and its records are read again", "error", writeErr)
		}
		return failed
	}
	committed, err := sess.End(end, kgo.TryCommit)
	if err != nil {
		return fmt.Errorf("commit the transaction: %w", err)
	}
	if !committed {
		// A rebalance took partitions away mid-transaction: it was aborted,
		// and the records are read again from the committed offsets.
		log.Info("a rebalance aborted the transaction under way; its records are read again")
	}
	return nil
}
