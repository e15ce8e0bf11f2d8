package resource

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Config is a container's resource configuration, typed: what CTID.conf
// (over its sample and vz.conf) says, parsed once. Unset pairs are
// UnlimitedPair; unset numbers are zero (no cap) except CPUUnits and
// IOPrio, which have OpenVZ's defaults.
type Config struct {
	PhysPages, SwapPages, PrivVMPages, KMemSize, LockedPages, ShmPages Pair
	NumProc, NumFile, NumTCPSock, NumOtherSock                         Pair

	CPUUnits  Value // weight; DefaultCPUUnits when unset
	CPULimit  Value // percent of one CPU; 0 no cap
	CPUs      Value // CPUs' worth of time; 0 all
	CPUMask   CPUSet
	IOPrio    Value // 0..7; DefaultIOPrio when unset
	IOLimit   Value // bytes per second; 0 none
	IOPSLimit Value // operations per second; 0 none

	Disk     Disk
	Devices  []DeviceRule
	DevNodes []DevNode
}

// OpenVZ's defaults.
const (
	DefaultCPUUnits Value = 1000
	DefaultIOPrio   Value = 4
	minCPUUnits     Value = 8
)

// Default is the configuration of a container whose files set nothing.
func Default() Config {
	return Config{
		PhysPages: UnlimitedPair, SwapPages: UnlimitedPair, PrivVMPages: UnlimitedPair,
		KMemSize: UnlimitedPair, LockedPages: UnlimitedPair, ShmPages: UnlimitedPair,
		NumProc: UnlimitedPair, NumFile: UnlimitedPair, NumTCPSock: UnlimitedPair, NumOtherSock: UnlimitedPair,
		CPUUnits: DefaultCPUUnits, IOPrio: DefaultIOPrio,
		Disk: Disk{Space: UnlimitedPair, Inodes: UnlimitedPair},
	}
}

// Layer looks a key up in one configuration file: its value and where
// it is ("FILE:LINE", for errors).
type Layer func(key string) (value, where string, ok bool)

// Parse reads the resource parameters of layers, each over the ones before
// it (vz.conf, then the sample, then CTID.conf). A value that does not
// parse is an error naming its file, line and key.
func Parse(layers ...Layer) (Config, error) {
	c := Default()
	for _, p := range Params {
		for i := len(layers) - 1; i >= 0; i-- {
			v, where, ok := layers[i](p.Key)
			if !ok {
				continue
			}
			if err := c.set(p, v); err != nil {
				return Config{}, fmt.Errorf("%s: %w", where, err)
			}
			break
		}
	}
	return c, nil
}

// Set parses value for the parameter named key (a CTID.conf key or a
// flag name) into c, checked against its unit and range.
func (c *Config) Set(key, value string) error {
	p, ok := Lookup(key)
	if !ok {
		return fmt.Errorf("unknown resource parameter %s", key)
	}
	return c.set(p, value)
}

// SetFlag is Set for a value given on vzctl's command line, where a bare
// IOLIMIT is in MB/s (as OpenVZ's vzctl reads it; CTID.conf holds bytes).
func (c *Config) SetFlag(key, value string) error {
	if p, ok := Lookup(key); ok && p.Key == "IOLIMIT" && value != "" &&
		strings.IndexFunc(value, func(r rune) bool { return r < '0' || r > '9' }) < 0 {
		value += "M"
	}
	return c.Set(key, value)
}

// Get is the value c holds for p, as CTID.conf writes it.
func (c *Config) Get(p *Param) string {
	switch v := c.field(p).(type) {
	case *Pair:
		return v.String()
	case *Value:
		return v.String()
	case *CPUSet:
		return v.String()
	case *[]DeviceRule:
		return joinStrings(*v)
	case *[]DevNode:
		return joinStrings(*v)
	case *uint64:
		return strconv.FormatUint(*v, 10)
	}
	panic("resource: no field for " + p.Key)
}

func joinStrings[T fmt.Stringer](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = x.String()
	}
	return strings.Join(s, " ")
}

// field is where c keeps p.
func (c *Config) field(p *Param) any {
	switch p.Key {
	case "PHYSPAGES":
		return &c.PhysPages
	case "SWAPPAGES":
		return &c.SwapPages
	case "PRIVVMPAGES":
		return &c.PrivVMPages
	case "KMEMSIZE":
		return &c.KMemSize
	case "LOCKEDPAGES":
		return &c.LockedPages
	case "SHMPAGES":
		return &c.ShmPages
	case "NUMPROC":
		return &c.NumProc
	case "NUMFILE":
		return &c.NumFile
	case "NUMTCPSOCK":
		return &c.NumTCPSock
	case "NUMOTHERSOCK":
		return &c.NumOtherSock
	case "CPUUNITS":
		return &c.CPUUnits
	case "CPULIMIT":
		return &c.CPULimit
	case "CPUS":
		return &c.CPUs
	case "CPUMASK":
		return &c.CPUMask
	case "IOPRIO":
		return &c.IOPrio
	case "IOLIMIT":
		return &c.IOLimit
	case "IOPSLIMIT":
		return &c.IOPSLimit
	case "DISKSPACE":
		return &c.Disk.Space
	case "DISKINODES":
		return &c.Disk.Inodes
	case "QUOTAUGIDLIMIT":
		return &c.Disk.UGIDLimit
	case "DEVICES":
		return &c.Devices
	case "DEVNODES":
		return &c.DevNodes
	}
	panic("resource: no field for " + p.Key)
}

