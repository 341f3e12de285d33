package processor

import (
	"errors"
	"fmt"

	"github.com/IBM/sarama"
	"github.com/hourglass-stream/hourglass/kafka"

	"github.com/lovoo/goka"
)

// TableTopic is the group table (compacted changelog) of group.
func TableTopic(group string) string { return string(goka.GroupTable(goka.Group(group))) }

// RepartitionTopic carries updates keyed by row key from the rekey step to
// the group table.
func RepartitionTopic(group string) string { return group + "-repartition" }

// DeadLetterTopic receives the records group could not process.
func DeadLetterTopic(group string) string { return group + "-dlq" }

// RekeyGroup is the consumer group of the rekey step of group.
func RekeyGroup(group string) string { return group + "-rekey" }

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
