package processor

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestStateDirTrust: a directory of an earlier version (no format marker)
// is kept only after a clean stop; one whose tables are checkpointed is
// kept after a crash too (its tables restore themselves).
func TestStateDirTrust(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	s, err := openStateDir(dir, "g", log)
	if err != nil {
		t.Fatal(err)
	}
	table := filepath.Join(dir, "g-table.0")
	if err := os.Mkdir(table, 0o755); err != nil {
		t.Fatal(err)
	}
	// No marker: an earlier version's crashed run; its tables are discarded.
	if err := s.begin(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(table); !os.IsNotExist(err) {
		t.Fatalf("tables of an unclean run survived: %v", err)
	}
	// A clean stop keeps them for the next run.
	if err := os.Mkdir(table, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.end(); err != nil {
		t.Fatal(err)
	}
	if err := s.begin(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(table); err != nil {
		t.Fatalf("tables of a clean run were discarded: %v", err)
	}
	// The marker is consumed: an earlier version would notice a crash now.
	if _, err := os.Stat(filepath.Join(dir, cleanMarker)); !os.IsNotExist(err) {
		t.Fatal("the clean marker outlived begin")
	}
	// This version's tables are kept after a crash (no end).
	if err := s.begin(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(table); err != nil {
		t.Fatalf("checkpointed tables were discarded after a crash: %v", err)
	}
	// Without the format marker, they would not have been.
	if err := os.Remove(filepath.Join(dir, formatMarker)); err != nil {
		t.Fatal(err)
	}
	if err := s.begin(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(table); !os.IsNotExist(err) {
		t.Fatalf("tables of an earlier version's crashed run survived: %v", err)
	}

	// A second process cannot take the directory.
	if _, err := openStateDir(dir, "g", log); !errors.Is(err, ErrStateDirInUse) || !strings.Contains(err.Error(), "process "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second open: %v, want ErrStateDirInUse naming process %d", err, os.Getpid())
	}
	s.close()
	s2, err := openStateDir(dir, "g", log)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	s2.close()
}

func TestTempStateDirIsRemoved(t *testing.T) {
	s, err := openStateDir("", "g", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s.close()
	if _, err := os.Stat(s.path); !os.IsNotExist(err) {
		t.Fatalf("temporary state dir %s left behind", s.path)
	}
}
