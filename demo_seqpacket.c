// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO: DEMOPROTO_SEQPACKET, reliable ordered messages over IPv4.
 *
 * This file holds the socket calls, reached from the family layer's
 * demo_stream_ops (af_demo.c) as inet_stream_ops reaches tcp_prot:
 *
 *   connect()   demo_stream_connect() -> demo_seq_connect(): SYN_SENT, then
 *               the handshake completes in demo_seq_input.c
 *   listen()    demo_listen() -> demo_seq_listen(): LISTEN
 *   accept()    demo_accept() -> demo_seq_accept(): a connection the
 *               listener's softirq path created and queued
 *   send()      demo_seq_sendmsg(): one message, segmented onto the write
 *               queue, then demo_seq_push() (demo_seq_output.c)
 *   recv()      demo_seq_recvmsg(): one whole message off the receive queue
 *   close()     demo_seq_close(): FIN or RST; the socket lives on, orphaned,
 *               until its connection ends
 *
 * The states are TCP's (net/tcp_states.h), so that /proc and the generic
 * stream helpers (sk_stream_wait_memory() and friends) read them; the
 * transitions are drawn in docs/PROTOCOL.md.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <asm/ioctls.h>
#include <linux/memcontrol.h>
#include <linux/net.h>
#include <linux/percpu_counter.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/swap.h>
#include <net/inet_common.h>
#include <net/ip.h>
#include <net/route.h>
#include <net/sock.h>

#include "demo_seqpacket.h"
#include "demo_trace.h"

/* Ephemeral ports connect() tries when a port's pair is still in use. */
#define DEMO_SEQ_CONNECT_TRIES	8

/* Send flags of a seqpacket socket; see docs/SEQPACKET.md. */
#define DEMO_SEQ_SEND_FLAGS	(MSG_DONTWAIT | MSG_NOSIGNAL | MSG_EOR | \
				 MSG_DONTROUTE | MSG_CONFIRM | \
				 MSG_CMSG_COMPAT | MSG_BATCH)

void demo_seq_set_state(struct sock *sk, int state)
{
	if (sk->sk_state != state)
		trace_demo_seq_state(sk, sk->sk_state, state);
	/* Lockless readers (poll, /proc) use inet_sk_state_load(). */
	smp_store_release(&sk->sk_state, state);
}

/**
 * demo_seq_hash_conn() - make @sk findable by its address and port pair
 * @sk: a socket whose four addressing fields are set
 *
 * The hash holds a reference. Context: any; takes demo_net.conn_lock.
 * Return: 0, or -EADDRNOTAVAIL when another connection has the same pair.
 */
int demo_seq_hash_conn(struct sock *sk)
{
	struct demo_net *dn = demo_pernet(sock_net(sk));
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	const struct inet_sock *inet = inet_sk(sk);
	struct hlist_head *head;
	struct demo_seq_sock *o;

	head = &dn->conn_hash[demo_conn_hashfn(sock_net(sk),
					       inet->inet_rcv_saddr,
					       inet->inet_sport,
					       inet->inet_daddr,
					       inet->inet_dport)];
	spin_lock_bh(&dn->conn_lock);
	hlist_for_each_entry(o, head, conn_node) {
		const struct inet_sock *oi = inet_sk(&o->dsk.inet.sk);

		if (oi->inet_rcv_saddr == inet->inet_rcv_saddr &&
		    oi->inet_sport == inet->inet_sport &&
		    oi->inet_daddr == inet->inet_daddr &&
		    oi->inet_dport == inet->inet_dport) {
			spin_unlock_bh(&dn->conn_lock);
			return -EADDRNOTAVAIL;
		}
	}
	sock_hold(sk);
	hlist_add_head_rcu(&ssk->conn_node, head);
	spin_unlock_bh(&dn->conn_lock);
	return 0;
}

/* The reverse of demo_seq_hash_conn(); the caller holds another reference. */
void demo_seq_unhash_conn(struct sock *sk)
{
	struct demo_net *dn = demo_pernet(sock_net(sk));
	struct demo_seq_sock *ssk = demo_seq_sk(sk);

	spin_lock_bh(&dn->conn_lock);
	if (!hlist_unhashed(&ssk->conn_node)) {
		hlist_del_init_rcu(&ssk->conn_node);
		__sock_put(sk);
	}
	spin_unlock_bh(&dn->conn_lock);
}

/**
 * demo_seq_done() - the connection is over: CLOSE, and let go of it
 * @sk: the socket; the caller holds a reference besides the hash's and
 *	the timers', which this drops
 *
 * Everything a connection holds goes: its hash entry, timers, route, queued
 * segments. A socket still open by its user stays, in CLOSE; an orphan is
 * freed with the caller's last reference.
 */
void demo_seq_done(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);

	if (ssk->orphan) {
		ssk->orphan = 0;
		atomic_dec(&demo_pernet(sock_net(sk))->orphans);
	}
	demo_seq_set_state(sk, TCP_CLOSE);
	demo_seq_clear_timers(sk);
	demo_seq_unhash_conn(sk);
	WRITE_ONCE(sk->sk_shutdown, SHUTDOWN_MASK);
	demo_seq_purge_write_queue(sk);
	demo_seq_purge_rcv(sk, false);
	sk_dst_reset(sk);
	if (!sock_flag(sk, SOCK_DEAD))
		sk->sk_state_change(sk);
}

