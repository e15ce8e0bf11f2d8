package sbom

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// checkSPDX23 checks a document against the SPDX 2.3 JSON rules a consumer
// relies on: required document and package fields, their formats, that every
// relationship and LicenseRef points at something defined, and the licence
// expression grammar. It decodes into plain maps so it sees what a
// consumer sees, not this package's structs.
func checkSPDX23(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("SBOM is not JSON: %v", err)
	}
	str := func(m map[string]any, k, where string) string {
		v, ok := m[k].(string)
		if !ok || v == "" {
			t.Errorf("%s: required string %q missing", where, k)
		}
		return v
	}
	if v := str(doc, "spdxVersion", "document"); v != "SPDX-2.3" {
		t.Errorf("spdxVersion %q", v)
	}
	if v := str(doc, "dataLicense", "document"); v != "CC0-1.0" {
		t.Errorf("dataLicense %q (SPDX requires CC0-1.0)", v)
	}
	if v := str(doc, "SPDXID", "document"); v != "SPDXRef-DOCUMENT" {
		t.Errorf("document SPDXID %q", v)
	}
	str(doc, "name", "document")
	ns := str(doc, "documentNamespace", "document")
	if u, err := url.Parse(ns); err != nil || u.Scheme == "" || strings.Contains(ns, "#") {
		t.Errorf("documentNamespace %q is not an absolute URI without '#'", ns)
	}
	ci, ok := doc["creationInfo"].(map[string]any)
	if !ok {
		t.Fatal("creationInfo missing")
	}
	if c := str(ci, "created", "creationInfo"); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(c) {
		t.Errorf("created %q is not YYYY-MM-DDThh:mm:ssZ", c)
	}
	creators, _ := ci["creators"].([]any)
	if len(creators) == 0 {
		t.Error("creationInfo.creators empty")
	}
	for _, c := range creators {
		s, _ := c.(string)
		if !strings.HasPrefix(s, "Tool: ") && !strings.HasPrefix(s, "Person: ") && !strings.HasPrefix(s, "Organization: ") {
			t.Errorf("creator %q lacks Tool:/Person:/Organization:", s)
		}
	}

	refs := map[string]bool{}
	if ex, ok := doc["hasExtractedLicensingInfos"].([]any); ok {
		for _, e := range ex {
			m := e.(map[string]any)
			id := str(m, "licenseId", "hasExtractedLicensingInfos")
			str(m, "extractedText", "hasExtractedLicensingInfos "+id)
			if !regexp.MustCompile(`^LicenseRef-[A-Za-z0-9.-]+$`).MatchString(id) {
				t.Errorf("extracted licence id %q", id)
			}
			if refs[id] {
				t.Errorf("extracted licence %s defined twice", id)
			}
			refs[id] = true
		}
	}
	usedRefs := map[string]bool{}
	idRE := regexp.MustCompile(`^SPDXRef-[A-Za-z0-9.-]+$`)
	ids := map[string]bool{"SPDXRef-DOCUMENT": true}
	pkgs, _ := doc["packages"].([]any)
	for _, p := range pkgs {
		m := p.(map[string]any)
		where := "package " + strings.TrimSpace(str(m, "name", "package"))
		id := str(m, "SPDXID", where)
		if !idRE.MatchString(id) {
			t.Errorf("%s: SPDXID %q", where, id)
		}
		if ids[id] {
			t.Errorf("%s: SPDXID %s not unique", where, id)
		}
		ids[id] = true
		str(m, "downloadLocation", where)
		if fa, ok := m["filesAnalyzed"].(bool); !ok || fa {
			if _, ok := m["packageVerificationCode"]; !ok {
				t.Errorf("%s: filesAnalyzed absent/true needs packageVerificationCode", where)
			}
		}
		if cs, ok := m["checksums"].([]any); ok {
			for _, c := range cs {
				cm := c.(map[string]any)
				if cm["algorithm"] != "SHA256" || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(cm["checksumValue"].(string)) {
					t.Errorf("%s: checksum %v", where, cm)
				}
			}
		}
		for _, k := range []string{"licenseConcluded", "licenseDeclared"} {
			if v, ok := m[k].(string); ok {
				if err := checkExpr(v, usedRefs); err != "" {
					t.Errorf("%s: %s %q: %s", where, k, v, err)
				}
			}
		}
		if er, ok := m["externalRefs"].([]any); ok {
			for _, e := range er {
				em := e.(map[string]any)
				if em["referenceType"] == "purl" && !regexp.MustCompile(`^pkg:(deb|rpm)/[a-z0-9.-]+/[^/@?]+@[^@?]+(\?[a-z]+=[^&]+(&[a-z]+=[^&]+)*)?$`).MatchString(em["referenceLocator"].(string)) {
					t.Errorf("%s: purl %q", where, em["referenceLocator"])
				}
			}
		}
	}
	for r := range usedRefs {
		if !refs[r] {
			t.Errorf("%s used but not in hasExtractedLicensingInfos", r)
		}
	}
	rels, _ := doc["relationships"].([]any)
	describes := false
	types := map[string]bool{"DESCRIBES": true, "CONTAINS": true, "DEPENDS_ON": true, "GENERATED_FROM": true}
	for _, r := range rels {
		m := r.(map[string]any)
		a, b, ty := m["spdxElementId"].(string), m["relatedSpdxElement"].(string), m["relationshipType"].(string)
		if !ids[a] || !ids[b] || !types[ty] {
			t.Errorf("relationship %s %s %s refers to an unknown element or type", a, ty, b)
		}
		if a == "SPDXRef-DOCUMENT" && ty == "DESCRIBES" {
			describes = true
		}
	}
	if !describes {
		t.Error("no DOCUMENT DESCRIBES relationship")
	}
	return doc
}

