// Package hooks runs template scripts: the pre-install, post-install and
// pre-cache scripts of template metadata.
//
// A template script runs inside the build sandbox with the new root as /,
// never on the host. This package does not start sandboxes itself: the
// caller passes an Executor (cmd wires it to runtime/sandbox), which keeps
// hooks free of any knowledge of containers and package formats.
//
// The script is copied into the root under /tmp with a unique,
// unpredictable name (created with O_EXCL through internal/saferoot, so a
// symlinked /tmp resolves inside the root and nothing there is written
// through), run with `/bin/sh -e`, and removed afterwards whatever its
// outcome. Its output is
// streamed to the caller's log and also kept (the last 64 KiB) so that a
// failing script fails the build with what it printed.
//
// Environment of a template script (documented for maintainers in the
// README's metadata reference):
//
//	VZKIT_HOOK      the stage: pre-install, post-install or pre-cache
//	TEMPLATE_NAME   the template's name, e.g. debian-12-minimal
//	DISTRO          e.g. debian
//	RELEASE         e.g. 12
//	ARCH            the target architecture in the distro's spelling (amd64, x86_64)
//	VARIANT         e.g. minbase
//	MIRROR          the mirror the packages came from
//	PATH            /usr/sbin:/usr/bin:/sbin:/bin
//	HOME=/root, LC_ALL=C.UTF-8, DEBIAN_FRONTEND=noninteractive
//
// plus every user-defined template variable as VZKIT_VAR_<NAME>.
package hooks
