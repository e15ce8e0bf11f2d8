package runtime

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	goruntime "runtime"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vzkit/vzkit/distros"
	"github.com/vzkit/vzkit/runtime/resource"
	"github.com/vzkit/vzkit/runtime/sandbox"
)

// SetOptions are the changes of `vzctl set`; zero fields change nothing.
type SetOptions struct {
	Hostname      string
	IPAdd         []string
	IPDel         []string // "all" removes every address
	Nameservers   []string
	SearchDomains []string
	UserPasswd    []string // "user:password"; never saved
	OnBoot        string   // "yes" or "no"
	Disabled      string   // "yes": start refuses the container (unless --force)
	Name          string
	// Privilege profile; these take effect at the next start.
	Privileged   string   // "yes" or "no"
	Init         string   // systemd, sysvinit or minimal
	Capabilities []string // "NAME:on" / "NAME:off", merged into CAPABILITY
	Features     []string // "NAME:on" / "NAME:off", merged into FEATURES
	// Resources are resource parameters (PHYSPAGES, NUMPROC, CPUUNITS,
	// DISKSPACE, ...) in OpenVZ's syntax, applied live to a running
	// container and saved with Save. A live set changes the parameters
	// it names over the configuration in force (Store.InForce), which
	// a set without Save leaves apart from the files until the next
	// start.
	Resources []ResourceChange
	// ApplyConfig copies the resource parameters of the sample
	// ve-NAME.conf-sample (OpenVZ's --applyconfig).
	ApplyConfig string
	// ResetUB applies the saved resource configuration to the running
	// container again (OpenVZ's --reset_ub).
	ResetUB bool
	Save    bool // write CTID.conf; without it only a running container changes
}

// Set changes a container's settings: saved to CTID.conf with Save, and
// applied inside it when it runs (hostname and /etc files from the host,
// addresses through Store.Net, passwords with the image's chpasswd).
func (s *Store) Set(ctx context.Context, ctid string, o SetOptions) error {
	lk, err := s.LockCT(ctid)
	if err != nil {
		return err
	}
	defer lk.Unlock()
	c, err := s.Load(ctid)
	if err != nil {
		return err
	}
	plan, err := s.changeConf(c, &o)
	if err != nil {
		return err
	}
	if len(o.IPAdd) > 0 {
		// Held until the addresses are saved and configured, so that a
		// concurrent set or create sees them taken.
		ilk, err := s.ipLock()
		if err != nil {
			return fmt.Errorf("container %s: %w", ctid, err)
		}
		defer ilk.Unlock()
		adds, err := parseIPs(o.IPAdd)
		if err != nil {
			return err
		}
		if err := s.checkIPsFree(ctx, ctid, adds, true); err != nil {
			return fmt.Errorf("container %s: --ipadd: %w", ctid, err)
		}
	}
	if o.Nameservers != nil || o.SearchDomains != nil {
		// "inherit" must find something now, not at the next start.
		if _, _, err := s.dnsOf(c, s.log().Warn); err != nil {
			return err
		}
	}
	sb, pid, err := s.running(c)
	if err != nil {
		return err
	}
	if sb == nil && !o.Save && len(o.UserPasswd) == 0 {
		return fmt.Errorf("container %s: %w: nothing applied (use --save to change its config)", ctid, ErrNotRunning)
	}
	if sb != nil {
		if err := s.applyLive(ctx, c, sb, pid, &o, plan); err != nil {
			return err
		}
		if o.Privileged != "" || o.Init != "" || len(o.Capabilities) > 0 || len(o.Features) > 0 {
			s.log().Warn("privileges change at the next start of a running container", "ctid", ctid)
		}
	}
	if len(o.UserPasswd) > 0 {
		if err := s.setPasswords(ctx, c, sb, o.UserPasswd); err != nil {
			return err
		}
	}
	if o.Save {
		if err := s.WriteConf(c); err != nil {
			return err
		}
	}
	return nil
}

