#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the AF_DEMO selftests inside a vm-run.sh guest (root, cwd anywhere):
#   selftests/run_guest.sh [TEST...]
# TEST is a program path or name from TESTS below (default: all of them).
# Loads af_demo for the running kernel, runs each program under a timeout
# with its TAP output in $AFDEMO_OUT/<name>.tap (and on stdout), then
# unloads af_demo. $AFDEMO_OUT/final.tap records the runner's own checks:
# insmod_af_demo, af_demo_loaded_after_<name> and final_rmmod.
# Exit 0 iff every program exited 0 and every runner check passed.
# $AFDEMO_TEST_TIMEOUT overrides every per-program timeout (seconds).
set -eu -o pipefail

# The test programs, in order: path:timeout-in-seconds.
TESTS=(
	build/selftests/demo_dgram:600
	build/selftests/demo_module:900
	selftests/demo_socat.sh:300
	# tshark with tools/wireshark/af_demo.lua decoding captured traffic
	selftests/demo_wireshark.sh:900
	# make install, autoload by socket(), make uninstall (unloads af_demo)
	selftests/demo_install.sh:600
	selftests/demo_kunit.sh:300
	build/selftests/demo_seqpacket:900
	# a 20 Mbit/s, 40 ms path (netem, tbf): rate, fairness with TCP,
	# loss; ~2 minutes whatever the kernel's speed
	build/selftests/demo_seqpath:600
	# memory bounds: floods within net.demo.seqpacket_mem, orphan and
	# TIME_WAIT limits, the memory cgroup charge at accept()
	build/selftests/demo_seqmem:600
	# what a connection inherits, control segments' routes, the hash
	build/selftests/demo_seqinherit:600
	# DEMO_INFO and the af_demo tracepoints (issue #13)
	build/selftests/demo_observe:900
	# sock_diag dumps and demo-ss (build/bin/demo-ss); ends with an rmmod
	# during and after a dump, and loads af_demo again
	build/selftests/demo_diag:1200
	# last: 64 MiB through netem and other slow cases; the debug kernel
	# (KASAN) is ~5x slower than Debian's
	build/selftests/demo_seqstress:1500
	# the adversarial proof: hostile packets and syscalls, failing
	# allocations, and soaks that end with rmmod and a leak scan
	build/selftests/demo_pktfuzz:900
	build/selftests/demo_sysfuzz:900
	build/selftests/demo_faults:900
	build/selftests/demo_soak:1500
	# the benchmark's smoke version (build/bin/demo_bench, no thresholds:
	# scripts/bench.sh runs the full one)
	selftests/demo_bench.sh:600
)
# The programs run with every af_demo tracepoint enabled (in a tracefs
# instance of their own): the events' code must take hostile input too.
TRACED=(demo_pktfuzz demo_sysfuzz)
TRACEFS=/sys/kernel/tracing
TRACE_INST=$TRACEFS/instances/afdemo_traced
MOD=af_demo
# Kernel modules the tests need besides af_demo (the guest does not autoload).
GUEST_MODULES=(veth sch_netem sch_tbf vrf sch_ingress cls_cgroup act_gact)
REFCNT_WAIT=10		# seconds for the last sockets' RCU frees

cd "$(dirname "$0")/.."
kver=$(uname -r)
AFDEMO_KO=$PWD/build/$kver/af_demo.ko
# Kbuild builds the test module in the selftests/ subdirectory of the
# kernel's build directory; a copy at the top of it wins.
AFDEMO_TEST_KO=$PWD/build/$kver/demo_protosw_test.ko
[ -e "$AFDEMO_TEST_KO" ] ||
	AFDEMO_TEST_KO=$PWD/build/$kver/selftests/demo_protosw_test.ko
AFDEMO_OUT=${AFDEMO_OUT:-/tmp/out}
export AFDEMO_KO AFDEMO_TEST_KO AFDEMO_OUT
mkdir -p "$AFDEMO_OUT"

final=$AFDEMO_OUT/final.tap
nfinal=0
rc=0

diag() { printf '# %s\n' "$*" | tee -a "$final"; }

check() {	# check NAME CMD...: a runner check, recorded in final.tap
	local name=$1

	shift
	nfinal=$((nfinal + 1))
	if "$@"; then
		echo "ok $nfinal $name" | tee -a "$final"
	else
		echo "not ok $nfinal $name" | tee -a "$final"
		rc=1
	fi
}

loaded() { [ -e "/sys/module/$MOD" ]; }

# The checks below are called through check().
# shellcheck disable=SC2317
wait_refcnt0() {
	local end=$((SECONDS + REFCNT_WAIT))

	while [ "$(cat /sys/module/"$MOD"/refcnt 2>/dev/null)" != 0 ]; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.05
	done
}

load() {
	if ! insmod "$AFDEMO_KO"; then
		diag "insmod $AFDEMO_KO failed"
		return 1
	fi
}

# kmemleak (debug kernels): forget what boot left, report what the run left.
KMEMLEAK=/sys/kernel/debug/kmemleak

# shellcheck disable=SC2317
kmemleak_clean() {
	# Two scans: an object is reported once it stayed unreferenced.
	echo scan >"$KMEMLEAK" && echo scan >"$KMEMLEAK" || return 1
	if grep -q "unreferenced object" "$KMEMLEAK"; then
		diag "kmemleak: $(grep -c 'unreferenced object' "$KMEMLEAK") leaks"
		sed -n '1,80s/^/# /p' "$KMEMLEAK" | tee -a "$final"
		return 1
	fi
}

