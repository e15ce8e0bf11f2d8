package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/vzkit/vzkit/cache"
	"github.com/vzkit/vzkit/cache/oci/ocitest"
	"github.com/vzkit/vzkit/cmd/internal/cli"
)

// cacheKey writes a throwaway secret key and its public key as files.
func cacheKey(t *testing.T, name string) (secret, public, fingerprint string) {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@example.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	armored := func(path, typ string, ser func(*bytes.Buffer) error) {
		var raw, arm bytes.Buffer
		if err := ser(&raw); err != nil {
			t.Fatal(err)
		}
		w, _ := armor.Encode(&arm, typ, nil)
		w.Write(raw.Bytes())
		w.Close()
		write(t, path, arm.String())
	}
	secret, public = filepath.Join(dir, "sec.asc"), filepath.Join(dir, "pub.asc")
	armored(secret, openpgp.PrivateKeyType, func(b *bytes.Buffer) error { return e.SerializePrivate(b, nil) })
	armored(public, openpgp.PublicKeyType, func(b *bytes.Buffer) error { return e.Serialize(b) })
	return secret, public, fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
}

// saveCache writes NAME.tar.zst and NAME.json into root's cache directory.
func saveCache(t *testing.T, root, name string) string {
	t.Helper()
	tree := t.TempDir()
	write(t, filepath.Join(tree, "etc/os-release"), "ID=test\nNAME="+name+"\n")
	dir := filepath.Join(root, "var/lib/vzkit/template/cache")
	os.MkdirAll(dir, 0o755)
	m := &cache.Manifest{Name: name, Distro: "debian", Release: "12", Arch: "amd64",
		Packages: []cache.Package{{Name: "base-files", Version: "12.4", Arch: "amd64"}, {Name: "bash", Version: "5.2", Arch: "amd64"}}}
	p, _, err := cache.Save(context.Background(), dir, tree, m, cache.PackOptions{SourceDateEpoch: time.Unix(1700000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func exitCode(t *testing.T, what string, got, want int, err error) {
	t.Helper()
	if got != want {
		t.Errorf("%s: exit %d, want %d (%v)", what, got, want, err)
	}
}

func TestCacheCommands(t *testing.T) {
	root := t.TempDir()
	sec, pub, fpr := cacheKey(t, "alice")
	_, otherPub, otherFpr := cacheKey(t, "bob")
	a := saveCache(t, root, "deb-a")
	b := saveCache(t, root, "deb-b")
	os.Remove(cache.ManifestPath(saveCache(t, root, "broken")))

	out, code, err := run(t, root, "cache")
	exitCode(t, "cache", code, cli.ExitOK, err)
	for _, sub := range []string{"list", "rm", "prune", "verify", "sign"} {
		if !strings.Contains(out, "\n  "+sub+" ") {
			t.Errorf("`vzpkg cache` help lacks %s:\n%s", sub, out)
		}
	}

	out, code, err = run(t, root, "cache", "sign", "deb-a", "--key", sec)
	exitCode(t, "sign", code, cli.ExitOK, err)
	if !strings.Contains(out, fpr) || !fileExistsT(a+".asc") {
		t.Errorf("sign: %s", out)
	}
	_, code, err = run(t, root, "cache", "sign", "deb-a")
	exitCode(t, "sign without --key", code, cli.ExitUsage, err)

	// verify: good with the signer's key, and it says what it checked.
	out, code, err = run(t, root, "cache", "verify", "deb-a", "--keyring", pub)
	exitCode(t, "verify signed", code, cli.ExitOK, err)
	for _, want := range []string{"manifest", "SHA-256", "good by [" + fpr + "]", "deb-a: verified"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}
	_, code, err = run(t, root, "cache", "verify", "deb-a", "--keyring", pub, "--fingerprint", fpr)
	exitCode(t, "verify pinned", code, cli.ExitOK, err)
	_, code, err = run(t, root, "cache", "verify", "deb-a", "--keyring", pub, "--fingerprint", otherFpr)
	exitCode(t, "verify pinned to another key", code, cli.ExitFailure, err)
	_, code, err = run(t, root, "cache", "verify", "deb-a", "--keyring", otherPub)
	exitCode(t, "verify with another key", code, cli.ExitFailure, err)
	if err == nil || !strings.Contains(err.Error(), a) || !strings.Contains(err.Error(), "signature is not good") {
		t.Errorf("verify with another key: %v", err)
	}
	_, code, err = run(t, root, "cache", "verify", "deb-b", "--keyring", pub)
	exitCode(t, "verify unsigned", code, cli.ExitFailure, err)
	if err == nil || !strings.Contains(err.Error(), b) || !strings.Contains(err.Error(), "not signed") {
		t.Errorf("verify unsigned: %v", err)
	}
	out, code, err = run(t, root, "cache", "verify", "deb-b")
	exitCode(t, "verify unsigned without keyring", code, cli.ExitOK, err)
	if !strings.Contains(out, "signature not checked") {
		t.Errorf("verify without a keyring must say the signature was not checked:\n%s", out)
	}
	// CACHE_KEYRING of vz.conf is the default keyring.
	write(t, filepath.Join(root, "etc/vzkit/vz.conf"), "CACHE_KEYRING="+pub+"\n")
	_, code, err = run(t, root, "cache", "verify", "deb-b")
	exitCode(t, "verify unsigned with CACHE_KEYRING", code, cli.ExitFailure, err)

	// list: every cache, the broken one flagged, JSON fields as documented.
	out, code, err = run(t, root, "cache", "list", "-o", "json", "--keyring", pub)
	exitCode(t, "list", code, cli.ExitOK, err)
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("list -o json: %v\n%s", err, out)
	}
	got := map[string]map[string]any{}
	for _, r := range rows {
		got[r["name"].(string)] = r
	}
	if len(rows) != 3 || got["deb-a"] == nil || got["deb-b"] == nil || got["broken"] == nil {
		t.Fatalf("list: %s", out)
	}
	ra := got["deb-a"]
	fi, _ := os.Stat(a)
	if ra["signed"] != true || ra["signature"] != "good" || ra["valid"] != true || ra["packages"] != 2.0 ||
		ra["size"] != float64(fi.Size()) || ra["created"] != "2023-11-14T22:13:20Z" || ra["file"] != a {
		t.Errorf("deb-a row: %v", ra)
	}
	if _, err := time.Parse(time.RFC3339Nano, ra["modified"].(string)); err != nil {
		t.Errorf("modified: %v", err)
	}
	if rb := got["deb-b"]; rb["signed"] != false || rb["signature"] != "none" || rb["valid"] != true {
		t.Errorf("deb-b row: %v", rb)
	}
	if rx := got["broken"]; rx["valid"] != false || !strings.Contains(rx["problem"].(string), "no manifest") {
		t.Errorf("broken row: %v", rx)
	}
	out, _, _ = run(t, root, "cache", "list")
	if !strings.Contains(out, "INVALID: no manifest broken.json") || !strings.Contains(out, "unchecked") {
		t.Errorf("list table:\n%s", out)
	}

	// A flipped byte: verify fails naming the file.
	data, _ := os.ReadFile(a)
	data[len(data)/2] ^= 1
	os.WriteFile(a, data, 0o644)
	out, code, err = run(t, root, "cache", "verify", "deb-a")
	exitCode(t, "verify changed cache", code, cli.ExitFailure, err)
	if err == nil || !strings.Contains(err.Error(), a) || !strings.Contains(err.Error(), "SHA-256") || !strings.Contains(out, "FAILED") {
		t.Errorf("verify changed cache: %v\n%s", err, out)
	}

	// rm: all files of a cache, an error for a missing name.
	out, code, err = run(t, root, "cache", "rm", "deb-a", "nosuch")
	exitCode(t, "rm with a missing name", code, cli.ExitFailure, err)
	if err == nil || !strings.Contains(err.Error(), `"nosuch"`) || !strings.Contains(out, "removed deb-a (deb-a.json, deb-a.tar.zst, deb-a.tar.zst.asc)") {
		t.Errorf("rm: %v\n%s", err, out)
	}
	if fileExistsT(a) || fileExistsT(a+".asc") {
		t.Error("rm left files of deb-a")
	}

	// prune: dry run removes nothing; then the old one goes.
	old := time.Now().Add(-40 * 24 * time.Hour)
	os.Chtimes(b, old, old)
	out, code, err = run(t, root, "cache", "prune", "--older-than", "30d", "--dry-run")
	exitCode(t, "prune --dry-run", code, cli.ExitOK, err)
	if !strings.Contains(out, "would remove deb-b") || strings.Contains(out, "broken") || !fileExistsT(b) || !fileExistsT(cache.ManifestPath(b)) {
		t.Errorf("prune --dry-run:\n%s", out)
	}
	out, code, err = run(t, root, "cache", "prune", "--older-than", "30d")
	exitCode(t, "prune", code, cli.ExitOK, err)
	if !strings.Contains(out, "removed deb-b") || fileExistsT(b) || fileExistsT(cache.ManifestPath(b)) {
		t.Errorf("prune:\n%s", out)
	}
	if !fileExistsT(filepath.Join(filepath.Dir(b), "broken.tar.zst")) {
		t.Error("prune removed a cache younger than the age")
	}
	for _, args := range [][]string{{"prune"}, {"prune", "--older-than", "soon"}, {"rm"}, {"verify"}, {"frobnicate"}} {
		_, code, err = run(t, root, append([]string{"cache"}, args...)...)
		exitCode(t, strings.Join(args, " "), code, cli.ExitUsage, err)
	}
}

func fileExistsT(p string) bool { _, err := os.Stat(p); return err == nil }

// Push and pull through a plain-HTTP registry on loopback: only with
// --insecure; the pulled cache is named after the reference, never after
// what the image says, and never replaces another cache unless --replace.
func TestCachePullPush(t *testing.T) {
	reg := ocitest.Start(t)
	root, other := t.TempDir(), t.TempDir()
	local := saveCache(t, root, "debian-12-minimal")
	dir := filepath.Dir(local)
	localBytes := readFileT(t, local)
	localManifest := readFileT(t, cache.ManifestPath(local))
	ref := reg.Addr + "/vzkit/debian:12"

	out, code, err := run(t, root, "cache", "pull", "--help")
	exitCode(t, "pull --help", code, cli.ExitOK, err)
	for _, want := range []string{"/vzkit/debian:12 ", "-> debian-12\n", "-> debian-0123456789ab\n", "--replace", "--name", "--insecure"} {
		if !strings.Contains(out, want) {
			t.Errorf("pull --help lacks %q:\n%s", want, out)
		}
	}

	for _, args := range [][]string{{"push", "debian-12-minimal", ref}, {"pull", ref}} {
		_, code, err = run(t, root, append([]string{"cache"}, args...)...)
		exitCode(t, args[0]+" without --insecure", code, cli.ExitFailure, err)
		if err == nil || !strings.Contains(err.Error(), reg.Addr+" is not marked insecure") || !strings.Contains(err.Error(), "--insecure allows") {
			t.Errorf("%s without --insecure: %v", args[0], err)
		}
	}
	out, code, err = run(t, root, "cache", "push", "debian-12-minimal", ref, "--insecure")
	exitCode(t, "push", code, cli.ExitOK, err)
	if !strings.Contains(out, "pushed ") {
		t.Errorf("push: %s", out)
	}

	// The image's manifest says debian-12-minimal, which exists here.
	out, code, err = run(t, root, "cache", "pull", ref, "--insecure")
	exitCode(t, "pull", code, cli.ExitOK, err)
	pulled := filepath.Join(dir, "debian-12.tar.zst")
	if !strings.Contains(out, "as cache debian-12: "+pulled) || !bytes.Equal(readFileT(t, pulled), localBytes) {
		t.Errorf("pull: %s", out)
	}
	if !bytes.Equal(readFileT(t, local), localBytes) || !bytes.Equal(readFileT(t, cache.ManifestPath(local)), localManifest) {
		t.Error("pull rewrote debian-12-minimal, the name inside the image")
	}
	out, code, err = run(t, root, "cache", "pull", ref, "--insecure")
	exitCode(t, "pull again", code, cli.ExitOK, err)
	if !strings.Contains(out, "cache debian-12 already is") || !strings.Contains(out, "nothing written") {
		t.Errorf("pull of what is there: %s", out)
	}

	// The tag moves on to other bytes.
	saveCache(t, other, "other")
	_, code, err = run(t, other, "cache", "push", "other", ref, "--insecure")
	exitCode(t, "push other", code, cli.ExitOK, err)
	_, code, err = run(t, root, "cache", "pull", ref, "--insecure")
	exitCode(t, "pull over a different debian-12", code, cli.ExitFailure, err)
	if err == nil || !strings.Contains(err.Error(), pulled) || !strings.Contains(err.Error(), filepath.Join(dir, "debian-12.json")) || !strings.Contains(err.Error(), "--replace") {
		t.Errorf("pull over a different debian-12: %v", err)
	}
	if !bytes.Equal(readFileT(t, pulled), localBytes) {
		t.Error("refused pull changed debian-12")
	}
	out, code, err = run(t, root, "cache", "pull", ref, "--insecure", "--name", "other-12")
	exitCode(t, "pull --name", code, cli.ExitOK, err)
	if !strings.Contains(out, "as cache other-12") {
		t.Errorf("pull --name: %s", out)
	}
	out, code, err = run(t, root, "cache", "pull", ref, "--insecure", "--replace")
	exitCode(t, "pull --replace", code, cli.ExitOK, err)
	if !bytes.Equal(readFileT(t, pulled), readFileT(t, filepath.Join(dir, "other-12.tar.zst"))) {
		t.Errorf("pull --replace did not replace debian-12: %s", out)
	}
	_, code, err = run(t, root, "cache", "pull", ref, "--insecure", "--name", "../x")
	exitCode(t, "pull --name ../x", code, cli.ExitUsage, err)
	_, code, err = run(t, root, "cache", "pull", "vzkit/debian:12", "--insecure")
	exitCode(t, "pull without a registry", code, cli.ExitFailure, err)

	// The listing shows the local names, each manifest agreeing.
	out, code, err = run(t, root, "cache", "list", "-o", "json")
	exitCode(t, "list", code, cli.ExitOK, err)
	var rows []struct {
		Name, Manifest string
		Valid          bool
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rows {
		names = append(names, r.Name)
		m, err := cache.ReadManifest(r.Manifest)
		if !r.Valid || err != nil || m.Name != r.Name {
			t.Errorf("listed %s: valid %v, manifest %+v %v", r.Name, r.Valid, m, err)
		}
	}
	if got := strings.Join(names, " "); got != "debian-12 debian-12-minimal other-12" {
		t.Errorf("list: %s", got)
	}
}

func readFileT(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
