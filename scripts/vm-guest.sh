#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The guest side of vm-run.sh, run by vng's init as root:
#   vm-guest.sh CMD [ARGS...]
# Runs CMD with stderr joined to stdout, then leaves in $AFDEMO_OUT what
# the host checks: dmesg.txt (the whole kernel log) and exit-status
# ("AFDEMO-EXIT <rc>", written last: its absence means the guest died).
out=${AFDEMO_OUT:?}
exec 2>&1

ip link set lo up 2>/dev/null
[ -e /sys/kernel/debug/kmemleak ] || [ ! -d /sys/kernel/debug ] ||
	mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
echo "guest: $(uname -r), $(nproc) CPUs, cmdline: $(cat /proc/cmdline | sed 's/virtme.exec=`[^`]*`//')"

"$@"
rc=$?

dmesg >"$out/dmesg.txt"
echo "AFDEMO-EXIT $rc" >"$out/exit-status"
sync
exit "$rc"
