// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO: net.demo.* sysctls, one set per network namespace.
 *
 * They bound DEMOPROTO_SEQPACKET's timers, retries, orphans and TIME_WAIT
 * entries; seqpacket_mem, global, its memory. docs/SEQPACKET.md
 * says what each does. A new namespace starts from the defaults below.
 */

#include <linux/slab.h>
#include <linux/sysctl.h>
#include <net/net_namespace.h>

#include "demo_proto.h"

static const struct demo_seq_sysctl demo_seq_sysctl_defaults = {
	.rto_min_ms	= 200,
	.rto_max_ms	= 10000,
	.retries	= 8,
	.syn_retries	= 5,
	.time_wait_ms	= 10000,
	.fin_timeout_ms	= 30000,
	.rmem_max	= 8 << 20,	/* a window of over 4 MiB of payload */
	.wmem_max	= 8 << 20,	/* enough in flight to fill it */
	.max_orphans	= 8192,
	.max_tw		= 8192,
	.challenge_ack_limit	= 1000,		/* tcp_challenge_ack_limit's */
	.keepalive_time_ms	= 7200 * 1000,	/* TCP's 2 hours ... */
	.keepalive_intvl_ms	= 75 * 1000,	/* ... 75 s ... */
	.keepalive_probes	= 9,		/* ... and 9 probes */
};

static int demo_rto_min_limit = 60000;
static int demo_rto_max_limit = 120000;
static int demo_retries_limit = 100;
static int demo_wait_limit = 600000;
static int demo_mem_limit = 256 << 20;
static int demo_challenge_limit = 1000000;
static int demo_keepalive_limit = 32767 * 1000;	/* TCP's MAX_TCP_KEEPIDLE */
static int demo_probes_limit = 127;		/* TCP's MAX_TCP_KEEPCNT */

#define DEMO_SYSCTL(name, limit) {				\
	.procname	= "seqpacket_" #name,			\
	.maxlen		= sizeof(int),				\
	.mode		= 0644,					\
	.proc_handler	= proc_dointvec_minmax,			\
	.extra1		= SYSCTL_ONE,				\
	.extra2		= &(limit),				\
}

/* A limit on a count, 0 (none allowed) up to INT_MAX. */
#define DEMO_SYSCTL_COUNT(name) {				\
	.procname	= "seqpacket_" #name,			\
	.maxlen		= sizeof(int),				\
	.mode		= 0644,					\
	.proc_handler	= proc_dointvec_minmax,			\
	.extra1		= SYSCTL_ZERO,				\
	.extra2		= SYSCTL_INT_MAX,			\
}

/*
 * In the order of demo_sysctl_init_net()'s data[], then the global ones,
 * which, as tcp_mem, exist in the initial namespace only.
 */
static const struct ctl_table demo_sysctl_template[] = {
	DEMO_SYSCTL(rto_min_ms, demo_rto_min_limit),
	DEMO_SYSCTL(rto_max_ms, demo_rto_max_limit),
	DEMO_SYSCTL(retries, demo_retries_limit),
	DEMO_SYSCTL(syn_retries, demo_retries_limit),
	DEMO_SYSCTL(time_wait_ms, demo_wait_limit),
	DEMO_SYSCTL(fin_timeout_ms, demo_wait_limit),
	DEMO_SYSCTL(rmem_max, demo_mem_limit),
	DEMO_SYSCTL(wmem_max, demo_mem_limit),
	DEMO_SYSCTL_COUNT(max_orphans),
	DEMO_SYSCTL_COUNT(max_tw),
	DEMO_SYSCTL(challenge_ack_limit, demo_challenge_limit),
	DEMO_SYSCTL(keepalive_time_ms, demo_keepalive_limit),
	DEMO_SYSCTL(keepalive_intvl_ms, demo_keepalive_limit),
	DEMO_SYSCTL(keepalive_probes, demo_probes_limit),
	{
		/* pages: min, pressure, max; see demo_seq_mem_init() */
		.procname	= "seqpacket_mem",
		.data		= demo_seq_sysctl_mem,
		.maxlen		= sizeof(demo_seq_sysctl_mem),
		.mode		= 0644,
		.proc_handler	= proc_doulongvec_minmax,
	},
	DEMO_CTL_TABLE_END
};

int demo_sysctl_init_net(struct net *net)
{
	struct demo_net *dn = demo_pernet(net);
	int *data[] = {
		&dn->seq.rto_min_ms,
		&dn->seq.rto_max_ms,
		&dn->seq.retries,
		&dn->seq.syn_retries,
		&dn->seq.time_wait_ms,
		&dn->seq.fin_timeout_ms,
		&dn->seq.rmem_max,
		&dn->seq.wmem_max,
		&dn->seq.max_orphans,
		&dn->seq.max_tw,
		&dn->seq.challenge_ack_limit,
		&dn->seq.keepalive_time_ms,
		&dn->seq.keepalive_intvl_ms,
		&dn->seq.keepalive_probes,
	};
	size_t size = ARRAY_SIZE(demo_sysctl_template);
	struct ctl_table *table;
	int i;

	/* data[] covers the per-namespace entries; seqpacket_mem follows. */
	BUILD_BUG_ON(ARRAY_SIZE(data) + 1 > ARRAY_SIZE(demo_sysctl_template));

	dn->seq = demo_seq_sysctl_defaults;
	atomic_set(&dn->orphans, 0);
	atomic_set(&dn->tw_count, 0);
	table = kmemdup(demo_sysctl_template, sizeof(demo_sysctl_template),
			GFP_KERNEL);
	if (!table)
		return -ENOMEM;
	for (i = 0; i < ARRAY_SIZE(data); i++)
		table[i].data = data[i];
	if (!net_eq(net, &init_net)) {
		/* The table ends before the global entries. */
		memset(&table[ARRAY_SIZE(data)], 0, sizeof(table[0]));
		size = ARRAY_SIZE(data);
	}

	dn->sysctl_hdr = demo_compat_register_net_sysctl(net, "net/demo", table,
							 size);
	if (!dn->sysctl_hdr) {
		kfree(table);
		return -ENOMEM;
	}
	return 0;
}

void demo_sysctl_exit_net(struct net *net)
{
	struct demo_net *dn = demo_pernet(net);
	const struct ctl_table *table = dn->sysctl_hdr->ctl_table_arg;

	unregister_net_sysctl_table(dn->sysctl_hdr);
	kfree(table);
}
