#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Print the kernels of the test matrix that are installed, one per line:
# the newest Debian 6.1 and 6.12 amd64 kernels and the newest 6.12
# PREEMPT_RT kernel (6.12.*-rt-amd64), in that order, each only if it has
# both headers (/lib/modules/<ver>/build) and an image (/boot/vmlinuz-<ver>).
set -eu

for flavour in 6.1 6.12 6.12-rt; do
	series=${flavour%-rt}
	case $flavour in
	*-rt) pattern="$series.*-rt-amd64" ;;
	*) pattern="$series.*-amd64" ;;
	esac
	for build in /lib/modules/$pattern/build; do
		ver=${build#/lib/modules/}
		ver=${ver%/build}
		# "6.12.*-amd64" matches the -rt kernels too.
		case $flavour:$ver in
		*-rt:*) ;;
		*:*-rt-amd64) continue ;;
		esac
		if [ -e "$build/Makefile" ] && [ -e "/boot/vmlinuz-$ver" ]; then
			echo "$ver"
		fi
	done | sort -V | tail -n 1
done
