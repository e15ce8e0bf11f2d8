package deb

import (
	"bytes"
	"os"
	"testing"
)

// TestStatusWriter feeds real dpkg output (testdata, from dpkg --unpack and
// --configure --pending of one package under LC_ALL=C.UTF-8), written in
// small pieces as a pipe delivers it.
func TestStatusWriter(t *testing.T) {
	sample, err := os.ReadFile("testdata/dpkg-output.txt")
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
		// dpkg's messages all reach its log.
		if log.String() != string(sample) {
			t.Errorf("%s: log:\n%s", c.step, log.String())
		}
	}
}

func FuzzStatusWriter(f *testing.F) {
	if b, err := os.ReadFile("testdata/dpkg-output.txt"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("Setting up libc6:amd64 (2.36-9) ...\nSetting up (\nSetting up a b (1)\nUnpacking x (1) over (0) ...\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var events []Progress
		w := newStatusWriter(&bytes.Buffer{}, StepConfigure, 3, func(p Progress) { events = append(events, p) })
		w.Write(b)
		w.finish()
		last := events[len(events)-1]
		if !last.Finished || last.Done > len(events) {
			t.Fatalf("events %+v", events)
		}
		for _, e := range events {
			if e.Package != "" && !packageNameRE.MatchString(e.Package) {
				t.Fatalf("reported package %q", e.Package)
			}
		}
	})
}

// A maintainer script that prints a line like dpkg's cannot put its text on
// the progress line: only valid package names are reported.
func TestStatusWriterIgnoresForgedLines(t *testing.T) {
	var got []Progress
	w := newStatusWriter(&bytes.Buffer{}, StepConfigure, 2, func(p Progress) { got = append(got, p) })
	w.Write([]byte("Setting up \x1b[2J\x1b]0;owned\x07 (1) ...\nSetting up Bad_Name (1) ...\nSetting up libc6:amd64 (2.36-9) ...\n"))
	w.finish()
	if len(got) != 3 || got[1].Package != "libc6" || got[1].Done != 1 {
		t.Errorf("events %+v, want only libc6 between start and end", got)
	}
}
