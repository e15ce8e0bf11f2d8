package distros

// The in-container setup scripts (OpenVZ's dists/ idea): see
// scripts/README.md for what each action does and its environment.

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed scripts
var setupScripts embed.FS

// SetupAction names one in-container setup script.
type SetupAction string

// The setup actions every family provides.
const (
	SetHostname SetupAction = "set_hostname"
	SetIP       SetupAction = "set_ip"
	SetDNS      SetupAction = "set_dns"
	SetUserPass SetupAction = "set_userpass"
)

// SetupActions lists the actions in a stable order.
var SetupActions = []SetupAction{SetHostname, SetIP, SetDNS, SetUserPass}

// Script families.
const (
	FamilyDebian = "debian"
	FamilyRedHat = "redhat"
	FamilySUSE   = "suse"
)

// familyOf maps os-release IDs (and the family names themselves) to families.
var familyOf = map[string]string{
	"debian": FamilyDebian, "ubuntu": FamilyDebian, "devuan": FamilyDebian,
	"raspbian": FamilyDebian, "kali": FamilyDebian, "linuxmint": FamilyDebian,
	"redhat": FamilyRedHat, "rhel": FamilyRedHat, "fedora": FamilyRedHat,
	"centos": FamilyRedHat, "almalinux": FamilyRedHat, "rocky": FamilyRedHat,
	"ol": FamilyRedHat, "oraclelinux": FamilyRedHat,
	"suse": FamilySUSE, "opensuse": FamilySUSE, "opensuse-leap": FamilySUSE,
	"opensuse-tumbleweed": FamilySUSE, "sles": FamilySUSE, "sled": FamilySUSE,
}

// scriptDirs is where a family's scripts are looked up, first match wins.
var scriptDirs = map[string][]string{
	FamilyDebian: {"debian", "common"},
	FamilyRedHat: {"rpm", "common"},
	FamilySUSE:   {"rpm", "common"},
}

// ScriptFamily returns the script family of a distro, given by its
// os-release ID (case-insensitive) or by a family name.
func ScriptFamily(distro string) (string, error) {
	f, ok := familyOf[strings.ToLower(distro)]
	if !ok {
		known := make([]string, 0, len(familyOf))
		for k := range familyOf {
			known = append(known, k)
		}
		sort.Strings(known)
		return "", fmt.Errorf("no setup scripts for distro %q (known: %s)", distro, strings.Join(known, ", "))
	}
	return f, nil
}

// Script returns the shell script that applies action inside a container
// of distro (os-release ID or family name).
func Script(distro string, action SetupAction) ([]byte, error) {
	fam, err := ScriptFamily(distro)
	if err != nil {
		return nil, err
	}
	for _, dir := range scriptDirs[fam] {
		b, err := setupScripts.ReadFile("scripts/" + dir + "/" + string(action) + ".sh")
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("setup script %s for %s: %w", action, distro, err)
		}
	}
	return nil, fmt.Errorf("no setup script %q for distro %q (family %s)", action, distro, fam)
}
