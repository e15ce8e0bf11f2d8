package aptsources

import (
	"fmt"
	"net/url"
	"path"
	"strings"
)

// Query says which archive a template needs.
type Query struct {
	Distro   string // debian, ubuntu: matched against the last element of the URI path
	Suite    string // codename such as bookworm; preferred when an entry lists it
	Security bool   // the security archive (suite SUITE-security, path /debian-security)
}

// Mirror is the chosen archive URI and the source entry it came from.
type Mirror struct {
	URI  string `json:"uri"`
	File string `json:"file"`
	Line int    `json:"line"`
}

// Origin is FILE:LINE of the entry the mirror came from.
func (m Mirror) Origin() string { return fmt.Sprintf("%s:%d", m.File, m.Line) }

// Pick chooses the mirror for q among entries (see the package comment for
// the order). Only enabled `deb` entries count.
func Pick(entries []Entry, q Query) (Mirror, error) {
	suite := q.Suite
	if q.Security && suite != "" && !strings.HasSuffix(suite, "-security") {
		suite += "-security"
	}
	var byPath *Mirror
	for _, e := range entries {
		if !e.Enabled || !e.HasType("deb") {
			continue
		}
		for _, u := range e.URIs {
			if !archiveMatches(u, q.Distro, q.Security) {
				continue
			}
			m := Mirror{URI: u, File: e.File, Line: e.Line}
			if suite != "" && contains(e.Suites, suite) {
				return m, nil
			}
			if byPath == nil && suitesFit(e.Suites, q.Security) {
				byPath = &m
			}
		}
	}
	if byPath != nil {
		return *byPath, nil
	}
	kind := "archive"
	if q.Security {
		kind = "security archive"
	}
	return Mirror{}, fmt.Errorf("no enabled deb entry for the %s %s (suite %q) in the apt sources", q.Distro, kind, suite)
}

// archiveMatches applies the URI-path heuristic: /debian for the main
// archive, /debian-security for the security one (also /ubuntu-ports and
// similar suffixed names for other architectures).
func archiveMatches(uri, distro string, security bool) bool {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" {
		return false
	}
	base := path.Base(strings.TrimRight(u.Path, "/"))
	if security {
		return base == distro+"-security" || base == distro
	}
	return base == distro || base == distro+"-ports"
}

// suitesFit keeps path-only matches honest: a main-archive entry must list a
// plain suite, a security entry a -security suite (Ubuntu serves security
// updates from the main /ubuntu path).
func suitesFit(suites []string, security bool) bool {
	for _, s := range suites {
		if strings.HasSuffix(s, "-security") == security {
			return true
		}
	}
	return false
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
