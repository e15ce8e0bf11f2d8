package resource

// Disk is the first- and second-level disk quota of a container:
// DISKSPACE and DISKINODES (soft:hard, as barrier:limit) and
// QUOTAUGIDLIMIT. The storage layout enforces it (package runtime).
type Disk struct {
	Space     Pair   // 1K blocks
	Inodes    Pair   // inodes
	UGIDLimit uint64 // 0: no user/group quota inside the container
}

// SpaceBytes is the hard limit of Space in bytes (Unlimited when unset).
func (d Disk) SpaceBytes() Value { return KBlocks.Bytes(d.Space.Limit) }
