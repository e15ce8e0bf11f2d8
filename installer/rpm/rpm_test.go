package rpm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vzkit/vzkit/internal/testenv"
	"github.com/vzkit/vzkit/internal/testfixtures"
)

// Every real package of the fixtures is read as rpm reads it: the same
// name, epoch, version, release and arch, the same file list; the ones
// rpm cannot read (an empty file, altered headers) Open refuses too.
func TestOpenAsRPM(t *testing.T) {
	rpmBin := testenv.NeedTool(t, "rpm", "rpm")
	var files []string
	filepath.Walk(testfixtures.Dir(), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && (strings.HasSuffix(p, ".rpm") || strings.HasSuffix(p, ".rpm-v3")) {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 50 {
		t.Fatalf("only %d .rpm fixtures", len(files))
	}
	refused := 0
	for _, f := range files {
		rel := strings.TrimPrefix(f, testfixtures.Dir()+"/")
		// --nosignature: rpm 4.18 cannot parse ECDSA signatures; the
		// digests are still checked.
		out, err := exec.Command(rpmBin, "-qp", "--nosignature",
			"--qf", `%{NAME}-%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}.%{ARCH}\n[%{FILENAMES}\n]`, f).Output()
		p, oerr := Open(f)
		if err != nil {
			if oerr == nil {
				t.Errorf("%s: rpm -qp fails (%v) but Open reads it", rel, err)
			}
			refused++
			continue
		}
		if oerr != nil {
			t.Errorf("%s: Open: %v; rpm -qp reads it", rel, oerr)
			continue
		}
		var got strings.Builder
		got.WriteString(p.NEVRA() + "\n")
		for _, fl := range p.Files() {
			got.WriteString(fl.Path + "\n")
		}
		if got.String() != string(out) {
			t.Errorf("%s:\nOpen:\n%s\nrpm -qp:\n%s", rel, got.String(), out)
		}
	}
	if refused != 3 {
		t.Errorf("%d packages refused by both, want 3 (no.rpm, the two broken headers)", refused)
	}
}
