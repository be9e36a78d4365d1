#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole test suite, as CI runs it:
#   1. install what is missing (scripts/deps.sh: Debian's kernels, QEMU,
#      virtme-ng, the packaging tools);
#   2. build the module for every Debian kernel of the matrix (W=1,
#      warnings are errors), the selftests and the examples; make lint
#      (checkpatch --strict, sparse, the man page); the Wireshark
#      dissector on crafted packets (tools/wireshark/test.sh, tshark);
#      the install, DKMS and package checks (scripts/install-test.sh,
#      nothing is loaded here);
#   3. the kernel lanes, each a virtme-ng guest (scripts/vm-run.sh) running
#      selftests/run_guest.sh, whose kernel log must be clean:
#        Debian 6.1, 6.12 and 6.12 PREEMPT_RT (scripts/kernels.sh),
#        debug    linux-source-6.12 with KASAN, lockdep, kmemleak, KUnit ...
#        mainline the newest linux-source-N.M in Debian's archive
#      (both built and cached by scripts/build-kernel.sh).
# Lanes run side by side, AFDEMO_PARALLEL_VMS guests at a time (default:
# one per CPU), the longest first as soon as its kernel is built; the
# kernel builds run one at a time alongside, each in a guest's place.
#
# Which programs run where: every lane runs the whole suite except plain
# Debian 6.12, which runs the functional programs only (FUNCTIONAL below):
# the same 6.12 source runs the long adversarial programs twice already,
# under the sanitizers (debug) and with PREEMPT_RT's sleeping locks and
# threaded softirqs (rt).
#
# Each build, lint, packaging and kernel-log check counts as one case next
# to the selftest cases. The last line is "N passed, N failed, N skipped";
# the exit status is non-zero if anything failed or a guest gave no status.
#
# Env:
#   KDIR=<kernel build tree>   test a kernel you built (arch/x86/boot/bzImage
#                              in it): its lane only, the whole suite
#   KVERS="ver ..."            these installed Debian kernels only ("": none)
#   AFDEMO_DEBUG_KERNEL=0      skip the debug lane
#   AFDEMO_MAINLINE_KERNEL=0|1 skip or add the mainline lane (default: on
#                              unless KVERS is set, so that KVERS="ver"
#                              AFDEMO_DEBUG_KERNEL=0 runs that lane alone)
#   AFDEMO_VM_TIMEOUT (seconds per guest, default 3600),
#   AFDEMO_PARALLEL_VMS (guests at a time, default nproc)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

results=build/results
cases=$results/cases.txt

