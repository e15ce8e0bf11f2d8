package vmtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/testenv"
	"github.com/vzkit/vzkit/repo/aptsources"
)

// The VM root's template, the image's own init and the run disk's init.
var (
	//go:embed guest/vzkit-vm-debian-12.yaml
	templateYAML []byte
	//go:embed guest/vzkit-vm-init
	imageInit []byte
	//go:embed guest/init.sh
	runInit []byte
)

const (
	templateName = "vzkit-vm-debian-12"
	// imageSize is the root file system's size. The file is sparse and
	// every run writes to an overlay, so it only bounds what a script can
	// put in the VM's root (container areas, loop images): about 3 GiB.
	imageSize = "4G"
	// imageFormat changes when the way an image is made from the
	// template changes, so that the cache key changes with it.
	imageFormat = "1"
)

// CacheDir holds the built images, one directory per input hash. Removing
// it is always safe between runs; the next run builds again.
var CacheDir = filepath.Join(os.TempDir(), "vzkit-vm-test")

// Image is a bootable VM: a raw ext4 root and the kernel and initrd taken
// from it.
type Image struct {
	Root   string // raw ext4 image, never written (runs boot it with snapshot=on)
	Kernel string // the root's /boot/vmlinuz-*
	Initrd string // the root's /boot/initrd.img-*
}

