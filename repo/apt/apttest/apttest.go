package apttest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/pgp"
	"github.com/vzkit/vzkit/internal/testenv"
)

// Deb describes one package to build.
type Deb struct {
	Name, Version, Arch string
	Depends             string
	Essential           bool
	Content             string // written to /usr/share/<name>/data
	// Symlinks are more payload: absolute path in the package -> target.
	Symlinks map[string]string
	// Control are more control members by name (postinst, preinst,
	// conffiles, triggers, ...); maintainer scripts are made executable.
	Control map[string]string
}

// Repo is a built repository.
type Repo struct {
	Root        string // repository base directory
	URI         string // file:// URI of Root
	Suite       string
	Keyring     *pgp.Keyring // the signing key's public half
	Fingerprint string
	GnuPGHome   string
}

// Build creates a repository with suite "test", component main and the
// given packages, signed by a fresh key.
func Build(t testing.TB, arch string, debs []Deb) *Repo {
	t.Helper()
	for _, tool := range []string{"dpkg-deb", "apt-ftparchive", "gpg", "xz", "gzip"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, "%s not installed (apt-get install dpkg-dev apt-utils gnupg xz-utils gzip)", tool)
		}
	}
	tmp := t.TempDir()
	r := &Repo{Root: filepath.Join(tmp, "repo"), Suite: "test", GnuPGHome: filepath.Join(tmp, "gnupg")}
	r.URI = "file://" + r.Root
	os.MkdirAll(r.GnuPGHome, 0o700)
	build := filepath.Join(tmp, "build")
	for _, d := range debs {
		BuildDeb(t, filepath.Join(build, d.Name), filepath.Join(r.Root, "pool/main", d.Name[:1], d.Name), d)
	}
	dist := filepath.Join(r.Root, "dists", r.Suite)
	bin := filepath.Join(dist, "main", "binary-"+arch)
	must(t, os.MkdirAll(bin, 0o755))
	pk := testenv.Run(t, r.Root, nil, "apt-ftparchive", "packages", "pool")
	must(t, os.WriteFile(filepath.Join(bin, "Packages"), pk, 0o644))
	testenv.Run(t, "", nil, "xz", "-k", filepath.Join(bin, "Packages"))
	testenv.Run(t, "", nil, "gzip", "-k", "-n", filepath.Join(bin, "Packages"))
	r.Sign(t, arch)
	return r
}

// BuildDeb builds d with dpkg-deb from the tree it lays out in the new
// directory work, into outDir (created), and returns the .deb's path.
func BuildDeb(t testing.TB, work, outDir string, d Deb) string {
	t.Helper()
	must(t, os.MkdirAll(filepath.Join(work, "DEBIAN"), 0o755))
	must(t, os.MkdirAll(filepath.Join(work, "usr/share", d.Name), 0o755))
	must(t, os.WriteFile(filepath.Join(work, "usr/share", d.Name, "data"), []byte(d.Content), 0o644))
	for p, target := range d.Symlinks {
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(work, p)), 0o755))
		must(t, os.Symlink(target, filepath.Join(work, p)))
	}
	ctl := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: vzkit tests <t@example.invalid>\nPriority: optional\nSection: misc\nDescription: test package %s\n", d.Name, d.Version, d.Arch, d.Name)
	if d.Depends != "" {
		ctl += "Depends: " + d.Depends + "\n"
	}
	if d.Essential {
		ctl += "Essential: yes\n"
	}
	must(t, os.WriteFile(filepath.Join(work, "DEBIAN/control"), []byte(ctl), 0o644))
	for name, body := range d.Control {
		mode := os.FileMode(0o644)
		switch name {
		case "preinst", "postinst", "prerm", "postrm", "config":
			mode = 0o755
		}
		must(t, os.WriteFile(filepath.Join(work, "DEBIAN", name), []byte(body), mode))
		must(t, os.Chmod(filepath.Join(work, "DEBIAN", name), mode))
	}
	must(t, os.MkdirAll(outDir, 0o755))
	out := filepath.Join(outDir, fmt.Sprintf("%s_%s_%s.deb", d.Name, strings.ReplaceAll(d.Version, ":", "%3a"), d.Arch))
	// A fixed SOURCE_DATE_EPOCH makes dpkg-deb's output depend only on
	// the package's content, so a rebuilt repository changes exactly the
	// packages whose content changed.
	testenv.Run(t, "", []string{"SOURCE_DATE_EPOCH=1700000000"}, "dpkg-deb", "--root-owner-group", "--build", work, out)
	return out
}

// Sign (re)generates Release, InRelease and Release.gpg for the current
// index files, creating the key on first use.
func (r *Repo) Sign(t testing.TB, arch string) {
	t.Helper()
	if r.Fingerprint == "" {
		testenv.Run(t, "", r.gpgEnv(), "gpg", "--batch", "--passphrase", "", "--quick-gen-key", "vzkit apt test <apt@example.invalid>", "ed25519", "sign", "0")
		out := testenv.Run(t, "", r.gpgEnv(), "gpg", "--batch", "--with-colons", "--list-keys")
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "fpr:") {
				r.Fingerprint = strings.Split(l, ":")[9]
				break
			}
		}
		pub := testenv.Run(t, "", r.gpgEnv(), "gpg", "--batch", "--armor", "--export", r.Fingerprint)
		k, err := pgp.ParseKeyring(pub)
		must(t, err)
		r.Keyring = k
	}
	dist := filepath.Join(r.Root, "dists", r.Suite)
	for _, f := range []string{"Release", "InRelease", "Release.gpg"} {
		os.Remove(filepath.Join(dist, f))
	}
	rel := testenv.Run(t, dist, nil, "apt-ftparchive",
		"-o", "APT::FTPArchive::Release::Suite="+r.Suite,
		"-o", "APT::FTPArchive::Release::Codename="+r.Suite,
		"-o", "APT::FTPArchive::Release::Architectures="+arch,
		"-o", "APT::FTPArchive::Release::Components=main",
		"release", ".")
	must(t, os.WriteFile(filepath.Join(dist, "Release"), rel, 0o644))
	gpg := []string{"--batch", "--yes", "--passphrase", "", "--pinentry-mode", "loopback", "-u", r.Fingerprint}
	testenv.Run(t, dist, r.gpgEnv(), "gpg", append(gpg, "--clearsign", "-o", "InRelease", "Release")...)
	testenv.Run(t, dist, r.gpgEnv(), "gpg", append(gpg, "--detach-sign", "-o", "Release.gpg", "Release")...)
}

func (r *Repo) gpgEnv() []string { return []string{"GNUPGHOME=" + r.GnuPGHome} }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
