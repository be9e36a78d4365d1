#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the sparse to check modules of the kernel at KDIR with: the
# machine's when the kernel accepts it (its scripts/checker-valid.sh),
# else Debian sid's newer sparse, built from its source package (fetched
# through scripts/apt-private.sh) and cached.  7.x kernels want
# __typeof_unqual__, which Debian 12's sparse 0.6.4 lacks.
#   sparse.sh KDIR
set -euo pipefail

me=sparse
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "$me: FAIL: $*" >&2; exit 1; }

kdir=${1:?usage: sparse.sh KDIR}
valid=$kdir/scripts/checker-valid.sh
[ -e "$valid" ] || valid=$kdir/source/scripts/checker-valid.sh
accepts() { [ ! -e "$valid" ] || [ "$(sh "$valid" "$1" 2>/dev/null)" = 1 ]; }

if command -v sparse >/dev/null && accepts sparse; then
	command -v sparse
	exit 0
fi

cache=${AFDEMO_CACHE:-/var/cache/af_demo}
mkdir -p "$cache" 2>/dev/null && [ -w "$cache" ] ||
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/af_demo
base=$cache/sparse
mkdir -p "$base"
exec 9>"$base/.lock"
flock 9

ver=$("$here/apt-private.sh" apt-cache madison sparse | awk '$3 ~ /^0\./ { print $3 }' |
	sort -V | tail -n 1)
[ -n "$ver" ] || die "no sparse source package found"
bin=$base/$ver/sparse
if [ ! -x "$bin" ]; then
	echo "$me: building Debian's sparse $ver (the machine's is too old for $kdir)" >&2
	tmp=$base/.tmp-$$
	rm -rf "$base"/.tmp-*
	trap 'rm -rf "$tmp"' EXIT
	dsc=$("$here/apt-private.sh" source "$tmp/dl" "sparse=$ver") ||
		die "cannot fetch the sparse $ver source package"
	dpkg-source -x "$dsc" "$tmp/src" >&2 || die "dpkg-source -x $dsc failed"
	# Debian's Makefile names a compiler of its own release: use cc.
	make -C "$tmp/src" -j"$(nproc)" CC=cc sparse >&2 || die "sparse build failed"
	mkdir -p "$base/$ver"
	install -m 0755 "$tmp/src/sparse" "$bin"
fi
accepts "$bin" || die "$bin is not accepted by $kdir either"
echo "$bin"
