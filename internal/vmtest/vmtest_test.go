package vmtest

import (
	"strings"
	"testing"
)

// TestParseConsole checks how a run's output and exit status are read off
// the console: only this run's markers count, the init's closing newline
// is not output, and a console without the trailer is an error.
func TestParseConsole(t *testing.T) {
	const n = "abc"
	for _, tc := range []struct {
		name, con, out string
		code           int
		err            string
	}{
		{"output", "SeaBIOS\r\nvzkit-vm-begin abc uptime=9.1\r\nhello\r\nworld\r\n\r\nvzkit-vm-end abc 0\r\n[ 9.9] sysrq: Power Off\r\n",
			"hello\nworld\n", 0, ""},
		{"unterminated last line", "vzkit-vm-begin abc uptime=1\nno newline\nvzkit-vm-end abc 7\n", "no newline", 7, ""},
		{"empty", "vzkit-vm-begin abc uptime=1\n\nvzkit-vm-end abc 0\n", "", 0, ""},
		{"faked trailer", "vzkit-vm-begin abc uptime=1\nvzkit-vm-end xyz 0\nreal\n\nvzkit-vm-end abc 1\n",
			"vzkit-vm-end xyz 0\nreal\n", 1, ""},
		{"no begin", "Kernel panic - not syncing\n", "", -1, "never started"},
		{"no end", "vzkit-vm-begin abc uptime=1\npartial\n", "partial\n", -1, "before the script ended"},
		{"bad status", "vzkit-vm-begin abc uptime=1\n\nvzkit-vm-end abc x\n", "", -1, "bad exit status"},
	} {
		out, code, err := parseConsole(tc.con, n)
		if out != tc.out || code != tc.code || (err == nil) != (tc.err == "") ||
			(err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: got %q, %d, %v; want %q, %d, error %q", tc.name, out, code, err, tc.out, tc.code, tc.err)
		}
	}
}
