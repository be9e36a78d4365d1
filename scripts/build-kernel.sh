#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse from the cache) a kernel for the test VM, bootable by the
# harness (scripts/vm-run.sh) and by virtme-ng (vng --run):
#   debug     Debian's linux-source-6.12 with KASAN, lockdep, kmemleak,
#             KFENCE, UBSAN, debug objects, fault injection and KUnit;
#   mainline  the newest linux-source-N.M in Debian's archive (experimental
#             included, through scripts/apt-private.sh), a small non-debug
#             configuration.
# Both start from allnoconfig with everything the guest needs built in.
# See usage().  Progress goes to stderr; stdout gets only the result lines.
set -euo pipefail

me=build-kernel
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
	[ "${1:-2}" = 0 ] || exec >&2
	cat <<EOF
Usage: $me.sh FLAVOUR [--print]
  FLAVOUR   debug     linux-source-6.12 with the debug options (KASAN, ...)
            mainline  the newest linux-source-N.M in Debian's archive
                      (scripts/apt-private.sh newest-source), non-debug
  Build the kernel if it is not in the cache, then print (last lines of
  stdout, for eval):
    BZIMAGE=<bzImage>  KDIR=<build dir, O=>  KSRC=<source dir>  KVER=<release>
  Out-of-tree modules: make -C \$KDIR M=<dir> modules
                   (or make -C \$KSRC O=\$KDIR M=<dir> modules)
  Boot: scripts/vm-run.sh -K \$BZIMAGE -- CMD
        vng --run \$KDIR --disable-kvm --exec CMD   (from cwd /)
  --print   print the lines only; exit 1 if the kernel is not built yet
Cache: \${AFDEMO_CACHE:-/var/cache/af_demo}/FLAVOUR-kernel/<key>/, the key a
hash of this script (its config fragments), the linux-source package and
its version, and gcc.
Env: AFDEMO_LINUX_SOURCE (debug; default /usr/src/linux-source-6.12.tar.xz),
AFDEMO_KERNEL_JOBS (default: nproc).
EOF
	exit "${1:-2}"
}

flavour=''
print_only=''
for arg in "$@"; do
	case $arg in
	debug|mainline) [ -z "$flavour" ] || usage; flavour=$arg ;;
	--print) print_only=1 ;;
	-h|--help) usage 0 ;;
	*) usage ;;
	esac
done
[ -n "$flavour" ] || usage

log() { echo "$me($flavour): $*" >&2; }
die() { echo "$me($flavour): FAIL: $*" >&2; exit 1; }

# The source: a tarball on this machine (debug) or the linux-source .deb
# from the archive, extracted at build time without installing it
# (mainline).
case $flavour in
debug)
	tarball=${AFDEMO_LINUX_SOURCE:-/usr/src/linux-source-6.12.tar.xz}
	pkg=linux-source-6.12
	[ -r "$tarball" ] || die "cannot read $tarball (apt-get install $pkg)"
	pkgver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || echo unknown)
	srcid=$(stat -L -c '%s %Y' "$tarball")
	;;
mainline)
	tarball=''
	read -r pkg pkgver < <("$here/apt-private.sh" newest-source) ||
		die "scripts/apt-private.sh newest-source failed"
	if [ -z "$pkg" ] || [ -z "$pkgver" ]; then
		die "no linux-source-N.M found"
	fi
	srcid=''
	;;
esac

# ---------------------------------------------------------------------------
# The configuration: "make allnoconfig" with the flavour's fragment (the
# common part, then the flavour's own) as its base (KCONFIG_ALLCONFIG), then
# every line of it is checked in the result.  Every line is required: an
# option Kconfig dropped fails the build.

