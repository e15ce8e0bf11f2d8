package solve

// Reading real Packages files for the tests, through repo/apt's parser.

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/repo/apt"
)

// maxIndexBytes bounds a decompressed Packages file read by the tests
// (trixie's main/amd64 is ~57 MB).
const maxIndexBytes = 512 << 20

// parseStanzas parses a Packages index with repo/apt's parser.
func parseStanzas(r io.Reader) ([]apt.Package, error) {
	return apt.ParsePackages(io.LimitReader(r, maxIndexBytes), "test index", "")
}

// readPackagesFile reads a Packages file, compressed or not, through apt's
// own apt-helper so that every compression apt stores lists with works.
func readPackagesFile(tb testing.TB, path string) []apt.Package {
	tb.Helper()
	if filepath.Ext(path) == "" || strings.HasSuffix(path, "_Packages") {
		f, err := os.Open(path)
		if err != nil {
			tb.Fatal(err)
		}
		defer f.Close()
		pkgs, err := parseStanzas(f)
		if err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		return pkgs
	}
	helper := "/usr/lib/apt/apt-helper"
	if _, err := os.Stat(helper); err != nil {
		tb.Skipf("%s needs apt's %s to decompress: %v", path, helper, err)
	}
	data, err := exec.Command(helper, "cat-file", path).Output()
	if err != nil {
		tb.Fatalf("apt-helper cat-file %s: %v", path, err)
	}
	pkgs, err := parseStanzas(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return pkgs
}

// hostBookworm returns the host's apt list for bookworm main on amd64, or
// skips.
func hostBookworm(tb testing.TB) []apt.Package {
	tb.Helper()
	matches, _ := filepath.Glob("/var/lib/apt/lists/*_dists_bookworm_main_binary-amd64_Packages*")
	if len(matches) == 0 {
		tb.Skip("no bookworm main amd64 list in /var/lib/apt/lists: run apt-get update on a bookworm host")
	}
	return readPackagesFile(tb, matches[0])
}
