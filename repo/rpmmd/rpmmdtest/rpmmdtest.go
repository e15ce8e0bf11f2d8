package rpmmdtest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/pgp"
	"github.com/vzkit/vzkit/internal/testenv"
)

// RPM describes one package for rpmbuild. Its dependency lists are spec
// lines as written after the tag ("foo >= 1.0", "(a or b)", "/bin/sh");
// rpmbuild adds what it finds itself (ELF sonames, script interpreters).
type RPM struct {
	Name, Version, Release string
	Epoch                  int    // 0: none
	Arch                   string // "noarch" or "x86_64"
	Summary                string

	Requires, PreRequires, Provides, Obsoletes, Conflicts []string

	// Files are the payload: path in the package -> what it is.
	Files map[string]File

	// Scriptlets, run by /bin/sh (which must exist in the root by then).
	Pre, Post string
	// TransFileTriggerIn runs once per transaction, after it, with the
	// paths below TriggerPath that any package installed on stdin.
	TransFileTriggerIn, TriggerPath string
}

// File is one payload entry: a directory, a symlink (Link), a copy of a
// host file (Source) or Content. Mode 0 is 0755 for directories and
// copies of executables, else 0644.
type File struct {
	Dir     bool
	Link    string
	Source  string
	Content string
	Mode    os.FileMode
	// Config marks %config(noreplace).
	Config bool
	// Changes marks a file that scriptlets change (Fedora's setup marks
	// /etc/passwd so): rpm -V does not check its digest, size or mtime.
	Changes bool
	// Owner is "user:group" for %attr; empty is root.
	Owner string
}

// Repo is a built rpm-md repository.
type Repo struct {
	Root        string   // the directory holding repodata/ and the .rpm files
	RPMs        []string // the built packages' file names, sorted
	Keyring     *pgp.Keyring
	Fingerprint string
	GnuPGHome   string
	// Key is the signing key's public half, armored, as a template's
	// keys: entry takes it.
	Key []byte
}

// Options choose how a repository is made.
type Options struct {
	// Comps is a comps.xml given to createrepo_c -g.
	Comps string
	// Unsigned leaves packages and repomd.xml unsigned.
	Unsigned bool
}

// Build makes every package of rpms with rpmbuild (zstd payloads, as
// current Fedora and EL ones), signs them with rpmsign by a fresh RSA key,
// indexes them with createrepo_c and signs repodata/repomd.xml with a
// detached armored signature (repomd.xml.asc), as dnf's repo_gpgcheck
// wants it.
func Build(t testing.TB, rpms []RPM, o Options) *Repo {
	t.Helper()
	testenv.NeedTool(t, "rpmbuild", "rpm")
	testenv.NeedTool(t, "rpmsign", "rpm")
	testenv.NeedTool(t, "createrepo_c", "createrepo-c")
	testenv.NeedTool(t, "gpg", "gnupg")
	tmp := t.TempDir()
	r := &Repo{Root: filepath.Join(tmp, "repo"), GnuPGHome: filepath.Join(tmp, "gnupg")}
	must(t, os.MkdirAll(r.Root, 0o755))
	must(t, os.MkdirAll(r.GnuPGHome, 0o700))
	top := filepath.Join(tmp, "rpmbuild")
	for _, p := range rpms {
		r.RPMs = append(r.RPMs, buildRPM(t, top, r.Root, p))
	}
	sort.Strings(r.RPMs)
	if !o.Unsigned {
		r.newKey(t)
		gpg, err := exec.LookPath("gpg")
		must(t, err)
		// Debian's rpm names gpg2, which gnupg no longer installs; no
		// pinentry: the key has no passphrase.
		args := []string{"--define", "__gpg " + gpg, "--define", "_gpg_name " + r.Fingerprint, "--define", "_gpg_path " + r.GnuPGHome,
			"--define", "_gpg_sign_cmd_extra_args --batch --pinentry-mode loopback --passphrase ''",
			"--addsign"}
		for _, f := range r.RPMs {
			args = append(args, filepath.Join(r.Root, f))
		}
		testenv.Run(t, "", r.gpgEnv(), "rpmsign", args...)
	}
	args := []string{"--simple-md-filenames", "--no-database", "--revision", "1", "--set-timestamp-to-revision"}
	if o.Comps != "" {
		comps := filepath.Join(tmp, "comps.xml")
		must(t, os.WriteFile(comps, []byte(o.Comps), 0o644))
		args = append(args, "-g", comps)
	}
	testenv.Run(t, "", nil, "createrepo_c", append(args, r.Root)...)
	if !o.Unsigned {
		testenv.Run(t, "", r.gpgEnv(), "gpg", "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", "",
			"-u", r.Fingerprint, "--armor", "--detach-sign", "-o", filepath.Join(r.Root, "repodata/repomd.xml.asc"),
			filepath.Join(r.Root, "repodata/repomd.xml"))
	}
	return r
}

