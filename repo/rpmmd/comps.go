package rpmmd

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// ReqType is the kind of a comps <packagereq>.
type ReqType int

const (
	Mandatory ReqType = iota
	Default
	Optional
	Conditional // installed when the package named by Requires is
)

func (t ReqType) String() string {
	return [...]string{"mandatory", "default", "optional", "conditional"}[t]
}

// PackageReq is one <packagereq> of a group.
type PackageReq struct {
	Name     string
	Type     ReqType
	Requires string // for Conditional: the package whose presence pulls Name in
	// BaseArchOnly is basearchonly="true": only the primary architecture's
	// package, never a multilib one.
	BaseArchOnly bool
}

// Group is a comps <group>.
type Group struct {
	ID, Name    string
	Default     bool
	UserVisible bool
	Packages    []PackageReq
}

// Environment is a comps <environment>: groups installed together.
type Environment struct {
	ID, Name string
	Groups   []string // <grouplist>
	Options  []string // <optionlist>: offered, not installed by default
}

// Comps is the group data of one or more repositories (comps.xml).
type Comps struct {
	Groups       map[string]*Group
	Environments map[string]*Environment
}

// compsID is the form of group and environment ids (Fedora's are
// lower-case words joined by '-'): no '@', '^' or "pattern:" that would
// read as a reference's syntax, no spaces.
var compsID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)

// maxCompsEntries bounds groups, environments and packagereqs together:
// Fedora's comps has about 25,000.
const maxCompsEntries = 1 << 20

