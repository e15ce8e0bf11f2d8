package runtime

import (
	"context"

	"github.com/vzkit/vzkit/runtime/resource"
)

// applyDiskQuota holds c to d. Interim: no layout enforces a quota yet, so
// a limit is reported as not enforced.
func (s *Store) applyDiskQuota(_ context.Context, c *Container, d resource.Disk) error {
	if !d.Space.IsUnlimited() || !d.Inodes.IsUnlimited() {
		s.log().Warn("DISKSPACE/DISKINODES are not enforced for this container's layout", "ctid", c.ID)
	}
	return nil
}
