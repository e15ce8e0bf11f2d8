package rpmmd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/pgp"
	"github.com/vzkit/vzkit/internal/testenv"
)

// Three tiny packages made by rpmbuild, with the dependency forms the
// solver needs: a %pre scriptlet (Requires(pre): /bin/sh), an epoch, a
// tilde version, a rich dependency, a file dependency that only
// filelists.xml answers, obsoletes, conflicts, a weak dependency.
var tinySpecs = map[string]string{
	"tiny-base": `Name: tiny-base
Version: 1.0
Release: 1
Summary: base of the tiny distribution
License: MIT
BuildArch: noarch
%description
base
%pre
echo pre
%install
mkdir -p %{buildroot}/usr/bin
printf '#!/bin/sh\necho tiny\n' > %{buildroot}/usr/bin/tiny
chmod 755 %{buildroot}/usr/bin/tiny
%files
/usr/bin/tiny
`,
	"tiny-data": `Name: tiny-data
Version: 1.0
Release: 1
Summary: data of the tiny distribution
License: CC0
BuildArch: noarch
%description
data
%install
mkdir -p %{buildroot}/usr/share/tiny
echo data > %{buildroot}/usr/share/tiny/data.txt
%files
/usr/share/tiny/data.txt
`,
	// Built for a module stream: left out unless KeepModular.
	"tiny-mod": `Name: tiny-mod
Version: 1.0
Release: 1.module_el9+42+0123abcd
Summary: a module stream's package
License: MIT
BuildArch: noarch
%description
modular
%install
mkdir -p %{buildroot}/usr/share/tiny-mod
echo mod > %{buildroot}/usr/share/tiny-mod/mod.txt
%files
/usr/share/tiny-mod/mod.txt
`,
	"tiny-app": `Name: tiny-app
Epoch: 2
Version: 2.0~rc1
Release: 3
Summary: the tiny application
License: GPL-2.0-or-later
BuildArch: noarch
Requires: (tiny-base >= 1.0 or tiny-alt)
Requires: /usr/share/tiny/data.txt
Requires: /usr/bin/tiny
Recommends: tiny-doc
Obsoletes: tiny-old < 2
Conflicts: tiny-bad
Provides: tiny-api = 2
%description
app
%install
mkdir -p %{buildroot}/etc
echo conf > %{buildroot}/etc/tiny.conf
%files
%config /etc/tiny.conf
`,
}

const tinyComps = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">
<comps>
  <group>
    <id>tiny-core</id>
    <name>Tiny Core</name>
    <default>true</default>
    <uservisible>false</uservisible>
    <packagelist>
      <packagereq type="mandatory">tiny-base</packagereq>
      <packagereq type="default">tiny-app</packagereq>
      <packagereq type="optional">tiny-doc</packagereq>
    </packagelist>
  </group>
  <environment>
    <id>tiny-environment</id>
    <name>Tiny</name>
    <grouplist><groupid>tiny-core</groupid></grouplist>
  </environment>
