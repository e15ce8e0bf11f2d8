package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	rpmutils "github.com/sassoftware/go-rpmutils"

	"github.com/vzkit/vzkit/installer/deb"
	"github.com/vzkit/vzkit/installer/rpm"
	"github.com/vzkit/vzkit/internal/pgp"
	"github.com/vzkit/vzkit/repo/apt"
	"github.com/vzkit/vzkit/repo/fetch"
	"github.com/vzkit/vzkit/repo/rpmmd"
)

// InspectKind is what vzpkg inspect found a file to be.
type InspectKind string

const (
	KindRPM        InspectKind = "rpm"
	KindDeb        InspectKind = "deb"
	KindRPMMD      InspectKind = "rpm-md"      // repodata/repomd.xml (+ .asc)
	KindAptRelease InspectKind = "apt-release" // InRelease, or Release (+ Release.gpg)
)

// VerdictState is the outcome of a signature check.
type VerdictState string

const (
	Verified   VerdictState = "verified"    // a good signature by a given key
	Unsigned   VerdictState = "unsigned"    // no signature to check
	BadSig     VerdictState = "bad"         // a given key's signature fails, or an integrity check does
	UnknownKey VerdictState = "unknown-key" // signed, by none of the given keys
)

// Verdict is what the signature check of an inspected file found.
type Verdict struct {
	State   VerdictState `json:"state"`
	Signers []string     `json:"signers,omitempty"` // fingerprints with a good signature
	KeyIDs  []string     `json:"key_ids,omitempty"` // issuers of the signatures not verified
	Reason  string       `json:"reason,omitempty"`
}

func (v Verdict) String() string {
	switch v.State {
	case Verified:
		return "verified by " + strings.Join(v.Signers, ", ")
	case BadSig:
		return "BAD signature: " + v.Reason
	case UnknownKey:
		if len(v.KeyIDs) == 0 {
			return "unknown key"
		}
		return "unknown key " + strings.Join(v.KeyIDs, ", ")
	}
	if v.Reason != "" {
		return "unsigned (" + v.Reason + ")"
	}
	return "unsigned"
}

// Inspected is what vzpkg inspect reports of one file.
type Inspected struct {
	Source      string      `json:"source"`
	Kind        InspectKind `json:"kind"`
	Name        string      `json:"name,omitempty"`
	Version     string      `json:"version,omitempty"` // Debian version, or [epoch:]version-release
	Arch        string      `json:"arch,omitempty"`
	Depends     []string    `json:"depends,omitempty"` // Depends/Pre-Depends, or Requires
	Compression string      `json:"compression,omitempty"`
	Files       int         `json:"files,omitempty"`
	// Repositories: rpm-md's revision and data types, or a Release's
	// suite, codename, date and the number of index files it lists.
	Revision string   `json:"revision,omitempty"`
	Data     []string `json:"data,omitempty"`
	Suite    string   `json:"suite,omitempty"`
	Codename string   `json:"codename,omitempty"`
	Date     string   `json:"date,omitempty"`

	Signature Verdict `json:"signature"`
}

// Limits of what inspect reads: a package, or a repository's small
// signed index and its signature.
const (
	maxInspectPackage = 4 << 30
	maxInspectIndex   = 64 << 20
	maxInspectSig     = 1 << 20
)

// Inspect reads the .rpm, .deb, rpm-md repository (its repomd.xml, or a
// directory or URL holding repodata/) or apt InRelease/Release at source
// (a path or a URL) and checks its signature with keys (nil: none given,
// so nothing is verified and the verdict names the signers' key IDs).
// Everything read is hostile: size-limited, verified before it is parsed
// when keys are given, and parsed by the same code the pipeline trusts. tmp holds a downloaded package while it is read.
func Inspect(ctx context.Context, client *fetch.Client, source string, keys *pgp.Keyring, tmp string) (*Inspected, error) {
	asked := keys != nil
	if keys == nil {
		keys = &pgp.Keyring{}
	}
	u, err := sourceURL(source)
	if err != nil {
		return nil, err
	}
	get := func(u string, limit int64) ([]byte, error) {
		var b bytes.Buffer
		_, err := client.Get(ctx, u, &b, limit)
		return b.Bytes(), err
	}
	// A repository given by its base: its repomd.xml.
	if st, err := os.Stat(source); (err == nil && st.IsDir()) || strings.HasSuffix(u, "/") {
		u = strings.TrimSuffix(u, "/") + "/repodata/repomd.xml"
	}
	switch base := pathBase(u); {
	case strings.HasSuffix(base, ".rpm"), strings.HasSuffix(base, ".deb"), strings.HasSuffix(base, ".udeb"), strings.HasSuffix(base, ".ddeb"):
		return inspectPackage(ctx, client, source, u, keys, tmp)
	case base == "repomd.xml":
		data, err := get(u, maxInspectIndex)
		if err != nil {
			return nil, fmt.Errorf("inspect %s: %w", source, err)
		}
		return inspectRepomd(source, data, func() ([]byte, error) { return get(u+".asc", maxInspectSig) }, keys, asked)
	case base == "InRelease", base == "Release":
		data, err := get(u, maxInspectIndex)
		if err != nil {
			return nil, fmt.Errorf("inspect %s: %w", source, err)
		}
		return inspectRelease(source, base, data, func() ([]byte, error) { return get(u+".gpg", maxInspectSig) }, keys, asked)
	}
	return nil, fmt.Errorf("inspect %s: %w: want a .rpm, a .deb, an rpm-md repository (repomd.xml or its base) or an apt InRelease or Release", source, ErrUnknownKind)
}

