package fetch

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var payload = bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB

func testClient() *Client {
	return New(Options{Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		HeaderTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond})
}

func TestFlakyServerRetries(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Write(payload)
	}))
	defer srv.Close()
	var buf bytes.Buffer
	res, err := testClient().Get(context.Background(), srv.URL+"/f", &buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), payload) || res.Size != int64(len(payload)) {
		t.Fatalf("got %d bytes, want %d", buf.Len(), len(payload))
	}
	if hits.Load() != 4 {
		t.Fatalf("server saw %d requests, want 4", hits.Load())
	}
}

func TestGivesUpAfterRetries(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	defer srv.Close()
	c := New(Options{Retries: 2, Backoff: time.Millisecond})
	_, err := c.Get(context.Background(), srv.URL+"/x", &bytes.Buffer{}, 0)
	if err == nil || !strings.Contains(err.Error(), srv.URL+"/x") || !strings.Contains(err.Error(), "500") {
		t.Fatalf("error %v should name the URL and the status", err)
	}
	if hits.Load() != 3 {
		t.Fatalf("server saw %d requests, want 3 (1 + 2 retries)", hits.Load())
	}
}

func TestNotFoundIsNotRetried(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	_, err := testClient().Get(context.Background(), srv.URL+"/missing", &bytes.Buffer{}, 0)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
	if hits.Load() != 1 {
		t.Fatalf("404 was requested %d times, want 1", hits.Load())
	}
}

func TestSlowHeadersRetried(t *testing.T) {
	var hits atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			<-release // never answers before the client gives up on headers
			return
		}
		w.Write(payload)
	}))
	defer srv.Close()
	defer close(release)
	var buf bytes.Buffer
	if _, err := testClient().Get(context.Background(), srv.URL+"/slow", &buf, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), payload) || hits.Load() != 2 {
		t.Fatalf("got %d bytes after %d requests", buf.Len(), hits.Load())
	}
}

func TestMirrorFailover(t *testing.T) {
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer bad.Close()
	missing := httptest.NewServer(http.NotFoundHandler())
	defer missing.Close()
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/debian/pool/x.deb" {
			http.NotFound(w, r)
			return
		}
		w.Write(payload)
	}))
	defer good.Close()
	var buf bytes.Buffer
	res, err := testClient().Fetch(context.Background(), Request{
		Mirrors: []string{bad.URL + "/debian", missing.URL + "/debian/", good.URL + "/debian"},
		Path:    "pool/x.deb",
	}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if res.Mirror != good.URL+"/debian" || res.URL != good.URL+"/debian/pool/x.deb" {
		t.Fatalf("served by %q (%q), want the third mirror", res.Mirror, res.URL)
	}
	if !bytes.Equal(buf.Bytes(), payload) {
		t.Fatal("payload differs")
	}
}

func TestAllMirrorsMissing(t *testing.T) {
	a := httptest.NewServer(http.NotFoundHandler())
	defer a.Close()
	b := httptest.NewServer(http.NotFoundHandler())
	defer b.Close()
	_, err := testClient().Fetch(context.Background(), Request{Mirrors: []string{a.URL, b.URL}, Path: "InRelease"}, &bytes.Buffer{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

// The first response is cut after half the body; the retry must ask for the
// rest with Range, and the result must be the whole file exactly once.
func TestResumeAfterCut(t *testing.T) {
	var hits atomic.Int32
	var ranges []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		mu.Unlock()
		if hits.Add(1) == 1 {
			w.Header().Set("Content-Length", "65536")
			w.Write(payload[:30000])
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		http.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(payload))
	}))
	defer srv.Close()
	var buf bytes.Buffer
	var last int64
	if _, err := testClient().Fetch(context.Background(), Request{Mirrors: []string{srv.URL + "/f"},
		Progress: func(n, total int64) { last = n }}, &buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), payload) {
		t.Fatalf("got %d bytes, want the %d-byte payload", buf.Len(), len(payload))
	}
	if len(ranges) != 2 || ranges[1] != "bytes=30000-" {
		t.Fatalf("Range headers %q, want a resume from 30000", ranges)
	}
	if last != int64(len(payload)) {
		t.Fatalf("last progress %d, want %d", last, len(payload))
	}
}

