package rpmmd

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// Repomd is a parsed repodata/repomd.xml: the index of a repository's
// data files with their checksums.
type Repomd struct {
	Revision string
	Data     []Data
}

// Data is one <data> entry of repomd.xml.
type Data struct {
	Type     string // primary, filelists, other, group, group_gz, modules, updateinfo, primary_zck, ...
	Location string // href, relative to the repository's base URL
	// LocationBase is the location's xml:base, when given: the file then
	// lies at LocationBase + Location.
	LocationBase string
	Checksum     Checksum // of the file as stored
	OpenChecksum Checksum // of its decompressed content; empty when not given
	Size         int64    // of the file as stored; -1 when not given
	OpenSize     int64    // decompressed; -1 when not given
	Timestamp    int64
}

// maxRepomdEntries bounds the <data> entries: real files have about 20.
const maxRepomdEntries = 1024

// ParseRepomd parses repomd.xml. It is called only on verified data (or
// that of a repository marked insecure). name is used in errors.
func ParseRepomd(data []byte, name string) (*Repomd, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	md := &Repomd{}
	err := eachTopLevel(d, name, "repomd", func(se xml.StartElement) error {
		var err error
		switch se.Name.Local {
		case "revision":
			if md.Revision, err = text(d, 1<<10); err != nil {
				return xmlErr(name, d, err)
			}
		case "data":
			if len(md.Data) == maxRepomdEntries {
				return fmt.Errorf("%s: more than %d data entries", name, maxRepomdEntries)
			}
			e, err := parseData(d, se)
			if err != nil {
				return xmlErr(name, d, err)
			}
			if e.Type == "" || e.Location == "" {
				return fmt.Errorf("%s: data entry %q without type or location", name, e.Type)
			}
			if err := checkLocation(e.Location, e.LocationBase); err != nil {
				return fmt.Errorf("%s: data %s: %w", name, e.Type, err)
			}
			if err := e.Checksum.check(); err != nil {
				return fmt.Errorf("%s: data %s: %w", name, e.Type, err)
			}
			if e.OpenChecksum.Value != "" {
				if err := e.OpenChecksum.check(); err != nil {
					return fmt.Errorf("%s: data %s: open-checksum: %w", name, e.Type, err)
				}
			}
			md.Data = append(md.Data, e)
		default:
			if err := skip(d); err != nil {
				return xmlErr(name, d, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return md, nil
}

func parseData(d *xml.Decoder, se xml.StartElement) (Data, error) {
	e := Data{Type: attr(se, "type"), Size: -1, OpenSize: -1}
	err := eachChild(d, func(t xml.StartElement) error {
		switch t.Name.Local {
		case "location":
			e.Location, e.LocationBase = attr(t, "href"), xmlBase(t)
			return skip(d)
		case "checksum", "open-checksum":
			c := Checksum{Type: attr(t, "type")}
			v, err := text(d, 256)
			if err != nil {
				return err
			}
			c.Value = strings.ToLower(v)
			if t.Name.Local == "checksum" {
				e.Checksum = c
			} else {
				e.OpenChecksum = c
			}
		case "size", "open-size", "timestamp":
			s, err := text(d, 32)
			if err != nil {
				return err
			}
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				return fmt.Errorf("data %s: <%s> %q is not a size", e.Type, t.Name.Local, s)
			}
			switch t.Name.Local {
			case "size":
				e.Size = n
			case "open-size":
				e.OpenSize = n
			default:
				e.Timestamp = n
			}
		default:
			return skip(d)
		}
		return nil
	})
	return e, err
}

// Find returns the first entry of the given types, in the order given.
func (m *Repomd) Find(types ...string) (Data, bool) {
	for _, t := range types {
		for _, e := range m.Data {
			if e.Type == t {
				return e, true
			}
		}
	}
	return Data{}, false
}

// checkLocation refuses a location that could leave the repository: an
// absolute path or URL, a ".." element, a control character; and an
// xml:base that is not an http, https or file URL. Even though the files
// are checked against signed checksums, a hostile repository (an insecure
// one, or a key's owner) must not make vzkit read or fetch elsewhere.
func checkLocation(href, base string) error {
	if href == "" || strings.HasPrefix(href, "/") || strings.Contains(href, "://") || strings.ContainsAny(href, "\x00\n\r\\?#") {
		return fmt.Errorf("location %.200q is not a relative path", href)
	}
	// Checked as written and as a URL path decodes it (%2e%2e is "..").
	dec, err := url.PathUnescape(href)
	if err != nil {
		return fmt.Errorf("location %.200q: %w", href, err)
	}
	for _, p := range []string{href, dec} {
		for _, el := range strings.Split(p, "/") {
			if el == ".." {
				return fmt.Errorf("location %.200q leaves the repository", href)
			}
		}
	}
	if base != "" {
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file") || u.Host == "" && u.Scheme != "file" {
			return fmt.Errorf("xml:base %.200q is not an http, https or file URL", base)
		}
	}
	return nil
}

const xmlNamespace = "http://www.w3.org/XML/1998/namespace"

func attr(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

func xmlBase(se xml.StartElement) string {
	for _, a := range se.Attr {
		if a.Name.Local == "base" && (a.Name.Space == xmlNamespace || a.Name.Space == "xml") {
			return a.Value
		}
	}
	return ""
}

// text reads an element's character data up to its end tag, at most max
// bytes; child elements are skipped.
func text(d *xml.Decoder, max int) (string, error) {
	var b []byte
	for {
		tok, err := d.RawToken()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(b)+len(t) > max {
				return "", fmt.Errorf("text longer than %d bytes", max)
			}
			b = append(b, t...)
		case xml.StartElement:
			if err := skip(d); err != nil {
				return "", err
			}
		case xml.EndElement:
			return strings.TrimSpace(string(b)), nil
		}
	}
}

// xmlErr names the file and the line of a parse error.
func xmlErr(name string, d *xml.Decoder, err error) error {
	if _, ok := err.(*xml.SyntaxError); ok {
		return fmt.Errorf("%s: %w", name, err)
	}
	line, _ := d.InputPos()
	return fmt.Errorf("%s:%d: %w", name, line, err)
}

// eachTopLevel reads a document whose root element is root and calls fn
// with the start of each of root's children; fn reads the child to its
// end tag. The decoder's errors are named by file and line; fn's are
// returned as they are. A document that ends inside root is refused.
func eachTopLevel(d *xml.Decoder, name, root string, fn func(xml.StartElement) error) error {
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			return fmt.Errorf("%s: no <%s> element", name, root)
		}
		if err != nil {
			return xmlErr(name, d, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != root {
				return fmt.Errorf("%s: root element is <%s>, not <%s>", name, se.Name.Local, root)
			}
			break
		}
	}
	// The decoder's errors come back from eachChild as they are; fn's are
	// told apart to be returned untouched.
	var fnErr error
	err := eachChild(d, func(se xml.StartElement) error {
		fnErr = fn(se)
		return fnErr
	})
	switch {
	case fnErr != nil:
		return fnErr
	case err == io.EOF:
		return xmlErr(name, d, fmt.Errorf("the file ends inside <%s>", root))
	case err != nil:
		return xmlErr(name, d, err)
	}
	return nil
}

// eachChild reads the element whose start was just read up to its end
// tag and calls fn with the start of each child; fn reads the child to
// its end tag (skip, text, or a parser of its own). Character data
// between the children is dropped.
func eachChild(d *xml.Decoder, fn func(xml.StartElement) error) error {
	for {
		tok, err := d.RawToken()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			if err := fn(t); err != nil {
				return err
			}
		}
	}
}

// skip reads up to the end of the element whose start was just read.
// The parsers use RawToken, which skips encoding/xml's namespace
// translation (a third of the parse time on a large primary.xml); element
// names are matched by their local part, and whether end tags match their
// start tags is left unchecked, since the content was fixed by a signed
// checksum before it is parsed and a mismatch cannot change what is read.
func skip(d *xml.Decoder) error {
	for depth := 1; depth > 0; {
		tok, err := d.RawToken()
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
	}
	return nil
}
