package sbom

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vzkit/vzkit/internal/atomicfile"
	"github.com/vzkit/vzkit/internal/saferoot"

	"github.com/vzkit/vzkit/cache"
)

// Values SPDX defines for unknown and absent information.
const (
	NoAssertion = "NOASSERTION"
	spdxVersion = "SPDX-2.3"
	docID       = "SPDXRef-DOCUMENT"
	cacheID     = "SPDXRef-Cache"
)

// Document is an SPDX 2.3 document in its JSON form (only the fields vzkit
// fills).
type Document struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      CreationInfo       `json:"creationInfo"`
	Packages          []Package          `json:"packages"`
	Relationships     []Relationship     `json:"relationships"`
	ExtractedLicenses []ExtractedLicense `json:"hasExtractedLicensingInfos,omitempty"`
}

// CreationInfo says who made the document and when.
type CreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

// Package is an SPDX package: the cache itself or one installed package.
type Package struct {
	Name                  string        `json:"name"`
	SPDXID                string        `json:"SPDXID"`
	VersionInfo           string        `json:"versionInfo,omitempty"`
	DownloadLocation      string        `json:"downloadLocation"`
	FilesAnalyzed         bool          `json:"filesAnalyzed"`
	Checksums             []Checksum    `json:"checksums,omitempty"`
	SourceInfo            string        `json:"sourceInfo,omitempty"`
	LicenseConcluded      string        `json:"licenseConcluded"`
	LicenseDeclared       string        `json:"licenseDeclared"`
	CopyrightText         string        `json:"copyrightText"`
	ExternalRefs          []ExternalRef `json:"externalRefs,omitempty"`
	PrimaryPackagePurpose string        `json:"primaryPackagePurpose,omitempty"`
}

// Checksum is an SPDX checksum.
type Checksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

// ExternalRef is an SPDX external reference (here: purl).
type ExternalRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

// Relationship links two SPDX elements.
type Relationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

// ExtractedLicense gives the text of a LicenseRef-* used in the document.
type ExtractedLicense struct {
	LicenseID string `json:"licenseId"`
	Name      string `json:"name"`
	Text      string `json:"extractedText"`
}

// Options tune Generate.
type Options struct {
	// Root is the unpacked root filesystem of the cache. When set, Debian
	// roots contribute source packages (var/lib/dpkg/status) and licences
	// (usr/share/doc/PKG/copyright).
	Root string
}

