package sbom

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/internal/hostiletest"
)

// TestGenerateHostileRoot: the root an SBOM is made from holds what its
// packages put there. A status or copyright file that is a symlink to a
// host file, a FIFO or a device node must never be followed or opened:
// Generate returns within the bound, a bad status file is an error naming
// it, a bad copyright file leaves that package's licence NOASSERTION.
func TestGenerateHostileRoot(t *testing.T) {
	host := hostiletest.NewCanaries(t)
	// A host file the root's links point at, in the format they would
	// read: following one would put "EVIL-1" in the SBOM.
	host.Set(t, "copyright", []byte(strings.Replace(dep5, "GPL-2+\n\nFiles: lib", "EVIL-1\n\nFiles: lib", 1)))
	things := []hostiletest.Thing{hostiletest.Link(host.Path("copyright")), hostiletest.Link(hostiletest.Escaping(host.Path("copyright")))}
	var loop *hostiletest.LoopDevice
	if os.Geteuid() == 0 {
		loop = hostiletest.NewLoopDevice(t)
		things = append(things, hostiletest.Fifo(), hostiletest.Zero(), loop.Node())
	}
	m := testManifest([]cache.Package{{Name: "libfoo1", Version: "1.0-1", Arch: "amd64"}})
	for i, th := range things {
		t.Run(fmt.Sprintf("%d-%s", i, th.Kind), func(t *testing.T) {
			root := t.TempDir()
			th.Plant(t, root, "usr/share/doc/libfoo1/copyright")
			var d *Document
			var err error
			hostiletest.Within(t, time.Minute, func() { d, err = Generate(context.Background(), m, Options{Root: root}) })
			if err != nil {
				t.Fatalf("copyright a %v: %v", th, err)
			}
			if p := pkgByName(t, d, "libfoo1", ""); p.LicenseDeclared != NoAssertion {
				t.Errorf("copyright a %v: licence %q, want NOASSERTION", th, p.LicenseDeclared)
			}

			th.Plant(t, root, "var/lib/dpkg/status")
			hostiletest.Within(t, time.Minute, func() { _, err = Generate(context.Background(), m, Options{Root: root}) })
			if err == nil || !strings.Contains(err.Error(), "/var/lib/dpkg/status") {
				t.Errorf("status a %v: %v, want an error naming it", th, err)
			}
			host.Check(t)
			if loop != nil {
				loop.Check(t)
			}
		})
	}
}
