package processor

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gofrs/flock"
	"github.com/hourglass-stream/hourglass/internal/gokautil"
	"github.com/lovoo/goka/storage"
)

// stateDir is a directory of Goka's local table storage that this process
// owns. Its tables are kept consistent with their changelogs through
// crashes (localTables), so a run uses them as they are. A directory
// written by a version of hourglass before that (no format marker) is
// trusted only if its run ended cleanly (the clean marker); otherwise it
// is emptied and the table is recovered from the changelog, which is
// always correct.
type stateDir struct {
	path string
	lock *flock.Flock
	temp bool
	log  *slog.Logger
}

const (
	cleanMarker = ".hourglass-clean"
	// formatMarker says the tables keep undo entries and checkpoints.
	formatMarker = ".hourglass-checkpointed"
	lockFile     = ".hourglass-lock"
	pidFile      = ".hourglass-lock.pid" // the lock holder's PID
)

// ErrStateDirInUse is returned when another process holds the state
// directory.
var ErrStateDirInUse = errors.New("state directory in use")

// openStateDir takes path (or a new temporary directory when path is
// empty) for this process.
func openStateDir(path, group string, log *slog.Logger) (*stateDir, error) {
	s := &stateDir{path: path, log: log}
	if path == "" {
		dir, err := os.MkdirTemp("", "hourglass-"+group+"-*")
		if err != nil {
			return nil, fmt.Errorf("state directory: %w", err)
		}
		s.path, s.temp = dir, true
	} else if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	// An advisory lock (flock on Unix, LockFileEx on Windows), released
	// by the system when the process dies; the holder's PID is beside it.
	lock := flock.New(filepath.Join(s.path, lockFile))
	locked, err := lock.TryLock()
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if !locked {
		pid, _ := os.ReadFile(filepath.Join(s.path, pidFile))
		return nil, fmt.Errorf("%w: %s is held by process %s; give each instance its own --state-dir (or none)", ErrStateDirInUse, s.path, strings.TrimSpace(string(pid)))
	}
	_ = os.WriteFile(filepath.Join(s.path, pidFile), []byte(strconv.Itoa(os.Getpid())), 0o644)
	s.lock = lock
	return s, nil
}

// begin prepares the directory for a run: it keeps the local tables if
// they are checkpointed or the last run ended cleanly, and removes the
// clean marker, which versions before checkpoints rely on, so that they
// notice a crash during this run.
func (s *stateDir) begin() error {
	if s.temp {
		return nil
	}
	clean := filepath.Join(s.path, cleanMarker)
	_, err := os.Stat(clean)
	_, ferr := os.Stat(filepath.Join(s.path, formatMarker))
	trusted := err == nil || ferr == nil
	if err := os.Remove(clean); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("state directory: %w", err)
	}
	if !trusted {
		if err := s.discard(); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(s.path, formatMarker), nil, 0o644); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	return nil
}

// discard empties the directory but for its lock.
func (s *stateDir) discard() error {
	entries, err := os.ReadDir(s.path)
	if err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	discarded := 0
	for _, e := range entries {
		if e.Name() == lockFile || e.Name() == pidFile {
			continue
		}
		if err := os.RemoveAll(filepath.Join(s.path, e.Name())); err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
		discarded++
	}
	if discarded > 0 {
		s.log.Warn("local state of an earlier version was not closed cleanly; discarded it, the table is recovered from its changelog", "state_dir", s.path)
	}
	return nil
}

// end marks a clean stop, after which the local tables may be reused.
func (s *stateDir) end() error {
	return os.WriteFile(filepath.Join(s.path, cleanMarker), nil, 0o644)
}

// tables are the local tables of changelog topic in this run: in LevelDB
// in a kept directory, nil and in memory for a temporary one (nothing
// would reuse it).
func (s *stateDir) tables(topic string) (storage.Builder, *localTables) {
	if s.temp {
		return gokautil.MemStorage(), nil
	}
	t := newLocalTables(s.path, topic, s.log)
	return t.builder(), t
}

// close releases the directory, removing it if it was temporary.
func (s *stateDir) close() {
	if s.lock != nil {
		s.lock.Close()
	}
	if s.temp {
		os.RemoveAll(s.path)
	}
}
