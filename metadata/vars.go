package metadata

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Variables the caller supplies to Expand (the CLI resolves them from
// flags, the environment and the host's apt sources).
var suppliedVars = []string{"mirror", "security_mirror", "arch"}

// Variables derived from the template itself.
var derivedVars = []string{"releasever", "basearch"}

// varRE finds variable references for URL checks; substitute does the
// real parsing.
var varRE = regexp.MustCompile(`\$(\{[A-Za-z][A-Za-z0-9_]*\}|[A-Za-z][A-Za-z0-9_]*)`)

// substitute replaces $name and ${name} in s using get; $$ is a literal $.
func substitute(s string, get func(name string) (string, error)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' {
			b.WriteByte(c)
			continue
		}
		rest := s[i+1:]
		var name string
		switch {
		case strings.HasPrefix(rest, "$"):
			b.WriteByte('$')
			i++
			continue
		case strings.HasPrefix(rest, "{"):
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return "", fmt.Errorf("unclosed ${ in %q", s)
			}
			name = rest[1:end]
			if !varNameRE.MatchString(name) {
				return "", fmt.Errorf("bad variable name ${%s} in %q", name, s)
			}
			i += end + 1
		default:
			n := 0
			for n < len(rest) && (rest[n] == '_' || isAlnum(rest[n])) {
				n++
			}
			name = rest[:n]
			if !varNameRE.MatchString(name) {
				return "", fmt.Errorf("'$' in %q starts no variable; write $$ for a dollar sign", s)
			}
			i += n
		}
		v, err := get(name)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// references lists the variable names used in s (nil and an error when s
// is malformed).
func references(s string) ([]string, error) {
	var out []string
	_, err := substitute(s, func(name string) (string, error) {
		out = append(out, name)
		return "", nil
	})
	return out, err
}