# Both flavours: a 64-bit SMP x86 QEMU guest, what virtme-ng needs to boot
# it (vng --run) and what the tests need.
fragment_common() {
	cat <<'EOF2'
# -- base: a 64-bit SMP x86 QEMU guest (virtio-pci, serial).  ACPI: vng's
# guest init powers off with "poweroff -f", and QEMU ends only through
# ACPI; vm-run.sh boots with acpi=noirq (the AML interpreter is slow under
# TCG), SMP still comes from the MP table.
CONFIG_64BIT=y
CONFIG_SMP=y
CONFIG_NR_CPUS=8
# CONFIG_LOCALVERSION_AUTO is not set
CONFIG_NO_HZ_IDLE=y
CONFIG_HIGH_RES_TIMERS=y
CONFIG_KERNEL_GZIP=y
CONFIG_BLK_DEV_INITRD=y
CONFIG_RD_GZIP=y
CONFIG_BINFMT_ELF=y
CONFIG_BINFMT_SCRIPT=y
CONFIG_MULTIUSER=y
CONFIG_FUTEX=y
CONFIG_EPOLL=y
CONFIG_POSIX_TIMERS=y
CONFIG_MODULES=y
CONFIG_MODULE_UNLOAD=y
# CONFIG_MODVERSIONS is not set
# CONFIG_MODULE_SIG is not set
CONFIG_PRINTK=y
CONFIG_PRINTK_TIME=y
CONFIG_MAGIC_SYSRQ=y
CONFIG_KALLSYMS=y
CONFIG_STACKTRACE=y
CONFIG_UNWINDER_ORC=y
CONFIG_STACKPROTECTOR=y
CONFIG_STACKPROTECTOR_STRONG=y
CONFIG_VMAP_STACK=y
CONFIG_FORTIFY_SOURCE=y
# uninitialised stack variables read as 0xAA.. rather than silently as 0
CONFIG_INIT_STACK_ALL_PATTERN=y
# CONFIG_PANIC_ON_OOPS is not set
CONFIG_X86_MPPARSE=y
CONFIG_ACPI=y
CONFIG_PCI=y
CONFIG_PCI_MSI=y
CONFIG_VIRTIO_MENU=y
CONFIG_VIRTIO=y
CONFIG_VIRTIO_PCI=y
CONFIG_HW_RANDOM=y
CONFIG_HW_RANDOM_VIRTIO=y
CONFIG_TTY=y
CONFIG_UNIX98_PTYS=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_RTC_CLASS=y
CONFIG_RTC_HCTOSYS=y
CONFIG_RTC_DRV_CMOS=y
# -- virtme-ng (vng --run): its --exec I/O goes through virtio-serial ports
# (/dev/virtio-ports/*), its init watches with inotify; no DRM, sound,
# SCSI, virtio-fs or vsock (it falls back to 9p for the root)
CONFIG_VIRTIO_CONSOLE=y
CONFIG_INOTIFY_USER=y
CONFIG_EARLY_PRINTK=y
# CONFIG_UEVENT_HELPER is not set
# CONFIG_CMDLINE_OVERRIDE is not set
# -- filesystems: 9p root, tmpfs/overlay /tmp, proc, sys, debugfs, tracefs,
# cgroup2
CONFIG_PROC_FS=y
CONFIG_SYSFS=y
CONFIG_SYSCTL=y
CONFIG_DEVTMPFS=y
CONFIG_DEVTMPFS_MOUNT=y
CONFIG_SHMEM=y
CONFIG_TMPFS=y
CONFIG_TMPFS_XATTR=y
CONFIG_OVERLAY_FS=y
CONFIG_DEBUG_FS=y
CONFIG_FTRACE=y
CONFIG_ENABLE_DEFAULT_TRACERS=y
CONFIG_CGROUPS=y
CONFIG_NETWORK_FILESYSTEMS=y
CONFIG_NET_9P=y
CONFIG_NET_9P_VIRTIO=y
CONFIG_9P_FS=y
EOF2
}

# debug: Debian's 6.12 with the checkers the Debian kernels lack.
fragment_debug() {
	cat <<'EOF2'
CONFIG_LOCALVERSION="-afdemo-debug"
CONFIG_PREEMPT=y
# 6.12's /proc/sys switch (7.x: part of CONFIG_SYSCTL)
CONFIG_PROC_SYSCTL=y
# -- debugging
CONFIG_DEBUG_KERNEL=y
CONFIG_DEBUG_INFO_NONE=y
CONFIG_KALLSYMS_ALL=y
CONFIG_KASAN=y
CONFIG_KASAN_GENERIC=y
CONFIG_KASAN_INLINE=y
CONFIG_KASAN_VMALLOC=y
CONFIG_SLUB_DEBUG=y
CONFIG_PROVE_LOCKING=y
CONFIG_DEBUG_ATOMIC_SLEEP=y
CONFIG_DEBUG_PREEMPT=y
CONFIG_DEBUG_KMEMLEAK=y
# CONFIG_DEBUG_KMEMLEAK_AUTO_SCAN is not set
# CONFIG_DEBUG_KMEMLEAK_DEFAULT_OFF is not set
CONFIG_KFENCE=y
CONFIG_UBSAN=y
CONFIG_UBSAN_BOUNDS=y
CONFIG_UBSAN_SHIFT=y
CONFIG_UBSAN_DIV_ZERO=y
CONFIG_UBSAN_BOOL=y
CONFIG_UBSAN_ENUM=y
# CONFIG_UBSAN_ALIGNMENT is not set
# CONFIG_UBSAN_TRAP is not set
CONFIG_DEBUG_OBJECTS=y
CONFIG_DEBUG_OBJECTS_FREE=y
CONFIG_DEBUG_OBJECTS_TIMERS=y
CONFIG_DEBUG_OBJECTS_WORK=y
CONFIG_DEBUG_OBJECTS_RCU_HEAD=y
CONFIG_DEBUG_LIST=y
CONFIG_DEBUG_NET=y
CONFIG_NET_DEV_REFCNT_TRACKER=y
CONFIG_NET_NS_REFCNT_TRACKER=y
CONFIG_DETECT_HUNG_TASK=y
# TCG guests share 2 host CPUs: no false stall reports under load
CONFIG_RCU_CPU_STALL_TIMEOUT=60
CONFIG_FAULT_INJECTION=y
CONFIG_FAILSLAB=y
CONFIG_FAIL_PAGE_ALLOC=y
CONFIG_FAULT_INJECTION_DEBUG_FS=y
CONFIG_FAULT_INJECTION_STACKTRACE_FILTER=y
CONFIG_KUNIT=y
CONFIG_KUNIT_DEBUGFS=y
# CONFIG_KUNIT_ALL_TESTS is not set
EOF2
}

