// Package windows holds hourglass's event-time logic, free of Kafka and Goka.
//
// # Event time
//
// Every event carries its own time, read from the record (for example the
// "time" field of {"time": 1469501107, "action": "Open"}), not the time it
// reached Kafka. ParseTime accepts epoch seconds, epoch milliseconds (numbers
// greater than 1e11, i.e. after 1973-03-03 in milliseconds), RFC 3339
// strings, and "2006-01-02 15:04:05[.fff]" strings read as UTC. Anything else
// is an error wrapping ErrBadTime: the record is bad, and nothing is guessed.
//
// # Windows
//
// A window is a half-open interval [Start, End) of event time. Windows are
// aligned to the Unix epoch in UTC: a 1h tumbling window starts on the hour,
// whatever the time zone of the machine. Tumbling windows do not overlap, so
// every event falls into exactly one. Hopping windows of size S advancing by
// H (H divides S) overlap, and every event falls into S/H of them.
//
// # Rows
//
// The aggregate for one group key and one window is a row. Its key in the
// group table and in the output topic is RowKey(key, window):
// "Open|2016-07-26T08:00:00Z". The group key may itself contain '|', so
// ParseRowKey splits at the last one. A Row holds the count and, so that
// replays never count twice, the last source offset applied per source
// partition (see Row.Apply).
package windows
