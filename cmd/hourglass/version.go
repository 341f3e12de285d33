package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is the release, set by `make release` (-ldflags "-X
// main.version=v1.2.3"); without it the module version from the build
// info (v1.2.3 for `go install …@v1.2.3`, "(devel)" for a checkout).
var version = ""

// buildInfo is what `hourglass version` prints: the release, the commit
// and whether the tree had uncommitted changes, the Go version and the
// platform.
type buildInfo struct {
	Version, Commit, Time, GoVersion, Platform string
	Dirty                                      bool
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if b.Version == "" {
		b.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Dirty = s.Value == "true"
		}
	}
	return b
}

// String is one line: "hourglass v1.2.3 (commit 0123abc, dirty, 2026-12-01T22:51:37Z) go1.26.8 linux/amd64".
func (b buildInfo) String() string {
	var about []string
	if b.Commit != "" {
		c := "commit " + b.Commit[:min(12, len(b.Commit))]
		if b.Dirty {
			c += ", dirty"
		}
		about = append(about, c)
	}
	if b.Time != "" {
		about = append(about, b.Time)
	}
	s := "hourglass " + b.Version
	if len(about) > 0 {
		s += " (" + strings.Join(about, ", ") + ")"
	}
	return s + " " + b.GoVersion + " " + b.Platform
}

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, Go version and platform",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), readBuildInfo())
			return err
		},
	}
}
