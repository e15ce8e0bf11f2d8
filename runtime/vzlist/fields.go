package vzlist

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/vzkit/vzkit/runtime"
	"github.com/vzkit/vzkit/runtime/resource"
)

// Kind says where a field's value comes from, which decides how vzlist 4's
// JSON shows it (a beancounter as {"held": ...}, a quota as {"usage": ...}).
type Kind int

const (
	Plain       Kind = iota
	Beancounter      // held value; suffixes .m .b .l .f for maxheld, barrier, limit, failcnt
	Quota            // usage; suffixes .s .h for the soft and hard limit
)

// Field is one name of vzlist's -o/-s/-L.
type Field struct {
	Name   string // as typed: "ctid", "numproc.m"
	Header string // table column header
	Help   string // one line for -L
	Kind   Kind
	List   bool // values are []string (an empty list in JSON, never null)
	// Alias marks an old name of another field (veid, vpsid): accepted,
	// but not repeated in a listing of every field.
	Alias bool
	// DiskUsage marks a field that needs the private areas walked
	// (runtime.EntryOptions.DiskUsage).
	DiskUsage bool
	// Resources marks a field that needs the resource configuration in
	// force (runtime.EntryOptions.Resources).
	Resources bool
	// Unavailable says why the field cannot be shown yet; it is refused
	// by name rather than printed with an invented value.
	Unavailable string
	value       func(e *runtime.Entry) any
	fromID      bool // known without CTID.conf (ctid, status)
}

// ErrUnknownField and ErrUnavailable are wrapped by the errors of Lookup,
// ParseFields and ParseSort.
var (
	ErrUnknownField = errors.New("unknown field")
	ErrUnavailable  = errors.New("not available yet")
)

// Value is f's value for e: nil when unset (or unknown, for a container
// whose CTID.conf is broken), else a string, uint64, bool, []string or
// runtime.State.
func (f Field) Value(e *runtime.Entry) any {
	if f.value == nil {
		return nil
	}
	if e.Err != nil && !f.fromID {
		return nil // only what the CTID itself tells is known
	}
	return f.value(e)
}

// Default field lists: vzlist's columns, and those of vzlist -n, which
// shows names instead of hostnames.
const (
	DefaultFields = "ctid,numproc,status,ip,hostname"
	NameFields    = "ctid,numproc,status,ip,name"
)

const noStat = "vzkit does not measure it"