// Serve serves the repository over HTTP on loopback until the test ends
// and returns its base URL (with a trailing slash).
func (r *Repo) Serve(t testing.TB) string {
	srv := httptest.NewServer(http.FileServer(http.Dir(r.Root)))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

func (r *Repo) newKey(t testing.TB) {
	testenv.Run(t, "", r.gpgEnv(), "gpg", "--batch", "--passphrase", "", "--quick-gen-key", "vzkit rpm test <rpm@example.invalid>", "rsa2048", "sign", "0")
	for _, l := range strings.Split(string(testenv.Run(t, "", r.gpgEnv(), "gpg", "--batch", "--with-colons", "--list-keys")), "\n") {
		if strings.HasPrefix(l, "fpr:") {
			r.Fingerprint = strings.Split(l, ":")[9]
			break
		}
	}
	r.Key = testenv.Run(t, "", r.gpgEnv(), "gpg", "--batch", "--armor", "--export", r.Fingerprint)
	k, err := pgp.ParseKeyring(r.Key)
	must(t, err)
	r.Keyring = k
}

func (r *Repo) gpgEnv() []string { return []string{"GNUPGHOME=" + r.GnuPGHome} }

// buildRPM lays p's payload out under top/BUILDROOT-like staging, writes
// its spec and runs rpmbuild; the .rpm lands in outDir, whose file name
// is returned.
func buildRPM(t testing.TB, top, outDir string, p RPM) string {
	t.Helper()
	stage := filepath.Join(top, "stage", p.Name+"-"+p.Version)
	must(t, os.MkdirAll(stage, 0o755))
	paths := make([]string, 0, len(p.Files))
	for path := range p.Files {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	var files strings.Builder
	for _, path := range paths {
		f := p.Files[path]
		dst := filepath.Join(stage, path)
		must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		mode := f.Mode
		switch {
		case f.Dir:
			must(t, os.MkdirAll(dst, 0o755))
			mode = cmpMode(mode, 0o755)
			files.WriteString("%dir ")
		case f.Link != "":
			must(t, os.Symlink(f.Link, dst))
		case f.Source != "":
			testenv.Run(t, "", nil, "cp", "-L", "--preserve=mode", f.Source, dst)
			fi, err := os.Stat(dst)
			must(t, err)
			mode = cmpMode(mode, fi.Mode().Perm())
		default:
			must(t, os.WriteFile(dst, []byte(f.Content), 0o644))
			mode = cmpMode(mode, 0o644)
		}
		if f.Link == "" {
			// The dependency generators read the staged file's mode
			// (script interpreters and ELF objects of executables).
			must(t, os.Chmod(dst, mode.Perm()))
			user, group := "root", "root"
			if f.Owner != "" {
				user, group, _ = strings.Cut(f.Owner, ":")
			}
			bits := uint32(mode.Perm())
			for m, b := range map[os.FileMode]uint32{os.ModeSetuid: 0o4000, os.ModeSetgid: 0o2000, os.ModeSticky: 0o1000} {
				if mode&m != 0 {
					bits |= b
				}
			}
			fmt.Fprintf(&files, "%%attr(%04o,%s,%s) ", bits, user, group)
		}
		if f.Config {
			files.WriteString("%config(noreplace) ")
		}
		if f.Changes {
			files.WriteString("%verify(not md5 size mtime) ")
		}
		// rpm's %files takes globs: quote nothing, the test names are plain.
		files.WriteString(path + "\n")
	}
	arch := cmpStr(p.Arch, "noarch")
	var spec strings.Builder
	fmt.Fprintf(&spec, "Name: %s\nVersion: %s\nRelease: %s\nSummary: %s\nLicense: MIT\nBuildArch: %s\n",
		p.Name, p.Version, cmpStr(p.Release, "1"), cmpStr(p.Summary, "vzkit test package "+p.Name), arch)
	if p.Epoch > 0 {
		fmt.Fprintf(&spec, "Epoch: %d\n", p.Epoch)
	}
	for _, l := range []struct {
		tag  string
		deps []string
	}{{"Requires", p.Requires}, {"Requires(pre)", p.PreRequires}, {"Provides", p.Provides}, {"Obsoletes", p.Obsoletes}, {"Conflicts", p.Conflicts}} {
		for _, d := range l.deps {
			fmt.Fprintf(&spec, "%s: %s\n", l.tag, d)
		}
	}
	fmt.Fprintf(&spec, "\n%%description\nvzkit test package %s.\n\n%%install\nmkdir -p %%{buildroot}\ncp -a %s/. %%{buildroot}/\n\n", p.Name, stage)
	if p.Pre != "" {
		fmt.Fprintf(&spec, "%%pre\n%s\n\n", p.Pre)
	}
	if p.Post != "" {
		fmt.Fprintf(&spec, "%%post\n%s\n\n", p.Post)
	}
	if p.TransFileTriggerIn != "" {
		fmt.Fprintf(&spec, "%%transfiletriggerin -- %s\n%s\n\n", p.TriggerPath, p.TransFileTriggerIn)
	}
	fmt.Fprintf(&spec, "%%files\n%s", files.String())
	specFile := filepath.Join(top, "SPECS", p.Name+".spec")
	must(t, os.MkdirAll(filepath.Dir(specFile), 0o755))
	must(t, os.WriteFile(specFile, []byte(spec.String()), 0o644))
	rpmsDir := filepath.Join(top, "RPMS")
	testenv.Run(t, "", []string{"SOURCE_DATE_EPOCH=1700000000"}, "rpmbuild", "-bb", "--nodeps",
		"--define", "_topdir "+top,
		"--define", "_rpmdir "+rpmsDir,
		"--define", "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm",
		"--define", "_binary_payload w19.zstdio",
		"--define", "_buildhost vzkit-test",
		"--define", "use_source_date_epoch_as_buildtime 1",
		"--define", "clamp_mtime_to_source_date_epoch 1",
		// Copies of host binaries stay as they are: no stripping, no
		// debuginfo, no build-id links.
		"--define", "__os_install_post %{nil}",
		"--define", "debug_package %{nil}",
		"--define", "_build_id_links none",
		"--target", arch,
		specFile)
	name := fmt.Sprintf("%s-%s-%s.%s.rpm", p.Name, p.Version, cmpStr(p.Release, "1"), arch)
	must(t, os.Rename(filepath.Join(rpmsDir, name), filepath.Join(outDir, name)))
	return name
}

func cmpMode(m, def os.FileMode) os.FileMode {
	if m == 0 {
		return def
	}
	return m
}

func cmpStr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// hostLibs are the shared libraries (real paths) that the host binaries
// bins load, found with ldd, without the dynamic loader itself.
func hostLibs(t testing.TB, bins ...string) []string {
	t.Helper()
	var out []string
	for _, b := range bins {
		for _, l := range strings.Split(string(testenv.Run(t, "", nil, "ldd", b)), "\n") {
			f := strings.Fields(l)
			if len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/") {
				real, err := filepath.EvalSymlinks(f[2])
				must(t, err)
				if !slices.Contains(out, real) {
					out = append(out, real)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
