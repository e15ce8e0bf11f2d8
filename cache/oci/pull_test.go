package oci

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/cache/oci/ocitest"
	cachestore "github.com/vzkit/vzkit/cache/store"
)

// cacheWith saves a one-file tree whose /etc/os-release is osRelease as
// cache name in dir: different text, different digest.
func cacheWith(t *testing.T, dir, name, osRelease string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/os-release"), []byte(osRelease), 0o644); err != nil {
		t.Fatal(err)
	}
	m := &cache.Manifest{Name: name, Distro: "debian", Release: "12", Arch: "amd64", Tool: "vzkit-test"}
	p, _, err := cache.Save(context.Background(), dir, root, m, cache.PackOptions{SourceDateEpoch: time.Unix(testEpoch, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// claimName rewrites the name in the manifest beside cachePath, as an
// attacker who builds the image would.
func claimName(t *testing.T, cachePath, name string) {
	t.Helper()
	mp := cache.ManifestPath(cachePath)
	m, err := cache.ReadManifest(mp)
	if err != nil {
		t.Fatal(err)
	}
	m.Name = name
	if err := cache.WriteManifest(mp, m); err != nil {
		t.Fatal(err)
	}
}

// dirState maps each file name in dir to its bytes, mode and mtime, so a
// comparison sees a rewrite even with the same content.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		out[e.Name()] = fmt.Sprintf("%v %d %x", fi.Mode(), fi.ModTime().UnixNano(), sha256.Sum256(b))
	}
	return out
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestPullNameRule(t *testing.T) {
	const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for ref, want := range map[string]string{
		"registry.example.org/vzkit/debian:12":                 "debian-12",
		"registry.example.org/debian:12.5":                     "debian-12.5",
		"127.0.0.1:5000/a/b/c/alpine:3.20-minimal":             "alpine-3.20-minimal",
		"registry.example.org/vzkit/debian@sha256:" + hex64:    "debian-0123456789ab",
		"registry.example.org/vzkit/debian:12@sha256:" + hex64: "debian-0123456789ab",
	} {
		r, err := parseRef(ref, Options{})
		if err != nil {
			t.Errorf("parseRef(%q): %v", ref, err)
			continue
		}
		got, err := localName("", refName(r), ref)
		if err != nil || got != want {
			t.Errorf("name of %q = %q, %v; want %q", ref, got, err, want)
		}
	}
	// What is not written out is not implied.
	for _, ref := range []string{"registry.example.org/vzkit/debian", "vzkit/debian:12", "debian:12"} {
		if _, err := parseRef(ref, Options{}); err == nil || !strings.Contains(err.Error(), ref) {
			t.Errorf("parseRef(%q): err = %v, want a refusal naming it", ref, err)
		}
	}
	// A repository that yields no usable name is refused, not cleaned up.
	r, err := parseRef("registry.example.org/vzkit/..:12", Options{})
	if err == nil {
		if n, err := localName("", refName(r), "x"); err == nil {
			t.Errorf("name %q from a repository ending in ..", n)
		}
	}
	if _, err := localName("../etc", "debian-12", "x"); err == nil {
		t.Error("an explicit name with a slash was accepted")
	}
}

// An image whose own manifest names an existing local cache (or a path
// outside the cache directory) lands under the name from the reference;
// the existing cache is not touched.
func TestPullIgnoresImageName(t *testing.T) {
	reg := ocitest.Start(t)
	ctx := testCtx(t)
	cacheDir := t.TempDir()
	local := cacheWith(t, cacheDir, "debian-12-minimal", "ID=debian\nBUILT=here\n")
	before := dirState(t, cacheDir)

	for _, tc := range []struct{ claim, tag string }{
		{"debian-12-minimal", "12"},
		{"../outside", "dots"},
	} {
		hostile := cacheWith(t, t.TempDir(), "hostile", "ID=debian\nPOISON="+tc.tag+"\n")
		claimName(t, hostile, tc.claim)
		ref := reg.Addr + "/evil/debian:" + tc.tag
		if _, err := Push(ctx, hostile, ref, Options{Insecure: true}); err != nil {
			t.Fatal(err)
		}
		res, err := Pull(ctx, ref, cacheDir, Options{Insecure: true})
		if err != nil {
			t.Fatalf("Pull %s: %v", ref, err)
		}
		want := "debian-" + tc.tag
		if res.Name != want || res.CachePath != filepath.Join(cacheDir, want+".tar.zst") || res.Unchanged {
			t.Errorf("image claiming %q pulled as %+v, want cache %s", tc.claim, res, want)
		}
		if !bytes.Equal(readFile(t, res.CachePath), readFile(t, hostile)) {
			t.Errorf("%s is not the pushed bytes", res.CachePath)
		}
		m, err := cache.ReadManifest(res.ManifestPath)
		if err != nil {
			t.Fatal(err)
		}
		orig, _ := cache.ReadManifest(cache.ManifestPath(hostile))
		if m.Name != want || !reflect.DeepEqual(m.Archive, orig.Archive) {
			t.Errorf("stored manifest says name %q archive %+v; want %q and the image's archive %+v", m.Name, m.Archive, want, orig.Archive)
		}
	}
	after := dirState(t, cacheDir)
	for _, f := range []string{filepath.Base(local), filepath.Base(cache.ManifestPath(local))} {
		if after[f] != before[f] {
			t.Errorf("%s changed: %s -> %s", f, before[f], after[f])
		}
	}
	var names []string
	for f := range after {
		names = append(names, f)
	}
	sort.Strings(names)
	if want := []string{"debian-12-minimal.json", "debian-12-minimal.tar.zst", "debian-12.json", "debian-12.tar.zst", "debian-dots.json", "debian-dots.tar.zst"}; !reflect.DeepEqual(names, want) {
		t.Errorf("cache directory holds %v, want %v", names, want)
	}
	if ents, _ := filepath.Glob(filepath.Join(filepath.Dir(cacheDir), "outside*")); len(ents) > 0 {
		t.Errorf("pull wrote outside the cache directory: %v", ents)
	}
	// The listing takes names from files, and each manifest agrees.
	entries, err := (&cachestore.Store{Dir: cacheDir}).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		m, err := cache.ReadManifest(e.Manifest)
		if !e.Valid || err != nil || m.Name != e.Name {
			t.Errorf("listed %s: valid %v (%s), manifest name %v %v", e.Name, e.Valid, e.Problem, m, err)
		}
	}
}

// A cache of the derived name with other bytes is refused, naming its
// files; Replace replaces it (with signature and SBOM) only once the new
// layer checked out; pulling the same image again writes nothing.
func TestPullCollision(t *testing.T) {
	reg := ocitest.Start(t)
	ctx := testCtx(t)
	cacheDir := t.TempDir()
	old := cacheWith(t, cacheDir, "debian-12", "ID=debian\nBUILT=here\n")
	asc, spdx := old+".asc", filepath.Join(cacheDir, "debian-12.spdx.json")
	for _, f := range []string{asc, spdx} {
		if err := os.WriteFile(f, []byte("describes the old bytes\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := dirState(t, cacheDir)

	img := cacheWith(t, t.TempDir(), "debian-12", "ID=debian\nFROM=registry\n")
	ref := reg.Addr + "/vzkit/debian:12"
	digest, err := Push(ctx, img, ref, Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Pull(ctx, ref, cacheDir, Options{Insecure: true})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("Pull over a different debian-12: err = %v, want ErrExists", err)
	}
	for _, f := range []string{old, cache.ManifestPath(old), asc, spdx} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("refusal does not name %s: %v", f, err)
		}
	}
	if got := dirState(t, cacheDir); !reflect.DeepEqual(got, before) {
		t.Errorf("refused pull changed the cache directory:\n%v\nwant\n%v", got, before)
	}

	// Replace with an image whose layer is corrupt in the registry: the
	// download fails its check and the old cache is still all there.
	bad := cacheWith(t, t.TempDir(), "bad", "ID=debian\nCORRUPT=1\n")
	badRef := reg.Addr + "/vzkit/debian:bad"
	if _, err := Push(ctx, bad, badRef, Options{Insecure: true}); err != nil {
		t.Fatal(err)
	}
	bm, _ := cache.ReadManifest(cache.ManifestPath(bad))
	blob := filepath.Join(reg.Storage, "docker/registry/v2/blobs/sha256", bm.Archive.SHA256[:2], bm.Archive.SHA256, "data")
	b := readFile(t, blob)
	b[len(b)/2] ^= 1
	if err := os.WriteFile(blob, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Pull(ctx, badRef, cacheDir, Options{Insecure: true, Name: "debian-12", Replace: true}); err == nil {
		t.Fatal("Replace with a corrupt layer succeeded")
	}
	if got := dirState(t, cacheDir); !reflect.DeepEqual(got, before) {
		t.Errorf("failed replace changed the cache directory:\n%v\nwant\n%v", got, before)
	}

	res, err := Pull(ctx, ref, cacheDir, Options{Insecure: true, Replace: true})
	if err != nil {
		t.Fatalf("Pull with Replace: %v", err)
	}
	if res.Unchanged || res.Digest != digest || !bytes.Equal(readFile(t, old), readFile(t, img)) {
		t.Errorf("Replace did not write the image: %+v", res)
	}
	for _, f := range []string{asc, spdx} {
		if _, err := os.Lstat(f); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s of the replaced cache is still there (%v)", f, err)
		}
	}
	if m, err := cache.ReadManifest(res.ManifestPath); err != nil || m.Name != "debian-12" {
		t.Errorf("manifest after replace: %+v %v", m, err)
	}

	// The same image again, by tag or by digest under the same name: a no-op.
	replaced := dirState(t, cacheDir)
	for _, o := range []struct {
		ref  string
		opts Options
	}{{ref, Options{Insecure: true}}, {reg.Addr + "/vzkit/debian@" + digest, Options{Insecure: true, Name: "debian-12"}}} {
		res, err = Pull(ctx, o.ref, cacheDir, o.opts)
		if err != nil || !res.Unchanged || res.CachePath != old {
			t.Errorf("Pull %s of what is there: %+v, %v; want Unchanged", o.ref, res, err)
		}
	}
	if got := dirState(t, cacheDir); !reflect.DeepEqual(got, replaced) {
		t.Errorf("no-op pull rewrote files:\n%v\nwant\n%v", got, replaced)
	}

	// A local cache whose bytes changed is not "the same" any more.
	b = readFile(t, old)
	b[len(b)/2] ^= 1
	if err := os.WriteFile(old, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Pull(ctx, ref, cacheDir, Options{Insecure: true}); !errors.Is(err, ErrExists) {
		t.Errorf("Pull over a changed local copy: err = %v, want ErrExists", err)
	}
	if ents, _ := filepath.Glob(filepath.Join(cacheDir, ".*")); len(ents) > 0 {
		t.Errorf("temporary files left behind: %v", ents)
	}
}

// The test registry speaks plain HTTP on loopback: without Insecure nothing
// is sent to it in the clear, and the refusal says why.
func TestPullRefusesPlainHTTP(t *testing.T) {
	reg := ocitest.Start(t)
	ctx := testCtx(t)
	cachePath := makeCache(t)
	ref := reg.Addr + "/vzkit/debian:12"
	if _, err := Push(ctx, cachePath, ref, Options{Insecure: true}); err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()

	reg.Mark(t, "before")
	_, pullErr := Pull(ctx, ref, dest, Options{})
	_, pushErr := Push(ctx, cachePath, reg.Addr+"/vzkit/debian:other", Options{})
	reg.Mark(t, "after")
	for what, err := range map[string]error{"Pull": pullErr, "Push": pushErr} {
		if !errors.Is(err, ErrPlainHTTP) || !strings.Contains(err.Error(), reg.Addr+" is not marked insecure") {
			t.Errorf("%s without Insecure: err = %v, want ErrPlainHTTP naming %s", what, err, reg.Addr)
		}
	}
	t.Logf("refusal: %v", pullErr)
	log := reg.Log()
	seen := log[strings.Index(log, "mark=before "):strings.Index(log, "mark=after ")]
	if n := strings.Count(seen, " HTTP/1."); n != 1 { // the before mark's own line
		t.Errorf("the registry answered %d plain-HTTP requests without Insecure:\n%s", n-1, seen)
	}
	if ents, _ := os.ReadDir(dest); len(ents) != 0 {
		t.Errorf("refused pull left %v", ents)
	}

	// The control: marked insecure, the same pull works and the log shows it.
	if _, err := Pull(ctx, ref, dest, Options{Insecure: true}); err != nil {
		t.Fatalf("Pull with Insecure: %v", err)
	}
	reg.Mark(t, "control")
	if log := reg.Log(); !strings.Contains(log[strings.Index(log, "mark=after "):], "GET /v2/vzkit/debian/manifests/12 ") {
		t.Errorf("registry log lacks the insecure pull:\n%s", log)
	}
}

// A pulled image's layer with entries that aim outside the root is
// contained when cache.Unpack extracts it: nothing outside the destination
// changes, whether Unpack refuses the archive or skips the entries. Each
// attack is an image of its own, so that refusing the first bad entry does
// not hide the others.
func TestPulledTraversalContained(t *testing.T) {
	reg := ocitest.Start(t)
	ctx := testCtx(t)
	// Each attack unpacks into BASE/sub/dst; BASE/host stands for the
	// host's files. The archive names the host directory by absolute path
	// too, so every attack gets a BASE of its own made here.
	bases := map[string]string{}
	hostOf := func(what string) string {
		if bases[what] == "" {
			bases[what] = t.TempDir()
		}
		return filepath.Join(bases[what], "host")
	}
	reg1 := func(name string) tar.Header { return tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644} }
	blk := func(name string) tar.Header {
		return tar.Header{Typeflag: tar.TypeBlock, Name: name, Mode: 0o666, Devmajor: 7, Devminor: 250}
	}
	link := func(name, target string) tar.Header {
		return tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}
	}
	// Unpacked into base/sub/dst-N: "../../host" is host.
	attacks := map[string][]tar.Header{
		"dotdot":           {reg1("../x")},
		"dotdot-overwrite": {reg1("../../host/secret")},
		"absolute":         {reg1(filepath.Join(hostOf("absolute"), "abs"))},
		"symlink-abs":      {link("l", hostOf("symlink-abs")), reg1("l/through")},
		"symlink-rel":      {link("l", "../../host"), reg1("l/through")},
		"symlink-dir":      {link("etc", "../../host"), reg1("etc/secret")},
		"hardlink":         {{Typeflag: tar.TypeLink, Name: "hard", Linkname: "../../host/secret"}},
		"blockdev-dotdot":  {blk("../blk")},
		"blockdev-abs":     {blk(filepath.Join(hostOf("blockdev-abs"), "blk"))},
		"blockdev-symlink": {link("l", hostOf("blockdev-symlink")), blk("l/blk")},
	}
	for what, entries := range attacks {
		host := hostOf(what)
		base, dst := filepath.Dir(host), filepath.Join(filepath.Dir(host), "sub", "dst")
		for _, d := range []string{host, dst} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(host, "secret"), []byte("canary\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Run(what, func(t *testing.T) {
			layer := hostileCache(t, entries)
			ref := reg.Addr + "/evil/traversal:" + what
			if _, err := Push(ctx, layer, ref, Options{Insecure: true}); err != nil {
				t.Fatal(err)
			}
			res, err := Pull(ctx, ref, t.TempDir(), Options{Insecure: true})
			if err != nil {
				t.Fatalf("Pull: %v", err)
			}
			before := treeState(t, base, dst)
			err = cache.Unpack(ctx, res.CachePath, dst, cache.UnpackOptions{})
			t.Logf("cache.Unpack: %v", err)
			if after := treeState(t, base, dst); !reflect.DeepEqual(after, before) {
				t.Errorf("unpacking the pulled layer changed files outside %s:\nbefore %v\nafter  %v", dst, before, after)
			}
		})
	}
}

