#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The Wireshark dissector (tools/wireshark/af_demo.lua) on real traffic:
# between two network namespaces over veth, dumpcap captures a datagram
# (socat SOCKET-SENDTO), a seqpacket connection carrying one 3000-byte
# message and closing (socat SOCKET-CONNECT, type=5), and a datagram with a
# bad checksum (python3, an AF_INET raw socket of the DEMO protocol); then
# tshark decodes the capture with the dissector, and the decoded fields
# must be what was sent: ports, lengths, types, the handshake's and the
# close's flags, the message's segments and length, every checksum good
# but the bad one's, flagged. The host-side test on crafted packets is
# tools/wireshark/test.sh.
#
# Needs root, ip(8), socat, tshark (and its dumpcap), python3 and af_demo
# loaded. TAP output,
# kselftest style.
#
# The test functions are called through run() and cleanup() by the trap:
# shellcheck disable=SC2317
set -eu
# shellcheck source=selftests/demo_lib.sh
. "$(dirname "$0")/demo_lib.sh"

SRC=$(cd "$(dirname "$0")/.." && pwd)
LUA=$SRC/tools/wireshark/af_demo.lua
FAMILY_FILE=/sys/module/af_demo/parameters/family
IPPROTO_FILE=/sys/module/af_demo/parameters/ipproto
NS_A=afdemo-ws-a
NS_B=afdemo-ws-b
IP_A=198.18.2.1
IP_B=198.18.2.2
DGRAM_PORT=7000
SEQ_PORT=7100
BAD_PORT=7001
MSG_LEN=3000
DEADLINE=60		# seconds to wait for any one condition
SOCAT_T=30		# socat inactivity timeout, a backstop only
NAMES=(wireshark_capture wireshark_datagram wireshark_handshake
       wireshark_message wireshark_close wireshark_checksums
       wireshark_bad_checksum)

tmp=
pids=()
netns_made=0

cleanup() {
	local p

	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [ "$netns_made" = 1 ]; then
		ip netns del "$NS_A" 2>/dev/null || true
		ip netns del "$NS_B" 2>/dev/null || true
	fi
	[ -z "$tmp" ] || rm -rf "$tmp"
}
trap cleanup EXIT

capturing() { grep -q 'Capturing on' "$tmp/capture.log"; }

# csum_errors NS N: NS's InCsumErrors (/proc/net/demo_stat) reached N
csum_errors() {
	local n

	n=$(ns_stat "$1" InCsumErrors) && [ "$n" -ge "$2" ]
}

port_free() { ! port_bound "$@"; }

