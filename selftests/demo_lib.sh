#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# TAP helpers for the shell selftests (sourced): diag, result, run.
# The caller prints "TAP version 13" and the plan, and exits with $failed.

testno=0
failed=0
skip_reason=

diag() { printf '# %s\n' "$*"; }

result() {	# result STATUS(0 = pass, 1 = fail, 2 = skip) NAME [REASON]
	testno=$((testno + 1))
	case $1 in
	0) echo "ok $testno $2" ;;
	2) echo "ok $testno $2 # SKIP ${3:-}" ;;
	*) echo "not ok $testno $2"; failed=1 ;;
	esac
}

# run NAME FUNCTION: run one test case and report it, with its time; the
# case may set skip_reason and return 2 to skip.
run() {
	local rc=0 t0=$SECONDS

	diag "RUN $1"
	skip_reason=
	"$2" || rc=$?
	diag "$1: $((SECONDS - t0))s"
	result "$rc" "$1" "$skip_reason"
}
