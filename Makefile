# SPDX-License-Identifier: GPL-2.0
#
# af_demo: out-of-tree build against one or more installed kernels.
#
#   make                    modules for every kernel of the test matrix
#   make KVER=<version>     modules for one installed kernel
#   make KDIR=<dir>         modules for a kernel build tree
#   make lint               checkpatch --strict, kernel-doc, sparse (C=2),
#                           man-lint
#   make selftests          the userspace test programs (and the tools,
#                           which demo_diag runs)
#   make examples           the example programs
#   make tools              the user tools: demo-ss, in build/bin/, and
#                           demo_bench (the benchmark, scripts/bench.sh)
#   make clean
#
# Installation, for one kernel: KVER (default: the running kernel, uname -r)
# or KDIR. DESTDIR is honoured throughout.
#
#   make install            af_demo.ko in /lib/modules/<kver>/updates (then
#                           depmod), the uapi headers, the man page, and
#                           demo-ss with its man page; it installs what make
#                           built (builds if nothing is)
#   make uninstall          removes exactly those (then depmod)
#   make dkms-install       the DKMS source tree, /usr/src/af_demo-<version>
#   make dkms-uninstall
#   make deb                the af-demo-dkms package, in build/deb/
#   make man-lint           mandoc -Tlint on the man pages
#   make check-version      VERSION, dkms.conf and debian/changelog agree
#
# Each kernel gets its own build directory, build/<version>, holding links
# to the sources, because kbuild writes its objects next to them.

SRC := $(CURDIR)
BUILD := $(SRC)/build

ifneq ($(KDIR),)
KVER ?= $(shell $(MAKE) -s -C $(KDIR) kernelrelease 2>/dev/null)
ifeq ($(KVER),)
$(error cannot read the kernel release of KDIR=$(KDIR))
endif
KVERS := $(KVER)
else ifneq ($(KVER),)
KVERS := $(KVER)
else
KVERS := $(shell $(SRC)/scripts/kernels.sh)
endif
kdir = $(or $(KDIR),/lib/modules/$(1)/build)

MODULE_SRCS := Kbuild VERSION af_demo.c demo_proto.c demo_proto.h demo_compat.h \
	       demo_port.c demo_dgram.c demo_raw.c demo_proc.c demo_sysctl.c \
	       demo_seqpacket.h demo_seqpacket.c demo_seq_input.c \
	       demo_seq_output.c demo_seq_cc.c demo_trace.h demo_trace.c demo_diag.c
TEST_MODULE_SRCS := selftests/demo_protosw_test.c selftests/demo_kunit.c
# The userspace ABI: the family's and its sock_diag interface's.
UAPI_HDRS := include/uapi/linux/af_demo.h include/uapi/linux/af_demo_diag.h

# Module warnings are errors: the code must be clean with W=1.
W ?= 1
KBUILD_FLAGS := W=$(W) KCFLAGS=-Werror

# checkpatch.pl comes from Debian's linux-source package at build time.
LINUX_SOURCE_TAR ?= $(wildcard /usr/src/linux-source-6.12.tar.xz)
TOOLS := $(BUILD)/tools
CHECKPATCH := $(TOOLS)/scripts/checkpatch.pl

.PHONY: all modules lint checkpatch kernel-doc sparse selftests examples tools clean \
	FORCE install uninstall install-module uninstall-module install-headers \
	uninstall-headers install-man uninstall-man install-tools \
	uninstall-tools dkms-install \
	dkms-uninstall deb man-lint check-version

all: modules

modules: $(addprefix modules-,$(KVERS))
	@test -n "$(strip $(KVERS))" || \
		{ echo "no kernel headers found; set KVER or KDIR" >&2; exit 1; }

# Link the sources into build/<version> and run kbuild there.
modules-%: FORCE
	@mkdir -p $(BUILD)/$*/selftests
	@for f in $(MODULE_SRCS) $(TEST_MODULE_SRCS); do \
		ln -sfn $(SRC)/$$f $(BUILD)/$*/$$f; done
	@ln -sfn $(SRC)/include $(BUILD)/$*/include
	$(MAKE) -C $(call kdir,$*) M=$(BUILD)/$* $(KBUILD_FLAGS) modules