// Generate builds the SPDX document of the cache m describes.
func Generate(ctx context.Context, m *cache.Manifest, opts Options) (*Document, error) {
	if m.Name == "" || len(m.Archive.SHA256) != 64 {
		return nil, fmt.Errorf("sbom: manifest of %q has no name or no archive sha256", m.Name)
	}
	created, err := creationTime(m)
	if err != nil {
		return nil, fmt.Errorf("sbom: %s: %w", m.Name, err)
	}
	tool := m.Tool
	if tool == "" {
		tool = "vzkit"
	}
	doc := &Document{
		SPDXVersion:       spdxVersion,
		DataLicense:       "CC0-1.0",
		SPDXID:            docID,
		Name:              m.Name,
		DocumentNamespace: "urn:vzkit:spdx:" + m.Name + ":sha256:" + m.Archive.SHA256,
		CreationInfo: CreationInfo{
			Created:  created.UTC().Format("2006-01-02T15:04:05Z"),
			Creators: []string{"Tool: " + tool},
		},
		Packages: []Package{{
			Name:                  m.Name,
			SPDXID:                cacheID,
			VersionInfo:           m.Release,
			DownloadLocation:      NoAssertion,
			Checksums:             []Checksum{{Algorithm: "SHA256", Value: m.Archive.SHA256}},
			LicenseConcluded:      NoAssertion,
			LicenseDeclared:       NoAssertion,
			CopyrightText:         NoAssertion,
			PrimaryPackagePurpose: "CONTAINER",
		}},
		Relationships: []Relationship{{Element: docID, Type: "DESCRIBES", Related: cacheID}},
	}

	status := map[string]statusEntry{}
	var root *saferoot.Root // nil without opts.Root
	if opts.Root != "" {
		// The root's files are the packages': read through saferoot.
		if root, err = saferoot.Open(opts.Root); err != nil {
			return nil, fmt.Errorf("sbom: %w", err)
		}
		defer root.Close()
		if status, err = readDpkgStatus(root); err != nil {
			return nil, fmt.Errorf("sbom: %w", err)
		}
	}
	pkgs := slices.Clone(m.Packages)
	slices.SortFunc(pkgs, func(a, b cache.Package) int {
		return strings.Compare(a.Name+"\x00"+a.Arch+"\x00"+a.Version, b.Name+"\x00"+b.Arch+"\x00"+b.Version)
	})
	refs := map[string]string{}    // LicenseRef id → Debian name
	texts := map[string]string{}   // Debian name → licence text, first found
	refSeen := map[string]string{} // LicenseRef id → package it was first seen in
	ids := map[string]int{}
	for _, p := range pkgs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sp := Package{
			Name:             p.Name,
			SPDXID:           uniqueID(ids, "SPDXRef-Package-"+sanitizeID(p.Name+"-"+p.Arch)),
			VersionInfo:      p.Version,
			DownloadLocation: NoAssertion,
			LicenseConcluded: NoAssertion,
			LicenseDeclared:  NoAssertion,
			CopyrightText:    NoAssertion,
		}
		if isHex64(p.SHA256) {
			sp.Checksums = []Checksum{{Algorithm: "SHA256", Value: p.SHA256}}
		}
		if purl := packageURL(m.Format, m.Distro, m.Release, p); purl != "" {
			sp.ExternalRefs = []ExternalRef{{Category: "PACKAGE-MANAGER", Type: "purl", Locator: purl}}
		}
		if e, ok := status[p.Name+":"+p.Arch]; ok {
			sp.SourceInfo = fmt.Sprintf("built from source package %s %s", e.Source, e.SourceVersion)
		} else if e, ok := status[p.Name]; ok {
			sp.SourceInfo = fmt.Sprintf("built from source package %s %s", e.Source, e.SourceVersion)
		}
		if root != nil {
			c, ok, err := readCopyright(root, p.Name)
			if err != nil {
				slog.Warn("sbom: copyright not readable", "package", p.Name, "root", opts.Root, "err", err)
			} else if ok && len(c.Licenses) > 0 {
				before := len(refs)
				sp.LicenseDeclared = combine(c.Licenses, refs)
				if len(refs) != before {
					for id := range refs {
						if _, ok := refSeen[id]; !ok {
							refSeen[id] = p.Name
						}
					}
				}
				for n, t := range c.Texts {
					if _, ok := texts[n]; !ok {
						texts[n] = t
					}
				}
			}
		}
		doc.Packages = append(doc.Packages, sp)
		doc.Relationships = append(doc.Relationships, Relationship{Element: cacheID, Type: "CONTAINS", Related: sp.SPDXID})
	}
	for _, id := range slices.Sorted(maps.Keys(refs)) {
		name := refs[id]
		text := texts[name]
		if text == "" {
			text = fmt.Sprintf("Licence %q as named in /usr/share/doc/%s/copyright; its text is not in that file.", name, refSeen[id])
		}
		doc.ExtractedLicenses = append(doc.ExtractedLicenses, ExtractedLicense{LicenseID: id, Name: name, Text: text})
	}
	return doc, nil
}

// combine joins the licences of a package's Files paragraphs: the package
// holds files under each of them, so they are ANDed.
func combine(names []string, refs map[string]string) string {
	var terms []string
	for _, n := range names {
		e := licenseExpr(n, refs)
		if len(names) > 1 && (strings.Contains(e, " OR ") || strings.Contains(e, " AND ")) {
			e = "(" + e + ")"
		}
		if !slices.Contains(terms, e) {
			terms = append(terms, e)
		}
	}
	slices.Sort(terms)
	return strings.Join(terms, " AND ")
}

