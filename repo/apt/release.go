package apt

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FileHash is one entry of a Release file's SHA256 list.
type FileHash struct {
	Size   int64
	SHA256 string // lower-case hex
}

// Release is the parsed (signed) text of a Release or InRelease file.
type Release struct {
	Origin, Label, Suite, Codename, Version string
	Date                                    time.Time
	ValidUntil                              time.Time // zero when absent
	Architectures                           []string
	Components                              []string
	AcquireByHash                           bool
	// NoSupportForArchitectureAll is "Packages" when arch:all packages are
	// listed in every architecture's Packages instead of binary-all.
	NoSupportForArchitectureAll string
	// Files maps a path relative to dists/<suite>/ to its size and SHA-256.
	Files map[string]FileHash
}

var releaseDateLayouts = []string{
	time.RFC1123,                    // Sat, 11 Jul 2026 10:17:11 UTC
	time.RFC1123Z,                   // ... +0000
	"Mon, _2 Jan 2006 15:04:05 MST", // single-digit day
	"Mon, _2 Jan 2006 15:04:05 -0700",
}

func parseReleaseDate(s string) (time.Time, error) {
	for _, l := range releaseDateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unparseable date %q", s)
}

// ParseRelease parses the signed text of a Release file. Only SHA256 file
// lists are read: MD5Sum and SHA1 are not trusted for integrity.
func ParseRelease(text []byte, name string) (*Release, error) {
	rel := &Release{Files: map[string]FileHash{}}
	inSHA256 := false
	for n, line := range bytes.Split(text, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if !inSHA256 {
				continue
			}
			f := strings.Fields(string(line))
			if len(f) != 3 {
				return nil, fmt.Errorf("%s:%d: malformed SHA256 entry %q", name, n+1, line)
			}
			size, err := strconv.ParseInt(f[1], 10, 64)
			sum := strings.ToLower(f[0])
			if _, herr := hex.DecodeString(sum); err != nil || size < 0 || herr != nil || len(sum) != 64 {
				return nil, fmt.Errorf("%s:%d: malformed SHA256 entry %q", name, n+1, line)
			}
			rel.Files[f[2]] = FileHash{Size: size, SHA256: sum}
			continue
		}
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return nil, fmt.Errorf("%s:%d: malformed line %.60q", name, n+1, line)
		}
		v := strings.TrimSpace(string(val))
		inSHA256 = false
		var err error
		// Field names are case-insensitive in Debian control files.
		switch strings.ToLower(string(key)) {
		case "origin":
			rel.Origin = v
		case "label":
			rel.Label = v
		case "suite":
			rel.Suite = v
		case "codename":
			rel.Codename = v
		case "version":
			rel.Version = v
		case "date":
			rel.Date, err = parseReleaseDate(v)
		case "valid-until":
			rel.ValidUntil, err = parseReleaseDate(v)
		case "architectures":
			rel.Architectures = strings.Fields(v)
		case "components":
			rel.Components = strings.Fields(v)
		case "acquire-by-hash":
			rel.AcquireByHash = strings.EqualFold(v, "yes")
		case "no-support-for-architecture-all":
			rel.NoSupportForArchitectureAll = v
		case "sha256":
			inSHA256 = true
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %w", name, n+1, key, err)
		}
	}
	if rel.Suite == "" && rel.Codename == "" {
		return nil, fmt.Errorf("%s: neither Suite nor Codename", name)
	}
	if len(rel.Files) == 0 {
		return nil, fmt.Errorf("%s: no SHA256 file list", name)
	}
	return rel, nil
}

// CheckValid applies apt's freshness rules at time now: the file must not
// be past its Valid-Until nor dated in the future (beyond a clock-skew
// allowance).
func (r *Release) CheckValid(now time.Time, name string) error {
	if !r.ValidUntil.IsZero() && now.After(r.ValidUntil) {
		return fmt.Errorf("%s: expired: Valid-Until %s is before %s (a replayed or stale mirror)",
			name, r.ValidUntil.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if !r.Date.IsZero() && r.Date.After(now.Add(10*time.Minute)) {
		return fmt.Errorf("%s: not valid yet: Date %s is after %s (check the clock)",
			name, r.Date.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

func (r *Release) hasArch(a string) bool {
	for _, x := range r.Architectures {
		if x == a {
			return true
		}
	}
	return false
}

func (r *Release) hasComponent(c string) bool {
	if len(r.Components) == 0 {
		return true
	}
	for _, x := range r.Components {
		// "updates/main" style components (old security archives) also
		// answer to their last element.
		if x == c || strings.HasSuffix(x, "/"+c) {
			return true
		}
	}
	return false
}