/* The connection failed or was reset: report @err once, then CLOSE. */
void demo_seq_abort(struct sock *sk, int err)
{
	WRITE_ONCE(sk->sk_err, err);
	sk_error_report(sk);
	demo_seq_done(sk);
}

/**
 * demo_seq_purge_rcv() - drop what was received and not read
 * @sk: the socket, owned
 * @all: the whole messages of the receive queue too, not only the message
 *	being reassembled and the segments beyond it
 */
void demo_seq_purge_rcv(struct sock *sk, bool all)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);

	if (all)
		skb_queue_purge(&sk->sk_receive_queue);
	__skb_queue_purge(&ssk->reasm_queue);
	__skb_queue_purge(&ssk->ooo_queue);
	ssk->num_rcv_sacks = 0;
	ssk->reasm_bytes = 0;
}

/*
 * Sequence state of a new connection: a route for the mss, an initial
 * RTO and congestion window, an empty scoreboard. The caller sets the
 * sequence numbers.
 */
void demo_seq_init_conn(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);

	ssk->mss = demo_seq_mss(sk);
	ssk->rcv_mss = ssk->mss;
	ssk->srtt_us = 0;
	ssk->rttvar_us = 0;
	ssk->retries = 0;
	ssk->tlp_pending = 0;
	ssk->tlp_sent = 0;
	ssk->tx_count = 0;
	ssk->delivered_tx = 0;
	ssk->num_rcv_sacks = 0;
	ssk->num_sack_cache = 0;
	ssk->sack_hint = NULL;
	ssk->rtx_hint = NULL;
	demo_seq_cc_init(sk);
	ssk->max_wnd = 0;
	ssk->rcv_tstamp = jiffies;
	ssk->ka_probes = 0;
	memset(&ssk->stats, 0, sizeof(ssk->stats));
	demo_seq_rto_reset(sk);		/* 1 s, within the sysctl bounds */
}

/*
 * proto.disconnect: after a failed connect(), make the socket like a new
 * one again (its port stays), as tcp_disconnect() does.
 */
static int demo_seq_disconnect(struct sock *sk, int flags)
{
	if (sk->sk_state != TCP_CLOSE)
		return -EBUSY;
	skb_queue_purge(&sk->sk_receive_queue);
	demo_clear_peer(sk);
	WRITE_ONCE(sk->sk_shutdown, 0);
	/* Lookups may still walk conn_node: wait before it is hashed again. */
	synchronize_net();
	return 0;
}

/* proto.connect, from demo_stream_connect() with the socket locked. */
static int demo_seq_connect(struct sock *sk,
			    DEMO_PROTO_SOCKADDR_ARG_T *uaddr, int addr_len)
{
	struct sockaddr_demo *sa = (struct sockaddr_demo *)uaddr;
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	struct inet_sock *inet = inet_sk(sk);
	struct net *net = sock_net(sk);
	int err, tries = 0;
	struct flowi4 fl4;
	struct rtable *rt;
	bool autobound;
	u32 isn;

	err = demo_check_sockaddr(uaddr, addr_len);
	if (err)
		return err;
	if (!sa->sdemo_port)
		return -EINVAL;

	rt = demo_route(sk, &fl4, sa->sdemo_addr.s_addr, inet->inet_saddr,
			sa->sdemo_port, inet->inet_sport, inet->tos, false);
	if (IS_ERR(rt))
		return PTR_ERR(rt);
	/* A connection has one peer: no broadcast, even with SO_BROADCAST. */
	err = -ENETUNREACH;
	if (rt->rt_flags & RTCF_BROADCAST)
		goto err_rt;

	autobound = !inet->inet_num;
	err = demo_autobind(sk);
	if (err)
		goto err_rt;

	demo_set_peer(sk, &fl4, sa->sdemo_port);
	sk_dst_set(sk, &rt->dst);	/* the socket keeps the route */

	demo_seq_init_conn(sk);

	/*
	 * A closed socket finishing a connection from an ephemeral port no
	 * longer holds the port but still has its pair: pick another one.
	 */
	err = demo_seq_hash_conn(sk);
	while (err && autobound && ++tries < DEMO_SEQ_CONNECT_TRIES) {
		demo_port_release(sk);
		err = demo_autobind(sk);
		if (!err)
			err = demo_seq_hash_conn(sk);
	}
	if (err)
		goto err_unset;

	isn = demo_seq_isn(net, inet->inet_saddr, inet->inet_daddr,
			   inet->inet_sport, inet->inet_dport);
	ssk->snd_una = isn;
	ssk->snd_nxt = isn;
	ssk->write_seq = isn;
	ssk->snd_wnd_edge = isn + 1;	/* the SYN, until the peer says more */
	demo_seq_set_state(sk, TCP_SYN_SENT);
	err = demo_seq_queue_ctl(sk, DEMO_SEQ_SYN, sk->sk_allocation);
	if (err)
		goto err_unhash;

	demo_inc_stats(net, DEMO_MIB_ACTIVEOPENS);
	demo_seq_push(sk);
	return 0;

err_unhash:
	demo_seq_set_state(sk, TCP_CLOSE);
	demo_seq_unhash_conn(sk);
err_unset:
	sk_dst_reset(sk);
	WRITE_ONCE(inet->inet_daddr, 0);
	WRITE_ONCE(inet->inet_dport, 0);
	return err;
err_rt:
	ip_rt_put(rt);
	return err;
}

