package resource

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Value is one number of a resource parameter, counted in its parameter's
// Unit, or Unlimited.
type Value uint64

// Unlimited is OpenVZ's "unlimited" (LONG_MAX, as vzctl writes it).
const Unlimited Value = math.MaxInt64

// IsUnlimited reports whether v sets no limit.
func (v Value) IsUnlimited() bool { return v >= Unlimited }

// Pair is an OpenVZ barrier:limit. A parameter given one number has it as
// both.
type Pair struct {
	Barrier, Limit Value
}

// UnlimitedPair is what a parameter that is not set means.
var UnlimitedPair = Pair{Unlimited, Unlimited}

// IsUnlimited reports whether neither barrier nor limit is set.
func (p Pair) IsUnlimited() bool { return p.Barrier.IsUnlimited() && p.Limit.IsUnlimited() }

// Unit tells what a parameter counts, and so which suffixes its values
// take and what a bare number means.
type Unit int

// Units of the parameters.
const (
	Count   Unit = iota // processes, files, sockets: bare numbers only
	Pages               // memory in 4 KiB pages; K/M/G/T are bytes, P pages
	Bytes               // memory in bytes; K/M/G/T suffixes, P pages
	KBlocks             // disk space in 1 KiB blocks; K/M/G/T suffixes
)

// PageSize is the unit of the page-counted parameters in CTID.conf. OpenVZ
// files are written for 4 KiB pages, the x86 size; it is fixed here so that
// a file means the same thing on every host.
const PageSize = 4096

func (u Unit) String() string {
	switch u {
	case Pages:
		return "pages"
	case Bytes:
		return "bytes"
	case KBlocks:
		return "1K blocks"
	}
	return ""
}

// Bytes is v, counted in unit u, in bytes (Unlimited stays Unlimited).
func (u Unit) Bytes(v Value) Value {
	if v.IsUnlimited() {
		return Unlimited
	}
	switch u {
	case Pages:
		return satMul(v, PageSize)
	case KBlocks:
		return satMul(v, 1024)
	}
	return v
}

func satMul(v Value, m uint64) Value {
	if uint64(v) > uint64(Unlimited)/m {
		return Unlimited
	}
	return v * Value(m)
}

var errSyntax = errors.New("want a number, optionally with a K, M, G or T suffix, or unlimited")

// ParseValue reads one number of unit u: decimal digits, for memory and
// disk units optionally followed by K, M, G or T (powers of 1024 bytes,
// converted to u and rounded up) or, for memory, P (pages); or
// "unlimited". OpenVZ writes LONG_MAX and larger for unlimited, and so may
// an admin: such numbers are Unlimited.
func ParseValue(s string, u Unit) (Value, error) {
	if s == "unlimited" {
		return Unlimited, nil
	}
	digits := strings.TrimRight(s, "KMGTPkmgtpBb")
	suffix := strings.ToUpper(strings.TrimSuffix(strings.TrimSuffix(s[len(digits):], "b"), "B"))
	if digits == "" || len(suffix) > 1 {
		return 0, errSyntax
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return Unlimited, nil
		}
		return 0, errSyntax
	}
	v := Value(n)
	if suffix == "" {
		return min(v, Unlimited), nil
	}
	if u == Count {
		return 0, fmt.Errorf("a count takes no %s suffix", suffix)
	}
	var bytes Value
	switch suffix {
	case "K":
		bytes = satMul(v, 1<<10)
	case "M":
		bytes = satMul(v, 1<<20)
	case "G":
		bytes = satMul(v, 1<<30)
	case "T":
		bytes = satMul(v, 1<<40)
	case "P":
		if u == KBlocks {
			return 0, errors.New("disk space takes no P (pages) suffix")
		}
		bytes = satMul(v, PageSize)
	default:
		return 0, errSyntax
	}
	if bytes.IsUnlimited() {
		return Unlimited, nil
	}
	switch u {
	case Pages:
		return (bytes + PageSize - 1) / PageSize, nil
	case KBlocks:
		return (bytes + 1023) / 1024, nil
	}
	return bytes, nil
}

// ParsePair reads OpenVZ's barrier[:limit]; one number is both.
func ParsePair(s string, u Unit) (Pair, error) {
	b, l, two := strings.Cut(s, ":")
	barrier, err := ParseValue(b, u)
	if err != nil {
		return Pair{}, fmt.Errorf("barrier %q: %w", b, err)
	}
	if !two {
		return Pair{barrier, barrier}, nil
	}
	limit, err := ParseValue(l, u)
	if err != nil {
		return Pair{}, fmt.Errorf("limit %q: %w", l, err)
	}
	return Pair{barrier, limit}, nil
}

// String is v as CTID.conf holds it: a number of its unit, or unlimited.
func (v Value) String() string {
	if v.IsUnlimited() {
		return "unlimited"
	}
	return strconv.FormatUint(uint64(v), 10)
}

// String is p as CTID.conf holds it: barrier:limit.
func (p Pair) String() string { return p.Barrier.String() + ":" + p.Limit.String() }
