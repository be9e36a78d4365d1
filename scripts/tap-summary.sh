#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Summarise kselftest TAP results: scripts/tap-summary.sh DIR...
#
# Reads every *.tap file in each DIR. Top-level lines "ok N name" and
# "not ok N name" are results; a "# SKIP" directive makes one skipped and
# "not ok ... # TODO" is not counted as a failure; "1..N" is the plan;
# indented and "#" lines are diagnostics. Results the plan promised but the
# file lacks (a crash or timeout mid-run) count as failed, as does a file
# without a plan, more results than planned, or "Bail out!". A DIR with no
# .tap files counts as one failure ("no results").
#
# Prints per-file counts and failed case names, then as the last line
#   TOTAL <passed> <failed> <skipped>
# Exit: 0 if nothing failed, 1 if something did, 2 on usage errors.
set -eu

if [ $# -lt 1 ]; then
	echo "usage: $0 DIR..." >&2
	exit 2
fi

# Per file: "  not ok: NAME" lines, then "<passed> <failed> <skipped>".
# shellcheck disable=SC2016
count='
function note(s) { notes = notes "  " s "\n" }
BEGIN { plan = -1 }
/^1\.\.[0-9]+/ {
	if (plan >= 0)
		note("second plan line: " $0)
	plan = substr($1, 4) + 0
	if (plan == 0 && $0 ~ /#[ \t]*[Ss][Kk][Ii][Pp]/)
		skipall = 1
	next
}
/^(not )?ok([ \t]|$)/ {
	n++
	name = $0
	sub(/^(not )?ok[ \t]*[0-9]*[ \t]*(- )?/, "", name)
	if ($0 ~ /#[ \t]*[Ss][Kk][Ii][Pp]([^A-Za-z]|$)/)
		skip++
	else if ($0 ~ /^not / && $0 ~ /#[ \t]*[Tt][Oo][Dd][Oo]([^A-Za-z]|$)/)
		skip++
	else if ($0 ~ /^not /) {
		fail++
		note("not ok: " name)
	} else
		pass++
	next
}
/^Bail out!/ { bail = 1; note($0) }
END {
	if (plan < 0) {
		fail++
		note(n ? "no plan line" : "no results")
	} else if (n < plan) {
		fail += plan - n
		note(sprintf("%d of %d planned results missing", plan - n, plan))
	} else if (n > plan) {
		fail++
		note(sprintf("%d results, but the plan says %d", n, plan))
	} else if (bail) {
		fail++
	}
	if (skipall && !n)
		skip++
	printf "%s", notes
	print pass + 0, fail + 0, skip + 0
}'

total_p=0 total_f=0 total_s=0
for dir in "$@"; do
	if [ ! -d "$dir" ]; then
		echo "$dir: not a directory: no results"
		total_f=$((total_f + 1))
		continue
	fi
	files=()
	while IFS= read -r -d '' f; do
		files+=("$f")
	done < <(find "$dir" -maxdepth 1 -name '*.tap' -type f -print0 | sort -z)
	if [ ${#files[@]} -eq 0 ]; then
		echo "$dir: no results"
		total_f=$((total_f + 1))
		continue
	fi
	for f in "${files[@]}"; do
		out=$(tr -d '\r' <"$f" | awk "$count")
		read -r p fl s <<<"${out##*$'\n'}"
		echo "$f: $p passed, $fl failed, $s skipped"
		[ "$out" = "${out##*$'\n'}" ] || printf '%s\n' "${out%$'\n'*}"
		total_p=$((total_p + p))
		total_f=$((total_f + fl))
		total_s=$((total_s + s))
	done
done

echo "TOTAL $total_p $total_f $total_s"
[ "$total_f" -eq 0 ]
