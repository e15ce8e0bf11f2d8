package rpmmd

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Metalink is a parsed metalink for repodata/repomd.xml (MirrorManager's
// metalink 3.0 as Fedora and EPEL serve it, or RFC 5854 metalink 4).
type Metalink struct {
	// Mirrors are repository base URLs (repodata/repomd.xml cut off),
	// most preferred first; only http, https and file URLs are kept.
	Mirrors []string
	// Hashes are the accepted digests of repomd.xml: the current one and
	// MirrorManager's alternates (mirrors that lag by a push).
	Hashes []Checksum
	Size   int64 // of repomd.xml, -1 when not given
}

// maxMetalinkURLs bounds the mirrors kept; MirrorManager sends about 50.
const maxMetalinkURLs = 1024

// ParseMetalink reads a metalink and keeps its repomd.xml entry.
func ParseMetalink(r io.Reader, name string) (*Metalink, error) {
	d := xml.NewDecoder(r)
	d.Strict = true
	type mirror struct {
		url  string
		rank int // lower first
		pos  int
	}
	var mirrors []mirror
	ml := &Metalink{Size: -1}
	root, found := false, false
	var file string // name of the <file> being read, "" outside one
	depth := 0      // element depth inside <file>
	var inVerification bool
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, xmlErr(name, d, err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if file != "" {
				depth--
				if depth == 0 {
					file = ""
				}
				if t.Name.Local == "verification" {
					inVerification = false
				}
			}
		case xml.StartElement:
			if !root {
				if t.Name.Local != "metalink" {
					return nil, fmt.Errorf("%s: root element is <%s>, not <metalink>", name, t.Name.Local)
				}
				root = true
				continue
			}
			if file == "" {
				if t.Name.Local == "file" {
					file, depth = attr(t, "name"), 1
					if file == "" {
						return nil, xmlErr(name, d, fmt.Errorf("<file> without name"))
					}
					if file == "repomd.xml" {
						found = true
					}
				}
				continue
			}
			depth++
			if file != "repomd.xml" {
				continue
			}
			switch t.Name.Local {
			case "verification":
				inVerification = true
			case "hash":
				depth--
				s, err := text(d, 256)
				if err != nil {
					return nil, xmlErr(name, d, err)
				}
				c := Checksum{Type: strings.ToLower(attr(t, "type")), Value: strings.ToLower(s)}
				if !inVerification || c.Type == "md5" || c.check() != nil {
					continue // md5 proves nothing; a malformed one is ignored as dnf does
				}
				ml.Hashes = append(ml.Hashes, c)
			case "size":
				depth--
				s, err := text(d, 32)
				if err != nil {
					return nil, xmlErr(name, d, err)
				}
				if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 && ml.Size < 0 {
					ml.Size = n
				}
			case "url":
				depth--
				s, err := text(d, maxName)
				if err != nil {
					return nil, xmlErr(name, d, err)
				}
				base, ok := repoBase(s)
				if !ok {
					continue
				}
				if len(mirrors) == maxMetalinkURLs {
					return nil, fmt.Errorf("%s: more than %d URLs", name, maxMetalinkURLs)
				}
				rank := 0
				if p := attr(t, "preference"); p != "" { // metalink 3: 100 is best
					n, _ := strconv.Atoi(p)
					rank = -n
				} else if p := attr(t, "priority"); p != "" { // metalink 4: 1 is best
					rank, _ = strconv.Atoi(p)
				}
				mirrors = append(mirrors, mirror{base, rank, len(mirrors)})
			}
		}
	}
	if !root {
		return nil, fmt.Errorf("%s: no <metalink> element", name)
	}
	if !found {
		return nil, fmt.Errorf("%s: no entry for repomd.xml", name)
	}
	if len(mirrors) == 0 {
		return nil, fmt.Errorf("%s: no usable (http, https or file) mirror for repomd.xml", name)
	}
	sort.SliceStable(mirrors, func(i, j int) bool { return mirrors[i].rank < mirrors[j].rank })
	seen := map[string]bool{}
	for _, m := range mirrors {
		if !seen[m.url] {
			seen[m.url] = true
			ml.Mirrors = append(ml.Mirrors, m.url)
		}
	}
	return ml, nil
}

// repoBase turns a URL of repomd.xml (or of the repository) into the
// repository's base URL; other schemes (rsync, ftp) are refused.
func repoBase(s string) (string, bool) {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil || u.Host == "" && u.Scheme != "file" {
		return "", false
	}
	switch u.Scheme {
	case "http", "https", "file":
	default:
		return "", false
	}
	s = strings.TrimSuffix(s, "repomd.xml")
	s = strings.TrimSuffix(s, "/")
	s = strings.TrimSuffix(s, "repodata")
	return strings.TrimSuffix(s, "/") + "/", true
}

// ParseMirrorlist reads a yum mirrorlist: one URL per line, '#' comments,
// each the base URL of a copy of the repository (a URL ending in
// repodata/repomd.xml is cut back to it). Other schemes are skipped.
func ParseMirrorlist(r io.Reader, name string) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxName)
	var out []string
	seen := map[string]bool{}
	n := 0
	for sc.Scan() {
		n++
		line := string(bytes.TrimSpace(sc.Bytes()))
		if line == "" || line[0] == '#' {
			continue
		}
		base, ok := repoBase(line)
		if !ok || seen[base] {
			continue
		}
		if len(out) == maxMetalinkURLs {
			return nil, fmt.Errorf("%s:%d: more than %d mirrors", name, n, maxMetalinkURLs)
		}
		seen[base] = true
		out = append(out, base)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, n+1, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no http, https or file URL", name)
	}
	return out, nil
}

// IsMetalink tells a metalink from a mirrorlist by its content, as dnf
// does when a mirrorlist= URL answers with a metalink.
func IsMetalink(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if !bytes.HasPrefix(t, []byte("<")) {
		return false
	}
	return bytes.Contains(data[:min(len(data), 4096)], []byte("<metalink"))
}