// ParseComps reads a comps.xml. Categories and langpacks are skipped, and
// so are translated names (xml:lang). A group or environment id given
// twice is an error.
func ParseComps(r io.Reader, name string) (*Comps, error) {
	d := xml.NewDecoder(r)
	d.Strict = true
	// comps files declare a DTD they do not ship; entities beyond XML's
	// own are not used.
	c := &Comps{Groups: map[string]*Group{}, Environments: map[string]*Environment{}}
	entries := 0
	err := eachTopLevel(d, name, "comps", func(se xml.StartElement) error {
		switch se.Name.Local {
		case "group":
			g, n, err := parseGroup(d)
			if err != nil {
				return xmlErr(name, d, err)
			}
			if entries += n + 1; entries > maxCompsEntries {
				return fmt.Errorf("%s: more than %d groups and package entries", name, maxCompsEntries)
			}
			if !compsID.MatchString(g.ID) {
				return xmlErr(name, d, fmt.Errorf("group id %q", g.ID))
			}
			if _, dup := c.Groups[g.ID]; dup {
				return xmlErr(name, d, fmt.Errorf("group %q defined twice", g.ID))
			}
			c.Groups[g.ID] = g
		case "environment":
			e, err := parseEnvironment(d)
			if err != nil {
				return xmlErr(name, d, err)
			}
			if entries += len(e.Groups) + len(e.Options) + 1; entries > maxCompsEntries {
				return fmt.Errorf("%s: more than %d entries", name, maxCompsEntries)
			}
			if !compsID.MatchString(e.ID) {
				return xmlErr(name, d, fmt.Errorf("environment id %q", e.ID))
			}
			if _, dup := c.Environments[e.ID]; dup {
				return xmlErr(name, d, fmt.Errorf("environment %q defined twice", e.ID))
			}
			c.Environments[e.ID] = e
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
	return c, nil
}

func isLang(se xml.StartElement) bool {
	for _, a := range se.Attr {
		if a.Name.Local == "lang" {
			return true
		}
	}
	return false
}

func parseBool(s string) bool {
	return strings.EqualFold(strings.TrimSpace(s), "true")
}

func parseGroup(d *xml.Decoder) (*Group, int, error) {
	g := &Group{UserVisible: true}
	err := eachChild(d, func(t xml.StartElement) error {
		var s string
		var err error
		switch t.Name.Local {
		case "id":
			g.ID, err = text(d, maxName)
		case "name", "_name":
			if isLang(t) {
				err = skip(d)
			} else {
				g.Name, err = text(d, maxSummary)
			}
		case "default":
			s, err = text(d, 16)
			g.Default = parseBool(s)
		case "uservisible":
			s, err = text(d, 16)
			g.UserVisible = parseBool(s)
		case "packagelist":
			g.Packages, err = parsePackageList(d, g.Packages)
		default:
			err = skip(d)
		}
		if err != nil {
			return fmt.Errorf("group %q: %w", g.ID, err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return g, len(g.Packages), nil
}

func parsePackageList(d *xml.Decoder, reqs []PackageReq) ([]PackageReq, error) {
	err := eachChild(d, func(t xml.StartElement) error {
		if t.Name.Local != "packagereq" {
			return skip(d)
		}
		r := PackageReq{Requires: attr(t, "requires"), BaseArchOnly: parseBool(attr(t, "basearchonly"))}
		switch typ := attr(t, "type"); typ {
		case "mandatory":
			r.Type = Mandatory
		case "default", "":
			// comps.dtd's default for type is "default".
			r.Type = Default
		case "optional":
			r.Type = Optional
		case "conditional":
			r.Type = Conditional
		default:
			return fmt.Errorf("packagereq type %q", typ)
		}
		var err error
		if r.Name, err = text(d, maxName); err != nil {
			return err
		}
		if r.Name == "" {
			return fmt.Errorf("empty packagereq")
		}
		if r.Type == Conditional && r.Requires == "" {
			return fmt.Errorf("conditional packagereq %q without requires", r.Name)
		}
		reqs = append(reqs, r)
		return nil
	})
	return reqs, err
}

func parseEnvironment(d *xml.Decoder) (*Environment, error) {
	e := &Environment{}
	err := eachChild(d, func(t xml.StartElement) error {
		var err error
		switch t.Name.Local {
		case "id":
			e.ID, err = text(d, maxName)
		case "name", "_name":
			if isLang(t) {
				err = skip(d)
			} else {
				e.Name, err = text(d, maxSummary)
			}
		case "grouplist":
			e.Groups, err = groupIDs(d, e.Groups)
		case "optionlist":
			e.Options, err = groupIDs(d, e.Options)
		default:
			err = skip(d)
		}
		if err != nil {
			return fmt.Errorf("environment %q: %w", e.ID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

func groupIDs(d *xml.Decoder, ids []string) ([]string, error) {
	err := eachChild(d, func(t xml.StartElement) error {
		if t.Name.Local != "groupid" {
			return skip(d)
		}
		id, err := text(d, maxName)
		ids = append(ids, id)
		return err
	})
	return ids, err
}

// Merge adds other's groups and environments to c, as dnf does with the
// comps of several repositories: a group defined in both gets the union of
// their package lists (the first definition's name and flags); an
// environment, the union of its group lists. Either may be nil.
func (c *Comps) Merge(other *Comps) *Comps {
	if c == nil {
		c = &Comps{Groups: map[string]*Group{}, Environments: map[string]*Environment{}}
	}
	if other == nil {
		return c
	}
	for id, g := range other.Groups {
		if have, ok := c.Groups[id]; ok {
			seen := map[string]bool{}
			for _, r := range have.Packages {
				seen[r.Name] = true
			}
			for _, r := range g.Packages {
				if !seen[r.Name] {
					have.Packages = append(have.Packages, r)
				}
			}
			continue
		}
		cp := *g
		cp.Packages = append([]PackageReq(nil), g.Packages...)
		c.Groups[id] = &cp
	}
	for id, e := range other.Environments {
		if have, ok := c.Environments[id]; ok {
			have.Groups = union(have.Groups, e.Groups)
			have.Options = union(have.Options, e.Options)
			continue
		}
		cp := *e
		cp.Groups = append([]string(nil), e.Groups...)
		cp.Options = append([]string(nil), e.Options...)
		c.Environments[id] = &cp
	}
	return c
}

// ExpandOptions tune Expand.
type ExpandOptions struct {
	// Optional adds a group's optional packages, and an environment's
	// optionlist groups, as dnf's --with-optional does.
	Optional bool
}

// Selection is what a group reference stands for.
type Selection struct {
	Ref string // as given
	// Packages are the names to install: mandatory and default
	// packagereqs (and optional ones when asked), sorted, each once.
	Packages []string
	// Conditional packagereqs: Name is installed when Requires is.
	Conditional []PackageReq
	// Groups are the group ids expanded, in order.
	Groups []string
	// UnknownGroups are ids an environment lists that no comps data
	// defines (dnf skips them with a warning).
	UnknownGroups []string
	// Pattern is set when the reference named an openSUSE pattern: the
	// single package in Packages is the pattern's package.
	Pattern string
}

// ErrUnknownGroup is wrapped by Expand's error for a reference that names
// nothing.
var ErrUnknownGroup = errors.New("no such group, environment or pattern")

// Expand resolves a group reference of the template's package list:
//
//	@ID, ID        a comps group, else an environment with that id
//	@^ID           an environment only (dnf's spelling)
//	@ID, pattern:ID, @pattern:ID
//	               an openSUSE pattern: the package that provides
//	               "pattern() = ID" (see PatternPackage), when no comps
//	               group or environment has that id
//
// pkgs are the packages of the repositories (for patterns); c may be nil
// (openSUSE has no comps). An unknown reference is an error that names it
// and lists what is known.
func Expand(ref string, c *Comps, pkgs []Package, opts ExpandOptions) (*Selection, error) {
	id := strings.TrimPrefix(ref, "@")
	envOnly := strings.HasPrefix(id, "^")
	id = strings.TrimPrefix(id, "^")
	patternOnly := strings.HasPrefix(id, "pattern:")
	id = strings.TrimPrefix(id, "pattern:")
	if id == "" {
		return nil, fmt.Errorf("group reference %q: empty", ref)
	}
	sel := &Selection{Ref: ref}
	if c == nil {
		c = &Comps{}
	}
	if !patternOnly {
		if g, ok := c.Groups[id]; ok && !envOnly {
			sel.addGroup(g, opts)
			sel.finish()
			return sel, nil
		}
		if e, ok := c.Environments[id]; ok {
			ids := e.Groups
			if opts.Optional {
				ids = union(append([]string(nil), ids...), e.Options)
			}
			for _, gid := range ids {
				g, ok := c.Groups[gid]
				if !ok {
					sel.UnknownGroups = append(sel.UnknownGroups, gid)
					continue
				}
				sel.addGroup(g, opts)
			}
			sel.finish()
			return sel, nil
		}
	}
	if !envOnly {
		if name, ok := PatternPackage(pkgs, id); ok {
			sel.Pattern = id
			sel.Packages = []string{name}
			return sel, nil
		}
	}
	return nil, fmt.Errorf("%q: %w (%s)", ref, ErrUnknownGroup, c.known(envOnly))
}

func (s *Selection) addGroup(g *Group, opts ExpandOptions) {
	s.Groups = append(s.Groups, g.ID)
	for _, r := range g.Packages {
		switch r.Type {
		case Mandatory, Default:
			s.Packages = append(s.Packages, r.Name)
		case Optional:
			if opts.Optional {
				s.Packages = append(s.Packages, r.Name)
			}
		case Conditional:
			s.Conditional = append(s.Conditional, r)
		}
	}
}

func (s *Selection) finish() {
	sort.Strings(s.Packages)
	out := s.Packages[:0]
	for i, n := range s.Packages {
		if i == 0 || n != s.Packages[i-1] {
			out = append(out, n)
		}
	}
	s.Packages = out
}

// known summarises the ids available, for error messages.
func (c *Comps) known(envOnly bool) string {
	var envs, groups []string
	for id := range c.Environments {
		envs = append(envs, id)
	}
	for id := range c.Groups {
		groups = append(groups, id)
	}
	sort.Strings(envs)
	sort.Strings(groups)
	list := func(what string, ids []string) string {
		if len(ids) == 0 {
			return "no " + what
		}
		if len(ids) > 12 {
			return fmt.Sprintf("%s %s, ... (%d in all)", what, strings.Join(ids[:12], ", "), len(ids))
		}
		return what + " " + strings.Join(ids, ", ")
	}
	if envOnly {
		return list("environments", envs)
	}
	return list("environments", envs) + "; " + list("groups", groups)
}

// PatternPackage finds the package of an openSUSE pattern: the one that
// provides "pattern() = name" (patterns-base-minimal_base provides
// pattern() = minimal_base). When several versions or architectures
// provide it, they share the package name, which is what the solver is
// given; a name that differs between providers is ambiguous and not
// returned.
func PatternPackage(pkgs []Package, name string) (string, bool) {
	found := ""
	for i := range pkgs {
		for _, d := range pkgs[i].Provides {
			if d.Name == "pattern()" && d.Op == OpEQ && d.EVR.Version == name {
				if found != "" && found != pkgs[i].Name {
					return "", false
				}
				found = pkgs[i].Name
			}
		}
	}
	return found, found != ""
}
