package rpm

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/extract"
	"github.com/vzkit/vzkit/internal/hostiletest"
	"github.com/vzkit/vzkit/internal/saferoot"
	"github.com/vzkit/vzkit/internal/testenv"
	"github.com/vzkit/vzkit/internal/testfixtures"
)

// insecure are the options of a package from an insecure repository:
// nothing to verify it with, so extraction alone keeps the host safe.
var insecure = ExtractOptions{Options: Options{}}

// extractInto opens file and extracts it into a new root.
func extractInto(t *testing.T, file string) (string, Result, error) {
	t.Helper()
	return extractAt(t, t.TempDir(), file)
}

// extractAt extracts file into the existing root.
func extractAt(t *testing.T, root, file string) (string, Result, error) {
	t.Helper()
	p, err := Open(file)
	if err != nil {
		return root, Result{}, err
	}
	r, err := extract.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var res Result
	hostiletest.Within(t, time.Minute, func() {
		res, err = p.Extract(context.Background(), r, insecure)
	})
	return root, res, err
}

// The dotdot.cpio sample of go-rpmutils (an entry "../../aaaaaaaaa") as a
// package's payload, once with the header naming the same file (refused
// before anything is read) and once with a harmless header name (the
// payload's name is then not in the file list).
func TestHostileDotDot(t *testing.T) {
	cpio, err := os.ReadFile(testfixtures.Path("go-rpmutils/testdata/dotdot.cpio"))
	if err != nil {
		t.Fatal(err)
	}
	host := hostiletest.NewCanaries(t, "aaaaaaaaa")
	for _, tc := range []struct {
		name, header string
		want         error
		msg          string
	}{
		{"header-dotdot", "/../../aaaaaaaaa", extract.ErrUnsafePath, `file "/../../aaaaaaaaa": not an absolute, clean path`},
		{"payload-dotdot", "/aaaaaaaaa", nil, `cpio entry "../../aaaaaaaaa" is not in the header's file list`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := buildRPM(t, t.TempDir(), tpkg{name: "dotdot", cpio: cpio,
				files: []tfile{{path: tc.header, mode: sIFREG | 0o644}}})
			root, _, err := extractInto(t, file)
			if err == nil || !strings.Contains(err.Error(), tc.msg) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Extract: %v, want %q", err, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), "rpm: dotdot-1.0-1.x86_64.rpm: ") {
				t.Errorf("error does not name the package file: %v", err)
			}
			if ents, _ := os.ReadDir(root); len(ents) != 0 {
				t.Errorf("root has %d entries after a refused package", len(ents))
			}
			host.Check(t)
		})
	}
}

