package resource

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/runtime/vzconf"
)

func TestParseValue(t *testing.T) {
	for _, c := range []struct {
		in   string
		unit Unit
		want Value
		err  string
	}{
		{"65536", Pages, 65536, ""},
		{"256M", Pages, 65536, ""},
		{"256m", Pages, 65536, ""},
		{"1G", Pages, 262144, ""},
		{"1", Pages, 1, ""},
		{"5K", Pages, 2, ""}, // rounded up to whole pages
		{"10P", Bytes, 40960, ""},
		{"10P", Pages, 10, ""},
		{"1G", KBlocks, 1 << 20, ""},
		{"1048576", KBlocks, 1 << 20, ""},
		{"unlimited", Count, Unlimited, ""},
		{"9223372036854775807", Count, Unlimited, ""},
		{"99999999999999999999", Count, Unlimited, ""},
		{"10000000T", Bytes, Unlimited, ""}, // saturates, never wraps
		{"240", Count, 240, ""},
		{"10K", Count, 0, "no K suffix"},
		{"1P", KBlocks, 0, "no P"},
		{"", Count, 0, "want a number"},
		{"-1", Count, 0, "want a number"},
		{"1.5G", Pages, 0, "want a number"},
		{"12MM", Pages, 0, "want a number"},
		{"G", Pages, 0, "want a number"},
	} {
		got, err := ParseValue(c.in, c.unit)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseValue(%q, %v) = %v, %v; want error %q", c.in, c.unit, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseValue(%q, %v) = %v, %v; want %v", c.in, c.unit, got, err, c.want)
		}
	}
}

func TestParsePair(t *testing.T) {
	for in, want := range map[string]Pair{
		"0:256M":              {0, 65536},
		"240:240":             {240, 240},
		"240":                 {240, 240},
		"33792:unlimited":     {33792, Unlimited},
		"unlimited":           UnlimitedPair,
		"14372700:14790164":   {14372700, 14790164},
		"9223372036854775807": UnlimitedPair,
	} {
		unit := Pages
		if strings.HasPrefix(in, "14") {
			unit = Bytes
		}
		got, err := ParsePair(in, unit)
		if err != nil || got != want {
			t.Errorf("ParsePair(%q) = %v, %v; want %v", in, got, err, want)
		}
		// The canonical form reads back the same.
		if back, err := ParsePair(got.String(), unit); err != nil || back != got {
			t.Errorf("ParsePair(%q) round trip: %v, %v", got.String(), back, err)
		}
	}
	if _, err := ParsePair("1:2:3", Count); err == nil {
		t.Error("1:2:3 parsed")
	}
}