func TestStalledBodyRetried(t *testing.T) {
	var hits atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Content-Length", "65536")
			w.Write(payload[:100])
			w.(http.Flusher).Flush()
			<-release
			return
		}
		http.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(payload))
	}))
	defer srv.Close()
	defer close(release)
	var buf bytes.Buffer
	if _, err := testClient().Get(context.Background(), srv.URL+"/f", &buf, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), payload) {
		t.Fatalf("got %d bytes", buf.Len())
	}
}

func TestSizeLimit(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/chunked" {
			w.Write(payload[:10])
			w.(http.Flusher).Flush() // no Content-Length: the limit must hold while reading
		}
		w.Write(payload)
	}))
	defer srv.Close()
	for _, p := range []string{"/announced", "/chunked"} {
		_, err := testClient().Get(context.Background(), srv.URL+p, &bytes.Buffer{}, 1000)
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want ErrTooLarge naming the URL", p, err)
		}
	}
	if hits.Load() != 2 {
		t.Errorf("too large was retried: %d requests", hits.Load())
	}
}

func TestFileURL(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Release"), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	res, err := testClient().Fetch(context.Background(), Request{Mirrors: []string{"file://" + dir}, Path: "Release"}, &buf)
	if err != nil || !bytes.Equal(buf.Bytes(), payload) || res.Size != int64(len(payload)) {
		t.Fatalf("err %v, %d bytes", err, buf.Len())
	}
	_, err = testClient().Fetch(context.Background(), Request{Mirrors: []string{"file://" + dir}, Path: "InRelease"}, &buf)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "InRelease") {
		t.Fatalf("missing file: err = %v", err)
	}
	_, err = testClient().Get(context.Background(), "file://"+dir+"/Release", &bytes.Buffer{}, 10)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("file size limit: err = %v", err)
	}
}

// TestFileURLNotRegular: a file:// URL naming a FIFO fails instead of
// blocking in open or read, and a symlink to a regular file is followed.
func TestFileURLNotRegular(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mkfifo(filepath.Join(dir, "InRelease"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "real"), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(dir, "Release")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := testClient().Fetch(context.Background(), Request{Mirrors: []string{"file://" + dir}, Path: "InRelease"}, &bytes.Buffer{})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("FIFO: err = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("fetching a FIFO through file:// did not return")
	}
	var buf bytes.Buffer
	if _, err := testClient().Fetch(context.Background(), Request{Mirrors: []string{"file://" + dir}, Path: "Release"}, &buf); err != nil || !bytes.Equal(buf.Bytes(), payload) {
		t.Errorf("symlink: err %v, %d bytes", err, buf.Len())
	}
}

func TestContextCancelStops(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	c := New(Options{Retries: 100, Backoff: time.Hour, MaxBackoff: time.Hour})
	go func() {
		for hits.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if _, err := c.Get(ctx, srv.URL, &bytes.Buffer{}, 0); err == nil {
		t.Fatal("cancelled fetch succeeded")
	}
	if hits.Load() != 1 {
		t.Fatalf("%d requests after cancel", hits.Load())
	}
}

// A body that keeps trickling never trips the idle timer; the per-attempt
// deadline must end it and the retry must succeed.
func TestAttemptDeadline(t *testing.T) {
	var hits atomic.Int32
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Content-Length", "65536")
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-r.Context().Done():
					return
				case <-time.After(10 * time.Millisecond):
				}
				if _, err := w.Write(payload[i : i+1]); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}
		http.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(payload))
	}))
	defer srv.Close()
	defer close(stop)
	c := New(Options{Backoff: time.Millisecond, AttemptTimeout: 300 * time.Millisecond, IdleTimeout: time.Minute})
	var buf bytes.Buffer
	if _, err := c.Get(context.Background(), srv.URL+"/f", &buf, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), payload) || hits.Load() != 2 {
		t.Fatalf("got %d bytes in %d requests", buf.Len(), hits.Load())
	}
}
