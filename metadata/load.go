package metadata

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/vzkit/vzkit/internal/namedfile"
	"github.com/vzkit/vzkit/internal/saferoot"
)

// Ext is the file name extension of template metadata: NAME.yaml.
const Ext = ".yaml"

// Source is one place templates are looked up in.
type Source struct {
	// Name prefixes file names in messages: a host directory, or a label
	// such as "distros" for the embedded set.
	Name string
	FS   fs.FS
	Dir  string // directory inside FS holding NAME.yaml files; "." for the root
	// HostDir is the host directory FS reads, "" when FS is not on disk
	// (embedded). Relative key files of host templates become host paths.
	HostDir string
}

// DirSource is a Source for a host directory.
func DirSource(dir string) Source {
	return Source{Name: dir, FS: os.DirFS(dir), Dir: ".", HostDir: dir}
}

// read reads the file p of the source (a template or a script beside
// one), at most MaxFileSize bytes. A host directory is opened with
// saferoot: p must be a regular file inside it, not a symlink, FIFO or
// device, and a symlink on the way resolves inside the directory.
func (s *Source) read(p string) ([]byte, error) {
	if s.HostDir == "" {
		return namedfile.ReadFS(s.FS, p, MaxFileSize)
	}
	// The directory itself was named by whoever runs vzpkg (--templates,
	// TEMPLATES, the directory of a file to lint) and may be a symlink,
	// which saferoot does not open.
	dir, err := filepath.EvalSymlinks(s.HostDir)
	if err != nil {
		return nil, fmt.Errorf("template directory %s: %w", s.HostDir, err)
	}
	r, err := saferoot.Open(dir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return namedfile.ReadIn(r, p, MaxFileSize)
}

func (s *Source) display(p string) string {
	if s.HostDir != "" {
		return filepath.Join(s.HostDir, filepath.FromSlash(p))
	}
	return path.Join(s.Name, p)
}

// Loader finds templates by name in its sources, first match wins, and
// resolves extends the same way.
type Loader struct {
	Sources []Source
}

// Entry is one template found by List.
type Entry struct {
	Name   string
	File   string // display path
	Source *Source
}

// List returns every template name the sources hold (the first source
// holding a name wins), sorted by name.
func (l *Loader) List() ([]Entry, error) {
	seen := map[string]bool{}
	var out []Entry
	for i := range l.Sources {
		s := &l.Sources[i]
		ents, err := fs.ReadDir(s.FS, s.Dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("template directory %s: %w", s.display(s.Dir), err)
		}
		for _, e := range ents {
			name, ok := strings.CutSuffix(e.Name(), Ext)
			if !ok || e.IsDir() || seen[name] || !nameRE.MatchString(name) {
				continue
			}
			seen[name] = true
			out = append(out, Entry{Name: name, File: s.display(path.Join(s.Dir, e.Name())), Source: s})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// find returns the source and FS path of a template name; first (if not
// nil) is searched before the loader's sources.
func (l *Loader) find(name string, first *Source) (*Source, string, bool) {
	srcs := make([]*Source, 0, len(l.Sources)+1)
	if first != nil {
		srcs = append(srcs, first)
	}
	for i := range l.Sources {
		srcs = append(srcs, &l.Sources[i])
	}
	if !nameRE.MatchString(name) {
		return nil, "", false
	}
	for _, s := range srcs {
		p := path.Join(s.Dir, name+Ext)
		if st, err := fs.Stat(s.FS, p); err == nil && st.Mode().IsRegular() {
			return s, p, true
		}
	}
	return nil, "", false
}

// findAfter looks a name up in the sources that come after src (all of
// them when src is not one of the loader's sources, except any source for
// the same directory).
func (l *Loader) findAfter(name string, src *Source) (*Source, string, bool) {
	start := 0
	for i := range l.Sources {
		if sameSource(&l.Sources[i], src) {
			start = i + 1
		}
	}
	for i := start; i < len(l.Sources); i++ {
		s := &l.Sources[i]
		if sameSource(s, src) {
			continue
		}
		p := path.Join(s.Dir, name+Ext)
		if st, err := fs.Stat(s.FS, p); err == nil && st.Mode().IsRegular() {
			return s, p, true
		}
	}
	return nil, "", false
}

func sameSource(a, b *Source) bool {
	return a == b || (a.Name == b.Name && a.Dir == b.Dir && a.HostDir == b.HostDir)
}

func (l *Loader) where() string {
	var names []string
	for _, s := range l.Sources {
		names = append(names, s.display(s.Dir))
	}
	return strings.Join(names, ", ")
}

// ErrAbstract is returned when loading a template marked abstract: true.
var ErrAbstract = errors.New("abstract template: it is only for other templates to extend")

// Load resolves the template called name. The result has inheritance
// applied but no variables substituted: call Expand. Abstract templates
// (abstract: true, only meant to be extended) cannot be loaded by name.
func (l *Loader) Load(ctx context.Context, name string) (*Template, error) {
	src, p, ok := l.find(name, nil)
	if !ok {
		return nil, fmt.Errorf("template %q not found in %s", name, l.where())
	}
	t, probs := l.resolve(ctx, src, p)
	if len(probs) > 0 {
		return nil, Problems(probs)
	}
	if t == nil {
		return nil, fmt.Errorf("template %q (%s): %w", name, src.display(p), ErrAbstract)
	}
	return t, nil
}

// LoadFile resolves a template from a host file. Its extends are looked up
// in the file's own directory first, then in the loader's sources.
func (l *Loader) LoadFile(ctx context.Context, file string) (*Template, error) {
	src := DirSource(filepath.Dir(file))
	t, probs := l.resolve(ctx, &src, filepath.Base(file))
	if len(probs) > 0 {
		return nil, Problems(probs)
	}
	if t == nil {
		return nil, fmt.Errorf("template %s: %w", file, ErrAbstract)
	}
	return t, nil
}

// resolve reads a template and the chain it extends, merges them and
// checks the result. A nil template with no problems is an abstract one.
func (l *Loader) resolve(ctx context.Context, src *Source, p string) (*Template, []Problem) {
	first, probs, err := readLayer(src, p)
	if err != nil {
		return nil, []Problem{{Pos: Pos{src.display(p), 1, 1}, Message: err.Error()}}
	}
	if first == nil {
		return nil, probs
	}
	chain := []*layer{first}
	broken := false // a template whose chain is broken is not checked as a whole
	for cur := first; cur.extends.set; {
		if err := ctx.Err(); err != nil {
			return nil, append(probs, Problem{Pos: cur.extends.pos, Message: err.Error()})
		}
		var next *Source
		var np string
		var ok bool
		if cur.extends.v == cur.name.v {
			// A template extending its own name overrides the template of
			// that name further down the lookup order.
			next, np, ok = l.findAfter(cur.extends.v, cur.src)
		} else {
			next, np, ok = l.find(cur.extends.v, cur.src)
		}
		if !ok {
			where := "beside " + cur.file
			if w := l.where(); w != "" {
				where += " and in " + w
			}
			probs = append(probs, Problem{Pos: cur.extends.pos, Message: fmt.Sprintf("extends: template %q not found (looked %s)", cur.extends.v, where)})
			broken = true
			break
		}
		file := next.display(np)
		if cycle := cycleFrom(chain, file); cycle != "" {
			probs = append(probs, Problem{Pos: cur.extends.pos, Message: "inheritance cycle: " + cycle + " -> " + file})
			broken = true
			break
		}
		parent, pp, err := readLayer(next, np)
		if err != nil {
			pp = []Problem{{Pos: cur.extends.pos, Message: "extends: " + err.Error()}}
		}
		probs = append(probs, pp...)
		if parent == nil {
			broken = true
			break
		}
		chain = append(chain, parent)
		cur = parent
	}
	merged := chain[len(chain)-1]
	for i := len(chain) - 2; i >= 0; i-- {
		merged = merge(merged, chain[i])
	}
	if first.abstract.v == "true" || broken {
		// An abstract template is checked only as far as its own fields go.
		_, bp := build(merged, chain, true)
		return nil, dedupe(append(probs, bp...))
	}
	t, bp := build(merged, chain, false)
	return t, dedupe(append(probs, bp...))
}

func cycleFrom(chain []*layer, file string) string {
	for i, c := range chain {
		if c.file == file {
			var names []string
			for _, x := range chain[i:] {
				names = append(names, x.file)
			}
			return strings.Join(names, " -> ")
		}
	}
	return ""
}

// readLayer reads and decodes one file; an error is one reading it, for
// the caller to place where the file was named.
func readLayer(src *Source, p string) (*layer, []Problem, error) {
	file := src.display(p)
	b, err := src.read(p)
	if err != nil {
		return nil, nil, err
	}
	n, probs := parseYAML(file, b)
	if n == nil {
		if len(probs) == 0 {
			probs = append(probs, Problem{Pos: Pos{file, 1, 1}, Message: "empty template"})
		}
		return nil, probs, nil
	}
	l := &layer{file: file, src: src, dir: path.Dir(p)}
	probs = append(probs, decode(l, n)...)
	base := strings.TrimSuffix(path.Base(p), Ext)
	if l.name.set && l.name.v != base {
		probs = append(probs, Problem{Pos: l.name.pos, Message: fmt.Sprintf("name %q does not match the file name %s%s", l.name.v, base, Ext)})
	}
	l.name = sval{v: base, pos: l.root, set: true}
	return l, probs, nil
}

// merge applies child over parent (see the package comment for the rules).
func merge(parent, child *layer) *layer {
	m := *child
	pick := func(c, p sval) sval {
		if c.set {
			return c
		}
		return p
	}
	m.distro = pick(child.distro, parent.distro)
	m.release = pick(child.release, parent.release)
	m.variant = pick(child.variant, parent.variant)
	m.pkgVariant = pick(child.pkgVariant, parent.pkgVariant)
	m.cacheName = pick(child.cacheName, parent.cacheName)
	m.zstd = pick(child.zstd, parent.zstd)
	m.arch = mergeList(parent.arch, child.arch)
	m.include = mergeList(parent.include, child.include)
	m.exclude = mergeList(parent.exclude, child.exclude)
	m.vars = mergeKV(parent.vars, child.vars)
	m.defaults = mergeKV(parent.defaults, child.defaults)
	m.keys = mergeKeys(parent.keys, child.keys)
	if !child.reposReplace {
		m.repos = nil
		for _, r := range parent.repos {
			if c, ok := findRepo(child.repos, r.name.v); ok {
				r = c // a child repository replaces the parent's of the same name
			}
			m.repos = append(m.repos, r)
		}
		for _, c := range child.repos {
			if _, ok := findRepo(parent.repos, c.name.v); !ok {
				m.repos = append(m.repos, c)
			}
		}
		m.reposSet = parent.reposSet || child.reposSet
	}
	m.scripts = map[string]scriptL{}
	for k, v := range parent.scripts {
		m.scripts[k] = v
	}
	for k, v := range child.scripts {
		m.scripts[k] = v
	}
	return &m
}

func findRepo(rs []repoL, name string) (repoL, bool) {
	for _, r := range rs {
		if r.name.set && r.name.v == name {
			return r, true
		}
	}
	return repoL{}, false
}

func mergeList(p, c slist) slist {
	if !c.set {
		return p
	}
	if c.replace || !p.set {
		return c
	}
	out := c
	out.items = append([]sval(nil), p.items...)
	for _, it := range c.items {
		dup := false
		for _, x := range p.items {
			dup = dup || x.v == it.v
		}
		if !dup {
			out.items = append(out.items, it)
		}
	}
	return out
}

func mergeKV(p, c []kv) []kv {
	out := append([]kv(nil), p...)
	for _, x := range c {
		replaced := false
		for i := range out {
			if out[i].k == x.k {
				out[i], replaced = x, true
			}
		}
		if !replaced {
			out = append(out, x)
		}
	}
	return out
}

func mergeKeys(p, c keyList) keyList {
	if !c.set {
		return p
	}
	if c.replace {
		return c
	}
	return keyList{set: true, items: append(append([]keyL(nil), p.items...), c.items...)}
}

// build turns a merged layer into a Template and checks what only the
// whole template can show: required fields, variables, consistency.
func build(m *layer, chain []*layer, abstract bool) (*Template, []Problem) {
	var probs []Problem
	add := func(p Pos, format string, args ...any) {
		probs = append(probs, Problem{Pos: p, Message: fmt.Sprintf(format, args...)})
	}
	t := &Template{
		Name: m.name.v, Distro: m.distro.v, Release: m.release.v, Variant: m.variant.v,
		File: m.file, Pos: map[string]Pos{},
		Cache: Cache{Name: DefaultCacheName, ZstdLevel: DefaultZstdLevel},
	}
	for _, c := range chain {
		t.Chain = append(t.Chain, c.file)
	}
	pos := func(key string, s sval) {
		if s.set {
			t.Pos[key] = s.pos
		}
	}
	pos("name", m.name)
	pos("distro", m.distro)
	pos("release", m.release)
	pos("variant", m.variant)
	list := func(key string, l slist) []string {
		var out []string
		for i, it := range l.items {
			out = append(out, it.v)
			t.Pos[fmt.Sprintf("%s[%d]", key, i)] = it.pos
		}
		if l.set {
			t.Pos[key] = l.pos
		}
		return out
	}
	t.Arch = list("arch", m.arch)
	if len(m.vars) > 0 {
		t.Variables = map[string]string{}
	}
	for _, x := range m.vars {
		t.Variables[x.k] = x.v.v
		t.Pos["variables."+x.k] = x.v.pos
	}
	if len(m.defaults) > 0 {
		t.Defaults = map[string]string{}
	}
	for _, x := range m.defaults {
		t.Defaults[x.k] = x.v.v
		t.Pos["defaults."+x.k] = x.v.pos
	}
	keys := func(prefix string, kl keyList) []Key {
		var out []Key
		for i, k := range kl.items {
			p := fmt.Sprintf("%s[%d]", prefix, i)
			t.Pos[p] = k.pos
			pos(p+".file", k.file)
			pos(p+".url", k.url)
			pos(p+".fingerprint", k.fingerprint)
			key := Key{File: k.file.v, Armored: k.armored.v, URL: k.url.v, Package: k.pkg.v,
				Fingerprint: strings.ToUpper(strings.ReplaceAll(k.fingerprint.v, " ", "")), Pos: k.pos}
			for _, src := range []sval{k.file, k.url, k.armored} {
				if src.set {
					key.Pos = src.pos // where the key's source is named
				}
			}
			if k.relative {
				key.written = k.file.v
				owner := ownerOf(chain, k.pos.File)
				if owner.src.HostDir != "" {
					key.File = filepath.Join(owner.src.HostDir, filepath.FromSlash(owner.dir), filepath.FromSlash(k.file.v))
					if abs, err := filepath.Abs(key.File); err == nil {
						key.File = abs // the reader may run in another directory
					}
				} else {
					key.File, key.FS = path.Join(owner.dir, k.file.v), owner.src.FS
				}
			}
			out = append(out, key)
		}
		return out
	}
	t.Keys = keys("keys", m.keys)
	for i, r := range m.repos {
		p := fmt.Sprintf("repositories[%d]", i)
		t.Pos[p] = r.pos
		pos(p+".url", r.url)
		pos(p+".type", r.typ)
		t.Repositories = append(t.Repositories, Repository{
			Name: r.name.v, Type: r.typ.v, URL: r.url.v, Metalink: r.metalink.v, Mirrorlist: r.mirrorlist.v,
			Mirrors: list(p+".mirrors", r.mirrors), Suites: list(p+".suites", r.suites), Components: list(p+".components", r.comps),
			Keys: keys(p+".keys", r.keys), Insecure: r.insecure.v == "true",
		})
	}
	pos("packages.variant", m.pkgVariant)
	t.Packages = Packages{Variant: m.pkgVariant.v, Include: list("packages.include", m.include), Exclude: list("packages.exclude", m.exclude)}
	for name, s := range m.scripts {
		if t.Scripts == nil {
			t.Scripts = map[string]Script{}
		}
		sc := Script{Body: s.body}
		if s.file.set {
			owner := ownerOf(chain, s.pos.File)
			sc.File = owner.src.display(path.Join(owner.dir, s.file.v))
		}
		t.Scripts[name] = sc
		t.Pos["scripts."+name] = s.pos
	}
	if m.cacheName.set {
		t.Cache.Name = m.cacheName.v
		pos("cache.name", m.cacheName)
	}
	if m.zstd.set {
		t.Cache.ZstdLevel, _ = strconv.Atoi(m.zstd.v)
		pos("cache.zstd-level", m.zstd)
	}

	// An abstract template may use variables its children define.
	probs = append(probs, checkVariables(t, abstract)...)
	if abstract {
		return t, probs
	}
	for _, req := range []struct {
		key string
		s   sval
	}{{"distro", m.distro}, {"release", m.release}, {"variant", m.variant}} {
		if !req.s.set {
			add(m.root, "missing required field %q", req.key)
		}
	}
	if len(t.Arch) == 0 {
		add(m.root, "missing required field \"arch\"")
	}
	if len(t.Repositories) == 0 {
		add(m.root, "missing required field \"repositories\" (at least one repository)")
	}
	if t.Packages.Variant == "" && len(t.Packages.Include) == 0 {
		add(m.root, "packages: give a variant or an include list, or nothing would be installed")
	}
	types := map[string]bool{}
	for _, r := range t.Repositories {
		if r.Type == TypeApt || r.Type == TypeRPMMD {
			types[r.Type] = true // unknown types are reported where they are written
		}
		if !r.Insecure && len(r.Keys) == 0 && len(t.Keys) == 0 {
			add(t.Pos[fmt.Sprintf("repositories[%d]", indexOf(t.Repositories, r.Name))], "repository %q has no keys to verify it: add keys or write insecure: true", r.Name)
		}
	}
	if len(types) > 1 {
		add(m.root, "repositories mix apt and rpm-md: one template installs with one package manager")
	}
	if v := t.Packages.Variant; v != "" {
		switch {
		case types[TypeApt] && !contains(aptVariants, v):
			msg := fmt.Sprintf("packages.variant %q is not an apt variant (want one of %s)", v, strings.Join(aptVariants, ", "))
			if s := suggest(v, aptVariants); s != "" {
				msg = fmt.Sprintf("packages.variant %q is not an apt variant (did you mean %q?)", v, s)
			}
			add(m.pkgVariant.pos, "%s", msg)
		case types[TypeRPMMD] && !strings.HasPrefix(v, "@"):
			add(m.pkgVariant.pos, "packages.variant %q: for rpm-md name a comps group such as @core", v)
		}
	}
	for i, a := range t.Arch {
		p := t.Pos[fmt.Sprintf("arch[%d]", i)]
		if !contains(aptArches, a) && !contains(rpmArches, a) {
			continue // reported where it is written
		}
		if types[TypeApt] && !contains(aptArches, a) {
			add(p, "architecture %q is not a Debian architecture name (apt templates use amd64, arm64, ...)", a)
		}
		if types[TypeRPMMD] && !contains(rpmArches, a) {
			add(p, "architecture %q is not an RPM architecture name (rpm-md templates use x86_64, aarch64, ...)", a)
		}
	}
	return t, probs
}

func indexOf(rs []Repository, name string) int {
	for i, r := range rs {
		if r.Name == name {
			return i
		}
	}
	return 0
}

// ownerOf finds the layer a position belongs to: relative paths are
// relative to the file that wrote them, not to the file that extends it.
func ownerOf(chain []*layer, file string) *layer {
	for _, c := range chain {
		if c.file == file {
			return c
		}
	}
	return chain[0]
}

// checkVariables reports unknown and malformed variable references.
func checkVariables(t *Template, malformedOnly bool) []Problem {
	var probs []Problem
	known := append(append([]string{}, suppliedVars...), derivedVars...)
	for k := range t.Variables {
		known = append(known, k)
	}
	check := func(key, s string) {
		refs, err := references(s)
		p := t.Pos[key]
		if p.File == "" {
			p = Pos{t.File, 1, 1}
		}
		if err != nil {
			probs = append(probs, Problem{Pos: p, Message: err.Error()})
			return
		}
		for _, r := range refs {
			if malformedOnly || contains(known, r) {
				continue
			}
			msg := fmt.Sprintf("unknown variable $%s", r)
			if s := suggest(r, known); s != "" {
				msg += fmt.Sprintf(" (did you mean $%s?)", s)
			}
			probs = append(probs, Problem{Pos: p, Message: msg})
		}
	}
	for _, k := range sortedKeys(t.Variables) {
		check("variables."+k, t.Variables[k])
	}
	c := t.clone()
	_ = c.expandable(func(key string, s *string) error {
		check(key, *s)
		return nil
	})
	return probs
}
