package sandbox

import (
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
)

// The cgroup v1 cpu.shares written for a weight must be the fewest shares
// that runc's conversion maps back to at least that weight.
func TestWeightToSharesRoundTrip(t *testing.T) {
	for w := uint64(1); w <= 10000; w++ {
		s := weightToShares(w)
		if s < 2 || s > 262144 {
			t.Fatalf("weight %d -> shares %d out of range", w, s)
		}
		if back := cgroups.ConvertCPUSharesToCgroupV2Value(s); back < w {
			t.Fatalf("weight %d -> shares %d -> weight %d", w, s, back)
		}
		// 100 is exempt: it maps to the v1 default of 1024, not 1023.
		if s > 2 && w != 100 && cgroups.ConvertCPUSharesToCgroupV2Value(s-1) >= w {
			t.Fatalf("weight %d -> shares %d, but %d shares suffice", w, s, s-1)
		}
	}
	if s := weightToShares(100); s != 1024 {
		t.Errorf("default weight 100 -> shares %d, want 1024", s)
	}
}

func TestApplyResources(t *testing.T) {
	var r cgroups.Resources
	applyResources(&r, Resources{MemoryBytes: 1 << 30, PidsLimit: 100, CPUWeight: 200, CPUQuotaMicros: 50000, CPUPeriodMicros: 100000}, false)
	if r.Memory != 1<<30 || r.PidsLimit == nil || *r.PidsLimit != 100 || r.CpuWeight != 200 ||
		r.CpuShares != weightToShares(200) || r.CpuQuota != 50000 || r.CpuPeriod != 100000 || r.MemorySwap != 0 {
		t.Errorf("create with limits: %+v", r)
	}
	// Creating with zero values leaves the kernel's defaults alone.
	r = cgroups.Resources{}
	applyResources(&r, Resources{}, false)
	if r.Memory != 0 || r.PidsLimit != nil || r.CpuWeight != 0 || r.CpuShares != 0 || r.CpuQuota != 0 {
		t.Errorf("create unlimited: %+v", r)
	}
	// A live update with zero values lifts the limits.
	applyResources(&r, Resources{}, true)
	if r.Memory != -1 || r.MemorySwap != -1 || r.PidsLimit == nil || *r.PidsLimit != -1 ||
		r.CpuQuota != -1 || r.CpuWeight != 100 || r.CpuShares != 1024 {
		t.Errorf("update to unlimited: %+v", r)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := Config{ID: "x1", Root: dir, StateDir: dir}
	if err := good.validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for name, tc := range map[string]struct {
		mod  func(*Config)
		want string
	}{
		"no id":          {func(c *Config) { c.ID = "" }, "empty ID"},
		"relative state": {func(c *Config) { c.StateDir = "run" }, "state directory"},
		"missing root":   {func(c *Config) { c.Root = dir + "/nope" }, "root"},
		"relative mount": {func(c *Config) { c.Mounts = []Mount{{Source: "src", Destination: "/mnt"}} }, "bind mount"},
		"netns path":     {func(c *Config) { c.Network = Network{Mode: NetNamespace} }, "network namespace"},
		"unknown cap":    {func(c *Config) { c.Capabilities = []string{"CAP_BOGUS"} }, "CAP_BOGUS"},
	} {
		c := good
		tc.mod(&c)
		err := c.validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want mention of %q", name, err, tc.want)
		}
	}
}

func TestCgroupPath(t *testing.T) {
	for _, tc := range []struct{ id, path, want string }{
		{"101", "", "/vzkit/101"},
		{"101", "machine/ct101", "/machine/ct101"},
		{"101", "/abs/x/../y", "/abs/y"},
	} {
		c := Config{ID: tc.id, CgroupPath: tc.path}
		if got := c.cgroupPath(); got != tc.want {
			t.Errorf("cgroupPath(%q, %q) = %q, want %q", tc.id, tc.path, got, tc.want)
		}
	}
}
