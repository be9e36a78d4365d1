#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The installed module, as a user gets it: "make install" for the running
# kernel puts af_demo.ko under /lib/modules/$(uname -r)/updates and runs
# depmod; then socket(AF_DEMO, SOCK_DGRAM, 0) alone must load it through
# its net-pf-22 alias, and the socket must work (a datagram over
# loopback). "make uninstall" must then leave nothing: no module file, no
# modinfo/modprobe match, no header, no man page, and socket(22, ...)
# fails with EAFNOSUPPORT instead of loading anything.
#
# Run as root in the test guest, whose /lib, /usr and /etc are writable
# overlays on the host's, with the checkout's build/ writable; never on a
# machine you care about. af_demo is unloaded for the test and loaded
# again at the end from $AFDEMO_KO (default build/$(uname -r)/af_demo.ko),
# as the runner expects. Kernels without headers at
# /lib/modules/$(uname -r)/build (the debug kernel) skip every case.
#
# TAP output, kselftest style.
#
# The test functions are called through run() and cleanup() by the trap:
# shellcheck disable=SC2317
set -eu
# shellcheck source=selftests/demo_lib.sh
. "$(dirname "$0")/demo_lib.sh"

MOD=af_demo
FAMILY=22		# the alias is for the default family only
NTESTS=5
REFCNT_WAIT=10		# seconds for the last sockets' RCU frees

cd "$(dirname "$0")/.."
top=$PWD
kver=$(uname -r)
AFDEMO_KO=${AFDEMO_KO:-$top/build/$kver/af_demo.ko}
moddir=/lib/modules/$kver
installed_ko=$moddir/updates/af_demo.ko
header=/usr/include/linux/af_demo.h
manpage=/usr/share/man/man7/af_demo.7

tmp=
installed=0


loaded() { [ -e "/sys/module/$MOD" ]; }

wait_refcnt0() {
	local end=$((SECONDS + REFCNT_WAIT))

	while [ "$(cat /sys/module/"$MOD"/refcnt 2>/dev/null || echo 0)" != 0 ]; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.05
	done
}

unload() {
	loaded || return 0
	wait_refcnt0 || diag "$MOD refcnt still $(cat /sys/module/$MOD/refcnt)"
	if ! rmmod "$MOD"; then
		diag "rmmod $MOD failed; holders: $(ls /sys/module/$MOD/holders 2>/dev/null)"
		return 1
	fi
}

# Leave the machine as the runner left it: nothing installed, af_demo
# loaded from the build tree.
cleanup() {
	if [ "$installed" = 1 ]; then
		diag "cleanup: make uninstall"
		unload || true
		make -s uninstall KVER="$kver" >/dev/null 2>&1 || true
	fi
	if ! loaded; then
		insmod "$AFDEMO_KO" || diag "cleanup: insmod $AFDEMO_KO failed"
	fi
	[ -z "$tmp" ] || rm -rf "$tmp"
}
trap cleanup EXIT


# logged CMD...: run CMD with its output as diagnostics; CMD's status
logged() {
	local rc=0

	"$@" >"$tmp/cmd.log" 2>&1 || rc=$?
	[ "$rc" = 0 ] || diag "$* exited with $rc"
	sed 's/^/#   /' "$tmp/cmd.log" | tail -n 40
	return "$rc"
}

# demo_socket MODE: python3 (on the host's root) makes AF_DEMO sockets by
# number; bind and sendto go through libc, as Python has no address format
# for family 22. MODE echo: a datagram over loopback; MODE absent: the
# socket call must fail with EAFNOSUPPORT.
demo_socket() {
	python3 - "$FAMILY" "$1" <<'EOF'
import ctypes, errno, os, socket, struct, sys

fam, mode = int(sys.argv[1]), sys.argv[2]
try:
    a = socket.socket(fam, socket.SOCK_DGRAM, 0)
except OSError as e:
    print("socket(%d, SOCK_DGRAM, 0): %s" % (fam, os.strerror(e.errno)))
    sys.exit(0 if mode == "absent" and e.errno == errno.EAFNOSUPPORT else 1)
if mode == "absent":
    print("socket(%d, SOCK_DGRAM, 0) succeeded" % fam)
    sys.exit(1)
print("socket(%d, SOCK_DGRAM, 0): fd %d; /sys/module/af_demo %s" %
      (fam, a.fileno(), "present" if os.path.isdir("/sys/module/af_demo")
       else "absent"))

libc = ctypes.CDLL(None, use_errno=True)

def sockaddr(port, ip):
    raw = struct.pack("=H", fam) + struct.pack("!H", port) + \
        socket.inet_aton(ip) + bytes(8)
    return ctypes.create_string_buffer(raw, len(raw))

def check(rc, what):
    if rc < 0:
        print("%s: %s" % (what, os.strerror(ctypes.get_errno())))
        sys.exit(1)

check(libc.bind(a.fileno(), sockaddr(0, "127.0.0.1"), 16), "bind")
# socket.getsockname() knows no family 22 either
name, namelen = ctypes.create_string_buffer(16), ctypes.c_uint(16)
check(libc.getsockname(a.fileno(), name, ctypes.byref(namelen)), "getsockname")
port = struct.unpack("!H", name.raw[2:4])[0]
print("bound to 127.0.0.1 port %d" % port)
b = socket.socket(fam, socket.SOCK_DGRAM, 0)
msg = b"af_demo installed"
check(libc.sendto(b.fileno(), msg, len(msg), 0, sockaddr(port, "127.0.0.1"), 16),
      "sendto")
a.settimeout(5)
got = a.recv(64)
print("received %r" % got)
sys.exit(0 if got == msg else 1)
EOF
}

