package processor

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/IBM/sarama"
	"github.com/hourglass-stream/hourglass/kafka"

	"github.com/hourglass-stream/hourglass/table"
)

// TableTopic is the group table (compacted changelog) of group.
func TableTopic(group string) string { return table.Topic(group) }

// RepartitionTopic carries updates keyed by row key from the rekey step to
// the group table.
func RepartitionTopic(group string) string { return group + "-repartition" }

// DeadLetterTopic receives the records group could not process.
func DeadLetterTopic(group string) string { return group + "-dlq" }

// RekeyGroup is the consumer group of the rekey step of group.
func RekeyGroup(group string) string { return group + "-rekey" }

// ErrNoInput is wrapped when the input topic does not exist and the
// processor was not asked to create it.
var ErrNoInput = errors.New("input topic does not exist")

// validateTopic rejects names Kafka would refuse, or that are a list: a
// topic name is at most 249 of a-z A-Z 0-9 . _ - (a comma would create a
// topic literally named "a,b").
func validateTopic(flag, name string) error {
	if name == "" {
		return nil
	}
	if strings.Contains(name, ",") {
		return fmt.Errorf("%s %q: one topic name, without commas", flag, name)
	}
	if len(name) > 249 || name == "." || name == ".." {
		return fmt.Errorf("%s %q: not a Kafka topic name", flag, name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%s %q: Kafka topic names are made of a-z A-Z 0-9 . _ -, not %q", flag, name, c)
		}
	}
	return nil
}

// ensureInput returns the partition count of the input topic, creating it
// with parts partitions only if create is set; a missing input otherwise
// is an error (a typo in --input must not idle for ever on a new topic, as
// Kafka Streams' MissingSourceTopicException says too).
func ensureInput(adm *kafka.Admin, topic string, parts int32, create bool, log *slog.Logger) (int32, error) {
	if !create {
		n, err := adm.Partitions(topic)
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, fmt.Errorf("%w: %s (a typo? create it first, or pass --create-input)", ErrNoInput, topic)
		}
		return n, nil
	}
	n, created, err := adm.Ensure(kafka.Topic{Name: topic, Partitions: parts})
	if err != nil {
		return 0, err
	}
	if created {
		log.Info("created input topic", "topic", topic, "partitions", n)
	}
	return n, nil
}

func validateGroup(group string) error {
	if group == "" {
		return fmt.Errorf("no group: set --group")
	}
	return nil
}

// validateClient checks what every processor needs to reach Kafka and name
// its topics.
func validateClient(kc kafka.Config, sc *sarama.Config, group string) []error {
	var errs []error
	if err := kc.Validate(); err != nil {
		errs = append(errs, err)
	}
	if sc == nil {
		errs = append(errs, errors.New("no sarama config"))
	}
	if err := validateGroup(group); err != nil {
		errs = append(errs, err)
	}
	return errs
}
