#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole test suite, as CI runs it:
#   1. install what is missing (scripts/deps.sh);
#   2. build the module for every kernel of the matrix (W=1, warnings are
#      errors), the selftests and the examples;
#   3. make lint: checkpatch --strict and sparse;
#   4. boot a QEMU guest on each kernel and run selftests/run_guest.sh there;
#      each guest's kernel log must be clean.
# The kernels are the Debian 6.1 and 6.12 kernels (scripts/kernels.sh) and
# a debug kernel (KASAN, lockdep, kmemleak, KFENCE, UBSAN, KUnit, ...) that
# scripts/build-kernel.sh debug builds from linux-source-6.12 and caches.
# Each build, lint and kernel-log check counts as one case next to the
# selftest cases. The last line is "N passed, N failed, N skipped"; the
# exit status is non-zero if anything failed or a VM gave no status.
#
# Env: KVERS="ver ..." to test other installed kernels; AFDEMO_DEBUG_KERNEL=0
# to skip the debug kernel; AFDEMO_VM_TIMEOUT (seconds per VM, default 3600);
# AFDEMO_PARALLEL_VMS=0 to run the guests one after the other (the default
# with two or more CPUs runs the debug kernel's guest alongside).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

results=build/results
passed=0 failed=0 skipped=0

# case NAME RC: one result line in the style of TAP.
case_result() {
	if [ "$2" = 0 ]; then
		passed=$((passed + 1))
		echo "ok - $1"
	else
		failed=$((failed + 1))
		echo "not ok - $1"
	fi
}

# run NAME CMD...: a case that passes when CMD succeeds; output in a log.
run() {
	local name=$1 log=$results/$1.log

	shift
	"$@" >"$log" 2>&1
	local rc=$?
	[ "$rc" = 0 ] || tail -n 30 "$log"
	case_result "$name" "$rc"
	return "$rc"
}

SECONDS=0
if ! scripts/deps.sh; then
	echo "0 passed, 1 failed"
	exit 1
fi
rm -rf "$results"
mkdir -p "$results"

kvers=${KVERS:-$(scripts/kernels.sh)}
echo "kernels: $kvers"

for k in $kvers; do
	run "build_modules_$k" make modules KVER="$k"
done

# The debug kernel: built from linux-source-6.12 (cached), a third lane.
dbg=
if [ "${AFDEMO_DEBUG_KERNEL:-1}" = 1 ]; then
	echo "== debug kernel (cached after the first build)"
	log=$results/build_debug_kernel.log
	# Its progress is worth seeing: a cold build takes a while.
	scripts/build-kernel.sh debug 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	case_result build_debug_kernel "$rc"
	if [ "$rc" = 0 ]; then
		eval "$(grep -E '^(BZIMAGE|KDIR|KVER)=' "$log")"
		dbg=$KVER
		dbg_image=$BZIMAGE
		dbg_kdir=$KDIR
		run "build_modules_$dbg" make modules KDIR="$dbg_kdir"
	fi
fi

run build_selftests make selftests
run build_examples make examples
run lint_checkpatch make checkpatch
for k in $kvers; do
	run "lint_sparse_$k" make "sparse-$k" KVER="$k"
done
[ -z "$dbg" ] || run "lint_sparse_$dbg" make "sparse-$dbg" KDIR="$dbg_kdir"

# vm_suite NAME VM-RUN-ARGS...: the selftests in one guest; results in
# $results/NAME (vm_checks reads them).
vm_suite() {
	local name=$1 out=$results/$1

	shift
	mkdir -p "$out"
	echo "== selftests on $name"
	scripts/vm-run.sh "$@" -o "$out" -t "${AFDEMO_VM_TIMEOUT:-3600}" \
		-- selftests/run_guest.sh
}

# vm_checks NAME: the guest's own checks: it returned a status, and its
# kernel log is clean.
vm_checks() {
	local out=$results/$1 status logcheck

	status=$(sed -n 's/^status=//p' "$out/result" 2>/dev/null)
	logcheck=$(sed -n 's/^logcheck=//p' "$out/result" 2>/dev/null)
	case_result "vm_returned_status_$1" "$([ -n "$status" ] && [ "$status" != none ]; echo $?)"
	case_result "kernel_log_clean_$1" "$([ "$logcheck" = clean ]; echo $?)"
}

# Each guest runs on one host CPU (single-threaded TCG): with two or more
# CPUs the debug kernel's guest, the longest, runs alongside the others.
dbg_pid=
if [ -n "$dbg" ] && [ "${AFDEMO_PARALLEL_VMS:-$(($(nproc) >= 2))}" = 1 ]; then
	echo "== selftests on $dbg, in the background (log: $results/vm_$dbg.log)"
	# KUnit is built in but disabled by default: enable it for the run.
	AFDEMO_APPEND="quiet kunit.enable=1" vm_suite "$dbg" -K "$dbg_image" \
		>"$results/vm_$dbg.log" 2>&1 &
	dbg_pid=$!
fi
names=()
for k in $kvers; do
	AFDEMO_APPEND=quiet vm_suite "$k" -k "$k"
	names+=("$k")
done
if [ -n "$dbg_pid" ]; then
	wait "$dbg_pid"
	echo "== selftests on $dbg (from $results/vm_$dbg.log)"
	cat "$results/vm_$dbg.log"
	names+=("$dbg")
elif [ -n "$dbg" ]; then
	AFDEMO_APPEND="quiet kunit.enable=1" vm_suite "$dbg" -K "$dbg_image"
	names+=("$dbg")
fi
dirs=()
for n in "${names[@]}"; do
	vm_checks "$n"
	dirs+=("$results/$n")
done

echo "== selftest results"
summary=$(scripts/tap-summary.sh "${dirs[@]}" 2>&1)
echo "$summary"
read -r _ p f s <<<"$(tail -n 1 <<<"$summary")"
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-1}))
skipped=$((skipped + ${s:-0}))

# The figures the adversarial tests print ("# figure: NAME VALUE"), summed
# per kernel, for the README.
echo "== figures"
for d in "${dirs[@]}"; do
	printf '%s:' "$(basename "$d")"
	cat "$d"/*.tap 2>/dev/null | tr -d '\r' |
		sed -n 's/^#[[:space:]]*figure: \([A-Za-z0-9_]*\) \([0-9]*\)$/\1 \2/p' |
		awk '{ s[$1] += $2 } END { for (k in s) print k "=" s[k] }' |
		sort | tr '\n' ' '
	echo
done | tee "$results/figures.txt"

echo "total time ${SECONDS}s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