func parseFile(t *testing.T, path string) Config {
	t.Helper()
	f, err := vzconf.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(func(key string) (string, string, bool) {
		v, ok := f.Get(key)
		return v, path, ok
	})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

var host = Host{CPUs: 2, NoFileMax: 20000, NoFileSoft: 1024, Devices: []BlockDevice{{Major: 254, Minor: 0, Name: "vda"}}}

// OpenVZ's own samples map as they are: vswap-256m to 256 MiB of RAM
// plus 512 MiB of swap; basic (pre-vswap) to its NUMPROC, NUMFILE,
// LOCKEDPAGES and its PRIVVMPAGES limit as the memory cap.
func TestOpenVZSamples(t *testing.T) {
	vswap := parseFile(t, "testdata/openvz-ve-vswap-256m.conf-sample")
	r, notes, err := vswap.Sandbox(host, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.MemoryBytes != 256<<20 || r.MemorySwapBytes != 768<<20 || r.PidsLimit != 0 || r.CPUShares != 1024 || r.CPUWeight != 100 {
		t.Errorf("vswap-256m: %+v", r)
	}
	if vswap.Disk.Space.Limit != 1<<20 || vswap.Disk.Inodes.Limit != 200000 {
		t.Errorf("vswap-256m disk: %+v", vswap.Disk)
	}
	if len(notes) != 0 {
		t.Errorf("vswap-256m notes: %q", notes)
	}

	basic := parseFile(t, "testdata/openvz-ve-basic.conf-sample")
	r, notes, err = basic.Sandbox(host, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.PidsLimit != 240 || r.MemoryBytes != 69632*4096 || r.MemorySwapBytes != 69632*4096 {
		t.Errorf("basic: pids %d memory %d memsw %d", r.PidsLimit, r.MemoryBytes, r.MemorySwapBytes)
	}
	rl := map[int]uint64{}
	for _, l := range r.Rlimits {
		rl[l.Resource] = l.Hard
	}
	if rl[unix.RLIMIT_NOFILE] != 9312 || rl[unix.RLIMIT_MEMLOCK] != 2048*4096 {
		t.Errorf("basic rlimits: %+v", r.Rlimits)
	}
	if r.IPCSysctls["kernel.shmall"] != "21504" || r.IPCSysctls["kernel.shmmax"] != "88080384" {
		t.Errorf("basic shm sysctls: %v", r.IPCSysctls)
	}
	if len(notes) != 0 {
		t.Errorf("basic notes: %q", notes)
	}

	// A CTID.conf as OpenVZ's vzctl leaves it parses too.
	parseFile(t, "testdata/openvz-101.conf")
}

func TestSandboxCPU(t *testing.T) {
	c := Default()
	for _, tc := range []struct {
		units, limit, cpus Value
		shares, weight     uint64
		quota              int64
		note               bool
	}{
		{1000, 0, 0, 1024, 100, 0, false},
		{3000, 50, 0, 3072, 300, 50000, false},
		{8, 150, 1, 8, 1, 100000, false},
		{500000, 300, 0, 262144, 10000, 200000, true}, // held to 2 CPUs
	} {
		c.CPUUnits, c.CPULimit, c.CPUs = tc.units, tc.limit, tc.cpus
		r, notes, err := c.Sandbox(host, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.CPUShares != tc.shares || r.CPUWeight != tc.weight || r.CPUQuotaMicros != tc.quota {
			t.Errorf("units %d limit %d cpus %d: shares %d weight %d quota %d", tc.units, tc.limit, tc.cpus, r.CPUShares, r.CPUWeight, r.CPUQuotaMicros)
		}
		if (len(notes) > 0) != tc.note {
			t.Errorf("units %d limit %d: notes %q", tc.units, tc.limit, notes)
		}
	}
}

func TestValidate(t *testing.T) {
	c := Default()
	c.CPULimit = 250
	var re *RangeError
	if err := c.Validate(host); !errors.As(err, &re) || re.Want != "0..200 (100 per CPU, 2 CPUs)" {
		t.Errorf("CPULIMIT 250 on 2 CPUs: %v", err)
	}
	c = Default()
	if err := c.Set("cpumask", "0-2"); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(host); err == nil || !strings.Contains(err.Error(), "CPUMASK") {
		t.Errorf("CPUMASK 0-2 on 2 CPUs: %v", err)
	}
	if err := c.Set("CPUUNITS", "7"); !errors.As(err, &re) || re.Want != "8..500000" {
		t.Errorf("CPUUNITS 7: %v", err)
	}
}

func TestDevices(t *testing.T) {
	c := Default()
	if err := c.Set("DEVICES", "c:10:200:rw b:8:all:r"); err != nil {
		t.Fatal(err)
	}
	if err := c.Set("DEVNODES", "net/tun:rw sda:none"); err != nil {
		t.Fatal(err)
	}
	nodes := map[string]HostNode{"net/tun": {Type: 'c', Major: 10, Minor: 200}, "sda": {Type: 'b', Major: 8}}
	r, _, err := c.Sandbox(host, nodes)
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, d := range r.Devices {
		s := string(d.Type) + " " + d.Access
		if d.Deny {
			s = "deny " + s
		}
		rules = append(rules, s)
	}
	if got := strings.Join(rules, ","); got != "c rw,b r,deny b w,c rw,deny b rw" {
		t.Errorf("device rules: %s", got)
	}
	if len(r.DeviceNodes) != 1 || r.DeviceNodes[0].Path != "/dev/net/tun" {
		t.Errorf("device nodes: %+v", r.DeviceNodes)
	}
	if _, _, err := c.Sandbox(host, nil); err == nil {
		t.Error("DEVNODES of a node the host lacks mapped")
	}
	for _, bad := range []string{"../x:rw", "/etc/passwd:rw", "a/../../b:r", "sda", "sda:rwx", "s da:rw"} {
		if _, err := ParseDevNodes(bad); err == nil {
			t.Errorf("DEVNODES %q accepted", bad)
		}
	}
}

// FuzzParse feeds OpenVZ configuration values to every parameter's
// parser: no panic, and what parses is written back in a form that parses
// to the same value.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"openvz-ve-basic.conf-sample", "openvz-ve-vswap-256m.conf-sample", "openvz-101.conf"} {
		file, err := vzconf.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		for _, k := range file.Keys() {
			v, _ := file.Get(k)
			f.Add(k, v)
		}
	}
	f.Add("DEVICES", "c:10:200:rw b:8:all:none")
	f.Add("CPUMASK", "0-3,7")
	f.Add("IOLIMIT", "10M")
	f.Fuzz(func(t *testing.T, key, value string) {
		p, ok := Lookup(key)
		if !ok {
			return
		}
		c := Default()
		if err := c.Set(p.Key, value); err != nil {
			return
		}
		s := c.Get(p)
		back := Default()
		if err := back.Set(p.Key, s); err != nil {
			t.Fatalf("%s=%q parsed, but its canonical form %q does not: %v", p.Key, value, s, err)
		}
		if got := back.Get(p); got != s {
			t.Fatalf("%s=%q: canonical %q reads back as %q", p.Key, value, s, got)
		}
		c.Sandbox(host, nil)
	})
}

// The README's table is the parameters' own: every one listed with the
// way it is held.
func TestREADMETable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range Params {
		row := "| `" + p.Key + "` | `--" + p.Flag + "` | "
		i := strings.Index(string(b), row)
		if i < 0 {
			t.Errorf("README has no row for %s", p.Key)
			continue
		}
		line, _, _ := strings.Cut(string(b[i:]), "\n")
		if !strings.Contains(line, p.Enforcement.String()) || !strings.Contains(line, strings.ReplaceAll(p.Mapping, "|", `\|`)) {
			t.Errorf("README row of %s is not its mapping (%s: %s):\n%s", p.Key, p.Enforcement, p.Mapping, line)
		}
	}
}

// recordSamples are configurations as the record keeps them: OpenVZ's
// samples, and one with every kind of value set.
func recordSamples(t testing.TB) []Config {
	var out []Config
	for _, name := range []string{"openvz-ve-basic.conf-sample", "openvz-ve-vswap-256m.conf-sample", "openvz-101.conf"} {
		f, err := vzconf.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Parse(func(key string) (string, string, bool) {
			v, ok := f.Get(key)
			return v, name, ok
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	c := Default()
	for k, v := range map[string]string{
		"NUMPROC": "80", "CPULIMIT": "50", "CPUUNITS": "3000", "CPUS": "1", "CPUMASK": "0-3,7", "IOPRIO": "7",
		"IOLIMIT": "10M", "DEVICES": "c:10:200:rw b:8:all:none", "DEVNODES": "net/tun:rw", "QUOTAUGIDLIMIT": "100",
		"PHYSPAGES": "0:256M", "SWAPPAGES": "0:512M",
	} {
		if err := c.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	return append(out, c)
}

// A record reads back as the configuration it was written from, and
// writing that again gives the same bytes.
func TestRecordRoundTrip(t *testing.T) {
	for i, c := range recordSamples(t) {
		rec := c.Record()
		back, err := ParseRecord(rec)
		if err != nil {
			t.Fatalf("sample %d: ParseRecord(Record()): %v\n%s", i, err, rec)
		}
		if !reflect.DeepEqual(back, c) {
			t.Errorf("sample %d: read back as %+v, want %+v", i, back, c)
		}
		if again := back.Record(); !bytes.Equal(again, rec) {
			t.Errorf("sample %d: written again as\n%s\nwant\n%s", i, again, rec)
		}
	}
	c := recordSamples(t)[3]
	rec := string(c.Record())
	if !strings.Contains(rec, "NUMPROC=\"80:80\"\n") || !strings.Contains(rec, "CPUMASK=\"0-3,7\"\n") || strings.Count(rec, "\n") != len(Params) {
		t.Errorf("record is not one canonical KEY=\"value\" line per parameter:\n%s", rec)
	}
	if !c.VSwap() || Default().VSwap() {
		t.Errorf("VSwap: %v for 256M RAM + 512M swap, %v for the default", c.VSwap(), Default().VSwap())
	}
}

// Anything but what Record writes is refused, naming the line.
func TestParseRecordRefuses(t *testing.T) {
	good := string(Default().Record())
	for name, bad := range map[string]string{
		"empty":           "",
		"no final":        strings.TrimSuffix(good, "\n"),
		"missing key":     strings.Replace(good, "NUMPROC=\"unlimited:unlimited\"\n", "", 1),
		"twice":           good + "NUMPROC=\"1\"\n",
		"unknown":         good + "FOO=\"1\"\n",
		"lower-case key":  strings.Replace(good, "NUMPROC=", "numproc=", 1),
		"comment":         "# in force\n" + good,
		"blank line":      "\n" + good,
		"unquoted":        strings.Replace(good, "NUMPROC=\"unlimited:unlimited\"", "NUMPROC=80", 1),
		"quote inside":    strings.Replace(good, "NUMPROC=\"unlimited:unlimited\"", `NUMPROC="80" CPULIMIT="5"`, 1),
		"shell":           strings.Replace(good, "NUMPROC=\"unlimited:unlimited\"", `NUMPROC="$(reboot)"`, 1),
		"control":         strings.Replace(good, "NUMPROC=\"unlimited:unlimited\"", "NUMPROC=\"80\r\"", 1),
		"bad value":       strings.Replace(good, "NUMPROC=\"unlimited:unlimited\"", `NUMPROC="10:5"`, 1),
		"out of range":    strings.Replace(good, "IOPRIO=\"4\"", `IOPRIO="9"`, 1),
		"spaces":          strings.Replace(good, "NUMPROC=", "NUMPROC =", 1),
		"larger than max": good + strings.Repeat("x", MaxRecord),
	} {
		if _, err := ParseRecord([]byte(bad)); err == nil {
			t.Errorf("%s: record parsed:\n%q", name, bad)
		} else if name == "bad value" && !strings.Contains(err.Error(), "line") {
			t.Errorf("%s: %v does not name the line", name, err)
		}
	}
}

// FuzzParseRecord: no panic on any bytes, and a record that parses is
// written back in a form that parses to the same record.
func FuzzParseRecord(f *testing.F) {
	for _, c := range recordSamples(f) {
		f.Add(c.Record())
	}
	f.Add([]byte("NUMPROC=\"1\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseRecord(b)
		if err != nil {
			return
		}
		rec := c.Record()
		back, err := ParseRecord(rec)
		if err != nil {
			t.Fatalf("%q parsed, but its record %q does not: %v", b, rec, err)
		}
		if again := back.Record(); !bytes.Equal(again, rec) {
			t.Fatalf("record %q reads back as %q", rec, again)
		}
	})
}
