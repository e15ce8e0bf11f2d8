//go:build linux && (amd64 || arm64)

package btrfs

import "testing"

// The request numbers linux/btrfs.h gives on the generic encoding
// (as strace prints them).
func TestIoctlNumbers(t *testing.T) {
	for name, c := range map[string]struct{ got, want uintptr }{
		"SNAP_CREATE":       {iocSnapCreate, 0x50009401},
		"SUBVOL_CREATE":     {iocSubvolCreate, 0x5000940e},
		"SNAP_DESTROY":      {iocSnapDestroy, 0x5000940f},
		"TREE_SEARCH":       {iocTreeSearch, 0xd0009411},
		"INO_LOOKUP":        {iocInoLookup, 0xd0009412},
		"SNAP_CREATE_V2":    {iocSnapCreateV2, 0x50009417},
		"SUBVOL_CREATE_V2":  {iocSubvolCreateV2, 0x50009418},
		"SUBVOL_GETFLAGS":   {iocSubvolGetflags, 0x80089419},
		"SUBVOL_SETFLAGS":   {iocSubvolSetflags, 0x4008941a},
		"FS_INFO":           {iocFsInfo, 0x8400941f},
		"QUOTA_CTL":         {iocQuotaCtl, 0xc0109428},
		"QGROUP_LIMIT":      {iocQgroupLimit, 0x8030942b},
		"QUOTA_RESCAN_WAIT": {iocQuotaRescanWait, 0x942e},
		"SNAP_DESTROY_V2":   {iocSnapDestroyV2, 0x5000943f},
	} {
		if c.got != c.want {
			t.Errorf("BTRFS_IOC_%s = %#x, want %#x", name, c.got, c.want)
		}
	}
}
