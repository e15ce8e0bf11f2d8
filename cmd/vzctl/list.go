package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/runtime"
	"github.com/vzkit/vzkit/runtime/vzlist"
)

const listLong = `List containers as OpenVZ's vzlist(8) does: by default the running ones,
in the columns CTID NPROC STATUS IP_ADDR HOSTNAME. The same command runs as
"vzctl list" and as "vzlist" (make install links vzlist to vzctl).

-a adds the stopped containers, -S shows only those that do not run
(mounted ones included). CTIDs or names as arguments list only those,
whatever their state; one that does not exist is reported on stderr after
the others and the exit code is 14. -h, -N and -d keep the containers whose
hostname, name or description matches a shell pattern (* ? [...]; quote it
from the shell). -h is that filter, as in vzlist: help is --help.

-o FIELD,... picks the columns, -s [-]FIELD sorts (a leading "-" reverses;
unset values come first, numbers and addresses in their order), -L lists
the field names. The fields are vzlist's: ctid (veid), name, smart_name,
hostname, ip, status, numproc, ostemplate, onboot, bootorder, layout,
description, nameserver, searchdomain, features, origin_sample, private,
root, diskspace and diskinodes (the private area's usage in KB and
inodes, measured only when asked for, with .s and .h their soft and hard
limits), the beancounters (numproc, physpages, kmemsize, swappages, ...,
each with .m maxheld, .b barrier, .l limit, .f failcnt: what "vzctl ubc"
shows, from the same cgroup counters; held, maxheld and failcnt only for a
running container, barrier and limit for every one), and cpulimit
(percent of one CPU, 0 no cap), cpuunits, cpus (0 all), ioprio (0..7) and
vswap (yes when PHYSPAGES and SWAPPAGES both have a limit). Barrier,
limit and those limits are the configuration in force: for a running
container what it holds, a "vzctl set" without --save included; for a
stopped one its files. laverage and uptime are vzlist names that vzkit
does not measure: they are refused, never shown with invented values.
Unset values print as "-"; a list (ip, nameserver, ...) that is not the
last column shows its first word, so that every column stays one word,
unless -t.

-j prints vzlist 4's JSON: an array of objects keyed by field name, every
field or those of -o, ctid a number, unset values null, numproc as
{"held": N, "maxheld": N, "barrier": N, "limit": N, "failcnt": N}
(barrier and limit alone for a stopped one), diskspace as {"usage": KB},
cpulimit, cpuunits, cpus and ioprio as numbers, vswap as true or false.
-o json prints vzkit's own
record of each container instead (ctid a string, every field that needs no
disk walk).

A container whose CTID.conf cannot be read is still listed (with -a, when
it runs, or when named) with STATUS "error", and its file, line and reason
go to stderr ("error" in JSON); every other container is listed as always
and the exit code is 85 (OpenVZ's "invalid config").

Examples:
  vzlist -a
  vzlist -o ctid,hostname,ip -s hostname
  vzlist -H -o ctid,status -S
  vzlist -1 -h 'web*'
  vzlist -j -o ctid,name,ip 101 web
  vzctl list -a -o json`

