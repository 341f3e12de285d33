// Package kafka builds the one *sarama.Config that every hourglass command
// injects into goka and sarama, and holds the small Kafka chores commands
// share: creating topics with the right partition counts and configs, and
// checking the partitions of topics that already exist.
//
// Nothing here is global: goka's ReplaceGlobalConfig is never called. A
// command parses its flags into a Config, calls Sarama once, and passes the
// result to goka's builders (ProducerBuilderWithConfig,
// ConsumerGroupBuilderWithConfig, ...).
package kafka
