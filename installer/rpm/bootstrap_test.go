package rpm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/pgp"
	"github.com/vzkit/vzkit/internal/testenv"
	"github.com/vzkit/vzkit/repo/rpmmd/rpmmdtest"
	"github.com/vzkit/vzkit/runtime/sandbox"
)

// The sandbox re-executes the test binary as its container's init.
func TestMain(m *testing.M) {
	sandbox.Init()
	os.Exit(m.Run())
}

// Bootstrap installs the test distribution with the root's own rpm: rpm's
// closure extracted, the key imported, one transaction of the whole set,
// after which rpm inside lists every package and the key. With a keyring
// that lacks the packages' key, nothing is written to the root: every
// package is verified before any is extracted.
func TestBootstrapDistribution(t *testing.T) {
	testenv.NeedRoot(t, "the root's rpm runs in a sandbox")
	for _, tool := range []string{"rpmbuild", "rpmsign", "createrepo_c", "gpg", "busybox"} {
		testenv.NeedTool(t, tool, map[string]string{"rpmbuild": "rpm", "rpmsign": "rpm", "createrepo_c": "createrepo-c", "gpg": "gpg", "busybox": "busybox-static"}[tool])
	}
	r := rpmmdtest.Build(t, rpmmdtest.Distribution(t), rpmmdtest.Options{})
	file := func(prefix string) string {
		for _, f := range r.RPMs {
			if strings.HasPrefix(f, prefix) {
				return filepath.Join(r.Root, f)
			}
		}
		t.Fatalf("no %s* in %v", prefix, r.RPMs)
		return ""
	}
	closure := []string{file("filesystem-"), file("setup-"), file("glibc-"), file("rpm-libs-"), file("busybox-"), file("rpm-4")}
	all := append(closure[:len(closure):len(closure)], file("vzkit-daemon-"), file("vzkit-tools-"), file("clock-1.0-"), file("newtool-"))
	opts := BootstrapOptions{Packages: all, Bootstrap: closure, Keys: [][]byte{r.Key}, StateDir: t.TempDir()}

	other, err := pgp.ParseKeyring(otherKey(t))
	if err != nil {
		t.Fatal(err)
	}
	opts.Root, opts.Keyring = t.TempDir(), other
	err = Bootstrap(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "filesystem-3.18") {
		t.Errorf("packages signed by a key not in the keyring: %v", err)
	}
	if ents, _ := os.ReadDir(opts.Root); len(ents) != 0 {
		t.Errorf("a refused bootstrap wrote %d entries into the root", len(ents))
	}

	opts.Root, opts.Keyring = t.TempDir(), r.Keyring
	var steps []string
	opts.Step = func(s string, n int, done bool) {
		if done {
			steps = append(steps, s)
		}
	}
	if err := Bootstrap(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(steps, ","); got != "verify,extract,import keys,install" {
		t.Errorf("steps %s", got)
	}
	for _, p := range []string{"tmp/vzkit-rpms", "tmp/vzkit-keys", "var/lib/rpm/rpmdb.sqlite-shm"} {
		if _, err := os.Lstat(filepath.Join(opts.Root, p)); err == nil {
			t.Errorf("/%s left in the root (before rpm -qa opens the database)", p)
		}
	}
	out, err := exec.Command("chroot", opts.Root, "/usr/bin/rpm", "-qa", "--qf", "%{NAME}\n").CombinedOutput()
	if err != nil {
		t.Fatalf("rpm -qa inside: %v\n%s", err, out)
	}
	if got := len(strings.Fields(string(out))); got != len(all)+1 || !strings.Contains(string(out), "gpg-pubkey") {
		t.Errorf("rpm -qa inside lists %d, want the %d packages and the key:\n%s", got, len(all), out)
	}
}

// otherKey is a fresh public key that signed nothing.
func otherKey(t *testing.T) []byte {
	home := t.TempDir()
	if out, err := exec.Command("gpg", "--homedir", home, "--batch", "--passphrase", "", "--quick-gen-key", "other <other@example.invalid>", "ed25519", "sign", "0").CombinedOutput(); err != nil {
		t.Fatalf("gpg: %v\n%s", err, out)
	}
	out, err := exec.Command("gpg", "--homedir", home, "--batch", "--armor", "--export").Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
