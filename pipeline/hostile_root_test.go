package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vzkit/vzkit/internal/hostiletest"
	"github.com/vzkit/vzkit/internal/saferoot"
)

// TestUpdateReadInstalledHostile: the dpkg status of a root being updated
// comes from a cache, whose packages may have made it a symlink to a host
// file, a FIFO or a device node. readInstalled must fail within the bound
// naming the file, never read the host file, hang or leak the device.
func TestUpdateReadInstalledHostile(t *testing.T) {
	host := hostiletest.NewCanaries(t, "status")
	things := []hostiletest.Thing{hostiletest.Link(host.Path("status")), hostiletest.Link(hostiletest.Escaping(host.Path("status")))}
	var loop *hostiletest.LoopDevice
	if os.Geteuid() == 0 {
		loop = hostiletest.NewLoopDevice(t)
		things = append(things, hostiletest.Fifo(), hostiletest.Zero(), loop.Node())
	}
	for i, th := range things {
		t.Run(fmt.Sprintf("%d-%s", i, th.Kind), func(t *testing.T) {
			root := t.TempDir()
			th.Plant(t, root, "var/lib/dpkg/status")
			r, err := saferoot.Open(root)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var got map[string]*installedPkg
			hostiletest.Within(t, time.Minute, func() { got, err = readInstalled(r) })
			host.Check(t)
			if loop != nil {
				loop.Check(t)
			}
			if err == nil || !strings.Contains(err.Error(), "/var/lib/dpkg/status") {
				t.Errorf("readInstalled over a %v: %v (%d packages), want an error naming the status file", th, err, len(got))
			}
		})
	}
}

// TestBuildRootRemoveHostile: removing a build root whose packages left
// symlinks to a host directory, a FIFO and device nodes removes the root
// and nothing outside it.
func TestBuildRootRemoveHostile(t *testing.T) {
	host := hostiletest.NewCanaries(t, "a", "b")
	r, err := newBuildRoot(t.TempDir(), "t", 1<<20, "never")
	if err != nil {
		t.Fatal(err)
	}
	things := []hostiletest.Thing{hostiletest.Link(host.Dir), hostiletest.Link(hostiletest.Escaping(host.Path("a")))}
	if os.Geteuid() == 0 {
		things = append(things, hostiletest.Fifo(), hostiletest.Zero(), hostiletest.NewLoopDevice(t).Node())
	}
	for i, th := range things {
		th.Plant(t, r.Path, fmt.Sprintf("var/lib/%d/x", i))
	}
	hostiletest.Link(host.Dir).Plant(t, r.Path, "tmp")
	if err := r.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(r.Path); !os.IsNotExist(err) {
		t.Errorf("build root %s still there: %v", r.Path, err)
	}
	host.Check(t)
	if _, err := os.Stat(filepath.Dir(r.Path)); err != nil {
		t.Errorf("build base removed: %v", err)
	}
}