var exprIDRE = regexp.MustCompile(`^(LicenseRef-[A-Za-z0-9.-]+|[A-Za-z0-9][A-Za-z0-9.+-]*)$`)

// checkExpr parses an SPDX licence expression (compound := simple |
// simple WITH exception | compound AND/OR compound | ( compound )) and
// returns what is wrong with it, collecting LicenseRefs into refs.
func checkExpr(s string, refs map[string]bool) string {
	if s == "NOASSERTION" || s == "NONE" {
		return ""
	}
	toks := strings.Fields(strings.NewReplacer("(", " ( ", ")", " ) ").Replace(s))
	pos := 0
	var compound func() string
	simple := func() string {
		if pos >= len(toks) {
			return "expression ends early"
		}
		tk := toks[pos]
		if tk == "(" {
			pos++
			if e := compound(); e != "" {
				return e
			}
			if pos >= len(toks) || toks[pos] != ")" {
				return "missing )"
			}
			pos++
			return ""
		}
		if !exprIDRE.MatchString(tk) || tk == "AND" || tk == "OR" || tk == "WITH" {
			return "bad licence id " + tk
		}
		if strings.HasPrefix(tk, "LicenseRef-") {
			refs[tk] = true
		}
		pos++
		if pos < len(toks) && toks[pos] == "WITH" {
			pos++
			if pos >= len(toks) || !exprIDRE.MatchString(toks[pos]) || strings.HasPrefix(toks[pos], "LicenseRef-") {
				return "bad exception after WITH"
			}
			pos++
		}
		return ""
	}
	compound = func() string {
		if e := simple(); e != "" {
			return e
		}
		for pos < len(toks) && (toks[pos] == "AND" || toks[pos] == "OR") {
			pos++
			if e := simple(); e != "" {
				return e
			}
		}
		return ""
	}
	if e := compound(); e != "" {
		return e
	}
	if pos != len(toks) {
		return "trailing " + strings.Join(toks[pos:], " ")
	}
	return ""
}