// changeConf validates o and applies it to c.Conf (in memory); the plan
// is its resource changes, nil when it has none.
func (s *Store) changeConf(c *Container, o *SetOptions) (*resourcePlan, error) {
	if o.Hostname != "" {
		if err := validHostname(o.Hostname); err != nil {
			return nil, err
		}
		c.Conf.Set("HOSTNAME", o.Hostname)
	}
	if len(o.IPAdd) > 0 || len(o.IPDel) > 0 {
		ips, err := changeIPs(c.IPs(), o)
		if err != nil {
			return nil, err
		}
		c.Conf.Set("IP_ADDRESS", strings.Join(ips, " "))
	}
	if err := checkNameservers(o.Nameservers); err != nil {
		return nil, err
	}
	if o.Nameservers != nil {
		c.Conf.Set("NAMESERVER", strings.Join(o.Nameservers, " "))
	}
	for _, d := range o.SearchDomains {
		if d == inherit && len(o.SearchDomains) == 1 {
			continue
		}
		if err := validHostname(d); err != nil {
			return nil, fmt.Errorf("--searchdomain: %w", err)
		}
	}
	if o.SearchDomains != nil {
		c.Conf.Set("SEARCHDOMAIN", strings.Join(o.SearchDomains, " "))
	}
	for _, yn := range []struct{ flag, key, value string }{
		{"--onboot", "ONBOOT", o.OnBoot},
		{"--disabled", KeyDisabled, o.Disabled},
	} {
		switch yn.value {
		case "":
		case "yes", "no":
			c.Conf.Set(yn.key, yn.value)
		default:
			return nil, fmt.Errorf("%w: %s %q: want yes or no", ErrBadParam, yn.flag, yn.value)
		}
	}
	if o.Name != "" {
		if err := ValidName(o.Name); err != nil {
			return nil, err
		}
		if id, err := s.Resolve(o.Name); err == nil && id != c.ID {
			return nil, fmt.Errorf("%w: name %q is already used by container %s", ErrExists, o.Name, id)
		}
		c.Conf.Set("NAME", o.Name)
	}
	switch o.Privileged {
	case "":
	case "yes":
		c.Conf.Set(KeyPrivileged, "yes")
		c.Conf.Delete(KeyLocalUID)
		c.Conf.Delete(KeyLocalGID)
	case "no":
		// Its id range is given at the next start (ensureIDRange).
		c.Conf.Set(KeyPrivileged, "no")
	default:
		return nil, fmt.Errorf("%w: --privileged %q: want yes or no", ErrBadParam, o.Privileged)
	}
	if o.Init != "" {
		k, err := ParseInitKind(o.Init)
		if err != nil {
			return nil, err
		}
		c.Conf.Set(KeyInitKind, string(k))
	}
	if err := mergeOnOff(c, KeyCapability, o.Capabilities, CheckCapability); err != nil {
		return nil, err
	}
	if err := mergeOnOff(c, KeyFeatures, o.Features, CheckFeatures); err != nil {
		return nil, err
	}
	// The result must make a profile (nesting needs an unprivileged
	// container, say), or the next start would fail.
	if err := checkProfile(c); err != nil {
		return nil, err
	}
	for _, up := range o.UserPasswd {
		if u, p, ok := strings.Cut(up, ":"); !ok || u == "" || p == "" || strings.ContainsAny(up, "\n") {
			return nil, fmt.Errorf("%w: --userpasswd: want USER:PASSWORD", ErrBadParam)
		}
	}
	return s.changeResources(c, o)
}

// resourcePlan is what a set does to the resources, worked out once
// (changeResources): the configuration the files then hold, the changes
// in their canonical form, for the configuration in force too, and this
// host, probed once when needed (hostOf).
type resourcePlan struct {
	saved   resource.Config
	changes []paramChange
	host    *resource.Host
	// disk: the disk quota may change (DISKSPACE, DISKINODES,
	// QUOTAUGIDLIMIT, a whole sample, --reset_ub).
	disk bool
	// whole: the saved configuration replaces the one in force
	// (--reset_ub).
	whole bool
}

// paramChange is one parameter's new value, as Config.Get writes it.
type paramChange struct {
	param *resource.Param
	value string
}

