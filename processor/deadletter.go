package processor

import "github.com/lovoo/goka"

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
)

// errorHeaders adds the headers saying what is wrong to h.
func errorHeaders(h goka.Headers, reason Reason, err error) goka.Headers {
	h[HeaderError] = []byte(err.Error())
	h[HeaderErrorKind] = []byte(reason)
	return h
}
