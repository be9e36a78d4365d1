#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark, in one command: build af_demo and build/bin/demo_bench,
# then run selftests/demo_bench.sh in a throw-away guest (scripts/vm-run.sh;
# nothing is loaded on the host).
#   scripts/bench.sh [-k KVER] [-o OUTDIR] [--smoke] [-- DEMO_BENCH_ARGS...]
# -k KVER   the guest's kernel, one of the matrix (default: the newest of
#           scripts/kernels.sh)
# -o OUTDIR results: demo_bench.json, console.log, ... (default
#           build/bench/KVER)
# --smoke   the short version run_guest.sh runs (1 s points, a subset)
# The table goes to stdout and OUTDIR/bench.log. Exit status: the guest's
# (non-zero on a byte check failure or a transport that did not run,
# never on speed).
set -euo pipefail

cd "$(dirname "$0")/.."
kver='' outdir='' mode=--full
while [ $# -gt 0 ]; do
	case $1 in
	-k) kver=$2; shift 2 ;;
	-o) outdir=$2; shift 2 ;;
	--smoke) mode=; shift ;;
	--full) mode=--full; shift ;;
	--) shift; break ;;
	-h|--help) sed -n '4,15s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -n "$kver" ] || kver=$(scripts/kernels.sh | sort -V | tail -n1)
[ -n "$kver" ] || { echo "bench.sh: no kernel headers found" >&2; exit 2; }
outdir=${outdir:-build/bench/$kver}
mkdir -p "$outdir"

make -s KVER="$kver"
make -s tools
rc=0
AFDEMO_RWDIRS="$PWD/build" scripts/vm-run.sh -k "$kver" -o "$outdir" \
	-t 1500 -- selftests/demo_bench.sh $mode "$@" |
	tee "$outdir/bench.log" || rc=$?
echo "bench.sh: results in $outdir (demo_bench.json, bench.log)"
exit "$rc"
