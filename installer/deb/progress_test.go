package deb

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestStatusWriter feeds real dpkg --status-fd 1 output (testdata, from
// dpkg --unpack and --configure --pending of one package), written in
// small pieces as a pipe delivers it.
func TestStatusWriter(t *testing.T) {
	sample, err := os.ReadFile("testdata/dpkg-status-fd.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		step Step
		want []Progress
	}{
		{StepUnpack, []Progress{{Step: StepUnpack, Total: 1}, {Step: StepUnpack, Package: "vzt", Done: 1, Total: 1}, {Step: StepUnpack, Done: 1, Total: 1, Finished: true}}},
		{StepConfigure, []Progress{{Step: StepConfigure, Total: 1}, {Step: StepConfigure, Package: "vzt", Done: 1, Total: 1}, {Step: StepConfigure, Done: 1, Total: 1, Finished: true}}},
	} {
		var got []Progress
		var log bytes.Buffer
		w := newStatusWriter(&log, c.step, 1, func(p Progress) { got = append(got, p) })
		for b := sample; len(b) > 0; {
			n := min(7, len(b))
			w.Write(b[:n])
			b = b[n:]
		}
		w.finish()
		if len(got) != len(c.want) {
			t.Fatalf("%s: events %+v, want %+v", c.step, got, c.want)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: event %d %+v, want %+v", c.step, i, got[i], c.want[i])
			}
		}
		// dpkg's own messages still reach its log; the status lines do not.
		if !strings.Contains(log.String(), "Setting up vzt (1) ...\n") || strings.Contains(log.String(), "processing:") || strings.Contains(log.String(), "status:") {
			t.Errorf("%s: log:\n%s", c.step, log.String())
		}
	}
}

func FuzzStatusWriter(f *testing.F) {
	if b, err := os.ReadFile("testdata/dpkg-status-fd.txt"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("processing: configure: libc6:amd64\nprocessing: configure\nprocessing: : \n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var events []Progress
		w := newStatusWriter(&bytes.Buffer{}, StepConfigure, 3, func(p Progress) { events = append(events, p) })
		w.Write(b)
		w.finish()
		last := events[len(events)-1]
		if !last.Finished || last.Done > len(events) {
			t.Fatalf("events %+v", events)
		}
	})
}