var idUnsafe = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

func sanitizeID(s string) string {
	return idUnsafe.ReplaceAllString(s, "-")
}

// uniqueID appends -N to ids already handed out (names that differ only in
// characters SPDX IDs cannot hold, such as "+").
func uniqueID(ids map[string]int, id string) string {
	n := ids[id]
	ids[id] = n + 1
	if n == 0 {
		return id
	}
	return id + "-" + strconv.Itoa(n+1)
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// creationTime is the cache's SOURCE_DATE_EPOCH, else $SOURCE_DATE_EPOCH,
// else the Unix epoch: never the clock, so the document is reproducible.
func creationTime(m *cache.Manifest) (time.Time, error) {
	if m.Archive.SourceDateEpoch != 0 {
		return time.Unix(m.Archive.SourceDateEpoch, 0), nil
	}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: %w", s, err)
		}
		return time.Unix(n, 0), nil
	}
	return time.Unix(0, 0), nil
}

// debFamily are distros whose packages are .deb: a manifest written before
// the format was recorded is read as deb for these and rpm for others.
var debFamily = map[string]bool{"debian": true, "ubuntu": true, "devuan": true, "kali": true, "raspbian": true}

// packageURL is the purl of an installed package (purl-spec types deb and
// rpm, from the manifest's format), or "" when the distro is unknown.
func packageURL(format cache.PackageFormat, distro, release string, p cache.Package) string {
	distro = strings.ToLower(distro)
	if distro == "" || p.Name == "" || p.Version == "" {
		return ""
	}
	if format == "" {
		format = cache.FormatRPM
		if debFamily[distro] {
			format = cache.FormatDeb
		}
	}
	typ, version := string(format), p.Version
	quals := [][2]string{}
	if p.Arch != "" {
		quals = append(quals, [2]string{"arch", p.Arch})
	}
	if e, v, ok := strings.Cut(version, ":"); ok && format == cache.FormatRPM {
		// rpm purls carry the epoch as a qualifier.
		version = v
		quals = append(quals, [2]string{"epoch", e})
	}
	d := distro
	if release != "" {
		d += "-" + release
	}
	quals = append(quals, [2]string{"distro", d})
	slices.SortFunc(quals, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	var q []string
	for _, kv := range quals {
		q = append(q, kv[0]+"="+purlEscape(kv[1]))
	}
	return "pkg:" + typ + "/" + purlEscape(distro) + "/" + purlEscape(strings.ToLower(p.Name)) + "@" + purlEscape(version) + "?" + strings.Join(q, "&")
}

// purlEscape percent-encodes everything outside purl's unreserved set.
func purlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// Encode writes doc as indented JSON.
func (d *Document) Encode(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(d)
}

// Path returns the SBOM path that belongs to a cache file: NAME.spdx.json
// beside NAME.tar.zst.
func Path(cachePath string) string {
	return strings.TrimSuffix(cache.ManifestPath(cachePath), ".json") + ".spdx.json"
}

// Write generates the SBOM of the cache at cachePath (from the manifest
// beside it) and writes it atomically to Path(cachePath).
func Write(ctx context.Context, cachePath string, opts Options) (string, error) {
	m, err := cache.ReadManifest(cache.ManifestPath(cachePath))
	if err != nil {
		return "", fmt.Errorf("sbom: %w", err)
	}
	doc, err := Generate(ctx, m, opts)
	if err != nil {
		return "", err
	}
	out := Path(cachePath)
	if err := atomicfile.Write(out, 0o644, doc.Encode); err != nil {
		return "", fmt.Errorf("sbom: %w", err)
	}
	return out, nil
}
