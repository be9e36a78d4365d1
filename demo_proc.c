// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO: /proc/net/demo and /proc/net/demo_stat, per network namespace.
 *
 * /proc/net/demo lists the namespace's protocol sockets that have a port,
 * one line each, in the manner of /proc/net/udp and /proc/net/tcp: bound
 * sockets from the bind hash, seqpacket connections from the connection
 * hash, then TIME_WAIT entries. Raw and unbound sockets are not listed.
 * /proc/net/demo_stat has one "Name value" counter per line.
 * /proc/net/demo_sockstat says, as /proc/net/sockstat does for TCP, what
 * DEMOPROTO_SEQPACKET holds: the namespace's orphans and TIME_WAIT entries,
 * and the protocol's sockets and memory (pages), which are global.
 */

#include <linux/proc_fs.h>
#include <linux/rculist.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#include <net/tcp_states.h>

#include "demo_seqpacket.h"

/* The tables /proc/net/demo walks, in order. */
enum {
	DEMO_TABLE_BIND,
	DEMO_TABLE_CONN,
	DEMO_TABLE_TW,
	DEMO_TABLES
};

struct demo_iter_state {
	struct seq_net_private	p;	/* must be first */
	int			table;
	int			bucket;
};

static const char *const demo_state_names[] = {
	[TCP_ESTABLISHED]	= "ESTABLISHED",
	[TCP_SYN_SENT]		= "SYN_SENT",
	[TCP_FIN_WAIT1]		= "FIN_WAIT1",
	[TCP_FIN_WAIT2]		= "FIN_WAIT2",
	[TCP_TIME_WAIT]		= "TIME_WAIT",
	[TCP_CLOSE]		= "CLOSE",
	[TCP_CLOSE_WAIT]	= "CLOSE_WAIT",
	[TCP_LAST_ACK]		= "LAST_ACK",
	[TCP_LISTEN]		= "LISTEN",
	[TCP_CLOSING]		= "CLOSING",
};

