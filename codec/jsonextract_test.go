package codec

import (
	"testing"
)

var extractPathSets = [][]string{
	{"action", "time"},
	{"a.b", "a.c", "d"},
	{"x.0", "y"},
	{"a", "a.b"},
	{"diaSource.ra", "diaSource.decl", "alertId"},
}

// checkExtract: ExtractJSON accepts and rejects what DecodeJSON does, with
// the same error, and what it extracts is what Lookup finds.
func checkExtract(t *testing.T, data []byte, steps []string) (ok bool) {
	t.Helper()
	return checkExtractWith(t, DecodeJSON, ExtractJSON, data, steps)
}

// checkExtractWith is checkExtract for any codec's pair of functions.
func checkExtractWith(t *testing.T, decode func([]byte) (any, error), extract func([]byte, *PathSet, []any) (bool, error), data []byte, steps []string) (ok bool) {
	t.Helper()
	paths := make([]Path, len(steps))
	for i, s := range steps {
		paths[i], _ = ParsePath(s)
	}
	full, fullErr := decode(data)
	out := make([]any, len(paths))
	ok, err := extract(data, NewPathSet(paths...), out)
	if (err == nil) != (fullErr == nil) || (err != nil && err.Error() != fullErr.Error()) {
		t.Fatalf("%q %v: Extract error %v, Decode error %v", data, steps, err, fullErr)
	}
	if err != nil || !ok {
		return ok
	}
	for i, p := range paths {
		want, lerr := p.Lookup(full)
		if lerr != nil {
			t.Fatalf("%q: extracted %s = %v, but Lookup says %v", data, p, out[i], lerr)
		}
		if !sameValue(out[i], want) {
			t.Fatalf("%q: extracted %s = %#v, Lookup %#v", data, p, out[i], want)
		}
	}
	return true
}

func TestExtractJSON(t *testing.T) {
	for _, tt := range []struct {
		data   string
		paths  []string
		wantOK bool
	}{
		{`{"time": 1469520000, "action": "Open"}`, []string{"action", "time"}, true},
		{`{"action":"Close","extra":[1,{"z":null}],"time":"2016-07-26 08:00:00"}`, []string{"action", "time"}, true},
		{`{"a":{"c":1.5,"b":"x"},"d":true}`, []string{"a.b", "a.c", "d"}, true},
		{`{"ac\u0074ion":"Open","time":1}`, []string{"action", "time"}, true},
		{`{"action":"Open"}`, []string{"action", "time"}, false},                   // missing: Lookup says so
		{`{"action":"Open","time":1,"time":2}`, []string{"action", "time"}, false}, // duplicate key: an error
		{`{"action":"Open","t\u0069me":1,"time":2}`, []string{"action", "time"}, false},
		{`{"action":"Open","time":1} x`, []string{"action", "time"}, false},
		{`{"action":"Open","time":1e999}`, []string{"action", "time"}, false},
		{`{"x":[5],"y":1}`, []string{"x.0", "y"}, false}, // through an array: not walked
		{`[1,2]`, []string{"action", "time"}, false},
		{`{"a":{"b":1}}`, []string{"a", "a.b"}, false},
		{"{\"action\":\"Op\xffen\",\"time\":1}", []string{"action", "time"}, false},
	} {
		if ok := checkExtract(t, []byte(tt.data), tt.paths); ok != tt.wantOK {
			t.Errorf("%s %v: ok %v, want %v", tt.data, tt.paths, ok, tt.wantOK)
		}
	}
}

func FuzzExtractMatchesDecode(f *testing.F) {
	for _, s := range []string{
		`{"time": 1469520000, "action": "Open"}`,
		`{"a":{"c":1.5,"b":"x","b":2},"d":true}`,
		`{"x":[5],"y":1}`,
		`{"diaSource":{"ra":351.5,"decl":-3},"alertId":7,"prv":[]}`,
		`{"ac\u0074ion":"Open","time":1,"time":2}`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, set uint8) {
		checkExtract(t, data, extractPathSets[int(set)%len(extractPathSets)])
	})
}

func BenchmarkExtractJSONEvent(b *testing.B) {
	data := []byte(`{"time": 1469520000, "action": "Open"}`)
	action, _ := ParsePath("action")
	tm, _ := ParsePath("time")
	ps := NewPathSet(action, tm)
	out := make([]any, 2)
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := ExtractJSON(data, ps, out); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
