package kafka

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/IBM/sarama"
)

// BrokerDefault as Topic.Partitions creates the topic with the broker's
// default partition count (num.partitions).
const BrokerDefault = -1

// Topic describes a topic hourglass creates when it is missing.
type Topic struct {
	Name string
	// Partitions is the count to create with: positive, or BrokerDefault.
	Partitions int32
	// Compacted topics keep the last record per key (cleanup.policy=compact),
	// as group tables and complete-mode output need.
	Compacted bool
	// Retention is retention.ms for non-compacted topics. Zero means the
	// broker default; negative means forever.
	Retention time.Duration
	// Replication is the replication factor to create with; zero means
	// the broker's default.replication.factor.
	Replication int16
	// Configs are more topic configs to create with (--topic-config), over
	// those hourglass sets; cleanup.policy is hourglass's to choose.
	Configs map[string]string
}

// ErrTopicConfig is wrapped when --topic-config or --replication-factor
// would create a topic hourglass cannot use.
var ErrTopicConfig = errors.New("bad topic config")

// ValidateTopicSettings checks --replication-factor and --topic-config.
func ValidateTopicSettings(replication int16, configs map[string]string) error {
	if replication < 0 {
		return fmt.Errorf("%w: --replication-factor %d: want 1 or more (0: the broker's default)", ErrTopicConfig, replication)
	}
	if _, ok := configs["cleanup.policy"]; ok {
		return fmt.Errorf("%w: --topic-config cleanup.policy: hourglass compacts the tables and outputs and deletes the rest, and needs it so", ErrTopicConfig)
	}
	return nil
}

// ErrPartitionMismatch is wrapped when existing topics that must be
// co-partitioned are not.
var ErrPartitionMismatch = errors.New("partition count mismatch")

// Admin creates and inspects topics.
type Admin struct {
	admin sarama.ClusterAdmin
}

// NewAdmin connects an admin client with cfg.
func NewAdmin(brokers []string, cfg *sarama.Config) (*Admin, error) {
	a, err := sarama.NewClusterAdmin(brokers, cfg)
	if err != nil {
		return nil, Classify(fmt.Errorf("connect to kafka at %v: %w", brokers, err))
	}
	return &Admin{admin: a}, nil
}

// Close closes the admin client.
func (a *Admin) Close() error { return a.admin.Close() }

// Partitions returns the partition count of topic, or 0 if it does not exist.
func (a *Admin) Partitions(topic string) (int32, error) {
	md, err := a.admin.DescribeTopics([]string{topic})
	if err != nil {
		return 0, fmt.Errorf("describe topic %s: %w", topic, err)
	}
	if len(md) != 1 {
		return 0, fmt.Errorf("describe topic %s: %d results", topic, len(md))
	}
	switch {
	case errors.Is(md[0].Err, sarama.ErrUnknownTopicOrPartition):
		return 0, nil
	case md[0].Err != sarama.ErrNoError:
		return 0, fmt.Errorf("describe topic %s: %w", topic, md[0].Err)
	}
	return int32(len(md[0].Partitions)), nil
}

// Ensure creates t if it does not exist and returns its partition count,
// which for an existing topic may differ from t.Partitions.
func (a *Admin) Ensure(t Topic) (partitions int32, created bool, err error) {
	if n, err := a.Partitions(t.Name); err != nil || n > 0 {
		return n, false, err
	}
	if t.Partitions <= 0 && t.Partitions != BrokerDefault {
		return 0, false, fmt.Errorf("create topic %s: partitions must be positive, got %d", t.Name, t.Partitions)
	}
	if err := ValidateTopicSettings(t.Replication, t.Configs); err != nil {
		return 0, false, fmt.Errorf("create topic %s: %w", t.Name, err)
	}
	entries := map[string]*string{}
	set := func(k, v string) { entries[k] = &v }
	if t.Compacted {
		set("cleanup.policy", "compact")
	} else {
		set("cleanup.policy", "delete")
		switch {
		case t.Retention < 0:
			set("retention.ms", "-1")
		case t.Retention > 0:
			set("retention.ms", strconv.FormatInt(t.Retention.Milliseconds(), 10))
		}
	}
	for k, v := range t.Configs {
		set(k, v)
	}
	replication := t.Replication
	if replication == 0 {
		replication = -1 // the broker's default.replication.factor
	}
	err = a.admin.CreateTopic(t.Name, &sarama.TopicDetail{
		NumPartitions:     t.Partitions,
		ReplicationFactor: replication,
		ConfigEntries:     entries,
	}, false)
	if errors.Is(err, sarama.ErrTopicAlreadyExists) {
		// Someone else created it between our check and our request; its
		// metadata may not have reached the broker we ask yet.
		if err := a.waitForMetadata(t.Name); err != nil {
			return 0, false, err
		}
		n, err := a.Partitions(t.Name)
		return n, false, err
	}
	if err != nil {
		return 0, false, fmt.Errorf("create topic %s: %w", t.Name, err)
	}
	if err := a.waitForMetadata(t.Name); err != nil {
		return 0, true, err
	}
	if t.Partitions == BrokerDefault {
		n, err := a.Partitions(t.Name)
		return n, true, err
	}
	return t.Partitions, true, nil
}

// EnsureTopics connects an admin client, creates those of topics that are
// missing, and returns the partition counts they have.
func EnsureTopics(brokers []string, cfg *sarama.Config, topics ...Topic) ([]int32, error) {
	adm, err := NewAdmin(brokers, cfg)
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	counts := make([]int32, len(topics))
	for i, t := range topics {
		if counts[i], _, err = adm.Ensure(t); err != nil {
			return nil, err
		}
	}
	return counts, nil
}

// waitForMetadata waits until the new topic shows up in metadata, so that
// consumers started next see its partitions.
func (a *Admin) waitForMetadata(topic string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := a.Partitions(topic)
		if err == nil && n > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topic %s was created but does not show in metadata after 10s: %v", topic, err)
		}
		time.Sleep(50 * time.Millisecond) // polling the broker, not synchronising goroutines
	}
}
