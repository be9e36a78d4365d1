#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Install what building and testing af_demo needs, if it is missing:
# the two kernels of the test matrix (images and headers), the kernel
# source package (kselftest harness, checkpatch), QEMU and busybox for the
# test VM, and the tools the tests run inside it. A second run installs
# nothing.
set -eu

PACKAGES="
	build-essential bc bison flex kmod cpio xz-utils gzip libelf-dev
	linux-image-amd64 linux-headers-amd64
	linux-image-6.12-amd64 linux-headers-6.12-amd64
	linux-source-6.12
	qemu-system-x86 busybox-static
	iproute2 socat strace sparse
"

missing=
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: run as root to install packages" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
