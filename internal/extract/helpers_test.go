package extract_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/testenv"

	"github.com/vzkit/vzkit/internal/extract"
	et "github.com/vzkit/vzkit/internal/extract/extracttest"
)

// policies are the two ways of extracting; the hostile-input rules must
// hold for both.
var policies = []struct {
	name string
	p    extract.Policy
}{
	{"dpkg", extract.DpkgUnpack},
	{"cache", extract.CacheRestore},
}

// forEachPolicy runs f as a subtest per policy.
func forEachPolicy(t *testing.T, f func(t *testing.T, p extract.Policy)) {
	for _, pol := range policies {
		t.Run(pol.name, func(t *testing.T) { f(t, pol.p) })
	}
}

// unpack extracts data into dir (created when missing) under p. Owners
// are kept only when the test runs as root.
func unpack(tb testing.TB, dir string, p extract.Policy, data []byte, opts extract.Options) (extract.Result, error) {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	r, err := extract.OpenRoot(dir)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	opts.IgnoreOwner = opts.IgnoreOwner || os.Geteuid() != 0
	return r.Extract(context.Background(), bytes.NewReader(data), p, opts)
}

// sandboxed extracts entries into a new sandbox's destination.
func sandboxed(t *testing.T, p extract.Policy, entries ...et.Entry) (*et.Sandbox, extract.Result, error) {
	t.Helper()
	s := et.NewSandbox(t)
	res, err := unpack(t, s.Dst, p, et.Tar(t, entries...), extract.Options{})
	return s, res, err
}

func needRoot(tb testing.TB) {
	tb.Helper()
	testenv.NeedRoot(tb, "owners, device nodes, trusted and security xattrs")
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustNotExist(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists (err=%v): extraction escaped the destination", p, err)
	}
}

// hostName is a name below the host's /etc that no system has; tests
// check that entries aimed at the host's /etc did not create it.
func hostName(t *testing.T) string {
	return fmt.Sprintf("vzkit-extract-test-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"))
}

// captureLog sends slog output to a buffer for the rest of the test.
func captureLog(t *testing.T) *bytes.Buffer {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return &buf
}
