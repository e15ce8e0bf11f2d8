// Package loopdev attaches regular files to loop block devices through
// the kernel's ioctls (no losetup): a free device from /dev/loop-control
// (LOOP_CTL_GET_FREE), bound to the file in one step with LOOP_CONFIGURE
// and LO_FLAGS_AUTOCLEAR, so the device detaches itself when its last
// user (the mount made from it) goes away and nothing has to remember to
// free it. Two attaches racing for the same free device are told apart
// by LOOP_CONFIGURE's EBUSY, and the loser asks again.
package loopdev
