package runtime

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/runtime/resource"
)

// The record of the configuration in force is read back as written, and
// only from vzkit's own directory and file: a symlink, a file or a
// directory others may write is refused, not followed or trusted.
func TestInForceRecord(t *testing.T) {
	s := testStore(t)
	if err := os.MkdirAll(s.ctDir(), 0o711); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.readInForce("101"); ok || err != nil {
		t.Fatalf("no record: ok %v, err %v; want none and no error", ok, err)
	}
	rc := resource.Default()
	if err := rc.Set("NUMPROC", "80"); err != nil {
		t.Fatal(err)
	}
	if err := s.recordInForce("101", rc); err != nil {
		t.Fatal(err)
	}
	rec := s.inForceRecord("101")
	if filepath.Dir(rec) != s.ctDir() {
		t.Errorf("record %s is not in STATEDIR/ct itself (a gate below it is the container's)", rec)
	}
	back, ok, err := s.readInForce("101")
	if err != nil || !ok || !reflect.DeepEqual(back, rc) {
		t.Fatalf("read back: %+v %v %v; want %+v", back, ok, err, rc)
	}

	refused := func(what string) {
		t.Helper()
		if _, _, err := s.readInForce("101"); err == nil || !strings.Contains(err.Error(), "container 101") {
			t.Errorf("%s: read with error %v", what, err)
		}
	}
	if err := os.Chmod(rec, 0o666); err != nil {
		t.Fatal(err)
	}
	refused("a record others may write")
	if err := os.Remove(rec); err != nil {
		t.Fatal(err)
	}
	elsewhere := filepath.Join(t.TempDir(), "rec")
	if err := os.WriteFile(elsewhere, rc.Record(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, rec); err != nil {
		t.Fatal(err)
	}
	refused("a symlink")
	os.Remove(rec)
	if err := os.WriteFile(rec, []byte("NUMPROC=\"80:80\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	refused("a partial record")

	if err := os.Chmod(s.ctDir(), 0o733); err != nil {
		t.Fatal(err)
	}
	refused("STATEDIR/ct writable by others")
	if err := s.recordInForce("101", rc); err == nil {
		t.Error("recorded into a STATEDIR/ct writable by others")
	}
	if err := os.Chmod(s.ctDir(), 0o711); err != nil {
		t.Fatal(err)
	}

	// What a run leaves goes when it ends.
	if err := s.recordInForce("101", rc); err != nil {
		t.Fatal(err)
	}
	s.forgetInit("101")
	if _, err := os.Lstat(rec); !os.IsNotExist(err) {
		t.Errorf("forgetInit left the record: %v", err)
	}
}
