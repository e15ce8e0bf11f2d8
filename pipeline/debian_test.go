package pipeline

import (
	"os"
	"strings"
	"testing"
)

// FuzzParseStatus feeds the dpkg status parser mutations of this host's
// real /var/lib/dpkg/status (when readable) and of a small sample; what it
// accepts must be a consistent name -> package map.
func FuzzParseStatus(f *testing.F) {
	if b, err := os.ReadFile("/var/lib/dpkg/status"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("Package: hostname\nEssential: yes\nStatus: install ok installed\nPriority: required\nArchitecture: amd64\n" +
		"Version: 3.23+nmu1\nPre-Depends: libc6 (>= 2.34)\nDescription: utility\n continued\n\nPackage: gone\nStatus: deinstall ok config-files\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := parseStatus(data, "fuzz")
		if err != nil {
			return
		}
		for name, p := range pkgs {
			if p.Name != name || p.Version == "" {
				t.Fatalf("entry %q = %+v", name, p)
			}
		}
	})
}

// A status file as dpkg writes it: installed packages become solver
// stanzas, config-files leftovers without a version are skipped, and a
// package twice (multi-arch) is refused.
func TestParseStatus(t *testing.T) {
	got, err := parseStatus([]byte("Package: hostname\nEssential: yes\nStatus: install ok installed\nArchitecture: amd64\n"+
		"Version: 3.23+nmu1\nPre-Depends: libc6 (>= 2.34)\nProvides: hostname-tools\n\n"+
		"Package: removed\nStatus: deinstall ok config-files\nArchitecture: amd64\n\n"), "sample")
	if err != nil {
		t.Fatal(err)
	}
	h := got["hostname"]
	if len(got) != 1 || h == nil || !h.Essential || h.PreDepends != "libc6 (>= 2.34)" || h.Provides != "hostname-tools" || h.Status != "install ok installed" {
		t.Fatalf("parsed %+v", got)
	}
	_, err = parseStatus([]byte("Package: a\nVersion: 1\nArchitecture: amd64\n\nPackage: a\nVersion: 1\nArchitecture: i386\n"), "multiarch")
	if err == nil || !strings.Contains(err.Error(), "a listed twice (amd64 and i386)") {
		t.Errorf("multi-arch status: %v", err)
	}
}
