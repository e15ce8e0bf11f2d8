package sbom

import (
	"regexp"
	"strings"
)

// spdxIDs are SPDX licence identifiers that Debian copyright files use
// verbatim or with different letter case, keyed by lower case.
var spdxIDs = func() map[string]string {
	m := map[string]string{}
	for _, id := range []string{
		"0BSD", "AFL-2.1", "AFL-3.0", "Apache-1.0", "Apache-1.1", "Apache-2.0", "APSL-2.0",
		"Artistic-1.0", "Artistic-1.0-Perl", "Artistic-2.0", "Beerware", "BSD-1-Clause",
		"BSD-2-Clause", "BSD-3-Clause", "BSD-4-Clause", "BSL-1.0", "bzip2-1.0.6",
		"CC-BY-3.0", "CC-BY-4.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0", "CC0-1.0", "CDDL-1.0",
		"curl", "ECL-2.0", "EPL-1.0", "EPL-2.0", "EUPL-1.2", "FSFAP", "FSFUL", "FSFULLR",
		"FTL", "HPND", "ICU", "IJG", "Info-ZIP", "ISC", "libpng", "libpng-2.0", "Libpng",
		"libtiff", "MIT", "MIT-0", "MPL-1.1", "MPL-2.0", "NCSA", "OFL-1.1", "OLDAP-2.8",
		"OpenSSL", "PHP-3.01", "PostgreSQL", "PSF-2.0", "Python-2.0", "Ruby", "SGI-B-2.0",
		"Sleepycat", "SSLeay-standalone", "TCL", "Unicode-3.0", "Unicode-DFS-2016",
		"Unlicense", "UPL-1.0", "Vim", "W3C", "WTFPL", "X11", "Zlib", "ZPL-2.1",
	} {
		m[strings.ToLower(id)] = id
	}
	// Debian names with a different SPDX spelling.
	for deb, id := range map[string]string{
		"expat": "MIT", "apache-2": "Apache-2.0", "artistic": "Artistic-1.0",
		"openldap-2.8": "OLDAP-2.8", "cc0": "CC0-1.0", "psf": "PSF-2.0", "python": "Python-2.0",
		"mpl-2": "MPL-2.0", "zope-2.1": "ZPL-2.1", "bsd-2": "BSD-2-Clause", "bsd-3": "BSD-3-Clause",
	} {
		m[deb] = id
	}
	return m
}()

// spdxExceptions are SPDX exception identifiers usable after WITH, keyed
// by the lower-case name Debian puts before "exception".
var spdxExceptions = map[string]string{
	"linux-syscall-note": "Linux-syscall-note",
	"classpath":          "Classpath-exception-2.0",
	"gcc-3.1":            "GCC-exception-3.1",
	"gcc-runtime-3.1":    "GCC-exception-3.1",
	"llvm":               "LLVM-exception",
	"libtool":            "Libtool-exception",
	"bison-2.2":          "Bison-exception-2.2",
	"font":               "Font-exception-2.0",
	"texinfo":            "Texinfo-exception",
}

// exception returns the SPDX exception for Debian's "TERM with NAME
// exception"; the Autoconf exception has one version per GPL version.
func exception(term, name string) (string, bool) {
	if strings.EqualFold(name, "autoconf") {
		switch {
		case strings.HasPrefix(term, "GPL-2.0"):
			return "Autoconf-exception-2.0", true
		case strings.HasPrefix(term, "GPL-3.0"):
			return "Autoconf-exception-3.0", true
		}
		return "", false
	}
	e, ok := spdxExceptions[strings.ToLower(name)]
	return e, ok
}

// gnuRE matches the GNU families in Debian's many spellings: GPL-2+,
// GPLv3+, LGPL-2.1, GPL-2.0+, AGPL-3, GFDL-1.3+.
var gnuRE = regexp.MustCompile(`^(?i)((A|L)?GPL|GFDL)`)
var gnuVersionRE = regexp.MustCompile(`^(?i)((?:A|L)?GPL|GFDL)(?:v|-)?(\d+)(?:\.(\d+))?(\+)?(?:-only)?$`)

