package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cmd/internal/cli"
	"github.com/vzkit/vzkit/runtime"
)

// listField is a vzlist column: its name for --fields/--sort, header and
// value; numeric fields sort as numbers.
type listField struct {
	name, header string
	numeric      bool
	value        func(e runtime.Entry) any
}

var listFields = []listField{
	{"ctid", "CTID", true, func(e runtime.Entry) any { return e.CTID }},
	{"numproc", "NPROC", true, func(e runtime.Entry) any { return e.NProc }},
	{"status", "STATUS", false, func(e runtime.Entry) any { return e.Status }},
	{"ip", "IP_ADDR", false, func(e runtime.Entry) any { return e.IPs }},
	{"hostname", "HOSTNAME", false, func(e runtime.Entry) any { return e.Hostname }},
	{"name", "NAME", false, func(e runtime.Entry) any { return e.Name }},
	{"ostemplate", "OSTEMPLATE", false, func(e runtime.Entry) any { return e.OSTemplate }},
	{"onboot", "ONBOOT", false, func(e runtime.Entry) any { return e.OnBoot }},
	{"layout", "LAYOUT", false, func(e runtime.Entry) any { return e.Layout }},
	{"private", "PRIVATE", false, func(e runtime.Entry) any { return e.Private }},
	{"root", "ROOT", false, func(e runtime.Entry) any { return e.Root }},
}

func findField(name string) (listField, error) {
	for _, f := range listFields {
		if f.name == name {
			return f, nil
		}
	}
	names := make([]string, len(listFields))
	for i, f := range listFields {
		names[i] = f.name
	}
	return listField{}, cli.UsageError(fmt.Errorf("unknown field %q (fields: %s)", name, strings.Join(names, ", ")))
}

// cell renders a value as vzlist does: "-" for nothing.
func cell(v any) string {
	switch v := v.(type) {
	case []string:
		if len(v) == 0 {
			return "-"
		}
		return strings.Join(v, " ")
	case bool:
		if v {
			return "yes"
		}
		return "no"
	case int:
		return strconv.Itoa(v)
	case string:
		if v == "" {
			return "-"
		}
		return v
	}
	return fmt.Sprint(v)
}

func newListCommand(a *app) *cobra.Command {
	var all bool
	var fields, sortBy string
	c := &cobra.Command{
		Use:     "list [-a] [-O FIELD,...] [-s [-]FIELD] [-o table|json]",
		Aliases: []string{"vzlist"},
		Short:   "List containers, like vzlist",
		Long: `List running containers (-a: all) with vzlist's default columns CTID NPROC
STATUS IP_ADDR HOSTNAME. --fields/-O picks columns from: ctid, numproc,
status, ip, hostname, name, ostemplate, onboot, layout, private, root.
--sort/-s sorts by a field ("-field" for descending). -o json prints
objects with every field, or with the chosen ones when -O is given.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := a.Format()
			if err != nil {
				return err
			}
			var cols []listField
			for _, n := range strings.Split(fields, ",") {
				f, err := findField(strings.TrimSpace(n))
				if err != nil {
					return err
				}
				cols = append(cols, f)
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			entries, err := st.Entries(all)
			if err != nil {
				return ctErr(err)
			}
			if sortBy != "" {
				desc := strings.HasPrefix(sortBy, "-")
				f, err := findField(strings.TrimPrefix(sortBy, "-"))
				if err != nil {
					return err
				}
				slices.SortStableFunc(entries, func(x, y runtime.Entry) int {
					r := compareCells(f, x, y)
					if desc {
						return -r
					}
					return r
				})
			}
			if format == cli.JSON {
				if !cmd.Flags().Changed("fields") {
					return cli.WriteJSON(cmd.OutOrStdout(), entries)
				}
				out := make([]map[string]any, 0, len(entries))
				for _, e := range entries {
					m := map[string]any{}
					for _, f := range cols {
						m[f.name] = f.value(e)
					}
					out = append(out, m)
				}
				return cli.WriteJSON(cmd.OutOrStdout(), out)
			}
			header := make([]string, len(cols))
			for i, f := range cols {
				header[i] = f.header
			}
			rows := make([][]string, 0, len(entries))
			for _, e := range entries {
				row := make([]string, len(cols))
				for i, f := range cols {
					row[i] = cell(f.value(e))
				}
				rows = append(rows, row)
			}
			return cli.WriteTable(cmd.OutOrStdout(), header, rows)
		},
	}
	fl := c.Flags()
	fl.BoolVarP(&all, "all", "a", false, "list stopped containers too")
	fl.StringVarP(&fields, "fields", "O", "ctid,numproc,status,ip,hostname", "columns, comma separated")
	fl.StringVarP(&sortBy, "sort", "s", "", "sort by FIELD (-FIELD: descending)")
	a.AddOutputFlag(c)
	return c
}

func compareCells(f listField, x, y runtime.Entry) int {
	a, b := cell(f.value(x)), cell(f.value(y))
	if f.numeric {
		na, _ := strconv.Atoi(a)
		nb, _ := strconv.Atoi(b)
		return na - nb
	}
	return strings.Compare(a, b)
}
