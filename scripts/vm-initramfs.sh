#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse from the cache) a tiny busybox initramfs that can mount the
# host's root over virtio-9p for kernel KVER.  Prints the cached image's path;
# with OUTFILE it also copies the image there.
set -euo pipefail

me=vm-initramfs
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
	cat <<EOF
Usage: $me.sh KVER [OUTFILE]
  Build a busybox initramfs (cpio newc, gzip) with the modules needed to
  mount a 9p root over virtio-pci for kernel KVER (/lib/modules/KVER).
  Cache: \${AFDEMO_CACHE:-/var/cache/af_demo}.  Prints the image path.
EOF
	exit 2
}

die() { echo "$me: $*" >&2; exit 1; }

if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
case $1 in -h|--help) usage ;; esac
kver=$1
outfile=${2:-}
moddir=/lib/modules/$kver

# Wanted modules; "?" marks optional ones (skipped if not available).
wanted="virtio_pci 9pnet_virtio 9p virtio_rng?"

# The initramfs has no libc: busybox must be statically linked.
busybox=${AFDEMO_BUSYBOX:-/bin/busybox}
if [ ! -x "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
	die "no static $busybox (apt-get install busybox-static)"
fi
command -v cpio >/dev/null || die "cpio not found (apt-get install cpio)"

cache=${AFDEMO_CACHE:-/var/cache/af_demo}
if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/af_demo
	mkdir -p "$cache"
fi

# Cache key: KVER + the generating scripts + busybox + the module index.
key=$({ cat "$here/vm-initramfs.sh" "$here/vm-init.sh" "$busybox" \
	"$moddir/modules.dep" "$moddir/modules.builtin" 2>/dev/null || true; } |
	sha256sum | cut -c1-16)
image=$cache/initramfs-$kver-$key.cpio.gz

norm() { local b=${1##*/}; b=${b%%.ko*}; echo "${b//-/_}"; }

build() {
	local work order=() seen=" "
	declare -A path=() deps=()
	local builtin=" "

	if [ -f "$moddir/modules.dep" ]; then
		local f d
		while IFS=: read -r f d; do
			path[$(norm "$f")]=$f
			deps[$(norm "$f")]=$d
		done <"$moddir/modules.dep"
		while read -r f; do
			builtin+="$(norm "$f") "
		done <"$moddir/modules.builtin"
	else
		echo "$me: no $moddir/modules.dep; assuming virtio/9p are built in" >&2
	fi

	# Depth-first post-order walk of modules.dep == load order.
	resolve() {
		local m=$1 d
		case "$seen" in *" $m "*) return 0 ;; esac
		seen+="$m "
		for d in ${deps[$m]:-}; do
			resolve "$(norm "$d")"
		done
		order+=("${path[$m]}")
	}

	local w m opt
	for w in $wanted; do
		m=${w%\?}
		opt=${w#"$m"}
		case "$builtin" in *" $m "*) continue ;; esac
		[ -f "$moddir/modules.dep" ] || continue
		if [ -z "${path[$m]:-}" ]; then
			[ -n "$opt" ] && continue
			grep -E 'CONFIG_(VIRTIO_PCI|NET_9P|NET_9P_VIRTIO|9P_FS)[= ]' \
				"/boot/config-$kver" >&2 2>/dev/null || true
			die "$kver: module $m is neither built in nor in modules.dep"
		fi
		resolve "$m"
	done

	work=$(mktemp -d)
	# shellcheck disable=SC2064
	trap "rm -rf '$work'" EXIT
	mkdir -p "$work"/{bin,dev,proc,sys,modules,newroot,out,ovl}
	cp "$busybox" "$work/bin/busybox"
	local a
	for a in $("$work/bin/busybox" --list); do
		[ "$a" = busybox ] || ln -s busybox "$work/bin/$a"
	done
	install -m 0755 "$here/vm-init.sh" "$work/init"

	local rel name
	: >"$work/modules/load.list"
	for rel in "${order[@]}"; do
		name=$(norm "$rel").ko
		case $rel in
		*.ko.xz) xz -dc "$moddir/$rel" >"$work/modules/$name" ;;
		*.ko.zst) zstd -qdc "$moddir/$rel" >"$work/modules/$name" ;;
		*.ko.gz) gzip -dc "$moddir/$rel" >"$work/modules/$name" ;;
		*) cp "$moddir/$rel" "$work/modules/$name" ;;
		esac
		echo "$name" >>"$work/modules/load.list"
	done
	echo "$me: $kver: modules: $(tr '\n' ' ' <"$work/modules/load.list")" >&2

	(cd "$work" && find . -print | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --quiet) | gzip -6 >"$image.tmp.$$"
	mv -f "$image.tmp.$$" "$image"
}

if [ ! -f "$image" ]; then
	# Drop this kernel's images made by other script versions (> 1 day old).
	find "$cache" -maxdepth 1 -name "initramfs-$kver-*.cpio.gz" -mtime +0 \
		-delete 2>/dev/null || true
	build
fi
if [ -n "$outfile" ]; then
	cp "$image" "$outfile"
fi
echo "$image"