// changeResources validates o's resource changes and applies them to
// c.Conf: --applyconfig's sample first, then each parameter, written in
// the canonical form (pages, 1K blocks, "unlimited"). The whole result
// must parse and fit this host (CPULIMIT within its CPUs, ...). The files
// are parsed here, once per set; the plan probes the host once, when a
// check or a running container needs it.
func (s *Store) changeResources(c *Container, o *SetOptions) (*resourcePlan, error) {
	if o.ApplyConfig == "" && len(o.Resources) == 0 && !o.ResetUB {
		return nil, nil
	}
	plan := &resourcePlan{disk: o.ApplyConfig != "" || o.ResetUB, whole: o.ResetUB}
	if o.ApplyConfig != "" {
		f, err := s.LoadSample(o.ApplyConfig)
		if err != nil {
			return nil, fmt.Errorf("%w: --applyconfig: %v", ErrBadParam, err)
		}
		for _, p := range resource.Params {
			if v, ok := f.Get(p.Key); ok {
				var rc resource.Config
				if err := rc.Set(p.Key, v); err != nil {
					return nil, fmt.Errorf("%w: --applyconfig %s: %s:%d: %v", ErrBadParam, o.ApplyConfig, f.Name, f.Line(p.Key), err)
				}
				plan.changes = append(plan.changes, paramChange{p, rc.Get(p)})
				c.Conf.Set(p.Key, rc.Get(p))
			}
		}
	}
	rc, err := s.Resources(c)
	if err != nil {
		return nil, err
	}
	for _, ch := range o.Resources {
		if err := rc.SetFlag(ch.Param.Key, ch.Value); err != nil {
			flag := cmp.Or(ch.Flag, ch.Param.Flag)
			return nil, fmt.Errorf("%w: --%s: %v", ErrBadParam, flag, err)
		}
		plan.changes = append(plan.changes, paramChange{ch.Param, rc.Get(ch.Param)})
		c.Conf.Set(ch.Param.Key, rc.Get(ch.Param))
		plan.disk = plan.disk || ch.Param.Key == "DISKSPACE" || ch.Param.Key == "DISKINODES" || ch.Param.Key == "QUOTAUGIDLIMIT"
	}
	plan.saved = rc
	if err := plan.validate(s, c, rc, o); err != nil {
		return nil, err
	}
	return plan, nil
}

// hostOf is c's host (Store.host), probed at most once per plan.
func (p *resourcePlan) hostOf(s *Store, c *Container) resource.Host {
	if p.host == nil {
		h := s.host(c)
		p.host = &h
	}
	return *p.host
}

// validate checks rc against the host when o changes what depends on it
// (CPULIMIT, CPUS, CPUMASK, or a whole sample).
func (p *resourcePlan) validate(s *Store, c *Container, rc resource.Config, o *SetOptions) error {
	hostBound := o.ApplyConfig != ""
	for _, ch := range o.Resources {
		hostBound = hostBound || ch.Param.Key == "CPULIMIT" || ch.Param.Key == "CPUS" || ch.Param.Key == "CPUMASK"
	}
	if !hostBound {
		return nil
	}
	if err := rc.Validate(p.hostOf(s, c)); err != nil {
		return fmt.Errorf("%w: %v", ErrBadParam, err)
	}
	return nil
}

// live is what running container c holds now and is to hold next: the
// configuration in force with the plan's changes of live parameters, so
// that a set changes only what it names (as OpenVZ's does) and what is in
// force does not claim what waits for the next start. --reset_ub gives it the saved
// configuration whole, as does a container started by a vzkit that kept
// no record of what is in force (then now is not known either).
func (s *Store) live(c *Container, p *resourcePlan, o *SetOptions) (now, next resource.Config, err error) {
	if p.whole {
		now, ok, err := s.readInForce(c.ID)
		if err != nil || !ok { // a broken record is what --reset_ub mends
			now = p.saved
		}
		return now, p.saved, nil
	}
	now, ok, err := s.readInForce(c.ID)
	if err != nil {
		return now, next, err
	}
	if !ok {
		return p.saved, p.saved, nil
	}
	next = now
	for _, ch := range p.changes {
		if !ch.param.Live {
			continue // held from the next start on (applyLive says so)
		}
		if err := next.Set(ch.param.Key, ch.value); err != nil {
			return now, next, fmt.Errorf("%w: %v", ErrBadParam, err)
		}
	}
	if err := p.validate(s, c, next, o); err != nil {
		return now, next, err
	}
	return now, next, nil
}

