package vzlist

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/vzkit/vzkit/runtime"
)

// Filter chooses the containers a listing shows, as vzlist's options do.
type Filter struct {
	All     bool // -a: stopped ones too
	Stopped bool // -S: only those not running
	// Args are the CTIDs or names given on the command line: only those,
	// whatever their state (-S still applies).
	Args []string
	// Globs of -h, -N and -d (shell wildcards * ? [...]); a container
	// without the value, or whose CTID.conf is broken, does not match.
	Hostname, Name, Description string
}

// Select returns the entries f shows, in their order, and the arguments
// that name no container. An argument that is neither a CTID nor a valid
// name, or a bad pattern, is an error wrapping runtime.ErrBadParam.
func (f Filter) Select(entries []runtime.Entry) (shown []runtime.Entry, missing []string, err error) {
	var globs []func(*runtime.Entry) bool
	for _, g := range []struct {
		flag, pat string
		get       func(*runtime.Entry) string
	}{
		{"-h", f.Hostname, func(e *runtime.Entry) string { return e.Hostname }},
		{"-N", f.Name, func(e *runtime.Entry) string { return e.Name }},
		{"-d", f.Description, func(e *runtime.Entry) string { return e.Description }},
	} {
		if g.pat == "" {
			continue
		}
		re, err := compileGlob(g.pat)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s %q: %v", runtime.ErrBadParam, g.flag, g.pat, err)
		}
		get := g.get
		globs = append(globs, func(e *runtime.Entry) bool {
			v := get(e)
			return e.Err == nil && v != "" && re.MatchString(v)
		})
	}
	wanted := map[string]bool{} // CTIDs asked for
	for _, a := range f.Args {
		if runtime.ValidCTID(a) != nil && runtime.ValidName(a) != nil {
			return nil, nil, fmt.Errorf("%w: %q is neither a CTID nor a container name", runtime.ErrBadParam, a)
		}
		id, ok := resolve(entries, a)
		if !ok {
			missing = append(missing, a)
			continue
		}
		wanted[id] = true
	}
	for _, e := range entries {
		switch {
		case len(f.Args) > 0 && !wanted[e.CTID]:
			continue
		case f.Stopped && e.Running:
			continue
		case !f.Stopped && !f.All && len(f.Args) == 0 && !e.Running:
			continue
		}
		ok := true
		for _, g := range globs {
			ok = ok && g(&e)
		}
		if ok {
			shown = append(shown, e)
		}
	}
	return shown, missing, nil
}

// resolve finds the container an argument names: a CTID, or a NAME of a
// container whose CTID.conf could be read.
func resolve(entries []runtime.Entry, arg string) (string, bool) {
	for _, e := range entries {
		if e.CTID == arg || (e.Err == nil && e.Name != "" && e.Name == arg) {
			return e.CTID, true
		}
	}
	return "", false
}

// compileGlob turns a shell pattern (fnmatch(3) without flags, as vzlist
// matches: * and ? match any character, '/' included; [...] with ! or ^
// negation; \ quotes) into an anchored regular expression.
func compileGlob(pat string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString(`^`)
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; c {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		case '\\':
			if i+1 == len(pat) {
				return nil, fmt.Errorf("trailing backslash")
			}
			i++
			b.WriteString(regexp.QuoteMeta(pat[i : i+1]))
		case '[':
			j := i + 1
			if j < len(pat) && (pat[j] == '!' || pat[j] == '^') {
				j++
			}
			if j < len(pat) && pat[j] == ']' { // a leading ] is literal
				j++
			}
			for j < len(pat) && pat[j] != ']' {
				j++
			}
			if j >= len(pat) {
				return nil, fmt.Errorf("unterminated [")
			}
			class := pat[i+1 : j]
			b.WriteByte('[')
			if class[0] == '!' || class[0] == '^' {
				b.WriteByte('^')
				class = class[1:]
			}
			for k := 0; k < len(class); k++ {
				if strings.IndexByte(`\[]^`, class[k]) >= 0 {
					b.WriteByte('\\')
				}
				b.WriteByte(class[k])
			}
			b.WriteByte(']')
			i = j
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`$`)
	return regexp.Compile(b.String())
}
