package processor

import (
	"errors"
	"strings"
	"testing"
)

// TestHealth: ready once every step of the run has joined, not after a
// failed run until every step of the next has joined again, and why says
// which.
func TestHealth(t *testing.T) {
	h := newHealth("rekey", "count")
	expect := func(ready bool, says string) {
		t.Helper()
		ok, why := h.state()
		if ok != ready || !strings.Contains(why, says) {
			t.Fatalf("state %v %q, want %v and %q", ok, why, ready, says)
		}
	}
	h.begin()
	expect(false, "rekey and count step")
	h.join("rekey")
	expect(false, "(count step)")
	h.join("count")
	expect(true, "")
	h.join("rekey") // a rebalance within the run
	expect(true, "")
	h.fail(errors.New("broker gone"))
	expect(false, "outage, retrying: broker gone")
	h.begin()
	h.join("count")
	expect(false, "outage")
	h.join("rekey")
	expect(true, "")
}
