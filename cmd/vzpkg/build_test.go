package main

import (
	"os"
	"strings"
	"testing"
)

// A shipped RPM template is refused before anything is fetched, naming the
// template and the missing RPM back end; nothing pretends to build it.
func TestBuildRPMTemplateNeedsBackend(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("build checks for root first")
	}
	for _, cmd := range []string{"build", "fetch", "lock"} {
		root := t.TempDir()
		out, code, err := run(t, root, cmd, "fedora-42-minimal")
		if code == 0 || err == nil {
			t.Fatalf("%s fedora-42-minimal: exit %d\n%s", cmd, code, out)
		}
		if msg := err.Error(); !strings.Contains(msg, "template fedora-42-minimal") || !strings.Contains(msg, "RPM back end") {
			t.Errorf("%s: error %q, want it to name the template and the RPM back end", cmd, msg)
		}
		if strings.Contains(out, "index ") || strings.Contains(out, "download") {
			t.Errorf("%s: work done before the refusal:\n%s", cmd, out)
		}
	}
}