// ErrUnknownKind: inspect does not know what the source is.
var ErrUnknownKind = errors.New("not a file inspect knows")

func sourceURL(source string) (string, error) {
	if u, err := url.Parse(source); err == nil && (u.Scheme == "http" || u.Scheme == "https" || u.Scheme == "file") {
		return source, nil
	}
	abs, err := filepath.Abs(source)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(abs); err == nil && st.IsDir() {
		abs += "/"
	}
	return (&url.URL{Scheme: "file", Path: abs}).String(), nil
}

func pathBase(u string) string {
	if p, err := url.Parse(u); err == nil {
		return filepath.Base(p.Path)
	}
	return filepath.Base(u)
}

func inspectPackage(ctx context.Context, client *fetch.Client, source, u string, keys *pgp.Keyring, tmp string) (*Inspected, error) {
	// Under its own name, which the package readers' errors give.
	dir, err := os.MkdirTemp(tmp, "vzpkg-inspect-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	f, err := os.OpenFile(filepath.Join(dir, pathBase(u)), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := client.Get(ctx, u, f, maxInspectPackage); err != nil {
		return nil, fmt.Errorf("inspect %s: %w", source, err)
	}
	if strings.HasSuffix(pathBase(u), ".rpm") {
		return inspectRPM(ctx, source, f.Name(), keys)
	}
	p, err := deb.Open(f.Name())
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", source, err)
	}
	files, err := p.Files(ctx)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", source, err)
	}
	in := &Inspected{Source: source, Kind: KindDeb, Name: p.Name, Version: p.Version, Arch: p.Architecture,
		Compression: p.Compression(), Files: len(files),
		Signature: Verdict{State: Unsigned, Reason: "a .deb is verified through its repository's signed Release and Packages"}}
	for _, field := range []string{"Pre-Depends", "Depends"} {
		if v := strings.TrimSpace(p.Control.Values[field]); v != "" {
			for _, d := range strings.Split(v, ",") {
				in.Depends = append(in.Depends, strings.TrimSpace(d))
			}
		}
	}
	return in, nil
}

func inspectRPM(ctx context.Context, source, file string, keys *pgp.Keyring) (*Inspected, error) {
	p, err := rpm.Open(file)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", source, err)
	}
	in := &Inspected{Source: source, Kind: KindRPM, Name: p.Name, Version: p.EVR(), Arch: p.Arch,
		Compression: p.Compressor, Files: len(p.Files())}
	if in.Compression == "" {
		in.Compression = "none"
	}
	names, _ := p.Header.GetStrings(rpmutils.REQUIRENAME)
	flags, _ := p.Header.GetUint32s(rpmutils.REQUIREFLAGS)
	vers, _ := p.Header.GetStrings(rpmutils.REQUIREVERSION)
	for i, n := range names {
		if strings.HasPrefix(n, "rpmlib(") {
			continue // rpm's own features, not packages
		}
		d := n
		if i < len(flags) && i < len(vers) && vers[i] != "" {
			d += " " + senseOp(flags[i]) + " " + vers[i]
		}
		if !slices.Contains(in.Depends, d) {
			in.Depends = append(in.Depends, d)
		}
	}
	verdict, verr := p.Verify(ctx, rpm.Options{Keyring: keys, AllowWeakDigests: true})
	in.Signature = rpmVerdict(verdict, verr)
	return in, nil
}

// senseOp is the comparison of an RPMSENSE flags word.
func senseOp(flags uint32) string {
	const lt, gt, eq = 0x02, 0x04, 0x08
	switch flags & (lt | gt | eq) {
	case lt:
		return "<"
	case gt:
		return ">"
	case eq:
		return "="
	case lt | eq:
		return "<="
	case gt | eq:
		return ">="
	}
	return "?"
}