/**
 * demo_seq_wait_connect() - sleep until a connection attempt is decided
 * @sk: the socket, locked, in SYN_SENT
 * @timeo: how long
 *
 * Return: the time left: 0 when it ran out; positive when the attempt was
 * decided or a signal is pending (the caller tells the two apart).
 */
long demo_seq_wait_connect(struct sock *sk, long timeo)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);

	add_wait_queue(sk_sleep(sk), &wait);
	while (sk->sk_state == TCP_SYN_SENT) {
		release_sock(sk);
		timeo = wait_woken(&wait, TASK_INTERRUPTIBLE, timeo);
		lock_sock(sk);
		if (signal_pending(current) || !timeo)
			break;
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	return timeo;
}

/**
 * demo_seq_listen() - start or re-size listening
 * @sk: the socket, locked
 * @backlog: connections that may wait for accept(), as listen(2) has capped
 *	it at somaxconn
 *
 * Return: 0; -EINVAL for a socket that is connected or connecting, or a
 * type that cannot listen; -EAGAIN when no port is free for an unbound one.
 */
int demo_seq_listen(struct sock *sk, int backlog)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	int err;

	if (sk->sk_type != SOCK_SEQPACKET)
		return -EOPNOTSUPP;
	if (sk->sk_state == TCP_LISTEN) {
		WRITE_ONCE(sk->sk_max_ack_backlog, backlog);
		demo_seq_reqs_alloc(sk, backlog);	/* keeps the old if need be */
		return 0;
	}
	if (sk->sk_state != TCP_CLOSE || (sk->sk_shutdown & RCV_SHUTDOWN))
		return -EINVAL;

	err = demo_autobind(sk);
	if (err)
		return err;
	err = demo_seq_reqs_alloc(sk, backlog);
	if (err)
		return err;

	WRITE_ONCE(sk->sk_max_ack_backlog, backlog);
	WRITE_ONCE(sk->sk_ack_backlog, 0);
	/*
	 * The window of its SYN-ACKs, and its connections' first, is
	 * computed as for the largest segments: whatever size the peer
	 * sends, it then admits no more than a connection's bound on receive
	 * memory (demo_seq_rmem_bound()), and the window closes before that
	 * is reached.
	 */
	ssk->rcv_mss = DEMO_MAX_PAYLOAD - sizeof(struct demo_seqhdr);
	spin_lock_bh(&ssk->accept_lock);
	demo_seq_set_state(sk, TCP_LISTEN);
	spin_unlock_bh(&ssk->accept_lock);
	return 0;
}

/* Take the oldest waiting connection off @sk's queue, or NULL. */
static struct sock *demo_seq_accept_dequeue(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	struct demo_seq_sock *child;

	spin_lock_bh(&ssk->accept_lock);
	child = list_first_entry_or_null(&ssk->accept_queue,
					 struct demo_seq_sock, accept_node);
	if (child) {
		list_del_init(&child->accept_node);
		sk_acceptq_removed(sk);
	}
	spin_unlock_bh(&ssk->accept_lock);

	return child ? &child->dsk.inet.sk : NULL;
}

/**
 * demo_seq_accept() - wait for and take a connection from a listener
 * @sk: the listening socket
 * @flags: O_NONBLOCK from accept4()
 * @err: set on failure
 * @kern: accepted for a kernel socket
 *
 * The connection comes with the reference its creation gave it, which
 * becomes its socket's.
 *
 * Return: the connection's sock, or NULL with *@err: -EINVAL when @sk is
 * not listening, -EAGAIN, or an interruption.
 */
struct sock *demo_seq_accept(struct sock *sk, int flags, int *err, bool kern)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	struct sock *child = NULL;
	long timeo;

	lock_sock(sk);
	timeo = sock_rcvtimeo(sk, flags & O_NONBLOCK);
	add_wait_queue(sk_sleep(sk), &wait);
	for (;;) {
		*err = -EINVAL;
		if (sk->sk_state != TCP_LISTEN ||
		    (sk->sk_shutdown & RCV_SHUTDOWN))
			break;
		child = demo_seq_accept_dequeue(sk);
		if (child)
			break;
		*err = -EAGAIN;
		if (!timeo)
			break;
		*err = sock_intr_errno(timeo);
		if (signal_pending(current))
			break;
		sk_wait_event(sk, &timeo,
			      !list_empty_careful(&ssk->accept_queue) ||
			      sk->sk_state != TCP_LISTEN, &wait);
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	release_sock(sk);
	return child;
}

/*
 * Stop listening: no connection can be queued after this, and those
 * queued are reset, as a listening TCP socket's are on close.
 */
