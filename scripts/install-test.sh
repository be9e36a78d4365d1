#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side checks of the installation paths; nothing is loaded and nothing
# outside a scratch directory (and the tree's build/) is written:
#   scripts/install-test.sh [KVER...]
#
# KVER...: the kernels to run "dkms build" for (default: every installed
# kernel with headers, /lib/modules/*/build). "make install" is tried for
# one kernel, $AFDEMO_INSTALL_KVER (default: the running kernel if its
# headers are installed, else the newest of the test matrix, scripts/kernels.sh).
#
# Checks, one line each: "ok - NAME" or "not ok - NAME" (then the tail of
# its log as "# " lines); logs in build/install-test/NAME.log. The last
# line is "# N passed, N failed"; the exit status is non-zero if any check
# failed. The checks:
#   version_agrees             VERSION, dkms.conf, debian/changelog
#   man_lint                   mandoc -Tlint -W warning
#   build_exclusive_kernel     dkms.conf's regex on sample versions
#   install_bare               make install into an empty DESTDIR: exactly
#                              the module, headers, man pages and demo-ss;
#                              no depmod
#   installed_module_<kver>    its vermagic and net-pf-22 alias
#   installed_header_compiles  a program using <linux/af_demo.h> and
#                              <linux/af_demo_diag.h> from it
#   installed_demo_ss          demo-ss --help; without af_demo loaded, it
#                              says so and fails (nothing is loaded: it
#                              reads sysfs before it asks the kernel)
#   uninstall_bare             make uninstall leaves DESTDIR empty
#   install_depmod             into a DESTDIR module tree (modules.order):
#                              depmod ran, modules.dep lists the module
#   uninstall_depmod           the same file list as before the install,
#                              the module gone from modules.dep
#   dkms_install               the DKMS source tree: dkms.conf, Kbuild and
#                              the module sources only
#   dkms_uninstall             removes it
#   deb_build                  make deb
#   deb_contents               dkms.conf, header, man page, no selftests
#   dkms_build_<kver>          dkms add + build from the .deb's sources,
#                              with --dkmstree/--sourcetree in the scratch
#                              directory (signing key there too)
#   host_dkms_untouched        /var/lib/dkms is as it was
#
# Env: AFDEMO_INSTALL_KVER (see above); AFDEMO_KEEP=1 keeps the scratch
# directory.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
top=$PWD

