#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Reach other suites of Debian's archive (trixie, sid, experimental)
# through an apt configuration of the project's own, without touching the
# machine's sources: its lists and downloads live in a cache directory, and
# it uses the Debian mirror the machine already uses.  See usage().
set -euo pipefail

me=apt-private

usage() {
	[ "${1:-2}" = 0 ] || exec >&2
	cat <<EOF
Usage: $me.sh update
       $me.sh download DIR PKG[/SUITE]...   .debs into DIR, printing their paths
       $me.sh source DIR PKG[/SUITE]...     source packages into DIR, printing
                                            the .dsc paths
       $me.sh newest-source                 the newest linux-source-N.M: "PKG VERSION"
       $me.sh apt-cache ARGS...             apt-cache with the private lists
Suites: ${SUITES}.  Lists are refreshed when older than a day.
Cache: \${AFDEMO_CACHE:-/var/cache/af_demo}/apt.  Env: AFDEMO_DEBIAN_MIRROR
(default: the machine's first Debian mirror, else deb.debian.org).
EOF
	exit "${1:-2}"
}

SUITES="trixie sid experimental"
die() { echo "$me: FAIL: $*" >&2; exit 1; }

# The machine's own Debian mirror: the first URI of a source whose suite is
# a Debian release (deb822 or one-line format).
machine_mirror() {
	local f

	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		 /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		case $f in
		*.sources)
			awk 'tolower($1) == "uris:" { u = $2 }
			     tolower($1) == "suites:" && u != "" &&
			     / (bookworm|trixie|forky|sid|stable|testing|unstable)( |$)/ &&
			     u !~ /security/ { print u; exit }
			     /^$/ { u = "" }' "$f"
			;;
		*)
			sed -n -E 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+)[[:space:]]+(bookworm|trixie|forky|sid|stable|testing|unstable)([[:space:]].*)?$/\2/p' "$f" |
				grep -v security
			;;
		esac
	done | head -n 1
}

cache=${AFDEMO_CACHE:-/var/cache/af_demo}
mkdir -p "$cache" 2>/dev/null && [ -w "$cache" ] ||
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/af_demo
dir=$cache/apt
mkdir -p "$dir/lists/partial" "$dir/archives/partial" "$dir/etc/parts" \
	"$dir/etc/prefs"

mirror=${AFDEMO_DEBIAN_MIRROR:-$(machine_mirror)}
mirror=${mirror:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || die "$keyring is missing (apt-get install debian-archive-keyring)"
for s in $SUITES; do
	echo "deb [signed-by=$keyring] $mirror $s main"
	echo "deb-src [signed-by=$keyring] $mirror $s main"
done >"$dir/etc/sources.list.new"
mv -f "$dir/etc/sources.list.new" "$dir/etc/sources.list"

opts=(-o "Dir::State::Lists=$dir/lists"
	-o "Dir::State::status=/dev/null"
	-o "Dir::Etc::SourceList=$dir/etc/sources.list"
	-o "Dir::Etc::SourceParts=$dir/etc/parts"
	-o "Dir::Etc::PreferencesParts=$dir/etc/prefs"
	-o "Dir::Etc::Preferences=$dir/etc/none"
	-o "Dir::Cache=$dir/cache"
	-o "Dir::Cache::Archives=$dir/archives"
	-o "APT::Sandbox::User=root")

update() {
	local stamp=$dir/lists/.updated

	if [ "${1:-}" != force ] && [ -n "$(find "$stamp" -mmin -1440 2>/dev/null)" ]; then
		return 0
	fi
	echo "$me: updating the private lists ($SUITES from $mirror)" >&2
	apt-get "${opts[@]}" -q update >&2 || die "apt-get update failed"
	touch "$stamp"
}

case ${1:-} in
update)
	update force
	;;
download|source)
	# PKG[/SUITE] or PKG=VERSION; prints the .deb or .dsc of each.
	[ $# -ge 3 ] || usage
	what=$1 out=$2
	shift 2
	update
	mkdir -p "$out"
	if [ "$what" = download ]; then
		cmd=(download) ext=deb
	else
		cmd=(source --download-only) ext=dsc
	fi
	(cd "$out" && apt-get "${opts[@]}" -q "${cmd[@]}" "$@" >&2) ||
		die "apt-get ${cmd[*]} $* failed"
	for p in "$@"; do
		p=${p%%/*}
		p=${p%%=*}
		ls -t "$out/${p}_"*."$ext" | head -n 1
	done
	;;
newest-source)
	update
	pkg=$(apt-cache "${opts[@]}" pkgnames linux-source- |
		grep -E '^linux-source-[0-9]+\.[0-9]+$' | sort -V | tail -n 1)
	[ -n "$pkg" ] || die "no linux-source-N.M in $SUITES"
	ver=$(apt-cache "${opts[@]}" madison "$pkg" | awk '{ print $3 }' |
		sort -V | tail -n 1)
	echo "$pkg $ver"
	;;
apt-cache)
	shift
	update
	apt-cache "${opts[@]}" "$@"
	;;
-h|--help)
	usage 0
	;;
*)
	usage
	;;
esac
