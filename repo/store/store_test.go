package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func digest(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func tmpEntries(t *testing.T, s *Store) int {
	t.Helper()
	e, err := os.ReadDir(filepath.Join(s.Root(), "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return len(e)
}

func TestPutOpenHas(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("a package")
	sum := digest(data)
	if s.Has(sum, int64(len(data))) {
		t.Fatal("empty store has the file")
	}
	if err := s.Put(sum, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if !s.Has(sum, int64(len(data))) || s.Has(sum, 3) {
		t.Fatal("Has does not match the stored size")
	}
	if s.Path(sum) != filepath.Join(s.Root(), sum[:2], sum) {
		t.Fatalf("path %s", s.Path(sum))
	}
	f, err := s.Open(sum)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("read back %q", got)
	}
	if err := s.Verify(sum, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if tmpEntries(t, s) != 0 {
		t.Fatal("temporary file left behind")
	}
}

func TestMismatchNeverVisible(t *testing.T) {
	s, _ := Open(t.TempDir())
	data := []byte("the real content")
	sum := digest(data)
	for name, tc := range map[string]struct {
		body []byte
		size int64
	}{
		"altered":   {[]byte("the real c0ntent"), int64(len(data))},
		"truncated": {data[:5], int64(len(data))},
		"too long":  {append(data, 'x'), int64(len(data))},
	} {
		err := s.Put(sum, tc.size, bytes.NewReader(tc.body))
		if !errors.Is(err, ErrMismatch) {
			t.Errorf("%s: err = %v, want ErrMismatch", name, err)
		}
		if _, err := os.Stat(s.Path(sum)); err == nil {
			t.Errorf("%s: file published", name)
		}
	}
	if tmpEntries(t, s) != 0 {
		t.Fatal("temporary files left behind")
	}
	// An interrupted download (Create without Commit) is invisible too.
	w, _ := s.Create(sum, int64(len(data)))
	w.Write(data[:4])
	if s.Has(sum, int64(len(data))) {
		t.Fatal("partial file visible")
	}
	w.Abort()
}

func TestCorruptFileRemoved(t *testing.T) {
	s, _ := Open(t.TempDir())
	data := bytes.Repeat([]byte("x"), 1000)
	sum := digest(data)
	if err := s.Put(sum, 1000, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(s.Path(sum), bytes.Repeat([]byte("y"), 1000), 0o644)
	if !s.Has(sum, 1000) {
		t.Fatal("Has should only trust name and size")
	}
	if err := s.Verify(sum, 1000); !errors.Is(err, ErrMismatch) {
		t.Fatalf("err = %v", err)
	}
	if s.Has(sum, 1000) {
		t.Fatal("corrupt file was not removed")
	}
}

func TestRejectsBadDigest(t *testing.T) {
	s, _ := Open(t.TempDir())
	for _, d := range []string{"../../etc/passwd", "ABCDEF", "", digest(nil)[:60] + "zzzz"} {
		if s.Path(d) != "" {
			t.Errorf("Path(%q) = %q", d, s.Path(d))
		}
		if _, err := s.Create(d, 1); err == nil {
			t.Errorf("Create(%q) accepted", d)
		}
	}
}

func TestConcurrentPut(t *testing.T) {
	root := t.TempDir()
	data := bytes.Repeat([]byte("deb"), 100000)
	sum := digest(data)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(root) // independent handles, as separate processes would have
			if err == nil {
				err = s.Put(sum, int64(len(data)), bytes.NewReader(data))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s, _ := Open(root)
	if err := s.Verify(sum, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if tmpEntries(t, s) != 0 {
		t.Fatal("temporary files left behind")
	}
}
