package rpm

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/extract"
	"github.com/vzkit/vzkit/internal/testenv"
	"github.com/vzkit/vzkit/internal/testfixtures"
)

// describe lists a tree as rpm -V would compare it: per path its type,
// mode, owner, size, content digest, symlink target, device, file
// capabilities, and which earlier path it is a hardlink of. mtimes are
// compared for what the package lists (directories aside: rpm leaves
// theirs to the files created inside, vzkit sets the header's, and
// rpm -V does not check a directory's mtime). skip names top-level
// entries that are not the package's (rpm's database).
func describe(t *testing.T, root string, listed map[string]bool, skip ...string) []string {
	t.Helper()
	var out []string
	inodes := map[uint64]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, root)
		if rel == "" {
			return nil
		}
		for _, s := range skip {
			if rel == s || strings.HasPrefix(rel, s+"/") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		line := fmt.Sprintf("%s %o %d:%d", rel, st.Mode, st.Uid, st.Gid)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" size=%d sha256=%x", st.Size, sha256.Sum256(data))
			if first, ok := inodes[st.Ino]; ok {
				line += " hardlink-of=" + first
			} else if st.Nlink > 1 {
				inodes[st.Ino] = rel
			}
			buf := make([]byte, 64)
			if n, err := unix.Lgetxattr(p, "security.capability", buf); err == nil {
				line += fmt.Sprintf(" caps=%x", buf[:n])
			}
		case unix.S_IFLNK:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case unix.S_IFCHR, unix.S_IFBLK:
			line += fmt.Sprintf(" dev=%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		if listed[rel] && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			line += fmt.Sprintf(" mtime=%d", st.Mtim.Sec)
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestExtractAsRPM installs real packages with the host's rpm (Debian's)
// and extracts them with Extract into an empty root each, and compares
// the two trees: the same files, modes, owners, contents, links, hardlink
// sets, capabilities and mtimes.
func TestExtractAsRPM(t *testing.T) {
	testenv.NeedRoot(t, "rpm -i --root and Extract set owners and capabilities")
	rpmBin := testenv.NeedTool(t, "rpm", "rpm")
	for _, f := range []string{
		"rpm-org/tests/data/RPMS/hlinktest-1.0-1.noarch.rpm",       // hardlink sets, uncompressed
		"rpm-org/tests/data/RPMS/hlinktest-1.0-1.noarch-v3sig.rpm", // rpm 6.0.90, zstd
		"rpm-org/tests/data/RPMS/imatest-1.0-1.fc34.noarch.rpm",
		"rpm-rs/tests/assets/RPMS/v4/rpm-basic-2.3.4-5.el9.noarch.rpm", // %ghost, %config, %dir
		"rpm-rs/tests/assets/RPMS/v6/rpm-file-attrs-1.0-1.noarch.rpm",  // stripped cpio, caps, unknown owners
		"rpm-rs/tests/assets/RPMS/v6/rpm-file-types-1.0-1.noarch.rpm",
		"rpm-rs/tests/assets/RPMS/v6/rpm-hardlinks-1.0-1.noarch.rpm", // hardlinks in stripped cpio
		"rpm-rs/tests/assets/RPMS/v6/xz/rpm-basic-2.3.4-5.el9.noarch.rpm",
		"rpm-rs/tests/assets/RPMS/v6/zstd/rpm-basic-2.3.4-5.el9.noarch.rpm",
		"rpm-rs/test_assets/freesrp-udev-0.3.0-1.25.x86_64.rpm",
		"rpm-rs/test_assets/rpm-sign-4.15.1-1.fc31.x86_64.rpm",
		"rpm-rs/test_assets/monkeysphere-0.37-1.el7.noarch.rpm",
		"epel-remi-release/remi-release-8.rpm",               // symlinks, xz
		"epel-remi-release/epel-release-latest-9.noarch.rpm", // zstd
		"cavaliergopher-rpm/testdata/centos-release-7-2.1511.el7.centos.2.10.x86_64.rpm",
		"go-rpmutils/testdata/payload-test-0.1-w.ufdio.x86_64.rpm",   // no compression
		"go-rpmutils/testdata/payload-test-0.1-w9.gzdio.x86_64.rpm",  // gzip
		"go-rpmutils/testdata/payload-test-0.1-w9.bzdio.x86_64.rpm",  // bzip2
		"go-rpmutils/testdata/payload-test-0.1-w6.xzdio.x86_64.rpm",  // xz
		"go-rpmutils/testdata/payload-test-0.1-w6.lzdio.x86_64.rpm",  // legacy lzma
		"go-rpmutils/testdata/payload-test-0.1-w3.zstdio.x86_64.rpm", // zstd
	} {
		t.Run(filepath.Base(f), func(t *testing.T) { compareWithRPM(t, rpmBin, testfixtures.Path(f)) })
	}
}

