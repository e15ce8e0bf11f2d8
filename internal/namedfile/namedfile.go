package namedfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/saferoot"
)

// Read reads the host file at path, at most max bytes.
func Read(file string, max int64) ([]byte, error) {
	data, err := saferoot.ReadRegularFile(file, max)
	if nr, ok := errors.AsType[*saferoot.NotRegularError](err); ok {
		return nil, notRegular(file, nr.Kind)
	}
	if err != nil {
		return nil, explain(file, max, err)
	}
	return data, nil
}

// ReadIn reads name below r, at most max bytes: a symlink on the way is
// resolved inside r, so name cannot leave it.
func ReadIn(r *saferoot.Root, name string, max int64) ([]byte, error) {
	data, err := r.ReadFile(name, max)
	file := filepath.Join(r.Path(), filepath.FromSlash(name))
	if nr, ok := errors.AsType[*saferoot.NotRegularError](err); ok {
		return nil, notRegular(file, nr.Kind)
	}
	if err != nil {
		return nil, explain(file, max, err)
	}
	return data, nil
}

// ReadFS reads name from fsys, at most max bytes. It is for file systems
// that are not the host's (embedded, in memory): on one that is, a FIFO
// can be swapped in between the check and the open, which Read and ReadIn
// rule out.
func ReadFS(fsys fs.FS, name string, max int64) ([]byte, error) {
	st, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, explain(name, max, err)
	}
	if !st.Mode().IsRegular() {
		what := "special file"
		if st.IsDir() {
			what = "directory"
		}
		return nil, notRegular(name, what)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, explain(name, max, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, explain(name, max, err)
	}
	if int64(len(data)) > max {
		return nil, explain(name, max, saferoot.ErrTooLarge)
	}
	return data, nil
}

// Check reports, without opening the host file at path, whether Read
// could read it: nil, or the error Read would give, the size apart.
func Check(file string) error {
	var st unix.Stat_t
	if err := unix.Lstat(file, &st); err != nil {
		return explain(file, 0, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return notRegular(file, saferoot.FileKind(st.Mode))
	}
	return nil
}

// refusal is an error in words for people that still matches the
// sentinel it stands for (fs.ErrNotExist, saferoot.ErrNotRegular,
// saferoot.ErrTooLarge) with errors.Is.
type refusal struct {
	msg string
	err error
}

func (r *refusal) Error() string { return r.msg }
func (r *refusal) Unwrap() error { return r.err }

// explain words an error from reading file with limit max.
func explain(file string, max int64, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &refusal{file + " does not exist", err}
	case errors.Is(err, saferoot.ErrTooLarge):
		return &refusal{fmt.Sprintf("%s is larger than %d bytes", file, max), err}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s: %w", file, err)
}

func notRegular(file, what string) error {
	if what == "symlink" {
		return &refusal{file + " is a symlink; name the file itself", saferoot.ErrNotRegular}
	}
	return &refusal{fmt.Sprintf("%s is a %s, not a regular file", file, what), saferoot.ErrNotRegular}
}
