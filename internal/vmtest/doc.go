// Package vmtest runs a shell script as root in a qemu VM that is a pure
// cgroup v2 host, for integration tests that must prove vzkit on the kind
// of host most machines are (the CI and development machines run a hybrid
// hierarchy).
//
// The VM boots Debian 12's own kernel on a root that vzpkg builds from the
// template in guest/ (kernel, initrd and modules all come from that root's
// /boot and /lib/modules). The unpacked root becomes a raw ext4 image with
// `mkfs.ext4 -d`, so no loop mount is needed; the image, the kernel and
// the initrd are cached under /tmp/vzkit-vm-test keyed by a hash of their
// inputs and built once per machine behind a file lock. Each run boots the
// image with snapshot=on (writes go to a throw-away overlay, so runs are
// independent and may run in parallel) and a second, small ext4 disk made
// for that run: the harness's init, the test's script and the files the
// test copies into the root (a vzctl binary, a container cache).
//
// The image's /vzkit-vm-init only mounts the run disk and hands over to its
// init (guest/init.sh), which mounts cgroup2 alone on /sys/fs/cgroup
// (nsdelegate; the kernel is booted with cgroup_no_v1=all), enables every
// controller in the root's cgroup.subtree_control, loads the modules the
// run asks for, copies the files, runs the script with its output between
// two marker lines on the serial console, and powers off. The markers carry
// a nonce of the run, and the closing one the script's exit status, which
// Run returns. On any failure the whole console goes to the test log;
// VZKIT_VM_CONSOLE=1 also copies it to stderr as it comes.
//
// The VM is a Debian host as its initrd leaves it, with no systemd: /run
// is the initrd's tmpfs (nodev, noexec, nosuid), as on a Debian host.
//
// qemu uses KVM where the CPU has hardware virtualisation (vmx or svm in
// /proc/cpuinfo) and /dev/kvm opens, else TCG; VZKIT_VM_ACCEL=tcg or kvm
// forces one. Under TCG on two cores a boot to the script takes 20 s on an
// idle machine, up to a minute on a loaded one.
package vmtest
