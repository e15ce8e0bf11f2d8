package runtime

import (
	"fmt"

	"github.com/vzkit/vzkit/runtime/resource"
	"github.com/vzkit/vzkit/runtime/sandbox"
)

// Beancounters is c's table of OpenVZ beancounters: barrier and limit
// from its resource configuration in force (Store.InForce: what a live
// set gave it while it runs, its files when it does not), held, maxheld
// and failcnt read from the cgroup counters of its sandbox while it runs
// (zero, with Counted false, when it does not). Running tells which.
func (s *Store) Beancounters(c *Container) (rows []resource.Beancounter, running bool, err error) {
	rc, sb, err := s.inForce(c)
	if err != nil {
		return nil, false, err
	}
	rows, err = beancounters(c, rc, sb)
	return rows, sb != nil, err
}

// beancounters are the rows of rc, with sb's counters when it runs (sb
// not nil).
func beancounters(c *Container, rc resource.Config, sb *sandbox.Sandbox) ([]resource.Beancounter, error) {
	if sb == nil {
		return rc.Beancounters(nil), nil
	}
	n, err := sb.Counters()
	if err != nil {
		return nil, fmt.Errorf("container %s: beancounters: %w", c.ID, err)
	}
	return rc.Beancounters(&n), nil
}
