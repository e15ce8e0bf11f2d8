package rpm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/vzkit/vzkit/internal/saferoot"
)

// Owners resolves the user and group names of a package's files.
type Owners interface {
	UID(name string) (int, bool)
	GID(name string) (int, bool)
}

// IDs is a name table read from a root's /etc/passwd and /etc/group.
type IDs struct {
	Users, Groups map[string]int
}

func (ids *IDs) UID(name string) (int, bool) { id, ok := ids.Users[name]; return id, ok }
func (ids *IDs) GID(name string) (int, bool) { id, ok := ids.Groups[name]; return id, ok }

// maxIDFile bounds /etc/passwd and /etc/group, which the root's packages
// wrote.
const maxIDFile = 16 << 20

// ReadOwners reads the names of the target root's /etc/passwd and
// /etc/group, as rpm resolves owners against the root it installs into.
// A file that is not there yet (the setup package brings them) gives no
// names. The root is hostile: it is read through saferoot only.
func ReadOwners(root *saferoot.Root) (*IDs, error) {
	ids := &IDs{Users: map[string]int{}, Groups: map[string]int{}}
	for _, t := range []struct {
		name string
		m    map[string]int
	}{{"etc/passwd", ids.Users}, {"etc/group", ids.Groups}} {
		data, err := root.ReadFile(t.name, maxIDFile)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("rpm: owners: %w", err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			fields := strings.Split(sc.Text(), ":")
			if len(fields) < 3 || fields[0] == "" || strings.HasPrefix(fields[0], "#") {
				continue
			}
			id, err := strconv.ParseUint(fields[2], 10, 31)
			if err != nil {
				continue
			}
			if _, dup := t.m[fields[0]]; !dup { // the first entry wins, as in getpwnam
				t.m[fields[0]] = int(id)
			}
		}
	}
	return ids, nil
}
