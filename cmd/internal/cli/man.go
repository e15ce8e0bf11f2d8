package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/spf13/cobra"
)

// Manual is what a program's man pages hold beside its commands' help.
type Manual struct {
	// Programs are the root commands the binary is: vzctl is also vzlist.
	Programs []*cobra.Command
	// ExitCodes are listed, as a table, in the EXIT STATUS of every page.
	ExitCodes []ExitCode
	// Files are listed in the FILES section of every page.
	Files []File
	// Pages are further pages, such as the file formats of section 5.
	Pages []Page
}

// ExitCode is one documented exit status.
type ExitCode struct {
	Code    int
	Meaning string
}

// ExitCodeTable renders codes as the aligned lines --help and the man
// pages show.
func ExitCodeTable(codes []ExitCode) string {
	var b strings.Builder
	for _, c := range codes {
		fmt.Fprintf(&b, "%4d  %s\n", c.Code, c.Meaning)
	}
	return b.String()
}

// File is one path a program reads or writes.
type File struct{ Path, What string }

// Page is a man page given as Markdown (md2man's dialect).
type Page struct {
	Name, Section, Short string
	Markdown             string // the sections after NAME
}

// ManCommand returns a hidden command that writes the man pages of m into
// DIR/man8, DIR/man5, ... (make install runs it with PREFIX/share/man).
func ManCommand(m *Manual) *cobra.Command {
	return &cobra.Command{
		Use:    "man DIR",
		Short:  "Write the man pages into DIR/manN",
		Args:   cobra.ExactArgs(1),
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return m.Write(args[0])
		},
	}
}

// Write renders every page into dir/manSECTION/NAME.SECTION.
func (m *Manual) Write(dir string) error {
	var seeAlso []string
	for _, p := range m.Pages {
		seeAlso = append(seeAlso, fmt.Sprintf("**%s**(%s)", p.Name, p.Section))
	}
	write := func(name, section string, md []byte) error {
		d := filepath.Join(dir, "man"+section)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(d, name+"."+section), md2man.Render(md), 0o644)
	}
	for _, root := range m.Programs {
		var err error
		visit(root, func(c *cobra.Command) {
			if err == nil {
				err = write(dashName(c), "8", m.commandPage(c, seeAlso))
			}
		})
		if err != nil {
			return err
		}
	}
	for _, p := range m.Pages {
		md := fmt.Sprintf("%% %q %q \"\" \"vzkit\" \"File Formats\"\n# NAME\n%s - %s\n\n%s", strings.ToUpper(p.Name), p.Section, MarkdownEscape(p.Name), MarkdownEscape(p.Short), p.Markdown)
		if len(m.Programs) > 0 {
			md += "\n# SEE ALSO\n**" + MarkdownEscape(m.Programs[0].Name()) + "**(8)\n"
		}
		if err := write(p.Name, p.Section, []byte(md)); err != nil {
			return err
		}
	}
	return nil
}

func visit(c *cobra.Command, f func(*cobra.Command)) {
	if c.Hidden || c.Name() == "help" {
		return
	}
	f(c)
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() {
			visit(sub, f)
		}
	}
}

func dashName(c *cobra.Command) string { return strings.ReplaceAll(c.CommandPath(), " ", "-") }

// commandPage is the Markdown of one command's page.
func (m *Manual) commandPage(c *cobra.Command, seeAlso []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%% %q \"8\" \"\" \"vzkit\" \"System Manager's Manual\"\n", strings.ToUpper(dashName(c)))
	fmt.Fprintf(&b, "# NAME\n%s - %s\n\n", MarkdownEscape(dashName(c)), MarkdownEscape(c.Short))
	fmt.Fprintf(&b, "# SYNOPSIS\n%s\n", codeBlock(c.UseLine()))
	long := c.Long
	if long == "" {
		long = c.Short
	}
	fmt.Fprintf(&b, "# DESCRIPTION\n%s\n", helpMarkdown(long))
	if fl := c.NonInheritedFlags().FlagUsages(); fl != "" {
		fmt.Fprintf(&b, "# OPTIONS\n%s\n", codeBlock(fl))
	}
	if fl := c.InheritedFlags().FlagUsages(); fl != "" {
		fmt.Fprintf(&b, "# OPTIONS INHERITED FROM PARENT COMMANDS\n%s\n", codeBlock(fl))
	}
	if c.Example != "" {
		fmt.Fprintf(&b, "# EXAMPLES\n%s\n", codeBlock(c.Example))
	}
	if len(m.ExitCodes) > 0 {
		fmt.Fprintf(&b, "# EXIT STATUS\n%s\n", codeBlock(ExitCodeTable(m.ExitCodes)))
	}
	if len(m.Files) > 0 {
		var files strings.Builder
		for _, f := range m.Files {
			fmt.Fprintf(&files, "%s\n    %s\n", f.Path, f.What)
		}
		fmt.Fprintf(&b, "# FILES\n%s\n", codeBlock(files.String()))
	}
	var also []string
	if c.HasParent() {
		also = append(also, fmt.Sprintf("**%s**(8)", MarkdownEscape(dashName(c.Parent()))))
	}
	subs := c.Commands()
	sort.Slice(subs, func(i, j int) bool { return subs[i].Name() < subs[j].Name() })
	for _, s := range subs {
		if s.IsAvailableCommand() && s.Name() != "help" {
			also = append(also, fmt.Sprintf("**%s**(8)", MarkdownEscape(dashName(s))))
		}
	}
	also = append(also, seeAlso...)
	fmt.Fprintf(&b, "# SEE ALSO\n%s\n", strings.Join(also, ", "))
	return b.Bytes()
}

// codeBlock keeps text as it is: a preformatted block in the page, so that
// tables and aligned lists stay aligned.
func codeBlock(text string) string {
	var b strings.Builder
	b.WriteString("\n")
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		b.WriteString("    " + l + "\n")
	}
	b.WriteString("\n")
	return b.String()
}

// helpMarkdown turns a --help text into Markdown: paragraphs are reflowed
// prose, and indented lines (tables, flag lists, commands) are kept as
// preformatted blocks, as the terminal shows them.
func helpMarkdown(text string) string {
	var b strings.Builder
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i := 0; i < len(lines); {
		if strings.HasPrefix(lines[i], " ") || strings.HasPrefix(lines[i], "\t") {
			j := i
			for j < len(lines) && (strings.HasPrefix(lines[j], " ") || strings.HasPrefix(lines[j], "\t") ||
				lines[j] == "" && j+1 < len(lines) && strings.HasPrefix(lines[j+1], " ")) {
				j++
			}
			b.WriteString(codeBlock(strings.Join(lines[i:j], "\n")))
			i = j
			continue
		}
		b.WriteString(escapeLine(lines[i]) + "\n")
		i++
	}
	return b.String()
}

// escapeLine keeps a line of prose from reading as Markdown: a leading
// "-", "+", "#" or "1." would start a list or heading.
func escapeLine(l string) string {
	l = MarkdownEscape(l)
	if l != "" && strings.ContainsRune("-+#>", rune(l[0])) {
		return `\` + l
	}
	if i := strings.IndexByte(l, '.'); i > 0 && strings.Trim(l[:i], "0123456789") == "" {
		return l[:i] + `\` + l[i:]
	}
	return l
}

var markdownEscaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "<", `\<`, "[", `\[`, "]", `\]`)

// MarkdownEscape keeps s literal in a page's Markdown.
func MarkdownEscape(s string) string { return markdownEscaper.Replace(s) }
