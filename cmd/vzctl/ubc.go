package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/runtime"
	"github.com/vzkit/vzkit/runtime/resource"
)

// ubcLong lists the counters from resource.UBCResources, so that the help
// says what the code does.
func ubcLong() string {
	var counted, approx, none []string
	for _, r := range resource.UBCResources {
		switch {
		case r.Counter == "":
			none = append(none, r.Name)
		case r.Approximate:
			approx = append(approx, wrapHelp(r.Name+": "+r.Counter, "  ", "      "))
		default:
			counted = append(counted, wrapHelp(r.Name+": "+r.Counter, "  ", "      "))
		}
	}
	return `Print the beancounters of running containers in the layout of OpenVZ's
/proc/user_beancounters: a "Version: 2.5" line, the header
"uid resource held maxheld barrier limit failcnt", then one row per
resource, the CTID on the first row of each container. --all prints every
running container; a named container that does not run is reported on
stderr after the others (exit 31).

Mainline kernels have no beancounters: barrier and limit are the
container's configuration in force (what it holds: a "vzctl set" without
--save shows here until the next start; pages for the *pages resources,
bytes for kmemsize, 9223372036854775807 for unlimited, as OpenVZ prints
it); held, maxheld and failcnt come from its cgroup (v1 or v2) where
mainline counts the resource. Counted as OpenVZ does:
` + strings.Join(counted, "\n") + `
Approximations (a mainline counter near OpenVZ's):
` + strings.Join(approx, "\n") + `
` + wrapHelp("No mainline counter (held, maxheld and failcnt are 0): "+strings.Join(none, ", ")+".", "", "") + `

The same values are vzlist's beancounter fields ("vzctl list -o
numproc,numproc.m,numproc.f,physpages.l").

Examples:
  vzctl ubc 101
  vzctl ubc 101 web
  vzctl ubc --all`
}

// helpWidth is the width the commands' Long texts are wrapped at.
const helpWidth = 76

// wrapHelp wraps text at word boundaries to helpWidth columns, for a
// generated line of a Long text: first prefixes its first line, rest the
// ones after.
func wrapHelp(text, first, rest string) string {
	var b strings.Builder
	line := first
	for i, w := range strings.Fields(text) {
		if i > 0 && len(line)+1+len(w) > helpWidth {
			b.WriteString(line + "\n")
			line = rest + w
			continue
		}
		if i > 0 {
			line += " "
		}
		line += w
	}
	b.WriteString(line)
	return b.String()
}

func newUbcCommand(a *app) *cobra.Command {
	var all bool
	c := &cobra.Command{
		Use:   "ubc {CTID|NAME...|--all}",
		Short: "Print containers' beancounters, like /proc/user_beancounters",
		Long:  ubcLong(),
		Args: usageArgs(func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return errors.New("give CTIDs or names, or --all")
			}
			return nil
		}),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.store()
			if err != nil {
				return err
			}
			var cts []*runtime.Container
			if all {
				regs, err := st.Scan()
				if err != nil {
					return ctErr(err)
				}
				for _, r := range regs {
					if r.Err == nil {
						cts = append(cts, r.C)
					}
				}
			} else {
				for _, arg := range args {
					id, err := st.Resolve(arg)
					if err != nil {
						return ctErr(err)
					}
					ct, err := st.Load(id)
					if err != nil {
						return ctErr(err)
					}
					cts = append(cts, ct)
				}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, "Version: 2.5")
			fmt.Fprintf(out, "%10s  %-12s %20s %20s %20s %20s %20s\n", "uid", "resource", "held", "maxheld", "barrier", "limit", "failcnt")
			var stopped []string
			for _, ct := range cts {
				rows, running, err := st.Beancounters(ct)
				if err != nil {
					return ctErr(err)
				}
				if !running {
					if !all {
						stopped = append(stopped, ct.ID)
					}
					continue
				}
				writeUBC(out, ct.ID, rows)
			}
			for _, id := range stopped {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: container %s: %v\n", cmd.Root().Name(), id, runtime.ErrNotRunning)
			}
			if len(stopped) > 0 {
				return cli.Reported(exitNotRunning)
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&all, "all", "a", false, "every running container")
	return c
}

// writeUBC prints one container's rows as /proc/user_beancounters does.
func writeUBC(w io.Writer, ctid string, rows []resource.Beancounter) {
	for i, r := range rows {
		uid := ""
		if i == 0 {
			uid = ctid + ":"
		}
		fmt.Fprintf(w, "%11s %-12s %20d %20d %20d %20d %20d\n", uid, r.Resource, r.Held, r.MaxHeld, uint64(r.Barrier), uint64(r.Limit), r.FailCnt)
	}
}