logs=$top/build/install-test
rm -rf "$logs"
mkdir -p "$logs"
tmp=$(mktemp -d /tmp/afdemo-install.XXXXXX)
cleanup() {
	if [ "${AFDEMO_KEEP:-0}" = 1 ]; then
		echo "# scratch directory kept: $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT

passed=0 failed=0

# check NAME CMD...: one check; CMD's output goes to its log.
check() {
	local name=$1 log=$logs/$1.log rc=0

	shift
	"$@" >"$log" 2>&1 || rc=$?
	if [ "$rc" = 0 ]; then
		passed=$((passed + 1))
		echo "ok - $name"
	else
		failed=$((failed + 1))
		echo "not ok - $name"
		tail -n 20 "$log" | sed 's/^/# /'
	fi
	return "$rc"
}

version=$(cat VERSION)
install_kver=${AFDEMO_INSTALL_KVER:-}
if [ -z "$install_kver" ]; then
	install_kver=$(uname -r)
	[ -e "/lib/modules/$install_kver/build/Makefile" ] ||
		install_kver=$(scripts/kernels.sh | tail -n 1)
fi
if [ $# -gt 0 ]; then
	dkms_kvers=("$@")
else
	dkms_kvers=()
	for b in /lib/modules/*/build; do
		[ -e "$b/Makefile" ] || continue
		b=${b#/lib/modules/}
		dkms_kvers+=("${b%/build}")
	done
fi
echo "# version $version; make install for ${install_kver:-?}; dkms build for ${dkms_kvers[*]:-nothing}"

# files DIR: the files, links and directories under DIR, relative, sorted
files() { (cd "$1" && find . -mindepth 1 | sort); }

# same_list EXPECTED-FILE ACTUAL-FILE: equal, or show the difference
same_list() { diff -u "$1" "$2"; }

# ---- checks ------------------------------------------------------------

# shellcheck disable=SC2317	# the check functions are called via check()
build_exclusive_kernel() {
	local k re

	# shellcheck disable=SC1091
	re=$(set +u; . ./dkms.conf && echo "$BUILD_EXCLUSIVE_KERNEL")
	echo "BUILD_EXCLUSIVE_KERNEL=$re"
	for k in 6.1 6.1.0-57-amd64 6.9.12 6.12.118+deb12-amd64 \
		 6.12.118+deb12-rt-amd64 6.19.0 7.3.0-rc7 10.0 10.0.1; do
		[[ $k =~ $re ]] || { echo "$k should match"; return 1; }
	done
	for k in 6.0 6.0.12-amd64 5.15.0-100-generic 4.19.0 6 7 6.01; do
		[[ ! $k =~ $re ]] || { echo "$k should not match"; return 1; }
	done
}

install_bare() {
	local d=$tmp/bare

	mkdir -p "$d"
	make install DESTDIR="$d" KVER="$install_kver" || return 1
	printf '%s\n' ./lib ./lib/modules "./lib/modules/$install_kver" \
		"./lib/modules/$install_kver/updates" \
		"./lib/modules/$install_kver/updates/af_demo.ko" \
		./usr ./usr/bin ./usr/bin/demo-ss ./usr/include ./usr/include/linux \
		./usr/include/linux/af_demo.h ./usr/include/linux/af_demo_diag.h \
		./usr/share ./usr/share/man \
		./usr/share/man/man7 ./usr/share/man/man7/af_demo.7 \
		./usr/share/man/man8 ./usr/share/man/man8/demo-ss.8 |
		sort >"$tmp/bare.expected"
	files "$d" >"$tmp/bare.actual"
	same_list "$tmp/bare.expected" "$tmp/bare.actual"
}

installed_module() {
	local ko=$tmp/bare/lib/modules/$install_kver/updates/af_demo.ko vm

	vm=$(modinfo -F vermagic "$ko") || return 1
	echo "vermagic: $vm"
	[ "${vm%% *}" = "$install_kver" ] || return 1
	[ "$(modinfo -F version "$ko")" = "$version" ] || return 1
	modinfo -F alias "$ko" | grep -qx 'net-pf-22'
}

installed_header_compiles() {
	cat >"$tmp/hdr.c" <<'EOF'
#include <stddef.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/af_demo.h>
#include <linux/af_demo_diag.h>

int main(void)
{
	struct sockaddr_demo sa = { .sdemo_family = AF_DEMO };
	struct demo_diag_req req = { .sdiag_family = AF_DEMO };

	return sizeof(sa) != sizeof(struct sockaddr_in) ||
	       sizeof(struct demohdr) != 12 || SOL_DEMO != 299 ||
	       DEMOPROTO_SEQPACKET != 2 || req.sdiag_protocol != 0 ||
	       sizeof(struct demo_diag_msg) != 40 ||
	       DEMO_DIAG_INFO != 3 || sizeof(struct demo_info) != 152;
}
EOF
	cc -Wall -Werror -I"$tmp/bare/usr/include" -o "$tmp/hdr" "$tmp/hdr.c" &&
		"$tmp/hdr"
}

installed_demo_ss() {
	local ss=$tmp/bare/usr/bin/demo-ss out rc=0

	[ -x "$ss" ] || return 1
	"$ss" --help | grep -q '^Usage: demo-ss' || return 1
	[ -e /sys/module/af_demo ] && { echo "af_demo is loaded: --help only"; return 0; }
	out=$("$ss" -an 2>&1) || rc=$?
	echo "demo-ss -an: exit $rc: $out"
	[ "$rc" = 1 ] && [[ $out == *"is af_demo loaded?"* ]]
}

uninstall_bare() {
	make uninstall DESTDIR="$tmp/bare" KVER="$install_kver" || return 1
	files "$tmp/bare" >"$tmp/bare.after"
	same_list /dev/null "$tmp/bare.after"
}

# A DESTDIR that looks like an installed kernel's module tree.
depmod_tree() {
	local d=$tmp/tree m=/lib/modules/$install_kver f

	mkdir -p "$d$m"
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		cp "$m/$f" "$d$m/" || return 1
	done
	/sbin/depmod -b "$d" -a "$install_kver" || return 1
	files "$d" >"$tmp/tree.before"
}

install_depmod() {
	local d=$tmp/tree m=/lib/modules/$install_kver

	depmod_tree || return 1
	make install DESTDIR="$d" KVER="$install_kver" || return 1
	grep -q '^updates/af_demo.ko:' "$d$m/modules.dep" &&
		grep -q '^alias net-pf-22 af_demo$' "$d$m/modules.alias"
}

uninstall_depmod() {
	local d=$tmp/tree m=/lib/modules/$install_kver

	make uninstall DESTDIR="$d" KVER="$install_kver" || return 1
	files "$d" >"$tmp/tree.after"
	same_list "$tmp/tree.before" "$tmp/tree.after" || return 1
	! grep -q 'af_demo' "$d$m/modules.dep" "$d$m/modules.alias"
}

dkms_install() {
	local d=$tmp/dkmssrc s=./usr/src/af_demo-$version f

	mkdir -p "$d"
	make dkms-install DESTDIR="$d" || return 1
	{
		printf '%s\n' ./usr ./usr/src "$s" "$s/include" "$s/include/uapi" \
			"$s/include/uapi/linux" "$s/include/uapi/linux/af_demo.h" \
			"$s/include/uapi/linux/af_demo_diag.h" \
			"$s/dkms.conf" "$s/Kbuild" "$s/VERSION"
		for f in af_demo.c demo_*.c demo_*.h; do
			echo "$s/$f"
		done
	} | sort >"$tmp/dkmssrc.expected"
	files "$d" >"$tmp/dkmssrc.actual"
	same_list "$tmp/dkmssrc.expected" "$tmp/dkmssrc.actual"
}

dkms_uninstall() {
	make dkms-uninstall DESTDIR="$tmp/dkmssrc" || return 1
	[ ! -e "$tmp/dkmssrc/usr/src/af_demo-$version" ]
}

deb=build/deb/af-demo-dkms_${version}_all.deb

deb_contents() {
	local list=$tmp/deb.list p

	dpkg-deb -c "$deb" | awk '{ print $NF }' >"$list" || return 1
	cat "$list"
	for p in "./usr/src/af_demo-$version/dkms.conf" \
		 "./usr/src/af_demo-$version/Kbuild" \
		 "./usr/src/af_demo-$version/VERSION" \
		 "./usr/src/af_demo-$version/af_demo.c" \
		 "./usr/src/af_demo-$version/include/uapi/linux/af_demo.h" \
		 ./usr/include/linux/af_demo.h \
		 ./usr/include/linux/af_demo_diag.h \
		 ./usr/share/man/man7/af_demo.7.gz; do
		grep -qxF "$p" "$list" || { echo "missing: $p"; return 1; }
	done
	! grep -q -e selftests -e '\.ko$' -e '/Makefile$' "$list" || return 1
	[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] &&
		dpkg-deb -f "$deb" Depends | grep -q dkms
}

dkms_build() {
	local k=$1 root=$tmp/root opts ko vm

	opts=(--sourcetree "$root/usr/src" --dkmstree "$tmp/dkms")
	# The signing key, if dkms signs, is made here, not in /var/lib/dkms.
	export mok_signing_key=$tmp/mok.key mok_certificate=$tmp/mok.pub
	if [ ! -d "$tmp/dkms/af_demo/$version" ]; then
		mkdir -p "$root" "$tmp/dkms"
		dpkg-deb -x "$deb" "$root" || return 1
		dkms add -m af_demo -v "$version" "${opts[@]}" || return 1
	fi
	dkms build -m af_demo -v "$version" -k "$k" "${opts[@]}"
	local rc=$? log

	# The make log: in build/ on failure, with the built module after.
	log=$(find "$tmp/dkms/af_demo/$version/build/make.log" \
		   "$tmp/dkms/af_demo/$version/$k" -name make.log 2>/dev/null | head -n 1)
	[ -z "$log" ] || cat "$log"
	[ "$rc" = 0 ] || return 1
	ko=$(find "$tmp/dkms/af_demo/$version/$k" -name 'af_demo.ko*' | head -n 1)
	[ -n "$ko" ] || { echo "no af_demo.ko for $k"; return 1; }
	vm=$(modinfo -F vermagic "$ko") || return 1
	echo "$ko: vermagic $vm"
	[ "${vm%% *}" = "$k" ] || return 1
	# af_demo.ko only: no test modules in the DKMS build.
	[ -n "$log" ] && grep -q 'af_demo\.ko' "$log" && ! grep -q 'demo_protosw_test\|demo_kunit' "$log"
}

# ---- run ---------------------------------------------------------------

dkms_before=$(find /var/lib/dkms 2>/dev/null | sort)

check version_agrees make check-version
check man_lint make man-lint
check build_exclusive_kernel build_exclusive_kernel
if [ -n "$install_kver" ] && check install_bare install_bare; then
	check "installed_module_$install_kver" installed_module
	check installed_header_compiles installed_header_compiles
	check installed_demo_ss installed_demo_ss
	check uninstall_bare uninstall_bare
	check install_depmod install_depmod && check uninstall_depmod uninstall_depmod
elif [ -z "$install_kver" ]; then
	check install_bare sh -c 'echo "no kernel of the test matrix is installed"; false'
fi
check dkms_install dkms_install && check dkms_uninstall dkms_uninstall
if check deb_build make deb && check deb_contents deb_contents; then
	for k in "${dkms_kvers[@]}"; do
		check "dkms_build_$k" dkms_build "$k"
	done
fi
check host_dkms_untouched \
	diff -u <(echo "$dkms_before") <(find /var/lib/dkms 2>/dev/null | sort)

echo "# $passed passed, $failed failed"
[ "$failed" = 0 ]
