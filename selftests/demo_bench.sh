#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the benchmark, build/bin/demo_bench, inside a guest (root):
#   selftests/demo_bench.sh [--full] [DEMO_BENCH_ARGS...]
# Without --full (as selftests/run_guest.sh runs it): the smoke version,
# 1 s points and a subset of the workloads, no thresholds (TCG timing is
# noise). --full (scripts/bench.sh --full): every workload, 3 s points.
# Loads af_demo if it is not loaded, modprobes veth and sctp (a kernel
# without SCTP only skips it). Prints TAP, the table as "#" lines, and
# writes $AFDEMO_OUT/demo_bench.json.
set -u

cd "$(dirname "$0")/.." || exit 1
mode=--smoke
if [ "${1:-}" = --full ]; then
	mode=
	shift
fi
out=${AFDEMO_OUT:-/tmp/out}
mkdir -p "$out"
ko=${AFDEMO_KO:-$PWD/build/$(uname -r)/af_demo.ko}
bench=$PWD/build/bin/demo_bench

echo "TAP version 13"
echo "1..1"
for m in veth sctp; do
	modprobe "$m" 2>/dev/null || echo "# modprobe $m failed"
done
if [ ! -e /sys/module/af_demo ] && ! insmod "$ko"; then
	echo "not ok 1 demo_bench # cannot insmod $ko"
	exit 1
fi
if [ ! -x "$bench" ]; then
	echo "not ok 1 demo_bench # $bench is missing (make tools)"
	exit 1
fi
echo "# kernel $(uname -r), $(nproc) CPUs, demo_bench ${mode:---full} $*"
t0=$SECONDS
# shellcheck disable=SC2086
"$bench" $mode --json "$out/demo_bench.json" "$@" 2>&1 |
	sed -e '/^#/!s/^/# /'
rc=${PIPESTATUS[0]}
echo "# demo_bench: $((SECONDS - t0))s, exit $rc"
if [ "$rc" = 0 ]; then
	echo "ok 1 demo_bench"
else
	echo "not ok 1 demo_bench"
fi
exit "$rc"
