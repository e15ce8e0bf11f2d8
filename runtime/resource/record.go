package resource

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxRecord is the largest record ParseRecord reads: far more than every
// parameter takes (DEVICES and DEVNODES are the long ones).
const MaxRecord = 1 << 20

// Record is c written whole: one KEY="value" line per parameter, in
// Params order, each value as Get writes it. It is how vzkit keeps the
// configuration a running container holds (set without --save changes
// it, not the files); ParseRecord reads it back to the same Config.
func (c Config) Record() []byte {
	var b bytes.Buffer
	for _, p := range Params {
		fmt.Fprintf(&b, "%s=\"%s\"\n", p.Key, c.Get(p))
	}
	return b.Bytes()
}

// ParseRecord reads what Record writes, and nothing else: every line
// KEY="value" with a parameter's key, each parameter exactly once, values
// of printable characters without quotes, backslashes, $ or `, each
// checked by the parser of CTID.conf values (Parse). A record is data that
// vzkit wrote, so anything else (comments, blank lines, unknown or missing
// keys) is refused rather than guessed at.
func ParseRecord(b []byte) (Config, error) {
	if len(b) > MaxRecord {
		return Config{}, fmt.Errorf("resource record of %d bytes: want at most %d", len(b), MaxRecord)
	}
	body, ok := bytes.CutSuffix(b, []byte("\n"))
	if !ok {
		return Config{}, errors.New("resource record: want KEY=\"value\" lines, each ending in a newline")
	}
	type entry struct {
		value string
		line  int
	}
	seen := map[string]entry{}
	for i, l := range strings.Split(string(body), "\n") {
		line := i + 1
		key, rest, ok := strings.Cut(l, "=")
		p, known := lookupKey(key)
		if !ok || !known {
			return Config{}, fmt.Errorf("resource record line %d: want KEY=\"value\" with a resource parameter's key", line)
		}
		if _, dup := seen[p.Key]; dup {
			return Config{}, fmt.Errorf("resource record line %d: %s given twice", line, p.Key)
		}
		v, ok := strings.CutPrefix(rest, `"`)
		if ok {
			v, ok = strings.CutSuffix(v, `"`)
		}
		if !ok || strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r > '~' || strings.ContainsRune("\"\\$`", r) }) {
			return Config{}, fmt.Errorf("resource record line %d: %s: want a double-quoted value of printable characters", line, p.Key)
		}
		seen[p.Key] = entry{v, line}
	}
	for _, p := range Params {
		if _, ok := seen[p.Key]; !ok {
			return Config{}, fmt.Errorf("resource record: no %s", p.Key)
		}
	}
	return Parse(func(key string) (string, string, bool) {
		e, ok := seen[key]
		return e.value, "resource record line " + strconv.Itoa(e.line), ok
	})
}

// lookupKey finds a parameter by its exact CTID.conf key.
func lookupKey(key string) (*Param, bool) {
	for _, p := range Params {
		if p.Key == key {
			return p, true
		}
	}
	return nil, false
}
