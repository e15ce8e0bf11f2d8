package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMissingFailsUnderCI runs a test that lacks a tool twice in a child
// process: skipped on a developer machine, failed under CI.
func TestMissingFailsUnderCI(t *testing.T) {
	for _, tc := range []struct {
		ci   string
		want string
	}{
		{"", "--- SKIP: TestHelperNeedsAbsentTool"},
		{"true", "--- FAIL: TestHelperNeedsAbsentTool"},
	} {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^TestHelperNeedsAbsentTool$", "-test.v")
		cmd.Env = append(cmd.Environ(), "CI="+tc.ci, "VZKIT_TESTENV_HELPER=1")
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "apt-get install no-such-package") {
			t.Errorf("CI=%q: want %q and the package named, got:\n%s", tc.ci, tc.want, out)
		}
	}
}

func TestHelperNeedsAbsentTool(t *testing.T) {
	if os.Getenv("VZKIT_TESTENV_HELPER") != "1" {
		t.Skip("run by TestMissingFailsUnderCI only")
	}
	NeedTool(t, "vzkit-no-such-tool", "no-such-package")
	t.Error("NeedTool returned for a tool that does not exist")
}
