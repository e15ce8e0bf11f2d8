// Package rpmmdtest makes real rpm-md repositories for tests: packages
// built with rpmbuild from a description, signed with rpmsign by a fresh
// key, indexed by createrepo_c with a signed repomd.xml, and served on
// loopback. Distribution describes a small distribution in Fedora's shape
// made of this host's real binaries (busybox-static, Debian's rpm and its
// libraries), so that a root built from it runs rpm inside.
package rpmmdtest