# case_result NAME RC: one result line in the style of TAP, also recorded
# in $cases (background lanes append to it too).
case_result() {
	if [ "$2" = 0 ]; then
		echo "ok - $1" | tee -a "$cases"
	else
		echo "not ok - $1" | tee -a "$cases"
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
mkdir -p "$results/lanes"
: >"$cases"

# The programs of the functional lane (see above).
FUNCTIONAL="demo_dgram demo_module demo_socat demo_wireshark demo_install"
FUNCTIONAL+=" demo_kunit"
FUNCTIONAL+=" demo_seqpacket demo_seqpath demo_seqmem demo_seqinherit"
FUNCTIONAL+=" demo_observe demo_diag"
# the benchmark's smoke version: ~25 s, no thresholds
FUNCTIONAL+=" demo_bench"

# The lanes: NAME|VM-RUN KERNEL ARGS|TESTS ("" for all).
own_kdir=${KDIR:-}
if [ -n "$own_kdir" ]; then
	kvers=${KVERS:-}
	AFDEMO_DEBUG_KERNEL=0
	AFDEMO_MAINLINE_KERNEL=0
else
	kvers=${KVERS-$(scripts/kernels.sh)}
fi
kvers=$(echo $kvers)
echo "Debian kernels: ${kvers:-none}${own_kdir:+; own kernel tree: $own_kdir}"

# A lane whose kernel is built here: build it (one build at a time), the
# module and sparse against it, then queue its guest.  Runs in the
# background; "ready" or "failed" in $results/lanes/NAME.state.
tree_lane() {
	local name=$1 kdir=$2 flavour=${3:-} log kver rc state=failed

	log=$results/build_${name}_kernel.log
	if [ -n "$flavour" ]; then
		# All CPUs but the one a guest alongside uses.
		AFDEMO_KERNEL_JOBS=${AFDEMO_KERNEL_JOBS:-$(($(nproc) > 1 ? $(nproc) - 1 : 1))} \
			scripts/build-kernel.sh "$flavour" >"$log" 2>&1
		rc=$?
		case_result "build_${name}_kernel" "$rc"
		[ "$rc" = 0 ] || { tail -n 20 "$log"; echo failed >"$results/lanes/$name.state"; return; }
		kdir=$(sed -n 's/^KDIR=//p' "$log" | tail -n 1)
	fi
	kver=$(make -s -C "$kdir" kernelrelease 2>/dev/null)
	run "build_modules_$kver" make modules KDIR="$kdir" && state=ready
	run "lint_sparse_$kver" make "sparse-$kver" KDIR="$kdir"
	echo "$kdir" >"$results/lanes/$name.kdir"
	echo "$state" >"$results/lanes/$name.state"
}

# Lanes in the order they should start: the longest first.  The kernel
# builds start first, in the background: the debug lane is the longest.
lanes=()
if [ -n "$own_kdir" ]; then
	lanes+=(own)
	tree_lane own "$own_kdir" &
fi
builds=()
if [ "${AFDEMO_DEBUG_KERNEL:-1}" = 1 ]; then
	lanes+=(debug)
	builds+=(debug)
fi
if [ "${AFDEMO_MAINLINE_KERNEL:-${KVERS+0}}" != 0 ]; then
	lanes+=(mainline)
	builds+=(mainline)
fi
# One build at a time, the debug kernel first; while one runs it takes a
# guest's place (the .building marker), so that guests are not starved
# into their tests' time limits.
if [ ${#builds[@]} -gt 0 ]; then
	touch "$results/lanes/.building"
	(
		for b in "${builds[@]}"; do
			tree_lane "$b" "" "$b"
		done
		rm -f "$results/lanes/.building"
	) &
fi

for k in $kvers; do
	run "build_modules_$k" make modules KVER="$k"
done
run build_selftests make selftests
run build_examples make examples
run build_tools make tools
run lint_checkpatch make checkpatch
run lint_kernel_doc make kernel-doc
for k in $kvers; do
	run "lint_sparse_$k" make "sparse-$k" KVER="$k"
done
# The Wireshark dissector decoding crafted packets with tshark: no module,
# no guest; its TAP output in the log.
run wireshark_dissector tools/wireshark/test.sh
if [ -z "$own_kdir" ]; then
	run lint_man make man-lint
	# Install, DKMS and the Debian package, on this machine (nothing is
	# loaded): one case per check it prints.
	scripts/install-test.sh >"$results/install-test.log" 2>&1
	sed -n -E 's/^(not )?ok - (.*)$/\1ok - install_\2/p' \
		"$results/install-test.log" | tee -a "$cases"
	grep -qE '^(not )?ok - ' "$results/install-test.log" ||
		case_result install_test 1
fi

for k in $kvers; do
	case $k in *-rt-*) lanes+=("$k") ;; esac
done
for k in $kvers; do
	case $k in *-rt-*) ;; *) lanes+=("$k") ;; esac
done
for k in $kvers; do
	if grep -qx "ok - build_modules_$k" "$cases"; then
		echo ready >"$results/lanes/$k.state"
	else
		echo failed >"$results/lanes/$k.state"
	fi
done

