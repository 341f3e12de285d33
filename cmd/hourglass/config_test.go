package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// configCommand is a command with flags of each kind, for applyConfig.
type configCommand struct {
	cmd    *cobra.Command
	group  string
	tls    bool
	linger time.Duration
	max    int
	keys   []string
}

func newConfigCommand() *configCommand {
	c := &configCommand{cmd: &cobra.Command{Use: "aggregate"}}
	f := c.cmd.Flags()
	f.StringVar(&c.group, "group", "", "")
	f.BoolVar(&c.tls, "tls", false, "")
	f.DurationVar(&c.linger, "batch-linger", 20*time.Millisecond, "")
	f.IntVar(&c.max, "batch-max", 20000, "")
	f.StringArrayVar(&c.keys, "key", nil, "")
	f.String("config", "", "")
	requireFlags(c.cmd, "group")
	return c
}

// TestConfig: flags come from the command line, then HOURGLASS_<FLAG>,
// then --config; booleans are strict; a key that is no flag, and a
// required flag set nowhere, are errors.
func TestConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "aggregate.yaml")
	if err := os.WriteFile(file, []byte("group: from-file\nbatch-linger: 100ms\nbatch-max: 5\nkey: [action, site]\ntls: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOURGLASS_BATCH_MAX", "7")
	c := newConfigCommand()
	if err := c.cmd.ParseFlags([]string{"--group", "cli"}); err != nil {
		t.Fatal(err)
	}
	if err := applyConfig(c.cmd, file); err != nil {
		t.Fatal(err)
	}
	if err := checkRequired(c.cmd); err != nil {
		t.Fatal(err)
	}
	if c.group != "cli" || c.max != 7 || c.linger != 100*time.Millisecond || !c.tls || strings.Join(c.keys, ",") != "action,site" {
		t.Errorf("group %q, batch-max %d, batch-linger %v, tls %v, keys %v; want cli, 7 (env), 100ms, true and action,site (file)", c.group, c.max, c.linger, c.tls, c.keys)
	}
	if !c.cmd.Flags().Changed("batch-linger") {
		t.Error("a flag set by the file does not count as changed")
	}

	// Strict booleans, with the variable named.
	t.Setenv("HOURGLASS_TLS", "yes")
	c = newConfigCommand()
	if err := applyConfig(c.cmd, ""); err == nil || !strings.Contains(err.Error(), `HOURGLASS_TLS="yes"`) || !strings.Contains(err.Error(), "--tls") {
		t.Errorf("HOURGLASS_TLS=yes: %v", err)
	}
	t.Setenv("HOURGLASS_TLS", "0")

	// A required flag from the environment counts.
	t.Setenv("HOURGLASS_GROUP", "from-env")
	c = newConfigCommand()
	if err := applyConfig(c.cmd, ""); err != nil || checkRequired(c.cmd) != nil || c.group != "from-env" {
		t.Errorf("HOURGLASS_GROUP: %v, %v, group %q", err, checkRequired(c.cmd), c.group)
	}
	os.Unsetenv("HOURGLASS_GROUP")
	c = newConfigCommand()
	if err := applyConfig(c.cmd, ""); err != nil {
		t.Fatal(err)
	}
	if err := checkRequired(c.cmd); err == nil || !strings.Contains(err.Error(), `"group"`) {
		t.Errorf("no group anywhere: %v", err)
	}

	// A typo in the file.
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("group = \"g\"\nbatch_linger = \"1s\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := applyConfig(newConfigCommand().cmd, bad); err == nil || !strings.Contains(err.Error(), "batch_linger not a flag") {
		t.Errorf("a key that is no flag: %v", err)
	}
	if err := applyConfig(newConfigCommand().cmd, filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("a missing --config file accepted")
	}
}
