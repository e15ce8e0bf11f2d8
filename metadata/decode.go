package metadata

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/vzkit/vzkit/internal/namedfile"
)

// sval is a scalar as written, with its position.
type sval struct {
	v   string
	pos Pos
	set bool
}

// slist is a list of scalars; replace is set by the !replace tag.
type slist struct {
	items   []sval
	replace bool
	set     bool
	pos     Pos
}

type kv struct {
	k   string
	v   sval
	pos Pos // of the key
}

type keyL struct {
	pos                                  Pos
	file, url, armored, fingerprint, pkg sval
	relative                             bool // file is beside the metadata
}

type repoL struct {
	pos                      Pos
	name, typ, url, insecure sval
	metalink, mirrorlist     sval
	mirrors, suites, comps   slist
	keys                     keyList
}

type keyList struct {
	items   []keyL
	replace bool
	set     bool
}

type scriptL struct {
	pos  Pos
	body string
	file sval
}

// layer is one file's contribution before inheritance is applied.
type layer struct {
	file string  // display name
	src  *Source // nil for a file given by path outside any source
	dir  string  // directory of the file inside src.FS
	root Pos

	name, extends, distro, release, variant, abstract sval
	arch                                              slist
	vars                                              []kv
	repos                                             []repoL
	reposReplace, reposSet                            bool
	keys                                              keyList
	pkgVariant                                        sval
	include, exclude                                  slist
	scripts                                           map[string]scriptL
	cacheName, zstd                                   sval
	defaults                                          []kv
}

// decoder fills a layer from a node tree, collecting every problem.
type decoder struct {
	l        *layer
	problems []Problem
}

func (d *decoder) add(p Pos, format string, args ...any) {
	d.problems = append(d.problems, Problem{Pos: p, Message: fmt.Sprintf(format, args...)})
}

var (
	topKeys     = []string{"name", "abstract", "extends", "distro", "release", "variant", "arch", "variables", "repositories", "keys", "packages", "scripts", "cache", "defaults"}
	repoKeys    = []string{"name", "type", "url", "mirrors", "metalink", "mirrorlist", "suites", "components", "keys", "insecure"}
	keyKeys     = []string{"file", "armored", "url", "fingerprint", "package"}
	pkgKeys     = []string{"variant", "include", "exclude"}
	scriptNames = []string{PreInstall, PostInstall, PreCache}
	cacheKeys   = []string{"name", "zstd-level"}
)

