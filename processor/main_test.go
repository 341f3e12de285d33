package processor

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them: a
// step, reader or producer not stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// go-metrics' meter ticker, started once by sarama's first
		// config and kept for the process.
		goleak.IgnoreTopFunction("github.com/rcrowley/go-metrics.(*meterArbiter).tick"),
		// goka v1.1.17 waits for the rows of a visit whose write failed
		// (TestFinalRowAfterFailedWrite) for ever: their visit context
		// fails and never marks them done.
		goleak.IgnoreAnyFunction("github.com/lovoo/goka.(*PartitionProcessor).VisitValues.func4"),
		// goleveldb v1.0.0's closed DB drains its memory pool for up to a
		// second after Close returns (db_state.go, mpoolDrain).
		goleak.IgnoreTopFunction("github.com/syndtr/goleveldb/leveldb.(*DB).mpoolDrain"),
	)
}
