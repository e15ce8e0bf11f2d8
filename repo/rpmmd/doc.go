// Package rpmmd is vzkit's client of rpm-md (yum, dnf and zypper)
// repositories: repodata/repomd.xml, verified against the template's keys
// through repomd.xml.asc before anything in it is trusted, and the primary
// and filelists data it lists, each checked against the verified checksum
// before it is parsed. Package is the plain value the RPM solver and
// installer take.
package rpmmd
