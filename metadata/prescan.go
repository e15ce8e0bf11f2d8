package metadata

import (
	"fmt"
	"unicode/utf8"
)

// Limits checked before go-yaml sees a file. Its parser recurses once per
// level of nesting and once per entry of a block mapping, and copies what
// follows at each step, so cost grows with the square of either: 100 KB of
// "[" took over 3 GB, 1 MiB of "k: v" lines or of "---" documents tens of
// GB. Templates need little of either: the largest shipped one has about
// 40 keys, 4 levels and one document.
const (
	// maxDepth bounds nesting: the schema is four levels deep at most.
	// The pre-scan counts open flow collections plus block indentation
	// levels; a block sequence written at its key's column shares that
	// level, so a file it passes may nest up to about twice as deep in
	// nodes, which the converter then reports.
	maxDepth = 32
	// maxKeys bounds the mapping keys of a file (all mappings together):
	// 2048 keys in one mapping cost go-yaml about 20 MB.
	maxKeys = 2048
	// go-yaml's scanner looks ahead from each "<" over the run of "<"
	// that follows, and from each tab inside a double-quoted scalar to the
	// end of the line, so both cost the square of their length.
	maxAngleRun  = 256
	maxTabSearch = 1 << 22 // bytes searched after such tabs, whole file
)

// prescan is a single pass over a template file, in constant memory, that
// refuses what would make the parser take more than linear time and
// memory: nesting deeper than maxDepth (flow collections, block levels and
// chains of tags and anchors, which go-yaml nests too), more than maxKeys
// mapping keys, more than one document, and the scanner's slow cases
// above. It returns nil or the problem, placed where the limit was
// crossed.
//
// What it counts must be what go-yaml's scanner will see, or a file could
// hide brackets from the count (inside what the pre-scan took for a quoted
// string) or close more than it opened (with brackets go-yaml reads as
// text). So it follows that scanner's own rules, which are not quite
// YAML's: a quote, comment, tag, anchor, block scalar or block sequence
// entry starts only where no plain text has been read since the last
// token; plain text runs on over line breaks until a line starts at or
// left of the column of the last key or "-" (lastDelim); "[" and "{" open
// a collection mid-text only inside another one; a block scalar ends at
// the first line starting at or left of lastDelim, which its first content
// line moves to just left of itself; a plain scalar continued on a more
// indented line that starts with "-" becomes such a block ("raw folded").
// It follows the scanner's slips too: columns it miscounts (tabs, tags,
// escaped line breaks), characters it skips after tabs in double quotes,
// text it thinks buffered after an empty block scalar. Each of those let
// deep nesting through once and has a case in TestPrescanQuirks;
// TestPrescanMatchesGoYAML and FuzzPrescan compare the pre-scan with
// go-yaml's tokens.
func prescan(file string, src []byte) *Problem {
	s := scan{src: src, line: 1, col: 1, first: true}
	if s.run() {
		return nil
	}
	return &Problem{Pos: Pos{file, s.line, s.col}, Message: s.why}
}

// blockScalar is the state inside a block scalar, whose content go-yaml's
// scanner does not tokenize.
type blockScalar struct {
	on     bool
	indent int  // column of the first content line (preset by |2); 0: none yet
	chomp  byte // '-', '+', or 0 for the default
	// What the scanner has buffered: line breaks, content (text, tabs),
	// indentation spaces (kept after a |2 indicator), and whether any
	// of those came after a break.
	breaks                   int
	text, spaces, spacesLate bool
}

// ghost reports whether go-yaml, ending the block at a less indented
// line, is left thinking plain text is buffered: chomping cut what it
// buffered to nothing, and it then clears the buffer but not the length
// it tests. That line's first character is then read as text.
func (b *blockScalar) ghost() bool {
	switch {
	case b.chomp == '+' || b.text:
		return false
	case b.chomp == '-':
		return !b.spacesLate && (b.breaks > 0 || b.spaces)
	}
	return !b.spaces && b.breaks > 0
}

type lastToken int

const (
	tokOther lastToken = iota
	tokMapValue
	tokQuoted
)

