package codec

// Limits that keep one hostile record from costing more than its size.
const (
	// MaxIntDigits caps the digits of an integer literal (JSON, Python
	// literal), as CPython caps str → int conversion: converting n digits
	// costs n² time, and a 4,000,000-digit integer took 31 s.
	MaxIntDigits = 4300

	// AvroItemSlack bounds the array items plus map entries of one Avro
	// datum to its length in bytes plus this many: every item but one of
	// zero size (null, an empty record) takes a byte at least, so real data
	// never reaches it, while an array of nulls no longer makes millions of
	// items out of a few bytes.
	AvroItemSlack = 4096

	// MaxOCFBlock caps a block of an Avro object container file, as
	// declared and once decompressed (a deflate or zstandard bomb);
	// writers use blocks of kilobytes to a few megabytes.
	MaxOCFBlock = 64 << 20
)
