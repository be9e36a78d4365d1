#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# AF_DEMO datagrams carried by socat, a client nobody here wrote: its
# generic SOCKET-SENDTO/SOCKET-RECV addresses with the AF_DEMO family
# number, SOCK_DGRAM and protocol 0; and a SOCK_SEQPACKET connection
# through its generic SOCKET-LISTEN/SOCKET-CONNECT with type=5. The socket
# address is given in socat's data form, "x" + hex of the sockaddr bytes
# after sa_family: port (big-endian), IPv4 address, 8 zero bytes (like
# sockaddr_in).
#
# Needs root, socat, ip(8) and af_demo loaded. TAP output, kselftest style.
#
# The test functions are called through run() and cleanup() by the trap:
# shellcheck disable=SC2317
set -eu
# shellcheck source=selftests/demo_lib.sh
. "$(dirname "$0")/demo_lib.sh"

FAMILY_FILE=/sys/module/af_demo/parameters/family
NS_A=afdemo-socat-a
NS_B=afdemo-socat-b
NS_CMD=()
DEADLINE=20		# seconds to wait for any one condition
SOCAT_T=30		# socat inactivity timeout, a backstop only
NTESTS=4

tmp=
pids=()
netns_made=0
netns_state=

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

# bound_or_dead PID NS PORT: PORT is bound in NS, or process PID is gone
bound_or_dead() { port_bound "$2" "$3" || ! alive "$1"; }

size_is() { [ "$(stat_size "$1")" = "$2" ]; }
stat_size() { if [ -e "$1" ]; then wc -c <"$1"; else echo -1; fi; }

# transfer NAME RX_NS RX_IP TX_NS PORT INPUT BLOCK DATAGRAMS
# A socat receiver bound to RX_IP:PORT in RX_NS, a socat sender in TX_NS
# that reads INPUT in BLOCK-byte reads and sends each as one datagram.
# The received bytes must equal INPUT and the receiver's netns must count
# exactly DATAGRAMS datagrams received (the sender's, DATAGRAMS sent).
transfer() {
	local name=$1 rx_ns=$2 rx_ip=$3 tx_ns=$4 port=$5 in=$6 blk=$7 n=$8
	local out=$tmp/$name.out rxlog=$tmp/$name.rx.log txlog=$tmp/$name.tx.log
	local addr rx in0 out0 in1 out1 size txrc=0

	addr=$(sockaddr "$rx_ip" "$port")
	size=$(wc -c <"$in")

	ns_cmd "$rx_ns"
	"${NS_CMD[@]}" socat -u -T "$SOCAT_T" -b 65536 \
		"SOCKET-RECV:$family:2:0:$addr" "CREATE:$out" 2>"$rxlog" &
	rx=$!
	pids+=("$rx")
	if ! wait_for "the receiver to bind port $port" \
			bound_or_dead "$rx" "$rx_ns" "$port" || ! alive "$rx"; then
		alive "$rx" || diag "the receiver has exited"
		show_log "$rxlog"
		return 1
	fi
	if ! in0=$(ns_stat "$rx_ns" InDatagrams) ||
	   ! out0=$(ns_stat "$tx_ns" OutDatagrams); then
		diag "cannot read /proc/net/demo_stat"
		return 1
	fi

	ns_cmd "$tx_ns"
	"${NS_CMD[@]}" timeout "$SOCAT_T" socat -u -b "$blk" \
		"OPEN:$in,rdonly" "SOCKET-SENDTO:$family:2:0:$addr" \
		2>"$txlog" || txrc=$?
	if [ "$txrc" != 0 ]; then
		diag "sender exited with $txrc"
		show_log "$txlog"
		return 1
	fi
	if ! wait_for "$size bytes at the receiver" size_is "$out" "$size"; then
		diag "received $(stat_size "$out") of $size bytes"
		alive "$rx" || diag "the receiver has exited"
		show_log "$rxlog"
		return 1
	fi
	if ! alive "$rx"; then
		diag "the receiver exited early"
		show_log "$rxlog"
		return 1
	fi
	in1=$(ns_stat "$rx_ns" InDatagrams)
	out1=$(ns_stat "$tx_ns" OutDatagrams)
	kill "$rx"
	wait "$rx" 2>/dev/null || true

	if ! cmp "$in" "$out" >/dev/null; then
		diag "received data differs from what was sent"
		return 1
	fi
	if [ $((in1 - in0)) != "$n" ] || [ $((out1 - out0)) != "$n" ]; then
		diag "want $n datagrams; demo_stat InDatagrams +$((in1 - in0)), OutDatagrams +$((out1 - out0))"
		return 1
	fi
	return 0
}

# (1) a file of a few KB in one datagram over loopback
test_loopback() {
	head -c 6000 /dev/urandom >"$tmp/blob"
	transfer loopback "" 127.0.0.1 "" 4711 "$tmp/blob" 65536 1
}

# (2) the same between two network namespaces over veth; 6000 bytes are
# more than the 1500-byte MTU, so IP fragments and reassembles it.
setup_netns() {
	netns_made=1
	ip netns add "$NS_A" && ip netns add "$NS_B" &&
	ip link add afd-a netns "$NS_A" type veth peer name afd-b netns "$NS_B" &&
	ip -n "$NS_A" addr add 198.18.0.1/24 dev afd-a &&
	ip -n "$NS_B" addr add 198.18.0.2/24 dev afd-b &&
	ip -n "$NS_A" link set lo up && ip -n "$NS_B" link set lo up &&
	ip -n "$NS_A" link set afd-a up && ip -n "$NS_B" link set afd-b up
}

