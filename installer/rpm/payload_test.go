package rpm

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/extract"
)

// What the header lists and the payload does not have: %ghost files are
// not made, directories are made from the header, hardlink sets get
// their content from their last member, "/" itself may be listed.
func TestExtractHeaderAndPayload(t *testing.T) {
	var w bytes.Buffer
	newc(&w, "./usr/bin/a", sIFREG|0o755, 7, 2, nil)
	newc(&w, "./usr/bin/b", sIFREG|0o755, 7, 2, []byte("shared\n"))
	cpioTrailer(&w)
	file := buildRPM(t, t.TempDir(), tpkg{name: "layout", cpio: w.Bytes(), files: []tfile{
		{path: "/", mode: sIFDIR | 0o755},
		{path: "/usr/bin/a", mode: sIFREG | 0o755, content: "shared\n", inode: 7},
		{path: "/usr/bin/b", mode: sIFREG | 0o755, content: "shared\n", inode: 7},
		{path: "/var/lib/empty", mode: sIFDIR | 0o710},
		{path: "/var/log/app.log", mode: sIFREG | 0o640, ghost: true},
	}})
	root, res, err := extractInto(t, file)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ghosts != 1 {
		t.Errorf("Ghosts = %d", res.Ghosts)
	}
	if _, err := os.Lstat(filepath.Join(root, "var/log/app.log")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the %%ghost file was made: %v", err)
	}
	if st, err := os.Stat(filepath.Join(root, "var/lib/empty")); err != nil || !st.IsDir() || st.Mode().Perm() != 0o710 {
		t.Errorf("directory missing from the payload: %v, %v", st, err)
	}
	var a, b unix.Stat_t
	unix.Lstat(filepath.Join(root, "usr/bin/a"), &a)
	unix.Lstat(filepath.Join(root, "usr/bin/b"), &b)
	if a.Ino == 0 || a.Ino != b.Ino || a.Nlink != 2 || a.Size != 7 {
		t.Errorf("hardlink set: a ino %d nlink %d size %d, b ino %d", a.Ino, a.Nlink, a.Size, b.Ino)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "usr/bin/a")); string(data) != "shared\n" {
		t.Errorf("usr/bin/a = %q", data)
	}
}

// Payloads that disagree with their header are refused, naming the file.
func TestExtractPayloadMismatch(t *testing.T) {
	one := []tfile{{path: "/a", mode: sIFREG | 0o644, content: "A"}}
	cpio := func(entries ...func(*bytes.Buffer)) []byte {
		var w bytes.Buffer
		for _, e := range entries {
			e(&w)
		}
		cpioTrailer(&w)
		return w.Bytes()
	}
	a := func(w *bytes.Buffer) { newc(w, "./a", sIFREG|0o644, 1, 1, []byte("A")) }
	for _, tc := range []struct {
		name  string
		files []tfile
		cpio  []byte
		msg   string
	}{
		{"twice", one, cpio(a, a), "/a is twice in the payload"},
		{"missing", append(one, tfile{path: "/b", mode: sIFREG | 0o644, content: "B"}), cpio(a), "/b is in the header but not in the payload"},
		{"ghost in payload", []tfile{{path: "/a", mode: sIFREG | 0o644, content: "A", ghost: true}}, cpio(a), "/a is a %ghost file, yet in the payload"},
		{"type", []tfile{{path: "/a", mode: sIFDIR | 0o755}}, cpio(a), "/a: the payload has file type 100000, the header 40000"},
		{"content", []tfile{{path: "/a", mode: sIFREG | 0o644, content: "B"}}, cpio(a), "/a: verification failed: file digest mismatch"},
		{"hardlink without content", []tfile{
			{path: "/a", mode: sIFREG | 0o644, content: "A", inode: 5},
			{path: "/b", mode: sIFREG | 0o644, content: "A", inode: 5},
		}, cpio(func(w *bytes.Buffer) { newc(w, "./a", sIFREG|0o644, 5, 2, nil) }), "/b, which holds the content, is not in the payload"},
		{"name size", one, []byte("070701" + strings.Repeat("00000000", 11) + "00000000" + "00000000"), "cpio: name size 0"},
		{"crc", one, []byte("070702" + strings.Repeat("0", 104)), "070702 (crc) archives are not rpm payloads"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := buildRPM(t, t.TempDir(), tpkg{name: "mismatch", files: tc.files, cpio: tc.cpio})
			_, _, err := extractInto(t, file)
			if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "mismatch-1.0-1.x86_64.rpm") {
				t.Errorf("Extract: %v, want %q", err, tc.msg)
			}
		})
	}
}

// Extract refuses a package whose required signature it cannot have
// before writing anything.
func TestExtractRefusedWritesNothing(t *testing.T) {
	file := buildRPM(t, t.TempDir(), tpkg{name: "unsigned", files: []tfile{{path: "/a", mode: sIFREG | 0o644, content: "A"}}})
	p, err := Open(file)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	r, err := extract.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = p.Extract(t.Context(), r, ExtractOptions{Options: Options{RequireSignature: true}})
	if err == nil || !strings.Contains(err.Error(), "unsigned-1.0-1.x86_64.rpm: verification failed: not signed") {
		t.Errorf("Extract: %v", err)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Errorf("%d entries written", len(ents))
	}
}