// A package ships a symlink to a host directory (absolute, or climbing
// out with "..") and then a file through it. The symlink resolves as in a
// chroot of the root: with no such directory in the root the file is
// refused, with an in-root twin of the host directory it lands there;
// the host directory is never touched.
func TestHostileSymlinkThenFile(t *testing.T) {
	host := hostiletest.NewCanaries(t, "file")
	for _, target := range []string{host.Dir, hostiletest.Escaping(host.Dir)} {
		for _, twin := range []bool{false, true} {
			file := buildRPM(t, t.TempDir(), tpkg{name: "symlink", files: []tfile{
				{path: "/etc", mode: sIFDIR | 0o755},
				{path: "/etc/evil", mode: sIFLNK | 0o777, link: target},
				{path: "/etc/evil/file", mode: sIFREG | 0o644, content: "owned\n"},
			}})
			root := t.TempDir()
			inRoot := filepath.Join(root, strings.TrimPrefix(host.Dir, "/"))
			if twin {
				if err := os.MkdirAll(inRoot, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			_, _, err := extractAt(t, root, file)
			host.Check(t)
			if !twin {
				if err == nil || !strings.Contains(err.Error(), `entry "/etc/evil/file": directory "etc/evil": no such file or directory`) {
					t.Errorf("symlink to %s, no twin: %v, want the file refused", target, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("symlink to %s, twin: %v", target, err)
			}
			if got, err := os.ReadFile(filepath.Join(inRoot, "file")); err != nil || string(got) != "owned\n" {
				t.Errorf("symlink to %s: the file is not at its in-root place: %q, %v", target, got, err)
			}
		}
	}
}

// Device nodes: the standard ones are made, a disk and /dev/mem are
// left out (counted, and a warning); none gives the root a host device.
func TestHostileDevices(t *testing.T) {
	testenv.NeedRoot(t, "mknod")
	file := buildRPM(t, t.TempDir(), tpkg{name: "devices", files: []tfile{
		{path: "/dev", mode: sIFDIR | 0o755},
		{path: "/dev/mem", mode: sIFCHR | 0o640, rdev: 1<<8 | 1},
		{path: "/dev/null", mode: sIFCHR | 0o666, rdev: 1<<8 | 3},
		{path: "/dev/sda", mode: sIFBLK | 0o660, rdev: 8 << 8},
	}})
	root, res, err := extractInto(t, file)
	if err != nil {
		t.Fatal(err)
	}
	if res.SkippedDevices != 2 {
		t.Errorf("SkippedDevices = %d, want 2 (mem, sda)", res.SkippedDevices)
	}
	for _, n := range []string{"mem", "sda"} {
		if _, err := os.Lstat(filepath.Join(root, "dev", n)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("/dev/%s was created: %v", n, err)
		}
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(root, "dev/null"), &st); err != nil ||
		st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 || st.Mode&0o7777 != 0o666 {
		t.Errorf("/dev/null: mode %o rdev %d:%d, %v", st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev), err)
	}
}

// Sizes: a header declaring a file of 1 TiB is refused before anything
// is read; a payload entry longer than its header says, and a payload
// that goes on after its archive, are refused while streaming.
func TestHostileSizes(t *testing.T) {
	big := buildRPM(t, t.TempDir(), tpkg{name: "huge", files: []tfile{
		{path: "/huge", mode: sIFREG | 0o644, content: "x", size: 1 << 40},
	}})
	root, _, err := extractInto(t, big)
	if !errors.Is(err, extract.ErrLimit) || !strings.Contains(err.Error(), "the header declares more than") {
		t.Errorf("1 TiB file: %v, want the header refused with ErrLimit", err)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Errorf("root has %d entries after a refused package", len(ents))
	}

	var w bytes.Buffer
	newc(&w, "./f", sIFREG|0o644, 1, 1, bytes.Repeat([]byte("A"), 4096))
	cpioTrailer(&w)
	longer := buildRPM(t, t.TempDir(), tpkg{name: "longer", cpio: w.Bytes(), files: []tfile{
		{path: "/f", mode: sIFREG | 0o644, content: "A"},
	}})
	if _, _, err := extractInto(t, longer); err == nil || !strings.Contains(err.Error(), "/f: 4096 bytes in the payload, the header says 1") {
		t.Errorf("payload entry longer than the header: %v", err)
	}

	bomb := buildRPM(t, t.TempDir(), tpkg{name: "bomb", extra: make([]byte, 64<<20), files: []tfile{
		{path: "/f", mode: sIFREG | 0o644, content: "A"},
	}})
	if _, _, err := extractInto(t, bomb); !errors.Is(err, extract.ErrLimit) || !strings.Contains(err.Error(), "longer than the") {
		t.Errorf("64 MiB after the archive: %v, want ErrLimit", err)
	}
}

// A hostile header (an index entry pointing outside the data, an array
// shorter than the file list) is refused by Open, never a panic.
func TestHostileHeader(t *testing.T) {
	good := buildRPM(t, t.TempDir(), tpkg{name: "hdr", files: []tfile{{path: "/f", mode: sIFREG | 0o644, content: "A"}}})
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Open(good)
	if err != nil {
		t.Fatal(err)
	}
	hdrStart := int(p.payloadOff) - len(p.hdr.raw)
	for _, tc := range []struct {
		name string
		edit func(b []byte)
		msg  string
	}{
		{"offset", func(b []byte) { // first index entry's offset far out
			copy(b[hdrStart+16+8:], []byte{0x7f, 0, 0, 0})
		}, "offset 2130706432 outside"},
		{"tags", func(b []byte) { copy(b[hdrStart+8:], []byte{0xff, 0xff, 0xff, 0xff}) }, "index entries (limit 65535)"},
		{"data", func(b []byte) { copy(b[hdrStart+12:], []byte{0x7f, 0xff, 0xff, 0xff}) }, "bytes of header data (limit"},
	} {
		b := append([]byte(nil), data...)
		tc.edit(b)
		f := filepath.Join(t.TempDir(), "bad.rpm")
		os.WriteFile(f, b, 0o644)
		if _, err := Open(f); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: Open: %v, want ErrMalformed with %q", tc.name, err, tc.msg)
		}
	}
}

// Owners: names the root does not know go to root and lose setuid and
// setgid bits, as rpm does; known names get their ids; file
// capabilities become security.capability.
func TestOwnersAndCaps(t *testing.T) {
	testenv.NeedRoot(t, "chown to other users, security.capability")
	file := buildRPM(t, t.TempDir(), tpkg{name: "owners", files: []tfile{
		{path: "/bin", mode: sIFDIR | 0o755},
		{path: "/bin/known", mode: sIFREG | 0o4755, content: "k", user: "daemon", group: "daemon"},
		{path: "/bin/unknown", mode: sIFREG | 0o6755, content: "u", user: "made-by-pre", group: "made-by-pre"},
		{path: "/bin/ping", mode: sIFREG | 0o755, content: "p", caps: "cap_net_raw=ep"},
	}})
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\ndaemon:x:2:3::/:/sbin/nologin\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\ndaemon:x:3:\n"), 0o644)
	owners := readOwnersAt(t, root)
	p, err := Open(file)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := extract.OpenRoot(root)
	defer r.Close()
	res, err := p.Extract(context.Background(), r, ExtractOptions{Owners: owners})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.UnknownUsers, ",") != "made-by-pre" || strings.Join(res.UnknownGroups, ",") != "made-by-pre" {
		t.Errorf("unknown owners %v/%v", res.UnknownUsers, res.UnknownGroups)
	}
	for _, c := range []struct {
		name     string
		uid, gid uint32
		mode     uint32
	}{{"bin/known", 2, 3, 0o4755}, {"bin/unknown", 0, 0, 0o755}, {"bin/ping", 0, 0, 0o755}} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(root, c.name), &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != c.uid || st.Gid != c.gid || st.Mode&0o7777 != c.mode {
			t.Errorf("%s: %d:%d mode %o, want %d:%d %o", c.name, st.Uid, st.Gid, st.Mode&0o7777, c.uid, c.gid, c.mode)
		}
	}
	want, _ := capXattr("cap_net_raw=ep")
	got := make([]byte, 64)
	n, err := unix.Lgetxattr(filepath.Join(root, "bin/ping"), "security.capability", got)
	if err != nil || !bytes.Equal(got[:n], want) {
		t.Errorf("bin/ping security.capability = %x, %v; want %x", got[:max(n, 0)], err, want)
	}
}

func readOwnersAt(t *testing.T, root string) *IDs {
	t.Helper()
	sr, err := saferoot.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	ids, err := ReadOwners(sr)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// A decompressor never allocates what a hostile payload declares: a
// legacy lzma header asking for a 4 GiB dictionary is refused.
func TestHostileDictionary(t *testing.T) {
	src := testfixtures.Path("go-rpmutils/testdata/payload-test-0.1-w6.lzdio.x86_64.rpm")
	p, err := Open(src)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	copy(data[p.payloadOff+1:], []byte{0xff, 0xff, 0xff, 0xff})
	bad := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := extractInto(t, bad); err == nil || !strings.Contains(err.Error(), "lzma dictionary of 4294967295 bytes (limit 268435456)") {
		t.Errorf("Extract: %v", err)
	}
}