# mainline: the newest kernel as it comes, without debug options (the
# preemption model is Kconfig's default: newer kernels restrict the
# choice on x86).
fragment_mainline() {
	cat <<'EOF2'
CONFIG_LOCALVERSION="-afdemo-mainline"
# TCG guests share 2 host CPUs: no false stall reports under load
CONFIG_RCU_CPU_STALL_TIMEOUT=60
EOF2
}

# The fragment: the common part, what the tests need (selftests/config,
# the kselftest config file a tree of one's own is configured with too),
# then the flavour's own part.
tests_config=$here/../selftests/config
fragment() {
	fragment_common
	echo "# -- what the tests need: selftests/config"
	cat "$tests_config"
	"fragment_$flavour"
}

# ---------------------------------------------------------------------------
cache=${AFDEMO_CACHE:-/var/cache/af_demo}
xdg_cache=${XDG_CACHE_HOME:-$HOME/.cache}/af_demo
if [ -n "$print_only" ]; then
	[ -d "$cache/$flavour-kernel" ] || [ ! -d "$xdg_cache/$flavour-kernel" ] ||
		cache=$xdg_cache
elif ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
	cache=$xdg_cache
	mkdir -p "$cache"
fi
base=$cache/$flavour-kernel
[ -n "$print_only" ] || mkdir -p "$base"

key=$({
	cat "${BASH_SOURCE[0]}" "$tests_config"
	echo "$flavour $pkg $pkgver"
	echo "$srcid"
	gcc --version 2>/dev/null | head -n1
} | sha256sum | cut -c1-16)
dir=$base/$key

result() {
	local kver
	kver=$(cat "$dir/build/include/config/kernel.release")
	echo "BZIMAGE=$dir/build/arch/x86/boot/bzImage"
	echo "KDIR=$dir/build"
	echo "KSRC=$dir/src"
	echo "KVER=$kver"
}

# Complete iff the directory exists: it is renamed into place last.
if [ -d "$dir" ]; then
	if [ -z "$print_only" ]; then
		log "reusing the cached kernel $dir"
		touch "$dir" 2>/dev/null || true
	fi
	result
	exit 0
fi
if [ -n "$print_only" ]; then
	log "not built yet ($dir); run $me.sh $flavour without --print"
	exit 1
fi

# Host tools the build needs (libelf-dev: objtool, for ORC and noinstr).
missing=''
for t in gcc make flex bison bc perl gzip xz tar flock dpkg-deb; do
	command -v "$t" >/dev/null || missing+=" $t"
done
[ -e /usr/include/gelf.h ] || missing+=" libelf-dev"
[ -z "$missing" ] || die "missing build tools:$missing (apt-get install build-essential flex bison bc libelf-dev)"

# One build at a time per cache; a second caller waits, then reuses it.
exec 9>"$base/.lock"
if ! flock -n 9; then
	log "another $flavour kernel build is running; waiting for it"
	flock 9
fi
if [ -d "$dir" ]; then
	log "reusing the kernel just built by another process: $dir"
	result
	exit 0
fi

