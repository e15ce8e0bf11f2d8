package apt

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
)

// maxLine bounds one line of a control file; Packages lines are far
// shorter, a longer one is a corrupt or hostile file.
const maxLine = 1 << 20

// ParsePackages reads a Packages index and returns its stanzas with
// Repository set to repository. name is used in errors (file or URL).
func ParsePackages(r io.Reader, name, repository string) ([]Package, error) {
	var out []Package
	err := scanPackages(r, name, func(p *Package) {
		p.Repository = repository
		out = append(out, *p)
	})
	return out, err
}

// lineReader yields lines without their newline, refusing overlong ones.
type lineReader struct {
	br   *bufio.Reader
	name string
	n    int // line number, for errors
}

func (l *lineReader) next() ([]byte, error) {
	line, err := l.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, fmt.Errorf("%s:%d: line longer than %d bytes", l.name, l.n+1, maxLine)
	}
	if err == io.EOF && len(line) > 0 {
		err = nil
	}
	if err != nil {
		if err != io.EOF {
			err = fmt.Errorf("%s: %w", l.name, err)
		}
		return nil, err
	}
	l.n++
	return bytes.TrimRight(line, "\r\n"), nil
}

// interner shares the backing string of values that repeat across
// thousands of stanzas.
type interner map[string]string

func (in interner) get(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in) < 4096 {
		in[s] = s
	}
	return s
}

func scanPackages(r io.Reader, name string, emit func(*Package)) error {
	lr := &lineReader{br: bufio.NewReaderSize(r, maxLine), name: name}
	in := interner{}
	var p Package
	var inStanza bool
	var cont *string // field that continuation lines extend, nil when ignored
	start := 0
	flush := func() error {
		if !inStanza {
			return nil
		}
		if p.Name == "" {
			return fmt.Errorf("%s:%d: stanza without Package field", name, start)
		}
		emit(&p)
		p = Package{}
		inStanza = false
		return nil
	}
	for {
		line, err := lr.next()
		if err == io.EOF {
			return flush()
		}
		if err != nil {
			return err
		}
		if len(line) == 0 {
			if err := flush(); err != nil {
				return err
			}
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if !inStanza {
				return fmt.Errorf("%s:%d: continuation line outside a stanza", name, lr.n)
			}
			if cont != nil {
				*cont += " " + string(bytes.TrimSpace(line))
			}
			continue
		}
		if line[0] == '#' {
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return fmt.Errorf("%s:%d: malformed line %.40q", name, lr.n, line)
		}
		if !inStanza {
			inStanza = true
			start = lr.n
		}
		key, val := line[:colon], bytes.TrimSpace(line[colon+1:])
		cont = nil
		switch string(key) {
		case "Package":
			p.Name = string(val)
		case "Version":
			p.Version = string(val)
		case "Architecture":
			p.Architecture = in.get(val)
		case "Multi-Arch":
			p.MultiArch = in.get(val)
		case "Essential":
			p.Essential = string(val) == "yes"
		case "Priority":
			p.Priority = in.get(val)
		case "Section":
			p.Section = in.get(val)
		case "Source":
			p.Source = string(val)
		case "Depends":
			p.Depends, cont = string(val), &p.Depends
		case "Pre-Depends":
			p.PreDepends, cont = string(val), &p.PreDepends
		case "Provides":
			p.Provides, cont = string(val), &p.Provides
		case "Conflicts":
			p.Conflicts, cont = string(val), &p.Conflicts
		case "Breaks":
			p.Breaks, cont = string(val), &p.Breaks
		case "Replaces":
			p.Replaces, cont = string(val), &p.Replaces
		case "Recommends":
			p.Recommends, cont = string(val), &p.Recommends
		case "Filename":
			p.Filename = string(val)
		case "SHA256":
			p.SHA256 = string(bytes.ToLower(val))
		case "Size":
			n, err := strconv.ParseInt(string(val), 10, 64)
			if err != nil || n < 0 {
				return fmt.Errorf("%s:%d: bad Size %q", name, lr.n, val)
			}
			p.Size = n
		case "Installed-Size":
			n, err := strconv.ParseInt(string(val), 10, 64)
			if err != nil || n < 0 {
				return fmt.Errorf("%s:%d: bad Installed-Size %q", name, lr.n, val)
			}
			p.InstalledSize = n
		}
	}
}