func str(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func list(l []string) any {
	if len(l) == 0 {
		return nil
	}
	return l
}

func ctid(e *runtime.Entry) any {
	n, _ := strconv.ParseUint(e.CTID, 10, 32)
	return n
}

var table = buildTable()

func buildTable() []Field {
	t := []Field{
		{Name: "ctid", Header: "CTID", Help: "container ID", value: ctid, fromID: true},
		{Name: "veid", Header: "CTID", Help: "container ID (old name)", Alias: true, value: ctid, fromID: true},
		{Name: "vpsid", Header: "CTID", Help: "container ID (old name)", Alias: true, value: ctid, fromID: true},
		{Name: "private", Header: "PRIVATE", Help: "private area (VE_PRIVATE)", value: func(e *runtime.Entry) any { return str(e.Private) }},
		{Name: "root", Header: "ROOT", Help: "where the root is mounted (VE_ROOT)", value: func(e *runtime.Entry) any { return str(e.Root) }},
		{Name: "mount_opts", Header: "MOUNT_OPTS", Help: "mount options (MOUNT_OPTS)", Unavailable: "vzkit does not implement MOUNT_OPTS"},
		{Name: "origin_sample", Header: "ORIGIN_SAMPLE", Help: "sample config the container was made from", value: func(e *runtime.Entry) any { return str(e.OriginSample) }},
		{Name: "hostname", Header: "HOSTNAME", Help: "host name (HOSTNAME)", value: func(e *runtime.Entry) any { return str(e.Hostname) }},
		{Name: "name", Header: "NAME", Help: "container name (NAME)", value: func(e *runtime.Entry) any { return str(e.Name) }},
		{Name: "smart_name", Header: "SMARTNAME", Help: "name, or the CTID when it has none", fromID: true, value: func(e *runtime.Entry) any {
			if e.Name != "" {
				return e.Name
			}
			return e.CTID
		}},
		{Name: "description", Header: "DESCRIPTION", Help: "free text (DESCRIPTION)", value: func(e *runtime.Entry) any { return str(e.Description) }},
		{Name: "ostemplate", Header: "OSTEMPLATE", Help: "template cache it was created from", value: func(e *runtime.Entry) any { return str(e.OSTemplate) }},
		{Name: "ip", List: true, Header: "IP_ADDR", Help: "IP addresses (IP_ADDRESS)", value: func(e *runtime.Entry) any { return list(e.IPs) }},
		{Name: "nameserver", List: true, Header: "NAMESERVER", Help: "DNS servers (NAMESERVER)", value: func(e *runtime.Entry) any { return list(e.Nameservers) }},
		{Name: "searchdomain", List: true, Header: "SEARCHDOMAIN", Help: "DNS search domains (SEARCHDOMAIN)", value: func(e *runtime.Entry) any { return list(e.SearchDomains) }},
		{Name: "status", Header: "STATUS", Help: "running, mounted, stopped, or error (CTID.conf unreadable)", fromID: true,
			value: func(e *runtime.Entry) any { return e.Status }},
	}
	for _, b := range []struct{ name, header, help string }{
		{"kmemsize", "KMEMSIZE", "kernel memory, bytes"},
		{"lockedpages", "LOCKEDP", "locked memory, pages"},
		{"privvmpages", "PRIVVMP", "allocated memory, pages"},
		{"shmpages", "SHMP", "shared memory, pages"},
		{"numproc", "NPROC", "processes"},
		{"physpages", "PHYSP", "RAM in use, pages"},
		{"vmguarpages", "VMGUARP", "guaranteed memory, pages"},
		{"oomguarpages", "OOMGUARP", "memory guaranteed against the OOM killer, pages"},
		{"numtcpsock", "NTCPSOCK", "TCP sockets"},
		{"numflock", "NFLOCK", "file locks"},
		{"numpty", "NPTY", "pseudo terminals"},
		{"numsiginfo", "NSIGINFO", "queued signals"},
		{"tcpsndbuf", "TCPSNDB", "TCP send buffers, bytes"},
		{"tcprcvbuf", "TCPRCVB", "TCP receive buffers, bytes"},
		{"othersockbuf", "OTHSOCKB", "other socket buffers, bytes"},
		{"dgramrcvbuf", "DGRAMRB", "datagram receive buffers, bytes"},
		{"numothersock", "NOTHSOCK", "non-TCP sockets"},
		{"dcachesize", "DCACHESZ", "dentry and inode cache, bytes"},
		{"numfile", "NFILE", "open files"},
		{"numiptent", "NIPTENT", "iptables entries"},
		{"swappages", "SWAPP", "swap in use, pages"},
	} {
		name := b.name
		t = append(t, Field{Name: name, Header: b.header, Help: b.help + ", held", Kind: Beancounter,
			value: func(e *runtime.Entry) any { return ubcValue(e, name, "") }})
		for _, s := range []struct{ suffix, what string }{{"m", "maxheld"}, {"b", "barrier"}, {"l", "limit"}, {"f", "fail count"}} {
			t = append(t, Field{
				Name: name + "." + s.suffix, Header: b.header + "." + strings.ToUpper(s.suffix),
				Help: b.help + ", " + s.what, Kind: Beancounter,
				value: func(e *runtime.Entry) any { return ubcValue(e, name, s.suffix) },
			})
		}
	}
	for _, q := range []struct {
		name, header, help string
		of                 func(d *runtime.DiskUsage) runtime.QuotaUsage
	}{
		{"diskspace", "DSPACE", "disk space, KB", func(d *runtime.DiskUsage) runtime.QuotaUsage { return d.Space }},
		{"diskinodes", "DINODES", "inodes", func(d *runtime.DiskUsage) runtime.QuotaUsage { return d.Inodes }},
	} {
		of := q.of
		limit := func(lim func(u runtime.QuotaUsage) resource.Value) func(e *runtime.Entry) any {
			return func(e *runtime.Entry) any {
				if e.Disk == nil || lim(of(e.Disk)).IsUnlimited() {
					return nil
				}
				return uint64(lim(of(e.Disk)))
			}
		}
		t = append(t,
			Field{Name: q.name, Header: q.header, Help: q.help + ", used", Kind: Quota, DiskUsage: true,
				value: func(e *runtime.Entry) any {
					if e.Disk == nil {
						return nil
					}
					return of(e.Disk).Used
				}},
			Field{Name: q.name + ".s", Header: q.header + ".S", Help: q.help + ", soft limit (shown where the hard one is enforced; not enforced itself)",
				Kind: Quota, DiskUsage: true, value: limit(func(u runtime.QuotaUsage) resource.Value { return u.Soft })},
			Field{Name: q.name + ".h", Header: q.header + ".H", Help: q.help + ", hard limit (empty where the layout enforces none)",
				Kind: Quota, DiskUsage: true, value: limit(func(u runtime.QuotaUsage) resource.Value { return u.Hard })},
		)
	}
	t = append(t,
		Field{Name: "laverage", Header: "LAVERAGE", Help: "load average", Unavailable: noStat},
		Field{Name: "uptime", Header: "UPTIME", Help: "time since start", Unavailable: noStat},
		limitField("cpulimit", "CPULIM", "CPU limit in percent of one CPU (CPULIMIT; 0 no cap)", func(rc *resource.Config) any { return uint64(rc.CPULimit) }),
		limitField("cpuunits", "CPUUNI", "CPU weight (CPUUNITS)", func(rc *resource.Config) any { return uint64(rc.CPUUnits) }),
		limitField("cpus", "CPUS", "CPUs' worth of time it may use (CPUS; 0 all)", func(rc *resource.Config) any { return uint64(rc.CPUs) }),
		limitField("ioprio", "IOP", "I/O priority 0..7 (IOPRIO)", func(rc *resource.Config) any { return uint64(rc.IOPrio) }),
		Field{Name: "onboot", Header: "ONBOOT", Help: "started at boot (ONBOOT)", value: func(e *runtime.Entry) any { return e.OnBoot }},
		Field{Name: "bootorder", Header: "BOOTORDER", Help: "boot order (BOOTORDER)", value: func(e *runtime.Entry) any {
			if e.BootOrder == nil {
				return nil
			}
			return *e.BootOrder
		}},
		Field{Name: "layout", Header: "LAYOUT", Help: "storage layout: plain, overlay or image", value: func(e *runtime.Entry) any { return str(e.Layout) }},
		Field{Name: "features", List: true, Header: "FEATURES", Help: "features (FEATURES, NAME:on|off)", value: func(e *runtime.Entry) any { return list(e.Features) }},
		limitField("vswap", "VSWAP", "whether memory is held the vswap way: PHYSPAGES and SWAPPAGES both have a limit (RAM capped, and swap beyond it)",
			func(rc *resource.Config) any { return rc.VSwap() }),
		Field{Name: "disabled", Header: "DISABL", Help: "whether starting is disabled (DISABLED)", value: func(e *runtime.Entry) any { return e.Disabled }},
	)
	return t
}

// limitField is a field of the resource configuration in force
// (runtime.Entry.Resources): while a container runs what it holds, a set
// without --save included; else what its files say.
func limitField(name, header, help string, of func(rc *resource.Config) any) Field {
	return Field{Name: name, Header: header, Help: help + ", in force", Resources: true,
		value: func(e *runtime.Entry) any {
			if e.Resources == nil {
				return nil
			}
			return of(e.Resources)
		}}
}

// row is e's beancounter row of resource name, nil when not read.
func row(e *runtime.Entry, name string) *resource.Beancounter {
	for i := range e.UBC {
		if e.UBC[i].Resource == name {
			return &e.UBC[i]
		}
	}
	return nil
}

// ubcValue is one value of a beancounter row: held ("" suffix), m, b, l
// or f. Barrier and limit come from the configuration in force (a set
// without --save included while it runs) and are known for every
// container; held, maxheld and failcnt only while it runs (vzlist
// shows "-" else). numproc falls back to the process count when the
// configuration could not be read.
func ubcValue(e *runtime.Entry, name, suffix string) any {
	// numproc held is vzlist's NPROC column: the processes, as vzlist
	// has always shown it here (ubc's held counts threads too).
	if name == "numproc" && suffix == "" && e.Status == runtime.StateRunning {
		return uint64(e.NProc)
	}
	r := row(e, name)
	if r == nil {
		return nil
	}
	switch suffix {
	case "b":
		return uint64(r.Barrier)
	case "l":
		return uint64(r.Limit)
	}
	if e.Status != runtime.StateRunning {
		return nil
	}
	switch suffix {
	case "m":
		return r.MaxHeld
	case "f":
		return r.FailCnt
	}
	return r.Held
}

// UBC is a beancounter as vzlist 4's JSON shows it under the resource's
// name: the values known (held, maxheld and failcnt only while the
// container runs).
type UBC struct {
	Held    *uint64 `json:"held,omitempty"`
	MaxHeld *uint64 `json:"maxheld,omitempty"`
	Barrier uint64  `json:"barrier"`
	Limit   uint64  `json:"limit"`
	FailCnt *uint64 `json:"failcnt,omitempty"`
}

// Beancounter is f's whole row for e, for a beancounter field without a
// suffix; nil when f is another field or the row was not read.
func (f Field) Beancounter(e *runtime.Entry) *UBC {
	if f.Kind != Beancounter || strings.Contains(f.Name, ".") || e.Err != nil {
		return nil
	}
	r := row(e, f.Name)
	if r == nil {
		return nil
	}
	u := &UBC{Barrier: uint64(r.Barrier), Limit: uint64(r.Limit)}
	if e.Status == runtime.StateRunning {
		u.Held, u.MaxHeld, u.FailCnt = &r.Held, &r.MaxHeld, &r.FailCnt
		if f.Name == "numproc" { // as the NPROC column: processes
			n := uint64(e.NProc)
			u.Held = &n
		}
	}
	return u
}

// NeedBeancounters reports whether any of fs needs the beancounters read
// (runtime.EntryOptions.Beancounters).
func NeedBeancounters(fs ...Field) bool {
	for _, f := range fs {
		if f.Kind == Beancounter {
			return true
		}
	}
	return false
}

// All returns every field name vzlist knows, in vzlist -L's order.
func All() []Field { return append([]Field(nil), table...) }

// Shown returns the fields a listing of every field shows (vzlist -j
// without -o): the available ones, without old names, suffixed values or
// those that walk the private areas.
func Shown() []Field {
	var out []Field
	for _, f := range table {
		if f.Unavailable == "" && !f.Alias && !f.DiskUsage && !strings.Contains(f.Name, ".") {
			out = append(out, f)
		}
	}
	return out
}

// Lookup finds a field by name; an unavailable one is refused with its
// reason.
func Lookup(name string) (Field, error) {
	for _, f := range table {
		if f.Name != name {
			continue
		}
		if f.Unavailable != "" {
			return Field{}, fmt.Errorf("field %q: %w: %s", name, ErrUnavailable, f.Unavailable)
		}
		return f, nil
	}
	return Field{}, fmt.Errorf("%w %q (vzlist -L lists the fields)", ErrUnknownField, name)
}

// ParseFields parses the value of -o: field names separated by commas.
func ParseFields(s string) ([]Field, error) {
	var out []Field
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			return nil, fmt.Errorf("%w: empty name in field list %q", ErrUnknownField, s)
		}
		f, err := Lookup(n)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// NeedResources reports whether any of fs needs the resource
// configuration in force read (runtime.EntryOptions.Resources).
func NeedResources(fs ...Field) bool {
	for _, f := range fs {
		if f.Resources {
			return true
		}
	}
	return false
}

// NeedDiskUsage reports whether any of fs needs the private areas walked.
func NeedDiskUsage(fs ...Field) bool {
	for _, f := range fs {
		if f.DiskUsage {
			return true
		}
	}
	return false
}
