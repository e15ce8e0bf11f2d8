#!/bin/sh
# vzkit set_userpass: set user passwords, creating missing users.
#   USERPW  one "user:password" pair per line (required); the password is
#           everything after the first colon
# Passwords are set with the distro's own chpasswd(8), so the hash method is
# the distro's default (yescrypt on Debian 12, SHA-512 elsewhere); a missing
# user is created first with useradd -m (or busybox adduser -D). There is no
# fallback that edits /etc/shadow by hand: without chpasswd this fails.
# The value comes through the environment, which only root can read.
set -eu
if [ -z "${USERPW:-}" ]; then
	echo "set_userpass: USERPW is empty" >&2
	exit 2
fi
if ! command -v chpasswd >/dev/null 2>&1; then
	echo "set_userpass: chpasswd not found in the container" >&2
	exit 2
fi
printf '%s\n' "$USERPW" | while IFS= read -r pair; do
	[ -n "$pair" ] || continue
	user=${pair%%:*}
	if [ "$user" = "$pair" ]; then
		echo "set_userpass: entry without ':' for user '$user'" >&2
		exit 2
	fi
	case $user in
	'' | -* | *[!A-Za-z0-9._-]*) echo "set_userpass: invalid user name '$user'" >&2; exit 2 ;;
	esac
	if awk -F: -v u="$user" '$1 == u { found = 1 } END { exit !found }' /etc/passwd; then
		continue
	fi
	if command -v useradd >/dev/null 2>&1; then
		useradd -m "$user"
	elif command -v adduser >/dev/null 2>&1; then
		adduser -D "$user"
	else
		echo "set_userpass: user '$user' does not exist and neither useradd nor adduser is available" >&2
		exit 2
	fi
done
printf '%s\n' "$USERPW" | grep -v '^$' | chpasswd