# shellcheck disable=SC2317
final_rmmod() {
	wait_refcnt0 || diag "$MOD refcnt still $(cat /sys/module/"$MOD"/refcnt) after ${REFCNT_WAIT}s"
	if ! rmmod "$MOD"; then
		diag "rmmod $MOD failed; holders: $(ls /sys/module/"$MOD"/holders 2>/dev/null)"
		return 1
	fi
}

# trace_start: every af_demo event on, into a fresh instance; false where
# the kernel has no tracing (then the program runs untraced)
trace_start() {
	[ -d "$TRACEFS/instances" ] ||
		mount -t tracefs nodev "$TRACEFS" 2>/dev/null || return 1
	[ -d "$TRACEFS/events/af_demo" ] || return 1
	rmdir "$TRACE_INST" 2>/dev/null || true
	mkdir "$TRACE_INST" &&
		echo 1 >"$TRACE_INST/events/af_demo/enable" &&
		echo 1 >"$TRACE_INST/tracing_on"
}

# trace_stop NAME: the instance recorded af_demo events; it is removed
# shellcheck disable=SC2317
trace_stop() {
	local n

	echo 0 >"$TRACE_INST/tracing_on"
	n=$(grep -c ' demo_' "$TRACE_INST/trace" || true)
	echo 0 >"$TRACE_INST/events/af_demo/enable" 2>/dev/null || true
	rmdir "$TRACE_INST" || diag "cannot remove $TRACE_INST"
	diag "$1: $n af_demo events in the trace buffer at the end"
	[ "$n" -gt 0 ]
}

# resolve TEST: print path:timeout for a path or name from TESTS
resolve() {
	local t path name

	for t in "${TESTS[@]}"; do
		path=${t%:*}
		name=$(basename "$path")
		if [ "$1" = "$path" ] || [ "$1" = "$name" ] ||
		   [ "$1" = "${name%.sh}" ]; then
			echo "$t"
			return
		fi
	done
	echo "$1:600"
}

# run_one PATH TIMEOUT: run one program, output to $AFDEMO_OUT/NAME.tap
run_one() {
	local prog=$1 tmo=$2 name prc=0 tap traced

	name=$(basename "$prog")
	name=${name%.sh}
	tap=$AFDEMO_OUT/$name.tap
	echo "# ==== $name (timeout ${tmo}s)"
	if [ ! -x "$prog" ]; then
		printf 'TAP version 13\n1..1\nnot ok 1 %s # %s is missing\n' \
			"$name" "$prog" | tee "$tap"
		rc=1
		return
	fi
	traced=
	if [[ " ${TRACED[*]} " == *" $name "* ]]; then
		if trace_start; then
			traced=1
		else
			diag "$name: no af_demo tracepoints here; run untraced"
		fi
	fi
	timeout -k 10 "$tmo" "$prog" 2>&1 | tee "$tap" || prc=$?
	[ -z "$traced" ] || check "af_demo_events_during_$name" trace_stop "$name"
	if [ "$prc" = 124 ] || [ "$prc" = 137 ]; then
		echo "# $name: killed after the ${tmo}s timeout" | tee -a "$tap"
	fi
	echo "# ==== $name exited with $prc"
	[ "$prc" = 0 ] || rc=1

	# Each program must leave af_demo loaded for the next one.
	check "af_demo_loaded_after_$name" loaded
	loaded || load || true
}

tests=()
if [ $# -eq 0 ]; then
	tests=("${TESTS[@]}")
else
	for t in "$@"; do
		tests+=("$(resolve "$t")")
	done
fi

echo "TAP version 13" >"$final"
diag "kernel $kver, modules $AFDEMO_KO $AFDEMO_TEST_KO"
for m in "${GUEST_MODULES[@]}"; do
	modprobe "$m" || diag "modprobe $m failed"
done
if loaded; then
	diag "$MOD was already loaded; reloading it with default parameters"
	rmmod "$MOD" || true
fi
[ ! -w "$KMEMLEAK" ] || echo clear >"$KMEMLEAK"
check insmod_af_demo load

for t in "${tests[@]}"; do
	prog=${t%:*}
	tmo=${AFDEMO_TEST_TIMEOUT:-${t##*:}}
	if loaded; then
		run_one "$prog" "$tmo"
	else
		name=$(basename "$prog")
		printf 'TAP version 13\n1..1\nnot ok 1 %s # not run: %s is not loaded\n' \
			"${name%.sh}" "$MOD" | tee "$AFDEMO_OUT/${name%.sh}.tap"
		rc=1
	fi
done

if loaded; then
	diag "$MOD refcnt: $(cat /sys/module/"$MOD"/refcnt)"
	while IFS= read -r line; do
		diag "demo_stat: $line"
	done </proc/net/demo_stat || diag "cannot read /proc/net/demo_stat"
fi
check final_rmmod final_rmmod
[ ! -w "$KMEMLEAK" ] || check kmemleak_clean kmemleak_clean
echo "1..$nfinal" >>"$final"

echo "# run_guest: exit $rc"
exit "$rc"