static void demo_seq_listen_stop(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	struct sock *child;

	spin_lock_bh(&ssk->accept_lock);
	demo_seq_set_state(sk, TCP_CLOSE);
	spin_unlock_bh(&ssk->accept_lock);
	demo_seq_reqs_free(sk);

	while ((child = demo_seq_accept_dequeue(sk))) {
		/* No task owns a connection before accept(). */
		local_bh_disable();
		bh_lock_sock(child);
		sock_orphan(child);
		if (child->sk_state != TCP_CLOSE) {
			demo_seq_send_reset(child, DEMO_RST_LISTENER_CLOSED);
			demo_seq_done(child);
		}
		bh_unlock_sock(child);
		local_bh_enable();
		sock_put(child);	/* the reference accept() would have had */
	}
}

/**
 * demo_seq_get_info() - DEMO_INFO's seqpacket fields
 * @sk: the socket, locked or not as for demo_get_info()
 * @info: what demo_get_info() filled, the common fields; the connection's
 *	stay zero for a listener or a socket never connected
 */
void demo_seq_get_info(struct sock *sk, struct demo_info *info)
{
	const struct demo_seq_sock *ssk = demo_seq_sk(sk);
	const struct demo_seq_stats *st = &ssk->stats;

	info->demoi_wmem_queued = READ_ONCE(sk->sk_wmem_queued);
	/* A listener, or a socket never connected, has no connection. */
	if ((1 << info->demoi_state) & (TCPF_LISTEN | TCPF_CLOSE) &&
	    !st->segs_out)
		return;

	info->demoi_ca_state = ssk->ca_state;
	info->demoi_retransmits = ssk->retries;
	info->demoi_probes = ssk->ka_probes;
	info->demoi_rto_us = jiffies_to_usecs(ssk->rto);
	info->demoi_srtt_us = ssk->srtt_us >> 3;
	info->demoi_rttvar_us = ssk->rttvar_us >> 2;
	info->demoi_rtt_last_us = st->rtt_last_us;
	info->demoi_rtt_min_us = st->rtt_min_us;
	info->demoi_snd_mss = ssk->mss;
	info->demoi_rcv_mss = ssk->rcv_mss;
	info->demoi_snd_cwnd = ssk->cwnd;
	info->demoi_snd_ssthresh = ssk->ssthresh;
	if (demo_seq_after(ssk->snd_wnd_edge, ssk->snd_una))
		info->demoi_snd_wnd = ssk->snd_wnd_edge - ssk->snd_una;
	if (demo_seq_after(ssk->rcv_adv_edge, ssk->rcv_nxt))
		info->demoi_rcv_wnd = ssk->rcv_adv_edge - ssk->rcv_nxt;
	info->demoi_unacked = ssk->snd_nxt - ssk->snd_una;
	info->demoi_in_flight = demo_seq_in_flight(ssk);
	info->demoi_sacked = ssk->sacked_out;
	info->demoi_lost = ssk->lost_out;
	info->demoi_retrans = ssk->retrans_out;
	info->demoi_total_retrans = st->total_retrans;
	info->demoi_segs_out = st->segs_out;
	info->demoi_segs_in = st->segs_in;
	info->demoi_data_segs_out = st->data_segs_out;
	info->demoi_data_segs_in = st->data_segs_in;
	info->demoi_msgs_sent = st->msgs_sent;
	info->demoi_msgs_received = st->msgs_received;
	info->demoi_sndq_bytes = READ_ONCE(ssk->unacked_bytes);
	info->demoi_bytes_sent = st->bytes_sent;
	info->demoi_bytes_retrans = st->bytes_retrans;
	info->demoi_bytes_acked = st->bytes_acked;
	info->demoi_bytes_received = st->bytes_received;
}

/*
 * Count @sk, just orphaned and not CLOSE, as an orphan of its namespace;
 * false, counting nothing, beyond seqpacket_max_orphans.
 */
static bool demo_seq_orphan_add(struct sock *sk)
{
	struct demo_net *dn = demo_pernet(sock_net(sk));

	if (atomic_inc_return(&dn->orphans) > READ_ONCE(dn->seq.max_orphans)) {
		atomic_dec(&dn->orphans);
		return false;
	}
	demo_seq_sk(sk)->orphan = 1;
	return true;
}

static void demo_seq_close(struct sock *sk, long timeout)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	struct net *net = sock_net(sk);
	bool unread;

	lock_sock(sk);
	WRITE_ONCE(sk->sk_shutdown, SHUTDOWN_MASK);

	if (sk->sk_state == TCP_LISTEN) {
		demo_seq_listen_stop(sk);
		goto out_orphan;
	}

	/* As TCP: closing with unread data loses it, and the peer hears so. */
	unread = !skb_queue_empty(&sk->sk_receive_queue) ||
		 !skb_queue_empty(&ssk->reasm_queue) ||
		 !skb_queue_empty(&ssk->ooo_queue);
	demo_seq_purge_rcv(sk, true);

	switch (sk->sk_state) {
	case TCP_CLOSE:
		break;
	case TCP_SYN_SENT:
		demo_seq_done(sk);
		break;
	default:
		if (unread || (sock_flag(sk, SOCK_LINGER) && !sk->sk_lingertime)) {
			if ((1 << sk->sk_state) &
			    (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT))
				demo_inc_stats(net, DEMO_MIB_ESTABRESETS);
			demo_seq_send_reset(sk, unread ? DEMO_RST_UNREAD_DATA :
						 DEMO_RST_LINGER_ZERO);
			demo_seq_done(sk);
			break;
		}
		if (sk->sk_state == TCP_ESTABLISHED ||
		    sk->sk_state == TCP_CLOSE_WAIT) {
			if (demo_seq_queue_ctl(sk, DEMO_SEQ_FIN,
					       sk->sk_allocation)) {
				/* No memory for a FIN: abort instead. */
				demo_seq_send_reset(sk, DEMO_RST_NO_MEMORY);
				demo_seq_done(sk);
				break;
			}
			demo_seq_set_state(sk, sk->sk_state == TCP_ESTABLISHED ?
					   TCP_FIN_WAIT1 : TCP_LAST_ACK);
			demo_seq_push(sk);
		}
		if (timeout)
			demo_compat_stream_wait_close(sk, timeout);
		break;
	}