// compareWithRPM installs file with rpm -i --root into one new root and
// extracts it into another, and compares the trees.
func compareWithRPM(t *testing.T, rpmBin, file string) Result {
	t.Helper()
	byRPM := t.TempDir()
	cmd := exec.Command(rpmBin, "-i", "--root", byRPM, "--dbpath", "/rpmdb", "--nodeps", "--noscripts", "--notriggers",
		"--nosignature", "--ignorearch", "--ignoreos", file)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpm -i: %v\n%s", err, out)
	}
	p, err := Open(file)
	if err != nil {
		t.Fatal(err)
	}
	byUs := t.TempDir()
	r, err := extract.OpenRoot(byUs)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := p.Extract(context.Background(), r, ExtractOptions{Options: Options{AllowWeakDigests: true}})
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, f := range p.Files() {
		listed[f.Path] = true
	}
	want := describe(t, byRPM, listed, "/rpmdb")
	got := describe(t, byUs, listed)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("trees differ\nrpm -i:\n  %s\nExtract:\n  %s", strings.Join(want, "\n  "), strings.Join(got, "\n  "))
	}
	if len(want) == 0 && len(p.Files()) > 0 {
		t.Error("rpm installed nothing")
	}
	return res
}

// A package rpmbuild makes with what the fixtures lack: a setuid file, a
// file owned by a user only its %pre would create (setuid and setgid are
// dropped, root owns it, as rpm -i does), %caps, %dev nodes, %ghost.
func TestExtractRPMBuild(t *testing.T) {
	testenv.NeedRoot(t, "rpm -i --root and Extract set owners, devices and capabilities")
	rpmBin := testenv.NeedTool(t, "rpm", "rpm")
	rpmbuild := testenv.NeedTool(t, "rpmbuild", "rpm")
	top := t.TempDir()
	spec := filepath.Join(top, "attrs.spec")
	if err := os.WriteFile(spec, []byte(attrsSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(rpmbuild, "--define", "_topdir "+top, "--quiet", "-bb", spec).CombinedOutput(); err != nil {
		t.Fatalf("rpmbuild: %v\n%s", err, out)
	}
	res := compareWithRPM(t, rpmBin, filepath.Join(top, "RPMS/noarch/vzkit-attrs-1.0-1.noarch.rpm"))
	if strings.Join(res.UnknownUsers, ",") != "vzuser" || strings.Join(res.UnknownGroups, ",") != "vzgroup" || res.Ghosts != 1 {
		t.Errorf("unknown owners %v/%v, ghosts %d", res.UnknownUsers, res.UnknownGroups, res.Ghosts)
	}
}

const attrsSpec = `Name: vzkit-attrs
Version: 1.0
Release: 1
Summary: vzkit test package
License: MIT
BuildArch: noarch
%description
File attributes for installer/rpm's tests.
%pre
getent passwd vzuser >/dev/null || useradd -r vzuser
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/var/log %{buildroot}/etc
printf x > %{buildroot}/usr/bin/suid
printf y > %{buildroot}/usr/bin/ping
printf z > %{buildroot}/usr/bin/byuser
printf 'a=1\n' > %{buildroot}/etc/vzkit.conf
ln -s ../bin/suid %{buildroot}/usr/bin/link
%files
%attr(4755,root,root) /usr/bin/suid
%caps(cap_net_raw=ep) /usr/bin/ping
%attr(6750,vzuser,vzgroup) /usr/bin/byuser
/usr/bin/link
%config(noreplace) /etc/vzkit.conf
%dev(c,1,3) %attr(666,root,root) /dev/null
%dev(c,1,5) %attr(666,root,root) /dev/zero
%ghost /var/log/app.log
%dir /var/log
`

// Packages are extracted in parallel into one root, as a bootstrap will:
// the tree is the one sequential extraction gives.
func TestExtractParallel(t *testing.T) {
	files := []string{
		"epel-remi-release/remi-release-8.rpm",
		"epel-remi-release/epel-release-latest-9.noarch.rpm",
		// (not epel-release-8 too: it conflicts with -9 over epel.repo,
		// which rpm's transaction, not Extract, refuses)
		"rpm-org/tests/data/RPMS/hello-2.0-1.x86_64.rpm",
		"rpm-rs/tests/assets/RPMS/v6/rpm-hardlinks-1.0-1.noarch.rpm",
	}
	run := func(parallel bool) []string {
		root := t.TempDir()
		r, err := extract.OpenRoot(root)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		errs := make(chan error, len(files))
		for _, f := range files {
			do := func() {
				p, err := Open(testfixtures.Path(f))
				if err == nil {
					_, err = p.Extract(context.Background(), r, ExtractOptions{})
				}
				errs <- err
			}
			if parallel {
				go do()
			} else {
				do()
			}
		}
		for range files {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		return describe(t, root, nil)
	}
	seq, par := run(false), run(true)
	if strings.Join(seq, "\n") != strings.Join(par, "\n") || len(seq) < 30 {
		t.Errorf("parallel extraction differs:\nsequential:\n%s\nparallel:\n%s", strings.Join(seq, "\n"), strings.Join(par, "\n"))
	}
}
