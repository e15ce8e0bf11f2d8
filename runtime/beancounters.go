package runtime

import (
	"fmt"

	"github.com/vzkit/vzkit/runtime/resource"
)

// Beancounters is c's table of OpenVZ beancounters: barrier and limit
// from its resource configuration, held, maxheld and failcnt read from
// the cgroup counters of its sandbox while it runs (zero, with Counted
// false, when it does not). Running tells which.
func (s *Store) Beancounters(c *Container) (rows []resource.Beancounter, running bool, err error) {
	rc, err := s.Resources(c)
	if err != nil {
		return nil, false, err
	}
	sb, _, err := s.running(c)
	if err != nil {
		return nil, false, err
	}
	if sb == nil {
		return rc.Beancounters(nil), false, nil
	}
	n, err := sb.Counters()
	if err != nil {
		return nil, false, fmt.Errorf("container %s: beancounters: %w", c.ID, err)
	}
	return rc.Beancounters(&n), true, nil
}