type scan struct {
	src       []byte
	i         int
	line, col int // of src[i]; col counts characters, as go-yaml does
	why       string

	first    bool // only blanks so far on this line
	indent   int  // blanks before the first character of this line
	plain    bool // plain text read since the last token
	plainCol int  // where that text started
	textCol  int  // where its last character other than a blank is
	// go-yaml places plain text that runs over a line break by where the
	// first line ends, less the text's length without trailing blanks:
	// its start plus those blanks. It keeps that (saved) until something
	// asks for the buffered text, which not every token does.
	saved     bool
	savedCol  int
	last      lastToken
	quoteCol  int // where the last quoted scalar started
	lastDelim int // column of the last key, "-" or "?"; 0: none yet
	anchor    bool
	directive bool
	props     int // tags and anchors since the last other token: a chain
	angleRun  int // "<" in a row
	dqTabs    int // tabs in double-quoted text on this line so far
	tabSearch int // what go-yaml's scanner searches after them

	block blockScalar

	// seq and mapping are go-yaml's counters of open flow collections,
	// which decide how it reads ",", ":", "[" and "{" (they can go below
	// zero); depthSeq and depthMap are the same clamped at zero, for the
	// depth that is checked.
	seq, mapping       int
	depthSeq, depthMap int

	keys, markers int

	levels [maxDepth + 1]int // columns of the open block levels
	nlevel int
}

func (s *scan) flow() bool { return s.seq > 0 || s.mapping > 0 }

func (s *scan) peek(k int) byte {
	if s.i+k < len(s.src) {
		return s.src[s.i+k]
	}
	return 0
}

func isBreak(c byte) bool { return c == '\n' || c == '\r' }

func isBlankOrEnd(c byte) bool { return c == ' ' || c == '\t' || c == 0 || isBreak(c) }

// advance moves past n characters of the current line. go-yaml counts
// runes, an invalid byte as one.
func (s *scan) advance(n int) {
	s.tabSearch += n * s.dqTabs
	for ; n > 0 && s.i < len(s.src); n-- {
		if s.src[s.i] < utf8.RuneSelf {
			s.i++
		} else {
			_, size := utf8.DecodeRune(s.src[s.i:])
			s.i += size
		}
		s.col++
	}
}

// ahead fills buf with the characters from the current one on.
func (s *scan) ahead(buf []rune) []rune {
	out := buf[:0]
	for j := s.i; len(out) < cap(buf) && j < len(s.src); {
		r, size := utf8.DecodeRune(s.src[j:])
		out = append(out, r)
		j += size
	}
	return out
}

// newline moves past a line break (CR LF is one).
func (s *scan) newline() {
	if s.src[s.i] == '\r' && s.peek(1) == '\n' {
		s.i++
	}
	s.i++
	s.line, s.col = s.line+1, 1
	s.first, s.indent = true, 0
	s.anchor, s.directive = false, false
	s.dqTabs = 0
}

// cut is go-yaml turning buffered plain text, if any, into a token.
func (s *scan) cut() {
	if s.plain {
		s.plain, s.last = false, tokOther
	}
	s.saved = false
}

// token records a token that cuts plain text before it.
func (s *scan) token(t lastToken) {
	s.cut()
	s.last, s.props = t, 0
}

// clear records a token that go-yaml emits without asking for buffered
// text (which it drops, or which there is none of).
func (s *scan) clear(t lastToken) {
	s.plain, s.last, s.props = false, t, 0
}

// property records a tag or an anchor: go-yaml nests the node they apply
// to one level deeper for each.
func (s *scan) property(anchor bool) bool {
	if anchor {
		s.cut()
	}
	s.plain, s.last = false, tokOther
	s.props++
	return s.deep()
}

// text records a character of plain text.
func (s *scan) text() {
	if !s.plain {
		s.plain, s.plainCol = true, s.col
		if !s.anchor {
			s.props = 0
		}
	}
	s.textCol = s.col
	s.advance(1)
}

func (s *scan) fail(format string, args ...any) bool {
	s.why = fmt.Sprintf(format, args...)
	return false
}

func (s *scan) deep() bool {
	if s.nlevel+s.depthSeq+s.depthMap+s.props > maxDepth {
		return s.fail("nesting deeper than %d levels", maxDepth)
	}
	return true
}

// level records a block node starting at the current column: a line's
// first token closes every level at or right of it.
func (s *scan) level(lineStart bool) bool {
	if lineStart {
		for s.nlevel > 0 && s.levels[s.nlevel-1] >= s.col {
			s.nlevel--
		}
	} else if s.nlevel > 0 && s.levels[s.nlevel-1] >= s.col {
		return true
	}
	if s.nlevel == len(s.levels) {
		return s.fail("nesting deeper than %d levels", maxDepth)
	}
	s.levels[s.nlevel] = s.col
	s.nlevel++
	return s.deep()
}