func rpmVerdict(v rpm.Verdict, err error) Verdict {
	out := Verdict{Signers: v.Signers}
	bad := false
	for _, s := range v.Signatures {
		switch s.Status {
		case rpm.SigBad, rpm.SigRevoked:
			bad = true
		case rpm.SigUnknownKey, rpm.SigUnsupported:
			if s.KeyID != "" && !slices.Contains(out.KeyIDs, s.KeyID) {
				out.KeyIDs = append(out.KeyIDs, s.KeyID)
			}
		}
	}
	switch {
	case bad || (err != nil && !errors.Is(err, rpm.ErrVerify)):
		out.State, out.Reason = BadSig, errString(err)
	case err != nil && len(v.Signatures) == 0 && len(v.Signers) == 0:
		out.State, out.Reason = Unsigned, errString(err)
	case err != nil && len(v.Signers) == 0 && len(out.KeyIDs) == 0:
		out.State, out.Reason = BadSig, errString(err) // an integrity check failed
	case err != nil && len(v.Signers) > 0:
		out.State, out.Reason = BadSig, errString(err) // signed, but its payload or header does not match
	case len(v.Signers) > 0:
		out.State = Verified
	case len(v.Signatures) > 0:
		out.State = UnknownKey
	default:
		out.State = Unsigned
	}
	return out
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func inspectRepomd(source string, data []byte, sig func() ([]byte, error), keys *pgp.Keyring, asked bool) (*Inspected, error) {
	in := &Inspected{Source: source, Kind: KindRPMMD}
	asc, err := sig()
	switch {
	case errors.Is(err, os.ErrNotExist):
		in.Signature = Verdict{State: Unsigned, Reason: "no repomd.xml.asc"}
	case err != nil:
		return nil, fmt.Errorf("inspect %s: repomd.xml.asc: %w", source, err)
	default:
		in.Signature = pgpVerdict(keys.VerifyDetached(data, asc, pgp.VerifyOptions{}))
	}
	// Verified before parsed, as the pipeline does: with keys given,
	// what failed to verify is not read further.
	if asked && in.Signature.State != Verified {
		return in, nil
	}
	md, err := rpmmd.ParseRepomd(data, source)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", source, err)
	}
	in.Revision = md.Revision
	for _, d := range md.Data {
		in.Data = append(in.Data, d.Type)
	}
	return in, nil
}

func inspectRelease(source, base string, data []byte, sig func() ([]byte, error), keys *pgp.Keyring, asked bool) (*Inspected, error) {
	in := &Inspected{Source: source, Kind: KindAptRelease}
	text := data
	if base == "InRelease" {
		in.Signature = pgpVerdict(keys.VerifyClearsigned(data, pgp.VerifyOptions{}))
		t, err := pgp.ClearsignedText(data)
		if err != nil {
			return nil, fmt.Errorf("inspect %s: %w", source, err)
		}
		text = t
	} else {
		gpg, err := sig()
		switch {
		case errors.Is(err, os.ErrNotExist):
			in.Signature = Verdict{State: Unsigned, Reason: "no Release.gpg"}
		case err != nil:
			return nil, fmt.Errorf("inspect %s: Release.gpg: %w", source, err)
		default:
			in.Signature = pgpVerdict(keys.VerifyDetached(data, gpg, pgp.VerifyOptions{}))
		}
	}
	if asked && in.Signature.State != Verified {
		return in, nil
	}
	rel, err := apt.ParseRelease(text, source)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", source, err)
	}
	in.Suite, in.Codename = rel.Suite, rel.Codename
	if !rel.Date.IsZero() {
		in.Date = rel.Date.UTC().Format("2006-01-02T15:04:05Z")
	}
	in.Files = len(rel.Files)
	return in, nil
}

func pgpVerdict(v *pgp.Verified, err error) Verdict {
	var out Verdict
	if v != nil {
		out.Signers = v.Signers()
		for _, s := range v.Signatures {
			if s.Status != pgp.Good && s.KeyID != "" && !slices.Contains(out.KeyIDs, s.KeyID) {
				out.KeyIDs = append(out.KeyIDs, s.KeyID)
			}
		}
	}
	switch {
	case errors.Is(err, pgp.ErrBadSignature):
		out.State, out.Reason = BadSig, err.Error()
	case err == nil:
		out.State = Verified
	case v != nil && len(v.Signatures) > 0:
		out.State, out.Reason = UnknownKey, err.Error()
	default:
		out.State, out.Reason = BadSig, err.Error() // the signature itself does not parse
	}
	return out
}
