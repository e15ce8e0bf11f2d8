// Package vzlist is the logic of OpenVZ's vzlist over vzkit's containers:
// the table of field names (those of vzlist(8), so that -o, -s and -L take
// what an OpenVZ admin types), parsing of field lists and sort keys, the
// typed value of each field for a runtime.Entry, sorting, and the filters
// (all/stopped, CTIDs or names, hostname/name/description globs).
//
// Every vzlist field name is in the table, including the ones vzkit
// cannot fill yet (load average, uptime): those carry the reason and are
// refused by name, never shown with made-up values, and gain a value
// function when the accounting behind them exists. Beancounters (with
// .m .b .l .f) are the rows runtime.Entry.UBC holds (the same as vzctl
// ubc): barrier and limit for every container, the counters only for a
// running one. Barrier and limit, and the CPU and I/O limits (cpulimit,
// cpuunits, cpus, ioprio, vswap, from runtime.Entry.Resources), are the
// configuration in force: for a running container what it holds, a set
// without --save included, else its files. Printing (aligned table, vzlist 4's
// JSON) is the command's; this package hands it typed values: nil for
// unset, string, uint64, bool, []string or runtime.State.
package vzlist