func newListCommand(a *app) *cobra.Command {
	var (
		f                                  vzlist.Filter
		outputs                            []string
		oldFields, sortBy                  string
		noHeader, noTrim, withName, onlyID bool
		vzlistJSON, listNames              bool
	)
	c := &cobra.Command{
		Use:     "list [-a|-S] [-n] [-H] [-t] [-j] [-o FIELD,...|-1] [-s [-]FIELD] [-h GLOB] [-N GLOB] [-d GLOB] [CTID|NAME...]",
		Aliases: []string{"vzlist"},
		Short:   "List containers, like vzlist",
		Long:    listLong,
		Args:    usageArgs(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if listNames {
				return printFieldNames(out)
			}
			format, fieldList := cli.Table, ""
			for _, o := range outputs {
				switch o {
				case string(cli.Table), string(cli.JSON):
					format = cli.Format(o)
				default:
					fieldList = o // the last list wins, as in vzlist
				}
			}
			if cmd.Flags().Changed("fields") {
				fieldList = oldFields
			}
			switch {
			case f.All && f.Stopped:
				return cli.UsageError(errors.New("-a and -S exclude each other"))
			case vzlistJSON && cmd.Flags().Changed("output") && format == cli.JSON:
				return cli.UsageError(errors.New("-j prints vzlist's JSON and -o json vzkit's record: choose one"))
			case vzlistJSON && slices.Contains(outputs, string(cli.Table)):
				return cli.UsageError(errors.New("-j and -o table exclude each other"))
			case format == cli.JSON && (fieldList != "" || onlyID):
				return cli.UsageError(errors.New("-o json prints the whole record; for chosen fields use -j -o FIELD,..."))
			case onlyID && fieldList != "":
				return cli.UsageError(errors.New("-1 means -H -o ctid; it takes no other field list"))
			}
			var fields []vzlist.Field
			var err error
			switch {
			case onlyID:
				fieldList, noHeader = "ctid", true
			case fieldList == "" && vzlistJSON:
				fields = vzlist.Shown()
			case fieldList == "" && withName:
				fieldList = vzlist.NameFields
			case fieldList == "":
				fieldList = vzlist.DefaultFields
			}
			if fields == nil {
				if fields, err = vzlist.ParseFields(fieldList); err != nil {
					return cli.ValueError(fmt.Errorf("-o: %w", err))
				}
			}
			var key *vzlist.SortKey
			if sortBy != "" {
				k, err := vzlist.ParseSort(sortBy)
				if err != nil {
					return cli.ValueError(fmt.Errorf("-s: %w", err))
				}
				key = &k
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			opts := runtime.EntryOptions{DiskUsage: vzlist.NeedDiskUsage(fields...), Beancounters: vzlist.NeedBeancounters(fields...),
				Resources: vzlist.NeedResources(fields...)}
			if key != nil {
				opts.DiskUsage = opts.DiskUsage || key.Field.DiskUsage
				opts.Beancounters = opts.Beancounters || vzlist.NeedBeancounters(key.Field)
				opts.Resources = opts.Resources || vzlist.NeedResources(key.Field)
			}
			all, err := st.Entries(opts)
			if err != nil {
				return ctErr(err)
			}
			f.Args = args
			entries, missing, err := f.Select(all)
			if err != nil {
				return ctErr(err)
			}
			if key != nil {
				vzlist.Sort(entries, *key)
			}
			switch {
			case vzlistJSON:
				err = writeVzlistJSON(out, fields, entries)
			case format == cli.JSON:
				err = cli.WriteJSON(out, entries)
			default:
				err = writeListTable(out, fields, entries, !noHeader, !noTrim)
			}
			if err != nil {
				return err
			}
			return listProblems(cmd, entries, missing)
		},
	}
	fl := c.Flags()
	fl.BoolVarP(&f.All, "all", "a", false, "list stopped containers too")
	fl.BoolVarP(&f.Stopped, "stopped", "S", false, "list only containers that do not run")
	fl.StringVarP(&f.Hostname, "hostname", "h", "", "only containers whose hostname matches `GLOB`")
	fl.StringVarP(&f.Name, "name_filter", "N", "", "only containers whose name matches `GLOB`")
	fl.StringVarP(&f.Description, "description", "d", "", "only containers whose description matches `GLOB`")
	fl.StringArrayVarP(&outputs, "output", "o", nil, "`FIELD,...`: the columns; or json (vzkit's record), or table")
	fl.StringVarP(&oldFields, "fields", "O", "", "columns, comma separated")
	_ = fl.MarkDeprecated("fields", "use -o FIELD,... as vzlist does")
	fl.BoolVarP(&withName, "name", "n", false, "show NAME instead of HOSTNAME")
	fl.BoolVarP(&onlyID, "ctid-only", "1", false, "only the CTIDs, one per line (-H -o ctid)")
	fl.BoolVarP(&noHeader, "no-header", "H", false, "no header line")
	fl.BoolVarP(&noTrim, "no-trim", "t", false, "every word of list fields in every column")
	fl.BoolVarP(&vzlistJSON, "json", "j", false, "vzlist 4's JSON (with -o: those fields)")
	fl.StringVarP(&sortBy, "sort", "s", "", "sort by `[-]FIELD` (\"-\": reversed)")
	fl.BoolVarP(&listNames, "list", "L", false, "list the field names")
	// cobra would bind help to -h, which vzlist uses for the hostname
	// filter: help is --help alone here.
	fl.Bool("help", false, "help for "+c.Name())
	return c
}

// newVzlistCommand is the program vzlist: vzctl's binary started under that
// name runs the list command as its root.
func newVzlistCommand() *cobra.Command {
	a := &app{}
	c := newListCommand(a)
	c.Use = strings.Replace(c.Use, "list ", "vzlist ", 1)
	c.Aliases = nil
	c.Short = "List containers (vzctl's list command, as OpenVZ's vzlist)"
	c.Long = strings.ReplaceAll(c.Long, `"vzctl list" and as "vzlist"`, `"vzlist" and as "vzctl list"`) + exitCodesHelp
	c.SilenceUsage, c.SilenceErrors = true, true
	a.Register(c)
	cli.SetVersion(c, version)
	c.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return cli.UsageError(err) })
	return c
}

