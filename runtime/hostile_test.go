package runtime

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/internal/hostiletest"
	"github.com/vzkit/vzkit/runtime/vzconf"
)

// Hostile caches: whatever the archive holds, create either fails cleanly
// or contains it, and no host file changes.

func TestCreateFromHostileCache(t *testing.T) {
	needRoot(t)
	canaries := hostiletest.NewCanaries(t, "canary")
	loop := hostiletest.NewLoopDevice(t)
	canary := canaries.Path("canary")
	check := func() {
		t.Helper()
		canaries.Check(t)
		loop.Check(t)
	}
	for _, tc := range []struct {
		name    string
		entries []entry
		fails   bool // must fail; otherwise it may, cleanly, or contain the input
	}{
		// The old marker lived inside the tree: a cache planting it as a
		// symlink made create truncate the target.
		{"marker symlink", []entry{
			{hdr: tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755}},
			{hdr: tar.Header{Name: "./.vzkit-creating", Typeflag: tar.TypeSymlink, Linkname: canary}},
			{hdr: tar.Header{Name: "./.vzkit-creating-101", Typeflag: tar.TypeSymlink, Linkname: canary}},
			{hdr: tar.Header{Name: "./etc/", Typeflag: tar.TypeDir, Mode: 0o755}},
		}, false},
		{"traversal", []entry{
			{hdr: tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755}},
			{hdr: tar.Header{Name: "../../../../../../" + strings.TrimPrefix(canary, "/"), Typeflag: tar.TypeReg}, body: "owned\n"},
		}, true},
		{"symlink then file through it", []entry{
			{hdr: tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755}},
			{hdr: tar.Header{Name: "./etc", Typeflag: tar.TypeSymlink, Linkname: filepath.Dir(canary)}},
			{hdr: tar.Header{Name: "./etc/canary", Typeflag: tar.TypeReg}, body: "owned\n"},
		}, false},
		{"host disk node and setuid", []entry{
			{hdr: tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755}},
			{hdr: tar.Header{Name: "./dev/", Typeflag: tar.TypeDir, Mode: 0o755}},
			{hdr: tar.Header{Name: "./dev/hostdisk", Typeflag: tar.TypeBlock, Mode: 0o666, Devmajor: int64(loop.Major), Devminor: int64(loop.Minor)}},
			{hdr: tar.Header{Name: "./dev/mem", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 1}},
			{hdr: tar.Header{Name: "./usr/bin/rootshell", Typeflag: tar.TypeReg, Mode: 0o4755}, body: "#!/bin/sh\n"},
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testStore(t)
			writeCache(t, s, "hostile", tarball(t, tc.entries))
			var c *Container
			var err error
			hostiletest.Within(t, 2*time.Minute, func() {
				c, err = s.Create(context.Background(), CreateOptions{CTID: "101", OSTemplate: "hostile"})
			})
			check()
			if lk, lerr := s.LockCT("101"); lerr != nil {
				t.Errorf("lock left held after create: %v", lerr)
			} else {
				lk.Unlock()
			}
			private := s.G.Path("VE_PRIVATE", "101")
			if tc.fails && err == nil {
				t.Fatal("create succeeded")
			}
			if err != nil {
				t.Logf("create refused: %v", err)
				if _, err := os.Lstat(private); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("failed create left %s", private)
				}
				if _, err := os.Lstat(s.ConfPath("101")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("failed create left a CTID.conf")
				}
				assertNoDebris(t, filepath.Dir(private))
				return
			}
			if _, err := os.Lstat(creatingMarker(private)); err == nil {
				t.Error("marker left beside the private area")
			}
			for _, dev := range []string{"dev/hostdisk", "dev/mem"} {
				if _, err := os.Lstat(filepath.Join(c.Private, dev)); err == nil {
					t.Errorf("%s: a device node outside the standard set was created", dev)
				}
			}
			// The tree is behind a 0700 directory: no other host user
			// reaches the setuid file (nor anything else in it).
			if fi, err := os.Stat(filepath.Dir(private)); err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("VE_PRIVATE's parent: %v %v, want 0700", fi.Mode(), err)
			}
			if out, err := exec.Command("setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
				"stat", filepath.Join(c.Private, "etc")).CombinedOutput(); err == nil {
				t.Errorf("an unprivileged host user reached the private area: %s", out)
			}
			// Mounted, the root is nodev and closed too.
			if err := s.Mount(context.Background(), "101"); err != nil {
				t.Fatal(err)
			}
			defer s.Umount(context.Background(), "101")
			if fi, err := os.Stat(filepath.Dir(c.Root)); err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("VE_ROOT's parent: %v %v, want 0700", fi.Mode(), err)
			}
			var st unix.Statfs_t
			if err := unix.Statfs(c.Root, &st); err != nil || st.Flags&unix.ST_NODEV == 0 {
				t.Errorf("VE_ROOT mounted without nodev (flags %#x, %v)", st.Flags, err)
			}
		})
	}
}

func TestCacheWithoutManifest(t *testing.T) {
	needRoot(t)
	s := testStore(t)
	path := writeCache(t, s, "plain", smallRoot(t))
	mpath := cache.ManifestPath(path)
	os.Remove(mpath)
	_, err := s.Create(context.Background(), CreateOptions{CTID: "101", OSTemplate: "plain"})
	if err == nil || !strings.Contains(err.Error(), mpath) || !strings.Contains(err.Error(), "ALLOW_UNVERIFIED_CACHE") {
		t.Fatalf("create from a cache without manifest: %v; want a refusal naming %s and the setting", err, mpath)
	}
	if _, err := os.Lstat(s.ConfPath("101")); !errors.Is(err, os.ErrNotExist) {
		t.Error("refused create left a CTID.conf")
	}
	// An admin may allow plain OpenVZ tarballs.
	conf := filepath.Join(s.G.Root, "etc/vzkit/vz.conf")
	os.MkdirAll(filepath.Dir(conf), 0o755)
	if err := os.WriteFile(conf, []byte("ALLOW_UNVERIFIED_CACHE=\"yes\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := vzconf.Load(s.G.Root)
	if err != nil {
		t.Fatal(err)
	}
	s = NewStore(g)
	if _, err := s.Create(context.Background(), CreateOptions{CTID: "101", OSTemplate: "plain"}); err != nil {
		t.Fatalf("create with ALLOW_UNVERIFIED_CACHE=yes: %v", err)
	}
}
