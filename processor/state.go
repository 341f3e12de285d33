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
// owns. Goka writes a row to its local LevelDB before the changelog
// acknowledges it, so after a crash the local copy can be ahead of the
// changelog; a process resuming from it would skip updates that the
// changelog, and so every view and every other instance, never got. A
// state directory is therefore only trusted when the previous run ended
// cleanly (it left a marker); otherwise it is emptied and the table is
// recovered from the changelog, which is always correct.
type stateDir struct {
	path string
	lock *flock.Flock
	temp bool
	log  *slog.Logger
}

const (
	cleanMarker = ".hourglass-clean"
	lockFile    = ".hourglass-lock"
	pidFile     = ".hourglass-lock.pid" // the lock holder's PID
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

// begin prepares the directory for a run: it keeps the local tables only
// if the last run ended cleanly, and removes the marker so that a crash
// during this run is noticed by the next.
func (s *stateDir) begin() error {
	clean := filepath.Join(s.path, cleanMarker)
	_, err := os.Stat(clean)
	trusted := err == nil
	if err := os.Remove(clean); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("state directory: %w", err)
	}
	if trusted {
		return nil
	}
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
		s.log.Warn("local state was not closed cleanly; discarded it, the table is recovered from its changelog", "state_dir", s.path)
	}
	return nil
}

// end marks a clean stop, after which the local tables may be reused.
func (s *stateDir) end() error {
	return os.WriteFile(filepath.Join(s.path, cleanMarker), nil, 0o644)
}

// storage is goka's storage builder for the directory: LevelDB in a kept
// directory, memory for a temporary one (nothing would reuse it).
func (s *stateDir) storage() storage.Builder {
	if s.temp {
		return gokautil.MemStorage()
	}
	return storage.DefaultBuilder(s.path)
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
