// Package testenv is how tests say what they need from the machine: root,
// a tool from a Debian package, a fixture, the host's apt sources.
//
// On a developer's machine a missing prerequisite skips the test with the
// package that provides it. Under CI (CI=true, as .ci/run runs) it fails the
// test instead: `make test` installs every prerequisite first, so a missing
// one there is a broken set-up, and a skip would hide an untested part.
package testenv
