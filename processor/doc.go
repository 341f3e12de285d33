// Package processor runs hourglass's stream processors on Goka.
//
// # The aggregation graph
//
// Counting events per group key and event-time window takes two Goka
// processors, because Goka keeps a group table co-partitioned with its
// input and the input topic can be keyed by anything (or nothing):
//
//	<input> ──rekey (group <group>-rekey)──▶ <group>-repartition ──count (group <group>)──▶ <group>-table
//	   │                                                                    │
//	   └──bad records──▶ <group>-dlq                                        └──every change──▶ <output>
//
// The rekey processor decodes each input record, reads its group key and
// event time, assigns its windows and emits one update per window to the
// repartition topic, keyed by the row key "key|window_start" and carrying
// the source partition and offset. Records it cannot use (undecodable,
// missing key or time, a time it cannot read) go unchanged to the dead-letter
// topic with the reason in headers.
//
// The count processor owns the group table: one row per (key, window),
// holding its count and, per source partition, the last source offset it
// applied. A redelivered update carries an offset at or below that and is
// skipped, so Kafka's at-least-once redelivery after a stop, crash or
// rebalance never counts an event twice (windows.Row.Apply). In "complete"
// output mode every change to a row is also written to the output topic as
// a JSON row, keyed like the table, so the compacted output topic is the
// complete current result table too.
//
// Both processors run in every process of a group; starting more processes
// with the same group spreads the partitions of both over them.
//
// # Reading results
//
// View reads the group table through a Goka view, from any process: it
// recovers the table from its changelog and then follows it.
package processor