// imageKey is a hash of everything an image is made from, except the
// archive's state and vzpkg's own code, which a cache on disk would
// otherwise have to be rebuilt for at every commit.
func imageKey() string {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(imageFormat), []byte(imageSize), templateYAML, imageInit} {
		fmt.Fprintf(h, "%d\n", len(part))
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// BuildImage returns the cached image, building it first when this
// machine has none for the current inputs (vzpkg build, about two
// minutes). Concurrent callers, in this process or others, wait for one
// build. It skips t (fails it under CI) when root or a tool is missing.
func BuildImage(t testing.TB) *Image {
	t.Helper()
	testenv.NeedRoot(t, "vzpkg builds the VM's root in a sandbox, and the image keeps its owners")
	for _, tool := range []struct{ name, pkg string }{
		{"mkfs.ext4", "e2fsprogs"}, {"tar", "tar"}, {"zstd", "zstd"},
	} {
		testenv.NeedTool(t, tool.name, tool.pkg)
	}
	dir := filepath.Join(CacheDir, imageKey())
	img := &Image{
		Root:   filepath.Join(dir, "root.img"),
		Kernel: filepath.Join(dir, "vmlinuz"),
		Initrd: filepath.Join(dir, "initrd.img"),
	}
	if err := os.MkdirAll(CacheDir, 0o755); err != nil {
		t.Fatal(err)
	}
	lk, err := os.OpenFile(filepath.Join(CacheDir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Close()
	if err := unix.Flock(int(lk.Fd()), unix.LOCK_EX); err != nil {
		t.Fatalf("lock %s: %v", lk.Name(), err)
	}
	// The directory is renamed into place complete, so it existing means
	// the image is whole.
	if _, err := os.Stat(dir); err == nil {
		return img
	}
	es, err := aptsources.ReadHost("/etc/apt")
	if err == nil {
		_, err = aptsources.Pick(es, aptsources.Query{Distro: "debian", Suite: "bookworm"})
	}
	if err != nil {
		testenv.Missing(t, "the host's apt sources name no Debian archive to build the VM's root from: %v", err)
	}
	start := time.Now()
	tmp, err := os.MkdirTemp(CacheDir, "build-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if err := buildImage(tmp); err != nil {
		t.Fatalf("build the VM image: %v", err)
	}
	if err := os.Rename(filepath.Join(tmp, "image"), dir); err != nil {
		t.Fatal(err)
	}
	t.Logf("vmtest: built the VM image %s in %s", dir, time.Since(start).Round(time.Second))
	return img
}

// buildImage makes work/image/{root.img,vmlinuz,initrd.img}: vzpkg builds
// the template's cache, which is unpacked and turned into an ext4 image.
func buildImage(work string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	vzpkg := filepath.Join(work, "vzpkg")
	if err := goBuild(ctx, vzpkg, "github.com/vzkit/vzkit/cmd/vzpkg"); err != nil {
		return err
	}
	tpl := filepath.Join(work, "templates")
	if err := os.MkdirAll(tpl, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tpl, templateName+".yaml"), templateYAML, 0o644); err != nil {
		return err
	}
	root, err := vzkitRoot(work)
	if err != nil {
		return err
	}
	out := filepath.Join(work, "cache")
	c := exec.CommandContext(ctx, vzpkg, "--templates", tpl, "build", templateName, "-o", out)
	// vzpkg finds the mirror in the host's apt sources itself: a caller's
	// VZKIT_MIRROR_* or VZKIT_ROOT does not leak in.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VZKIT_") {
			c.Env = append(c.Env, kv)
		}
	}
	c.Env = append(c.Env, "VZKIT_ROOT="+root)
	if err := run(c); err != nil {
		return err
	}

	rootfs := filepath.Join(work, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return err
	}
	if err := run(exec.CommandContext(ctx, "tar", "--zstd", "--numeric-owner", "--xattrs", "--xattrs-include=*",
		"-xpf", filepath.Join(out, templateName+".tar.zst"), "-C", rootfs)); err != nil {
		return err
	}
	// The unpacked root is the packages' tree: a new file, never through
	// an entry of the same name (O_EXCL does not follow a symlink).
	f, err := os.OpenFile(filepath.Join(rootfs, "vzkit-vm-init"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	_, err = f.Write(imageInit)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(rootfs, "vzkit-vm"), 0o755); err != nil {
		return err
	}
	image := filepath.Join(work, "image")
	if err := os.Mkdir(image, 0o755); err != nil {
		return err
	}
	for _, f := range []struct{ glob, name string }{{"vmlinuz-*", "vmlinuz"}, {"initrd.img-*", "initrd.img"}} {
		m, _ := filepath.Glob(filepath.Join(rootfs, "boot", f.glob))
		if len(m) != 1 {
			return fmt.Errorf("the VM's root has %d /boot/%s, want one: %v", len(m), f.glob, m)
		}
		if err := run(exec.CommandContext(ctx, "cp", m[0], filepath.Join(image, f.name))); err != nil {
			return err
		}
	}
	return run(exec.CommandContext(ctx, "mkfs.ext4", "-q", "-F", "-L", "vzkit-vm", "-d", rootfs,
		"-E", "root_owner=0:0", filepath.Join(image, "root.img"), imageSize))
}

// vzkitRoot prepares a VZKIT_ROOT for vzpkg whose package store and index
// cache are those the cmd/vzpkg end-to-end tests share: content-addressed,
// so sharing them saves downloads and cannot change a result.
func vzkitRoot(work string) (string, error) {
	root := filepath.Join(work, "vzkit-root")
	shared := filepath.Join(os.TempDir(), "vzkit-e2e-store")
	if err := os.MkdirAll(shared, 0o755); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(root, "etc/vzkit"), 0o755); err != nil {
		return "", err
	}
	if err := os.Symlink(shared, filepath.Join(root, "shared")); err != nil {
		return "", err
	}
	conf := "PACKAGES=\"/shared/packages\"\nINDEXCACHE=\"/shared/indexes\"\n"
	return root, os.WriteFile(filepath.Join(root, "etc/vzkit/vz.conf"), []byte(conf), 0o644)
}

// goBuild builds pkg of this module to out, with the seccomp tag as
// `make build` does.
func goBuild(ctx context.Context, out, pkg string) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	dir, err := moduleRoot()
	if err != nil {
		return err
	}
	c := exec.CommandContext(ctx, gobin, "build", "-tags", "seccomp", "-o", out, pkg)
	c.Dir = dir
	return run(c)
}

// moduleRoot is the directory of go.mod above the working directory (a
// test runs in its package's directory).
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", wd)
		}
	}
}

// run runs c and returns an error with its output when it fails.
func run(c *exec.Cmd) error {
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	err := c.Run()
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) || out.Len() > 0 {
		return fmt.Errorf("%s: %v\n%s", strings.Join(c.Args, " "), err, tail(out.String(), 8000))
	}
	return fmt.Errorf("%s: %w", strings.Join(c.Args, " "), err)
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}
