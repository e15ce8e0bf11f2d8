package namedfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/saferoot"
)

func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	if err := os.WriteFile(p("ok"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("ok", p("link")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(p("fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(p("dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	root, err := saferoot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, c := range []struct {
		name, msg string
		is        error
	}{
		{"link", p("link") + " is a symlink; name the file itself", saferoot.ErrNotRegular},
		{"fifo", p("fifo") + " is a FIFO, not a regular file", saferoot.ErrNotRegular},
		{"dir", p("dir") + " is a directory, not a regular file", saferoot.ErrNotRegular},
		{"missing", p("missing") + " does not exist", fs.ErrNotExist},
	} {
		_, rerr := Read(p(c.name), 10)
		_, ierr := ReadIn(root, c.name, 10)
		for _, err := range []error{rerr, ierr, Check(p(c.name))} {
			if err == nil || err.Error() != c.msg || !errors.Is(err, c.is) {
				t.Errorf("%s: %v, want %q", c.name, err, c.msg)
			}
		}
	}
	if b, err := Read(p("ok"), 4); err != nil || string(b) != "data" {
		t.Errorf("ok: %q %v", b, err)
	}
	if _, err := Read(p("ok"), 3); err == nil || err.Error() != p("ok")+" is larger than 3 bytes" || !errors.Is(err, saferoot.ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
	if err := Check(p("ok")); err != nil {
		t.Errorf("Check(ok): %v", err)
	}
	fsys := fstest.MapFS{"k": {Data: []byte("data")}, "d/x": {}}
	if b, err := ReadFS(fsys, "k", 4); err != nil || string(b) != "data" {
		t.Errorf("ReadFS: %q %v", b, err)
	}
	if _, err := ReadFS(fsys, "k", 3); !errors.Is(err, saferoot.ErrTooLarge) {
		t.Errorf("ReadFS too large: %v", err)
	}
	if _, err := ReadFS(fsys, "d", 3); err == nil || err.Error() != "d is a directory, not a regular file" {
		t.Errorf("ReadFS dir: %v", err)
	}
}
