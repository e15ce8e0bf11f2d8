package aptsources

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// MaxFileSize bounds how much of one sources file is read.
const MaxFileSize = 1 << 20

// Entry is one source: a one-line `deb ...` line or one deb822 stanza.
type Entry struct {
	Types      []string          `json:"types"`                // deb, deb-src
	URIs       []string          `json:"uris"`                 // as written
	Suites     []string          `json:"suites"`               // codenames or suite names; a path for flat repositories
	Components []string          `json:"components,omitempty"` // empty for flat repositories
	Options    map[string]string `json:"options,omitempty"`    // lower-case names: signed-by, arch/architectures, trusted, ...
	Enabled    bool              `json:"enabled"`              // false for deb822 `Enabled: no`
	File       string            `json:"file"`
	Line       int               `json:"line"` // line of the URIs: field (deb822) or of the one-line entry
}

// HasType reports whether the entry is of type t (deb or deb-src).
func (e Entry) HasType(t string) bool {
	for _, x := range e.Types {
		if x == t {
			return true
		}
	}
	return false
}

// ParseList parses the one-line format of sources.list. file names the
// source in errors and in each Entry. Lines that are commented out are not
// entries: apt ignores them.
func ParseList(r io.Reader, file string) ([]Entry, error) {
	var out []Entry
	sc := newScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		e, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, n, err)
		}
		e.File, e.Line = file, n
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", file, n+1, err)
	}
	return out, nil
}

func parseLine(line string) (Entry, error) {
	typ, rest, _ := strings.Cut(line, " ")
	typ = strings.TrimSpace(typ)
	if typ != "deb" && typ != "deb-src" {
		return Entry{}, fmt.Errorf("unknown source type %q (want deb or deb-src)", typ)
	}
	e := Entry{Types: []string{typ}, Enabled: true}
	rest = strings.TrimSpace(rest)
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return Entry{}, errors.New("option block [ has no closing ]")
		}
		e.Options = map[string]string{}
		for _, o := range strings.Fields(rest[1:end]) {
			k, v, ok := strings.Cut(o, "=")
			if !ok {
				return Entry{}, fmt.Errorf("option %q is not name=value", o)
			}
			// apt also accepts name+=value and name-=value; keep the base name.
			k = strings.TrimRight(strings.ToLower(k), "+-")
			e.Options[k] = v
		}
		rest = rest[end+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 2 {
		return Entry{}, errors.New("want URI and suite after the type")
	}
	e.URIs = []string{f[0]}
	e.Suites = []string{f[1]}
	e.Components = f[2:]
	if !strings.HasSuffix(f[1], "/") && len(e.Components) == 0 {
		return Entry{}, fmt.Errorf("suite %q needs components (only a flat suite ending in / may have none)", f[1])
	}
	return e, nil
}

// ParseDeb822 parses the deb822 format of *.sources files. Comment lines
// (starting with #) may appear anywhere, also inside a stanza.
func ParseDeb822(r io.Reader, file string) ([]Entry, error) {
	var out []Entry
	fields := map[string]string{}
	lines := map[string]int{}
	start, last := 0, ""
	flush := func() error {
		if len(fields) == 0 {
			return nil
		}
		e, err := stanza(fields, lines)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", file, start, err)
		}
		e.File = file
		out = append(out, e)
		fields, lines, last = map[string]string{}, map[string]int{}, ""
		return nil
	}
	sc := newScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
			continue
		case strings.TrimSpace(line) == "":
			if err := flush(); err != nil {
				return nil, err
			}
		case line[0] == ' ' || line[0] == '\t':
			if last == "" {
				return nil, fmt.Errorf("%s:%d: continuation line without a field", file, n)
			}
			fields[last] += "\n" + strings.TrimSpace(line)
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				return nil, fmt.Errorf("%s:%d: line is neither a field (Name: value) nor a comment", file, n)
			}
			k = strings.ToLower(strings.TrimSpace(k))
			if _, dup := fields[k]; dup {
				return nil, fmt.Errorf("%s:%d: field %q given twice in one stanza", file, n, k)
			}
			if len(fields) == 0 {
				start = n
			}
			fields[k], lines[k], last = strings.TrimSpace(v), n, k
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", file, n+1, err)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

func stanza(f map[string]string, lines map[string]int) (Entry, error) {
	e := Entry{
		Types:      strings.Fields(f["types"]),
		URIs:       strings.Fields(f["uris"]),
		Suites:     strings.Fields(f["suites"]),
		Components: strings.Fields(f["components"]),
		Enabled:    true,
		Line:       lines["uris"],
	}
	for _, req := range []string{"types", "uris", "suites"} {
		if f[req] == "" {
			return Entry{}, fmt.Errorf("stanza has no %s field", deb822Name(req))
		}
	}
	for _, t := range e.Types {
		if t != "deb" && t != "deb-src" {
			return Entry{}, fmt.Errorf("unknown source type %q in Types (want deb or deb-src)", t)
		}
	}
	if v, ok := f["enabled"]; ok {
		switch strings.ToLower(v) {
		case "yes":
		case "no":
			e.Enabled = false
		default:
			return Entry{}, fmt.Errorf("Enabled: want yes or no, got %q", v)
		}
	}
	for k, v := range f {
		switch k {
		case "types", "uris", "suites", "components", "enabled":
		default:
			if e.Options == nil {
				e.Options = map[string]string{}
			}
			e.Options[k] = v
		}
	}
	return e, nil
}

func deb822Name(k string) string {
	return map[string]string{"types": "Types", "uris": "URIs", "suites": "Suites"}[k]
}

func newScanner(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(&limitReader{r: r, n: MaxFileSize})
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	return sc
}

// limitReader fails (instead of silently truncating like io.LimitReader)
// once more than n bytes are read, so an oversized file is an error.
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return n, fmt.Errorf("file is larger than %d bytes", MaxFileSize)
	}
	return n, err
}

// ReadHost reads every source apt would read under aptDir (normally
// /etc/apt): sources.list, then sources.list.d/*.list and *.sources in
// name order. Missing files are not an error; files with other extensions
// are ignored, as apt ignores them.
func ReadHost(aptDir string) ([]Entry, error) {
	var out []Entry
	read := func(p string, parse func(io.Reader, string) ([]Entry, error)) error {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("apt sources: %w", err)
		}
		defer f.Close()
		es, err := parse(f, p)
		if err != nil {
			return fmt.Errorf("apt sources: %w", err)
		}
		out = append(out, es...)
		return nil
	}
	if err := read(filepath.Join(aptDir, "sources.list"), ParseList); err != nil {
		return nil, err
	}
	dir := filepath.Join(aptDir, "sources.list.d")
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("apt sources: %w", err)
	}
	names := make([]string, 0, len(ents))
	for _, d := range ents {
		if !d.IsDir() {
			names = append(names, d.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		var err error
		switch filepath.Ext(n) {
		case ".list":
			err = read(filepath.Join(dir, n), ParseList)
		case ".sources":
			err = read(filepath.Join(dir, n), ParseDeb822)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
