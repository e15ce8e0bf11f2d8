package resource

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// CPUSet is a set of CPU numbers (CPUMASK); empty means every CPU.
type CPUSet []int

// ParseCPUSet reads a cpuset list, "0-3,6", or "all" (or "") for every CPU.
func ParseCPUSet(s string) (CPUSet, error) {
	if s == "" || s == "all" {
		return nil, nil
	}
	var out CPUSet
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("want CPU numbers and ranges such as 0-3,6, or all")
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
				return nil, fmt.Errorf("bad range %q: want LOW-HIGH", part)
			}
		}
		for n := a; n <= b; n++ {
			out = append(out, int(n))
		}
	}
	if len(out) > 1<<12 {
		return nil, errors.New("too many CPUs")
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Max is the highest CPU in s, -1 for every CPU.
func (s CPUSet) Max() int {
	if len(s) == 0 {
		return -1
	}
	return s[len(s)-1]
}

// String is s as cpuset.cpus takes it ("0-1,3"); "" for every CPU.
func (s CPUSet) String() string {
	var parts []string
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, strconv.Itoa(s[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", s[i], s[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
