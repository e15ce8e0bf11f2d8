package vzlist

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/vzkit/vzkit/runtime"
)

// SortKey is the value of -s: a field, "-field" for the reverse order.
type SortKey struct {
	Field   Field
	Reverse bool
}

// ParseSort parses the value of -s.
func ParseSort(s string) (SortKey, error) {
	name, rev := strings.CutPrefix(strings.TrimSpace(s), "-")
	if name == "" {
		return SortKey{}, fmt.Errorf("%w: -s wants a field name, got %q", ErrUnknownField, s)
	}
	f, err := Lookup(name)
	if err != nil {
		return SortKey{}, err
	}
	return SortKey{Field: f, Reverse: rev}, nil
}

// Sort orders entries by k; equal values keep their order (by CTID when
// they come from runtime.Store.Entries), reversed or not.
func Sort(entries []runtime.Entry, k SortKey) {
	slices.SortStableFunc(entries, func(a, b runtime.Entry) int {
		r := Compare(k.Field.Value(&a), k.Field.Value(&b))
		if k.Reverse {
			return -r
		}
		return r
	})
}

// stateRank orders states as vzlist does: running first.
var stateRank = map[runtime.State]int{
	runtime.StateRunning: 0, runtime.StateMounted: 1, runtime.StateStopped: 2, runtime.StateError: 3,
}

// Compare orders two values of one field: unset first (as vzlist puts
// empty values), numbers as numbers, addresses as addresses.
func Compare(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	switch x := a.(type) {
	case uint64:
		return cmp.Compare(x, b.(uint64))
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case runtime.State:
		return cmp.Compare(stateRank[x], stateRank[b.(runtime.State)])
	case []string:
		return slices.CompareFunc(x, b.([]string), compareWord)
	case string:
		return strings.Compare(x, b.(string))
	}
	panic(fmt.Sprintf("vzlist: no order for %T", a))
}

// compareWord orders two words of a list, IP addresses numerically
// (10.0.0.9 before 10.0.0.10).
func compareWord(a, b string) int {
	x, errx := netip.ParseAddr(a)
	y, erry := netip.ParseAddr(b)
	if errx == nil && erry == nil {
		return x.Compare(y)
	}
	return strings.Compare(a, b)
}