out_orphan:
	/* An orphan's port is free for others; its pair stays hashed. */
	demo_port_unhash(sk);
	sock_orphan(sk);
	if (sk->sk_state != TCP_CLOSE && !demo_seq_orphan_add(sk)) {
		/* As TCP beyond tcp_max_orphans: reset rather than linger. */
		demo_inc_stats(net, DEMO_MIB_ORPHANOVERFLOW);
		net_dbg_ratelimited("too many orphans: resetting %pI4:%u -> %pI4:%u\n",
				    &inet_sk(sk)->inet_saddr,
				    ntohs(inet_sk(sk)->inet_sport),
				    &inet_sk(sk)->inet_daddr,
				    ntohs(inet_sk(sk)->inet_dport));
		demo_seq_send_reset(sk, DEMO_RST_ORPHANS);
		demo_seq_done(sk);
	}
	if (sk->sk_state == TCP_FIN_WAIT2)
		demo_seq_arm_rtx(sk);	/* the FIN_WAIT2 timeout */
	release_sock(sk);
	sock_put(sk);	/* the socket's reference */
}

/* proto.shutdown, with the socket locked and sk_shutdown already set. */
static void demo_seq_shutdown(struct sock *sk, int how)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);

	if ((how & RCV_SHUTDOWN) && sk->sk_state == TCP_LISTEN) {
		/* As inet_shutdown(): a listener stops listening. */
		demo_seq_listen_stop(sk);
		return;
	}
	if (how & RCV_SHUTDOWN) {
		/* Queued and later messages are acknowledged and dropped. */
		skb_queue_purge(&sk->sk_receive_queue);
		__skb_queue_purge(&ssk->reasm_queue);
		ssk->reasm_bytes = 0;
	}
	if (!(how & SEND_SHUTDOWN))
		return;
	if (sk->sk_state != TCP_ESTABLISHED && sk->sk_state != TCP_CLOSE_WAIT)
		return;
	if (demo_seq_queue_ctl(sk, DEMO_SEQ_FIN, sk->sk_allocation)) {
		demo_seq_send_reset(sk, DEMO_RST_NO_MEMORY);
		demo_seq_abort(sk, ENOMEM);
		return;
	}
	demo_seq_set_state(sk, sk->sk_state == TCP_ESTABLISHED ?
			   TCP_FIN_WAIT1 : TCP_LAST_ACK);
	demo_seq_push(sk);
}

static int demo_seq_sendmsg(struct sock *sk, struct msghdr *msg, size_t len)
{
	int flags = msg->msg_flags;
	long timeo;
	int err;

	if (flags & ~DEMO_SEQ_SEND_FLAGS)
		return -EOPNOTSUPP;
	if (msg->msg_namelen)
		return inet_sk_state_load(sk) == TCP_ESTABLISHED ?
		       -EISCONN : -EOPNOTSUPP;
	if (len > DEMO_SEQPACKET_MAX_MSG)
		return -EMSGSIZE;

	lock_sock(sk);
	timeo = sock_sndtimeo(sk, flags & MSG_DONTWAIT);

	if (sk->sk_state == TCP_SYN_SENT) {
		err = sk_stream_wait_connect(sk, &timeo);
		if (err)
			goto out_err;
	}

	for (;;) {
		err = -ENOTCONN;
		if ((1 << sk->sk_state) & (TCPF_CLOSE | TCPF_LISTEN) &&
		    !sk->sk_shutdown && !sk->sk_err)
			goto out_err;
		err = -EPIPE;
		if (sk->sk_err || (sk->sk_shutdown & SEND_SHUTDOWN) ||
		    !((1 << sk->sk_state) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT)))
			goto out_err;
		/* A whole message goes in at once, once there is room. */
		if (sk_stream_memory_free(sk)) {
			err = demo_seq_queue_msg(sk, msg, len);
			if (err != -EAGAIN)
				break;
			/*
			 * The protocol's memory is short: wait a little, or
			 * for our own memory to be freed, as TCP does.
			 */
		}
		err = sk_stream_wait_memory(sk, &timeo);
		if (err)
			goto out_err;
	}
	if (err)
		goto out_err;
	demo_seq_push(sk);
	release_sock(sk);
	return len;

