package cachestore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/cache/sign"
	"github.com/vzkit/vzkit/internal/pgp"
)

const epoch = 1700000000

// newCache saves a tiny tree as dir/NAME.tar.zst with a manifest listing
// npkg packages.
func newCache(t testing.TB, dir, name string, npkg int) string {
	t.Helper()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/os-release"), []byte("ID=test\nNAME="+name+"\n"), 0o644)
	m := &cache.Manifest{Name: name, Distro: "debian", Release: "12", Arch: "amd64"}
	for i := range npkg {
		m.Packages = append(m.Packages, cache.Package{Name: "p" + string(rune('a'+i)), Version: "1", Arch: "amd64"})
	}
	p, _, err := cache.Save(context.Background(), dir, root, m, cache.PackOptions{SourceDateEpoch: time.Unix(epoch, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newKey returns a secret key file and the keyring of its public half.
func newKey(t testing.TB, name string) (string, *pgp.Keyring) {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@example.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var raw, arm bytes.Buffer
	e.SerializePrivate(&raw, nil)
	w, _ := armor.Encode(&arm, openpgp.PrivateKeyType, nil)
	w.Write(raw.Bytes())
	w.Close()
	path := filepath.Join(t.TempDir(), name+".sec.asc")
	if err := os.WriteFile(path, arm.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	raw.Reset()
	e.Serialize(&raw)
	kr, err := pgp.ParseKeyring(raw.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return path, kr
}

func byName(t *testing.T, entries []Entry) map[string]Entry {
	t.Helper()
	out := map[string]Entry{}
	for _, e := range entries {
		if _, dup := out[e.Name]; dup {
			t.Errorf("%s listed twice", e.Name)
		}
		out[e.Name] = e
	}
	return out
}

// storeFixture builds a directory with one cache of each kind List must tell
// apart.
func storeFixture(t *testing.T) (dir, aliceKey string, alice, bob *pgp.Keyring) {
	dir = t.TempDir()
	ctx := context.Background()
	aliceKey, alice = newKey(t, "alice")
	_, bob = newKey(t, "bob")
	good := newCache(t, dir, "good", 3)
	if _, err := sign.SignFile(ctx, good, aliceKey); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "good.spdx.json"), []byte("{}"), 0o644)
	newCache(t, dir, "unsigned", 2)
	os.Remove(cache.ManifestPath(newCache(t, dir, "nomanifest", 1)))
	bad := cache.ManifestPath(newCache(t, dir, "badmanifest", 1))
	os.WriteFile(bad, []byte(`{"version": 1, "archive": {`), 0o644)
	os.Remove(newCache(t, dir, "orphan", 1))
	grown := newCache(t, dir, "grown", 1)
	f, _ := os.OpenFile(grown, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte("junk"))
	f.Close()
	// Not caches: a save in progress, unrelated files.
	os.WriteFile(filepath.Join(dir, ".next.tar.zst.tmp-123"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "README"), []byte("x"), 0o644)
	return dir, aliceKey, alice, bob
}

func TestListFlagsInvalidWithoutHidingThem(t *testing.T) {
	ctx := context.Background()
	dir, _, alice, bob := storeFixture(t)
	list, err := (&Store{Dir: dir}).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Name)
	}
	want := []string{"badmanifest", "good", "grown", "nomanifest", "orphan", "unsigned"}
	if !slices.Equal(names, want) {
		t.Fatalf("listed %v, want %v", names, want)
	}
	m := byName(t, list)
	g := m["good"]
	fi, _ := os.Stat(filepath.Join(dir, "good.tar.zst"))
	if !g.Valid || g.Problem != "" || g.Packages != 3 || g.Size != fi.Size() || !g.Modified.Equal(fi.ModTime()) ||
		g.Created.Unix() != epoch || g.Distro != "debian" || g.SBOM != filepath.Join(dir, "good.spdx.json") {
		t.Errorf("good: %+v", g)
	}
	if !g.Signed || g.Signature != SigUnchecked {
		t.Errorf("good without a keyring: signed=%v signature=%s", g.Signed, g.Signature)
	}
	if u := m["unsigned"]; !u.Valid || u.Signed || u.Signature != SigNone || u.Packages != 2 {
		t.Errorf("unsigned: %+v", u)
	}
	for name, problem := range map[string]string{
		"nomanifest":  "no manifest nomanifest.json",
		"badmanifest": "parse manifest",
		"orphan":      "manifest without a cache file",
		"grown":       "manifest says",
	} {
		if e := m[name]; e.Valid || !strings.Contains(e.Problem, problem) {
			t.Errorf("%s: valid=%v problem %q, want it to mention %q", name, e.Valid, e.Problem, problem)
		}
	}

	// With the signer's keyring the signature is checked and good.
	list, err = (&Store{Dir: dir, Keyring: alice}).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g = byName(t, list)["good"]
	if !g.Signed || g.Signature != SigGood || len(g.Signers) != 1 || g.Signers[0] != alice.Fingerprints()[0] {
		t.Errorf("good with alice's keyring: %+v", g)
	}
	// With another keyring it is listed as not signed, and why.
	list, _ = (&Store{Dir: dir, Keyring: bob}).List(ctx)
	g = byName(t, list)["good"]
	if g.Signed || g.Signature != SigBad || !strings.Contains(g.Problem, "no good signature") {
		t.Errorf("good with bob's keyring: %+v", g)
	}
}

func TestListMissingDirectory(t *testing.T) {
	list, err := (&Store{Dir: filepath.Join(t.TempDir(), "none")}).List(context.Background())
	if err != nil || len(list) != 0 {
		t.Errorf("missing directory: %v %v", list, err)
	}
}

func TestRemove(t *testing.T) {
	ctx := context.Background()
	dir, _, _, _ := storeFixture(t)
	s := &Store{Dir: dir}
	removed, err := s.Remove(ctx, "good.tar.zst") // the file name works as well
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"good.json", "good.tar.zst", "good.tar.zst.asc", "good.spdx.json"}
	var got []string
	for _, p := range removed {
		got = append(got, filepath.Base(p))
	}
	if !slices.Equal(got, want) {
		t.Errorf("removed %v, want %v (manifest first)", got, want)
	}
	for _, f := range want {
		if _, err := os.Lstat(filepath.Join(dir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there", f)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "unsigned.tar.zst")); err != nil {
		t.Errorf("another cache went too: %v", err)
	}
	if _, err := s.Remove(ctx, "good"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"good"`) {
		t.Errorf("removing a missing cache: %v", err)
	}
	for _, bad := range []string{"../x", "", ".hidden", "a/b"} {
		if _, err := s.Remove(ctx, bad); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("name %q accepted: %v", bad, err)
		}
	}
	// Invalid caches can be removed too.
	for _, n := range []string{"orphan", "nomanifest"} {
		if _, err := s.Remove(ctx, n); err != nil {
			t.Errorf("remove %s: %v", n, err)
		}
	}
	list, _ := s.List(ctx)
	if m := byName(t, list); len(m) != 3 || m["orphan"].Name != "" || m["nomanifest"].Name != "" {
		t.Errorf("after removals: %v", list)
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old := newCache(t, dir, "old", 1)
	os.Remove(cache.ManifestPath(newCache(t, dir, "oldbroken", 1)))
	newCache(t, dir, "fresh", 1)
	now := time.Now()
	for _, p := range []string{old, filepath.Join(dir, "oldbroken.tar.zst")} {
		if err := os.Chtimes(p, now, now.Add(-40*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	s := &Store{Dir: dir}
	snapshot := func() []string {
		ents, _ := os.ReadDir(dir)
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	before := snapshot()
	age, _ := ParseAge("30d")
	pruned, err := s.Prune(ctx, age, PruneOptions{DryRun: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(pruned) != 2 || pruned[0].Name != "old" || pruned[1].Name != "oldbroken" {
		t.Errorf("dry run would prune %v, want old and oldbroken", pruned)
	}
	if after := snapshot(); !slices.Equal(before, after) {
		t.Errorf("dry run changed the directory: %v -> %v", before, after)
	}
	if _, err := s.Prune(ctx, age, PruneOptions{Now: now}); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(); !slices.Equal(after, []string{"fresh.json", "fresh.tar.zst"}) {
		t.Errorf("after prune: %v", after)
	}
	if _, err := s.Prune(ctx, 0, PruneOptions{}); err == nil {
		t.Error("prune with a zero age accepted")
	}
}

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30d": 30 * 24 * time.Hour, "12h": 12 * time.Hour, "90m": 90 * time.Minute,
		"2w": 14 * 24 * time.Hour, "1d12h": 36 * time.Hour, "1w2d": 9 * 24 * time.Hour,
	} {
		if got, err := ParseAge(in); err != nil || got != want {
			t.Errorf("ParseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0d", "-3d", "d", "3x", "1.5d", "30", "99999999d", "3d2w"} {
		if got, err := ParseAge(in); err == nil {
			t.Errorf("ParseAge(%q) = %v, want an error", in, got)
		}
	}
}
