#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Print the kernels of the test matrix that are installed, one per line:
# the newest Debian 6.1 and 6.12 amd64 kernels that have both headers
# (/lib/modules/<ver>/build) and an image (/boot/vmlinuz-<ver>).
set -eu

for series in 6.1 6.12; do
	for build in /lib/modules/"$series".*-amd64/build; do
		ver=${build#/lib/modules/}
		ver=${ver%/build}
		if [ -e "$build/Makefile" ] && [ -e "/boot/vmlinuz-$ver" ]; then
			echo "$ver"
		fi
	done | sort -V | tail -n 1
done
