package processor

import (
	"strconv"

	"github.com/lovoo/goka"
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
	ReasonDecode   Reason = "decode"   // the value is not a record of the codec
	ReasonKey      Reason = "key"      // the group key is missing or not a scalar
	ReasonTime     Reason = "time"     // the event time is missing or unreadable
	ReasonInternal Reason = "internal" // a repartition record hourglass cannot read
)

func deadLetterHeaders(ctx goka.Context, reason Reason, err error) goka.Headers {
	h := goka.Headers{}
	for k, v := range ctx.Headers() {
		h[k] = v
	}
	h[HeaderError] = []byte(err.Error())
	h[HeaderErrorKind] = []byte(reason)
	h[HeaderSourceTopic] = []byte(ctx.Topic())
	h[HeaderSourcePartition] = []byte(strconv.FormatInt(int64(ctx.Partition()), 10))
	h[HeaderSourceOffset] = []byte(strconv.FormatInt(ctx.Offset(), 10))
	return h
}
