// Package integration holds hourglass's end-to-end tests: the processors,
// and the built binary, against a broker. They use the embedded broker, or
// the Kafka cluster named by HOURGLASS_TEST_BROKERS (host:port[,...]) when
// it is set, and every test uses its own topics and groups so that they can
// share one cluster.
package integration
