package vzconf

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/vzkit/vzkit/internal/atomicfile"
)

// File is an OpenVZ-format KEY="value" file kept line by line, so that a
// rewrite changes only the keys that were set and preserves comments,
// ordering and keys vzkit does not know.
type File struct {
	Name  string // path, for error messages
	lines []line
}

type line struct {
	raw   string // original text; used when the line is not a assignment or unchanged
	key   string // "" for comments and blank lines
	value string
}

// SyntaxError is a line of a file that is not a KEY="value" assignment, a
// comment or blank; its message is "FILE:LINE: what is wrong", the form
// editors and admins jump to.
type SyntaxError struct {
	File string
	Line int
	Err  error
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }
func (e *SyntaxError) Unwrap() error { return e.Err }

// Parse reads an OpenVZ-format file. name is used in error messages.
func Parse(r io.Reader, name string) (*File, error) {
	f := &File{Name: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		text := sc.Text()
		trimmed := strings.TrimSpace(text)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			f.lines = append(f.lines, line{raw: text})
			continue
		}
		key, value, err := parseAssignment(trimmed)
		if err != nil {
			return nil, &SyntaxError{File: name, Line: n, Err: err}
		}
		f.lines = append(f.lines, line{raw: text, key: key, value: value})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return f, nil
}

// ReadFile parses the file at path.
func ReadFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return Parse(fh, path)
}

func parseAssignment(s string) (key, value string, err error) {
	s = strings.TrimPrefix(s, "export ")
	eq := strings.IndexByte(s, '=')
	if eq <= 0 {
		return "", "", fmt.Errorf("expected KEY=\"value\", got %q", s)
	}
	key = s[:eq]
	for i, c := range key {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return "", "", fmt.Errorf("invalid key %q", key)
		}
	}
	rest := s[eq+1:]
	value, tail, err := unquote(rest)
	if err != nil {
		return "", "", fmt.Errorf("key %s: %w", key, err)
	}
	tail = strings.TrimSpace(tail)
	if tail != "" && !strings.HasPrefix(tail, "#") {
		return "", "", fmt.Errorf("key %s: unexpected text after value: %q", key, tail)
	}
	return key, value, nil
}

// unquote reads one shell word made of double-quoted, single-quoted and bare
// parts, as OpenVZ's files use, and returns it with the rest of the line.
func unquote(s string) (value, rest string, err error) {
	var b strings.Builder
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			i++
			for {
				if i >= len(s) {
					return "", "", fmt.Errorf("unterminated double quote")
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				if s[i] == '"' {
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return "", "", fmt.Errorf("unterminated single quote")
			}
			b.WriteString(s[i+1 : i+1+end])
			i += end + 2
		case c == ' ' || c == '\t':
			return b.String(), s[i:], nil
		case c == '\\' && i+1 < len(s):
			b.WriteByte(s[i+1])
			i += 2
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), "", nil
}

// quote renders a value so that a POSIX shell sourcing the file gets it
// back, except for $VEID (and ${VEID}), which stays a reference as OpenVZ
// writes it: VE_ROOT="/vz/root/$VEID" is the container's own path to
// OpenVZ's scripts, which source the file with VEID set.
func quote(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '$' && (strings.HasPrefix(v[i:], "$VEID") || strings.HasPrefix(v[i:], "${VEID}")) {
			b.WriteByte('$')
			continue
		}
		if strings.IndexByte("\"\\$`", v[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
	return b.String()
}

// Get returns the value of the last assignment of key.
func (f *File) Get(key string) (string, bool) {
	for i := len(f.lines) - 1; i >= 0; i-- {
		if f.lines[i].key == key {
			return f.lines[i].value, true
		}
	}
	return "", false
}

// Line returns the 1-based line number of the last assignment of key, or 0.
func (f *File) Line(key string) int {
	for i := len(f.lines) - 1; i >= 0; i-- {
		if f.lines[i].key == key {
			return i + 1
		}
	}
	return 0
}

// Keys returns the assigned keys in file order, each once.
func (f *File) Keys() []string {
	seen := map[string]bool{}
	var keys []string
	for _, l := range f.lines {
		if l.key != "" && !seen[l.key] {
			seen[l.key] = true
			keys = append(keys, l.key)
		}
	}
	return keys
}

// Set assigns key, replacing its last assignment in place or appending it.
func (f *File) Set(key, value string) {
	for i := len(f.lines) - 1; i >= 0; i-- {
		if f.lines[i].key == key {
			f.lines[i].value = value
			f.lines[i].raw = key + "=" + quote(value)
			return
		}
	}
	f.lines = append(f.lines, line{key: key, value: value, raw: key + "=" + quote(value)})
}

// Delete removes every assignment of key.
func (f *File) Delete(key string) {
	kept := f.lines[:0]
	for _, l := range f.lines {
		if l.key != key {
			kept = append(kept, l)
		}
	}
	f.lines = kept
}

// Bytes renders the file.
func (f *File) Bytes() []byte {
	var b bytes.Buffer
	for _, l := range f.lines {
		b.WriteString(l.raw)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// WriteFile writes the file to path atomically: a reader sees either the old
// or the new content, never a part.
func (f *File) WriteFile(path string, perm os.FileMode) error {
	return WriteFileAtomic(path, f.Bytes(), perm)
}

// WriteFileAtomic writes data so that a reader sees either the old or the
// new content, never a part.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	return atomicfile.WriteBytes(path, data, perm)
}
