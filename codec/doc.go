// Package codec turns Kafka record values into nested values, and back.
//
// A decoded value is built only from these concrete types:
//
//	map[string]any  an object (keys unique)
//	[]any           an array
//	string          a string
//	int64           an integer that fits in 64 bits
//	*big.Int        a larger integer, kept exact
//	float64         a number with a fraction or an exponent
//	bool            true or false
//	nil             null
//
// Nothing is guessed or coerced: an integer stays an integer however large
// (an id such as 281323062375219200 does not become 2.8132306237521917e17),
// a duplicate object key is an error rather than "last one wins", and
// trailing bytes after the value are an error. Every decoding failure is a
// *DecodeError carrying the byte offset and what was expected, so that a
// dead-letter record can say exactly what is wrong with it.
//
// Lookup reads a field by its dotted path ("diaSource.ra",
// "prv_diaSources.0.snr") and says which step of the path is missing.
package codec
