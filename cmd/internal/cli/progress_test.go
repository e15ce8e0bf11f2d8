package cli

import (
	"bytes"
	"regexp"
	"testing"
)

// TestStepsNotATerminal: in a log (not a terminal) each step is one line,
// with no cursor movement and no line per item.
func TestStepsNotATerminal(t *testing.T) {
	var b bytes.Buffer
	s := NewSteps(&b, "install")
	s.Start("unpack", 2)
	s.Item("unpack", "libc6", 1, 2)
	s.Item("unpack", "bash", 2, 2)
	s.Done("unpack", 2, 2)
	s.Start("configure", 2)
	s.Item("configure", "libc6", 1, 2)
	s.Done("configure", 1, 2)
	if !regexp.MustCompile(`^install: unpack 2/2 packages in \S+\ninstall: configure 1/2 packages in \S+\n$`).Match(b.Bytes()) {
		t.Errorf("output:\n%q", b.String())
	}
}

func TestGerund(t *testing.T) {
	for verb, want := range map[string]string{"unpack": "unpacking", "configure": "configuring", "install": "installing"} {
		if got := gerund(verb); got != want {
			t.Errorf("gerund(%q) = %q, want %q", verb, got, want)
		}
	}
}
