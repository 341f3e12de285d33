// Package wire holds the formats of hourglass's internal records, the way
// Prometheus keeps tsdb/record: the updates and watermark marks the rekey
// step writes to <group>-repartition (marks also as checkpoints to
// <group>-watermarks), and the watermark rows of the group table. Window
// and session rows are windows.Row and windows.Sessions. Every varint is
// read by internal/varint, strictly: a record decodes only if its encoder
// could have written it, and re-encodes to the same bytes.
package wire