// changeIPs applies --ipdel, then --ipadd, to the IP_ADDRESS entries ips.
// Entries are matched by address ("192.0.2.10" removes "192.0.2.10/24"),
// so an address is listed once; o.IPDel becomes the entries removed, for
// the live change. A saved entry is removable whatever it is; an added one
// must pass ParseIP.
func changeIPs(ips []string, o *SetOptions) ([]string, error) {
	same := func(a, b string) bool {
		x, okx := confAddr(a)
		y, oky := confAddr(b)
		return a == b || okx && oky && x == y
	}
	var removed []string
	for _, del := range o.IPDel {
		if del == "all" {
			removed, ips = append(removed, ips...), nil
			continue
		}
		if _, ok := confAddr(del); !ok && !slices.Contains(ips, del) {
			_, err := ParseIP(del)
			return nil, fmt.Errorf("--ipdel: %w", err)
		}
		n := len(removed)
		ips = slices.DeleteFunc(ips, func(x string) bool {
			if same(x, del) {
				removed = append(removed, x)
				return true
			}
			return false
		})
		if len(removed) == n {
			// Not saved, perhaps live (set without --save): removed there.
			removed = append(removed, del)
		}
	}
	o.IPDel = removed
	for _, add := range o.IPAdd {
		if _, err := ParseIP(add); err != nil {
			return nil, fmt.Errorf("--ipadd: %w", err)
		}
		ips = slices.DeleteFunc(ips, func(x string) bool { return same(x, add) })
		ips = append(ips, add)
	}
	return ips, nil
}

// mergeOnOff merges "NAME:on|off" changes into an OpenVZ on/off list key.
func mergeOnOff(c *Container, key string, changes []string, check func(string) error) error {
	if len(changes) == 0 {
		return nil
	}
	if err := check(strings.Join(changes, " ")); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadParam, key, err)
	}
	cur, err := ParseOnOff(c.Get(key))
	if err != nil {
		return fmt.Errorf("%w: %s in %s: %v", ErrBadParam, key, c.ConfPath, err)
	}
	upd, _ := ParseOnOff(strings.Join(changes, " "))
	norm := func(n string) string { return strings.TrimPrefix(strings.ToUpper(n), "CAP_") }
	if key == KeyFeatures {
		norm = strings.ToLower
	}
	merged := map[string]bool{}
	for n, on := range cur {
		merged[norm(n)] = on
	}
	for n, on := range upd {
		merged[norm(n)] = on
	}
	var parts []string
	for _, n := range sortedKeys(merged) {
		state := "off"
		if merged[n] {
			state = "on"
		}
		parts = append(parts, n+":"+state)
	}
	c.Conf.Set(key, strings.Join(parts, " "))
	return nil
}

func (s *Store) applyLive(ctx context.Context, c *Container, sb *sandbox.Sandbox, pid int, o *SetOptions, plan *resourcePlan) error {
	if o.Hostname != "" {
		// The kernel's hostname from the host: the container lacks
		// CAP_SYS_ADMIN, so hostname(1) inside cannot set it.
		if err := setUTSHostname(pid, o.Hostname); err != nil {
			return fmt.Errorf("container %s: %w", c.ID, err)
		}
		if err := s.setupFiles(ctx, c, sb, distros.SetHostname, []string{"HOSTNAME=" + o.Hostname}); err != nil {
			return err
		}
	}
	if o.Nameservers != nil || o.SearchDomains != nil {
		ns, search, err := s.dnsOf(c, s.log().Info) // warned in Set
		if err != nil {
			return err
		}
		env := []string{"NAMESERVER=" + strings.Join(ns, " "), "SEARCHDOMAIN=" + strings.Join(search, " ")}
		if err := s.setupFiles(ctx, c, sb, distros.SetDNS, env); err != nil {
			return err
		}
	}
	if len(o.IPAdd) > 0 || len(o.IPDel) > 0 {
		if s.Net == nil {
			s.log().Warn("no network backend: addresses saved, not configured", "ctid", c.ID)
		} else {
			att, err := s.Net.SetIPs(ctx, c.ID, fmt.Sprintf("/proc/%d/ns/net", pid), o.IPAdd, o.IPDel)
			if err != nil {
				return fmt.Errorf("container %s: network: %w", c.ID, err)
			}
			if err := s.updateState(c.ID, func(rs *RunState) { rs.Network = att }); err != nil {
				return err
			}
		}
	}
	if plan != nil {
		now, next, err := s.live(c, plan, o)
		if err != nil {
			return err
		}
		if err := s.applyResources(ctx, c, sb, next, now, plan.hostOf(s, c), plan.disk); err != nil {
			return err
		}
		for _, ch := range o.Resources {
			if !ch.Param.Live {
				s.log().Warn(ch.Param.Key+" takes effect at the next start of a running container", "ctid", c.ID)
			}
		}
	}
	return nil
}

