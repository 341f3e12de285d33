package processor

import (
	"strings"
	"testing"
	"time"

	"github.com/hourglass-stream/hourglass/agg"
	"github.com/hourglass-stream/hourglass/codec"
	"github.com/hourglass-stream/hourglass/windows"
)

func TestAggregateConfigValidate(t *testing.T) {
	if _, err := NewAggregator(AggregateConfig{}); err == nil {
		t.Fatal("empty config accepted")
	}
	if _, err := ParseStart("yesterday"); err == nil {
		t.Fatal("--start yesterday accepted")
	}
}

// TestKeyColumnNames: several keys need column names that are identifiers
// and not taken by the row (key, window_start, …), count or an aggregate.
func TestKeyColumnNames(t *testing.T) {
	path := func(s string) codec.Path { p, _ := codec.ParsePath(s); return p }
	aggs, err := agg.Parse([]string{"sum(v) as total"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ok   bool
	}{{"site", true}, {"band_2", true}, {"count", false}, {"window_start", false}, {"key", false}, {"final", false}, {"total", false}, {"9x", false}, {"a-b", false}} {
		cfg := AggregateConfig{Keys: []KeyColumn{{Name: "action", Path: path("action")}, {Name: tc.name, Path: path("s")}}, Aggs: aggs, Windows: windows.Tumbling(time.Hour)}
		err := cfg.validate()
		if got := err == nil || !strings.Contains(err.Error(), "the column name"); got != tc.ok {
			t.Errorf("key column %q: %v", tc.name, err)
		}
	}
}
