package kafka

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Version is the Kafka protocol version hourglass speaks. 3.6 is understood
// by Kafka 3.x and 4.x brokers (4.0 dropped the pre-2.1 protocols) and by the
// embedded broker.
var Version = sarama.V3_6_0_0

// ErrAuth is wrapped when Kafka refuses the credentials or the TLS
// handshake: retrying cannot help.
var ErrAuth = errors.New("authentication with Kafka failed (SASL credentials or TLS)")

// ErrInstanceFenced is wrapped when another process joined a consumer
// group under this one's group.instance.id (--instance-id): the group took
// it in this one's place, and retrying would only take it back.
var ErrInstanceFenced = errors.New("another process joined the consumer group with this --instance-id; give each process its own")

// Config is what every command needs to reach Kafka. The zero value is not
// usable: Brokers is required.
type Config struct {
	// Brokers are the bootstrap host:port addresses.
	Brokers []string
	// ClientID names this process in broker logs and quotas. Empty means
	// "hourglass".
	ClientID string
	// Security is SASL and TLS; the zero value is plaintext.
	Security Security
	// Settings are client settings passed through (-X), on top of
	// hourglass's own.
	Settings Settings
}

// ParseBrokers splits a comma-separated broker list, dropping blanks.
func ParseBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// Validate rejects a config that cannot connect.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("no brokers: set --brokers host:port or HOURGLASS_BROKERS")
	}
	for _, b := range c.Brokers {
		if !strings.Contains(b, ":") {
			return fmt.Errorf("broker %q: want host:port", b)
		}
	}
	return nil
}

// Sarama returns a fresh sarama configuration for c, for what hourglass
// still does with sarama: goka's consumers, views and topic manager, and
// topic administration. Nothing produces with it: every write goes through
// Producer (franz-go's idempotent producer), because sarama's producer let a
// retried batch land after the next one across a broker restart. Consumers
// start from the oldest offset when their group has none; callers that want
// "latest" change Consumer.Offsets.Initial on their copy.
func (c Config) Sarama() (*sarama.Config, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	cfg := sarama.NewConfig()
	cfg.Version = Version
	// Goka's consumers (the count step, views) see committed records only:
	// what a transaction aborted never counts.
	cfg.Consumer.IsolationLevel = sarama.ReadCommitted
	cfg.ClientID = c.ClientID
	if cfg.ClientID == "" {
		cfg.ClientID = "hourglass"
	}
	cfg.Metadata.AllowAutoTopicCreation = false

	cfg.Consumer.Return.Errors = true
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.MaxProcessingTime = time.Second
	cfg.Consumer.Group.Session.Timeout = GroupSessionTimeout
	cfg.Consumer.Group.Heartbeat.Interval = GroupHeartbeat
	// A JoinGroup request can wait at the coordinator for as long as the
	// rebalance timeout (members that died stay until their session
	// expires); the read timeout must outlast it, or the survivors give up
	// on every rebalance after a crash and never rejoin.
	cfg.Consumer.Group.Rebalance.Timeout = GroupRebalanceTimeout
	cfg.Net.ReadTimeout = 45 * time.Second
	if err := c.Settings.applySarama(cfg); err != nil {
		return nil, err
	}
	cfg.Net.ReadTimeout = max(cfg.Net.ReadTimeout, cfg.Consumer.Group.Rebalance.Timeout+5*time.Second)
	if err := c.Security.applySarama(cfg); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kafka client config: %w", err)
	}
	return cfg, nil
}

// The consumer group timings of every hourglass consumer, sarama's (Goka)
// and franz-go's alike: a member killed without leaving is replaced after
// GroupSessionTimeout (franz-go's default would be 45 s).
const (
	GroupSessionTimeout   = 10 * time.Second
	GroupHeartbeat        = 3 * time.Second
	GroupRebalanceTimeout = 20 * time.Second
)

// GroupOpts are GroupSessionTimeout and its companions for franz-go, as
// c's Settings change them.
func (c Config) GroupOpts() ([]kgo.Opt, error) {
	set, err := c.Settings.kgoOpts(true)
	if err != nil {
		return nil, err
	}
	return append([]kgo.Opt{
		kgo.SessionTimeout(GroupSessionTimeout),
		kgo.HeartbeatInterval(GroupHeartbeat),
		kgo.RebalanceTimeout(GroupRebalanceTimeout),
	}, set...), nil
}

// The fetch bounds of a consumer that processes what it reads before it
// reads on (the rekey step): franz-go's defaults (50 MiB a fetch, 1 MiB a
// partition) keep a million small records decoded at once, 3 to 4 times
// the process's memory, and made it slower, not faster (issue 19).
const (
	StepFetchMaxBytes          = 1 << 20
	StepFetchMaxPartitionBytes = 128 << 10
)

// StepFetchOpts are StepFetchMaxBytes and StepFetchMaxPartitionBytes,
// unless c's Settings (-X fetch.max.bytes, max.partition.fetch.bytes)
// set them.
func (c Config) StepFetchOpts() []kgo.Opt {
	var opts []kgo.Opt
	if _, set := c.Settings["fetch.max.bytes"]; !set {
		opts = append(opts, kgo.FetchMaxBytes(StepFetchMaxBytes))
	}
	if _, set := c.Settings["max.partition.fetch.bytes"]; !set {
		opts = append(opts, kgo.FetchMaxPartitionBytes(StepFetchMaxPartitionBytes))
	}
	return opts
}
