package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrMismatch is wrapped by errors for content whose size or SHA-256 is not
// the expected one.
var ErrMismatch = errors.New("checksum mismatch")

// Store is a content-addressed directory. It holds no state besides its
// root, so any number of Stores and processes may share one root.
type Store struct {
	root string
}

// Open prepares root (creating it) and returns its Store.
func Open(root string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(root, "tmp"), 0o755); err != nil {
		return nil, fmt.Errorf("package store: %w", err)
	}
	return &Store{root: root}, nil
}

// Root is the store's directory.
func (s *Store) Root() string { return s.root }

func checkDigest(sum string) error {
	if len(sum) != sha256.Size*2 || strings.ToLower(sum) != sum {
		return fmt.Errorf("package store: %q is not a lower-case hex SHA-256", sum)
	}
	if _, err := hex.DecodeString(sum); err != nil {
		return fmt.Errorf("package store: %q is not a lower-case hex SHA-256", sum)
	}
	return nil
}

// Path is where the file with this SHA-256 lives (whether or not it exists).
// A malformed digest gives "" so it can never name a path outside the store.
func (s *Store) Path(sum string) string {
	if checkDigest(sum) != nil {
		return ""
	}
	return filepath.Join(s.root, sum[:2], sum)
}

// Has reports whether a file with this digest and size is stored.
func (s *Store) Has(sum string, size int64) bool {
	p := s.Path(sum)
	if p == "" {
		return false
	}
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Size() == size
}

// Open opens a stored file for reading.
func (s *Store) Open(sum string) (*os.File, error) {
	if err := checkDigest(sum); err != nil {
		return nil, err
	}
	f, err := os.Open(s.Path(sum))
	if err != nil {
		return nil, fmt.Errorf("package store: %w", err)
	}
	return f, nil
}

// Verify re-hashes a stored file. A file that does not match is removed
// (so that the next download replaces it) and ErrMismatch is returned; a
// missing file gives an fs.ErrNotExist error.
func (s *Store) Verify(sum string, size int64) error {
	f, err := s.Open(sum)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, size+1))
	if err != nil {
		return fmt.Errorf("package store: reading %s: %w", f.Name(), err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != size || got != sum {
		os.Remove(f.Name())
		return fmt.Errorf("package store: %s: %w (size %d, sha256 %s; removed)", f.Name(), ErrMismatch, n, got)
	}
	return nil
}

// Remove deletes a stored file; a missing file is not an error.
func (s *Store) Remove(sum string) error {
	if err := checkDigest(sum); err != nil {
		return err
	}
	if err := os.Remove(s.Path(sum)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("package store: %w", err)
	}
	return nil
}

// Writer receives one file's content. Commit publishes it under its digest
// when it matches; Abort (safe after Commit) discards it.
type Writer struct {
	s    *Store
	f    *os.File
	h    hash.Hash
	sum  string
	size int64
	n    int64
	done bool
}

// Create starts writing a file expected to have this SHA-256 and size.
func (s *Store) Create(sum string, size int64) (*Writer, error) {
	if err := checkDigest(sum); err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, fmt.Errorf("package store: negative size %d for %s", size, sum)
	}
	f, err := os.CreateTemp(filepath.Join(s.root, "tmp"), sum[:12]+"-*")
	if err != nil {
		return nil, fmt.Errorf("package store: %w", err)
	}
	return &Writer{s: s, f: f, h: sha256.New(), sum: sum, size: size}, nil
}

// Write refuses to go past the expected size, which bounds what a lying
// server can make us store.
func (w *Writer) Write(p []byte) (int, error) {
	if w.n+int64(len(p)) > w.size {
		return 0, fmt.Errorf("package store: %s: %w: more than the expected %d bytes", w.sum, ErrMismatch, w.size)
	}
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("package store: %w", err)
	}
	return n, nil
}

// Commit checks size and SHA-256, syncs, and renames the file into place.
func (w *Writer) Commit() error {
	if w.done {
		return errors.New("package store: writer already finished")
	}
	w.done = true
	defer os.Remove(w.f.Name()) // no-op after a successful rename
	if got := hex.EncodeToString(w.h.Sum(nil)); w.n != w.size || got != w.sum {
		w.f.Close()
		return fmt.Errorf("package store: %w: got %d bytes with sha256 %s, want %d bytes with %s", ErrMismatch, w.n, got, w.size, w.sum)
	}
	if err := w.f.Sync(); err != nil {
		w.f.Close()
		return fmt.Errorf("package store: %w", err)
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("package store: %w", err)
	}
	final := w.s.Path(w.sum)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return fmt.Errorf("package store: %w", err)
	}
	if err := os.Chmod(w.f.Name(), 0o644); err != nil {
		return fmt.Errorf("package store: %w", err)
	}
	if err := os.Rename(w.f.Name(), final); err != nil {
		return fmt.Errorf("package store: %w", err)
	}
	return nil
}

// Abort discards the temporary file.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
}

// Put stores r's content if it has the given digest and size.
func (s *Store) Put(sum string, size int64, r io.Reader) error {
	w, err := s.Create(sum, size)
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := io.Copy(w, r); err != nil {
		return err
	}
	return w.Commit()
}
