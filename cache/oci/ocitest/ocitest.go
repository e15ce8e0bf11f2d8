package ocitest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vzkit/vzkit/internal/testenv"
)

const registryBin = "/usr/bin/docker-registry"

// Registry is a running docker-registry. It speaks plain HTTP only, so
// clients must mark it insecure.
type Registry struct {
	Addr    string // host:port on loopback
	Storage string // storage root directory
	log     *syncBuffer
}

// StartRegistry is Start for tests that need only the address and storage.
func StartRegistry(t testing.TB) (addr, storage string) {
	r := Start(t)
	return r.Addr, r.Storage
}

// Start runs Debian's docker-registry (distribution 2.x) on a free loopback
// port with storage in a temporary directory; it is killed when the test
// ends.
func Start(t testing.TB) *Registry {
	t.Helper()
	if _, err := os.Stat(registryBin); err != nil {
		testenv.Missing(t, "needs %s (apt-get install -y docker-registry)", registryBin)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Registry{Addr: l.Addr().String(), log: &syncBuffer{}}
	l.Close()
	dir := t.TempDir()
	r.Storage = filepath.Join(dir, "storage")
	config := fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, r.Storage, r.Addr)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(registryBin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = r.log, r.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", registryBin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("registry log:\n%s", r.Log())
		}
	})
	// Wait until the registry answers; the bound only keeps a broken
	// registry from hanging the test, it is not what the test checks.
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("registry exited: %v\n%s", err, r.Log())
		default:
		}
		resp, err := client.Get("http://" + r.Addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry on %s not ready: %v\n%s", r.Addr, err, r.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Log returns what the registry logged so far: warnings, and one access
// log line per HTTP request it answered ("GET /v2/ HTTP/1.1" 200 ...).
func (r *Registry) Log() string { return r.log.String() }

// Mark sends GET /v2/?mark=LABEL and waits until the registry has logged
// it. The registry logs requests in the order it finishes them, so every
// request made before Mark is in Log() once Mark returns; the log between
// two marks is what the registry saw in between.
func (r *Registry) Mark(t testing.TB, label string) {
	t.Helper()
	uri := "/v2/?mark=" + url.QueryEscape(label)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + r.Addr + uri)
	if err != nil {
		t.Fatalf("mark %q: %v", label, err)
	}
	resp.Body.Close()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(r.Log(), uri+" "); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("registry did not log mark %q:\n%s", label, r.Log())
		}
	}
}

// syncBuffer is a bytes.Buffer that the registry's output goroutines may
// write while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
