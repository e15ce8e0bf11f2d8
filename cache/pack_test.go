package cache

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/saferoot"
)

// TestPackLeavesOutDevices: device nodes outside the standard set are not
// packed, each with a warning naming it, and counted; standard ones and
// FIFOs are packed.
func TestPackLeavesOutDevices(t *testing.T) {
	needRoot(t)
	root := filepath.Join(t.TempDir(), "root")
	dev := filepath.Join(root, "dev")
	if err := os.MkdirAll(dev, 0o755); err != nil {
		t.Fatal(err)
	}
	nodes := map[string]struct {
		mode         uint32
		major, minor uint32
	}{
		"null": {unix.S_IFCHR, 1, 3}, "console": {unix.S_IFCHR, 5, 1}, "initctl": {unix.S_IFIFO, 0, 0},
		"mem": {unix.S_IFCHR, 1, 1}, "loop7": {unix.S_IFBLK, 7, 7}, "sda": {unix.S_IFBLK, 8, 0},
	}
	for name, n := range nodes {
		if err := unix.Mknod(filepath.Join(dev, name), n.mode|0o600, int(unix.Mkdev(n.major, n.minor))); err != nil {
			t.Fatal(err)
		}
	}
	var log bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&log, nil)))
	defer slog.SetDefault(old)
	var packed bytes.Buffer
	arch, err := Pack(context.Background(), root, &packed, PackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if arch.SkippedDevices != 3 || arch.Entries != 5 { // ./ ./dev/ null console initctl
		t.Errorf("SkippedDevices = %d, Entries = %d; want 3 and 5", arch.SkippedDevices, arch.Entries)
	}
	names := tarNames(t, packed.Bytes())
	if want := []string{"./", "./dev/", "./dev/console", "./dev/initctl", "./dev/null"}; !slices.Equal(names, want) {
		t.Errorf("packed %v, want %v", names, want)
	}
	for _, w := range []string{"dev/mem device=1:1", "dev/loop7 device=7:7", "dev/sda device=8:0"} {
		if !strings.Contains(log.String(), w) {
			t.Errorf("no warning with %q in %q", w, log.String())
		}
	}
}

func tarNames(t *testing.T, cache []byte) []string {
	t.Helper()
	d, err := zstd.NewReader(bytes.NewReader(cache))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var names []string
	tr := tar.NewReader(d)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}

// TestCopyFileRefusesSwapped: a file listed as regular and swapped before
// its content is read (for a FIFO without a writer, which a blocking open
// would wait on forever; a device node, whose host data would end up in the
// cache; a symlink; a file of another size) is an error naming it, and not
// one byte of it is packed.
func TestCopyFileRefusesSwapped(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(unix.Mkfifo(filepath.Join(root, "fifo"), 0o644))
	must(unix.Mknod(filepath.Join(root, "zero"), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 5))))
	must(os.Symlink("/etc/hostname", filepath.Join(root, "link")))
	must(os.WriteFile(filepath.Join(root, "grown"), []byte("longer than listed"), 0o644))
	must(os.WriteFile(filepath.Join(root, "same"), []byte("0123456789"), 0o644))
	tree, err := saferoot.Open(root)
	must(err)
	defer tree.Close()
	for _, name := range []string{"fifo", "zero", "link", "grown", "same"} {
		var out bytes.Buffer
		tw := tar.NewWriter(&out)
		must(tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: 10, Mode: 0o644}))
		p := packer{root: root, tree: tree, tw: tw}
		err := p.copyFile(name, 10)
		if name == "same" {
			if err != nil {
				t.Errorf("same: %v", err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), filepath.Join(root, name)) {
			t.Errorf("%s: err = %v, want an error naming it", name, err)
		}
		if n := out.Len(); n != 512 { // the header block only
			t.Errorf("%s: %d bytes written to the tar stream", name, n)
		}
	}
}
