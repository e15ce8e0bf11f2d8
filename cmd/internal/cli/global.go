package cli

import (
	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/runtime/vzconf"
)

// Globals are the flags every command of both programs accepts.
type Globals struct {
	Root    string // --vzkit-root, else VZKIT_ROOT
	Output  string // -o
	Verbose bool

	conf *vzconf.Global
}

// Register adds the global flags to a root command.
func (g *Globals) Register(root *cobra.Command) {
	pf := root.PersistentFlags()
	// Not --root: vzctl create --root sets a container's VE_ROOT, as in OpenVZ.
	pf.StringVar(&g.Root, "vzkit-root", "", "prefix for every vzkit path, the config file included (default $VZKIT_ROOT)")
	pf.BoolVarP(&g.Verbose, "verbose", "v", false, "log what is being done")
}

// AddOutputFlag adds -o to a command that prints a listing.
func (g *Globals) AddOutputFlag(c *cobra.Command) {
	c.Flags().StringVarP(&g.Output, "output", "o", "table", "output format: table or json")
}

// Format returns the checked -o value.
func (g *Globals) Format() (Format, error) { return ParseFormat(g.Output) }

// Config loads (once) the effective global configuration.
func (g *Globals) Config() (*vzconf.Global, error) {
	if g.conf != nil {
		return g.conf, nil
	}
	c, err := vzconf.Load(vzconf.RootFromEnv(g.Root))
	if err != nil {
		return nil, err
	}
	g.conf = c
	return c, nil
}

// ConfigCommand prints the effective global settings and their origins.
func ConfigCommand(g *Globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "config",
		Short: "Print the effective global settings and where each came from",
		Long: `Print every global setting with its value and origin: "default" for a
built-in value, or FILE:LINE for a value set in vz.conf. The file is
/etc/vzkit/vz.conf, of OpenVZ-style KEY="value" lines. --vzkit-root R (or
VZKIT_ROOT=R) prefixes every path, the config file's own included.

OpenVZ's own vz.conf can be used as it is: the keys vzkit does not
implement (LOGFILE, VE_STOP_MODE, IPV6, IPTABLES, ...) are kept in the file
and listed here as "ignored", so nobody takes them to be in effect.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := g.Format()
			if err != nil {
				return err
			}
			conf, err := g.Config()
			if err != nil {
				return err
			}
			settings := conf.Settings()
			if f == JSON {
				return WriteJSON(cmd.OutOrStdout(), map[string]any{
					"root": conf.Root, "file": conf.File, "settings": settings,
				})
			}
			rows := make([][]string, 0, len(settings))
			for _, s := range settings {
				state := "used"
				if s.Ignored {
					state = "ignored (not implemented by vzkit)"
				}
				rows = append(rows, []string{s.Key, s.Value, s.Origin, state})
			}
			return WriteTable(cmd.OutOrStdout(), []string{"KEY", "VALUE", "ORIGIN", "STATE"}, rows)
		},
	}
	g.AddOutputFlag(c)
	return c
}
