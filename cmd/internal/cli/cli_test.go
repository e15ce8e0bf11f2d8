package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// Outside a terminal each finished file is one log line, failures say why.
func TestTransferQuietLinesWhenNotATerminal(t *testing.T) {
	var buf bytes.Buffer
	tr := NewTransfer(&buf, "download", 2, 300)
	tr.FileStart("a.deb", 100)
	tr.Advance(100)
	tr.FileDone("a.deb", 100, nil)
	tr.FileStart("b.deb", 200)
	tr.FileDone("b.deb", 200, errors.New("sha256 mismatch"))
	tr.Finish()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 || lines[0] != "download [1/2] a.deb (100 B) ok" ||
		lines[1] != "download [2/2] b.deb (200 B) FAILED: sha256 mismatch" || !strings.HasPrefix(lines[2], "download: 2 files, 100 B in ") {
		t.Errorf("unexpected output:\n%s", buf.String())
	}
	if strings.Contains(buf.String(), "\r") {
		t.Error("carriage returns written to a non-terminal")
	}
}

func TestParseFormat(t *testing.T) {
	if f, err := ParseFormat("json"); err != nil || f != JSON {
		t.Errorf("json: %v %v", f, err)
	}
	_, err := ParseFormat("yaml")
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != ExitUsage || !strings.Contains(err.Error(), `"yaml"`) {
		t.Errorf("bad format not a usage error naming it: %v", err)
	}
}
