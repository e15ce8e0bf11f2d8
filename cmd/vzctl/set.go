package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/runtime"
	"github.com/vzkit/vzkit/runtime/resource"
)

func newSetCommand(a *app) *cobra.Command {
	var o runtime.SetOptions
	var nameservers, searchdomains []string
	c := &cobra.Command{
		Use:   "set CTID [--hostname H] [--ipadd A] [--ipdel A|all] [--nameserver A] [--searchdomain D] [--userpasswd U:P] [--onboot yes|no] [--disabled yes|no] [--name N] [--privileged yes|no] [--init KIND] [--capability NAME:on|off] [--features nesting:on|off] [--ram SIZE] [--swap SIZE] [--PARAM barrier[:limit]]... [--applyconfig NAME] [--reset_ub] [--save]",
		Short: "Change a container's settings",
		Long: `Change settings of a container. A running container is changed at once:
the hostname (kernel and /etc/hostname, /etc/hosts), /etc/resolv.conf,
IP addresses, passwords. --save also writes CTID.conf so the change
survives a restart; a stopped container needs --save (except for
--userpasswd, which is applied to the stopped container's files and never
saved). --ipadd, --ipdel, --nameserver and --searchdomain repeat.

Addresses (--ipadd A or A/PREFIX, IPv4 or IPv6) are checked when they are
set, not at the next start: loopback, multicast, unspecified (0.0.0.0, ::),
link-local (169.254.0.0/16, fe80::/10) and broadcast addresses are refused
(exit 71), and so is an address that another container's CTID.conf lists,
that a running container holds, or that the host has on one of its
interfaces (exit 78, naming who has it). Two sets racing for one address
cannot both get it. --ipdel matches by address (192.0.2.10 removes
192.0.2.10/24); --ipdel all removes every one.

--nameserver inherit (and --searchdomain inherit) give the container the
host's resolvers (search domains) from its /etc/resolv.conf, read again at
every start, as OpenVZ does. Resolvers on a loopback address (such as
systemd-resolved's 127.0.0.53) are skipped, with a warning: inside the
container that address is the container's own loopback. When only such
resolvers are there, systemd-resolved's upstream servers
(/run/systemd/resolve/resolv.conf) are used; when nothing usable is left,
the set fails (exit 72).

  vzctl set 101 --ipadd 192.0.2.10 --ipadd 2001:db8::10 --save
  vzctl set 101 --ipdel 192.0.2.10 --save
  vzctl set 101 --nameserver inherit --searchdomain inherit --save
  vzctl set 101 --nameserver 192.0.2.53 --nameserver 192.0.2.54 --save

The privilege settings take effect at the next start and need --save:
  --privileged yes|no     yes: the container's root is the host's root (see
                          "vzctl create --help" for the risk); no: it gets
                          its own unprivileged id range at the next start
  --init KIND             systemd, sysvinit or minimal (INIT_KIND)
  --capability NAME:on|off  add or drop a capability (OpenVZ's CAPABILITY,
                          repeatable); SYS_ADMIN:on in a privileged container
                          is root of the host in all but name
  --features nesting:on|off  let an unprivileged container make user
                          namespaces of its own (refused by seccomp otherwise)

Resources change in a running container at once, and with --save for
every later start; a set changes only the parameters it names, and
without --save the container holds them until it stops ("vzctl ubc" and
vzlist show what it holds). Values are OpenVZ's: barrier[:limit] (one
number is both), a bare number in the parameter's unit (pages for memory,
1K blocks for disk space), K/M/G/T suffixes for bytes, P for pages,
"unlimited":

  vzctl set 101 --ram 512M --swap 1G --save
  vzctl set 101 --numproc 200 --cpuunits 2000 --cpulimit 50 --save
  vzctl set 101 --diskspace 10G:11G --save
  vzctl set 101 --applyconfig vswap-256m --save

  --ram SIZE              RAM; the same as --physpages 0:SIZE
  --swap SIZE             swap beyond RAM; the same as --swappages 0:SIZE
` + resourceFlagHelp() + `
  --applyconfig NAME      take the resource parameters of
                          CONFDIR/ve-NAME.conf-sample
  --reset_ub              apply the saved resource parameters again, whole

A value out of range is refused, naming the parameter and what it allows
(exit 21). Mainline kernels have no beancounters: each parameter is held
by a cgroup limit, an rlimit or a sysctl, and some only approximately;
"vzctl ubc CTID" shows what is held and what was hit, and the README's
Resources table (or "man ctid.conf") says how each one maps.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, id, err := a.container(args[0])
			if err != nil {
				return err
			}
			for _, p := range resource.Params {
				if f := cmd.Flags().Lookup(p.Flag); f.Changed {
					o.Resources = append(o.Resources, runtime.ResourceChange{Param: p, Value: f.Value.String()})
				}
			}
			for _, alias := range []struct{ flag, param string }{{"ram", "PHYSPAGES"}, {"swap", "SWAPPAGES"}} {
				if f := cmd.Flags().Lookup(alias.flag); f.Changed {
					p, _ := resource.Lookup(alias.param)
					o.Resources = append(o.Resources, runtime.ResourceChange{Param: p, Value: "0:" + f.Value.String(), Flag: alias.flag})
				}
			}
			if cmd.Flags().Changed("nameserver") {
				o.Nameservers = splitList(nameservers)
			}
			if cmd.Flags().Changed("searchdomain") {
				o.SearchDomains = splitList(searchdomains)
			}
			ctx, cancel := signalContext(cmd)
			defer cancel()
			if err := st.Set(ctx, id, o); err != nil {
				return ctErr(err)
			}
			if o.Save {
				fmt.Fprintf(cmd.OutOrStdout(), "Saved parameters for container %s\n", id)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&o.Hostname, "hostname", "", "hostname")
	f.StringArrayVar(&o.IPAdd, "ipadd", nil, "add an IP address (A or A/PREFIX)")
	f.StringArrayVar(&o.IPDel, "ipdel", nil, `remove an IP address ("all": every one)`)
	f.StringArrayVar(&nameservers, "nameserver", nil, `DNS server address ("inherit": the host's)`)
	f.StringArrayVar(&searchdomains, "searchdomain", nil, `DNS search domain ("inherit": the host's)`)
	f.StringArrayVar(&o.UserPasswd, "userpasswd", nil, "set USER:PASSWORD (creates the user if missing)")
	f.StringVar(&o.OnBoot, "onboot", "", "start at boot (start --all-onboot): yes or no")
	f.StringVar(&o.Name, "name", "", "container name")
	f.StringVar(&o.Disabled, "disabled", "", "yes: start refuses the container (exit 105) unless start --force; no: allowed again")
	f.StringVar(&o.Privileged, "privileged", "", "yes: the container's root is the host's root; no: unprivileged (next start)")
	f.StringVar(&o.Init, "init", "", "init kind: systemd, sysvinit or minimal (next start)")
	f.StringArrayVar(&o.Capabilities, "capability", nil, "NAME:on or NAME:off (repeatable; next start)")
	f.StringArrayVar(&o.Features, "features", nil, "nesting:on or nesting:off (next start)")
	f.String("ram", "", "RAM (--physpages 0:SIZE), e.g. 512M")
	f.String("swap", "", "swap beyond RAM (--swappages 0:SIZE), e.g. 1G")
	for _, p := range resource.Params {
		f.String(p.Flag, "", p.Help)
	}
	f.StringVar(&o.ApplyConfig, "applyconfig", "", "take the resource parameters of sample ve-NAME.conf-sample")
	f.BoolVar(&o.ResetUB, "reset_ub", false, "apply the saved resource parameters to the running container again")
	f.BoolVar(&o.Save, "save", false, "save the changes to CTID.conf")
	return c
}

// splitList accepts both repeated flags and OpenVZ's space-separated lists.
func splitList(vals []string) []string {
	out := []string{}
	for _, v := range vals {
		out = append(out, strings.Fields(v)...)
	}
	return out
}

// resourceFlagHelp lists the resource parameters' flags for set's help.
func resourceFlagHelp() string {
	var b strings.Builder
	for _, p := range resource.Params {
		arg := "N"
		if p.Kind == resource.KindPair {
			arg = "B[:L]"
		} else if p.Kind == resource.KindList {
			arg = "LIST"
		}
		fmt.Fprintf(&b, "  %-24s%s\n", "--"+p.Flag+" "+arg, p.Help)
	}
	return strings.TrimRight(b.String(), "\n")
}
