package vzconf

import "sort"

// Key documents one key of a configuration file.
type Key struct {
	Name    string
	Default string // vz.conf keys only
	Help    string
}

// GlobalKeys are the vz.conf keys vzkit implements, sorted by name. Any
// other key is kept in the file and reported as ignored.
func GlobalKeys() []Key {
	out := make([]Key, 0, len(defaults))
	for k, d := range defaults {
		out = append(out, Key{Name: k, Default: d.value, Help: d.help})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ContainerKeys are the CTID.conf keys vzkit reads, in the order ctid.conf(5)
// lists them, but for the resource parameters, which package
// runtime/resource describes (Params). Keys not listed are kept in the
// file and have no effect.
var ContainerKeys = []Key{
	{Name: "OSTEMPLATE", Help: "the template cache the container was made from"},
	{Name: "ORIGIN_SAMPLE", Help: "the sample configuration (ve-NAME.conf-sample) create started from"},
	{Name: "VE_ROOT", Help: "where the running container's root is mounted; $VEID stands for the CTID"},
	{Name: "VE_PRIVATE", Help: "the container's private area (its files); $VEID stands for the CTID"},
	{Name: "VE_LAYOUT", Help: "plain (OpenVZ's simfs: the private area is the root tree, a btrfs subvolume where the private areas are on btrfs), overlay (a shared read-only lower with the container's changes in its private area) or image (OpenVZ's ploop: an ext4 in VE_PRIVATE/root.hdd/root.hdd, sized by DISKSPACE)"},
	{Name: "VE_OVERLAY_LOWER", Help: "overlay layout: the SHA-256 of the cache whose unpacked tree is the lower directory"},
	{Name: "NAME", Help: "a name usable in place of the CTID"},
	{Name: "DESCRIPTION", Help: "free text, shown by vzlist -o description"},
	{Name: "HOSTNAME", Help: "the container's hostname (kernel, /etc/hostname, /etc/hosts)"},
	{Name: "IP_ADDRESS", Help: "the container's addresses, space separated (A or A/PREFIX)"},
	{Name: "NAMESERVER", Help: "resolvers written into the container's /etc/resolv.conf"},
	{Name: "SEARCHDOMAIN", Help: "search domains of /etc/resolv.conf"},
	{Name: "ONBOOT", Help: "yes: started by vzctl start --all-onboot (at boot)"},
	{Name: "DISABLED", Help: "yes: vzctl start refuses the container (exit 105) unless --force"},
	{Name: "BOOTORDER", Help: "a number, shown by vzlist -o bootorder"},
	{Name: "STOP_TIMEOUT", Help: "seconds stop waits for a clean shutdown before it kills (overrides vz.conf)"},
	{Name: "INIT_KIND", Help: "systemd, sysvinit or minimal: how the container is booted and shut down; set at create from the cache's /sbin/init, then configuration"},
	{Name: "PRIVILEGED", Help: "yes: the container's root is the host's root (no user namespace); default no"},
	{Name: "LOCAL_UID", Help: "first host uid of an unprivileged container's range of 65536 ids"},
	{Name: "LOCAL_GID", Help: "first host gid of an unprivileged container's range"},
	{Name: "CAPABILITY", Help: "capabilities added or dropped, as NAME:on or NAME:off words"},
	{Name: "FEATURES", Help: "nesting:on lets an unprivileged container make user namespaces of its own"},
}
