package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Format is an output format chosen with -o.
type Format string

const (
	Table Format = "table"
	JSON  Format = "json"
)

// ParseFormat checks the value of -o.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case "", Table:
		return Table, nil
	case JSON:
		return JSON, nil
	}
	return "", ValueError(fmt.Errorf("-o: unknown output format %q (want table or json)", s))
}

// WriteJSON prints v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteTable prints rows under a header, aligned in columns.
func WriteTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// WriteRows prints rows aligned in columns, without a header.
func WriteRows(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}