// hostileCache writes a cache whose tar stream holds /etc/os-release and
// then entries, with a manifest that truly describes it (as an attacker's
// would), and returns its path.
func hostileCache(t *testing.T, entries []tar.Header) string {
	t.Helper()
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	body := "escaped\n"
	for _, h := range append([]tar.Header{{Typeflag: tar.TypeDir, Name: "etc/", Mode: 0o755}, {Typeflag: tar.TypeReg, Name: "etc/os-release", Mode: 0o644}}, entries...) {
		h.ModTime, h.Format = time.Unix(testEpoch, 0), tar.FormatPAX
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("tar header %s: %v", h.Name, err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var zst bytes.Buffer
	zw, err := zstd.NewWriter(&zst)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(tarBuf.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "hostile.tar.zst")
	if err := os.WriteFile(p, zst.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, tarSum := sha256.Sum256(zst.Bytes()), sha256.Sum256(tarBuf.Bytes())
	err = cache.WriteManifest(cache.ManifestPath(p), &cache.Manifest{
		Name: "hostile", Distro: "debian", Release: "12", Arch: "amd64", Tool: "attacker",
		Archive: cache.Archive{Compression: "zstd", SHA256: hex.EncodeToString(sum[:]), Size: int64(zst.Len()),
			TarSHA256: hex.EncodeToString(tarSum[:]), TarSize: int64(tarBuf.Len()), SourceDateEpoch: testEpoch},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// treeState describes every path under base except the subtree skip,
// without following symlinks: type and mode, link count, device number,
// link target and content hash.
func treeState(t *testing.T, base, skip string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == skip {
			return filepath.SkipDir
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%v nlink=%d rdev=%d", fi.Mode(), st.Nlink, st.Rdev)
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			desc += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		out[p] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
