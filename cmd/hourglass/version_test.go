package main

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
)

func TestVersionLine(t *testing.T) {
	b := buildInfo{Version: "v1.2.3", Commit: "0123456789abcdef0123", Time: "2026-12-01T22:51:37Z", Dirty: true, GoVersion: "go1.26.8", Platform: "linux/arm64"}
	if got, want := b.String(), "hourglass v1.2.3 (commit 0123456789ab, dirty, 2026-12-01T22:51:37Z) go1.26.8 linux/arm64"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	b = buildInfo{Version: "(devel)", GoVersion: "go1.26.8", Platform: "windows/amd64"}
	if got, want := b.String(), "hourglass (devel) go1.26.8 windows/amd64"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// Both spellings print the same one line about this binary.
	for _, args := range [][]string{{"version"}, {"--version"}} {
		root, _ := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs(args)
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		line := out.String()
		if !strings.HasPrefix(line, "hourglass ") || !strings.HasSuffix(line, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+"\n") || strings.Count(line, "\n") != 1 {
			t.Fatalf("%v printed %q", args, line)
		}
	}
}
