package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/cmd/internal/cli"
)

// run executes vzpkg in-process with a fresh root prefix and returns
// stdout and the exit code the program would have.
func run(t *testing.T, root string, args ...string) (string, int, error) {
	t.Helper()
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append([]string{"--vzkit-root", root}, args...))
	err := cmd.ExecuteContext(context.Background())
	code := cli.ExitOK
	if err != nil {
		code = cli.ExitFailure
		var ee *cli.ExitError
		if errors.As(err, &ee) {
			code = ee.Code
		}
	}
	return out.String(), code, err
}

// sampleApt writes an apt configuration like a Debian 12 host's, with
// example.org mirrors, and points vzpkg at it.
func sampleApt(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sources.list.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "sources.list.d", "debian.sources"), `Types: deb
URIs: http://example.org/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://example.org/debian-security
Suites: bookworm-security
Components: main
`)
	old := hostAptDir
	hostAptDir = dir
	t.Cleanup(func() { hostAptDir = old })
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTemplatesFlagFirst: --templates directories are searched before the
// shipped set, so a maintainer can override a shipped template by name.
func TestTemplatesFlagFirst(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "debian-12-minimal.yaml"), `extends: debian-base
release: "12"
variant: minimal
variables: {codename: bookworm}
packages:
  include: [less]
`)
	out, code, err := run(t, t.TempDir(), "--templates", dir, "show", "debian-12-minimal", "--mirror", "http://example.org/debian")
	if code != 0 {
		t.Fatalf("exit %d: %v", code, err)
	}
	if !strings.Contains(out, "# template debian-12-minimal from "+filepath.Join(dir, "debian-12-minimal.yaml")) || !strings.Contains(out, "- less") {
		t.Errorf("override not used:\n%s", out)
	}
	if _, code, _ := run(t, t.TempDir(), "--templates", filepath.Join(dir, "nope"), "list"); code != cli.ExitUsage {
		t.Errorf("missing --templates dir: exit %d", code)
	}
}
