package kafka

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Settings are Kafka client settings an operator passes through (`-X
// key=value`, as kcat takes them), by their Java / librdkafka names. Each
// applies to both clients hourglass runs, sarama (goka's consumers and
// views) and franz-go (every write, the rekey step, the filter); a name
// hourglass does not know is an error, never silently ignored.
type Settings map[string]string

// setting is one known client setting: how it parses and where it goes.
type setting struct {
	doc    string
	sarama func(c *sarama.Config, v string) error
	kgo    func(v string) (kgo.Opt, error)
	group  bool // a consumer group timing: GroupOpts
}

// opt makes a franz-go option constructor of a narrower option type one
// of kgo.Opt.
func opt[T any, O kgo.Opt](f func(T) O) func(T) kgo.Opt {
	return func(v T) kgo.Opt { return f(v) }
}

func millis(v string) (time.Duration, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("want a positive number of milliseconds, not %q", v)
	}
	return time.Duration(n) * time.Millisecond, nil
}

// instanceID checks a group.instance.id as Kafka does: at most 249 of
// letters, digits, '.', '_' and '-'.
func instanceID(v string) (string, error) {
	if v == "" || len(v) > 249 || strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" {
		return "", fmt.Errorf("want 1 to 249 letters, digits, '.', '_' or '-', not %q", v)
	}
	return v, nil
}

func bytesOf(v string) (int32, error) {
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("want a positive number of bytes, not %q", v)
	}
	return int32(n), nil
}

// typed is a setting whose value parses as T, set on sarama by s and made
// a franz-go option by k.
func typed[T any](doc string, parse func(string) (T, error), s func(*sarama.Config, T), k func(T) kgo.Opt, group bool) setting {
	return setting{doc: doc, group: group,
		sarama: func(c *sarama.Config, v string) error {
			x, err := parse(v)
			if err == nil {
				s(c, x)
			}
			return err
		},
		kgo: func(v string) (kgo.Opt, error) {
			x, err := parse(v)
			if err != nil {
				return nil, err
			}
			return k(x), nil
		}}
}

var settings = map[string]setting{
	"session.timeout.ms": typed("consumer group session timeout (default 10000)", millis,
		func(c *sarama.Config, d time.Duration) { c.Consumer.Group.Session.Timeout = d }, opt(kgo.SessionTimeout), true),
	"heartbeat.interval.ms": typed("consumer group heartbeat (default 3000)", millis,
		func(c *sarama.Config, d time.Duration) { c.Consumer.Group.Heartbeat.Interval = d }, opt(kgo.HeartbeatInterval), true),
	"rebalance.timeout.ms": typed("how long a rebalance waits for members (default 20000)", millis,
		func(c *sarama.Config, d time.Duration) { c.Consumer.Group.Rebalance.Timeout = d }, opt(kgo.RebalanceTimeout), true),
	"fetch.max.wait.ms": typed("how long a fetch waits for fetch.min.bytes", millis,
		func(c *sarama.Config, d time.Duration) { c.Consumer.MaxWaitTime = d }, opt(kgo.FetchMaxWait), false),
	"metadata.max.age.ms": typed("how often metadata is refreshed", millis,
		func(c *sarama.Config, d time.Duration) { c.Metadata.RefreshFrequency = d }, kgo.MetadataMaxAge, false),
	"fetch.min.bytes": typed("the least a fetch waits for", bytesOf,
		func(c *sarama.Config, n int32) { c.Consumer.Fetch.Min = n }, opt(kgo.FetchMinBytes), false),
	"fetch.max.bytes": typed("the most one fetch returns", bytesOf,
		func(c *sarama.Config, n int32) { c.Consumer.Fetch.Max = n }, opt(kgo.FetchMaxBytes), false),
	"max.partition.fetch.bytes": typed("the most one fetch returns of a partition", bytesOf,
		func(c *sarama.Config, n int32) { c.Consumer.Fetch.Default = n }, opt(kgo.FetchMaxPartitionBytes), false),
	"group.instance.id": typed("this process's static member name in each consumer group it joins (KIP-345; --instance-id)", instanceID,
		func(c *sarama.Config, id string) { c.Consumer.Group.InstanceId = id }, opt(kgo.InstanceID), true),
	"client.rack": {doc: "the rack of this process: consumers fetch from a replica in it (KIP-392)",
		sarama: func(c *sarama.Config, v string) error { c.RackID = v; return nil },
		kgo:    func(v string) (kgo.Opt, error) { return kgo.Rack(v), nil }},
}

// ErrUnknownSetting is wrapped for a -X name hourglass does not pass on.
var ErrUnknownSetting = errors.New("unknown Kafka client setting")

// SettingNames lists the settings -X takes, with what each does.
func SettingNames() []string {
	names := make([]string, 0, len(settings))
	for n, s := range settings {
		names = append(names, n+": "+s.doc)
	}
	slices.Sort(names)
	return names
}

// ParseKeyValues reads the key=value values of a repeatable flag (-X,
// --topic-config); a later key wins.
func ParseKeyValues(flag string, kvs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if k = strings.TrimSpace(k); !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want key=value", flag, kv)
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}

// ParseSettings reads -X values, key=value each.
func ParseSettings(kvs []string) (Settings, error) {
	out, err := ParseKeyValues("-X", kvs)
	if err != nil {
		return nil, err
	}
	return out, Settings(out).Validate()
}

// Validate checks every setting's name and value.
func (s Settings) Validate() error {
	var errs []error
	for k, v := range s {
		def, ok := settings[k]
		if !ok {
			names := make([]string, 0, len(settings))
			for n := range settings {
				names = append(names, n)
			}
			slices.Sort(names)
			errs = append(errs, fmt.Errorf("-X %s: %w; known: %s", k, ErrUnknownSetting, strings.Join(names, ", ")))
			continue
		}
		if err := def.sarama(sarama.NewConfig(), v); err != nil {
			errs = append(errs, fmt.Errorf("-X %s: %w", k, err))
		}
	}
	return errors.Join(errs...)
}

// applySarama sets s on a sarama config.
func (s Settings) applySarama(c *sarama.Config) error {
	for k, v := range s {
		if def, ok := settings[k]; ok {
			if err := def.sarama(c, v); err != nil {
				return fmt.Errorf("-X %s: %w", k, err)
			}
		}
	}
	return nil
}

// kgoOpts returns the franz-go options of s, those of consumer groups or
// the others.
func (s Settings) kgoOpts(group bool) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	for k, v := range s {
		def, ok := settings[k]
		if !ok || def.group != group {
			continue
		}
		o, err := def.kgo(v)
		if err != nil {
			return nil, fmt.Errorf("-X %s: %w", k, err)
		}
		opts = append(opts, o)
	}
	return opts, nil
}