func (s *scan) run() bool {
	for s.i < len(s.src) {
		if !s.tabsOK() {
			return false
		}
		c := s.src[s.i]
		if isBreak(c) {
			if s.block.on {
				s.block.breaks++
			} else if s.plain && !s.saved {
				s.saved, s.savedCol = true, s.plainCol+s.col-s.textCol-1
			}
			if s.anchor || s.directive {
				s.cut() // the name ends with the line
			}
			s.newline()
			s.angleRun = 0
			// go-yaml looks for a document marker after the breaks it
			// reads as content, which the header's own is not.
			if s.block.on && s.block.breaks > 0 && s.docMarker() {
				s.endBlock(false)
			}
			continue
		}
		lineStart := false
		if s.first {
			switch {
			case c == ' ':
				if s.block.on {
					s.blockBlank(c)
				}
				s.indent++
				s.advance(1)
				continue
			case c == '\t' && s.block.on:
				s.blockBlank(c)
				s.advance(1)
				continue
			case c == '\t':
				s.tab()
				continue
			}
			s.first, lineStart = false, true
			down := s.lastDelim != 0 && s.col <= s.lastDelim
			if down {
				s.cut()
			}
			if s.block.on {
				if !down {
					s.block.text = true
					if s.block.indent == 0 {
						s.block.indent = s.col
					}
					if s.block.indent > 1 {
						s.lastDelim = s.block.indent - 1
					}
					s.skipLine()
					continue
				}
				s.endBlock(true)
			}
			if !s.flow() && !s.plain && c != '#' {
				if !s.level(true) {
					return false
				}
			}
		} else if s.block.on {
			s.skipLine()
			continue
		}
		if !s.char(c, lineStart) {
			return false
		}
	}
	return s.tabsOK()
}

func (s *scan) tabsOK() bool {
	if s.tabSearch > maxTabSearch {
		return s.fail("tabs inside double-quoted text on long lines (the YAML scanner is slow on them; write \\t)")
	}
	return true
}

// skipLine moves to the end of the line (block scalar content).
func (s *scan) skipLine() {
	for s.i < len(s.src) && !isBreak(s.src[s.i]) {
		s.advance(1)
	}
}

// blockBlank records a space or tab before the first character of a line
// in a block scalar, as go-yaml buffers it.
func (s *scan) blockBlank(c byte) {
	b := &s.block
	if c == ' ' {
		if b.indent != 0 && s.col >= b.indent {
			b.spaces = true
			b.spacesLate = b.spacesLate || b.breaks > 0
		}
	} else if b.indent == 0 && s.col != 1 || b.indent != 0 && s.col >= b.indent {
		b.text = true // elsewhere go-yaml refuses a tab
	}
}

// endBlock ends a block scalar, at a less indented line (down: the text
// was cut already) or a document marker.
func (s *scan) endBlock(down bool) {
	ghost := down && s.block.ghost()
	s.block = blockScalar{}
	s.clear(tokOther)
	if ghost {
		s.plain, s.plainCol, s.textCol = true, s.col, s.col
	}
}

// docMarker reports whether the line starting at i is "---" or "...".
func (s *scan) docMarker() bool {
	c := s.peek(0)
	return (c == '-' || c == '.') && s.peek(1) == c && s.peek(2) == c && isBlankOrEnd(s.peek(3))
}

