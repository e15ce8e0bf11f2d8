// Package vzlist is the logic of OpenVZ's vzlist over vzkit's containers:
// the table of field names (those of vzlist(8), so that -o, -s and -L take
// what an OpenVZ admin types), parsing of field lists and sort keys, the
// typed value of each field for a runtime.Entry, sorting, and the filters
// (all/stopped, CTIDs or names, hostname/name/description globs).
//
// Every vzlist field name is in the table, including the ones vzkit
// cannot fill yet (CPU and I/O limits): those carry the reason and are
// refused by name, never shown with made-up values, and gain a value
// function when the accounting behind them exists. Beancounters (with
// .m .b .l .f) are the rows runtime.Entry.UBC holds (the same as vzctl
// ubc): barrier and limit for every container, the counters only for a
// running one. Printing (aligned table, vzlist 4's
// JSON) is the command's; this package hands it typed values: nil for
// unset, string, uint64, bool, []string or runtime.State.
package vzlist