// licenseTerm maps one Debian short licence name (no operators) to an SPDX
// identifier; ok is false when there is none and a LicenseRef is needed.
func licenseTerm(name string) (id string, ok bool) {
	if id, ok := spdxIDs[strings.ToLower(name)]; ok {
		return id, true
	}
	if gnuRE.MatchString(name) {
		m := gnuVersionRE.FindStringSubmatch(name)
		if m == nil {
			return "", false
		}
		family := strings.ToUpper(m[1])
		minor := m[3]
		if minor == "" {
			minor = "0"
		}
		v := m[2] + "." + minor
		valid := map[string]bool{
			"GPL-1.0": true, "GPL-2.0": true, "GPL-3.0": true,
			"LGPL-2.0": true, "LGPL-2.1": true, "LGPL-3.0": true,
			"AGPL-1.0": true, "AGPL-3.0": true,
			"GFDL-1.1": true, "GFDL-1.2": true, "GFDL-1.3": true,
		}
		if !valid[family+"-"+v] {
			return "", false
		}
		if m[4] == "+" {
			return family + "-" + v + "-or-later", true
		}
		return family + "-" + v + "-only", true
	}
	return "", false
}

var refUnsafe = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// licenseRef is the SPDX LicenseRef for a licence name SPDX lacks.
func licenseRef(name string) string {
	s := strings.Trim(refUnsafe.ReplaceAllString(name, "-"), "-")
	if len(s) > 64 {
		s = strings.TrimRight(s[:64], "-")
	}
	if s == "" {
		s = "unnamed"
	}
	return "LicenseRef-" + s
}

// licenseExpr turns the first line of a DEP-5 License: field into an SPDX
// expression. Debian writes "A or B", "A and B" and "A with X exception";
// operands are mapped by licenseTerm. Whatever does not parse as that
// grammar becomes one LicenseRef for the whole name. refs receives, for
// each LicenseRef used, the Debian name it stands for.
func licenseExpr(name string, refs map[string]string) string {
	name = strings.TrimSpace(name)
	local := map[string]string{}
	expr, ok := parseLicense(name, local)
	if !ok {
		return refFor(name, refs)
	}
	for id, n := range local {
		if _, seen := refs[id]; !seen {
			refs[id] = n
		}
	}
	return expr
}

// parseLicense does the work of licenseExpr; ok is false when name is not
// in Debian's licence grammar.
func parseLicense(name string, refs map[string]string) (string, bool) {
	// "A and/or B" lets the user pick: an OR in SPDX.
	words := strings.Fields(strings.NewReplacer(",", " ", "and/or", "or").Replace(name))
	var out []string
	expectTerm := true
	for i := 0; i < len(words); i++ {
		w := words[i]
		lw := strings.ToLower(w)
		if !expectTerm {
			if lw != "or" && lw != "and" {
				return "", false
			}
			out = append(out, strings.ToUpper(lw))
			expectTerm = true
			continue
		}
		if lw == "or" || lw == "and" || lw == "with" {
			return "", false
		}
		term, ok := licenseTerm(w)
		if i+1 < len(words) && strings.EqualFold(words[i+1], "with") {
			// "TERM with NAME exception": an SPDX exception when there is
			// one, else the whole clause is one LicenseRef.
			if i+3 < len(words) && strings.EqualFold(words[i+3], "exception") {
				exc, eok := exception(term, words[i+2])
				if ok && eok {
					term = term + " WITH " + exc
				} else {
					term = refFor(strings.Join(words[i:i+4], " "), refs)
				}
				out = append(out, term)
				i += 3
				expectTerm = false
				continue
			}
			return "", false
		}
		if !ok {
			term = refFor(w, refs)
		}
		out = append(out, term)
		expectTerm = false
	}
	if len(out) == 0 || expectTerm {
		return "", false
	}
	return strings.Join(out, " "), true
}

func refFor(name string, refs map[string]string) string {
	id := licenseRef(name)
	if _, seen := refs[id]; !seen {
		refs[id] = name
	}
	return id
}