// char handles one character outside quoted scalars, comments and block
// scalar content.
func (s *scan) char(c byte, lineStart bool) bool {
	if c != '<' {
		s.angleRun = 0
	}
	switch c {
	case '[', '{':
		if s.plain && !s.flow() {
			break
		}
		if c == '[' {
			s.seq++
			s.depthSeq++
		} else {
			s.mapping++
			s.depthMap++
		}
		s.token(tokOther)
		if !s.deep() {
			return false
		}
		s.advance(1)
		return true
	case ']':
		if s.plain && s.seq <= 0 {
			break
		}
		s.seq--
		s.depthSeq = max(0, s.depthSeq-1)
		s.token(tokOther)
		s.advance(1)
		return true
	case '}':
		if s.mapping <= 0 {
			break
		}
		s.mapping--
		s.depthMap = max(0, s.depthMap-1)
		s.token(tokOther)
		s.advance(1)
		return true
	case ',':
		if !s.flow() {
			break
		}
		s.token(tokOther)
		s.advance(1)
		return true
	case '.':
		if s.col == 1 && s.indent == 0 && s.peek(1) == '.' && s.peek(2) == '.' && s.peek(3) != '.' {
			return s.marker()
		}
	case '-':
		if s.col == 1 && s.indent == 0 && s.docMarker() {
			s.lastDelim = 0
			return s.marker()
		}
		if s.plain && lineStart && s.lastDelim != 0 && s.col > s.lastDelim {
			// go-yaml reads this and what follows as a folded block
			// ("raw folded"), whose column counts from the next character.
			s.block = blockScalar{on: true, indent: s.col, chomp: '-', text: true}
			if n := s.peek(1); n != 0 && !isBreak(n) && s.col > 1 {
				s.lastDelim = s.col - 1
			}
			s.skipLine()
			return true
		}
		if !s.plain && isBlankOrEnd(s.peek(1)) {
			return s.indicator(true)
		}
	case '?':
		if !s.plain && (s.peek(1) == ' ' || s.peek(1) == '\t') {
			if !s.key() {
				return false
			}
			return s.indicator(false)
		}
	case '<':
		if s.angleRun++; s.angleRun > maxAngleRun {
			return s.fail("more than %d '<' in a row (the YAML scanner is slow on them)", maxAngleRun)
		}
		if s.mergeKey() {
			s.lastDelim = s.col
			s.clear(tokOther) // dropping any plain text before it
			s.advance(2)
			return true
		}
	case ':':
		if s.mapValue() {
			switch {
			case s.plain && s.saved:
				s.lastDelim = s.savedCol
			case s.plain:
				s.lastDelim = s.plainCol
			case s.last == tokQuoted:
				s.lastDelim = s.quoteCol
			}
			if !s.key() {
				return false
			}
			s.token(tokMapValue)
			s.advance(1)
			return true
		}
	case '|', '>':
		if !s.plain {
			s.blockHeader()
			return true
		}
	case '!':
		if !s.plain && !s.directive {
			return s.tag()
		}
	case '%':
		if !s.plain && s.indent == 0 {
			s.directive = true
			s.token(tokOther)
			s.advance(1)
			return true
		}
	case '&', '*':
		if !s.plain {
			ok := true
			if c == '&' {
				ok = s.property(true)
			} else {
				s.token(tokOther) // an alias is a node, not a property
			}
			s.anchor = true // the name follows, up to a blank
			s.advance(1)
			return ok
		}
	case '#':
		if p := s.src[max(0, s.i-1)]; !s.plain || p == ' ' || p == '\t' || isBreak(p) {
			s.token(tokOther)
			s.skipLine()
			return true
		}
	case '\'', '"':
		if !s.plain {
			s.quoted(c)
			return true
		}
	case ' ':
		if s.anchor || s.directive {
			// The name ends; it is part of the property, not a node.
			s.cut()
			s.anchor = false
		}
		s.advance(1)
		return true
	case '\t':
		s.tab()
		return true
	}
	s.text()
	return true
}

// tab moves past a tab outside quoted text and block scalars. go-yaml
// counts it as a column only where it is not right of lastDelim (and then
// refuses it at a line start outside flow collections); elsewhere it is
// indentation that takes no column.
func (s *scan) tab() {
	if s.lastDelim >= s.col {
		s.advance(1)
		return
	}
	s.tabSearch += s.dqTabs
	s.indent++
	s.i++
}

// indicator is a "-" (which cuts plain text) or "?" starting a block
// node.
func (s *scan) indicator(dash bool) bool {
	s.lastDelim = s.col
	if dash {
		s.token(tokOther)
	} else {
		s.clear(tokOther)
	}
	if !s.flow() && !s.level(false) {
		return false
	}
	s.advance(1)
	return true
}

func (s *scan) key() bool {
	s.keys++
	if s.keys > maxKeys {
		return s.fail("more than %d mapping keys", maxKeys)
	}
	return true
}

// marker is a "---" or "..." line. One document has at most a start and
// an end marker; a second document is reported by the converter, and
// more are refused here.
func (s *scan) marker() bool {
	s.markers++
	if s.markers > 2 {
		return s.fail("a template file holds one YAML document, found another one here")
	}
	s.token(tokOther)
	s.advance(3)
	return true
}

// mapValue reports whether ":" is a mapping value indicator to go-yaml.
func (s *scan) mapValue() bool {
	if s.anchor || s.directive {
		return false
	}
	next := s.peek(1)
	if s.mapping <= 0 {
		return isBlankOrEnd(next)
	}
	return next != '/' && s.last != tokMapValue
}

// mergeKey reports whether "<<" here is a merge key ("<<" then ":").
func (s *scan) mergeKey() bool {
	if s.peek(1) != '<' || s.peek(2) == '<' {
		return false
	}
	for k := 2; s.i+k < len(s.src); k++ {
		switch s.src[s.i+k] {
		case ' ':
		case ':':
			// go-yaml goes on past a ":" not followed by a blank.
			if n := s.peek(k + 1); n == ' ' || isBreak(n) {
				return true
			}
		default:
			return false
		}
	}
	return false
}

