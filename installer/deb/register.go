package deb

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/extract"
	"github.com/vzkit/vzkit/internal/saferoot"
)

// Bounds on what is read back from the root being built.
const (
	// maxDpkgDBFile bounds dpkg's status and diversions files; a
	// standard system's status is about 1 MiB.
	maxDpkgDBFile = 64 << 20
	// maxConffileSize bounds a conffile hashed in place: configuration
	// files are small, and a payload's sparse multi-terabyte "conffile"
	// must not keep the build reading zeros.
	maxConffileSize = 64 << 20
)

// registerUnpacked records already-extracted packages in dpkg's database
// exactly as `dpkg --unpack` would leave them (state "unpacked"), so that
// dpkg does not unpack the Essential set a second time: that re-unpack is
// most of the time mmdebstrap spends installing it.
//
// Written per package: info/<pkg>.{list,md5sums,conffiles,preinst,...}, a
// status stanza (the control file verbatim, Status "install ok unpacked",
// Conffiles with the shipped files' MD5 as dpkg records after configure,
// since no .dpkg-new copy exists for it to install), and the trigger
// interest registrations (triggers/File and triggers/<name>) that dpkg
// makes when it reads a package's triggers control file during unpack.
// Trigger activations are not recorded: every package here is configured
// afterwards, and configuring a package supersedes its pending triggers.
func registerUnpacked(r *saferoot.Root, pkgs []*Package, results []extract.Result) error {
	const admin = "var/lib/dpkg/"
	var status bytes.Buffer
	old, err := r.ReadFile(admin+"status", maxDpkgDBFile)
	if err != nil {
		return fmt.Errorf("deb: register: %w", err)
	}
	status.Write(old)
	fileTriggers := map[string][]string{} // path -> interested packages
	namedTriggers := map[string][]string{}
	for i, p := range pkgs {
		name := p.dpkgName()
		for file, data := range p.Info {
			mode := os.FileMode(0o644)
			if isMaintScript(file) {
				mode = 0o755
			}
			if err := r.WriteFile(admin+"info/"+name+"."+file, data, mode); err != nil {
				return fmt.Errorf("deb: register %s: %w", p.Name, err)
			}
		}
		var list bytes.Buffer
		for _, path := range results[i].Paths {
			list.WriteString(path + "\n")
		}
		if err := r.WriteFile(admin+"info/"+name+".list", list.Bytes(), 0o644); err != nil {
			return fmt.Errorf("deb: register %s: %w", p.Name, err)
		}
		conffiles, err := conffileHashes(r, p)
		if err != nil {
			return err
		}
		status.WriteString(p.statusStanza("install ok unpacked", conffiles))
		for _, line := range strings.Split(string(p.Info["triggers"]), "\n") {
			f := strings.Fields(line)
			if len(f) != 2 || !strings.HasPrefix(f[0], "interest") {
				continue
			}
			who := name
			if strings.HasSuffix(f[0], "-noawait") {
				who += "/noawait"
			}
			if strings.HasPrefix(f[1], "/") {
				fileTriggers[f[1]] = append(fileTriggers[f[1]], who)
			} else {
				namedTriggers[f[1]] = append(namedTriggers[f[1]], who)
			}
		}
	}
	if err := r.WriteFile(admin+"status", status.Bytes(), 0o644); err != nil {
		return fmt.Errorf("deb: register: %w", err)
	}
	if len(fileTriggers) > 0 {
		var b bytes.Buffer
		for _, path := range sortedKeys(fileTriggers) {
			for _, who := range fileTriggers[path] {
				fmt.Fprintf(&b, "%s %s\n", path, who)
			}
		}
		if err := r.WriteFile(admin+"triggers/File", b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("deb: register: %w", err)
		}
	}
	for _, trig := range sortedKeys(namedTriggers) {
		if strings.ContainsAny(trig, "/\x00") || trig == "File" || trig == "Unincorp" || trig == "Lock" {
			return fmt.Errorf("deb: register: bad trigger name %q", trig)
		}
		data := strings.Join(namedTriggers[trig], "\n") + "\n"
		if err := r.WriteFile(admin+"triggers/"+trig, []byte(data), 0o644); err != nil {
			return fmt.Errorf("deb: register: %w", err)
		}
	}
	return nil
}

func sortedKeys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func isMaintScript(name string) bool {
	switch name {
	case "preinst", "postinst", "prerm", "postrm", "config":
		return true
	}
	return false
}

// dpkgName is the name dpkg uses for the package's info files:
// "name:arch" for Multi-Arch: same packages, the plain name otherwise.
func (p *Package) dpkgName() string {
	if p.MultiArch == "same" {
		return p.Name + ":" + p.Architecture
	}
	return p.Name
}

// statusStanza is the control file with a Status field after Package and
// the Conffiles field appended, as dpkg keeps it in its status file.
func (p *Package) statusStanza(state string, conffiles [][2]string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(string(p.controlRaw), "\n"), "\n") {
		b.WriteString(line + "\n")
		if strings.HasPrefix(line, "Package:") {
			b.WriteString("Status: " + state + "\n")
		}
	}
	if len(conffiles) > 0 {
		b.WriteString("Conffiles:\n")
		for _, c := range conffiles {
			b.WriteString(" " + c[0] + " " + c[1] + "\n")
		}
	}
	b.WriteString("\n")
	return b.String()
}

