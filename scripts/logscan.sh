#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Scan kernel logs for signs of kernel bugs (oops, WARN, KFENCE, slub_debug,
# lockdep, hung tasks, RCU stalls, ...).  Exit 0 when clean, 1 when any
# offending line was found (they are printed), 2 on usage errors.
set -euo pipefail

me=logscan

usage() {
	cat <<EOF
Usage: $me.sh FILE|VM-OUTDIR...
  Scan kernel log files.  For a vm-run.sh output directory, scan its
  dmesg.txt, or console.log when dmesg.txt is missing.
  Extra regex of lines to ignore: \$AFDEMO_LOGSCAN_IGNORE (grep -E).
EOF
	exit 2
}

[ $# -ge 1 ] || usage
case $1 in -h|--help) usage ;; esac

bad='BUG:|WARNING:|Oops|KFENCE|general protection|refcount_t'
bad+='|list_add corruption|list_del corruption|UBSAN|KASAN'
bad+='|kmemleak: [0-9]+ new suspected|unreferenced object|Kernel panic|kernel BUG at'
bad+='|sleeping function called from invalid context'
bad+='|possible recursive locking|circular locking|inconsistent lock state'
bad+='|stack-protector|slab .* corrupt|Redzone|Poison overwritten'
bad+='|Object padding overwritten|Object already free|BUG [^ ]+ \((Not t|T)ainted'
bad+='|INFO: task .* blocked'
bad+='|self-detected stall|rcu: INFO|detected stalls on CPU|LOCKUP'
bad+='|cut here \]|Call Trace:'
# Patterns are case-sensitive: a clean boot of the Debian 6.1/6.12 kernels
# matches none (e.g. "kfence: initialized", "oops=panic" on the cmdline).
ok=${AFDEMO_LOGSCAN_IGNORE:-^\$NONE^}

files=()
for f in "$@"; do
	if [ -d "$f" ]; then
		if [ -f "$f/dmesg.txt" ]; then
			f=$f/dmesg.txt
		else
			f=$f/console.log
		fi
	fi
	[ -r "$f" ] || { echo "$me: cannot read $f" >&2; exit 2; }
	files+=("$f")
done

if hits=$(grep -a -n -H -E "$bad" "${files[@]}" | grep -a -v -E "$ok"); then
	n=$(printf '%s\n' "$hits" | wc -l)
	echo "$me: kernel log is dirty ($n suspicious lines):"
	printf '%s\n' "$hits" | tr -d '\r' | head -n 25
	[ "$n" -le 25 ] || echo "$me: ... $((n - 25)) more"
	exit 1
fi
exit 0
