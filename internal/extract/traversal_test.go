package extract_test

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/extract"
	et "github.com/vzkit/vzkit/internal/extract/extracttest"
)

// The hostile-archive suite: every case runs under both policies, and every
// case ends with the sandbox check (nothing beside the destination changed,
// the canary file outside keeps its content, mode and link count).

func TestDotDotRefused(t *testing.T) {
	cases := []et.Entry{
		et.Reg("../evil", "x"), et.Reg("./a/../../evil", "x"), et.Reg("../outside/x", "pwned"),
		et.Reg("a/../../outside/x", "pwned"), et.Reg("./../outside/x", "pwned"), et.Reg("a/b/../../../outside/x", "pwned"),
		et.Dir("../evil/", 0o755), et.Sym("../evil", "x"), et.Node("../evil", tar.TypeFifo, 0, 0),
		// A hardlink whose target climbs out, directly or after a detour.
		et.Hard("h", "../outside/secret"), et.Hard("h", "a/../../outside/secret"), et.Hard("h", "./../outside/secret"),
	}
	forEachPolicy(t, func(t *testing.T, p extract.Policy) {
		for _, e := range cases {
			s, _, err := sandboxed(t, p, e)
			if !errors.Is(err, extract.ErrUnsafePath) {
				t.Errorf("%q -> %q: err = %v, want ErrUnsafePath", e.Name, e.Linkname, err)
			}
			s.Check(t)
			mustNotExist(t, filepath.Join(s.Base, "evil"))
		}
	})
}

