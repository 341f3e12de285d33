package processor

import "testing"

func TestAggregateConfigValidate(t *testing.T) {
	if _, err := NewAggregator(AggregateConfig{}); err == nil {
		t.Fatal("empty config accepted")
	}
	if _, err := ParseStart("yesterday"); err == nil {
		t.Fatal("--start yesterday accepted")
	}
}
