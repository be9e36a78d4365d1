// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO: /proc/net/demo and /proc/net/demo_stat, per network namespace.
 *
 * /proc/net/demo lists the bound protocol sockets of the namespace, one
 * line each, in the manner of /proc/net/udp: raw and unbound sockets are
 * not listed. /proc/net/demo_stat has one "Name value" counter per line.
 */

#include <linux/proc_fs.h>
#include <linux/rculist.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#include <net/tcp_states.h>

#include "demo_proto.h"

struct demo_iter_state {
	struct seq_net_private	p;	/* must be first */
	int			bucket;
};

static const char *const demo_state_names[] = {
	[TCP_ESTABLISHED]	= "ESTABLISHED",
	[TCP_CLOSE]		= "CLOSE",
};

static const char *const demo_mib_names[DEMO_MIB_MAX] = {
	[DEMO_MIB_INDATAGRAMS]	= "InDatagrams",
	[DEMO_MIB_NOPORTS]	= "NoPorts",
	[DEMO_MIB_INERRORS]	= "InErrors",
	[DEMO_MIB_OUTDATAGRAMS]	= "OutDatagrams",
	[DEMO_MIB_RCVBUFERRORS]	= "RcvbufErrors",
	[DEMO_MIB_SNDBUFERRORS]	= "SndbufErrors",
	[DEMO_MIB_INCSUMERRORS]	= "InCsumErrors",
};

static const char *demo_type_name(const struct sock *sk)
{
	switch (sk->sk_type) {
	case SOCK_DGRAM:
		return "DGRAM";
	case SOCK_SEQPACKET:
		return "SEQPACKET";
	default:
		return "OTHER";
	}
}

/*
 * The socket after @sk, or the first one of a later bucket when @sk is the
 * last of its own (or NULL). Context: rcu_read_lock() held.
 */
static struct sock *demo_seq_next_sk(struct seq_file *seq, struct sock *sk)
{
	struct demo_iter_state *st = seq->private;
	struct demo_net *dn = demo_pernet(seq_file_net(seq));

	if (sk)
		sk = hlist_entry_safe(rcu_dereference(hlist_next_rcu(&sk->sk_node)),
				      struct sock, sk_node);
	while (!sk && ++st->bucket < DEMO_HTABLE_SIZE)
		sk = hlist_entry_safe(rcu_dereference(hlist_first_rcu(&dn->bind_hash[st->bucket])),
				      struct sock, sk_node);
	return sk;
}

static struct sock *demo_seq_idx(struct seq_file *seq, loff_t pos)
{
	struct demo_iter_state *st = seq->private;
	struct sock *sk;

	st->bucket = -1;
	sk = demo_seq_next_sk(seq, NULL);
	while (sk && pos--)
		sk = demo_seq_next_sk(seq, sk);
	return sk;
}

static void *demo_seq_start(struct seq_file *seq, loff_t *pos)
	__acquires(RCU)
{
	rcu_read_lock();
	return *pos ? demo_seq_idx(seq, *pos - 1) : SEQ_START_TOKEN;
}

static void *demo_seq_next(struct seq_file *seq, void *v, loff_t *pos)
{
	++*pos;
	if (v == SEQ_START_TOKEN)
		return demo_seq_idx(seq, 0);
	return demo_seq_next_sk(seq, v);
}

static void demo_seq_stop(struct seq_file *seq, void *v)
	__releases(RCU)
{
	rcu_read_unlock();
}

static int demo_seq_show(struct seq_file *seq, void *v)
{
	const struct inet_sock *inet;
	const struct sock *sk;
	const char *state;

	if (v == SEQ_START_TOKEN) {
		seq_puts(seq, "  sl  local_address rem_address   st          tx_queue:rx_queue   uid    inode  drops type\n");
		return 0;
	}

	sk = v;
	inet = inet_sk(sk);
	state = sk->sk_state < ARRAY_SIZE(demo_state_names) ?
		demo_state_names[sk->sk_state] : NULL;
	seq_printf(seq, "%4lld: %08X:%04X %08X:%04X %-11s %08X:%08X %5u %8lu %6u %s\n",
		   (long long)(seq->index - 1),
		   inet->inet_rcv_saddr, inet->inet_num, inet->inet_daddr, ntohs(inet->inet_dport),
		   state ?: "UNKNOWN",
		   sk_wmem_alloc_get(sk), sk_rmem_alloc_get(sk),
		   from_kuid_munged(seq_user_ns(seq), sock_i_uid((struct sock *)sk)),
		   sock_i_ino((struct sock *)sk),
		   atomic_read(&sk->sk_drops), demo_type_name(sk));
	return 0;
}

static const struct seq_operations demo_seq_ops = {
	.start	= demo_seq_start,
	.next	= demo_seq_next,
	.stop	= demo_seq_stop,
	.show	= demo_seq_show,
};

static int demo_stat_show(struct seq_file *seq, void *v)
{
	struct demo_net *dn = demo_pernet(seq_file_single_net(seq));
	unsigned long sum;
	int i, cpu;

	for (i = 0; i < DEMO_MIB_MAX; i++) {
		sum = 0;
		for_each_possible_cpu(cpu)
			sum += per_cpu_ptr(dn->mib, cpu)->mibs[i];
		seq_printf(seq, "%s %lu\n", demo_mib_names[i], sum);
	}
	return 0;
}

int demo_proc_init_net(struct net *net)
{
	if (!proc_create_net("demo", 0444, net->proc_net, &demo_seq_ops,
			     sizeof(struct demo_iter_state)))
		return -ENOMEM;
	if (!proc_create_net_single("demo_stat", 0444, net->proc_net,
				    demo_stat_show, NULL))
		goto err_remove_demo;
	return 0;

err_remove_demo:
	remove_proc_entry("demo", net->proc_net);
	return -ENOMEM;
}

void demo_proc_exit_net(struct net *net)
{
	remove_proc_entry("demo_stat", net->proc_net);
	remove_proc_entry("demo", net->proc_net);
}
