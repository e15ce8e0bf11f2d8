package main

import (
	"runtime"
	"strings"
	"testing"
)

// TestVersion: --version prints the program, its version and the Go
// release it was built with.
func TestVersion(t *testing.T) {
	out, code, err := run(t, t.TempDir(), "--version")
	if err != nil || code != 0 {
		t.Fatalf("vzpkg --version: exit %d, %v", code, err)
	}
	if want := "vzpkg " + version + " (" + runtime.Version(); !strings.HasPrefix(out, want) {
		t.Errorf("vzpkg --version = %q, want it to start with %q", out, want)
	}
}