# vm_lane NAME: the selftests in one guest; results in $results/NAME, its
# output in $results/vm_NAME.log; then the guest's own checks: it
# returned a status, and its kernel log is clean.
vm_lane() {
	local name=$1 out=$results/$1 kargs tests=() status logcheck kdir append=quiet

	case $name in
	own|debug|mainline)
		kdir=$(cat "$results/lanes/$name.kdir")
		kargs=(-K "$kdir")
		# KUnit is built in but off by default: on for the run.
		grep -q '^CONFIG_KUNIT=y' "$kdir/.config" 2>/dev/null &&
			append+=" kunit.enable=1"
		;;
	*)
		kargs=(-k "$name")
		;;
	esac
	case $name in
	*-rt-*|own|debug|mainline) ;;
	*.*.*-amd64)
		# The plain Debian 6.12 lane runs the functional programs only.
		case $name in 6.12.*) read -ra tests <<<"$FUNCTIONAL" ;; esac
		;;
	esac
	mkdir -p "$out"
	AFDEMO_APPEND=$append AFDEMO_RWDIRS="$PWD/build" \
		scripts/vm-run.sh "${kargs[@]}" -o "$out" \
		-t "${AFDEMO_VM_TIMEOUT:-3600}" -- selftests/run_guest.sh "${tests[@]}" \
		>"$results/vm_$name.log" 2>&1
	status=$(sed -n 's/^status=//p' "$out/result" 2>/dev/null)
	logcheck=$(sed -n 's/^logcheck=//p' "$out/result" 2>/dev/null)
	{
		echo "== lane $name"
		cat "$results/vm_$name.log"
		echo "== lane $name finished after $((SECONDS - ${2:-0}))s"
	} >"$results/lane_$name.out"
	echo "$((SECONDS - ${2:-0}))" >"$results/lanes/$name.secs"
	case_result "vm_returned_status_$name" \
		"$([ -n "$status" ] && [ "$status" != none ]; echo $?)" >>"$results/lane_$name.out"
	case_result "kernel_log_clean_$name" \
		"$([ "$logcheck" = clean ]; echo $?)" >>"$results/lane_$name.out"
}

# The scheduler: start the first ready lane whenever fewer than
# $parallel guests (a kernel build counting as one) run; a lane whose build
# failed is not run.
parallel=${AFDEMO_PARALLEL_VMS:-$(nproc)}
[ "$parallel" -ge 1 ] 2>/dev/null || parallel=1
declare -A started=() pids=()
pending=("${lanes[@]}")
dirs=()
while [ ${#pending[@]} -gt 0 ] || [ ${#pids[@]} -gt 0 ]; do
	for n in "${!pids[@]}"; do
		kill -0 "${pids[$n]}" 2>/dev/null && continue
		wait "${pids[$n]}" 2>/dev/null
		unset "pids[$n]"
		cat "$results/lane_$n.out"
	done
	rest=()
	for n in "${pending[@]}"; do
		state=$(cat "$results/lanes/$n.state" 2>/dev/null || true)
		if [ "$state" = failed ]; then
			echo "== lane $n: not run, its build failed"
			continue
		fi
		busy=${#pids[@]}
		[ ! -e "$results/lanes/.building" ] || busy=$((busy + 1))
		if [ "$state" = ready ] && [ "$busy" -lt "$parallel" ] &&
		   [ -z "${started[$n]:-}" ]; then
			echo "== lane $n started at ${SECONDS}s"
			started[$n]=$SECONDS
			vm_lane "$n" "$SECONDS" &
			pids[$n]=$!
			dirs+=("$results/$n")
			continue
		fi
		rest+=("$n")
	done
	pending=("${rest[@]}")
	[ ${#pending[@]} -gt 0 ] || [ ${#pids[@]} -gt 0 ] || break
	sleep 2
done
wait

passed=$(grep -c '^ok - ' "$cases")
failed=$(grep -c '^not ok - ' "$cases")
skipped=0
if [ ${#dirs[@]} -gt 0 ]; then
	echo "== selftest results"
	summary=$(scripts/tap-summary.sh "${dirs[@]}" 2>&1)
	echo "$summary"
	read -r _ p f s <<<"$(tail -n 1 <<<"$summary")"
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-1}))
	skipped=$((skipped + ${s:-0}))
fi
# A lane that was planned but never ran is a failure.
for n in "${lanes[@]}"; do
	[ -n "${started[$n]:-}" ] || { echo "not ok - lane_$n (not run)"; failed=$((failed + 1)); }
done

# The figures the adversarial tests print ("# figure: NAME VALUE"), summed
# per kernel, for the README; and each lane's time.
echo "== figures"
for d in "${dirs[@]}"; do
	printf '%s:' "$(basename "$d")"
	cat "$d"/*.tap 2>/dev/null | tr -d '\r' |
		sed -n 's/^#[[:space:]]*figure: \([A-Za-z0-9_]*\) \([0-9]*\)$/\1 \2/p' |
		awk '{ s[$1] += $2 } END { for (k in s) print k "=" s[k] }' |
		sort | tr '\n' ' '
	echo
done | tee "$results/figures.txt"
echo "== lane times"
for n in "${lanes[@]}"; do
	echo "$n: started at ${started[$n]:-?}s, took $(cat "$results/lanes/$n.secs" 2>/dev/null || echo '?')s"
done | tee "$results/lane-times.txt"

echo "total time ${SECONDS}s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
