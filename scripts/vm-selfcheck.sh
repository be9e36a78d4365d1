#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Self-check of the VM harness (vm-run.sh over virtme-ng, vm-guest.sh,
# logscan.sh) on each installed kernel: exit codes, panic/timeout
# handling, log scan, host binaries, netns/veth and netem inside the guest.
# Not part of the test command (about 7 minutes per kernel under TCG).
set -euo pipefail

me=vm-selfcheck
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
	cat <<EOF
Usage: $me.sh [KVER...]
  Check the VM harness on each KVER (default: every /boot/vmlinuz-* with
  /lib/modules/KVER).  Logs go to \${AFDEMO_SELFCHECK_DIR:-\$(mktemp -d)}.
EOF
	exit 2
}
case ${1:-} in -h|--help) usage ;; esac

kvers=("$@")
if [ ${#kvers[@]} = 0 ]; then
	for f in /boot/vmlinuz-*; do
		k=${f#/boot/vmlinuz-}
		[ -d "/lib/modules/$k" ] && kvers+=("$k")
	done
fi
[ ${#kvers[@]} -gt 0 ] || { echo "$me: no kernels found" >&2; exit 1; }

logs=${AFDEMO_SELFCHECK_DIR:-$(mktemp -d /tmp/afdemo-selfcheck.XXXXXX)}
mkdir -p "$logs"
pass=0 fail=0 secs=0
boot_secs=()
echo "hostfile" >"$logs/hostfile"

# check NAME WANT_RC [VM-RUN ARGS...]: run vm-run.sh, compare its exit code.
check() {
	local name=$1 want=$2 rc=0 t0 t1 dir
	shift 2
	dir=$logs/$kver/$name
	mkdir -p "$dir"
	t0=$(date +%s.%N)
	"$here/vm-run.sh" -k "$kver" -o "$dir" "$@" >"$dir.log" 2>&1 || rc=$?
	t1=$(date +%s.%N)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	if [ "$rc" = "$want" ] && extra_ok "$dir"; then
		pass=$((pass + 1))
		echo "PASS $kver $name (rc=$rc, ${secs}s)"
	else
		fail=$((fail + 1))
		echo "FAIL $kver $name (rc=$rc, want $want, ${secs}s; log: $dir.log)"
	fi
}
extra_ok() { :; }

# Guest-side test scripts (expanded in the guest, hence single quotes).
# shellcheck disable=SC2016
netns_test='set -ex
ping=ping; command -v ping >/dev/null || ping="busybox ping"
ip netns add a
ip netns add b
ip link add va netns a type veth peer name vb netns b
ip -n a addr add 198.18.0.1/24 dev va
ip -n b addr add 198.18.0.2/24 dev vb
for n in a b; do ip -n $n link set lo up; done
ip -n a link set va up
ip -n b link set vb up
ip netns exec a $ping -c 3 -W 5 198.18.0.2
ip netns exec b socat -u UDP4-RECVFROM:5000 CREATE:/tmp/udp.txt &
for i in 1 2 3 4 5 6 7 8 9 10; do
	echo hello-udp | ip netns exec a socat -u - UDP4-SENDTO:198.18.0.2:5000
	sleep 0.5
	grep -q hello-udp /tmp/udp.txt 2>/dev/null && break
done
wait
grep hello-udp /tmp/udp.txt'

netem_test='set -ex
modprobe sch_netem
ip link add va type veth peer name vb
ip addr add 198.18.0.1/24 dev va
ip link set va up
ip link set vb up
tc qdisc add dev va root netem delay 10ms loss 1%
tc qdisc show dev va | grep "netem.*delay 10ms loss 1%"
lsmod | grep -w sch_netem'

# shellcheck disable=SC2016
files_test='set -e
test "$AFDEMO_SELFCHECK" = "a b'"'"'c"
test "$PWD" = "$1"
test -r "$2"
mkdir -p /tmp/scratch /var/tmp/scratch /run/scratch
echo out-share-works >"$AFDEMO_OUT/written-by-guest.txt"'

for kver in "${kvers[@]}"; do
	check uname 0 -t 300 uname -r
	tr -d '\r' <"$logs/$kver/uname.log" | grep -qxF "$kver" || {
		fail=$((fail + 1))
		echo "FAIL $kver uname-output (no '$kver' line in uname.log)"
	}
	boot_secs+=("$kver: ${secs}s")
	check exit-3 3 -t 300 sh -c 'exit 3'
	extra_ok() { grep -qx 'status=none' "$1/result"; }
	check panic 125 -t 300 sh -c 'echo c >/proc/sysrq-trigger'
	check timeout 125 -t 30 sleep 1000
	extra_ok() { grep -qx 'logcheck=dirty' "$1/result"; }
	check dirty-log 126 -t 300 sh -c 'echo "WARNING: selfcheck fake" >/dev/kmsg'
	check dirty-log-rc 4 -t 300 sh -c 'echo "BUG: selfcheck fake" >/dev/kmsg; exit 4'
	extra_ok() { grep -qx 'out-share-works' "$1/written-by-guest.txt"; }
	AFDEMO_SELFCHECK="a b'c" check env-cwd-files 0 -t 300 \
		sh -c "$files_test" sh "$PWD" "$logs/hostfile"
	extra_ok() { :; }
	check netns-veth-ping-udp 0 -t 300 sh -c "$netns_test"
	check netem 0 -t 300 sh -c "$netem_test"

	# Real kernel bugs from a test module (needs the kernel's headers).
	mod=$logs/$kver/mod
	mkdir -p "$mod"
	cp "$here/vm-selfcheck-bugs.c" "$mod/afdemo_selfcheck_bugs.c"
	echo 'obj-m := afdemo_selfcheck_bugs.o' >"$mod/Kbuild"
	if ! make -s -C "/lib/modules/$kver/build" M="$mod" modules \
		>"$mod/build.log" 2>&1; then
		echo "SKIP $kver bug-* (cannot build test module: $mod/build.log)"
		continue
	fi
	ko=$mod/afdemo_selfcheck_bugs.ko
	check bug-oops 125 -t 300 insmod "$ko" bug=oops
	extra_ok() { grep -qx 'logcheck=dirty' "$1/result"; }
	for b in warn redzone uaf; do
		check "bug-$b" 126 -t 300 insmod "$ko" "bug=$b"
	done
	extra_ok() { :; }
done

echo "$me: boot+run time of 'uname -r': ${boot_secs[*]}"
echo "$me: logs in $logs"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