// listProblems reports the named containers that do not exist (exit 14)
// and those whose CTID.conf is broken (exit 85), after the listing that
// still shows everything else.
func listProblems(cmd *cobra.Command, shown []runtime.Entry, missing []string) error {
	w, prog := cmd.ErrOrStderr(), cmd.Root().Name()
	code := 0
	for _, e := range shown {
		if e.Err != nil {
			fmt.Fprintf(w, "%s: %v\n", prog, e.Err)
			code = exitBadConfig
		}
	}
	for _, m := range missing {
		fmt.Fprintf(w, "%s: container %s: %v\n", prog, m, runtime.ErrNotExist)
		code = exitNotExist
	}
	if code == 0 {
		return nil
	}
	return cli.Reported(code)
}

// cell renders a value as vzlist does: "-" for nothing. A list shows its
// first word unless it may show all (last column, or -t).
func cell(v any, whole bool) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case []string:
		if !whole {
			return v[0]
		}
		return strings.Join(v, " ")
	case bool:
		if v {
			return "yes"
		}
		return "no"
	case uint64:
		return strconv.FormatUint(v, 10)
	case runtime.State:
		return string(v)
	case string:
		return v
	}
	panic(fmt.Sprintf("list: no rendering for %T", v))
}

func writeListTable(w io.Writer, fields []vzlist.Field, entries []runtime.Entry, header, trimLists bool) error {
	rows := make([][]string, 0, len(entries))
	for _, e := range entries {
		row := make([]string, len(fields))
		for i, f := range fields {
			row[i] = cell(f.Value(&e), !trimLists || i == len(fields)-1)
		}
		rows = append(rows, row)
	}
	if !header {
		return cli.WriteRows(w, rows)
	}
	hdr := make([]string, len(fields))
	for i, f := range fields {
		hdr[i] = f.Header
	}
	return cli.WriteTable(w, hdr, rows)
}

// object is a JSON object whose keys keep the order of the fields asked
// for, as vzlist prints them.
type object struct {
	keys []string
	vals []any
}

func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(o.vals[i])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// vzlistValue is a value as vzlist 4's JSON has it: null for unset, [] for
// an empty list, a beancounter as an object of its values ({"held": N,
// "maxheld": ..., "barrier": ..., "limit": ..., "failcnt": ...}), a quota
// as {"usage": N} (its limits as {"softlimit": N} and {"hardlimit": N}).
func vzlistValue(f vzlist.Field, e *runtime.Entry) any {
	v := f.Value(e)
	switch f.Kind {
	case vzlist.Beancounter:
		if u := f.Beancounter(e); u != nil {
			return u
		}
	case vzlist.Quota:
		if v != nil {
			key := "usage"
			switch {
			case strings.HasSuffix(f.Name, ".s"):
				key = "softlimit"
			case strings.HasSuffix(f.Name, ".h"):
				key = "hardlimit"
			}
			return map[string]any{key: v}
		}
	}
	if f.List && v == nil {
		return []string{}
	}
	return v
}

func writeVzlistJSON(w io.Writer, fields []vzlist.Field, entries []runtime.Entry) error {
	out := make([]object, 0, len(entries))
	for _, e := range entries {
		var o object
		for _, f := range fields {
			o.keys = append(o.keys, f.Name)
			o.vals = append(o.vals, vzlistValue(f, &e))
		}
		if e.Err != nil {
			o.keys = append(o.keys, "error")
			o.vals = append(o.vals, e.Err.Error())
		}
		out = append(out, o)
	}
	return cli.WriteJSON(w, out)
}

// printFieldNames is vzlist -L: each field name, its column header and
// what it shows.
func printFieldNames(w io.Writer) error {
	var rows [][]string
	for _, f := range vzlist.All() {
		help := f.Help
		if f.Unavailable != "" {
			help += " (not available yet: " + f.Unavailable + ")"
		}
		rows = append(rows, []string{f.Name, f.Header, help})
	}
	return cli.WriteRows(w, rows)
}
