package processor

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"unicode/utf8"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Headers of a dead-letter record. The value and key are the original ones.
const (
	HeaderError           = "hourglass.error"            // what is wrong, in words
	HeaderErrorKind       = "hourglass.error.kind"       // one of the Reason constants
	HeaderSourceTopic     = "hourglass.source.topic"     // where the record came from
	HeaderSourcePartition = "hourglass.source.partition" // decimal
	HeaderSourceOffset    = "hourglass.source.offset"    // decimal
)

// Reason classifies why a record went to the dead-letter topic.
type Reason string

// The reasons a record is dead-lettered.
const (
	ReasonDecode    Reason = "decode"    // the value is not a record of the codec
	ReasonKey       Reason = "key"       // the group key is missing or not a scalar
	ReasonTime      Reason = "time"      // the event time is missing or unreadable
	ReasonInternal  Reason = "internal"  // a repartition record hourglass cannot read
	ReasonPredicate Reason = "predicate" // the --where expression failed on the record
	ReasonEncode    Reason = "encode"    // the record cannot be written in the output codec
	ReasonValue     Reason = "value"     // a field of --agg has the wrong type for its aggregate
)

// maxErrorText bounds the text of HeaderError: an error can quote its
// input (a 520 KB time value), and a header that large would make the dead
// letter itself too large to write.
const maxErrorText = 1024

// headers are a record's headers as Kafka keeps them: a list, in order,
// with repeated keys (a map, as before, lost repeats and reordered them).
type headers []kgo.RecordHeader

// set replaces the headers named key with one of value: hourglass's own
// headers appear once, after the record's.
func (h headers) set(key string, value []byte) headers {
	n := 0
	for _, x := range h {
		if x.Key != key {
			h[n] = x
			n++
		}
	}
	return append(h[:n], kgo.RecordHeader{Key: key, Value: value})
}

// goka is h as goka's header map, for writes through a goka context: a
// repeated key keeps its last value there.
func (h headers) goka() goka.Headers {
	if len(h) == 0 {
		return nil
	}
	out := make(goka.Headers, len(h))
	for _, x := range h {
		out[x.Key] = x.Value
	}
	return out
}

// errorHeaders adds the headers saying what is wrong to h.
func errorHeaders(h headers, reason Reason, err error) headers {
	h = h.set(HeaderError, []byte(capText(err.Error(), maxErrorText)))
	return h.set(HeaderErrorKind, []byte(reason))
}

// capText cuts s to at most n bytes, on a rune boundary, marking the cut.
func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "… (cut)"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// alarmAfter is how many records, all dead-lettered, make the alarm's
// second error: a --key, --time or --where that fails on every record.
const alarmAfter = 100

// alarm makes dead letters loud where they most likely mean a mistake:
// the first dead letter of a process is logged as an error with its
// reason, and so is the moment the first alarmAfter records have all been
// dead-lettered. Later dead letters are counted, not logged.
type alarm struct {
	log   *slog.Logger
	hint  string // what to check, for the messages
	first atomic.Bool
	all   atomic.Bool
}

// deadLettered is called for each dead letter, with the totals so far.
func (al *alarm) deadLettered(reason Reason, err error, read, dead int64) {
	if al.first.CompareAndSwap(false, true) {
		al.log.Error("dead-lettered a record", "reason", reason, "error", capText(err.Error(), maxErrorText), "check", al.hint)
	}
	if read >= alarmAfter && dead >= read && al.all.CompareAndSwap(false, true) {
		al.log.Error(fmt.Sprintf("every one of the first %d records was dead-lettered", read), "reason", reason, "error", capText(err.Error(), maxErrorText), "check", al.hint)
	}
}
