package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/pipeline"
)

// canary writes a file only root can read, as a host secret a template
// might point at, and returns its path and content.
func canary(t *testing.T) (string, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	content := "CANARY-" + filepath.Base(t.TempDir())
	if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, content
}

// TestScriptSymlinkNotRead: a script file: that is a symlink to a host
// file is refused by show and lint, which name the template position and
// what the file is, and never print the file's content.
func TestScriptSymlinkNotRead(t *testing.T) {
	secret, content := canary(t)
	dir := t.TempDir()
	if err := os.Symlink(secret, filepath.Join(dir, "post.sh")); err != nil {
		t.Fatal(err)
	}
	// A symlinked directory on the way does not lead out either.
	if err := os.Symlink(filepath.Dir(secret), filepath.Join(dir, "scripts")); err != nil {
		t.Fatal(err)
	}
	tmpl := filepath.Join(dir, "mine.yaml")
	write(t, tmpl, `extends: debian-12-minimal
variant: mine
scripts:
  post-install: {file: post.sh}
  pre-cache: {file: scripts/secret}
`)
	want := []string{
		tmpl + `:4:24: scripts.post-install.file "post.sh": ` + filepath.Join(dir, "post.sh") + " is a symlink; name the file itself",
		tmpl + `:5:21: scripts.pre-cache.file "scripts/secret": no such file beside the template`,
	}
	for _, c := range []struct {
		args []string
		code int
		text bool // problems as text, not JSON
	}{
		{[]string{"--templates", dir, "show", "mine", "--mirror", "http://example.org/debian"}, cli.ExitFailure, true},
		{[]string{"lint", tmpl}, cli.ExitLint, true},
		{[]string{"lint", "-o", "json", tmpl}, cli.ExitLint, false},
	} {
		out, code, err := run(t, t.TempDir(), c.args...)
		all := out
		if err != nil {
			all += err.Error()
		}
		if code != c.code {
			t.Errorf("%v: exit %d, want %d", c.args, code, c.code)
		}
		if strings.Contains(all, content) {
			t.Errorf("%v printed the content of %s:\n%s", c.args, secret, all)
		}
		for _, w := range want {
			if c.text && !strings.Contains(all, w) {
				t.Errorf("%v: output lacks %q:\n%s", c.args, w, all)
			}
		}
	}
}

// keyTemplate writes a template that takes its keys from file and
// returns the resolved template.
func keyTemplate(t *testing.T, file string) *resolvedTemplate {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "mine.yaml"), `extends: debian-12-minimal
keys: !replace
  - file: `+file+`
    fingerprint: B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8
`)
	a := &app{templateDirs: []string{dir}}
	a.Root = t.TempDir()
	r, err := a.resolveTemplate(context.Background(), "mine", resolveOptions{Mirror: "http://example.org/debian"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// loadKeys runs pipeline.Keyring on the template's keys and fails the test if it
// has not returned after 30 s (a hang, not a slow machine).
func loadKeys(t *testing.T, r *resolvedTemplate) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := pipeline.Keyring(context.Background(), nil, r.Template.Keys)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("loading the template's keys did not return")
		return nil
	}
}

// TestKeyFileNotRegular: a key file: that is a FIFO, a symlink or a device
// is refused before anything is read from it, by the build's keyring and
// by the check show and build make first, with the template position.
func TestKeyFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.gpg")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.gpg")
	if err := os.Symlink("/usr/share/keyrings/debian-archive-keyring.gpg", link); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero.gpg")
	// The device /dev/zero is: reading it would never end.
	if err := unix.Mknod(zero, unix.S_IFCHR|0o644, int(unix.Mkdev(1, 5))); err != nil {
		t.Skipf("mknod: %v", err)
	}
	for _, c := range []struct{ file, what string }{
		{fifo, " is a FIFO, not a regular file"},
		{link, " is a symlink; name the file itself"},
		{zero, " is a character device, not a regular file"},
	} {
		r := keyTemplate(t, c.file)
		pos := r.Template.Keys[0].Pos.String()
		if !strings.HasSuffix(pos, "mine.yaml:3:11") {
			t.Errorf("key position %s", pos)
		}
		err := loadKeys(t, r)
		if err == nil || err.Error() != pos+": key file "+c.file+c.what {
			t.Errorf("keyring: %v, want %s", err, pos+": key file "+c.file+c.what)
		}
		if err := r.CheckKeys(); err == nil || !strings.Contains(err.Error(), pos+": template mine: key file "+c.file+c.what) {
			t.Errorf("CheckKeys: %v", err)
		}
	}
}

// TestKeyFileTooLarge: a key file is read up to a limit.
func TestKeyFileTooLarge(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.gpg")
	if err := os.WriteFile(big, make([]byte, pipeline.MaxKeySize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	err := loadKeys(t, keyTemplate(t, big))
	if err == nil || !strings.HasSuffix(err.Error(), "is larger than 4194304 bytes") {
		t.Errorf("keyring: %v", err)
	}
}

// TestShowKeyFIFO: show warns about a FIFO key file and returns.
func TestShowKeyFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.gpg")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "mine.yaml"), "extends: debian-12-minimal\nkeys: !replace\n  - file: "+fifo+"\n    fingerprint: B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8\n")
	done := make(chan string, 1)
	go func() {
		out, _, _ := run(t, t.TempDir(), "--templates", dir, "show", "mine", "--mirror", "http://example.org/debian")
		done <- out
	}()
	select {
	case out := <-done:
		if !strings.Contains(out, "# WARNING: "+filepath.Join(dir, "mine.yaml")+":3:11: template mine: key file "+fifo+" is a FIFO, not a regular file") {
			t.Errorf("show:\n%s", out)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("show did not return")
	}
}
