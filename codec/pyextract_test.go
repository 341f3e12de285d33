package codec

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

var pyExtractPathSets = [][]string{
	{"diaSource.ra", "alertId"},
	{"a.b", "a.c", "d"},
	{"prv_diaSources", "ssObject.ssObjectId"},
	{"a", "a.b"},
	{"k"},
}

func checkPyExtract(t *testing.T, data []byte, steps []string) bool {
	t.Helper()
	return checkExtractWith(t, DecodePyLiteral, ExtractPyLiteral, data, steps)
}

func TestExtractPyLiteral(t *testing.T) {
	for _, tt := range []struct {
		data   string
		paths  []string
		wantOK bool
	}{
		{`{'alertId': 7, 'diaSource': {'ra': 351.25, 'decl': -3.5}}`, []string{"diaSource.ra", "alertId"}, true},
		{`{'a': {'c': 1.5e3, 'b': 'x\ty', 'z': [1, (2, 3), b'\x00', None, True, -inf]}, 'd': 10**0 if 0 else 1}`, []string{"a.b", "a.c", "d"}, false}, // an error after the paths
		{`{'a': {'c': 1_000, 'b': u'x' "y" r'\d'}, 'd': {1: 2}}`, []string{"a.b", "a.c", "d"}, false},                                                 // a non-string key in a dropped value
		{`{"a": {'c': 12345678901234567890123, 'b': ''}, 'd': ()}`, []string{"a.b", "a.c", "d"}, true},
		{`{'a': {'c': 1, 'b': 2, 'b': 3}, 'd': 4}`, []string{"d"}, false},                                        // duplicate in a dropped dict
		{`{'a': {'c': 1, 'b': 2, '\x62': 3}, 'd': 4}`, []string{"d"}, false},                                     // duplicate once unescaped
		{`{'k': 1, 'x': {'y': 'a' 'b', 'ab': 0, 'a' 'b': 2}}`, []string{"k"}, false},                             // duplicate by concatenation
		{`{'k': 1, 'x': [012]}`, []string{"k"}, false},                                                           // leading zero where nothing is kept
		{`{'k': 1, 'x': 1.2.3}`, []string{"k"}, false},                                                           // bad float where nothing is kept
		{`{'k': 1, 'x': '\ud800'}`, []string{"k"}, false},                                                        // lone surrogate where nothing is kept
		{`{'k': 1, 'x': b'é'}`, []string{"k"}, false},                                                            // non-ASCII bytes where nothing is kept
		{`{'k': 1, 'x': 'a' b'b'}`, []string{"k"}, false},                                                        // str and bytes where nothing is kept
		{`{'k': 1, 'x': {1, 2}}`, []string{"k"}, false},                                                          // a set where nothing is kept
		{`{'k': 1, 'x': set()}`, []string{"k"}, false},                                                           // a set where nothing is kept
		{`{'k': 'v'} x`, []string{"k"}, false},                                                                   // data after the value
		{`{'ssObject': None, 'prv_diaSources': None}`, []string{"prv_diaSources", "ssObject.ssObjectId"}, false}, // through None: Lookup answers
		{`{'a': {'b': 1}}`, []string{"a", "a.b"}, false},
		{`({'k': 1})`, []string{"k"}, false}, // in parentheses: not walked
		{"{'k':\n 1,\\\n 'j': '''a\nb'''}", []string{"k"}, true},
		{`{'k': 1, 'x': ` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}`, []string{"k"}, false}, // too deep where nothing is kept
		{`{'k': 1, 'x': ` + strings.Repeat("{'a':", 600) + `1` + strings.Repeat("}", 600) + `}`, []string{"k"}, false},
	} {
		if ok := checkPyExtract(t, []byte(tt.data), tt.paths); ok != tt.wantOK {
			t.Errorf("%s %v: ok %v, want %v", tt.data, tt.paths, ok, tt.wantOK)
		}
	}
	for _, f := range []string{"testdata/legacy_alert_repr_one_line.txt", "testdata/legacy_alert_pprint.txt"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !checkPyExtract(t, data, []string{"diaSource.ra", "alertId"}) {
			t.Errorf("%s: not extracted", f)
		}
	}
}

// FuzzPyExtractMatchesDecode: ExtractPyLiteral accepts and rejects exactly
// what DecodePyLiteral does, with the same error, and extracts what Lookup
// finds.
func FuzzPyExtractMatchesDecode(f *testing.F) {
	for _, s := range []string{
		`{'alertId': 7, 'diaSource': {'ra': 351.25, 'decl': -3.5}}`,
		`{'a': {'c': 1_0.5, 'b': u'x' "y", 'b': 2}, 'd': (1,)}`,
		`{'a': {'c': 1, 'b': '\x62'}, 'd': [b'\x00', None, True, -inf, 12345678901234567890123L]}`,
		`{'prv_diaSources': [{'snr': 5.0}], 'ssObject': {'ssObjectId': 0}}`,
		`{'k': {1, 2}}`,
		`{'k': 1, 'x': {'': '', 'a': [-0, 0, 1.5e-3, 2E+9, 00.5, 123456789012345678, nan, inf, None, True, False], 'b': "q'q"}}`,
		`{'k': 1, 'x': ['''a''', '' 'b', 1.e5, 01, 1e, 1.2.3, 1_0, 10L, Nonex]}`,
		"{'k': 1, 'x': {'a': 1,\n 'b': {'c': [1,\t2],\r\n}, 'a': 2}}",
	} {
		f.Add([]byte(s), uint8(0))
	}
	if b, err := os.ReadFile("testdata/legacy_alert_pprint.txt"); err == nil {
		f.Add(b, uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, set uint8) {
		checkPyExtract(t, data, pyExtractPathSets[int(set)%len(pyExtractPathSets)])
	})
}

func BenchmarkExtractPyLiteralAlert(b *testing.B) {
	data, err := os.ReadFile("testdata/legacy_alert_repr_one_line.txt")
	if err != nil {
		b.Fatal(err)
	}
	ra, _ := ParsePath("diaSource.ra")
	ps := NewPathSet(ra)
	out := make([]any, 1)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := ExtractPyLiteral(data, ps, out); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// TestPlainFloat: what plainFloat takes, strconv.ParseFloat takes, over
// every string of up to 6 characters from the number scanner's alphabet
// and some long and huge ones.
func TestPlainFloat(t *testing.T) {
	const alphabet = "019.eE+-"
	var rec func(prefix []byte, n int)
	taken := 0
	check := func(s []byte) {
		if plainFloat(s) {
			taken++
			if _, err := strconv.ParseFloat(string(s), 64); err != nil {
				t.Fatalf("plainFloat(%q) but ParseFloat: %v", s, err)
			}
		}
	}
	rec = func(prefix []byte, n int) {
		check(prefix)
		if n == 0 {
			return
		}
		for i := range len(alphabet) {
			rec(append(prefix, alphabet[i]), n-1)
		}
	}
	rec(nil, 6)
	for _, s := range []string{"1e300", "9e300", "10e299", "1e308", "1.7976931348623157e308", "1e-400", strings.Repeat("9", 300) + ".5", strings.Repeat("9", 301), "0.5e-99999999999", "1e99999999999"} {
		check([]byte(s))
	}
	if taken < 1000 {
		t.Fatalf("plainFloat took only %d strings", taken)
	}
}
