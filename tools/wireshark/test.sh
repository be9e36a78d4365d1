#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The Wireshark dissector (af_demo.lua) against crafted packets: no module,
# no guest. demo_pcap.py writes a pcap of DEMO packets (valid datagrams and
# segments of a connection, and malformed ones, with their checksums),
# tshark decodes it with the dissector, and demo_pcap.py compares every
# frame's fields, Info column and expert infos with what it crafted; once
# more with the IP protocol number preference changed. TAP on stdout.
#
# Needs tshark (Debian: apt-get install tshark) and python3.
set -u
here=$(cd "$(dirname "$0")" && pwd)
lua=$here/af_demo.lua

if ! command -v tshark >/dev/null 2>&1; then
	echo "1..0 # SKIP tshark is not installed"
	exit 0
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
# tshark reads no personal preferences or plugins, writes no state here.
export HOME="$tmp" WIRESHARK_CONFIG_DIR="$tmp/config"
mkdir -p "$WIRESHARK_CONFIG_DIR"

python3 "$here/demo_pcap.py" write "$tmp/demo.pcap" || {
	echo "1..1"
	echo "not ok 1 - demo_pcap.py write"
	exit 1
}

# decode NAME [TSHARK OPTIONS]: decode the file, check it; TAP lines
# without their numbers.
decode() {
	local name=$1 opt="" rc
	shift
	[ $# -gt 0 ] && opt=-o
	tshark -n -X lua_script:"$lua" "$@" -r "$tmp/demo.pcap" -T pdml \
		>"$tmp/$name.pdml" 2>"$tmp/$name.err"
	rc=$?
	tshark -n -X lua_script:"$lua" "$@" -r "$tmp/demo.pcap" -T fields \
		-e _ws.col.Info >"$tmp/$name.info" 2>>"$tmp/$name.err"
	# Lua errors (loading or dissecting) reach stderr; root's warning not.
	grep -v '^Running as user' "$tmp/$name.err" >"$tmp/$name.err2"
	if [ "$rc" = 0 ] && [ ! -s "$tmp/$name.err2" ]; then
		echo "ok - tshark${*:+ $*} loads the dissector"
	else
		echo "not ok - tshark${*:+ $*} loads the dissector"
		sed 's/^/# /' "$tmp/$name.err2" | head -n 20
	fi
	python3 "$here/demo_pcap.py" check $opt "$tmp/$name.pdml" \
		"$tmp/$name.info" | grep -v '^1\.\.'
}

# Both runs' results, numbered in one sequence.
{
	decode default
	decode pref -o demo.ipproto:254
} | awk '
	/^(not )?ok / { n++; sub(/ok( [0-9]+)? -/, "ok " n " -") }
	/^not ok / { failed++ }
	{ print }
	END { print "1.." n; exit failed > 0 }'
