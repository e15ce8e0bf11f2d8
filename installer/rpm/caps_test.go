package rpm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/internal/testenv"
)

// capXattr must give what libcap's setcap writes for the same text (rpm
// uses libcap's cap_from_text and cap_set_fd).
func TestCapXattrAsSetcap(t *testing.T) {
	testenv.NeedRoot(t, "setcap writes security.capability")
	setcap := testenv.NeedTool(t, "setcap", "libcap2-bin")
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{
		"cap_net_raw=ep",
		"cap_setuid,cap_setgid+ep",
		"=",
		"all=ep",
		"cap_sys_admin=p cap_net_raw=i",
		"cap_chown,cap_fowner=eip cap_fowner-i",
		"=ep cap_sys_admin-ep",
		"cap_perfmon,cap_bpf,cap_checkpoint_restore=p",
		"CAP_NET_BIND_SERVICE+ep",
	} {
		if out, err := exec.Command(setcap, text, file).CombinedOutput(); err != nil {
			t.Fatalf("setcap %q: %v %s", text, err, out)
		}
		want := make([]byte, 64)
		n, err := unix.Getxattr(file, "security.capability", want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := capXattr(text)
		if err != nil || !bytes.Equal(got, want[:n]) {
			t.Errorf("capXattr(%q) = %x, %v; setcap wrote %x", text, got, err, want[:n])
		}
	}
}

func TestCapXattrErrors(t *testing.T) {
	for text, msg := range map[string]string{
		"cap_no_such=ep":             `unknown capability "cap_no_such"`,
		"cap_net_raw":                "has no operator",
		"cap_net_raw=x":              "unknown flag",
		"cap_net_raw=ep cap_chown=p": "the effective set must be empty or equal",
	} {
		if _, err := capXattr(text); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("capXattr(%q): %v, want %q", text, err, msg)
		}
	}
	if b, err := capXattr(""); b != nil || err != nil {
		t.Errorf(`capXattr(""): %x, %v; want no xattr`, b, err)
	}
}