out_err:
	/* EPIPE becomes the pending error if any, else raises SIGPIPE. */
	err = sk_stream_error(sk, flags, err);
	release_sock(sk);
	return err;
}

/*
 * After the user took messages: if the window we could advertise now is
 * much larger than the one the peer knows, tell it, so that a sender
 * stopped by a closed window resumes without waiting for a probe.
 */
static void demo_seq_rcv_space(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	u32 wnd = demo_seq_rcv_window(sk);
	u32 known = ssk->rcv_adv_edge - ssk->rcv_nxt;

	if (!((1 << sk->sk_state) &
	      (TCPF_ESTABLISHED | TCPF_FIN_WAIT1 | TCPF_FIN_WAIT2)))
		return;
	if (wnd >= 2 * known + 1)
		demo_seq_send_ack(sk);
}

/* proto.recvmsg; it sets msg_namelen (its prototype: demo_compat.h). */
static int demo_seq_recvmsg(DEMO_PROTO_RECVMSG_ARGS)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	size_t copied = 0, total = 0, n;
	struct sk_buff *skb, *tmp;
	long timeo;
	int err;

	if (flags & (MSG_OOB | MSG_ERRQUEUE))
		return -EOPNOTSUPP;

	lock_sock(sk);
	err = -ENOTCONN;
	if (sk->sk_state == TCP_LISTEN)
		goto out_release;

	timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	while (skb_queue_empty(&sk->sk_receive_queue)) {
		if (sk->sk_err) {
			err = sock_error(sk);
			goto out_release;
		}
		err = 0;
		if (sk->sk_shutdown & RCV_SHUTDOWN)
			goto out_release;
		err = -ENOTCONN;
		if (sk->sk_state == TCP_CLOSE)
			goto out_release;
		err = -EAGAIN;
		if (!timeo)
			goto out_release;
		err = sock_intr_errno(timeo);
		if (signal_pending(current))
			goto out_release;
		sk_wait_data(sk, &timeo, NULL);
	}

	/* The queue holds whole messages only: segments up to an EOR. */
	skb_queue_walk(&sk->sk_receive_queue, skb) {
		n = min_t(size_t, skb->len, len - copied);
		if (n) {
			err = skb_copy_datagram_msg(skb, 0, msg, n);
			if (err)
				goto out_release;
			copied += n;
		}
		total += skb->len;
		if (DEMO_SEQ_CB(skb)->flags & DEMO_SEQ_EOR)
			break;
	}

	if (total > copied)
		msg->msg_flags |= MSG_TRUNC;
	msg->msg_flags |= MSG_EOR;
	if (msg->msg_name) {
		DECLARE_SOCKADDR(struct sockaddr_demo *, sa, msg->msg_name);

		demo_fill_sockaddr(sa, inet_sk(sk)->inet_daddr,
				   inet_sk(sk)->inet_dport);
		msg->msg_namelen = sizeof(*sa);
	}

	if (!(flags & MSG_PEEK)) {
		skb_queue_walk_safe(&sk->sk_receive_queue, skb, tmp) {
			bool eor = DEMO_SEQ_CB(skb)->flags & DEMO_SEQ_EOR;

			skb_unlink(skb, &sk->sk_receive_queue);
			consume_skb(skb);
			WRITE_ONCE(ssk->rcv_copied, ssk->rcv_copied + 1);
			if (eor)
				break;
		}
		demo_seq_rcv_space(sk);
	}
	err = (flags & MSG_TRUNC) ? total : copied;

out_release:
	release_sock(sk);
	return err;
}

/* Length of the first whole message on @sk's receive queue. */
static int demo_seq_next_msg_len(struct sock *sk)
{
	struct sk_buff *skb;
	int len = 0;

	spin_lock_bh(&sk->sk_receive_queue.lock);
	skb_queue_walk(&sk->sk_receive_queue, skb) {
		len += skb->len;
		if (DEMO_SEQ_CB(skb)->flags & DEMO_SEQ_EOR)
			break;
	}
	spin_unlock_bh(&sk->sk_receive_queue.lock);
	return len;
}

static int demo_seq_ioctl(struct sock *sk, int cmd, DEMO_IOCTL_ARG_T karg)
{
	int val;

	if (inet_sk_state_load(sk) == TCP_LISTEN &&
	    (cmd == SIOCINQ || cmd == SIOCOUTQ))
		return -EINVAL;

	switch (cmd) {
	case SIOCINQ:
		val = demo_seq_next_msg_len(sk);
		break;
	case SIOCOUTQ:
		val = READ_ONCE(demo_seq_sk(sk)->unacked_bytes);
		break;
	default:
		return -ENOIOCTLCMD;
	}
	return demo_compat_ioctl_ret(karg, val);
}

/**
 * demo_seq_poll() - proto_ops.poll of seqpacket sockets
 * @file: the socket's file
 * @sock: the socket
 * @wait: poll table
 *
 * tcp_poll()'s rules, with "readable" meaning a whole message is queued.
 *
 * Return: the EPOLL* mask.
 */
