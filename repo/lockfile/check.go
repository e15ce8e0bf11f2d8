package lockfile

import (
	"fmt"
	"strings"

	rpmutils "github.com/sassoftware/go-rpmutils"
	"pault.ag/go/debian/version"

	"github.com/vzkit/vzkit/repo"
)

// CheckError lists every locked package that the current indexes no
// longer offer as locked, one sentence each.
type CheckError struct {
	Problems []string
}

func (e *CheckError) Error() string {
	if len(e.Problems) == 1 {
		return "lockfile: " + e.Problems[0]
	}
	return fmt.Sprintf("lockfile: %d locked packages changed:\n  %s", len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// Check returns the locked packages as the freshly loaded, verified
// sources list them now (same name, architecture and version, from the
// same repository suite), in the lock's order. It fails with a *CheckError
// naming every package that vanished or whose file changed, and every
// locked repository suite that is no longer among sources.
func Check(l *Lock, sources []Source) ([]repo.Package, error) {
	type suiteKey struct{ repo, suite string }
	byName := map[suiteKey]map[string][]*repo.Package{}
	for _, s := range sources {
		m := map[string][]*repo.Package{}
		for i := range s.Packages {
			p := &s.Packages[i]
			m[p.Name] = append(m[p.Name], p)
		}
		byName[suiteKey{s.Repository, s.Suite}] = m
	}
	labels := map[suiteKey]string{}
	for _, r := range l.Repositories {
		labels[suiteKey{r.Name, r.Suite}] = r.Label()
	}

	var problems []string
	gone := map[suiteKey][]string{}
	var goneOrder []suiteKey
	out := make([]repo.Package, 0, len(l.Packages))
	for _, lp := range l.Packages {
		k := suiteKey{lp.Repository, lp.Suite}
		m, ok := byName[k]
		if !ok {
			if gone[k] == nil {
				goneOrder = append(goneOrder, k)
			}
			gone[k] = append(gone[k], lp.Name)
			continue
		}
		where := labels[k]
		var sameVersion []*repo.Package
		for _, p := range m[lp.Name] {
			if p.Version == lp.Version && p.Arch == lp.Arch {
				sameVersion = append(sameVersion, p)
			}
		}
		var found *repo.Package
		for _, p := range sameVersion {
			if p.Checksum.SHA256() == lp.SHA256 && p.Size == lp.Size {
				found = p
				break
			}
		}
		switch {
		case found != nil:
			out = append(out, *found)
		case len(sameVersion) > 0:
			p := sameVersion[0]
			problems = append(problems, fmt.Sprintf("%s %s in %s has changed: sha256 %s, size %d (locked sha256 %s, size %d)",
				lp.Name, lp.Version, where, p.Checksum.Hex, p.Size, lp.SHA256, lp.Size))
		default:
			now := "not there at all any more"
			if v := newest(m[lp.Name], lp.Arch); v != "" {
				now = "now " + v
			}
			problems = append(problems, fmt.Sprintf("%s %s is no longer in %s (%s)", lp.Name, lp.Version, where, now))
		}
	}
	for _, k := range goneOrder {
		problems = append(problems, fmt.Sprintf("repository %s suite %s is not loaded any more (it held %s)",
			k.repo, k.suite, strings.Join(gone[k], ", ")))
	}
	if len(problems) > 0 {
		return nil, &CheckError{Problems: problems}
	}
	return out, nil
}

// newest is the highest version among pkgs of architecture arch, by the
// version order of their format, or "" when there is none. Versions that
// do not parse are compared as strings, after every valid one: they come
// from a verified index, but are not ours to reject here.
func newest(pkgs []*repo.Package, arch string) string {
	var best *repo.Package
	var bestV version.Version
	bestOK := false
	for _, p := range pkgs {
		if p.Arch != arch {
			continue
		}
		if p.Format == repo.FormatRPM {
			if best == nil || compareEVR(p.Version, best.Version) > 0 {
				best = p
			}
			continue
		}
		v, err := version.Parse(p.Version)
		switch {
		case err != nil:
			if !bestOK && (best == nil || p.Version > best.Version) {
				best = p
			}
		case !bestOK || version.Compare(v, bestV) > 0:
			best, bestV, bestOK = p, v, true
		}
	}
	if best == nil {
		return ""
	}
	return best.Version
}

// compareEVR compares RPM versions written [epoch:]version-release, as rpm
// does (a missing epoch is 0).
func compareEVR(a, b string) int {
	split := func(s string) rpmutils.NEVRA {
		var n rpmutils.NEVRA
		n.Epoch = "0"
		if e, rest, ok := strings.Cut(s, ":"); ok {
			n.Epoch, s = e, rest
		}
		n.Version = s
		if i := strings.LastIndexByte(s, '-'); i >= 0 {
			n.Version, n.Release = s[:i], s[i+1:]
		}
		return n
	}
	return rpmutils.NEVRAcmp(split(a), split(b))
}