// conffileHashes lists the package's conffiles with the MD5 of the file as
// extracted. Entries flagged remove-on-upgrade are not shipped and skipped.
func conffileHashes(r *saferoot.Root, p *Package) ([][2]string, error) {
	var out [][2]string
	for _, line := range strings.Split(string(p.Info["conffiles"]), "\n") {
		f := strings.Fields(line)
		if len(f) != 1 {
			continue
		}
		rel, err := extract.DpkgUnpack.CleanName(f[0])
		if err != nil {
			return nil, fmt.Errorf("deb: %s: conffile: %w", p.Name, err)
		}
		sum, err := md5File(r, rel)
		if err != nil {
			return nil, fmt.Errorf("deb: %s: conffile %s: %w", p.Name, f[0], err)
		}
		out = append(out, [2]string{f[0], sum})
	}
	return out, nil
}

// maxSymlinks bounds the symlinks md5File follows (the kernel's
// MAXSYMLINKS).
const maxSymlinks = 40

// md5File hashes the conffile name of the root, at most maxConffileSize
// bytes. Everything resolves inside the root: directories on the way (a
// symlinked /etc) and, as dpkg hashes a conffile through its symlink, the
// name's own symlinks, followed here one by one because saferoot never
// follows a last component. What it ends at must be a regular file.
func md5File(r *saferoot.Root, name string) (string, error) {
	name = "/" + name
	for range maxSymlinks {
		st, err := r.Lstat(name)
		if err != nil {
			return "", err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			break
		}
		target, err := r.Readlink(name)
		if err != nil {
			return "", err
		}
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(name), target)
		}
		name = target
	}
	f, err := r.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := md5.New()
	n, err := io.Copy(h, io.LimitReader(f, maxConffileSize+1))
	if err != nil {
		return "", err
	}
	if n > maxConffileSize {
		return "", fmt.Errorf("%w of %d bytes", saferoot.ErrTooLarge, maxConffileSize)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// preinstDir holds, per package with a preinst, its control files while
// the preinsts run; preinstScript moves each in turn to tmp.ci, where dpkg
// itself runs a preinst from (debconf names the owner of its questions
// after tmp.ci/control), and removes it afterwards.
const preinstDir = "var/lib/dpkg/vzkit-preinst"

// preinstScript runs the staged preinsts with "install", in order, with
// the environment dpkg gives maintainer scripts. Input lines on stdin:
// "<staging number> <package> <arch>".
const preinstScript = `set -e
DPKG_RUNNING_VERSION=$(dpkg-query --showformat='${Version}' --show dpkg)
export DPKG_RUNNING_VERSION DPKG_ADMINDIR=/var/lib/dpkg DPKG_ROOT= DPKG_MAINTSCRIPT_NAME=preinst DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT=1
ci=/var/lib/dpkg/tmp.ci
while read -r n pkg arch; do
	rm -rf "$ci"
	mv "/` + preinstDir + `/$n" "$ci"
	DPKG_MAINTSCRIPT_PACKAGE=$pkg DPKG_MAINTSCRIPT_ARCH=$arch "$ci/preinst" install
	rm -rf "$ci"
done
rmdir "/` + preinstDir + `"
`

// stagePreinsts writes the control files of every package with a preinst
// under preinstDir and returns preinstScript's input.
func stagePreinsts(r *saferoot.Root, pkgs []*Package) (string, error) {
	// The staging directory is ours: whatever a payload put there goes.
	if err := r.RemoveAll(preinstDir); err != nil {
		return "", fmt.Errorf("deb: stage preinst: %w", err)
	}
	var b strings.Builder
	for i, p := range pkgs {
		if _, ok := p.Info["preinst"]; !ok {
			continue
		}
		dir := fmt.Sprintf("%s/%d/", preinstDir, i)
		if err := r.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("deb: stage preinst of %s: %w", p.Name, err)
		}
		if err := r.WriteFile(dir+"control", p.controlRaw, 0o644); err != nil {
			return "", fmt.Errorf("deb: stage preinst of %s: %w", p.Name, err)
		}
		for file, data := range p.Info {
			mode := os.FileMode(0o644)
			if isMaintScript(file) {
				mode = 0o755
			}
			if err := r.WriteFile(dir+file, data, mode); err != nil {
				return "", fmt.Errorf("deb: stage preinst of %s: %w", p.Name, err)
			}
		}
		fmt.Fprintf(&b, "%d %s %s\n", i, p.Name, p.Architecture)
	}
	return b.String(), nil
}

// applyDiversions moves files that a preinst diverted away from under
// their original name, as dpkg would have unpacked them: a file shipped by
// a package other than the diverting one goes to the divert-to path.
func applyDiversions(r *saferoot.Root, pkgs []*Package, results []extract.Result) error {
	b, err := r.ReadFile("var/lib/dpkg/diversions", maxDpkgDBFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deb: diversions: %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	for i := 0; i+2 < len(lines); i += 3 {
		from, to, by := lines[i], lines[i+1], lines[i+2]
		for j, p := range pkgs {
			if p.Name == by || !containsPath(results[j].Paths, from) {
				continue
			}
			for _, name := range []string{from, to} {
				if rel, err := extract.DpkgUnpack.CleanName(name); err != nil || rel == "." {
					return fmt.Errorf("deb: bad path %q in diversions", name)
				}
			}
			// Both parents resolve inside the root, neither last
			// component is followed.
			if err := r.Rename(from, to); err != nil {
				return fmt.Errorf("deb: %s: divert %s to %s: %w", p.Name, from, to, err)
			}
		}
	}
	return nil
}

func containsPath(paths []string, p string) bool {
	for _, q := range paths {
		if q == p {
			return true
		}
	}
	return false
}
