// Package kafka builds hourglass's Kafka clients from one Config: the
// *sarama.Config that goka's consumers and views use, franz-go options
// (Kgo) with the same SASL and TLS, and the idempotent producer every write
// goes through (Producer). It holds the small Kafka chores commands share:
// checking reachability and credentials first (CheckBrokers), creating topics with the right
// partition counts and configs, and checking the partitions of topics that
// already exist.
//
// Nothing here is global: goka's ReplaceGlobalConfig is never called. A
// command parses its flags into a Config, calls Sarama once, and passes the
// result to goka's builders.
package kafka
