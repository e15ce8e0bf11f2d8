package solve

import (
	"strings"

	"github.com/vzkit/vzkit/repo/rpmmd"
)

// Vercmp compares two version (or release) strings with rpm's rpmvercmp:
// -1 if a sorts before b, 1 if after, 0 if equal. go-rpmutils' Vercmp
// predates the caret ("1.0^git1" sorts after "1.0" but before "1.0.1"), so
// this follows rpm 4.15's lib/rpmvercmp.c, byte for byte: ASCII letters and
// digits form segments, every other byte but '~' and '^' separates them,
// '~' sorts before anything (even the end), '^' after the end but before
// anything else, numeric segments beat alphabetic ones and compare as
// numbers of any length.
func Vercmp(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isAlnum(a[i]) && a[i] != '~' && a[i] != '^' {
			i++
		}
		for j < len(b) && !isAlnum(b[j]) && b[j] != '~' && b[j] != '^' {
			j++
		}
		// The tilde sorts before everything else, the end included.
		if at(a, i) == '~' || at(b, j) == '~' {
			if at(a, i) != '~' {
				return 1
			}
			if at(b, j) != '~' {
				return -1
			}
			i, j = i+1, j+1
			continue
		}
		// The caret is like the tilde, except that the end of a string
		// (the base version) sorts before it.
		if at(a, i) == '^' || at(b, j) == '^' {
			if i == len(a) {
				return -1
			}
			if j == len(b) {
				return 1
			}
			if at(a, i) != '^' {
				return 1
			}
			if at(b, j) != '^' {
				return -1
			}
			i, j = i+1, j+1
			continue
		}
		if i == len(a) || j == len(b) {
			break
		}
		// One completely numeric or completely alphabetic segment, of
		// the kind a's segment is.
		num := isDigit(a[i])
		class := isAlpha
		if num {
			class = isDigit
		}
		ei, ej := i, j
		for ei < len(a) && class(a[ei]) {
			ei++
		}
		for ej < len(b) && class(b[ej]) {
			ej++
		}
		// b's segment is of the other kind: numbers are newer.
		if ej == j {
			if num {
				return 1
			}
			return -1
		}
		sa, sb := a[i:ei], b[j:ej]
		if num {
			sa, sb = strings.TrimLeft(sa, "0"), strings.TrimLeft(sb, "0")
			if len(sa) != len(sb) {
				if len(sa) > len(sb) {
					return 1
				}
				return -1
			}
		}
		if c := strings.Compare(sa, sb); c != 0 {
			return c
		}
		i, j = ei, ej
	}
	// All segments compared equal, perhaps with different separators:
	// whichever string has bytes left wins.
	switch {
	case i >= len(a) && j >= len(b):
		return 0
	case i >= len(a):
		return -1
	}
	return 1
}

// at returns s[i], or 0 past the end (C's terminating NUL).
func at(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

// CompareEVR orders two packages' epoch:version-release as rpm does: epoch
// first (empty is 0), then version, then release, each with Vercmp.
func CompareEVR(a, b rpmmd.EVR) int {
	if c := compareEpoch(a.Epoch, b.Epoch); c != 0 {
		return c
	}
	if c := Vercmp(a.Version, b.Version); c != 0 {
		return c
	}
	return Vercmp(a.Release, b.Release)
}

// compareEpoch compares epochs as rpmdsCompareEVR does: both given, by
// Vercmp; one given, it wins if it is above zero.
func compareEpoch(a, b string) int {
	switch {
	case a != "" && b != "":
		return Vercmp(a, b)
	case a != "" && !zeroEpoch(a):
		return 1
	case b != "" && !zeroEpoch(b):
		return -1
	}
	return 0
}

// zeroEpoch reports whether atol(e) would be 0 (rpm's test for a missing
// epoch's stand-in).
func zeroEpoch(e string) bool {
	return strings.TrimLeft(e, "0") == "" || !isDigit(strings.TrimLeft(e, "0")[0])
}

// EVRString formats an EVR as rpm prints it: [epoch:]version[-release],
// the epoch left out when it is empty or 0.
func EVRString(e rpmmd.EVR) string {
	s := e.Version
	if e.Epoch != "" && e.Epoch != "0" {
		s = e.Epoch + ":" + s
	}
	if e.Release != "" {
		s += "-" + e.Release
	}
	return s
}

// sense flags, as rpm's RPMSENSE_LESS, _GREATER and _EQUAL.
const (
	senseLess    = 1 << iota
	senseGreater //
	senseEqual   //
)

func senseOf(op rpmmd.Op) int {
	switch op {
	case rpmmd.OpEQ:
		return senseEqual
	case rpmmd.OpLT:
		return senseLess
	case rpmmd.OpLE:
		return senseLess | senseEqual
	case rpmmd.OpGT:
		return senseGreater
	case rpmmd.OpGE:
		return senseGreater | senseEqual
	}
	return 0
}

// Overlaps reports whether two ranges of one name overlap, with rpm's
// rpmdsCompare semantics: an unversioned side (an existence test) always
// overlaps; versions are compared as CompareEVR does, except that a side
// without a release matches any release when the other side's range
// includes equality ("Requires: foo >= 1.0" is met by "Provides: foo =
// 1.0-3"). Names are not compared: the caller matched them.
func Overlaps(aOp rpmmd.Op, a rpmmd.EVR, bOp rpmmd.Op, b rpmmd.EVR) bool {
	af, bf := senseOf(aOp), senseOf(bOp)
	if af == 0 || bf == 0 {
		return true
	}
	if a.Version == "" && a.Epoch == "" || b.Version == "" && b.Epoch == "" {
		return true
	}
	sense := compareEpoch(a.Epoch, b.Epoch)
	if sense == 0 {
		sense = Vercmp(a.Version, b.Version)
		if sense == 0 {
			if a.Release != "" && b.Release != "" {
				sense = Vercmp(a.Release, b.Release)
			} else if a.Release != "" && bf&senseEqual != 0 || b.Release != "" && af&senseEqual != 0 {
				return true
			}
		}
	}
	switch {
	case sense < 0:
		return af&senseGreater != 0 || bf&senseLess != 0
	case sense > 0:
		return af&senseLess != 0 || bf&senseGreater != 0
	}
	return af&bf != 0
}
