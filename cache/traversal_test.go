package cache

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// tarOf builds a plain tar from headers; regular files get body as content.
func tarOf(tb testing.TB, entries ...*tar.Header) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		var body []byte
		if h.Typeflag == tar.TypeReg {
			body = []byte("payload of " + h.Name + "\n")
			h.Size = int64(len(body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// sandbox is a destination with a sibling "outside" directory holding one
// file; nothing an archive does may change outside.
type sandbox struct {
	dst, outside, secret string
}

func newSandbox(tb testing.TB) sandbox {
	tb.Helper()
	base := tb.TempDir()
	s := sandbox{dst: filepath.Join(base, "dst"), outside: filepath.Join(base, "outside")}
	s.secret = filepath.Join(s.outside, "secret")
	if err := os.Mkdir(s.outside, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(s.secret, []byte("untouched"), 0o644); err != nil {
		tb.Fatal(err)
	}
	return s
}

func (s sandbox) unpack(tb testing.TB, data []byte, opts UnpackOptions) error {
	tb.Helper()
	f := filepath.Join(filepath.Dir(s.dst), "in.tar")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return Unpack(context.Background(), f, s.dst, opts)
}

// check fails when anything outside dst changed.
func (s sandbox) check(tb testing.TB) {
	tb.Helper()
	ents, err := os.ReadDir(s.outside)
	if err != nil {
		tb.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "secret" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		tb.Errorf("outside holds %v", names)
	}
	data, err := os.ReadFile(s.secret)
	var st unix.Stat_t
	if err == nil {
		err = unix.Lstat(s.secret, &st)
	}
	if err != nil || string(data) != "untouched" || st.Nlink != 1 || st.Mode&0o7777 != 0o644 {
		tb.Errorf("outside/secret changed: %q nlink %d mode %o err %v", data, st.Nlink, st.Mode&0o7777, err)
	}
	if _, err := os.Lstat(filepath.Join(filepath.Dir(s.dst), "evil")); err == nil {
		tb.Errorf("an entry escaped to %s", filepath.Join(filepath.Dir(s.dst), "evil"))
	}
}

func TestUnpackPathTraversal(t *testing.T) {
	reg := func(name string) *tar.Header { return &tar.Header{Name: name, Typeflag: tar.TypeReg} }
	sym := func(name, target string) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target}
	}
	hard := func(name, target string) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: target}
	}
	refused := []struct {
		name    string
		entries func(s sandbox) []*tar.Header
	}{
		{"dotdot", func(sandbox) []*tar.Header { return []*tar.Header{reg("../evil")} }},
		{"dotdot inside", func(sandbox) []*tar.Header { return []*tar.Header{reg("./a/../../evil")} }},
		{"absolute", func(s sandbox) []*tar.Header { return []*tar.Header{reg(s.outside + "/evil")} }},
		{"hardlink dotdot", func(sandbox) []*tar.Header { return []*tar.Header{hard("h", "../outside/secret")} }},
		{"hardlink absolute", func(s sandbox) []*tar.Header { return []*tar.Header{hard("h", s.secret)} }},
		// The absolute symlink points into dst (where it does not exist), not outside.
		{"absolute symlink parent", func(s sandbox) []*tar.Header {
			return []*tar.Header{sym("link", s.outside), reg("link/evil")}
		}},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			s := newSandbox(t)
			err := s.unpack(t, tarOf(t, c.entries(s)...), UnpackOptions{})
			if err == nil {
				t.Errorf("unpack accepted the archive")
			}
			s.check(t)
		})
	}

	t.Run("relative symlink parent stays inside", func(t *testing.T) {
		s := newSandbox(t)
		err := s.unpack(t, tarOf(t, sym("up", "../../../.."), reg("up/inside"), sym("abs", "/"), reg("abs/also")), UnpackOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.check(t)
		for _, p := range []string{"inside", "also"} {
			if data, err := os.ReadFile(filepath.Join(s.dst, p)); err != nil || !strings.HasPrefix(string(data), "payload") {
				t.Errorf("%s: want the file at the top of dst, got %q %v", p, data, err)
			}
		}
	})

	t.Run("hardlink to a symlink links the symlink", func(t *testing.T) {
		s := newSandbox(t)
		if err := s.unpack(t, tarOf(t, sym("s", s.secret), hard("h", "s")), UnpackOptions{}); err != nil {
			t.Fatal(err)
		}
		s.check(t)
		if target, err := os.Readlink(filepath.Join(s.dst, "h")); err != nil || target != s.secret {
			t.Errorf("h: %q %v, want a symlink to %s", target, err, s.secret)
		}
	})

	t.Run("entries replace symlinks instead of following them", func(t *testing.T) {
		s := newSandbox(t)
		err := s.unpack(t, tarOf(t,
			sym("f", s.secret), reg("f"),
			sym("d", s.outside), &tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755},
			sym("n", s.secret), &tar.Header{Name: "n", Typeflag: tar.TypeFifo, Mode: 0o600},
		), UnpackOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.check(t)
		for name, want := range map[string]uint32{"f": unix.S_IFREG, "d": unix.S_IFDIR, "n": unix.S_IFIFO} {
			var st unix.Stat_t
			if err := unix.Lstat(filepath.Join(s.dst, name), &st); err != nil || st.Mode&unix.S_IFMT != want {
				t.Errorf("%s: mode %o, %v; want type %o", name, st.Mode, err, want)
			}
		}
	})
}