// setupFiles changes a running container's files for action with its
// distro's setup script (package distros), run inside the container. An
// image whose distro has no scripts gets the same files written from the
// host (writeConfFiles), which covers hostname and DNS.
func (s *Store) setupFiles(ctx context.Context, c *Container, sb *sandbox.Sandbox, action distros.SetupAction, env []string) error {
	script, err := distroScript(c, action)
	if err != nil {
		s.log().Info("no distro setup script, writing files from the host", "ctid", c.ID, "action", action, "why", err)
		return s.writeConfFiles(c)
	}
	return runSetupScript(ctx, c, script, action, env, func(p sandbox.Process) (int, error) {
		return sb.Exec(ctx, p)
	})
}

// distroScript finds the setup script for the distro of c's mounted root,
// named by ID (then ID_LIKE) of its /etc/os-release (usually a symlink,
// which is not followed: then /usr/lib/os-release, which it points to).
func distroScript(c *Container, action distros.SetupAction) ([]byte, error) {
	r, err := c.openRoot()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := r.ReadFile("etc/os-release", maxEtcFile)
	if err != nil {
		if b, err = r.ReadFile("usr/lib/os-release", maxEtcFile); err != nil {
			return nil, fmt.Errorf("os-release: %w", err)
		}
	}
	var ids []string
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if ok && (k == "ID" || k == "ID_LIKE") {
			ids = append(ids, strings.Fields(strings.Trim(v, `"'`))...)
		}
	}
	err = fmt.Errorf("os-release names no distro")
	for _, id := range ids {
		var script []byte
		if script, err = distros.Script(id, action); err == nil {
			return script, nil
		}
	}
	return nil, err
}

// runSetupScript runs a setup script as the scripts' README says:
// /bin/sh -c SCRIPT vzkit-ACTION, settings in the environment.
func runSetupScript(ctx context.Context, c *Container, script []byte, action distros.SetupAction, env []string,
	run func(sandbox.Process) (int, error)) error {
	var out bytes.Buffer
	st, err := run(sandbox.Process{
		Args: []string{"/bin/sh", "-c", string(script), "vzkit-" + string(action)},
		Env:  append(append([]string{}, containerEnv...), env...), Stdout: &out, Stderr: &out,
	})
	if err != nil {
		return fmt.Errorf("container %s: %s: %w", c.ID, action, err)
	}
	if st != 0 {
		return fmt.Errorf("container %s: %s: exit status %d: %s", c.ID, action, st, strings.TrimSpace(out.String()))
	}
	return nil
}

// setUTSHostname sets the hostname in the UTS namespace of pid. The thread
// that joins the namespace is never handed back to the Go scheduler: it
// ends with its goroutine, so no other code runs in the container's UTS.
func setUTSHostname(pid int, h string) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // no Unlock: the thread dies with us
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/uts", pid))
		if err != nil {
			errc <- fmt.Errorf("UTS namespace: %w", err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWUTS); err != nil {
			errc <- fmt.Errorf("join UTS namespace of %d: %w", pid, err)
			return
		}
		if err := unix.Sethostname([]byte(h)); err != nil {
			errc <- fmt.Errorf("sethostname: %w", err)
			return
		}
		errc <- nil
	}()
	return <-errc
}

// setPasswords runs the distro's set_userpass script in the running
// container, or in a one-off sandbox on the mounted root of a stopped one.
func (s *Store) setPasswords(ctx context.Context, c *Container, sb *sandbox.Sandbox, users []string) error {
	do := func(run func(sandbox.Process) (int, error)) error {
		// The root is mounted by now: its os-release names the distro.
		script, err := distroScript(c, distros.SetUserPass)
		if err != nil {
			return fmt.Errorf("container %s: --userpasswd: %w", c.ID, err)
		}
		env := []string{"USERPW=" + strings.Join(users, "\n")}
		return runSetupScript(ctx, c, script, distros.SetUserPass, env, run)
	}
	if sb != nil {
		return do(func(p sandbox.Process) (int, error) { return sb.Exec(ctx, p) })
	}
	return s.oneOff(ctx, c, "set", do)
}
