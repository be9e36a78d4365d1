#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# Guest /init (busybox sh, PID 1) of the vm-run.sh initramfs: mount the
# host's root read-only over 9p, run /tmp/out/.guest-cmd chrooted into it,
# report "AFDEMO-EXIT <rc>" on ttyS1 and power off.
export PATH=/bin

mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys

halt_vm() {
	sync
	# Without ACPI (a kernel built without it: scripts/build-kernel.sh
	# builds both its kernels with ACPI now) power-off only halts the
	# CPUs: reboot instead, which ends QEMU (-no-reboot).
	[ -d /sys/firmware/acpi ] || reboot -f
	poweroff -f
	echo o >/proc/sysrq-trigger
	while :; do sleep 60; done
}

die() {
	echo "vm-init: $*"
	echo "AFDEMO-ERROR $*" >/dev/ttyS1
	halt_vm
}

while read -r m; do
	insmod "/modules/$m" || die "insmod $m failed"
done </modules/load.list

opts=trans=virtio,version=9p2000.L,msize=512000
# The host root is read-only for the guest, so page-cache it (cache=loose)
# for speed; the out share stays uncached so the host sees writes at once.
mount -t 9p -o "$opts,ro,cache=loose" hostroot /newroot ||
	die "cannot mount 9p hostroot"
mount -t 9p -o "$opts" out /out || die "cannot mount 9p out share"

r=/newroot
mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount -t devtmpfs devtmpfs $r/dev
# Kernel-requested module loads (request_module) run /sbin/modprobe in this
# initramfs' root: forward them to the host's modprobe.
mkdir -p /sbin
printf '#!/bin/sh\nexec chroot %s /sbin/modprobe "$@"\n' $r >/sbin/modprobe
chmod 0755 /sbin/modprobe
# /tmp and /var/tmp: the host's content, writable through a tmpfs overlay
# (plain tmpfs if overlayfs is unavailable).  /run: plain tmpfs.
mount -t tmpfs -o mode=0755 tmpfs /ovl
/sbin/modprobe -q overlay
n=0
for d in /tmp /var/tmp; do
	[ -d "$r$d" ] || continue
	n=$((n + 1))
	mkdir -p /ovl/$n/up /ovl/$n/work && chmod 1777 /ovl/$n/up
	mount -t overlay -o "lowerdir=$r$d,upperdir=/ovl/$n/up,workdir=/ovl/$n/work" \
		overlay "$r$d" || mount -t tmpfs -o mode=1777 tmpfs "$r$d"
done
mount -t tmpfs -o mode=0755 tmpfs $r/run
mkdir -p $r/dev/pts $r/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts $r/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $r/dev/shm
ln -sf /proc/self/fd $r/dev/fd
ln -sf /proc/self/fd/0 $r/dev/stdin
ln -sf /proc/self/fd/1 $r/dev/stdout
ln -sf /proc/self/fd/2 $r/dev/stderr
mount -t debugfs debugfs $r/sys/kernel/debug
mount -t tracefs tracefs $r/sys/kernel/tracing 2>/dev/null
mount -t cgroup2 cgroup2 $r/sys/fs/cgroup 2>/dev/null
mkdir -p $r/tmp/out
mount --move /out $r/tmp/out || die "cannot move out share to /tmp/out"
ip link set lo up
hostname afdemo-vm

env -i TERM=linux chroot $r /bin/sh /tmp/out/.guest-cmd </dev/null
rc=$?

dmesg >$r/tmp/out/dmesg.txt
sync
echo "AFDEMO-EXIT $rc" >/dev/ttyS1
halt_vm
