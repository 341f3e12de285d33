package kafka

import (
	"fmt"
	"hash"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// MaxRecordBytes is the largest record batch (and so record) hourglass
// writes: Kafka's default max.message.bytes (1,048,588) less room for the
// batch's own header.
const MaxRecordBytes = 1_000_000

// RecordOverhead is a generous bound on what a record adds to its key,
// value and headers inside a batch (lengths, offsets, timestamps, the
// batch header).
const RecordOverhead = 512

// Producer returns the franz-go client every hourglass write goes through:
// idempotent (the broker drops a retried batch it already has and refuses
// one that would land out of order), acks=all, retries without limit, LZ4.
// Keys are partitioned like sarama's hash partitioner over hasher (goka's
// default is FNV-1a, hash/fnv.New32a), so keyed records land where goka's
// consumers, views and tables expect them; records without a key spread
// over partitions in sticky batches. The caller closes it.
func (c Config) Producer(hasher func() hash.Hash32) (*kgo.Client, error) {
	return c.PartitionedProducer(KeyPartitioner(hasher))
}

// KeyPartitioner partitions keyed records like sarama's hash partitioner
// over hasher, and spreads records without a key in sticky batches.
func KeyPartitioner(hasher func() hash.Hash32) kgo.Partitioner {
	return kgo.StickyKeyPartitioner(kgo.SaramaCompatHasher(func(key []byte) uint32 {
		h := hasher()
		_, _ = h.Write(key)
		return h.Sum32()
	}))
}

// PartitionedProducer is Producer with partitioner p.
func (c Config) PartitionedProducer(p kgo.Partitioner) (*kgo.Client, error) {
	opts, err := c.ProducerOpts(p)
	if err != nil {
		return nil, err
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("producer: %w", Classify(err))
	}
	return client, nil
}

// ProducerOpts are the options of PartitionedProducer, for a client that
// also consumes (a transactional session).
func (c Config) ProducerOpts(p kgo.Partitioner) ([]kgo.Opt, error) {
	opts, err := c.Kgo()
	if err != nil {
		return nil, err
	}
	return append(opts,
		kgo.RecordPartitioner(p),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.Lz4Compression(), kgo.NoCompression()),
		kgo.ProducerLinger(10*time.Millisecond),
		kgo.MaxBufferedRecords(100000),
		kgo.ProducerBatchMaxBytes(MaxRecordBytes),
	), nil
}
