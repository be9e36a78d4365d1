#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Print "kvm" if a vng guest comes up and exits under KVM within a short
# bound, else "tcg".  Nested KVM can hang instead of failing, so /dev/kvm
# existing proves nothing.  The answer is cached per boot of the host.
#   kvm-probe.sh KERNEL
set -u
kernel=${1:?usage: kvm-probe.sh KERNEL}
cache=/run/afdemo-kvm-probe
[ -w /run ] || cache=${TMPDIR:-/tmp}/afdemo-kvm-probe.$(id -u)
if [ -s "$cache" ]; then
	cat "$cache"
	exit 0
fi
answer=tcg
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	if (cd / && timeout -k 5 "${AFDEMO_KVM_PROBE_SECS:-45}" \
		vng --run "$kernel" --force-9p --exec 'exit 7' \
		</dev/null >/dev/null 2>&1); [ $? = 7 ]; then
		answer=kvm
	fi
fi
echo "$answer" >"$cache"
echo "$answer"