// fields walks a mapping, reporting unknown keys with a suggestion.
func (d *decoder) fields(n *node, where string, known []string, fn func(key string, v *node)) {
	for i, k := range n.keys {
		if !contains(known, k.value) {
			msg := fmt.Sprintf("unknown key %q in %s", k.value, where)
			if s := suggest(k.value, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.add(k.pos, "%s", msg)
			continue
		}
		fn(k.value, n.vals[i])
	}
}

func (d *decoder) want(n *node, k kind, what string) bool {
	if n.kind == k {
		if k == kMap && n.tag != "" {
			d.add(n.pos, "%s: %s applies to lists; mappings merge key by key", what, n.tag)
		}
		return true
	}
	d.add(n.pos, "%s must be %s, got %s", what, k, describe(n))
	return false
}

func describe(n *node) string {
	if n.kind == kScalar {
		return fmt.Sprintf("%s %q", n.scalar, n.value)
	}
	return n.kind.String()
}

func (d *decoder) noTag(n *node, what string) {
	if n.tag != "" {
		d.add(n.pos, "%s is not a list or mapping: %s does not apply", what, n.tag)
	}
}

// str decodes a scalar. Numbers are accepted where text is wanted
// (release: 12) because that is what people write.
func (d *decoder) str(n *node, what string) sval {
	d.noTag(n, what)
	if n.kind == kScalar && n.scalar != "bool" {
		return sval{v: n.value, pos: n.pos, set: true}
	}
	d.add(n.pos, "%s must be text, got %s", what, describe(n))
	return sval{}
}

func (d *decoder) boolean(n *node, what string) sval {
	if n.kind == kScalar && n.scalar == "bool" {
		return sval{v: n.value, pos: n.pos, set: true}
	}
	d.add(n.pos, "%s must be true or false, got %s", what, describe(n))
	return sval{}
}

// list decodes a list of scalars; a single scalar is accepted when
// single is true (arch: amd64).
func (d *decoder) list(n *node, what string, single bool) slist {
	out := slist{set: true, pos: n.pos, replace: n.tag == ReplaceTag}
	if single && n.kind == kScalar {
		out.items = []sval{d.str(n, what)}
		return out
	}
	if !d.want(n, kSeq, what) {
		return slist{}
	}
	for i, it := range n.items {
		s := d.str(it, fmt.Sprintf("%s[%d]", what, i))
		if s.set {
			out.items = append(out.items, s)
		}
	}
	return out
}

func decode(l *layer, n *node) []Problem {
	d := &decoder{l: l}
	l.root = n.pos
	if !d.want(n, kMap, "a template") {
		return d.problems
	}
	d.fields(n, "template", topKeys, func(key string, v *node) {
		switch key {
		case "name":
			l.name = d.str(v, "name")
		case "abstract":
			l.abstract = d.boolean(v, "abstract")
		case "extends":
			l.extends = d.str(v, "extends")
		case "distro":
			l.distro = present(d.str(v, "distro"), v)
			if l.distro.set && !nameRE.MatchString(l.distro.v) {
				d.add(v.pos, "distro %q: use lower-case letters, digits, '.', '_' and '-'", l.distro.v)
			}
		case "release":
			l.release = present(d.str(v, "release"), v)
		case "variant":
			l.variant = present(d.str(v, "variant"), v)
			if l.variant.set && !nameRE.MatchString(l.variant.v) {
				d.add(v.pos, "variant %q: use lower-case letters, digits, '.', '_' and '-'", l.variant.v)
			}
		case "arch":
			l.arch = d.list(v, "arch", true)
			for _, a := range l.arch.items {
				if !contains(aptArches, a.v) && !contains(rpmArches, a.v) {
					msg := fmt.Sprintf("unknown architecture %q", a.v)
					if s := suggest(a.v, append(append([]string{}, aptArches...), rpmArches...)); s != "" {
						msg += fmt.Sprintf(" (did you mean %q?)", s)
					}
					d.add(a.pos, "%s", msg)
				}
			}
		case "variables":
			l.vars = d.strMap(v, "variables", func(name string, p Pos) {
				if !varNameRE.MatchString(name) {
					d.add(p, "variable name %q: use letters, digits and '_', starting with a letter", name)
				} else if contains(suppliedVars, name) || contains(derivedVars, name) {
					d.add(p, "variable %q is built in and cannot be defined here", name)
				}
			})
		case "repositories":
			d.repositories(v)
		case "keys":
			l.keys = d.keys(v, "keys")
		case "packages":
			if d.want(v, kMap, "packages") {
				d.fields(v, "packages", pkgKeys, func(key string, v *node) {
					switch key {
					case "variant":
						l.pkgVariant = d.str(v, "packages.variant")
					case "include":
						l.include = d.list(v, "packages.include", false)
					case "exclude":
						l.exclude = d.list(v, "packages.exclude", false)
					}
				})
			}
		case "scripts":
			d.scripts(v)
		case "cache":
			if d.want(v, kMap, "cache") {
				d.fields(v, "cache", cacheKeys, func(key string, v *node) {
					switch key {
					case "name":
						l.cacheName = d.str(v, "cache.name")
						d.cachePattern(l.cacheName)
					case "zstd-level":
						l.zstd = d.str(v, "cache.zstd-level")
						if n, err := strconv.Atoi(l.zstd.v); l.zstd.set && (err != nil || n < 1 || n > 22) {
							d.add(v.pos, "cache.zstd-level must be a whole number from 1 to 22, got %q", l.zstd.v)
							l.zstd = sval{}
						}
					}
				})
			}
		case "defaults":
			l.defaults = d.strMap(v, "defaults", func(name string, p Pos) {
				if !defaultKeyRE.MatchString(name) {
					d.add(p, "defaults key %q: OpenVZ parameters are upper-case names such as PHYSPAGES", name)
				}
			})
		}
	})
	return d.problems
}

// present keeps a required field that was written with the wrong type as
// set (and empty), so that it is not also reported as missing.
func present(s sval, n *node) sval {
	if !s.set {
		return sval{set: true, pos: n.pos}
	}
	return s
}

var (
	nameRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	varNameRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	defaultKeyRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	hexRE        = regexp.MustCompile(`^[0-9A-Fa-f]{40}$`)
	placeholder  = regexp.MustCompile(`\{([^{}]*)\}`)
)

var (
	aptArches = []string{"amd64", "arm64", "armel", "armhf", "i386", "loong64", "mips64el", "ppc64el", "riscv64", "s390x"}
	rpmArches = []string{"x86_64", "aarch64", "i686", "ppc64le", "s390x", "riscv64"}
	// aptVariants are mmdebstrap's variants.
	aptVariants = []string{"extract", "custom", "essential", "apt", "required", "minbase", "buildd", "important", "debootstrap", "standard"}
	cacheFields = []string{"name", "distro", "release", "arch", "variant"}
)

func (d *decoder) cachePattern(s sval) {
	for _, m := range placeholder.FindAllStringSubmatch(s.v, -1) {
		if !contains(cacheFields, m[1]) {
			d.add(s.pos, "cache.name: unknown placeholder {%s} (use {name}, {distro}, {release}, {arch}, {variant})", m[1])
		}
	}
	if strings.ContainsAny(placeholder.ReplaceAllString(s.v, "x"), "/\\ ") {
		d.add(s.pos, "cache.name %q: a cache name cannot hold '/', '\\' or spaces", s.v)
	}
}

// strMap decodes a mapping of names to scalar values, in file order.
func (d *decoder) strMap(n *node, what string, check func(string, Pos)) []kv {
	if !d.want(n, kMap, what) {
		return nil
	}
	var out []kv
	for i, k := range n.keys {
		check(k.value, k.pos)
		v := d.str(n.vals[i], what+"."+k.value)
		if v.set {
			out = append(out, kv{k: k.value, v: v, pos: k.pos})
		}
	}
	return out
}

func (d *decoder) repositories(n *node) {
	l := d.l
	if !d.want(n, kSeq, "repositories") {
		return
	}
	l.reposSet, l.reposReplace = true, n.tag == ReplaceTag
	seen := map[string]Pos{}
	for i, it := range n.items {
		what := fmt.Sprintf("repositories[%d]", i)
		if !d.want(it, kMap, what) {
			continue
		}
		r := repoL{pos: it.pos}
		d.fields(it, "repository", repoKeys, func(key string, v *node) {
			switch key {
			case "name":
				r.name = d.str(v, what+".name")
			case "type":
				r.typ = d.str(v, what+".type")
				if r.typ.set && r.typ.v != TypeApt && r.typ.v != TypeRPMMD {
					d.add(v.pos, "unknown repository type %q (want %s or %s)", r.typ.v, TypeApt, TypeRPMMD)
				}
			case "url":
				r.url = d.str(v, what+".url")
				d.checkURL(r.url, what+".url")
			case "metalink":
				r.metalink = d.str(v, what+".metalink")
				d.checkURL(r.metalink, what+".metalink")
			case "mirrorlist":
				r.mirrorlist = d.str(v, what+".mirrorlist")
				d.checkURL(r.mirrorlist, what+".mirrorlist")
			case "mirrors":
				r.mirrors = d.list(v, what+".mirrors", false)
				for _, m := range r.mirrors.items {
					d.checkURL(m, what+".mirrors")
				}
			case "suites":
				r.suites = d.list(v, what+".suites", true)
			case "components":
				r.comps = d.list(v, what+".components", true)
			case "keys":
				r.keys = d.keys(v, what+".keys")
			case "insecure":
				r.insecure = d.boolean(v, what+".insecure")
			}
		})
		if !r.name.set {
			d.add(it.pos, "%s has no name", what)
		} else if p, dup := seen[r.name.v]; dup {
			d.add(r.name.pos, "repository name %q is used twice (first at line %d)", r.name.v, p.Line)
		} else {
			seen[r.name.v] = r.name.pos
		}
		if !r.typ.set {
			d.add(it.pos, "%s has no type (want %s or %s)", what, TypeApt, TypeRPMMD)
		}
		if !r.url.set && len(r.mirrors.items) == 0 && !r.metalink.set && !r.mirrorlist.set {
			d.add(it.pos, "%s has neither url nor mirrors (nor, for rpm-md, metalink or mirrorlist)", what)
		}
		if r.typ.v == TypeApt {
			for _, f := range []struct {
				key string
				v   sval
			}{{"metalink", r.metalink}, {"mirrorlist", r.mirrorlist}} {
				if f.v.set {
					d.add(f.v.pos, "%s.%s: only rpm-md repositories have one (apt takes url and mirrors)", what, f.key)
				}
			}
		}
		insecure := r.insecure.set && r.insecure.v == "true"
		if insecure && len(r.keys.items) > 0 {
			d.add(r.insecure.pos, "%s is insecure: true and also has keys; drop one of them", what)
		}
		switch r.typ.v {
		case TypeApt:
			if !r.suites.set || len(r.suites.items) == 0 {
				d.add(it.pos, "%s: an apt repository needs suites", what)
			}
		case TypeRPMMD:
			if r.suites.set {
				d.add(r.suites.pos, "%s: suites apply to apt repositories only", what)
			}
			if r.comps.set {
				d.add(r.comps.pos, "%s: components apply to apt repositories only", what)
			}
		}
		l.repos = append(l.repos, r)
	}
}

func (d *decoder) keys(n *node, what string) keyList {
	out := keyList{set: true, replace: n.tag == ReplaceTag}
	if !d.want(n, kSeq, what) {
		return keyList{}
	}
	for i, it := range n.items {
		w := fmt.Sprintf("%s[%d]", what, i)
		if !d.want(it, kMap, w) {
			continue
		}
		k := keyL{pos: it.pos}
		d.fields(it, "key", keyKeys, func(key string, v *node) {
			switch key {
			case "file":
				k.file = d.str(v, w+".file")
			case "armored":
				k.armored = d.str(v, w+".armored")
				if k.armored.set && !strings.Contains(k.armored.v, "-----BEGIN PGP PUBLIC KEY BLOCK-----") {
					d.add(v.pos, "%s.armored is not an armored OpenPGP public key block", w)
				}
			case "url":
				k.url = d.str(v, w+".url")
				if d.checkURL(k.url, w+".url") && !strings.HasPrefix(k.url.v, "https://") && !strings.HasPrefix(k.url.v, "$") {
					d.add(v.pos, "%s.url must use https (the fingerprint pins the key, but a key fetched in clear leaks what is built)", w)
				}
			case "fingerprint":
				k.fingerprint = d.str(v, w+".fingerprint")
				if fp := strings.ReplaceAll(k.fingerprint.v, " ", ""); k.fingerprint.set && !hexRE.MatchString(fp) {
					d.add(v.pos, "%s.fingerprint must be 40 hex digits (a v4 fingerprint), got %q", w, k.fingerprint.v)
				}
			case "package":
				k.pkg = d.str(v, w+".package")
			}
		})
		n := 0
		for _, s := range []sval{k.file, k.armored, k.url} {
			if s.set {
				n++
			}
		}
		if n != 1 {
			d.add(it.pos, "%s needs exactly one of file, armored or url", w)
		}
		if !k.fingerprint.set {
			d.add(it.pos, "%s has no fingerprint: every key is pinned by its 40-hex-digit fingerprint", w)
		}
		if k.file.set && !path.IsAbs(k.file.v) && !strings.HasPrefix(k.file.v, "$") {
			k.relative = true
			d.checkKeyFile(k.file, w+".file")
		}
		out.items = append(out.items, k)
	}
	return out
}

// checkURL checks a URL as far as variables allow: a value starting with a
// variable ($mirror/debian) is only known after expansion.
func (d *decoder) checkURL(s sval, what string) bool {
	if !s.set || strings.HasPrefix(s.v, "$") {
		return s.set
	}
	u, err := url.Parse(varRE.ReplaceAllString(s.v, "x"))
	switch {
	case err != nil:
		d.add(s.pos, "%s: malformed URL %q: %v", what, s.v, unwrapURLError(err))
	case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file":
		d.add(s.pos, "%s: malformed URL %q: want an http, https or file URL", what, s.v)
	case u.Scheme != "file" && u.Host == "":
		d.add(s.pos, "%s: malformed URL %q: no host", what, s.v)
	default:
		return true
	}
	return false
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// checkKeyFile checks that a key file named relative to the metadata file
// exists and is a regular file, without opening it. Keys of host templates
// are host paths (../keys is fine: a key is data the repository client
// checks against its fingerprint); keys of embedded templates must stay
// inside the embedded tree.
func (d *decoder) checkKeyFile(s sval, what string) {
	src := d.l.src
	if src == nil {
		return
	}
	var err error
	if src.HostDir != "" {
		err = namedfile.Check(filepath.Join(src.HostDir, filepath.FromSlash(d.l.dir), filepath.FromSlash(s.v)))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			d.add(s.pos, "%s %q: %v", what, s.v, err)
			return
		}
	} else {
		p, ok := d.besidePath(s.v)
		if !ok {
			d.add(s.pos, "%s %q leaves the embedded template tree", what, s.v)
			return
		}
		_, err = fs.Stat(src.FS, p)
	}
	if err != nil {
		d.add(s.pos, "%s %q: no such file beside %s", what, s.v, d.l.file)
	}
}

// besidePath is the path inside the source FS of a file named relative to
// the metadata file.
func (d *decoder) besidePath(rel string) (string, bool) {
	p := path.Join(d.l.dir, rel)
	return p, fs.ValidPath(p)
}

func (d *decoder) scripts(n *node) {
	l := d.l
	if !d.want(n, kMap, "scripts") {
		return
	}
	l.scripts = map[string]scriptL{}
	d.fields(n, "scripts", scriptNames, func(key string, v *node) {
		s := scriptL{pos: v.pos}
		switch {
		case v.kind == kScalar && v.scalar == "string":
			s.body = v.value
		case v.kind == kMap:
			d.fields(v, "scripts."+key, []string{"file"}, func(_ string, fv *node) {
				s.file = d.str(fv, "scripts."+key+".file")
			})
			if !s.file.set {
				d.add(v.pos, "scripts.%s: give the script inline or as file: NAME", key)
				return
			}
			p, ok := d.besidePath(s.file.v)
			if !ok || path.IsAbs(s.file.v) {
				d.add(s.file.pos, "scripts.%s.file %q must be a relative path inside the template directory", key, s.file.v)
				return
			}
			if d.l.src == nil {
				return
			}
			b, err := d.l.src.read(p)
			if errors.Is(err, fs.ErrNotExist) {
				d.add(s.file.pos, "scripts.%s.file %q: no such file beside the template", key, s.file.v)
				return
			}
			if err != nil {
				d.add(s.file.pos, "scripts.%s.file %q: %v", key, s.file.v, err)
				return
			}
			s.body = string(b)
		default:
			d.add(v.pos, "scripts.%s must be the script text or file: NAME, got %s", key, describe(v))
			return
		}
		l.scripts[key] = s
	})
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