__poll_t demo_seq_poll(struct file *file, struct socket *sock,
		       poll_table *wait)
{
	struct sock *sk = sock->sk;
	__poll_t mask = 0;
	u8 shutdown;
	int state;

	sock_poll_wait(file, sock, wait);

	state = inet_sk_state_load(sk);
	if (state == TCP_LISTEN)
		return READ_ONCE(sk->sk_ack_backlog) ? EPOLLIN | EPOLLRDNORM : 0;

	shutdown = READ_ONCE(sk->sk_shutdown);
	if (shutdown == SHUTDOWN_MASK || state == TCP_CLOSE)
		mask |= EPOLLHUP;
	if (shutdown & RCV_SHUTDOWN)
		mask |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP;
	if (!skb_queue_empty_lockless(&sk->sk_receive_queue))
		mask |= EPOLLIN | EPOLLRDNORM;

	if (state != TCP_SYN_SENT) {
		if (shutdown & SEND_SHUTDOWN) {
			/* Writers find out with EPIPE. */
			mask |= EPOLLOUT | EPOLLWRNORM;
		} else if (sk_stream_is_writeable(sk)) {
			mask |= EPOLLOUT | EPOLLWRNORM;
		} else {
			sk_set_bit(SOCKWQ_ASYNC_NOSPACE, sk);
			set_bit(SOCK_NOSPACE, &sk->sk_socket->flags);
			/* Pairs with the barrier of clear_bit() and wakeup. */
			smp_mb__after_atomic();
			if (sk_stream_is_writeable(sk))
				mask |= EPOLLOUT | EPOLLWRNORM;
		}
	}

	if (READ_ONCE(sk->sk_err))
		mask |= EPOLLERR;
	return mask;
}

/*
 * sk_write_space: acknowledged segments left the write queue. Writers
 * wait for sk_stream_memory_free(); poll reports sk_stream_is_writeable().
 */
static void demo_seq_write_space(struct sock *sk)
{
	struct socket *sock = sk->sk_socket;
	struct socket_wq *wq;

	if (!sock || !sk_stream_is_writeable(sk))
		return;
	clear_bit(SOCK_NOSPACE, &sock->flags);

	rcu_read_lock();
	wq = rcu_dereference(sk->sk_wq);
	if (skwq_has_sleeper(wq))
		wake_up_interruptible_poll(&wq->wait, EPOLLOUT | EPOLLWRNORM |
					   EPOLLWRBAND);
	if (wq && wq->fasync_list && !(sk->sk_shutdown & SEND_SHUTDOWN))
		sock_wake_async(wq, SOCK_WAKE_SPACE, POLL_OUT);
	rcu_read_unlock();
}

/**
 * demo_seq_init_private() - initialise what struct demo_seq_sock adds
 * @sk: a new socket, or a connection cloned from its listener, whose
 *	struct demo_seq_sock part is all zero
 *
 * Lists, queues, locks and timers of its own, and the fields that do not
 * start at zero.
 */
void demo_seq_init_private(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);

	INIT_HLIST_NODE(&ssk->conn_node);
	spin_lock_init(&ssk->accept_lock);
	INIT_LIST_HEAD(&ssk->accept_queue);
	INIT_LIST_HEAD(&ssk->accept_node);
	skb_queue_head_init(&ssk->reasm_queue);
	skb_queue_head_init(&ssk->ooo_queue);
	demo_seq_init_timers(sk);
	ssk->rto = DEMO_SEQ_RTO_INIT;
}

static int demo_seq_init_sock(struct sock *sk)
{
	/* Softirq lookups take references with refcount_inc_not_zero(). */
	sock_set_flag(sk, SOCK_RCU_FREE);
	demo_seq_init_private(sk);

	sk->sk_write_space = demo_seq_write_space;
	/* Segments fit the path MTU and are sent with DF. */
	inet_sk(sk)->pmtudisc = IP_PMTUDISC_DO;
	/* A clone (sk_clone_lock()) is counted there, without init. */
	sk_sockets_allocated_inc(sk);
	return 0;
}

/*
 * Memory of all seqpacket sockets together, as TCP's tcp_mem: queued
 * segments are charged to it (sk_rmem_schedule(), sk_wmem_schedule()),
 * in pages, within the limits of net.demo.seqpacket_mem.
 */
static atomic_long_t demo_seq_memory_allocated;
static DEFINE_PER_CPU(int, demo_seq_memory_per_cpu_fw_alloc) __maybe_unused;
static struct percpu_counter demo_seq_sockets_allocated;
static unsigned long demo_seq_memory_pressure;
long demo_seq_sysctl_mem[3];

/*
 * Below this much receive or send memory a socket is given memory under
 * pressure too (up to the hard limit), as by tcp_rmem[0] and tcp_wmem[0].
 */
static int demo_seq_sysctl_rmem[3] = { PAGE_SIZE, 0, 0 };
static int demo_seq_sysctl_wmem[3] = { PAGE_SIZE, 0, 0 };

static void demo_seq_enter_memory_pressure(struct sock *sk)
{
	WRITE_ONCE(demo_seq_memory_pressure, 1);
}

/**
 * demo_seq_mem_init() - the memory account, at module load
 *
 * The limits start as tcp_mem's do: pressure at 1/16 of the memory not
 * reserved for the kernel, the hard limit at 3/32.
 *
 * Return: 0 or -ENOMEM.
 */
