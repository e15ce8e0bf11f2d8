package runtime

import (
	"strconv"
	"strings"

	"github.com/vzkit/vzkit/runtime/resource"
)

// State is a container's state as a listing shows it.
type State string

const (
	StateRunning State = "running"
	StateMounted State = "mounted" // root mounted at VE_ROOT, not running
	StateStopped State = "stopped"
	StateError   State = "error" // CTID.conf cannot be read: see Entry.Err
)

// Entry is one container as `vzctl list` shows it. Its JSON form is the
// record `vzctl list -o json` prints.
type Entry struct {
	CTID          string   `json:"ctid"`
	Name          string   `json:"name"`
	Hostname      string   `json:"hostname"`
	IPs           []string `json:"ip"`
	Status        State    `json:"status"`
	NProc         int      `json:"numproc"` // processes; 0 unless running
	OSTemplate    string   `json:"ostemplate"`
	OnBoot        bool     `json:"onboot"`
	Disabled      bool     `json:"disabled"`
	BootOrder     *uint64  `json:"bootorder"` // BOOTORDER, nil when unset
	Layout        string   `json:"layout"`
	Private       string   `json:"private"`
	Root          string   `json:"root"`
	Description   string   `json:"description"`
	Nameservers   []string `json:"nameserver"`
	SearchDomains []string `json:"searchdomain"`
	Features      []string `json:"features"`
	OriginSample  string   `json:"origin_sample"`
	// Error is Err's message, for JSON readers.
	Error string `json:"error,omitempty"`

	// Running is whether the container's init runs, known even when its
	// CTID.conf is broken (the sandbox state is kept apart from it).
	Running bool `json:"-"`
	// Err is why CTID.conf could not be loaded (wrapping ErrBadConfig);
	// then only CTID, Status (StateError) and Running are set.
	Err error `json:"-"`
	// Disk is the container's disk usage and enforced limits
	// (Store.DiskUsage), measured only when asked for
	// (EntryOptions.DiskUsage) and nil when it could not be.
	Disk *DiskUsage `json:"-"`
	// UBC is the container's beancounter table (see Store.Beancounters),
	// read only when asked for (EntryOptions.Beancounters); nil when it
	// could not be.
	UBC []resource.Beancounter `json:"-"`
	// Resources is the container's resource configuration in force
	// (Store.InForce: what it holds while it runs, its files when it
	// does not), read only when asked for (EntryOptions.Resources); nil
	// when it could not be.
	Resources *resource.Config `json:"-"`
}

// EntryOptions choose what Entries measures.
type EntryOptions struct {
	// DiskUsage measures each container's disk use (Store.DiskUsage:
	// a walk of a private area's tree, costly on large trees), so only
	// when a listing shows or sorts by it.
	DiskUsage bool
	// Beancounters reads each container's resource configuration and,
	// for a running one, its cgroup counters.
	Beancounters bool
	// Resources reads each container's resource configuration in force
	// (CPU and I/O limits, ...), into Entry.Resources.
	Resources bool
}

// Entries lists every registered container in CTID order, stopped ones
// and those with a broken CTID.conf included (with Err set): choosing
// which to show is the caller's (package vzlist). The error is for
// CONFDIR itself, or a container whose state cannot be read.
func (s *Store) Entries(o EntryOptions) ([]Entry, error) {
	regs, err := s.Scan()
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(regs))
	for _, r := range regs {
		if r.Err != nil {
			e := Entry{CTID: r.ID, Status: StateError, Err: r.Err, Error: r.Err.Error(),
				IPs: []string{}, Nameservers: []string{}, SearchDomains: []string{}, Features: []string{}}
			// The sandbox is found by CTID alone, so whether a container
			// with a broken file runs is still known.
			run, err := s.IsRunning(&Container{ID: r.ID})
			if err != nil {
				return nil, err
			}
			e.Running = run
			out = append(out, e)
			continue
		}
		c := r.C
		st, err := s.status(c)
		if err != nil {
			return nil, err
		}
		layout, _ := c.Layout() // a bad VE_LAYOUT shows as ""; start names it
		e := Entry{
			CTID: c.ID, Name: c.Name(), Hostname: c.Get("HOSTNAME"), IPs: words(c.Get("IP_ADDRESS")),
			Status: StateStopped, NProc: st.NProc, Running: st.Running,
			OSTemplate: c.Get("OSTEMPLATE"), OnBoot: c.Get("ONBOOT") == "yes", Disabled: c.Get(KeyDisabled) == "yes",
			Layout: string(layout), Private: c.Private, Root: c.Root,
			Description: c.Get("DESCRIPTION"), Nameservers: words(c.Get("NAMESERVER")),
			SearchDomains: words(c.Get("SEARCHDOMAIN")), Features: words(c.Get("FEATURES")),
			OriginSample: c.Get("ORIGIN_SAMPLE"),
		}
		if n, err := strconv.ParseUint(c.Get("BOOTORDER"), 10, 64); err == nil {
			e.BootOrder = &n
		}
		switch {
		case st.Running:
			e.Status = StateRunning
		case st.Mounted:
			e.Status = StateMounted
		}
		if o.Beancounters || o.Resources {
			// Read once for both: the same configuration in force.
			rc, sb, err := s.inForce(c)
			switch {
			case err != nil:
				s.log().Warn("resource configuration not read", "ctid", c.ID, "err", err)
			case o.Resources:
				e.Resources = &rc
			}
			if err == nil && o.Beancounters {
				if e.UBC, err = beancounters(c, rc, sb); err != nil {
					s.log().Warn("beancounters not read", "ctid", c.ID, "err", err)
				}
			}
		}
		if o.DiskUsage {
			// The private area is the container's own (hostile) tree:
			// measured by handles, never followed out of it.
			u, err := s.DiskUsage(c)
			if err != nil {
				s.log().Warn("disk usage not measured", "ctid", c.ID, "err", err)
			} else {
				e.Disk = &u
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// words splits an OpenVZ list value ("a b c"); never nil, so that JSON
// shows an empty list rather than null.
func words(v string) []string {
	w := strings.Fields(v)
	if w == nil {
		return []string{}
	}
	return w
}
