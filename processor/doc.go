// Package processor runs hourglass's stream processors: the aggregation
// (a rekey step and a count step) and the alert filter.
//
// # The aggregation graph
//
// Counting events per group key and event-time window takes two steps,
// because Goka keeps a group table co-partitioned with its input and the
// input topic can be keyed by anything (or nothing):
//
//	<input> ──rekey (group <group>-rekey)──▶ <group>-repartition ──count (group <group>)──▶ <group>-table
//	   │                                                                    │
//	   └──bad records──▶ <group>-dlq                                        └──every change──▶ <output>
//
// The rekey step (rekey.go, combine.go), a franz-go consumer group in
// Kafka transactions (txn.go), decodes each input record, reads its group
// key and event time, assigns its windows and sends one update per row and
// batch to the repartition topic, keyed by the row key "key|window_start"
// (the group key for session windows) and carrying the source partition,
// the batch's offset range and the offsets of the row's events. Records it
// cannot use (undecodable, missing key or time, a time it cannot read) go
// unchanged to the dead-letter topic with the reason in headers. What a
// transaction writes and its input offsets commit together.
//
// The count step (count.go, sessions.go) is a Goka processor and owns
// the group table: one row per (key, window), holding its count and, per
// source partition, the last source offset it applied. It reads committed
// updates only. An update at or below a row's offset is skipped, and of
// one that straddles it (a replay after reset, with other batch
// boundaries) only the events after it are counted (update.after), so a
// redelivery or replay never counts an event twice (windows.Row.Apply).
// Every change to a row is also written to the output topic as a JSON row,
// keyed like the table, so the compacted output topic is the complete
// current result table too. With a watermark (watermark.go, close.go) the
// count step closes windows, writes final rows and expires rows.
//
// Both steps run in every process of a group; starting more processes with
// the same group spreads the partitions of both over them.
//
// # The alert filter
//
// The filter (filter.go) reads, filters and writes in Kafka transactions
// (txn.go): its output, its dead letters and its input offsets commit
// together, exactly once for readers of committed records.
//
// # Reading results
//
// Package table reads the group table through a Goka view, from any
// process: it recovers the table from its changelog and then follows it.
package processor