// blockHeader starts a block scalar: "|" or ">", options, the rest of the
// line.
func (s *scan) blockHeader() {
	if s.col == 1 {
		s.lastDelim = 1
	}
	s.clear(tokOther)
	// breaks counts from -1: the header's own line break is not content.
	s.block = blockScalar{on: true, breaks: -1}
	s.advance(1)
	for s.i < len(s.src) && !isBreak(s.src[s.i]) {
		switch c := s.src[s.i]; {
		case c >= '1' && c <= '9' && s.block.indent == 0:
			s.block.indent = s.lastDelim + int(c-'0')
		case (c == '-' || c == '+') && s.block.chomp == 0:
			s.block.chomp = c
		case c == '#':
			s.skipLine()
			return
		}
		s.advance(1)
	}
}

// tag skips a tag: to a blank, a line break, or a "," inside a flow
// collection. go-yaml's columns for the rest of the line are then one
// short: it does not count the "!".
func (s *scan) tag() bool {
	if !s.property(false) {
		return false
	}
	s.advance(1)
	for s.i < len(s.src) {
		c := s.src[s.i]
		if isBreak(c) || c == ',' && s.flow() {
			break
		}
		s.advance(1)
		if c == ' ' {
			break
		}
	}
	s.col--
	return true
}

// quoted skips a quoted scalar, which may span lines.
func (s *scan) quoted(q byte) {
	s.quoteCol = s.col
	s.advance(1)
	// go-yaml's scanner, at a tab in double-quoted text followed later on
	// its line by something other than blanks, and not directly by the
	// closing quote, moves one character (and column) too far; it resumes
	// after the closing quote that many characters late, and its columns
	// lag by those that a line break in the scalar has since reset.
	// Blanks that start a continuation line are skipped before that.
	tabs, late, lateLine, lineStart := 0, 0, 0, false
	for s.i < len(s.src) {
		c := s.src[s.i]
		switch {
		case isBreak(c):
			// go-yaml does not notice where the line starts: after the
			// scalar it takes what follows for the start of one.
			s.newline()
			tabs, lateLine, lineStart = 0, 0, true
			continue
		case c == ' ':
		case c == '\t':
			if q == '"' && !lineStart {
				s.dqTabs++
				if s.peek(1) != '"' {
					tabs++
				}
			}
		default:
			late, lateLine = late+tabs, lateLine+tabs
			tabs, lineStart = 0, false
		}
		switch {
		case q == '\'' && c == '\'' && s.peek(1) == '\'':
			s.advance(2)
		case q == '"' && c == '\\':
			lineStart = s.escape()
		case c == q:
			s.advance(1 + late)
			s.col -= late - lateLine
			s.clear(tokQuoted)
			return
		default:
			s.advance(1)
		}
	}
	s.clear(tokQuoted) // unterminated: go-yaml refuses the file
}

// escape moves past an escape sequence in double-quoted text, as far as
// go-yaml's scanner does: it takes the characters of \x, \u and \U
// whatever they are. It reports whether it ended a line.
func (s *scan) escape() bool {
	var buf [12]rune
	r := s.ahead(buf[:])
	n := 2
	switch {
	case len(r) < 2:
		n = 1
	case r[1] < utf8.RuneSelf && isBreak(byte(r[1])):
		// After an escaped CR (or CR LF) go-yaml's columns on the next
		// line run one (two) ahead.
		skew := 0
		if r[1] == '\r' {
			skew = 1
			if len(r) > 2 && r[2] == '\n' {
				skew = 2
			}
		}
		s.advance(1)
		s.newline()
		s.col += skew
		return true
	case r[1] == 'x' && len(r) > 3:
		n = 4
	case r[1] == 'u' && len(r) > 5:
		n = 6
		if c := hexRunes(r[2:6]); c >= 0xD800 && c <= 0xDBFF && len(r) > 11 && r[6] == '\\' && r[7] == 'u' {
			n = 12 // a surrogate pair (or an error)
		}
	case r[1] == 'U' && len(r) > 9:
		n = 10
	}
	s.advance(n)
	return false
}

// hexRunes is go-yaml's reading of hex digits, which takes any character.
func hexRunes(r []rune) int {
	sum := 0
	for i, c := range r {
		var d int
		switch {
		case c >= 'A' && c <= 'F':
			d = int(c) - 'A' + 10
		case c >= 'a' && c <= 'f':
			d = int(c) - 'a' + 10
		default:
			d = int(c) - '0'
		}
		sum += d << (uint(len(r)-i-1) * 4)
	}
	return sum
}
