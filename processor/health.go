package processor

import (
	"fmt"
	"strings"
	"sync"
)

// health follows whether a processor does its work, for /readyz: ready
// once every step of the current run has joined its consumer group (an
// assignment arrived, perhaps of no partition: a member beyond the
// partition count is ready and idle), and not while a run has failed and
// the next one has not joined yet (an outage: the processor retries).
type health struct {
	steps []string

	mu      sync.Mutex
	run     int64            // runs begun
	joined  map[string]int64 // step → the run it last joined in
	failure error            // why the last run ended, until a run joins
}

func newHealth(steps ...string) *health {
	return &health{steps: steps, joined: map[string]int64{}}
}

// begin notes a new run.
func (h *health) begin() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.run++
}

// join notes that step joined its group in the current run.
func (h *health) join(step string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.joined[step] = h.run
	if h.ready() {
		h.failure = nil
	}
}

// fail notes that the current run ended with err.
func (h *health) fail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failure = err
	h.run++ // whatever joined in it is gone
}

func (h *health) ready() bool {
	for _, s := range h.steps {
		if h.joined[s] != h.run {
			return false
		}
	}
	return true
}

// state returns whether the processor is ready and, if not, why.
func (h *health) state() (ready bool, why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ready() && h.failure == nil {
		return true, ""
	}
	var waiting []string
	for _, s := range h.steps {
		if h.joined[s] != h.run {
			waiting = append(waiting, s)
		}
	}
	why = fmt.Sprintf("joining the consumer group (%s step)", strings.Join(waiting, " and "))
	if h.failure != nil {
		why = fmt.Sprintf("in an outage, retrying: %v", h.failure)
	}
	return false, why
}
