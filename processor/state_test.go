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

func TestStateDirTrustsOnlyCleanStops(t *testing.T) {
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
	// No marker: a crashed run's tables are discarded.
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
	// The marker is consumed: a crash now is noticed next time.
	if _, err := os.Stat(filepath.Join(dir, cleanMarker)); !os.IsNotExist(err) {
		t.Fatal("the clean marker outlived begin")
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