func (c *Config) set(p *Param, value string) error {
	value = strings.TrimSpace(value)
	wrap := func(err error) error { return fmt.Errorf("%s %q: %w", p.Key, value, err) }
	switch f := c.field(p).(type) {
	case *Pair:
		v, err := ParsePair(value, p.Unit)
		if err != nil {
			return wrap(err)
		}
		if v.Barrier > v.Limit {
			return wrap(errors.New("barrier exceeds limit"))
		}
		*f = v
	case *Value:
		v, err := parseNumber(p, value)
		if err != nil {
			return err
		}
		*f = v
	case *uint64:
		v, err := parseNumber(p, value)
		if err != nil {
			return err
		}
		*f = uint64(v)
	case *CPUSet:
		v, err := ParseCPUSet(value)
		if err != nil {
			return wrap(err)
		}
		*f = v
	case *[]DeviceRule:
		v, err := ParseDevices(value)
		if err != nil {
			return wrap(err)
		}
		*f = v
	case *[]DevNode:
		v, err := ParseDevNodes(value)
		if err != nil {
			return wrap(err)
		}
		*f = v
	}
	return nil
}

// parseNumber reads a one-number parameter. An empty value is its
// default.
func parseNumber(p *Param, s string) (Value, error) {
	if s == "" {
		switch p.Key {
		case "CPUUNITS":
			return DefaultCPUUnits, nil
		case "IOPRIO":
			return DefaultIOPrio, nil
		}
		return 0, nil
	}
	v, err := ParseValue(s, p.Unit)
	if err != nil {
		return 0, fmt.Errorf("%s %q: %w", p.Key, s, err)
	}
	if v.IsUnlimited() {
		switch p.Key {
		case "CPUUNITS", "IOPRIO":
		default:
			return 0, nil // "unlimited" is no cap
		}
	}
	lo := Value(0)
	if p.Key == "CPUUNITS" {
		lo = minCPUUnits
	}
	if p.Max > 0 && (v > p.Max || v < lo) {
		return 0, &RangeError{Param: p, Value: s, Want: fmt.Sprintf("%d..%d", lo, p.Max)}
	}
	return v, nil
}

// Host is what the mapping needs to know of the machine.
type Host struct {
	CPUs       int    // online CPUs
	NoFileMax  uint64 // the host's hard RLIMIT_NOFILE, which no container can exceed
	NoFileSoft uint64 // the host's soft RLIMIT_NOFILE, what processes get by default
	// Devices are the block devices under the private area, which IOLIMIT
	// and IOPSLIMIT throttle; BFQ tells whether each uses the BFQ
	// scheduler, without which IOPRIO has no effect.
	Devices []BlockDevice
}

// BlockDevice is a disk the container's files are on.
type BlockDevice struct {
	Major, Minor int64
	Name         string
	BFQ          bool
}

// Validate checks what depends on the host: CPULIMIT, CPUS and CPUMASK
// within its CPUs. set refuses such values; start holds them to the host
// (Sandbox says so).
func (c *Config) Validate(h Host) error {
	n := Value(h.CPUs)
	if c.CPULimit > 100*n {
		return &RangeError{Param: mustLookup("CPULIMIT"), Value: c.CPULimit.String(), Want: fmt.Sprintf("0..%d (100 per CPU, %d CPUs)", 100*n, n)}
	}
	if c.CPUs > n {
		return &RangeError{Param: mustLookup("CPUS"), Value: c.CPUs.String(), Want: fmt.Sprintf("0..%d", n)}
	}
	if hi := c.CPUMask.Max(); hi >= h.CPUs {
		return &RangeError{Param: mustLookup("CPUMASK"), Value: c.CPUMask.String(), Want: fmt.Sprintf("CPUs 0..%d", h.CPUs-1)}
	}
	return nil
}

func mustLookup(key string) *Param {
	p, ok := Lookup(key)
	if !ok {
		panic("resource: no parameter " + key)
	}
	return p
}

// VSwap reports whether c holds memory the vswap way, as vzlist's vswap
// field tells it: PHYSPAGES has a limit (the RAM cap) and SWAPPAGES one
// (the swap beyond it). OpenVZ's vzlist asks only that SWAPPAGES be
// given; a Config does not keep whether it was, and an unlimited SWAPPAGES
// caps nothing (Sandbox sets no RAM+swap limit), so here it must limit.
func (c Config) VSwap() bool {
	return !c.PhysPages.Limit.IsUnlimited() && !c.SwapPages.Limit.IsUnlimited()
}