# The traffic, captured on B's side of the veth: all of it or nothing.
make_capture() {
	local rx tx cap txrc=0

	netns_made=1
	if ! { ip netns add "$NS_A" && ip netns add "$NS_B" &&
	       ip link add afw-a netns "$NS_A" type veth peer name afw-b \
			netns "$NS_B" &&
	       ip -n "$NS_A" addr add "$IP_A/24" dev afw-a &&
	       ip -n "$NS_B" addr add "$IP_B/24" dev afw-b &&
	       ip -n "$NS_A" link set afw-a up && ip -n "$NS_B" link set afw-b up
	     } 2>"$tmp/netns.log"; then
		diag "cannot set up the network namespaces"
		show_log "$tmp/netns.log"
		return 1
	fi

	# dumpcap, tshark's capture engine: ready in a moment where tshark
	# loads every dissector first (a minute in a TCG guest)
	ip netns exec "$NS_B" dumpcap -q -i afw-b -f "ip proto $ipproto" \
		-w "$tmp/demo.pcapng" >"$tmp/capture.log" 2>&1 &
	cap=$!
	pids+=("$cap")
	if ! wait_for "tshark to capture" capturing; then
		show_log "$tmp/capture.log"
		return 1
	fi

	# a datagram
	printf 'hello-demo' >"$tmp/dgram.in"
	ip netns exec "$NS_B" socat -u -T "$SOCAT_T" \
		"SOCKET-RECV:$family:2:0:$(sockaddr "$IP_B" "$DGRAM_PORT")" \
		"CREATE:$tmp/dgram.out" 2>"$tmp/dgram.rx.log" &
	rx=$!
	pids+=("$rx")
	wait_for "the datagram receiver" port_bound "$NS_B" "$DGRAM_PORT" ||
		return 1
	ip netns exec "$NS_A" timeout "$SOCAT_T" socat -u \
		"OPEN:$tmp/dgram.in,rdonly" \
		"SOCKET-SENDTO:$family:2:0:$(sockaddr "$IP_B" "$DGRAM_PORT")" \
		2>"$tmp/dgram.tx.log" || txrc=$?
	if [ "$txrc" != 0 ] ||
	   ! wait_for "the datagram" cmp -s "$tmp/dgram.in" "$tmp/dgram.out"; then
		show_log "$tmp/dgram.tx.log" "$tmp/dgram.rx.log"
		return 1
	fi

	# a connection: one message, then close (FIN each way)
	head -c "$MSG_LEN" /dev/urandom >"$tmp/seq.in"
	ip netns exec "$NS_B" socat -u -T "$SOCAT_T" -b 262144 \
		"SOCKET-LISTEN:$family:0:$(sockaddr "$IP_B" "$SEQ_PORT"),type=5" \
		"CREATE:$tmp/seq.out" 2>"$tmp/seq.rx.log" &
	rx=$!
	pids+=("$rx")
	wait_for "the listener" port_bound "$NS_B" "$SEQ_PORT" || return 1
	ip netns exec "$NS_A" timeout "$SOCAT_T" socat -u -b 32768 \
		"OPEN:$tmp/seq.in,rdonly" \
		"SOCKET-CONNECT:$family:2:$(sockaddr "$IP_B" "$SEQ_PORT"),type=5" \
		2>"$tmp/seq.tx.log" || txrc=$?
	if [ "$txrc" != 0 ] || ! wait_for "the receiver's end" dead "$rx" ||
	   ! cmp -s "$tmp/seq.in" "$tmp/seq.out"; then
		show_log "$tmp/seq.tx.log" "$tmp/seq.rx.log"
		return 1
	fi

	# a bad checksum, which B drops (InCsumErrors)
	ip netns exec "$NS_A" python3 - "$IP_B" "$ipproto" "$BAD_PORT" \
		2>"$tmp/bad.log" <<-'EOF' || { show_log "$tmp/bad.log"; return 1; }
	import socket, struct, sys
	s = socket.socket(socket.AF_INET, socket.SOCK_RAW, int(sys.argv[2]))
	hdr = struct.pack("!HHBBHHH", 40999, int(sys.argv[3]), 2, 1, 17,
	                  0x1234, 0)
	s.sendto(hdr + b"oops!", (sys.argv[1], 0))
	EOF

	# stop once B's end of the connection is gone (the close's last ACK
	# got through afw-b) and B counted the bad checksum
	if ! wait_for "B's end to close" port_free "$NS_B" "$SEQ_PORT" ||
	   ! wait_for "the bad checksum" csum_errors "$NS_B" 1; then
		return 1
	fi
	kill -INT "$cap"
	wait "$cap" 2>/dev/null || true
	tx=$(wc -c <"$tmp/demo.pcapng" 2>/dev/null || echo 0)
	[ "$tx" -gt 0 ] || { show_log "$tmp/capture.log"; return 1; }

	tshark -n -X lua_script:"$LUA" -o "demo.ipproto:$ipproto" \
		-r "$tmp/demo.pcapng" -T fields -E separator=/t -e frame.number -e demo.srcport \
		-e demo.dstport -e demo.type -e demo.length -e demo.flags.str \
		-e demo.checksum.status -e demo.len -e demo.stream -e demo.seq \
		-e demo.ack -e demo.msg.len -e demo.msg.segments \
		>"$tmp/fields" 2>"$tmp/decode.log" || {
		show_log "$tmp/decode.log"
		return 1
	}
	sed 's/^/# /' "$tmp/fields"
	grep -q . "$tmp/fields"
}

# fields AWK-CONDITION: the decoded frames that match (columns: 1 frame,
# 2 sport, 3 dport, 4 type, 5 length, 6 flags, 7 checksum status, 8 len,
# 9 stream, 10 seq, 11 ack, 12 message length, 13 message segments)
fields() { awk -F '\t' "$1" "$tmp/fields"; }

test_capture() { make_capture; }

test_datagram() {
	[ -n "$(fields "\$4 == 1 && \$3 == $DGRAM_PORT && \$5 == 22 &&
			\$8 == 10 && \$7 == 1")" ]
}

