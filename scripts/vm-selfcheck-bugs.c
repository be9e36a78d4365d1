// SPDX-License-Identifier: GPL-2.0
/*
 * Test module for vm-selfcheck.sh: provokes one kind of kernel bug on load
 * so that the harness can prove the bug is detected.  Never load it on a
 * real machine.
 *   bug=warn     WARN_ON()                 -> log scan: WARNING:
 *   bug=oops     NULL pointer dereference  -> Oops (panics with oops=panic)
 *   bug=redzone  kmalloc buffer overflow   -> slub_debug: Redzone overwritten
 *   bug=uaf      write after kfree()       -> slub_debug: Poison overwritten
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

static char *bug = "";
module_param(bug, charp, 0444);

static int __init bugs_init(void)
{
	char *p;

	if (!strcmp(bug, "warn")) {
		WARN_ON(1);
	} else if (!strcmp(bug, "oops")) {
		*(volatile int *)NULL = 1;
	} else if (!strcmp(bug, "redzone")) {
		p = kmalloc(64, GFP_KERNEL);
		if (!p)
			return -ENOMEM;
		OPTIMIZER_HIDE_VAR(p);
		memset(p, 0xaa, 72);
		kfree(p);
	} else if (!strcmp(bug, "uaf")) {
		p = kmalloc(40, GFP_KERNEL);
		if (!p)
			return -ENOMEM;
		kfree(p);
		OPTIMIZER_HIDE_VAR(p);
		p[8] = 0x42;
		kfree(kmalloc(40, GFP_KERNEL));	/* reuse checks the poison */
	}
	return 0;
}

static void __exit bugs_exit(void)
{
}

module_init(bugs_init);
module_exit(bugs_exit);
MODULE_DESCRIPTION("af_demo VM harness self-check: provoke kernel bugs");
MODULE_LICENSE("GPL");
