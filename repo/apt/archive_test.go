package apt

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vzkit/vzkit/internal/testenv"

	"github.com/vzkit/vzkit/internal/pgp"
	"github.com/vzkit/vzkit/repo/fetch"
)

// hostSource finds the host's apt source for suite (deb822 .sources, then
// one-line sources.list), read minimally: this test must not depend on the
// mirror being written anywhere in the repository.
func hostSource(t *testing.T, suite string) (uri, signedBy string) {
	t.Helper()
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, stanza := range strings.Split(string(data), "\n\n") {
			fields := map[string]string{}
			for _, line := range strings.Split(stanza, "\n") {
				if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
					fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
				}
			}
			if strings.Contains(fields["types"], "deb") && contains(strings.Fields(fields["suites"]), suite) &&
				contains(strings.Fields(fields["components"]), "main") {
				return strings.Fields(fields["uris"])[0], fields["signed-by"]
			}
		}
	}
	if f, err := os.Open("/etc/apt/sources.list"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			w := strings.Fields(sc.Text())
			if len(w) < 4 || w[0] != "deb" {
				continue
			}
			opts := ""
			if strings.HasPrefix(w[1], "[") {
				for len(w) > 1 && !strings.HasSuffix(w[1], "]") {
					opts += w[1] + " "
					w = append(w[:1], w[2:]...)
				}
				opts += w[1]
				w = append(w[:1], w[2:]...)
			}
			if len(w) >= 4 && w[2] == suite && contains(w[3:], "main") {
				_, sb, _ := strings.Cut(opts, "signed-by=")
				return w[1], strings.Trim(strings.Fields(sb + " ")[0], "]")
			}
		}
	}
	testenv.Missing(t, "no host apt source for %s main", suite)
	return
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestRealArchive loads bookworm main amd64 from the host's mirror.
func TestRealArchive(t *testing.T) {
	if testing.Short() {
		t.Skip("network test (-short)")
	}
	uri, signedBy := hostSource(t, "bookworm")
	if signedBy == "" || strings.HasPrefix(signedBy, "-----") {
		signedBy = "/usr/share/keyrings/debian-archive-keyring.gpg"
	}
	kr, err := pgp.LoadKeyring(signedBy)
	if err != nil {
		t.Skipf("keyring: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	f := &countingFetcher{c: fetch.New(fetch.Options{})}
	cache := t.TempDir()
	src := Source{URIs: []string{uri}, Suite: "bookworm", Components: []string{"main"}, Arch: "amd64", Keyring: kr}
	start := time.Now()
	idx, err := Load(ctx, f, src, Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s bookworm main amd64: %d packages from %v in %v (cold)", uri, len(idx.Packages), idx.Files, time.Since(start))
	if !idx.Signed || len(idx.Signers) == 0 || len(idx.Packages) < 50000 {
		t.Fatalf("signed=%v signers=%v packages=%d", idx.Signed, idx.Signers, len(idx.Packages))
	}
	byName := map[string]Package{}
	for _, p := range idx.Packages {
		byName[p.Name] = p
	}
	dpkg := byName["dpkg"]
	if !dpkg.Essential || dpkg.Priority != "required" || dpkg.Architecture != "amd64" || !strings.HasPrefix(dpkg.Filename, "pool/main/d/dpkg/") || len(dpkg.SHA256) != 64 {
		t.Fatalf("dpkg stanza %+v", dpkg)
	}
	if p := byName["libc6"]; p.MultiArch != "same" || p.Source != "glibc" {
		t.Fatalf("libc6 stanza %+v", p)
	}
	if p := byName["bash"]; !p.Essential || p.PreDepends == "" {
		t.Fatalf("bash stanza %+v", p)
	}
	// Warm: only InRelease travels again.
	f.paths = nil
	start = time.Now()
	if _, err := Load(ctx, f, src, Options{CacheDir: cache}); err != nil {
		t.Fatal(err)
	}
	t.Logf("warm load in %v, fetched %v", time.Since(start), f.paths)
	if len(f.paths) != 1 {
		t.Fatalf("warm load fetched %v", f.paths)
	}
}