sparse: $(addprefix sparse-,$(KVERS))
	@test -n "$(strip $(KVERS))" || \
		{ echo "no kernel headers found; set KVER or KDIR" >&2; exit 1; }

# Only reports located in our own sources count: Debian's sparse is older
# than some kernel headers it reads.  Newer kernels (7.x) want
# __typeof_unqual__, which Debian 12's sparse 0.6.4 lacks:
# scripts/sparse.sh then builds Debian's newer one.  A kernel that still
# finds sparse too old skips the check with a mere warning: that is a
# failure, not a pass.
sparse-%: modules-% FORCE
	@sparse=$$($(SRC)/scripts/sparse.sh $(call kdir,$*)) && \
	echo "sparse: $$sparse" && \
	$(MAKE) -C $(call kdir,$*) M=$(BUILD)/$* $(KBUILD_FLAGS) C=2 \
		CHECK="$$sparse" modules > $(BUILD)/$*/sparse.log 2>&1
	@! grep 'not available or not up to date' $(BUILD)/$*/sparse.log || \
		{ echo "sparse did not run: it is too old for $*" >&2; exit 1; }
	@! grep -E '^$(BUILD)/$*/[^:]*:[0-9]+:[0-9]+: (warning|error):' \
		$(BUILD)/$*/sparse.log

$(CHECKPATCH):
	@test -n "$(LINUX_SOURCE_TAR)" || { echo "linux-source-6.12 is not installed" >&2; exit 1; }
	@mkdir -p $(TOOLS)
	tar -xJf $(LINUX_SOURCE_TAR) -C $(TOOLS) --strip-components=1 \
		linux-source-6.12/scripts/checkpatch.pl \
		linux-source-6.12/scripts/spelling.txt \
		linux-source-6.12/scripts/const_structs.checkpatch \
		linux-source-6.12/scripts/kernel-doc
	@touch $@

# CONST_STRUCT: the proto_ops carry the family chosen at load time, so they
# are __ro_after_init rather than const.  The trace header is written in
# the TRACE_EVENT() idiom of include/trace/events/, whose layout and EM()
# lists checkpatch reports in every in-tree trace header: those types are
# ignored for it alone.
TRACE_HDRS := demo_trace.h
TRACE_HDR_IGNORE := COMPLEX_MACRO,CAMELCASE,TRAILING_SEMICOLON,MACRO_ARG_REUSE,$\
	MACRO_ARG_PRECEDENCE,PARENTHESIS_ALIGNMENT,OPEN_ENDED_LINE
checkpatch: $(CHECKPATCH)
	$(CHECKPATCH) --strict --no-tree --show-types --terse \
		--ignore CONST_STRUCT \
		-f $(filter-out $(TRACE_HDRS),$(filter %.c %.h,$(MODULE_SRCS) $(TEST_MODULE_SRCS))) \
		$(UAPI_HDRS)
	$(CHECKPATCH) --strict --no-tree --show-types --terse \
		--ignore CONST_STRUCT,$(TRACE_HDR_IGNORE) -f $(TRACE_HDRS)

# kernel-doc comments: every warning (-Wall) fails.
KERNEL_DOC := $(TOOLS)/scripts/kernel-doc
kernel-doc: $(CHECKPATCH)
	@out=$$(perl $(KERNEL_DOC) -none -Wall $(filter %.c %.h,$(MODULE_SRCS)) \
		$(UAPI_HDRS) 2>&1); \
	[ -z "$$out" ] || { echo "$$out"; exit 1; }

lint: checkpatch kernel-doc sparse man-lint

selftests: tools
	$(MAKE) -C selftests

examples: $(BUILD)/examples/demo_echo

$(BUILD)/examples/%: examples/%.c include/uapi/linux/af_demo.h
	@mkdir -p $(dir $@)
	$(CC) -Wall -Wextra -Werror -O2 -Iinclude/uapi -o $@ $<

