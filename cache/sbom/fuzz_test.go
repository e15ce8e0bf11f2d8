package sbom

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostSamples returns up to n real files matching pattern on this host
// (Debian copyright files, dpkg status), cut to max bytes, as fuzz seeds.
func hostSamples(f *testing.F, pattern string, n, max int) [][]byte {
	f.Helper()
	paths, _ := filepath.Glob(pattern)
	var out [][]byte
	for _, p := range paths {
		if len(out) == n {
			break
		}
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		if len(b) > max {
			b = b[:max]
		}
		out = append(out, b)
	}
	return out
}

func FuzzParseCopyright(f *testing.F) {
	f.Add([]byte(dep5))
	for _, b := range hostSamples(f, "/usr/share/doc/*/copyright", 40, 16<<10) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, ok, err := parseCopyright(bytes.NewReader(data))
		if err != nil || !ok {
			return
		}
		refs := map[string]string{}
		expr := combine(c.Licenses, refs)
		if len(c.Licenses) == 0 {
			return
		}
		used := map[string]bool{}
		if e := checkExpr(expr, used); e != "" {
			t.Fatalf("licences %q give bad expression %q: %s", c.Licenses, expr, e)
		}
		for r := range used {
			if _, ok := refs[r]; !ok {
				t.Fatalf("%s used but not recorded", r)
			}
		}
	})
}

func FuzzLicenseExpr(f *testing.F) {
	for _, b := range hostSamples(f, "/usr/share/doc/*/copyright", 200, 64<<10) {
		for _, line := range strings.Split(string(b), "\n") {
			if name, ok := strings.CutPrefix(line, "License:"); ok {
				f.Add(name)
			}
		}
	}
	f.Add("GPL-2+ with Autoconf exception")
	f.Fuzz(func(t *testing.T, name string) {
		refs := map[string]string{}
		expr := licenseExpr(name, refs)
		used := map[string]bool{}
		if e := checkExpr(expr, used); e != "" {
			t.Fatalf("licenseExpr(%q) = %q: %s", name, expr, e)
		}
		if len(used) != len(refs) {
			t.Fatalf("licenseExpr(%q) = %q uses %v, records %v", name, expr, used, refs)
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	for _, b := range hostSamples(f, "/var/lib/dpkg/status", 1, 64<<10) {
		f.Add(b)
	}
	f.Add([]byte("Package: a\nStatus: install ok installed\nSource: b (1)\nVersion: 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parseStatus(bytes.NewReader(data))
		if err != nil {
			return
		}
		for k, e := range st {
			if k == "" || e.Source == "" {
				t.Fatalf("entry %q = %+v", k, e)
			}
		}
	})
}