# SYN (seq 0), SYN-ACK (seq 0, ack 1), ACK (seq 1, ack 1): one stream
test_handshake() {
	local syn synack ack

	syn=$(fields "\$3 == $SEQ_PORT && \$6 == \"SYN\" && \$10 == 0 { print \$9 }")
	synack=$(fields "\$2 == $SEQ_PORT && \$6 == \"SYN, ACK\" && \$10 == 0 &&
			 \$11 == 1 { print \$9 }")
	ack=$(fields "\$3 == $SEQ_PORT && \$6 == \"ACK\" && \$10 == 1 &&
		      \$11 == 1 && \$8 == 0 { print \$9; exit }")
	diag "streams: SYN $syn, SYN-ACK $synack, ACK $ack"
	[ -n "$syn" ] && [ "$syn" = "$synack" ] && [ "$syn" = "$ack" ]
}

# one message of MSG_LEN bytes: its last segment (EOR) reports it whole,
# in ceil(MSG_LEN / mss) segments, the mss 1456 on a 1500-byte MTU
test_message() {
	local want=$(((MSG_LEN + 1455) / 1456))

	[ -n "$(fields "\$3 == $SEQ_PORT && \$6 == \"EOR, ACK\" &&
			\$12 == $MSG_LEN && \$13 == $want")" ] &&
	[ "$(fields "\$3 == $SEQ_PORT && \$8 > 0 { n += \$8 } END { print n }")" = "$MSG_LEN" ]
}

test_close() {
	[ -n "$(fields "\$3 == $SEQ_PORT && \$6 == \"FIN, ACK\"")" ] &&
	[ -n "$(fields "\$2 == $SEQ_PORT && \$6 == \"FIN, ACK\"")" ]
}

# every packet the kernel sent has a good checksum
test_checksums() {
	local bad

	bad=$(fields "\$3 != $BAD_PORT && \$7 != 1 { print \$1 }")
	[ -z "$bad" ] || diag "checksum not good in frames: $bad"
	[ -z "$bad" ] && [ -n "$(fields "\$7 == 1")" ]
}

test_bad_checksum() {
	local frames errors

	frames=$(fields "\$3 == $BAD_PORT && \$7 == 0 { print \$1 }")
	errors=$(tshark -n -X lua_script:"$LUA" -o "demo.ipproto:$ipproto" \
		-r "$tmp/demo.pcapng" -Y '_ws.expert.severity == "Error" && demo' -T fields \
		-e frame.number 2>/dev/null | tr '\n' ' ')
	diag "bad checksum in frame ${frames:-none}; error experts in frames ${errors:-none}"
	[ -n "$frames" ] && [ "$errors" = "$frames " ]
}

echo "TAP version 13"
echo "1..${#NAMES[@]}"

skip_all=
if [ "$(id -u)" != 0 ]; then
	skip_all="needs root"
elif ! command -v socat >/dev/null || ! command -v ip >/dev/null ||
     ! command -v tshark >/dev/null || ! command -v dumpcap >/dev/null ||
     ! command -v python3 >/dev/null; then
	skip_all="needs socat, ip, tshark, dumpcap and python3"
elif ! family=$(cat "$FAMILY_FILE" 2>/dev/null) ||
     ! ipproto=$(cat "$IPPROTO_FILE" 2>/dev/null); then
	skip_all="af_demo is not loaded"
fi
if [ -n "$skip_all" ]; then
	for name in "${NAMES[@]}"; do
		result 2 "$name" "$skip_all"
	done
	exit 0	# as the kselftest harness does when every case skips
fi
tmp=$(mktemp -d /tmp/demo_wireshark.XXXXXX)
# tshark: no personal preferences or plugins but the dissector given
export HOME=$tmp
diag "AF_DEMO family $family, IP protocol $ipproto"

run wireshark_capture test_capture
if [ "$failed" != 0 ]; then
	for name in "${NAMES[@]:1}"; do
		result 1 "$name"
	done
	exit 1
fi
run wireshark_datagram test_datagram
run wireshark_handshake test_handshake
run wireshark_message test_message
run wireshark_close test_close
run wireshark_checksums test_checksums
run wireshark_bad_checksum test_bad_checksum

exit "$failed"