int demo_seq_mem_init(void)
{
	unsigned long limit = max(nr_free_buffer_pages() / 16, 128UL);

	demo_seq_sysctl_mem[0] = limit / 4 * 3;
	demo_seq_sysctl_mem[1] = limit;
	demo_seq_sysctl_mem[2] = demo_seq_sysctl_mem[0] * 2;
	return percpu_counter_init(&demo_seq_sockets_allocated, 0, GFP_KERNEL);
}

void demo_seq_mem_exit(void)
{
	percpu_counter_destroy(&demo_seq_sockets_allocated);
}

#if !DEMO_ACCEPT_CHARGES_MEMCG
#ifdef CONFIG_MEMCG
/*
 * Only sk_alloc() sets sk_memcg from a module's reach: a sock of this
 * protocol is allocated in the accepting task to take it from.
 */
static struct proto demo_seq_memcg_prot = {
	.name		= "DEMO-MEMCG",
	.owner		= THIS_MODULE,
	.obj_size	= sizeof(struct sock),
};

/*
 * Charge @pages pages @sk already holds, counted in the protocol's account,
 * to its memory cgroup too: __sk_mem_schedule() charges both, so the
 * protocol's account is lowered by as much first (directly: the account is
 * ours, and sk_memory_allocated_sub() needs sysctl_mem_pcpu_rsv, which
 * Debian's 6.1 does not export). False if the cgroup refused (it is at its
 * limit), with nothing charged.
 */
static bool demo_seq_memcg_charge(struct sock *sk, int pages)
{
	atomic_long_sub(pages, &demo_seq_memory_allocated);
	if (!__sk_mem_schedule(sk, pages << PAGE_SHIFT, SK_MEM_RECV)) {
		atomic_long_add(pages, &demo_seq_memory_allocated);
		return false;
	}
	sk_forward_alloc_add(sk, -(pages << PAGE_SHIFT));
	return true;
}
#endif

/**
 * demo_seq_accept_memcg() - charge a connection to the accepting task's
 *	memory cgroup
 * @sk: the connection, owned by the task in accept()
 *
 * What inet_csk_accept() does: the connection was created in softirq,
 * where no cgroup applies; from now on its memory is the cgroup's, and so
 * is what it already holds. Where the cgroup cannot take that (the kernel
 * would force it, a module cannot), the connection stays uncharged to the
 * cgroup, as before accept(), and MemcgChargeFails counts it.
 */
void demo_seq_accept_memcg(struct sock *sk)
{
#ifdef CONFIG_MEMCG
	struct mem_cgroup *memcg;
	struct sock *probe;
	int pages;

	if (!mem_cgroup_sockets_enabled || sk->sk_memcg)
		return;
	probe = sk_alloc(sock_net(sk), sk->sk_family, GFP_KERNEL,
			 &demo_seq_memcg_prot, 1);
	if (!probe)
		goto fail;
	memcg = probe->sk_memcg;
	if (memcg) {
		pages = sk_mem_pages(sk->sk_forward_alloc +
				     atomic_read(&sk->sk_rmem_alloc));
		WRITE_ONCE(sk->sk_memcg, memcg);
		if (pages && !demo_seq_memcg_charge(sk, pages)) {
			WRITE_ONCE(sk->sk_memcg, NULL);
			sk_free(probe);		/* and its cgroup reference */
			goto fail;
		}
		probe->sk_memcg = NULL;	/* the reference is @sk's now */
	}
	sk_free(probe);
	demo_compat_kmem_cache_charge(sk);
	return;

fail:
	demo_inc_stats(sock_net(sk), DEMO_MIB_MEMCGCHARGEFAILS);
	net_dbg_ratelimited("accept: the memory cgroup refused the charge of an accepted connection\n");
#endif
}
#endif

struct proto demo_seq_prot = {
	.name		= "DEMO-SEQPACKET",
	.owner		= THIS_MODULE,
	.obj_size	= sizeof(struct demo_seq_sock),
	.init		= demo_seq_init_sock,
	.close		= demo_seq_close,
	.bind		= demo_bind,
	.unhash		= demo_port_release,
	.connect	= demo_seq_connect,
	.disconnect	= demo_seq_disconnect,
	.shutdown	= demo_seq_shutdown,
	.sendmsg	= demo_seq_sendmsg,
	.recvmsg	= demo_seq_recvmsg,
	.ioctl		= demo_seq_ioctl,
	.setsockopt	= demo_setsockopt,
	.getsockopt	= demo_getsockopt,
	.backlog_rcv	= demo_seq_do_rcv,
	.keepalive	= demo_seq_keepalive,
	.release_cb	= demo_seq_release_cb,
	.enter_memory_pressure	= demo_seq_enter_memory_pressure,
	.memory_allocated	= &demo_seq_memory_allocated,
	DEMO_SEQ_PER_CPU_FW_ALLOC
	.memory_pressure	= &demo_seq_memory_pressure,
	.sockets_allocated	= &demo_seq_sockets_allocated,
	.sysctl_mem		= demo_seq_sysctl_mem,
	.sysctl_rmem		= demo_seq_sysctl_rmem,
	.sysctl_wmem		= demo_seq_sysctl_wmem,
};