// expandable visits every field of t where variables are substituted,
// with the key of its position in t.Pos. Variable values are not visited.
func (t *Template) expandable(fn func(key string, s *string) error) error {
	list := func(prefix string, l []string) error {
		for i := range l {
			if err := fn(fmt.Sprintf("%s[%d]", prefix, i), &l[i]); err != nil {
				return err
			}
		}
		return nil
	}
	keys := func(prefix string, ks []Key) error {
		for i := range ks {
			p := fmt.Sprintf("%s[%d]", prefix, i)
			if err := fn(p+".file", &ks[i].File); err != nil {
				return err
			}
			if err := fn(p+".url", &ks[i].URL); err != nil {
				return err
			}
		}
		return nil
	}
	for i := range t.Repositories {
		r := &t.Repositories[i]
		p := fmt.Sprintf("repositories[%d]", i)
		for _, f := range []struct {
			key string
			v   *string
		}{{".url", &r.URL}, {".metalink", &r.Metalink}, {".mirrorlist", &r.Mirrorlist}} {
			if err := fn(p+f.key, f.v); err != nil {
				return err
			}
		}
		for _, e := range []error{list(p+".mirrors", r.Mirrors), list(p+".suites", r.Suites), list(p+".components", r.Components), keys(p+".keys", r.Keys)} {
			if e != nil {
				return e
			}
		}
	}
	if err := keys("keys", t.Keys); err != nil {
		return err
	}
	if err := list("packages.include", t.Packages.Include); err != nil {
		return err
	}
	if err := list("packages.exclude", t.Packages.Exclude); err != nil {
		return err
	}
	for _, k := range sortedKeys(t.Defaults) {
		v := t.Defaults[k]
		if err := fn("defaults."+k, &v); err != nil {
			return err
		}
		t.Defaults[k] = v
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Referenced returns the caller-supplied variables (mirror,
// security_mirror, arch) that t uses, directly or through its own
// variables, sorted. The CLI resolves only those.
func (t *Template) Referenced() []string {
	seen := map[string]bool{}
	var visit func(name string, depth int)
	visit = func(name string, depth int) {
		if seen[name] || depth > maxVarDepth {
			return
		}
		seen[name] = true
		if v, ok := t.Variables[name]; ok {
			refs, _ := references(v)
			for _, r := range refs {
				visit(r, depth+1)
			}
		}
	}
	c := t.clone()
	_ = c.expandable(func(_ string, s *string) error {
		refs, _ := references(*s)
		for _, r := range refs {
			visit(r, 0)
		}
		return nil
	})
	var out []string
	for _, v := range suppliedVars {
		if seen[v] {
			out = append(out, v)
		}
	}
	return out
}

const maxVarDepth = 16

// Expand returns a copy of t with variables substituted and one
// architecture chosen. values holds what the caller supplies: "mirror",
// "security_mirror", "arch" (default: the template's first architecture),
// and optionally overrides of the template's own variables. A variable
// that is used but has no value is an error naming where it is used.
func (t *Template) Expand(values map[string]string) (*Template, error) {
	if t.expanded {
		return nil, fmt.Errorf("template %s: already expanded", t.Name)
	}
	for k := range values {
		if _, own := t.Variables[k]; !own && !contains(suppliedVars, k) {
			return nil, fmt.Errorf("template %s: value given for unknown variable $%s", t.Name, k)
		}
	}
	arch := values["arch"]
	if arch == "" && len(t.Arch) > 0 {
		arch = t.Arch[0]
	}
	if !contains(t.Arch, arch) {
		return nil, fmt.Errorf("template %s: architecture %q is not one of %s", t.Name, arch, strings.Join(t.Arch, ", "))
	}
	env := map[string]string{"arch": arch, "basearch": basearch(arch), "releasever": t.Release}
	for k, v := range values {
		env[k] = v
	}
	var get func(depth int) func(string) (string, error)
	get = func(depth int) func(string) (string, error) {
		return func(name string) (string, error) {
			if depth > maxVarDepth {
				return "", fmt.Errorf("variables refer to each other in a loop through $%s", name)
			}
			if v, ok := env[name]; ok {
				return v, nil
			}
			if v, ok := t.Variables[name]; ok {
				return substitute(v, get(depth+1))
			}
			if contains(suppliedVars, name) {
				return "", fmt.Errorf("variable $%s has no value", name)
			}
			return "", fmt.Errorf("unknown variable $%s", name)
		}
	}
	out := t.clone()
	for _, k := range sortedKeys(out.Variables) {
		if _, over := values[k]; over {
			out.Variables[k] = values[k]
			continue
		}
		v, err := substitute(out.Variables[k], get(0))
		if err != nil {
			return nil, fmt.Errorf("%s: variables.%s: %w", t.posOf("variables."+k), k, err)
		}
		out.Variables[k] = v
	}
	err := out.expandable(func(key string, s *string) error {
		v, err := substitute(*s, get(0))
		if err != nil {
			return fmt.Errorf("%s: %s: %w", t.posOf(key), key, err)
		}
		*s = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.Arch = []string{arch}
	out.Cache.Name = t.CacheName(arch)
	out.expanded = true
	return out, nil
}

// CacheName fills the cache name pattern for an architecture.
func (t *Template) CacheName(arch string) string {
	fields := map[string]string{"name": t.Name, "distro": t.Distro, "release": t.Release, "arch": arch, "variant": t.Variant}
	return placeholder.ReplaceAllStringFunc(t.Cache.Name, func(m string) string { return fields[m[1:len(m)-1]] })
}

// basearch is the RPM name of an architecture ($basearch in .repo files).
func basearch(arch string) string {
	switch arch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "ppc64el":
		return "ppc64le"
	case "i386", "i686":
		return "i386"
	}
	return arch
}

func (t *Template) posOf(key string) string {
	if p, ok := t.Pos[key]; ok {
		return p.String()
	}
	return t.File
}

func (t *Template) clone() *Template {
	c := *t
	c.Arch = append([]string(nil), t.Arch...)
	c.Variables = cloneMap(t.Variables)
	c.Defaults = cloneMap(t.Defaults)
	c.Chain = append([]string(nil), t.Chain...)
	if t.Scripts != nil {
		c.Scripts = map[string]Script{}
		for k, v := range t.Scripts {
			c.Scripts[k] = v
		}
	}
	c.Keys = cloneKeys(t.Keys)
	c.Repositories = make([]Repository, len(t.Repositories))
	for i, r := range t.Repositories {
		r.Mirrors = append([]string(nil), r.Mirrors...)
		r.Suites = append([]string(nil), r.Suites...)
		r.Components = append([]string(nil), r.Components...)
		r.Keys = cloneKeys(r.Keys)
		c.Repositories[i] = r
	}
	c.Packages.Include = append([]string(nil), t.Packages.Include...)
	c.Packages.Exclude = append([]string(nil), t.Packages.Exclude...)
	return &c
}

func cloneKeys(k []Key) []Key { return append([]Key(nil), k...) }

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
