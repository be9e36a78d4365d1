#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Helpers for the shell selftests (sourced): TAP (diag, result, run),
# sockaddr_demo for socat, namespaces and /proc/net/demo*, waiting.
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

# sockaddr IP PORT: socat data for the sockaddr_demo bytes after the family
sockaddr() {
	local a b c d

	IFS=. read -r a b c d <<<"$1"
	printf 'x%04x%02x%02x%02x%02x0000000000000000' "$2" "$a" "$b" "$c" "$d"
}

# ns_cmd NS: set NS_CMD to the prefix running a command in netns NS ("" =
# the current one). Both prefixes exec the command, so "${NS_CMD[@]}" CMD &
# gives CMD's pid in $!.
ns_cmd() {
	NS_CMD=(env)
	[ -z "$1" ] || NS_CMD=(ip netns exec "$1")
}

# ns_stat NS NAME: a /proc/net/demo_stat counter of netns NS
ns_stat() {
	ns_cmd "$1"
	# shellcheck disable=SC2016
	"${NS_CMD[@]}" awk -v k="$2" '$1 == k { print $2; f = 1 } END { exit !f }' \
		/proc/net/demo_stat
}

# port_bound NS PORT: a DEMO socket is bound to PORT in netns NS
port_bound() {
	ns_cmd "$1"
	# shellcheck disable=SC2016
	"${NS_CMD[@]}" awk -v p="$(printf ':%04X' "$2")" \
		'NR > 1 && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
		/proc/net/demo
}

# wait_for DESCRIPTION CMD...: poll CMD until it succeeds, up to $DEADLINE s
# (the caller sets DEADLINE)
wait_for() {
	local what=$1 end=$((SECONDS + DEADLINE))

	shift
	until "$@"; do
		if [ "$SECONDS" -ge "$end" ]; then
			diag "timed out waiting for $what"
			return 1
		fi
		sleep 0.05
	done
}

alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! alive "$1"; }

# show_log FILE...: the non-empty files as TAP diagnostics
show_log() {
	local f

	for f in "$@"; do
		[ -s "$f" ] && sed "s|^|# $(basename "$f"): |" "$f"
	done
	return 0
}
