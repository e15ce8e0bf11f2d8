package sbom

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/vzkit/vzkit/internal/saferoot"
	"pault.ag/go/debian/control"
)

// Bounds on files read from a root.
const (
	maxStatusSize    = 256 << 20 // var/lib/dpkg/status of a large desktop is ~10 MiB
	maxCopyrightSize = 4 << 20   // the largest copyright files in Debian are ~2 MiB
)

// statusEntry is what dpkg's status file says about one installed package.
type statusEntry struct {
	Source        string
	SourceVersion string
}

// readRootFile reads rel below the root as if it were "/": directories on
// the way resolve inside it, the file itself must be a regular one (a
// symlink there is not followed, a FIFO or device never opened), at most
// max bytes. Errors name the root.
func readRootFile(r *saferoot.Root, rel string, max int64) ([]byte, error) {
	data, err := r.ReadFile(rel, max)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", r.Path(), err)
	}
	return data, nil
}

// readDpkgStatus returns the installed packages of a Debian root keyed by
// "name:arch" and by "name". A root without dpkg status gives an empty map.
func readDpkgStatus(r *saferoot.Root) (map[string]statusEntry, error) {
	data, err := readRootFile(r, "var/lib/dpkg/status", maxStatusSize)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]statusEntry{}, nil
	}
	if err != nil {
		return nil, err
	}
	st, err := parseStatus(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s/var/lib/dpkg/status: %w", r.Path(), err)
	}
	return st, nil
}

// parseStatus reads dpkg status paragraphs, keeping installed packages.
func parseStatus(r io.Reader) (map[string]statusEntry, error) {
	pr, err := control.NewParagraphReader(r, nil)
	if err != nil {
		return nil, err
	}
	out := map[string]statusEntry{}
	for {
		p, err := pr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		name := field(p, "Package")
		if name == "" || !strings.HasSuffix(field(p, "Status"), " installed") {
			continue
		}
		e := statusEntry{Source: name, SourceVersion: field(p, "Version")}
		// "Source: name" or "Source: name (version)" when they differ
		// from the binary package's.
		if src := field(p, "Source"); src != "" {
			n, v, hasV := strings.Cut(src, " ")
			e.Source = n
			if hasV {
				e.SourceVersion = strings.Trim(strings.TrimSpace(v), "()")
			}
		}
		out[name] = e
		if arch := field(p, "Architecture"); arch != "" {
			out[name+":"+arch] = e
		}
	}
}

// field returns a paragraph field by case-insensitive name, as Debian
// control syntax wants.
func field(p *control.Paragraph, name string) string {
	if v, ok := p.Values[name]; ok {
		return v
	}
	for _, k := range p.Order {
		if strings.EqualFold(k, name) {
			return p.Values[k]
		}
	}
	return ""
}

// copyright is what a machine-readable copyright file declares.
type copyright struct {
	Licenses []string          // distinct License: short names of Files paragraphs, sorted
	Texts    map[string]string // licence texts of stand-alone License paragraphs by short name
}

// readCopyright parses ROOT/usr/share/doc/PKG/copyright; ok is false when
// the file is missing or not in the machine-readable format.
func readCopyright(r *saferoot.Root, pkg string) (c copyright, ok bool, err error) {
	if pkg == "" || strings.ContainsAny(pkg, "/\x00") || pkg == "." || pkg == ".." {
		return copyright{}, false, fmt.Errorf("bad package name %q", pkg)
	}
	rel := path.Join("usr/share/doc", pkg, "copyright")
	data, err := readRootFile(r, rel, maxCopyrightSize)
	if errors.Is(err, fs.ErrNotExist) {
		return copyright{}, false, nil
	}
	if err != nil {
		return copyright{}, false, err
	}
	c, ok, err = parseCopyright(bytes.NewReader(data))
	if err != nil {
		return copyright{}, false, fmt.Errorf("%s in %s: %w", rel, r.Path(), err)
	}
	return c, ok, nil
}

// paragraphs splits r at its blank lines (empty or only white space, as
// deb822 parsers take them), without comment lines ("#" in the first
// column), which real files put between a field's continuation lines.
func paragraphs(r io.Reader) ([]string, error) {
	var out []string
	var cur strings.Builder
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxCopyrightSize)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
			continue
		}
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		cur.WriteString(sc.Text())
		cur.WriteByte('\n')
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out, sc.Err()
}

// oneParagraph parses one deb822 paragraph.
func oneParagraph(text string) (*control.Paragraph, error) {
	pr, err := control.NewParagraphReader(strings.NewReader(text), nil)
	if err != nil {
		return nil, err
	}
	return pr.Next()
}

// parseCopyright reads a DEP-5 copyright file: a header paragraph with
// Format:, then Files: paragraphs whose License: first line names the
// licence, and stand-alone License: paragraphs holding the texts.
func parseCopyright(r io.Reader) (copyright, bool, error) {
	// Most files that are not machine-readable are free text that the
	// paragraph parser would reject; look at the first field first.
	br := bufio.NewReader(r)
	for {
		line, err := br.Peek(1)
		if err != nil {
			return copyright{}, false, nil
		}
		if line[0] != '#' && line[0] != '\n' {
			break
		}
		if _, err := br.ReadString('\n'); err != nil {
			return copyright{}, false, nil
		}
	}
	head, _ := br.Peek(7)
	if !strings.EqualFold(string(head), "Format:") {
		return copyright{}, false, nil
	}
	// Paragraphs are parsed one by one: real files end with free text
	// that is no paragraph ("On Debian GNU/Linux systems, the complete
	// text of ..."), which is skipped instead of losing the licences
	// read before it.
	paras, err := paragraphs(br)
	if err != nil {
		return copyright{}, false, err
	}
	if len(paras) == 0 {
		return copyright{}, false, nil
	}
	header, err := oneParagraph(paras[0])
	if err != nil {
		return copyright{}, false, err
	}
	format := field(header, "Format")
	if !strings.Contains(format, "copyright-format") && !strings.Contains(format, "dep5") {
		return copyright{}, false, nil
	}
	c := copyright{Texts: map[string]string{}}
	seen := map[string]bool{}
	for _, raw := range paras[1:] {
		p, err := oneParagraph(raw)
		if err != nil {
			continue // free text between or after the paragraphs
		}
		lic := field(p, "License")
		name, text, _ := strings.Cut(lic, "\n")
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if field(p, "Files") != "" {
			if !seen[name] {
				seen[name] = true
				c.Licenses = append(c.Licenses, name)
			}
		} else if text = strings.TrimSpace(text); text != "" {
			c.Texts[name] = text
		}
	}
	// A header License: covers the whole package when no Files paragraph
	// names one.
	if name, _, _ := strings.Cut(field(header, "License"), "\n"); len(c.Licenses) == 0 && strings.TrimSpace(name) != "" {
		c.Licenses = append(c.Licenses, strings.TrimSpace(name))
	}
	sort.Strings(c.Licenses)
	return c, true, nil
}