// TestAbsoluteNames: dpkg strips the leading "/" (the entry lands inside),
// a cache restore refuses the name.
func TestAbsoluteNames(t *testing.T) {
	forEachPolicy(t, func(t *testing.T, p extract.Policy) {
		s := et.NewSandbox(t)
		abs := filepath.Join(s.Outside, "abs")
		_, err := unpack(t, s.Dst, p, et.Tar(t, et.Reg(abs, "contained")), extract.Options{})
		s.Check(t)
		if !p.StripLeadingSlash {
			if !errors.Is(err, extract.ErrUnsafePath) {
				t.Errorf("absolute name: err = %v, want ErrUnsafePath", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, filepath.Join(s.Dst, abs)); got != "contained" {
			t.Errorf("contained copy = %q", got)
		}
	})
}

// TestHardlinkTargetsOutside: a hardlink target is an archive path; an
// absolute one is (for dpkg) a path inside the destination where no such
// file exists, so every one of these fails.
func TestHardlinkTargetsOutside(t *testing.T) {
	forEachPolicy(t, func(t *testing.T, p extract.Policy) {
		s := et.NewSandbox(t)
		for _, target := range []string{"/etc/shadow", "../outside/secret", s.Secret} {
			if _, err := unpack(t, s.Dst, p, et.Tar(t, et.Hard("hl", target)), extract.Options{}); err == nil {
				t.Errorf("hardlink to %q succeeded with no such file in the destination", target)
			}
		}
		s.Check(t)
	})
}

// TestHardlinkThroughSymlinkedParent: the target's parent is resolved
// inside the destination, so "up/shadow" with up -> /etc is dst/etc/shadow.
func TestHardlinkThroughSymlinkedParent(t *testing.T) {
	forEachPolicy(t, func(t *testing.T, p extract.Policy) {
		s, _, err := sandboxed(t, p,
			et.Dir("etc", 0o755), et.Reg("etc/shadow", "the root's own"),
			et.Sym("up", "/etc"), et.Hard("hl", "up/shadow"))
		if err != nil {
			t.Fatal(err)
		}
		s.Check(t)
		var a, b, host unix.Stat_t
		if err := unix.Stat(filepath.Join(s.Dst, "hl"), &a); err != nil {
			t.Fatal(err)
		}
		if err := unix.Stat(filepath.Join(s.Dst, "etc/shadow"), &b); err != nil {
			t.Fatal(err)
		}
		if a.Ino != b.Ino || a.Nlink != 2 {
			t.Errorf("hl is not a hardlink of dst/etc/shadow (ino %d vs %d, nlink %d)", a.Ino, b.Ino, a.Nlink)
		}
		if unix.Stat("/etc/shadow", &host) == nil && host.Ino == a.Ino && host.Dev == a.Dev {
			t.Error("hl links the host's /etc/shadow")
		}
	})
}

// TestHardlinkToSymlink: linking a symlink that points outside links the
// symlink itself; a file written over the link afterwards replaces it.
func TestHardlinkToSymlink(t *testing.T) {
	forEachPolicy(t, func(t *testing.T, p extract.Policy) {
		s := et.NewSandbox(t)
		_, err := unpack(t, s.Dst, p, et.Tar(t, et.Sym("s", s.Secret), et.Hard("h", "s")), extract.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.Check(t)
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(s.Dst, "h"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK || st.Nlink != 2 {
			t.Errorf("h: mode %o nlink %d %v, want the symlink s itself", st.Mode, st.Nlink, err)
		}
		if target, err := os.Readlink(filepath.Join(s.Dst, "h")); err != nil || target != s.Secret {
			t.Errorf("h -> %q %v, want %s", target, err, s.Secret)
		}
		if _, err := unpack(t, s.Dst, p, et.Tar(t, et.Reg("h", "over the link")), extract.Options{}); err != nil {
			t.Fatal(err)
		}
		s.Check(t)
		if got := readFile(t, filepath.Join(s.Dst, "h")); got != "over the link" {
			t.Errorf("h = %q", got)
		}
	})
}

// TestReplacedNotFollowed: an entry over an existing symlink replaces the
// symlink; nothing is written through it.
func TestReplacedNotFollowed(t *testing.T) {
	forEachPolicy(t, func(t *testing.T, p extract.Policy) {
		s := et.NewSandbox(t)
		_, err := unpack(t, s.Dst, p, et.Tar(t,
			et.Sym("f", s.Secret), et.Reg("f", "replaced"),
			et.Sym("n", s.Secret), et.Node("n", tar.TypeFifo, 0, 0).WithMode(0o600),
			et.Sym("l", s.Secret), et.Sym("l", "elsewhere"),
		), extract.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.Check(t)
		for name, want := range map[string]uint32{"f": unix.S_IFREG, "n": unix.S_IFIFO, "l": unix.S_IFLNK} {
			var st unix.Stat_t
			if err := unix.Lstat(filepath.Join(s.Dst, name), &st); err != nil || st.Mode&unix.S_IFMT != want {
				t.Errorf("%s: mode %o, %v; want type %o", name, st.Mode, err, want)
			}
		}
		if got := readFile(t, filepath.Join(s.Dst, "f")); got != "replaced" {
			t.Errorf("f = %q", got)
		}
	})
}

// TestSymlinkParents: symlinks on the way to an entry are resolved as if
// the destination were "/": climbing stops at it, absolute ones start there.
func TestSymlinkParents(t *testing.T) {
	forEachPolicy(t, func(t *testing.T, p extract.Policy) {
		s, _, err := sandboxed(t, p,
			et.Sym("up", "../../../.."), et.Reg("up/inside", "1"),
			et.Sym("abs", "/"), et.Reg("abs/also", "2"))
		if err != nil {
			t.Fatal(err)
		}
		s.Check(t)
		for name, want := range map[string]string{"inside": "1", "also": "2"} {
			if got := readFile(t, filepath.Join(s.Dst, name)); got != want {
				t.Errorf("%s = %q, want %q at the top of the destination", name, got, want)
			}
		}
	})
}

// TestSymlinkThenFileThroughIt: a file written through a symlink that
// points at the directory outside (relative or absolute) lands in the
// destination's copy of that path, or fails when the destination has none.
func TestSymlinkThenFileThroughIt(t *testing.T) {
	forEachPolicy(t, func(t *testing.T, p extract.Policy) {
		for _, absolute := range []bool{false, true} {
			s := et.NewSandbox(t)
			target := "../outside"
			if absolute {
				target = s.Outside
			}
			_, err := unpack(t, s.Dst, p, et.Tar(t, et.Sym("l", target), et.Reg("l/evil", "x")), extract.Options{})
			if err == nil {
				t.Errorf("l -> %s: writing l/evil succeeded with no such directory in the destination", target)
			}
			s.Check(t)

			// With the directory there (inside), the write succeeds and stays inside.
			s = et.NewSandbox(t)
			if absolute {
				target = s.Outside
			}
			inside := strings.TrimPrefix(filepath.Join("/", target), "/")
			_, err = unpack(t, s.Dst, p, et.Tar(t, et.Dir(inside, 0o755), et.Sym("l", target), et.Reg("l/evil", "inside")), extract.Options{})
			if err != nil {
				t.Fatal(err)
			}
			s.Check(t)
			if got := readFile(t, filepath.Join(s.Dst, inside, "evil")); got != "inside" {
				t.Errorf("l -> %s: dst/%s/evil = %q", target, inside, got)
			}
		}
	})
}

// TestHostDirectoryParents: a parent that is a symlink to the host's "/"
// or "/etc" leads into the destination's own etc.
func TestHostDirectoryParents(t *testing.T) {
	forEachPolicy(t, func(t *testing.T, p extract.Policy) {
		n1, n2 := hostName(t)+"-1", hostName(t)+"-2"
		s, _, err := sandboxed(t, p,
			et.Dir("etc", 0o755),
			et.Sym("r", "/"), et.Reg("r/etc/"+n1, "via /"),
			et.Sym("e", "/etc"), et.Reg("e/"+n2, "via /etc"))
		if err != nil {
			t.Fatal(err)
		}
		s.Check(t)
		mustNotExist(t, filepath.Join("/etc", n1))
		mustNotExist(t, filepath.Join("/etc", n2))
		if readFile(t, filepath.Join(s.Dst, "etc", n1)) != "via /" || readFile(t, filepath.Join(s.Dst, "etc", n2)) != "via /etc" {
			t.Error("files through r and e did not land in dst/etc")
		}
	})
}

// TestDirectoryOverSymlinkToHost: a directory entry over a symlink to a
// host directory. dpkg keeps a symlink that leads to a directory inside the
// destination and refuses one that leads nowhere there; a cache restore
// replaces the symlink by the directory. Nothing reaches the host's /etc.
func TestDirectoryOverSymlinkToHost(t *testing.T) {
	forEachPolicy(t, func(t *testing.T, p extract.Policy) {
		name := hostName(t)
		for _, outside := range []bool{false, true} {
			s := et.NewSandbox(t)
			target := "/etc"
			if outside {
				target = s.Outside
			}
			_, err := unpack(t, s.Dst, p, et.Tar(t, et.Sym("d", target), et.Dir("d", 0o755), et.Reg("d/"+name, "x")), extract.Options{})
			s.Check(t)
			mustNotExist(t, filepath.Join("/etc", name))
			if p.KeepDirSymlinks {
				if err == nil {
					t.Errorf("dpkg: directory over a symlink to %s, missing in the destination, accepted", target)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if st, err := os.Lstat(filepath.Join(s.Dst, "d")); err != nil || !st.IsDir() {
				t.Errorf("cache: d is %v, %v; want a directory", st.Mode(), err)
			}
		}

		// With an etc inside: dpkg keeps d -> /etc and writes into dst/etc.
		s, _, err := sandboxed(t, p, et.Dir("etc", 0o755), et.Sym("d", "/etc"), et.Dir("d", 0o700), et.Reg("d/"+name, "x"))
		if err != nil {
			t.Fatal(err)
		}
		s.Check(t)
		mustNotExist(t, filepath.Join("/etc", name))
		in := "d/" + name
		if p.KeepDirSymlinks {
			in = "etc/" + name
			if l, err := os.Readlink(filepath.Join(s.Dst, "d")); err != nil || l != "/etc" {
				t.Errorf("dpkg: d -> %q, %v; want the symlink kept", l, err)
			}
		}
		if got := readFile(t, filepath.Join(s.Dst, in)); got != "x" {
			t.Errorf("%s = %q", in, got)
		}
	})
}

// TestSymlinkChains: every way a symlink could point out (absolute to the
// outside directory, relative climbing above the destination, up from a
// subdirectory, a long chain) resolves inside.
func TestSymlinkChains(t *testing.T) {
	forEachPolicy(t, func(t *testing.T, p extract.Policy) {
		s := et.NewSandbox(t)
		ents := []et.Entry{
			et.Sym("abs", s.Outside), et.Reg("abs/f1", "1"),
			et.Sym("rel", "../../../../../../../../"+s.Outside), et.Reg("rel/f2", "2"),
			et.Dir("dir", 0o755), et.Sym("dir/up", "../../outside"), et.Reg("dir/up/f3", "3"),
		}
		// chain0 -> chain1 -> ... -> chain29 -> ../outside
		const n = 30
		for i := range n {
			target := "chain" + strconv.Itoa(i+1)
			if i == n-1 {
				target = "../outside"
			}
			ents = append(ents, et.Sym("chain"+strconv.Itoa(i), target))
		}
		ents = append(ents, et.Reg("chain0/f4", "4"))
		// The targets exist inside the destination too, so every write resolves.
		for _, d := range []string{filepath.Join(s.Dst, s.Outside), filepath.Join(s.Dst, "outside")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		_, err := unpack(t, s.Dst, p, et.Tar(t, ents...), extract.Options{})
		// A chain longer than the kernel's 40-link budget may be refused
		// (ELOOP); it must never resolve outside.
		if err != nil && !errors.Is(err, unix.ELOOP) {
			t.Fatalf("extract: %v", err)
		}
		s.Check(t)
		for f, want := range map[string]string{filepath.Join(s.Outside, "f1"): "1", filepath.Join(s.Outside, "f2"): "2", "outside/f3": "3"} {
			if got := readFile(t, filepath.Join(s.Dst, f)); got != want {
				t.Errorf("dst/%s = %q, want %q", f, got, want)
			}
		}
		if l, _ := os.Readlink(filepath.Join(s.Dst, "rel")); !strings.HasPrefix(l, "../../") {
			t.Errorf("symlink target rewritten: %q", l)
		}
	})
}
