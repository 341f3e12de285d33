// Package pgtest starts a real PostgreSQL server for tests (Debian's
// postgresql package): initdb in a temporary directory, pg_ctl start on
// 127.0.0.1, and pg_ctl stop (the postmaster's PID) at the test's end.
package pgtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// bin finds PostgreSQL's server binaries: $HOURGLASS_PG_BIN, Debian's
// /usr/lib/postgresql/*/bin (the newest), or the path.
func bin() string {
	if d := os.Getenv("HOURGLASS_PG_BIN"); d != "" {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return a > b
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// Start starts a server and returns its connection string (user postgres,
// database postgres, trust authentication on 127.0.0.1), stopped when the
// test ends. Without PostgreSQL the test is skipped, unless
// HOURGLASS_REQUIRE_POSTGRES is set (.ci/run sets it).
func Start(t testing.TB) string {
	t.Helper()
	if bin() == "" {
		if os.Getenv("HOURGLASS_REQUIRE_POSTGRES") != "" {
			t.Fatal("no PostgreSQL: install Debian's postgresql or set HOURGLASS_PG_BIN")
		}
		t.Skip("no PostgreSQL (Debian's postgresql package; .ci/run installs it)")
	}
	dsn, stop, err := Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return dsn
}

// Run starts a server as Start does, for programs (make bench); stop
// stops it (pg_ctl stop: the postmaster's PID) and removes its files.
func Run() (dsn string, stop func() error, err error) {
	dir := bin()
	if dir == "" {
		return "", nil, errors.New("no PostgreSQL: install Debian's postgresql or set HOURGLASS_PG_BIN")
	}
	base, err := os.MkdirTemp("", "hourglass-pg-")
	if err != nil {
		return "", nil, err
	}
	data := filepath.Join(base, "data")
	// initdb refuses to run as root: run the server as user postgres.
	var as []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(base)
			return "", nil, errors.New("running as root and there is no user postgres to run PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(base, uid, gid); err != nil {
			os.RemoveAll(base)
			return "", nil, err
		}
		as = []string{"runuser", "-u", "postgres", "--"}
	}
	run := func(args ...string) error {
		cmd := append(append([]string(nil), as...), args...)
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %w\n%s", args, err, out)
		}
		return nil
	}
	port, err := freePort()
	if err == nil {
		err = run(filepath.Join(dir, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
	}
	if err == nil {
		err = run(filepath.Join(dir, "pg_ctl"), "-D", data, "-l", filepath.Join(base, "log"), "-w", "-o",
			fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off", port, base), "start")
	}
	if err != nil {
		os.RemoveAll(base)
		return "", nil, err
	}
	stop = func() error {
		err := run(filepath.Join(dir, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop")
		os.RemoveAll(base)
		return err
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), stop, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