</comps>
`

func run(t *testing.T, env []string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// newGPGKey makes a signing key in a throwaway GNUPGHOME and returns that
// environment and the armored public key.
func newGPGKey(t *testing.T, uid string) ([]string, []byte) {
	home, err := os.MkdirTemp("", "vzkit-gpg-") // short: gpg-agent's socket path is limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	os.Chmod(home, 0o700)
	env := []string{"GNUPGHOME=" + home}
	run(t, env, "gpg", "--batch", "--quiet", "--passphrase", "", "--quick-generate-key", uid, "rsa2048", "sign", "never")
	return env, run(t, env, "gpg", "--batch", "--armor", "--export", uid)
}

func TestRealToolsRepository(t *testing.T) {
	testenv.NeedTool(t, "rpmbuild", "rpm")
	testenv.NeedTool(t, "createrepo_c", "createrepo-c")
	testenv.NeedTool(t, "gpg", "gnupg")
	top := t.TempDir()
	repo := filepath.Join(top, "repo")
	os.MkdirAll(filepath.Join(repo, "Packages"), 0o755)
	for name, spec := range tinySpecs {
		file := filepath.Join(top, name+".spec")
		if err := os.WriteFile(file, []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, nil, "rpmbuild", "--quiet", "-bb", "--nodeps", "--define", "_topdir "+filepath.Join(top, "build"),
			"--define", "_rpmdir "+filepath.Join(repo, "Packages"), "--define", "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm", file)
	}
	os.WriteFile(filepath.Join(top, "comps.xml"), []byte(tinyComps), 0o644)
	run(t, nil, "createrepo_c", "--quiet", "--groupfile", filepath.Join(top, "comps.xml"), repo)
	env, pub := newGPGKey(t, "vzkit rpmmd test <rpmmd@vzkit.test>")
	run(t, env, "gpg", "--batch", "--yes", "--detach-sign", "--armor", filepath.Join(repo, "repodata", "repomd.xml"))
	kr, err := pgp.ParseKeyring(pub)
	if err != nil {
		t.Fatal(err)
	}

	srv := serve(t, repo, nil)
	ix, err := Open(context.Background(), client(), Source{Name: "tiny", URIs: []string{srv.URL + "/"}, Keyring: kr}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !ix.Signed || len(ix.Signers) != 1 || ix.Signers[0] != kr.Fingerprints()[0] || len(ix.Packages) != 3 || ix.ModularSkipped != 1 {
		t.Fatalf("signed %v by %v, %d packages, %d modular skipped", ix.Signed, ix.Signers, len(ix.Packages), ix.ModularSkipped)
	}
	withMod, err := Open(context.Background(), client(), Source{Name: "tiny", URIs: []string{srv.URL + "/"}, Keyring: kr, KeepModular: true}, Options{AllFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	if p := find(t, withMod.Packages, "tiny-mod-1.0-1.module_el9+42+0123abcd.noarch"); !p.Modular() || !slicesContains(p.Files, "/usr/share/tiny-mod/mod.txt") {
		t.Errorf("tiny-mod with KeepModular: %+v", p)
	}
	base := find(t, ix.Packages, "tiny-base-1.0-1.noarch")
	app := find(t, ix.Packages, "tiny-app-2:2.0~rc1-3.noarch")
	data := find(t, ix.Packages, "tiny-data-1.0-1.noarch")
	hasDep := func(deps []Dep, want Dep) bool {
		for _, d := range deps {
			if d == want {
				return true
			}
		}
		return false
	}
	if !hasDep(base.Requires, Dep{Name: "/bin/sh", Pre: true}) || !slicesContains(base.Files, "/usr/bin/tiny") {
		t.Errorf("tiny-base: requires %v, files %v", base.Requires, base.Files)
	}
	if app.EVR != (EVR{"2", "2.0~rc1", "3"}) || app.License != "GPL-2.0-or-later" || app.Summary != "the tiny application" ||
		!strings.HasPrefix(app.SourceRPM, "tiny-app-2.0~rc1-3.src.rpm") {
		t.Errorf("tiny-app: %+v", app)
	}
	for _, want := range []Dep{{Name: "(tiny-base >= 1.0 or tiny-alt)"}, {Name: "/usr/share/tiny/data.txt"}, {Name: "/usr/bin/tiny"}} {
		if !hasDep(app.Requires, want) {
			t.Errorf("tiny-app requires %v, want %v among them", app.Requires, want)
		}
	}
	if !hasDep(app.Obsoletes, Dep{Name: "tiny-old", Op: OpLT, EVR: EVR{"0", "2", ""}}) || !hasDep(app.Conflicts, Dep{Name: "tiny-bad"}) ||
		!hasDep(app.Recommends, Dep{Name: "tiny-doc"}) || !hasDep(app.Provides, Dep{Name: "tiny-api", Op: OpEQ, EVR: EVR{"0", "2", ""}}) {
		t.Errorf("tiny-app: obsoletes %v conflicts %v recommends %v provides %v", app.Obsoletes, app.Conflicts, app.Recommends, app.Provides)
	}
	// /usr/share is not in primary.xml's file subset: the path comes from
	// filelists.xml because tiny-app requires it.
	if !slicesContains(data.Files, "/usr/share/tiny/data.txt") {
		t.Errorf("tiny-data files %v: file dependency not merged from filelists.xml", data.Files)
	}
	noFL, err := Open(context.Background(), client(), Source{Name: "tiny", URIs: []string{srv.URL + "/"}, Keyring: kr}, Options{NoFilelists: true})
	if err != nil {
		t.Fatal(err)
	}
	if p := find(t, noFL.Packages, "tiny-data-1.0-1.noarch"); len(p.Files) != 0 {
		t.Errorf("primary.xml alone gave tiny-data files %v", p.Files)
	}
	// The .rpm served has the checksum and size primary.xml gives.
	for _, p := range ix.Packages {
		resp, err := http.Get(srv.URL + "/" + p.Location)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		v, _ := newVerifier(p.Checksum)
		v.Write(b)
		if _, ok := v.ok(); !ok || int64(len(b)) != p.Size || !bytes.HasPrefix(b, []byte{0xed, 0xab, 0xee, 0xdb}) {
			t.Errorf("%s: served file does not match primary.xml", p.Location)
		}
	}
	sel, err := Expand("@tiny-environment", ix.Comps, ix.Packages, ExpandOptions{})
	if err != nil || strings.Join(sel.Packages, " ") != "tiny-app tiny-base" {
		t.Errorf("@tiny-environment: %+v, %v", sel, err)
	}

	// Signed by another key: refused, naming the repomd.xml URL and the key.
	env2, _ := newGPGKey(t, "intruder <intruder@vzkit.test>")
	run(t, env2, "gpg", "--batch", "--yes", "--detach-sign", "--armor", filepath.Join(repo, "repodata", "repomd.xml"))
	_, err = Open(context.Background(), client(), Source{Name: "tiny", URIs: []string{srv.URL + "/"}, Keyring: kr}, Options{})
	if !errors.Is(err, pgp.ErrNoGoodSignature) || !strings.Contains(err.Error(), srv.URL+"/repodata/repomd.xml") ||
		!strings.Contains(err.Error(), kr.Fingerprints()[0]) {
		t.Errorf("signed by another key: %v", err)
	}
	// A binary (unarmored) signature by the right key verifies too.
	os.Remove(filepath.Join(repo, "repodata", "repomd.xml.asc"))
	run(t, env, "gpg", "--batch", "--yes", "--output", filepath.Join(repo, "repodata", "repomd.xml.asc"), "--detach-sign", filepath.Join(repo, "repodata", "repomd.xml"))
	if ix, err := Open(context.Background(), client(), Source{Name: "tiny", URIs: []string{srv.URL + "/"}, Keyring: kr}, Options{}); err != nil || !ix.Signed {
		t.Errorf("binary signature: %v", err)
	}
}
