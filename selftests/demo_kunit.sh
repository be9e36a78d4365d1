#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the KUnit suites of selftests/demo_kunit.c (loaded after af_demo)
# and report their cases as flat TAP, one line per case named
# "<suite>.<case>". Kernels without KUnit (Debian's) skip the whole file.
# Needs root, debugfs and $AFDEMO_KO next to selftests/demo_kunit.ko.
set -eu

ko=$(dirname "${AFDEMO_KO:-/nonexistent}")/selftests/demo_kunit.ko
debugfs=/sys/kernel/debug/kunit
suites="demo_protosw demo_wire demo_seqpacket"

echo "TAP version 13"
if [ ! -e "$ko" ] || [ ! -d "$debugfs" ]; then
	echo "1..0 # SKIP this kernel has no KUnit"
	exit 0
fi

n=0
rc=0
result() {	# result ok|"not ok" NAME
	n=$((n + 1))
	echo "$1 $n $2"
	[ "$1" = ok ] || rc=1
}

if ! insmod "$ko"; then
	result "not ok" "demo_kunit.insmod"
	echo "1..$n"
	exit 1
fi

for suite in $suites; do
	file=$debugfs/$suite/results
	cases=0
	if [ -r "$file" ]; then
		# Case lines are the results whose name is not the suite's.
		while read -r status name; do
			result "$status" "$suite.$name"
			cases=$((cases + 1))
		done < <(sed -nE "s/^[[:space:]]*(not ok|ok) [0-9]+ ([^ #]+).*/\1 \2/p" "$file" |
			 grep -v " $suite\$")
		sed 's/^/# /' "$file"
	fi
	[ "$cases" -gt 0 ] || result "not ok" "$suite.results_missing"
done

rmmod demo_kunit || result "not ok" "demo_kunit.rmmod"
echo "1..$n"
exit "$rc"
