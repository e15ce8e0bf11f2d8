package resource

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Access is what a device rule allows: read, write, both or nothing.
type Access string

// Accesses of OpenVZ's device syntax.
const (
	AccessNone      Access = "none"
	AccessRead      Access = "r"
	AccessWrite     Access = "w"
	AccessReadWrite Access = "rw"
)

func parseAccess(s string) (Access, error) {
	switch s {
	case "none", "r", "w", "rw":
		return Access(s), nil
	case "wr":
		return AccessReadWrite, nil
	}
	return "", fmt.Errorf("access %q: want r, w, rw or none", s)
}

// DeviceRule is one DEVICES entry: b|c:MAJOR:MINOR|all:ACCESS.
type DeviceRule struct {
	Type   rune  // 'b' or 'c'
	Major  int64 // -1: every major ("all" in MAJOR is not OpenVZ's, but devices cgroups take it)
	Minor  int64 // -1: every minor
	Access Access
}

func (d DeviceRule) String() string {
	num := func(n int64) string {
		if n < 0 {
			return "all"
		}
		return strconv.FormatInt(n, 10)
	}
	return fmt.Sprintf("%c:%s:%s:%s", d.Type, num(d.Major), num(d.Minor), d.Access)
}

// ParseDevices reads DEVICES: space-separated b|c:MAJOR:MINOR|all:ACCESS.
func ParseDevices(s string) ([]DeviceRule, error) {
	var out []DeviceRule
	for _, w := range strings.Fields(s) {
		f := strings.Split(w, ":")
		if len(f) != 4 || (f[0] != "b" && f[0] != "c") {
			return nil, fmt.Errorf("device %q: want b|c:MAJOR:MINOR|all:r|w|rw|none", w)
		}
		major, err := deviceNumber(f[1])
		if err != nil {
			return nil, fmt.Errorf("device %q: major: %w", w, err)
		}
		minor, err := deviceNumber(f[2])
		if err != nil {
			return nil, fmt.Errorf("device %q: minor: %w", w, err)
		}
		acc, err := parseAccess(f[3])
		if err != nil {
			return nil, fmt.Errorf("device %q: %w", w, err)
		}
		out = append(out, DeviceRule{Type: rune(f[0][0]), Major: major, Minor: minor, Access: acc})
	}
	return out, nil
}

func deviceNumber(s string) (int64, error) {
	if s == "all" || s == "*" {
		return -1, nil
	}
	n, err := strconv.ParseUint(s, 10, 20) // minors have 20 bits, majors 12
	if err != nil {
		return 0, errors.New("want a number or all")
	}
	return int64(n), nil
}

// DevNode is one DEVNODES entry: a host device node, by its name under
// /dev, given to the container with an access.
type DevNode struct {
	Name   string // under /dev, e.g. "net/tun"
	Access Access
}

func (d DevNode) String() string { return d.Name + ":" + string(d.Access) }

// ParseDevNodes reads DEVNODES: space-separated NAME:ACCESS, NAME relative
// to /dev and staying under it.
func ParseDevNodes(s string) ([]DevNode, error) {
	var out []DevNode
	for _, w := range strings.Fields(s) {
		name, acc, ok := strings.Cut(w, ":")
		if !ok {
			return nil, fmt.Errorf("device node %q: want NAME:r|w|rw|none", w)
		}
		name = strings.TrimPrefix(name, "/dev/")
		if name == "" || path.IsAbs(name) || path.Clean(name) != name || strings.HasPrefix(name, "..") ||
			strings.ContainsFunc(name, func(r rune) bool {
				return !(r == '/' || r == '-' || r == '_' || r == '.' || r == '+' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
			}) {
			return nil, fmt.Errorf("device node %q: want a name under /dev such as sda or net/tun", w)
		}
		a, err := parseAccess(acc)
		if err != nil {
			return nil, fmt.Errorf("device node %q: %w", w, err)
		}
		out = append(out, DevNode{Name: name, Access: a})
	}
	return out, nil
}