# With the lock held, any temporary build directory is a leftover.
rm -rf "$base"/.tmp-* 2>/dev/null || true
tmp=$base/.tmp-$key-$$
mpid='' ppid=''
cleanup() {
	# make runs in its own session (setsid): stop all of it.
	[ -z "$mpid" ] || kill -TERM -- "-$mpid" 2>/dev/null || true
	[ -z "$ppid" ] || kill "$ppid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
mkdir -p "$tmp/src" "$tmp/build"

jobs=${AFDEMO_KERNEL_JOBS:-$(nproc)}
SECONDS=0
stage() { log "[$(printf '%4d' "$SECONDS")s] $*"; }

if [ -n "$tarball" ]; then
	stage "extracting $tarball ($pkg $pkgver) into $dir/src"
	tar -xf "$tarball" -C "$tmp/src" --strip-components=1
else
	# The package is not installed: its .deb holds the source tarball
	# under usr/src/.
	stage "downloading $pkg $pkgver"
	deb=$("$here/apt-private.sh" download "$tmp/deb" "$pkg=$pkgver" | tail -n 1)
	[ -s "$deb" ] || die "no .deb downloaded for $pkg=$pkgver"
	stage "extracting $(basename "$deb") into $dir/src"
	dpkg-deb --fsys-tarfile "$deb" |
		tar -xO --wildcards './usr/src/linux-source-*.tar.*' |
		tar -xJ -C "$tmp/src" --strip-components=1
	rm -rf "$tmp/deb"
	[ -e "$tmp/src/Makefile" ] || die "no kernel source in $deb"
fi

kmake() { make -s -C "$tmp/src" O="$tmp/build" "$@"; }

stage "configuring (allnoconfig + fragment)"
fragment >"$tmp/fragment.config"
kmake KCONFIG_ALLCONFIG="$tmp/fragment.config" allnoconfig >/dev/null
cfg=$tmp/build/.config
bad=''
while IFS= read -r line; do
	case $line in
	'# CONFIG_'*' is not set')
		opt=${line#\# }
		opt=${opt%% *}
		if grep -q "^$opt=" "$cfg"; then
			bad+=" $opt($(grep "^$opt=" "$cfg" | cut -d= -f2-)!=n)"
		fi
		;;
	CONFIG_*=*)
		opt=${line%%=*}
		grep -qxF -- "$line" "$cfg" ||
			bad+=" $opt($(grep "^$opt=" "$cfg" | cut -d= -f2- || echo unset)!=${line#*=})"
		;;
	esac
done <"$tmp/fragment.config"
[ -z "$bad" ] || die "Kconfig did not take these options (unmet dependencies?):$bad"
stage "config verified: $(grep -c '^CONFIG_' "$tmp/fragment.config") fragment options as required"

# The kernel, Module.symvers and everything an M= build needs.
stage "building $(kmake kernelrelease) with -j$jobs (log: $dir/build.log)"
buildlog=$tmp/build.log
setsid make -C "$tmp/src" O="$tmp/build" -j"$jobs" all modules_prepare \
	>"$buildlog" 2>&1 </dev/null &
mpid=$!
(
	while sleep 30; do
		n=$(grep -c -E '^  (CC|AS|LD|AR)' "$buildlog" 2>/dev/null || true)
		stage "building: ${n:-0} objects so far"
	done
) &
ppid=$!
mrc=0
wait "$mpid" || mrc=$?
mpid=''
kill "$ppid" 2>/dev/null || true
wait "$ppid" 2>/dev/null || true
ppid=''
if [ "$mrc" != 0 ]; then
	grep -a -E 'error|Error' "$buildlog" | head -n 20 >&2 || true
	tail -n 20 "$buildlog" >&2
	die "kernel build failed (exit $mrc)"
fi
[ -s "$tmp/build/arch/x86/boot/bzImage" ] || die "no bzImage after the build"
[ -e "$tmp/build/Module.symvers" ] || die "no Module.symvers after the build"

# The O= directory's Makefile and "source" link name the source and build
# trees by absolute path: point them at their final place before the
# rename.  (Newer kernels' Makefile also exports KBUILD_OUTPUT: edit it in
# place rather than rewrite it.)
sed -i -e "s|$tmp/src|$dir/src|g" -e "s|$tmp/build|$dir/build|g" \
	"$tmp/build/Makefile"
ln -sfn "$dir/src" "$tmp/build/source"

mv -T "$tmp" "$dir"
trap - EXIT INT TERM HUP
stage "$flavour kernel built in ${SECONDS} s: $dir"

# Drop other versions' kernels unused for more than a day.
find "$base" -mindepth 1 -maxdepth 1 -type d -name '[0-9a-f]*' \
	! -name "$key" -mtime +0 -exec rm -rf {} + 2>/dev/null || true

result
