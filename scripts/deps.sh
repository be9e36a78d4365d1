#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Install what building and testing af_demo needs, if it is missing:
# the Debian kernels of the test matrix (6.1, 6.12, 6.12 PREEMPT_RT: images
# and headers), the kernel source package (kselftest harness, checkpatch,
# the debug kernel), QEMU and virtme-ng for the test VMs, the tools the
# tests run inside them, tshark for the Wireshark dissector's test
# (tools/wireshark/test.sh), and what packaging needs (dkms, debhelper,
# mandoc).  virtme-ng comes from the machine's own sources where the
# release has it (Debian 13+, Ubuntu 24.04+), else from Debian trixie
# through scripts/apt-private.sh.  A second run installs nothing.
set -eu

PACKAGES="
	build-essential bc bison flex kmod cpio xz-utils gzip libelf-dev
	linux-image-amd64 linux-headers-amd64
	linux-image-6.12-amd64 linux-headers-6.12-amd64
	linux-image-6.12-rt-amd64 linux-headers-6.12-rt-amd64
	linux-source-6.12
	qemu-system-x86 debian-archive-keyring
	python3 python3-argcomplete python3-pkg-resources python3-requests file
	iproute2 socat strace sparse tshark
	dkms dh-dkms debhelper dpkg-dev fakeroot mandoc
"

missing=
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
command -v vng >/dev/null || missing="$missing virtme-ng"
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: run as root to install packages" >&2
	exit 1
fi
# Non-interactive: debconf keeps its defaults (tshark's wireshark-common
# asks whether non-root users may capture: no).
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
vng=
case $missing in
*virtme-ng*)
	missing=$(echo "$missing" | sed 's/ virtme-ng//')
	if [ -n "$(apt-cache policy virtme-ng 2>/dev/null |
		sed -n 's/^ *Candidate: //p' | grep -v none)" ]; then
		missing="$missing virtme-ng"
	else
		# Debian trixie's virtme-ng is Architecture: all and runs here.
		vng=$("$(dirname "$0")"/apt-private.sh download \
			"${AFDEMO_CACHE:-/var/cache/af_demo}/debs" virtme-ng/trixie)
	fi
	;;
esac
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing $vng
