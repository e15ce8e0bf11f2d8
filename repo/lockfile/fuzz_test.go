package lockfile

import (
	"bytes"
	"testing"

	"github.com/vzkit/vzkit/repo/apt"
)

// FuzzParse feeds Parse mutations of a real lock: every package of Debian's
// bookworm-updates suite from the shared fixtures. Whatever Parse accepts
// must survive Marshal and parse back to the same bytes.
func FuzzParse(f *testing.F) {
	{
		ix := loadFixture(f)
		var pkgs = ix.Packages[:0:0]
		for _, p := range ix.Packages {
			if p.Architecture == "amd64" || p.Architecture == "all" {
				pkgs = append(pkgs, p)
			}
		}
		l, err := New(Meta{Template: "debian-12-updates", Arch: "amd64"}, []Source{indexed(Source{Repository: "updates", Suite: "bookworm-updates", Components: []string{"main"}}, ix)}, apt.Neutral(pkgs, ""))
		if err != nil {
			f.Fatal(err)
		}
		data, err := l.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"version":1,"template":"t","arch":"amd64","repositories":[],"packages":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse(data, "fuzz")
		if err != nil {
			return
		}
		out, err := l.Marshal()
		if err != nil {
			t.Fatalf("accepted lock does not marshal: %v", err)
		}
		back, err := Parse(out, "again")
		if err != nil {
			t.Fatalf("marshalled lock does not parse: %v\n%s", err, out)
		}
		again, _ := back.Marshal()
		if !bytes.Equal(out, again) {
			t.Fatalf("not canonical:\n%s\n---\n%s", out, again)
		}
	})
}