# ensure_netns: the namespaces of setup_netns, set up once for all tests
ensure_netns() {
	if [ -z "$netns_state" ]; then
		netns_state=failed
		! setup_netns 2>"$tmp/netns.log" || netns_state=ok
	fi
	[ "$netns_state" = ok ] && return 0
	diag "cannot set up the network namespaces (is veth available?)"
	show_log "$tmp/netns.log"
	return 1
}

test_netns() {
	ensure_netns || return 1
	transfer netns "$NS_B" 198.18.0.2 "$NS_A" 4712 "$tmp/blob" 65536 1
}

# (3) several lines, one datagram each: 16-byte lines read 16 bytes at a time
test_lines() {
	local i

	for i in $(seq 1 8); do
		printf 'afdemo line %03d\n' "$i"
	done >"$tmp/lines"
	transfer lines "" 127.0.0.1 "" 4713 "$tmp/lines" 16 8
}

# (4) SOCK_SEQPACKET between the two namespaces: socat's generic
# SOCKET-LISTEN (protocol 0, the type's default) and SOCKET-CONNECT
# (protocol 2, DEMOPROTO_SEQPACKET) with type=5 carry 1 MiB of random
# data, one message per 32 KiB block the sender reads; the receiver reads
# with a 256 KiB buffer, so a message is never truncated. The file must
# arrive intact, the receiver must see end of file and exit 0, and each
# netns must count its side of one connection.
test_seqpacket() {
	local in=$tmp/seq.in out=$tmp/seq.out
	local rxlog=$tmp/seq.rx.log txlog=$tmp/seq.tx.log
	local port=4714 addr rx act0 pas0 act1 pas1 sum_in sum_out
	local txrc=0 rxrc=0

	ensure_netns || return 1
	head -c 1048576 /dev/urandom >"$in"
	addr=$(sockaddr 198.18.0.2 "$port")
	if ! act0=$(ns_stat "$NS_A" ActiveOpens) ||
	   ! pas0=$(ns_stat "$NS_B" PassiveOpens); then
		diag "no ActiveOpens/PassiveOpens in /proc/net/demo_stat"
		return 1
	fi

	ns_cmd "$NS_B"
	"${NS_CMD[@]}" socat -u -T "$SOCAT_T" -b 262144 \
		"SOCKET-LISTEN:$family:0:$addr,type=5" "CREATE:$out" 2>"$rxlog" &
	rx=$!
	pids+=("$rx")
	if ! wait_for "the receiver to listen on port $port" \
			bound_or_dead "$rx" "$NS_B" "$port" || ! alive "$rx"; then
		alive "$rx" || diag "the receiver has exited"
		show_log "$rxlog"
		return 1
	fi

	ns_cmd "$NS_A"
	"${NS_CMD[@]}" timeout "$SOCAT_T" socat -u -b 32768 \
		"OPEN:$in,rdonly" "SOCKET-CONNECT:$family:2:$addr,type=5" \
		2>"$txlog" || txrc=$?
	if [ "$txrc" != 0 ]; then
		diag "sender exited with $txrc"
		show_log "$txlog" "$rxlog"
		return 1
	fi
	# the sender has shut down: the receiver reads end of file and exits
	if ! wait_for "the receiver to see end of file" dead "$rx"; then
		diag "received $(stat_size "$out") of 1048576 bytes"
		show_log "$rxlog"
		return 1
	fi
	wait "$rx" || rxrc=$?
	if [ "$rxrc" != 0 ]; then
		diag "receiver exited with $rxrc"
		show_log "$rxlog"
		return 1
	fi
	sum_in=$(sha256sum <"$in")
	sum_out=$(sha256sum <"$out")
	if [ "$sum_in" != "$sum_out" ]; then
		diag "sha256 sent ${sum_in%% *}, received ${sum_out%% *} ($(stat_size "$out") bytes)"
		return 1
	fi
	act1=$(ns_stat "$NS_A" ActiveOpens)
	pas1=$(ns_stat "$NS_B" PassiveOpens)
	if [ $((act1 - act0)) != 1 ] || [ $((pas1 - pas0)) != 1 ]; then
		diag "want one connection; ActiveOpens +$((act1 - act0)) in $NS_A, PassiveOpens +$((pas1 - pas0)) in $NS_B"
		return 1
	fi
	return 0
}

echo "TAP version 13"
echo "1..$NTESTS"

skip_all=
if [ "$(id -u)" != 0 ]; then
	skip_all="needs root"
elif ! command -v socat >/dev/null || ! command -v ip >/dev/null; then
	skip_all="needs socat and ip"
elif ! family=$(cat "$FAMILY_FILE" 2>/dev/null); then
	skip_all="af_demo is not loaded"
fi
if [ -n "$skip_all" ]; then
	for name in socat_loopback socat_netns_veth socat_lines_datagrams \
		    socat_seqpacket_netns; do
		result 2 "$name" "$skip_all"
	done
	exit 0	# as the kselftest harness does when every case skips
fi
tmp=$(mktemp -d /tmp/demo_socat.XXXXXX)
diag "AF_DEMO family $family"

run socat_loopback test_loopback
run socat_netns_veth test_netns
run socat_lines_datagrams test_lines
run socat_seqpacket_netns test_seqpacket

exit "$failed"
