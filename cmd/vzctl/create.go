package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vzkit/vzkit/cache/oci"
	"github.com/vzkit/vzkit/runtime"
)

func newCreateCommand(a *app) *cobra.Command {
	var o runtime.CreateOptions
	var insecureRegistry bool
	c := &cobra.Command{
		Use:   "create CTID [--ostemplate NAME] [--config NAME] [--hostname H] [--ipadd A] [--name N] [--layout plain|simfs|overlay|image|ploop] [--root PATH] [--private PATH] [--privileged] [--init KIND]",
		Short: "Create a container from a template cache",
		Long: `Create container CTID from the template cache TEMPLATE/cache/NAME.tar.zst
(.tar.gz and .tar.xz too; the compression is read from the file's magic
bytes). Defaults come from CONFDIR/ve-NAME.conf-sample (--config, else
CONFIGFILE of vz.conf; the shipped "basic" sample is written when missing),
whose name is recorded as ORIGIN_SAMPLE.

As in OpenVZ, a CTID.conf that already exists (written by hand, or kept
from another host) without a private area is the configuration to create
from: its OSTEMPLATE, VE_LAYOUT, VE_ROOT and VE_PRIVATE are used unless
given here, and every other key is kept; --config then only adds the
sample's keys that the file lacks.

--root PATH and --private PATH set VE_ROOT and VE_PRIVATE of this container
(default: those of vz.conf); write $VEID for the CTID, quoted from the
shell: --private '/srv/vz/private/$VEID'.

The cache's size and SHA-256 are checked against its manifest NAME.json
before a byte of it is unpacked; a cache without a manifest is refused
unless ALLOW_UNVERIFIED_CACHE="yes" in vz.conf lets plain (OpenVZ)
tarballs through, with a warning. Entries that would leave the root, and
device nodes other than null, zero, full, random, urandom, tty, console and
ptmx, never reach the disk.

Create is all or nothing: the cache is unpacked next to the private area
under a temporary name and CTID.conf is written last, so an interrupted
create (Ctrl-C, SIGTERM, even kill -9) leaves no container behind.

--layout plain (OpenVZ's simfs) keeps the root tree in the private area.
Where the private areas are on btrfs, the area is a subvolume whose qgroup
limits it to DISKSPACE's hard limit, and create snapshots a read-only copy
of the cache unpacked once (TEMPLATE/unpacked), which takes milliseconds;
elsewhere it reflinks that copy's files where the filesystem can, else
unpacks (FAST_PLAIN_CREATE="no" in vz.conf always unpacks). On another
filesystem DISKSPACE is not enforced, and start says why.

--layout overlay unpacks each cache once, read-only, under TEMPLATE/overlay
and keeps only the container's changes in its private area (on btrfs a
subvolume, limited to DISKSPACE: the changes, not the shared lower).

--layout image (OpenVZ's ploop) makes an ext4 of DISKSPACE's hard limit
(DISKINODES' inodes) in a sparse file, VE_PRIVATE/root.hdd/root.hdd, on a
loop device at each mount: the container sees its own filesystem and its
size in df. DISKSPACE must not be unlimited. A raised DISKSPACE grows the
image at the next start (online where the host has CAP_SYS_RESOURCE); a
lowered one shrinks it at the next start, never below what is used.

Containers are unprivileged by default: the container's root is an
unprivileged host uid (a range of 65536 host uids and gids of its own,
from LOCAL_UID/LOCAL_GID of vz.conf, recorded in CTID.conf), its files are
shown to it with the right owners through idmapped mounts, and its
capabilities count only inside its own namespaces.

--privileged makes a container whose root IS the host's root, confined only
by namespaces, dropped capabilities, seccomp and cgroups. A kernel bug or a
mistake in its configuration then hands the host to whoever is root in it,
and the files it makes (setuid binaries included) belong to host root. Use
it only for a container you trust as much as the host itself.

The kind of init (systemd, sysvinit, or vzkit's minimal init for images
without one) is read from the cache's /sbin/init now and recorded as
INIT_KIND; --init sets it. From then on it is configuration: what the
container later puts at /sbin/init changes nothing about its privileges.

--ipadd takes an address as "vzctl set --ipadd" does, with the same
checks: an address another container or the host uses is refused (exit 78)
before anything is unpacked.

--ostemplate oci://REGISTRY/REPO:TAG (or oci://REGISTRY/REPO@sha256:DIGEST)
pulls a cache pushed by "vzpkg cache push" into the cache directory first
(every digest checked), then creates from it. The template is named after
the reference you typed, as "vzpkg cache pull" names it: the last part of
the repository, a dash and the tag (oci://registry.example.org/vzkit/debian:12
is template debian-12), never after what the image says. A template of that
name that already is this image is used as it is; one with other content is
never replaced: remove it ("vzpkg cache rm NAME"), or pull with "vzpkg cache
pull REF --replace" or "--name NAME" first. The registry is spoken to over
HTTPS only (localhost and private addresses too); --insecure-registry allows
plain HTTP to it.`,
		Example: `  vzctl create 101 --ostemplate debian-12-minimal --hostname web1 --ipadd 192.0.2.10
  vzctl create 102 --ostemplate debian-12-minimal --layout overlay --config vswap-256m
  vzctl create 103 --private '/srv/vz/private/$VEID' --root '/srv/vz/root/$VEID'
  vzctl create 105 --layout image --config basic   # an ext4 of the sample's DISKSPACE (10G:11G: 11G)
  vzctl create 104      # from a CTID.conf already in CONFDIR (OSTEMPLATE inside)`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.store()
			if err != nil {
				return err
			}
			o.CTID = args[0]
			ctx, cancel := signalContext(cmd)
			defer cancel()
			if ref, ok := strings.CutPrefix(o.OSTemplate, "oci://"); ok {
				conf, err := a.Config()
				if err != nil {
					return err
				}
				res, err := oci.Pull(ctx, ref, conf.CacheDir(), oci.Options{Insecure: insecureRegistry})
				if err != nil {
					return fmt.Errorf("--ostemplate %s: %w", o.OSTemplate, pullHint(err))
				}
				if res.Unchanged {
					fmt.Fprintf(cmd.OutOrStdout(), "Template %s already is %s@%s; not pulled again\n", res.Name, ref, res.Digest)
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "Pulled %s@%s as template %s\n", ref, res.Digest, res.Name)
				}
				o.OSTemplate = res.Name
			}
			if _, err := st.Create(ctx, o); err != nil {
				return ctErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Container %s created\n", o.CTID)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&o.OSTemplate, "ostemplate", "", "template cache name (default OSTEMPLATE of an existing CTID.conf, else DEF_OSTEMPLATE of vz.conf)")
	f.StringVar(&o.Config, "config", "", "sample config ve-NAME.conf-sample (default CONFIGFILE of vz.conf)")
	f.StringVar(&o.Hostname, "hostname", "", "container hostname")
	f.StringArrayVar(&o.IPs, "ipadd", nil, "IP address, A or A/PREFIX (repeatable)")
	f.StringVar(&o.Name, "name", "", "container name, usable in place of the CTID")
	f.BoolVar(&insecureRegistry, "insecure-registry", false, "with oci://, allow plain HTTP to that registry")
	f.StringVar(&o.Layout, "layout", "", "storage layout: plain (simfs), overlay or image (ploop) (default VE_LAYOUT of vz.conf)")
	f.StringVar(&o.Root, "root", "", "VE_ROOT, where the running container's root is mounted ($VEID: the CTID)")
	f.StringVar(&o.Private, "private", "", "VE_PRIVATE, the container's private area ($VEID: the CTID)")
	f.BoolVar(&o.Privileged, "privileged", false, "the container's root is the host's root (no user namespace): see above for the risk")
	f.Var((*initFlag)(&o.Init), "init", "init kind: systemd, sysvinit or minimal (default: from the cache's /sbin/init)")
	return c
}

// initFlag is --init: checked when parsed.
type initFlag runtime.InitKind

func (f *initFlag) String() string { return string(*f) }
func (f *initFlag) Type() string   { return "systemd|sysvinit|minimal" }
func (f *initFlag) Set(v string) error {
	k, err := runtime.ParseInitKind(v)
	if err != nil {
		return err
	}
	*f = initFlag(k)
	return nil
}

// pullHint says how to get past a refused oci:// pull.
func pullHint(err error) error {
	switch {
	case errors.Is(err, oci.ErrExists):
		return fmt.Errorf("%w; create never replaces a template: remove it (vzpkg cache rm), or pull first with vzpkg cache pull --replace or --name NAME", err)
	case errors.Is(err, oci.ErrPlainHTTP):
		return fmt.Errorf("%w; --insecure-registry allows plain HTTP to it", err)
	}
	return err
}
