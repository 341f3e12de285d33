// Package broker runs an embedded, single-node Kafka-protocol broker in the
// current process.
//
// It wraps franz-go's kfake, which speaks the real Kafka wire protocol, so
// every Kafka client (sarama under goka, franz-go, librdkafka, the Java
// client) can use it as if it were Apache Kafka. hourglass uses it for
// `hourglass demo`, for `hourglass broker` (a standalone broker for local
// multi-process work) and as the default broker of the integration tests.
//
// The broker is a development tool, not a cluster: one node, replication
// factor 1, topics created on first use with a default partition count
// (Kafka's auto.create.topics.enable). With a data directory it persists its
// topics, consumer-group offsets and producer state across restarts; without
// one everything lives in memory and is gone when the broker stops.
package broker