static const char *const demo_mib_names[DEMO_MIB_MAX] = {
	[DEMO_MIB_INDATAGRAMS]		= "InDatagrams",
	[DEMO_MIB_NOPORTS]		= "NoPorts",
	[DEMO_MIB_INERRORS]		= "InErrors",
	[DEMO_MIB_OUTDATAGRAMS]		= "OutDatagrams",
	[DEMO_MIB_RCVBUFERRORS]		= "RcvbufErrors",
	[DEMO_MIB_SNDBUFERRORS]		= "SndbufErrors",
	[DEMO_MIB_INCSUMERRORS]		= "InCsumErrors",
	[DEMO_MIB_ACTIVEOPENS]		= "ActiveOpens",
	[DEMO_MIB_PASSIVEOPENS]		= "PassiveOpens",
	[DEMO_MIB_ATTEMPTFAILS]		= "AttemptFails",
	[DEMO_MIB_ESTABRESETS]		= "EstabResets",
	[DEMO_MIB_INSEGS]		= "InSegs",
	[DEMO_MIB_OUTSEGS]		= "OutSegs",
	[DEMO_MIB_RETRANSSEGS]		= "RetransSegs",
	[DEMO_MIB_INRSTS]		= "InRsts",
	[DEMO_MIB_OUTRSTS]		= "OutRsts",
	[DEMO_MIB_INDUPSEGS]		= "InDupSegs",
	[DEMO_MIB_LISTENOVERFLOWS]	= "ListenOverflows",
	[DEMO_MIB_LISTENDROPS]		= "ListenDrops",
	[DEMO_MIB_TIMEWAITREUSE]	= "TimeWaitReuse",
	[DEMO_MIB_TIMEOUTS]		= "Timeouts",
	[DEMO_MIB_ZEROWINDOWPROBES]	= "ZeroWindowProbes",
	[DEMO_MIB_RCVMEMDROPS]		= "RcvMemDrops",
	[DEMO_MIB_ORPHANOVERFLOW]	= "OrphanOverflow",
	[DEMO_MIB_TIMEWAITOVERFLOW]	= "TimeWaitOverflow",
	[DEMO_MIB_MEMCGCHARGEFAILS]	= "MemcgChargeFails",
	[DEMO_MIB_CHALLENGEACKS]	= "ChallengeAcks",
	[DEMO_MIB_CHALLENGEACKSSKIPPED]	= "ChallengeAcksSkipped",
	[DEMO_MIB_SYNCOOKIESSENT]	= "SyncookiesSent",
	[DEMO_MIB_SYNCOOKIESRECV]	= "SyncookiesRecv",
	[DEMO_MIB_LISTENRSTS]		= "ListenRsts",
	[DEMO_MIB_KEEPALIVES]		= "KeepAlives",
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

static struct hlist_head *demo_table(struct demo_net *dn, int table)
{
	switch (table) {
	case DEMO_TABLE_BIND:
		return dn->bind_hash;
	case DEMO_TABLE_CONN:
		return dn->conn_hash;
	default:
		return dn->timewait_hash;
	}
}

static unsigned int demo_table_size(const struct demo_net *dn, int table)
{
	return table == DEMO_TABLE_BIND ? DEMO_HTABLE_SIZE :
					  dn->conn_hash_mask + 1;
}

/* A connected seqpacket socket is listed from the connection hash. */
static bool demo_seq_listed_later(int table, struct hlist_node *node)
{
	struct sock *sk = hlist_entry(node, struct sock, sk_node);

	return table == DEMO_TABLE_BIND && sk->sk_prot == &demo_seq_prot &&
	       !hlist_unhashed_lockless(&demo_seq_sk(sk)->conn_node);
}

/*
 * The entry after @node, possibly in a later bucket or table, or NULL.
 * Context: rcu_read_lock() held.
 */
static struct hlist_node *demo_seq_next_node(struct seq_file *seq,
					     struct hlist_node *node)
{
	struct demo_iter_state *st = seq->private;
	struct demo_net *dn = demo_pernet(seq_file_net(seq));

	if (node)
		node = rcu_dereference(hlist_next_rcu(node));
	for (;;) {
		for (; node; node = rcu_dereference(hlist_next_rcu(node)))
			if (!demo_seq_listed_later(st->table, node))
				return node;
		if (++st->bucket == demo_table_size(dn, st->table)) {
			if (++st->table == DEMO_TABLES)
				return NULL;
			st->bucket = 0;
		}
		node = rcu_dereference(hlist_first_rcu(&demo_table(dn, st->table)[st->bucket]));
	}
}

static struct hlist_node *demo_seq_idx(struct seq_file *seq, loff_t pos)
{
	struct demo_iter_state *st = seq->private;
	struct hlist_node *node;

	st->table = DEMO_TABLE_BIND;
	st->bucket = -1;
	node = demo_seq_next_node(seq, NULL);
	while (node && pos--)
		node = demo_seq_next_node(seq, node);
	return node;
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
	return demo_seq_next_node(seq, v);
}

static void demo_seq_stop(struct seq_file *seq, void *v)
	__releases(RCU)
{
	rcu_read_unlock();
}

#define DEMO_ROW_FMT "%4lld: %08X:%04X %08X:%04X %-11s %08X:%08X %5u %8llu %6u %-9s %5u %5u %8u\n"

static void demo_seq_show_tw(struct seq_file *seq, const struct demo_tw *tw)
{
	seq_printf(seq, DEMO_ROW_FMT, (long long)(seq->index - 1),
		   tw->laddr, ntohs(tw->lport), tw->raddr, ntohs(tw->rport),
		   "TIME_WAIT", 0, 0, 0, 0ULL, 0, "SEQPACKET", 0, 0, 0);
}

static int demo_seq_show(struct seq_file *seq, void *v)
{
	struct demo_iter_state *st = seq->private;
	u32 cwnd = 0, ssthresh = 0, srtt_us = 0;
	const struct inet_sock *inet;
	int tx, rx, state;
	struct sock *sk;

	if (v == SEQ_START_TOKEN) {
		seq_puts(seq, "  sl  local_address rem_address   st          tx_queue:rx_queue   uid    inode  drops type       cwnd ssthr  srtt_us\n");
		return 0;
	}
	if (st->table == DEMO_TABLE_TW) {
		demo_seq_show_tw(seq, hlist_entry(v, struct demo_tw, node));
		return 0;
	}

	sk = st->table == DEMO_TABLE_CONN ?
	     &hlist_entry(v, struct demo_seq_sock, conn_node)->dsk.inet.sk :
	     hlist_entry(v, struct sock, sk_node);
	inet = inet_sk(sk);
	state = inet_sk_state_load(sk);
	if (state == TCP_LISTEN) {
		/* As /proc/net/tcp: waiting connections and the backlog. */
		tx = READ_ONCE(sk->sk_max_ack_backlog);
		rx = READ_ONCE(sk->sk_ack_backlog);
	} else if (sk->sk_prot == &demo_seq_prot) {
		const struct demo_seq_sock *ssk = demo_seq_sk(sk);

		tx = READ_ONCE(ssk->unacked_bytes);
		rx = sk_rmem_alloc_get(sk);
		/* Racy snapshots of the owner's fields, as /proc/net/tcp's. */
		cwnd = data_race(ssk->cwnd);
		ssthresh = data_race(ssk->ssthresh);	/* racy, as cwnd */
		srtt_us = data_race(ssk->srtt_us) >> 3;	/* racy, as cwnd */
	} else {
		tx = sk_wmem_alloc_get(sk);
		rx = sk_rmem_alloc_get(sk);
	}
	seq_printf(seq, DEMO_ROW_FMT, (long long)(seq->index - 1),
		   inet->inet_rcv_saddr, inet->inet_num,
		   inet->inet_daddr, ntohs(inet->inet_dport),
		   state < ARRAY_SIZE(demo_state_names) && demo_state_names[state] ?
		   demo_state_names[state] : "UNKNOWN",
		   tx, rx,
		   from_kuid_munged(seq_user_ns(seq), demo_compat_sk_uid(sk)),
		   (unsigned long long)sock_i_ino(sk),
		   atomic_read(&sk->sk_drops), demo_type_name(sk),
		   cwnd, ssthresh, srtt_us);
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

static int demo_sockstat_show(struct seq_file *seq, void *v)
{
	struct demo_net *dn = demo_pernet(seq_file_single_net(seq));
	struct proto *prot = &demo_seq_prot;

	seq_printf(seq, "SEQPACKET: orphan %d tw %d alloc %lld mem %ld pressure %d\n",
		   atomic_read(&dn->orphans), atomic_read(&dn->tw_count),
		   (long long)proto_sockets_allocated_sum_positive(prot),
		   proto_memory_allocated(prot),
		   proto_memory_pressure(prot) ? 1 : 0);
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
	if (!proc_create_net_single("demo_sockstat", 0444, net->proc_net,
				    demo_sockstat_show, NULL))
		goto err_remove_stat;
	return 0;

err_remove_stat:
	remove_proc_entry("demo_stat", net->proc_net);
err_remove_demo:
	remove_proc_entry("demo", net->proc_net);
	return -ENOMEM;
}

void demo_proc_exit_net(struct net *net)
{
	remove_proc_entry("demo_sockstat", net->proc_net);
	remove_proc_entry("demo_stat", net->proc_net);
	remove_proc_entry("demo", net->proc_net);
}