test_install() {
	logged make install KVER="$kver" || return 1
	installed=1
	local f rc=0

	for f in "$installed_ko" "$header" "$manpage"; do
		[ -f "$f" ] || { diag "$f is missing"; rc=1; }
	done
	grep -q '^updates/af_demo.ko:' "$moddir/modules.dep" ||
		{ diag "modules.dep does not list updates/af_demo.ko"; rc=1; }
	f=$(modinfo -k "$kver" -F filename "$MOD" 2>&1) || true
	[ "$f" = "$installed_ko" ] || { diag "modinfo $MOD: $f"; rc=1; }
	return "$rc"
}

test_autoload() {
	if loaded; then
		diag "$MOD is loaded before the socket call"
		return 1
	fi
	logged demo_socket echo || return 1
	if ! loaded; then
		diag "$MOD is not loaded after socket($FAMILY, ...)"
		return 1
	fi
	[ "$(cat /sys/module/"$MOD"/parameters/family)" = "$FAMILY" ]
}

test_uninstall() {
	local rc=0 out

	unload || return 1
	logged make uninstall KVER="$kver" || return 1
	installed=0
	for out in "$installed_ko" "$header" "$manpage"; do
		[ ! -e "$out" ] || { diag "$out is still there"; rc=1; }
	done
	! grep -q 'af_demo' "$moddir/modules.dep" "$moddir/modules.alias" ||
		{ diag "modules.dep or modules.alias still names af_demo"; rc=1; }
	if out=$(modinfo -k "$kver" "$MOD" 2>&1); then
		diag "modinfo still finds $MOD: $(grep filename <<<"$out")"
		rc=1
	fi
	if out=$(modprobe -n -v "$MOD" 2>&1); then
		diag "modprobe -n still finds $MOD: $out"
		rc=1
	fi
	return "$rc"
}

test_no_autoload() {
	logged demo_socket absent || return 1
	if loaded; then
		diag "$MOD was loaded"
		return 1
	fi
}

test_reload() {
	logged insmod "$AFDEMO_KO" && loaded
}

echo "TAP version 13"
echo "1..$NTESTS"

names=(install autoload_by_socket_call uninstall no_autoload_after_uninstall
       insmod_from_build_tree)
skip_all=
if [ "$(id -u)" != 0 ]; then
	skip_all="needs root"
elif [ ! -e "$moddir/build/Makefile" ]; then
	skip_all="no kernel headers at $moddir/build (kernel not from a package)"
elif ! command -v python3 >/dev/null || ! command -v make >/dev/null; then
	skip_all="needs python3 and make"
elif [ ! -e "$AFDEMO_KO" ]; then
	skip_all="$AFDEMO_KO is missing"
elif f=$(modinfo -k "$kver" -F filename "$MOD" 2>/dev/null) && [ -n "$f" ]; then
	skip_all="$MOD is already installed for $kver ($f)"
fi
if [ -n "$skip_all" ]; then
	for name in "${names[@]}"; do
		result 2 "$name" "$skip_all"
	done
	exit 0	# as the kselftest harness does when every case skips
fi
tmp=$(mktemp -d /tmp/demo_install.XXXXXX)
ip link set lo up 2>/dev/null || true

diag "kernel $kver; unloading $MOD for the test"
if ! unload; then
	for name in "${names[@]}"; do
		result 1 "$name"
	done
	exit 1
fi

run install test_install
if [ "$installed" = 1 ]; then
	run autoload_by_socket_call test_autoload
	run uninstall test_uninstall
	run no_autoload_after_uninstall test_no_autoload
else
	for name in autoload_by_socket_call uninstall no_autoload_after_uninstall; do
		result 1 "$name"
	done
fi
run insmod_from_build_tree test_reload

exit "$failed"
