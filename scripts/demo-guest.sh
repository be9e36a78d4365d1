#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The demo, inside the test VM: load af_demo, run the echo server in one
# network namespace and the client in another, over veth, and show what
# the kernel saw. Run by scripts/demo.sh; cwd is the repository.
set -euo pipefail

kver=$(uname -r)
echo_bin=build/examples/demo_echo
port=7000

step() { printf '\n== %s\n' "$*"; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

step "insmod build/$kver/af_demo.ko"
insmod "build/$kver/af_demo.ko"
echo "family $(cat /sys/module/af_demo/parameters/family)," \
	"IP protocol $(cat /sys/module/af_demo/parameters/ipproto)"

step "two hosts: namespaces demo_srv (198.18.0.2) and demo_cli (198.18.0.1) over veth"
modprobe veth
ip netns add demo_srv
ip netns add demo_cli
ip link add veth_cli netns demo_cli type veth peer name veth_srv netns demo_srv
ip -n demo_srv addr add 198.18.0.2/24 dev veth_srv
ip -n demo_cli addr add 198.18.0.1/24 dev veth_cli
for ns in srv cli; do
	ip -n "demo_$ns" link set lo up
	ip -n "demo_$ns" link set "veth_$ns" up
done

step "server and client"
ip netns exec demo_srv "$echo_bin" server "$port" &
server=$!
# Wait until the server's socket is bound: it shows in /proc/net/demo.
hexport=$(printf ':%04X ' "$port")
for _ in $(seq 100); do
	in_ns demo_srv grep -q "$hexport" /proc/net/demo && break
	sleep 0.1
done
in_ns demo_cli "$echo_bin" client 198.18.0.2 "$port" "hello over AF_DEMO"

step "/proc/net/demo in demo_srv"
in_ns demo_srv cat /proc/net/demo
step "/proc/net/demo_stat in demo_srv"
in_ns demo_srv cat /proc/net/demo_stat

kill "$server"
wait "$server" 2>/dev/null || true
ip netns del demo_cli
ip netns del demo_srv

step "rmmod af_demo"
# The last socket's memory is freed after an RCU grace period.
for _ in $(seq 100); do
	[ "$(cat /sys/module/af_demo/refcnt)" = 0 ] && break
	sleep 0.05
done
rmmod af_demo
echo "unloaded"