# User tools, one directory each under tools/, built into build/bin/.
TOOL_PROGS := demo-ss
tools: $(addprefix $(BUILD)/bin/,$(TOOL_PROGS)) $(BUILD)/bin/demo_bench

$(BUILD)/bin/demo-ss: tools/demo-ss/demo-ss.c $(UAPI_HDRS)
	@mkdir -p $(dir $@)
	$(CC) -Wall -Wextra -Werror -O2 -Iinclude/uapi -o $@ $<

# The benchmark (not installed): AF_DEMO against TCP, UDP and SCTP.
$(BUILD)/bin/demo_bench: tools/demo_bench.c selftests/demo_lib.h $(UAPI_HDRS)
	@mkdir -p $(dir $@)
	$(CC) -Wall -Wextra -Werror -O2 -Iinclude/uapi -Iselftests -pthread -o $@ $<

# ---- installation ----------------------------------------------------------

# The project's version: VERSION is the one source; dkms.conf and
# debian/changelog must agree with it (check-version).
VERSION := $(shell cat $(SRC)/VERSION)

# install and uninstall act on one kernel: KVER (set from KDIR above when
# KDIR is given), else the running kernel, not the test matrix.
INSTALL_KVER := $(or $(KVER),$(shell uname -r))
DEPMOD ?= $(firstword $(wildcard /sbin/depmod /usr/sbin/depmod) depmod)
MAN_PAGES := man/af_demo.7
TOOL_MAN_PAGES := man/demo-ss.8

MOD_DIR = $(DESTDIR)/lib/modules/$(INSTALL_KVER)/updates
HDR_DIR = $(DESTDIR)/usr/include/linux
MAN_DIR = $(DESTDIR)/usr/share/man/man7
# demo-ss, as ss(8): in /usr/bin, its page in section 8.
BIN_DIR = $(DESTDIR)/usr/bin
MAN8_DIR = $(DESTDIR)/usr/share/man/man8
DKMS_DIR = $(DESTDIR)/usr/src/af_demo-$(VERSION)
# What a DKMS build needs: Kbuild and the module's sources, no selftests/.
DKMS_SRCS := dkms.conf VERSION $(MODULE_SRCS) $(UAPI_HDRS)

# depmod for INSTALL_KVER: the real tree, or DESTDIR's when it looks like a
# module tree (has modules.order, as an installed kernel has); a bare
# DESTDIR (packaging, tests) is left alone.
define depmod
	@if [ -z "$(DESTDIR)" ]; then \
		echo "$(DEPMOD) -a $(INSTALL_KVER)"; \
		$(DEPMOD) -a $(INSTALL_KVER); \
	elif [ -e "$(DESTDIR)/lib/modules/$(INSTALL_KVER)/modules.order" ]; then \
		echo "$(DEPMOD) -b $(abspath $(DESTDIR)) -a $(INSTALL_KVER)"; \
		$(DEPMOD) -b "$(abspath $(DESTDIR))" -a $(INSTALL_KVER); \
	fi
endef

# rmdir_empty DIR...: remove each DIR that is empty, deepest first.
rmdir_empty = for d in $(1); do [ ! -d "$$d" ] || rmdir "$$d" 2>/dev/null || true; done

install: install-module install-headers install-man install-tools

# As a kernel's modules_install, install installs what "make" built; it
# builds first only when nothing is built for that kernel.
$(BUILD)/%/af_demo.ko:
	$(MAKE) modules-$*

install-module: $(BUILD)/$(INSTALL_KVER)/af_demo.ko
	install -D -m 0644 $(BUILD)/$(INSTALL_KVER)/af_demo.ko $(MOD_DIR)/af_demo.ko
	$(depmod)

install-headers:
	install -d $(HDR_DIR)
	install -m 0644 $(UAPI_HDRS) $(HDR_DIR)/

install-man:
	install -d $(MAN_DIR)
	install -m 0644 $(MAN_PAGES) $(MAN_DIR)/

uninstall: uninstall-module uninstall-headers uninstall-man uninstall-tools

