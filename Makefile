# SPDX-License-Identifier: GPL-2.0
#
# af_demo: out-of-tree build against one or more installed kernels.
#
#   make                    modules for every kernel of the test matrix
#   make KVER=<version>     modules for one installed kernel
#   make KDIR=<dir>         modules for a kernel build tree
#   make lint               checkpatch --strict and sparse (C=2)
#   make selftests          the userspace test programs
#   make examples           the example programs
#   make clean
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

MODULE_SRCS := Kbuild af_demo.c demo_proto.c demo_proto.h demo_compat.h \
	       demo_port.c demo_dgram.c demo_raw.c demo_proc.c demo_sysctl.c \
	       demo_seqpacket.h demo_seqpacket.c demo_seq_input.c \
	       demo_seq_output.c
TEST_MODULE_SRCS := selftests/demo_protosw_test.c selftests/demo_kunit.c

# Module warnings are errors: the code must be clean with W=1.
W ?= 1
KBUILD_FLAGS := W=$(W) KCFLAGS=-Werror

# checkpatch.pl comes from Debian's linux-source package at build time.
LINUX_SOURCE_TAR ?= $(wildcard /usr/src/linux-source-6.12.tar.xz)
TOOLS := $(BUILD)/tools
CHECKPATCH := $(TOOLS)/scripts/checkpatch.pl

.PHONY: all modules lint checkpatch sparse selftests examples clean FORCE

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
# than some kernel headers it reads.  A kernel that finds sparse too old
# for it (newer ones, 7.3 here, want __typeof_unqual__, which Debian 12's
# sparse 0.6.4 lacks) skips the check with a mere warning: that is a
# failure, not a pass.
sparse-%: modules-% FORCE
	$(MAKE) -C $(call kdir,$*) M=$(BUILD)/$* $(KBUILD_FLAGS) C=2 modules \
		> $(BUILD)/$*/sparse.log 2>&1
	@! grep 'not available or not up to date' $(BUILD)/$*/sparse.log || \
		{ echo "sparse did not run: $$(sparse --version 2>/dev/null) is too old for $*" >&2; exit 1; }
	@! grep -E '^$(BUILD)/$*/[^:]*:[0-9]+:[0-9]+: (warning|error):' \
		$(BUILD)/$*/sparse.log

$(CHECKPATCH):
	@test -n "$(LINUX_SOURCE_TAR)" || { echo "linux-source-6.12 is not installed" >&2; exit 1; }
	@mkdir -p $(TOOLS)
	tar -xJf $(LINUX_SOURCE_TAR) -C $(TOOLS) --strip-components=1 \
		linux-source-6.12/scripts/checkpatch.pl \
		linux-source-6.12/scripts/spelling.txt \
		linux-source-6.12/scripts/const_structs.checkpatch
	@touch $@

# CONST_STRUCT: the proto_ops carry the family chosen at load time, so they
# are __ro_after_init rather than const.
checkpatch: $(CHECKPATCH)
	$(CHECKPATCH) --strict --no-tree --show-types --terse \
		--ignore CONST_STRUCT \
		-f $(filter %.c %.h,$(MODULE_SRCS) $(TEST_MODULE_SRCS)) \
		include/uapi/linux/af_demo.h

lint: checkpatch sparse

selftests:
	$(MAKE) -C selftests

examples: $(BUILD)/examples/demo_echo

$(BUILD)/examples/%: examples/%.c include/uapi/linux/af_demo.h
	@mkdir -p $(dir $@)
	$(CC) -Wall -Wextra -Werror -O2 -Iinclude/uapi -o $@ $<

clean:
	rm -rf $(BUILD)
	-$(MAKE) -C selftests clean
