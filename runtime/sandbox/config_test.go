package sandbox

import (
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
)

func TestApplyResources(t *testing.T) {
	v2 := cgroups.IsCgroup2UnifiedMode()
	var r cgroups.Resources
	applyResources(&r, Resources{MemoryBytes: 1 << 30, PidsLimit: 100, CPUShares: 2048, CPUWeight: 200,
		CPUQuotaMicros: 50000, CPUPeriodMicros: 100000}, false, nil)
	if r.Memory != 1<<30 || r.PidsLimit == nil || *r.PidsLimit != 100 || r.CpuQuota != 50000 || r.CpuPeriod != 100000 || r.MemorySwap != 0 {
		t.Errorf("create with limits: %+v", r)
	}
	// Only the host's version's CPU weight: libcontainer's v2 manager
	// would convert shares over the weight.
	if v2 && (r.CpuWeight != 200 || r.CpuShares != 0) || !v2 && (r.CpuShares != 2048 || r.CpuWeight != 0) {
		t.Errorf("CPU weight on this host (v2 %v): shares %d weight %d", v2, r.CpuShares, r.CpuWeight)
	}
	// Creating with zero values leaves the kernel's defaults alone.
	r = cgroups.Resources{}
	applyResources(&r, Resources{}, false, nil)
	if r.Memory != 0 || r.PidsLimit != nil || r.CpuWeight != 0 || r.CpuShares != 0 || r.CpuQuota != 0 || r.CpusetCpus != "" {
		t.Errorf("create unlimited: %+v", r)
	}
	// A live update with zero values lifts the limits.
	applyResources(&r, Resources{}, true, nil)
	if r.Memory != -1 || r.MemorySwap != -1 || r.PidsLimit == nil || *r.PidsLimit != -1 ||
		r.CpuQuota != -1 || r.CpuWeight+r.CpuShares != pick[uint64](v2, 100, 1024) || r.CpusetCpus == "" {
		t.Errorf("update to unlimited: %+v", r)
	}
}

func pick[T any](v2 bool, v2val, v1val T) T {
	if v2 {
		return v2val
	}
	return v1val
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