# The directories install may have created go too when empty: updates/
# always (no Debian kernel ships one), the rest only inside DESTDIR.
uninstall-module:
	rm -f $(MOD_DIR)/af_demo.ko
	@$(call rmdir_empty,$(MOD_DIR) $(if $(DESTDIR),$(addprefix $(DESTDIR)/, \
		lib/modules/$(INSTALL_KVER) lib/modules lib)))
	$(depmod)

uninstall-headers:
	rm -f $(addprefix $(HDR_DIR)/,$(notdir $(UAPI_HDRS)))
	@$(if $(DESTDIR),$(call rmdir_empty,$(addprefix $(DESTDIR)/, \
		usr/include/linux usr/include usr)))

uninstall-man:
	rm -f $(addprefix $(MAN_DIR)/,$(notdir $(MAN_PAGES)))
	@$(if $(DESTDIR),$(call rmdir_empty,$(addprefix $(DESTDIR)/, \
		usr/share/man/man7 usr/share/man usr/share usr)))

# Built for the host, as "make tools" does, if nothing is built yet.
install-tools: tools
	install -d $(BIN_DIR) $(MAN8_DIR)
	install -m 0755 $(addprefix $(BUILD)/bin/,$(TOOL_PROGS)) $(BIN_DIR)/
	install -m 0644 $(TOOL_MAN_PAGES) $(MAN8_DIR)/

uninstall-tools:
	rm -f $(addprefix $(BIN_DIR)/,$(TOOL_PROGS)) \
		$(addprefix $(MAN8_DIR)/,$(notdir $(TOOL_MAN_PAGES)))
	@$(if $(DESTDIR),$(call rmdir_empty,$(addprefix $(DESTDIR)/, \
		usr/bin usr/share/man/man8 usr/share/man usr/share usr)))

# The DKMS source tree. Then, as root: dkms install af_demo/$(VERSION).
dkms-install: check-version
	@for f in $(DKMS_SRCS); do \
		echo "install -D -m 0644 $$f $(DKMS_DIR)/$$f"; \
		install -D -m 0644 $$f $(DKMS_DIR)/$$f || exit; done

# Without DESTDIR, first what dkms built and installed from it.
dkms-uninstall:
	@if [ -z "$(DESTDIR)" ] && command -v dkms >/dev/null && \
	    [ -n "$$(dkms status af_demo/$(VERSION) 2>/dev/null)" ]; then \
		echo "dkms remove af_demo/$(VERSION) --all"; \
		dkms remove af_demo/$(VERSION) --all; fi
	rm -rf $(DKMS_DIR)

# The af-demo-dkms package, built from a copy of the tree in build/deb/ so
# that dpkg-buildpackage's output (written to the parent directory) and its
# clean step stay inside build/.
DEB_DIR := $(BUILD)/deb
DEB_SRC := $(DEB_DIR)/af-demo-$(VERSION)
deb: check-version
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_SRC)
	tar -C $(SRC) --exclude=./build --exclude=./.git -cf - . | tar -C $(DEB_SRC) -xf -
	cd $(DEB_SRC) && dpkg-buildpackage -b -us -uc
	rm -rf $(DEB_SRC)
	@ls -l $(DEB_DIR)

MANDOC ?= mandoc
man-lint:
	$(MANDOC) -Tlint -W warning $(MAN_PAGES) $(TOOL_MAN_PAGES)

check-version:
	@dkms=$$(sed -n 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' dkms.conf); \
	deb=$$(sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog); \
	deb=$${deb#*:}; deb=$${deb%-*}; \
	if [ "$$dkms" = "$(VERSION)" ] && [ "$$deb" = "$(VERSION)" ]; then \
		echo "version $(VERSION): VERSION, dkms.conf and debian/changelog agree"; \
	else \
		echo "version mismatch: VERSION $(VERSION), dkms.conf $$dkms, debian/changelog $$deb" >&2; \
		exit 1; \
	fi

clean:
	rm -rf $(BUILD)
	-$(MAKE) -C selftests clean
