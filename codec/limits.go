package codec

// Limits that keep one hostile record from costing more than its size.
const (
	// MaxIntDigits caps the digits of an integer literal (JSON, Python
	// literal), as CPython caps str → int conversion: converting n digits
	// costs n² time, and a 4,000,000-digit integer took 31 s.
	MaxIntDigits = 4300

	// MaxAvroItems caps the array items plus map entries of one Avro
	// datum: an array of zero-size items (array<null>) is a few bytes for
	// millions of items.
	MaxAvroItems = 1 << 20

	// MaxOCFBlock caps a block of an Avro object container file, as
	// declared and once decompressed (a deflate or zstandard bomb);
	// writers use blocks of kilobytes to a few megabytes.
	MaxOCFBlock = 64 << 20
)
