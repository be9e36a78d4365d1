// SPDX-License-Identifier: GPL-2.0
/*
 * AF_DEMO: DEMOPROTO_SEQPACKET input.
 *
 *   demo_rcv()                       validated segment, softirq, RCU
 *     demo_seq_rcv()
 *       connection by address and port pair (conn_hash)
 *         bh_lock_sock(); owned by a task? -> socket backlog, processed by
 *         release_sock(); else demo_seq_do_rcv() at once
 *       TIME_WAIT entry (timewait_hash)    -> demo_tw_rcv()
 *       listener by local port       -> demo_seq_listen_rcv()
 *       nothing                      -> RST
 *
 * A listener keeps no state for a handshake in progress: its SYN-ACK's
 * sequence number is a cookie, a keyed hash (SipHash) of the address and
 * port pair, the client's initial sequence number and a coarse clock.
 * The connection is created when a segment acknowledges a valid cookie,
 * so a SYN flood costs the listener nothing but the SYN-ACKs.
 */

#include <linux/icmp.h>
#include <linux/random.h>
#include <linux/siphash.h>
#include <kunit/visibility.h>
#include <net/icmp.h>
#include <linux/filter.h>
#include <net/ip.h>
#include <net/netns/hash.h>
#include <net/sock.h>

#include "demo_seqpacket.h"

/* A cookie is valid during this period and the next. */
#define DEMO_SEQ_COOKIE_PERIOD	(64 * HZ)

static siphash_aligned_key_t demo_seq_cookie_key;

/**
 * demo_seq_init() - module load time setup of the seqpacket transport
 */
void demo_seq_init(void)
{
	BUILD_BUG_ON(sizeof(struct demo_seq_cb) > sizeof_field(struct sk_buff, cb));
	BUILD_BUG_ON(sizeof(struct demo_seqhdr) != 12);
	BUILD_BUG_ON(sizeof(struct demo_sack_block) != 8);
	get_random_bytes(&demo_seq_cookie_key, sizeof(demo_seq_cookie_key));
}

static u32 demo_seq_cookie_at(const struct net *net, __be32 saddr,
			      __be32 daddr, __be16 sport, __be16 dport,
			      u32 cisn, u32 count)
{
	const struct {
		__be32	saddr;
		__be32	daddr;
		__be16	sport;
		__be16	dport;
		u32	cisn;
		u32	count;
		u32	net;
	} __aligned(SIPHASH_ALIGNMENT) in = {
		saddr, daddr, sport, dport, cisn, count, net_hash_mix(net)
	};

	return (u32)siphash(&in, sizeof(in), &demo_seq_cookie_key);
}

/**
 * demo_seq_cookie() - a listener's initial sequence number for a SYN
 * @net: the namespace
 * @saddr: the client's address
 * @daddr: the listener's address
 * @sport: the client's port
 * @dport: the listener's port
 * @cisn: the client's initial sequence number
 *
 * Return: the cookie, unpredictable without the boot-time key.
 */
u32 demo_seq_cookie(const struct net *net, __be32 saddr, __be32 daddr,
		    __be16 sport, __be16 dport, u32 cisn)
{
	return demo_seq_cookie_at(net, saddr, daddr, sport, dport, cisn,
				  jiffies / DEMO_SEQ_COOKIE_PERIOD);
}
EXPORT_SYMBOL_IF_KUNIT(demo_seq_cookie);

/**
 * demo_seq_cookie_check() - was @cookie issued for this handshake lately?
 * @net: the namespace
 * @saddr: the client's address
 * @daddr: the listener's address
 * @sport: the client's port
 * @dport: the listener's port
 * @cisn: the client's initial sequence number
 * @cookie: the listener's initial sequence number the client acknowledges
 *
 * Return: true if it was, in this period or the previous one.
 */
bool demo_seq_cookie_check(const struct net *net, __be32 saddr, __be32 daddr,
			   __be16 sport, __be16 dport, u32 cisn, u32 cookie)
{
	u32 count = jiffies / DEMO_SEQ_COOKIE_PERIOD;

	return cookie == demo_seq_cookie_at(net, saddr, daddr, sport, dport,
					    cisn, count) ||
	       cookie == demo_seq_cookie_at(net, saddr, daddr, sport, dport,
					    cisn, count - 1);
}
EXPORT_SYMBOL_IF_KUNIT(demo_seq_cookie_check);

/*
 * The window @sk can offer for segments of @mss payload bytes: its free
 * receive buffer in such segments and, while nothing waits to be read, at
 * least enough to complete the largest message, so that a message larger
 * than the buffer cannot wedge the connection.
 */
static u16 demo_seq_window_for(struct sock *sk, u32 mss)
{
	int cost = SKB_TRUESIZE(mss + DEMO_SEQ_HDRS + sizeof(struct iphdr));
	int space = READ_ONCE(sk->sk_rcvbuf) - atomic_read(&sk->sk_rmem_alloc);
	u32 wnd = space > 0 ? space / cost : 0;

	if (skb_queue_empty_lockless(&sk->sk_receive_queue))
		wnd = max_t(u32, wnd,
			    DIV_ROUND_UP(DEMO_SEQPACKET_MAX_MSG, mss) + 2);
	return min_t(u32, wnd, DEMO_SEQ_MAX_WND);
}

/**
 * demo_seq_rcv_window() - segments the receiver of @sk can take now
 * @sk: the socket
 *
 * In segments of the largest size the peer sent, or of our own path's
 * (demo_seq_window_for()).
 *
 * Return: the window, in segments.
 */
u16 demo_seq_rcv_window(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);

	return demo_seq_window_for(sk, max_t(u32, ssk->rcv_mss, 64));
}

/*
 * A listener's window for a handshake arriving on @skb's device: the
 * segments will be cut for that link's MTU, not for a guess smaller than
 * it, which would offer more than the buffer holds.
 */
static u16 demo_seq_listen_window(struct sock *lsk, const struct sk_buff *skb)
{
	u32 mtu = min_t(u32, READ_ONCE(skb->dev->mtu), IP_MAX_MTU);

	return demo_seq_window_for(lsk, max_t(int, mtu - sizeof(struct iphdr) -
						 DEMO_SEQ_HDRS, 64));
}

/*
 * Receive buffer auto-tuning, as TCP's dynamic right-sizing. A round lasts
 * a window of data. At its end, if the reader took at least half of what
 * arrived in it (it keeps up) and the sender has used three quarters of
 * what we offered (the window, not the reader, limits the connection),
 * the buffer doubles, up to seqpacket_rmem_max. SO_RCVBUF turns it off.
 */
static void demo_seq_rcvbuf_grow(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	int rcvbuf = READ_ONCE(sk->sk_rcvbuf);
	int max = READ_ONCE(demo_pernet(sock_net(sk))->seq.rmem_max);
	u32 round = ssk->rcv_nxt - ssk->rcvbuf_round_seq;
	u32 copied = READ_ONCE(ssk->rcv_copied) - ssk->rcvbuf_copied;
	u32 wnd, left;

	if ((sk->sk_userlocks & SOCK_RCVBUF_LOCK) || rcvbuf >= max ||
	    round < ssk->rcvbuf_round_len)
		return;
	wnd = demo_seq_rcv_window(sk);
	left = ssk->rcv_adv_edge - ssk->rcv_nxt;
	if (copied * 2 >= round && left * 4 <= wnd)
		WRITE_ONCE(sk->sk_rcvbuf, min_t(u64, 2ULL * rcvbuf, max));
	ssk->rcvbuf_round_seq = ssk->rcv_nxt;
	ssk->rcvbuf_round_len = max_t(u32, demo_seq_rcv_window(sk), 1);
	ssk->rcvbuf_copied = READ_ONCE(ssk->rcv_copied);
}

/*
 * SACK blocks to report (RFC 2018): segment @seq went to the out-of-order
 * queue. The block holding it goes first; a block it joins to another
 * absorbs that one; the oldest block is forgotten when there are too many.
 */
static void demo_seq_sack_add(struct demo_seq_sock *ssk, u32 seq)
{
	struct demo_seq_range *b = ssk->rcv_sacks, cur = { seq, seq + 1 };
	int i, n = ssk->num_rcv_sacks, k = 0;

	/* Merge every block touching the new one into it. */
	for (i = 0; i < n; i++) {
		if (b[i].end == cur.start || b[i].start == cur.end ||
		    (!demo_seq_before(cur.start, b[i].start) &&
		     !demo_seq_after(cur.end, b[i].end))) {
			if (demo_seq_before(b[i].start, cur.start))
				cur.start = b[i].start;
			if (demo_seq_after(b[i].end, cur.end))
				cur.end = b[i].end;
			continue;
		}
		b[k++] = b[i];
	}
	/* The others keep their order, after the new one. */
	if (k == DEMO_SEQ_MAX_SACK)
		k--;
	memmove(&b[1], &b[0], k * sizeof(*b));
	b[0] = cur;
	ssk->num_rcv_sacks = k + 1;
}

/* rcv_nxt moved: blocks it reached are no longer to report. */
static void demo_seq_sack_prune(struct demo_seq_sock *ssk)
{
	struct demo_seq_range *b = ssk->rcv_sacks;
	int i, k = 0;

	for (i = 0; i < ssk->num_rcv_sacks; i++) {
		if (!demo_seq_after(b[i].end, ssk->rcv_nxt))
			continue;
		if (demo_seq_before(b[i].start, ssk->rcv_nxt))
			b[i].start = ssk->rcv_nxt;
		b[k++] = b[i];
	}
	ssk->num_rcv_sacks = k;
}

/*
 * What a peer can make a connection hold: the receive buffer, plus one
 * largest message, which the window lets through whole while nothing waits
 * to be read (demo_seq_rcv_window(): DIV_ROUND_UP(DEMO_SEQPACKET_MAX_MSG,
 * mss) + 2 segments), each at the largest truesize a segment had, @skb's
 * included: the short last segment of a message must fit as well.
 */
static unsigned int demo_seq_rmem_bound(const struct sock *sk,
					const struct sk_buff *skb)
{
	const struct demo_seq_sock *ssk = demo_seq_sk(sk);
	u32 mss = max3(READ_ONCE(ssk->rcv_mss), skb->len, 536U);
	u32 truesize = max(READ_ONCE(ssk->rcv_truesize), skb->truesize);

	return READ_ONCE(sk->sk_rcvbuf) +
	       (DIV_ROUND_UP(DEMO_SEQPACKET_MAX_MSG, mss) + 2) * truesize;
}

/*
 * A connection not yet accepted gets no memory while the protocol's is under
 * pressure (beyond net.demo.seqpacket_mem[1]): the peers of a listener
 * whose user does not keep up cannot take what accepted connections need.
 */
static bool demo_seq_unaccepted_over(const struct sock *sk)
{
	return !READ_ONCE(sk->sk_socket) && !sock_flag(sk, SOCK_DEAD) &&
	       sk_memory_allocated(sk) > sk_prot_mem_limits(sk, 1);
}

/* Would holding @skb take @sk beyond its bound? Then it is dropped. */
static bool demo_seq_rmem_full(const struct sock *sk, const struct sk_buff *skb)
{
	return atomic_read(&sk->sk_rmem_alloc) + skb->truesize >
	       demo_seq_rmem_bound(sk, skb);
}

/* The connection of a pair, with a reference. Context: RCU. */
static struct sock *demo_seq_lookup(struct net *net, __be32 raddr,
				    __be16 rport, __be32 laddr, __be16 lport)
{
	struct demo_net *dn = demo_pernet(net);
	u32 h = demo_conn_hashfn(net, laddr, lport, raddr, rport);
	struct demo_seq_sock *ssk;

	hlist_for_each_entry_rcu(ssk, &dn->conn_hash[h], conn_node) {
		struct sock *sk = &ssk->dsk.inet.sk;
		const struct inet_sock *inet = inet_sk(sk);

		if (inet->inet_rcv_saddr == laddr && inet->inet_sport == lport &&
		    inet->inet_daddr == raddr && inet->inet_dport == rport)
			return refcount_inc_not_zero(&sk->sk_refcnt) ? sk : NULL;
	}
	return NULL;
}

/*
 * The listener for laddr:lport, with a reference: one bound to laddr beats
 * one bound to any address. Context: RCU.
 */
static struct sock *demo_seq_lookup_listener(struct net *net, __be32 laddr,
					     __be16 lport, int dif)
{
	struct demo_net *dn = demo_pernet(net);
	struct sock *sk, *result = NULL;
	u16 port = ntohs(lport);

	sk_for_each_rcu(sk, demo_bind_bucket(dn, port)) {
		const struct inet_sock *inet = inet_sk(sk);
		__be32 rcv_saddr = READ_ONCE(inet->inet_rcv_saddr);
		int bound_dev_if = READ_ONCE(sk->sk_bound_dev_if);

		if (READ_ONCE(inet->inet_num) != port ||
		    sk->sk_protocol != DEMOPROTO_SEQPACKET ||
		    inet_sk_state_load(sk) != TCP_LISTEN)
			continue;
		if (rcv_saddr && rcv_saddr != laddr)
			continue;
		if (bound_dev_if && bound_dev_if != dif)
			continue;
		result = sk;
		if (rcv_saddr)
			break;
	}
	if (result && !refcount_inc_not_zero(&result->sk_refcnt))
		result = NULL;
	return result;
}

/* The SACK blocks of a received segment, right after its headers. */
static const struct demo_sack_block *demo_seq_sacks(const struct sk_buff *skb)
{
	return (const struct demo_sack_block *)((const u8 *)demo_hdr(skb) +
						DEMO_SEQ_HDRS);
}

/* A RST is believed if its sequence number is in the receive window. */
static bool demo_seq_rst_ok(const struct demo_seq_sock *ssk, u32 seq)
{
	return !demo_seq_before(seq, ssk->rcv_nxt) &&
	       !demo_seq_after(seq, ssk->rcv_adv_edge);
}

/* The peer closed its direction: everything it sent has been received. */
static void demo_seq_rcv_fin(struct sock *sk)
{
	WRITE_ONCE(sk->sk_shutdown, sk->sk_shutdown | RCV_SHUTDOWN);
	/* A message the FIN cut short can never complete. */
	demo_seq_purge_rcv(sk, false);
	demo_seq_send_ack(sk);

	switch (sk->sk_state) {
	case TCP_ESTABLISHED:
		demo_seq_set_state(sk, TCP_CLOSE_WAIT);
		break;
	case TCP_FIN_WAIT1:
		/* Our FIN is not acknowledged yet. */
		demo_seq_set_state(sk, TCP_CLOSING);
		break;
	case TCP_FIN_WAIT2:
		demo_seq_time_wait(sk);
		return;
	}
	if (!sock_flag(sk, SOCK_DEAD))
		sk->sk_state_change(sk);
}

/*
 * The next segment in sequence: part of the message being received, its
 * end (the whole message goes to the receive queue), or the FIN.
 */
static void demo_seq_deliver(struct sock *sk, struct sk_buff *skb)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	u16 flags = DEMO_SEQ_CB(skb)->flags;

	if (flags & DEMO_SEQ_FIN) {
		consume_skb(skb);
		demo_seq_rcv_fin(sk);
		return;
	}
	/* A peer that exceeds the largest message breaks the protocol. */
	ssk->reasm_bytes += skb->len;
	if (ssk->reasm_bytes > DEMO_SEQPACKET_MAX_MSG) {
		consume_skb(skb);
		demo_inc_stats(sock_net(sk), DEMO_MIB_INERRORS);
		demo_seq_send_reset(sk);
		demo_seq_abort(sk, EPROTO);
		return;
	}
	__skb_queue_tail(&ssk->reasm_queue, skb);
	if (!(flags & DEMO_SEQ_EOR))
		return;
	ssk->reasm_bytes = 0;

	/* After shutdown(SHUT_RD), messages are dropped. */
	if (sk->sk_shutdown & RCV_SHUTDOWN) {
		__skb_queue_purge(&ssk->reasm_queue);
		return;
	}
	spin_lock_bh(&sk->sk_receive_queue.lock);
	skb_queue_splice_tail_init(&ssk->reasm_queue, &sk->sk_receive_queue);
	spin_unlock_bh(&sk->sk_receive_queue.lock);
	sk->sk_data_ready(sk);
}

/* Keep @skb, beyond rcv_nxt, in sequence order; duplicates go. */
static void demo_seq_ofo_queue(struct sock *sk, struct sk_buff *skb)
{
	struct sk_buff_head *q = &demo_seq_sk(sk)->ooo_queue;
	u32 seq = DEMO_SEQ_CB(skb)->seq;
	struct sk_buff *pos;

	skb_queue_reverse_walk(q, pos) {
		u32 pseq = DEMO_SEQ_CB(pos)->seq;

		if (pseq == seq) {
			demo_inc_stats(sock_net(sk), DEMO_MIB_INDUPSEGS);
			kfree_skb(skb);
			return;
		}
		if (demo_seq_before(pseq, seq)) {
			__skb_queue_after(q, pos, skb);
			goto queued;
		}
	}
	__skb_queue_head(q, skb);
queued:
	demo_seq_sack_add(demo_seq_sk(sk), seq);
}

/* A segment that takes a sequence number: data, end of message, FIN. */
static void demo_seq_rcv_data(struct sock *sk, struct sk_buff *skb)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	struct net *net = sock_net(sk);
	u32 seq = DEMO_SEQ_CB(skb)->seq;
	u32 edge;

	if (demo_seq_before(seq, ssk->rcv_nxt)) {
		/* Sent again because our ACK was lost: ACK again. */
		demo_inc_stats(net, DEMO_MIB_INDUPSEGS);
		demo_seq_send_ack(sk);
		goto drop;
	}
	/* After the peer's FIN nothing new can come. */
	if (sk->sk_shutdown & RCV_SHUTDOWN &&
	    !((1 << sk->sk_state) &
	      (TCPF_ESTABLISHED | TCPF_FIN_WAIT1 | TCPF_FIN_WAIT2)))
		goto drop;

	edge = demo_seq_after(ssk->rcv_adv_edge, ssk->rcv_nxt) ?
	       ssk->rcv_adv_edge : ssk->rcv_nxt;
	if (!demo_seq_before(seq, edge) || demo_seq_rmem_full(sk, skb)) {
		/* A zero-window probe, or beyond what we offered. */
		if (demo_seq_rmem_full(sk, skb))
			demo_inc_stats(net, DEMO_MIB_RCVBUFERRORS);
		demo_seq_send_ack(sk);
		goto drop;
	}

	/*
	 * New data, in the window, for a socket its user closed can never be
	 * read: reset, so the sender learns at once (TCP's "abort on data").
	 */
	if (sock_flag(sk, SOCK_DEAD) &&
	    !(DEMO_SEQ_CB(skb)->flags & DEMO_SEQ_FIN)) {
		demo_seq_send_reset(sk);
		demo_seq_done(sk);
		goto drop;
	}

	if (skb->len > ssk->rcv_mss)
		ssk->rcv_mss = skb->len;
	if (skb->truesize > ssk->rcv_truesize)
		WRITE_ONCE(ssk->rcv_truesize, skb->truesize);
	/* Held for long: no route or device references, charged to @sk. */
	skb_dst_drop(skb);
	skb_orphan(skb);
	if (demo_seq_unaccepted_over(sk) ||
	    !sk_rmem_schedule(sk, skb, skb->truesize)) {
		/* The protocol's (or the cgroup's) memory is exhausted. */
		atomic_inc(&sk->sk_drops);
		demo_inc_stats(net, DEMO_MIB_RCVMEMDROPS);
		demo_seq_send_ack(sk);
		goto drop;
	}
	skb_set_owner_r(skb, sk);

	if (seq != ssk->rcv_nxt) {
		demo_seq_ofo_queue(sk, skb);
		demo_seq_send_ack(sk);		/* with SACK, at once */
		return;
	}

	ssk->rcv_nxt++;
	demo_seq_deliver(sk, skb);
	while (sk->sk_state != TCP_CLOSE &&
	       (skb = skb_peek(&ssk->ooo_queue)) &&
	       DEMO_SEQ_CB(skb)->seq == ssk->rcv_nxt) {
		__skb_unlink(skb, &ssk->ooo_queue);
		ssk->rcv_nxt++;
		demo_seq_deliver(sk, skb);
	}
	if (ssk->num_rcv_sacks)
		demo_seq_sack_prune(ssk);
	demo_seq_rcvbuf_grow(sk);
	/* After the peer's FIN (acknowledged with it) or the end: done. */
	if (!((1 << sk->sk_state) &
	      (TCPF_ESTABLISHED | TCPF_FIN_WAIT1 | TCPF_FIN_WAIT2)))
		return;
	if (!skb_queue_empty(&ssk->ooo_queue))
		demo_seq_send_ack(sk);
	else
		demo_seq_ack_event(sk);
	return;

drop:
	kfree_skb(skb);
}

/*
 * The acknowledgment a segment carries. Return: false when the segment
 * is to be dropped, or the connection ended.
 */
/*
 * An ACK answering a segment that cannot be right: one acknowledging what
 * was never sent, or a pure ACK probing. At most one per half second per
 * connection, as TCP's tcp_invalid_ratelimit: two ends that disagree (a
 * forged segment moved one's rcv_nxt past the other's snd_nxt) would
 * otherwise answer each other's answers without end.
 */
static void demo_seq_send_oow_ack(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);

	if (ssk->last_oow_ack &&
	    time_before(jiffies, ssk->last_oow_ack + HZ / 2))
		return;
	ssk->last_oow_ack = jiffies ?: 1;
	demo_seq_send_ack(sk);
}

static bool demo_seq_rcv_ack(struct sock *sk, const struct sk_buff *skb)
{
	const struct demo_seq_cb *cb = DEMO_SEQ_CB(skb);
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	u32 ack = cb->ack;
	bool closed;

	if (demo_seq_after(ack, ssk->snd_nxt)) {
		/* Acknowledges what was never sent. */
		demo_seq_send_oow_ack(sk);
		return false;
	}
	/* An old acknowledgment: its window and SACK are stale. */
	if (demo_seq_before(ack, ssk->snd_una))
		return true;

	/* The window's right edge only moves forward. */
	closed = ssk->snd_wnd_edge == ssk->snd_una;
	if (demo_seq_after(ack + cb->window, ssk->snd_wnd_edge))
		ssk->snd_wnd_edge = ack + cb->window;
	if (ack == ssk->snd_una && closed) {
		/*
		 * Answered a probe: the peer is alive, keep probing. Not for
		 * an orphan, whose life the retry limit must bound.
		 */
		if (ssk->snd_wnd_edge == ack && !sock_flag(sk, SOCK_DEAD))
			ssk->retries = 0;
		else
			demo_seq_window_opened(sk);
	}
	demo_seq_clean_acked(sk, ack, demo_seq_sacks(skb), cb->sack_blocks);

	/* Our FIN, the last segment queued, acknowledged? */
	if (ssk->snd_una == ssk->write_seq) {
		switch (sk->sk_state) {
		case TCP_FIN_WAIT1:
			demo_seq_set_state(sk, TCP_FIN_WAIT2);
			if (!sock_flag(sk, SOCK_DEAD))
				sk->sk_state_change(sk);
			demo_seq_arm_rtx(sk);
			break;
		case TCP_CLOSING:
			demo_seq_time_wait(sk);
			return false;
		case TCP_LAST_ACK:
			demo_seq_done(sk);
			return false;
		}
	}
	demo_seq_push(sk);
	return true;
}

/* SYN_SENT: the only good answer is a SYN-ACK for our SYN. */
static void demo_seq_rcv_synsent(struct sock *sk, struct sk_buff *skb)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	const struct demo_seq_cb *cb = DEMO_SEQ_CB(skb);
	struct net *net = sock_net(sk);

	if ((cb->flags & DEMO_SEQ_ACK) && cb->ack != ssk->snd_nxt) {
		demo_seq_reply_reset(net, sk, skb);
		goto discard;
	}
	if (cb->flags & DEMO_SEQ_RST) {
		if (cb->flags & DEMO_SEQ_ACK) {
			demo_inc_stats(net, DEMO_MIB_INRSTS);
			demo_inc_stats(net, DEMO_MIB_ATTEMPTFAILS);
			demo_seq_abort(sk, ECONNREFUSED);
		}
		goto discard;
	}
	/* No simultaneous open: a bare SYN is dropped. */
	if ((cb->flags & (DEMO_SEQ_SYN | DEMO_SEQ_ACK)) !=
	    (DEMO_SEQ_SYN | DEMO_SEQ_ACK))
		goto discard;

	ssk->rcv_nxt = cb->seq + 1;
	ssk->rcv_adv_edge = ssk->rcv_nxt;
	ssk->rcvbuf_round_seq = ssk->rcv_nxt;
	ssk->rcvbuf_round_len = 1;
	ssk->snd_wnd_edge = cb->ack + cb->window;
	demo_seq_clean_acked(sk, cb->ack, NULL, 0);
	demo_seq_set_state(sk, TCP_ESTABLISHED);
	/*
	 * The listener keeps no state: if this ACK is lost, only we can
	 * repeat it, until the peer answers (demo_seq_rtx_fire()).
	 */
	ssk->hs_pending = 1;
	demo_seq_send_ack(sk);
	sk->sk_state_change(sk);
	sk_wake_async(sk, SOCK_WAKE_IO, POLL_OUT);
	demo_seq_push(sk);

discard:
	consume_skb(skb);
}

/**
 * demo_seq_do_rcv() - a segment for connection @sk
 * @sk: the socket, locked: by bh_lock_sock() in softirq, or owned by a
 *	task processing its backlog (proto.backlog_rcv)
 * @skb: the segment, headers pulled, fields in DEMO_SEQ_CB(); consumed
 *
 * Return: 0.
 */
int demo_seq_do_rcv(struct sock *sk, struct sk_buff *skb)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	const struct demo_seq_cb *cb = DEMO_SEQ_CB(skb);
	struct net *net = sock_net(sk);

	switch (sk->sk_state) {
	case TCP_SYN_SENT:
		demo_seq_rcv_synsent(sk, skb);
		return 0;
	case TCP_CLOSE:
	case TCP_LISTEN:
		goto discard;
	}

	if (cb->flags & DEMO_SEQ_RST) {
		if (demo_seq_rst_ok(ssk, cb->seq)) {
			demo_inc_stats(net, DEMO_MIB_INRSTS);
			if ((1 << sk->sk_state) &
			    (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT))
				demo_inc_stats(net, DEMO_MIB_ESTABRESETS);
			demo_seq_abort(sk, sk->sk_state == TCP_CLOSE_WAIT ?
				       EPIPE : ECONNRESET);
		}
		goto discard;
	}
	if (cb->flags & DEMO_SEQ_SYN) {
		/* The SYN-ACK again: our ACK of it was lost. */
		demo_seq_send_ack(sk);
		goto discard;
	}
	/* Anything else from the peer means it has the connection. */
	ssk->hs_pending = 0;
	if (!demo_seq_rcv_ack(sk, skb))
		goto discard;
	if (skb->len || (cb->flags & (DEMO_SEQ_EOR | DEMO_SEQ_FIN))) {
		demo_seq_rcv_data(sk, skb);
		return 0;
	}
	/*
	 * A pure ACK one behind our rcv_nxt is a probe (a client repeating
	 * its handshake ACK): answer, as TCP answers a keepalive.
	 */
	if (cb->seq == ssk->rcv_nxt - 1)
		demo_seq_send_oow_ack(sk);

discard:
	consume_skb(skb);
	return 0;
}

/*
 * The socket's filters, as tcp_filter() runs them: SO_ATTACH_FILTER or
 * SO_ATTACH_BPF, a cgroup's ingress BPF program, the LSM. The filter sees
 * the segment from its DEMO header on (load offset 0 is the header, as a
 * TCP socket's filter sees the TCP header) and takes the segment whole or
 * drops it: a seqpacket segment cut short would corrupt its message, so
 * the trim cap is its whole length. A dropped segment is counted in the
 * socket's drops (SO_MEMINFO) and, unacknowledged, is sent again.
 * Return: true if @skb is to be dropped.
 */
static bool demo_seq_filter(struct sock *sk, struct sk_buff *skb)
{
	bool drop;

	__skb_push(skb, DEMO_SEQ_HDRS);
	drop = sk_filter_trim_cap(sk, skb, skb->len);
	__skb_pull(skb, DEMO_SEQ_HDRS);
	if (drop)
		atomic_inc(&sk->sk_drops);
	return drop;
}

/* Hand a segment to its connection, or to the backlog of its owner. */
static void demo_seq_rcv_sk(struct sock *sk, struct sk_buff *skb)
{
	/* What it may hold, and the ACKs of what it sends, as TCP's. */
	unsigned int limit = demo_seq_rmem_bound(sk, skb) +
			     READ_ONCE(sk->sk_sndbuf);

	bh_lock_sock_nested(sk);
	if (!sock_owned_by_user(sk)) {
		demo_seq_do_rcv(sk, skb);
	} else if (sk_add_backlog(sk, skb, limit)) {
		atomic_inc(&sk->sk_drops);
		demo_inc_stats(sock_net(sk), DEMO_MIB_RCVBUFERRORS);
		kfree_skb(skb);
	}
	bh_unlock_sock(sk);
}

/*
 * Make @sk, just cloned from listener @lsk by sk_clone_lock(), a new
 * connection: it keeps what a TCP child keeps of its listener (options,
 * buffer sizes and locks, timeouts, linger, mark, bound device, uid, TTL
 * and TOS, the socket filter, cgroup, LSM label, callbacks and user data
 * as sk_clone_lock() copies them) and loses what is the listener's own.
 * sk_clone_lock() already reset the queues, memory counters
 * (sk_forward_alloc, sk_rmem_alloc, sk_wmem_alloc, sk_wmem_queued,
 * sk_omem_alloc), the backlog, the route, errors, the socket and wait
 * queue, the bind node and lock; this resets the rest.
 */
static void demo_seq_clone_init(struct sock *sk, const struct sock *lsk,
				const struct sk_buff *skb)
{
	struct inet_sock *inet = inet_sk(sk);

	/* The listener's own state, read locklessly by the clone. */
	sk->sk_shutdown = 0;
	sk->sk_ack_backlog = 0;
	sk->sk_max_ack_backlog = 0;
	sk->sk_write_pending = 0;
	sock_reset_flag(sk, SOCK_DEAD);
	/* Generated on demand, never shared with the listener. */
	atomic64_set(&sk->sk_cookie, 0);
	/* Never set on AF_DEMO sockets; never shared if they were. */
	RCU_INIT_POINTER(inet->inet_opt, NULL);
	inet->mc_list = NULL;
	/*
	 * Connections are looked up under RCU (refcount_inc_not_zero()) in
	 * conn_hash, not SLAB_TYPESAFE_BY_RCU as TCP's: unlike a TCP child,
	 * a connection keeps the listener's SOCK_RCU_FREE.
	 */
	sock_set_flag(sk, SOCK_RCU_FREE);
	/* sk_clone_lock() clears it; AF_DEMO connections keep SO_PRIORITY. */
	sk->sk_priority = READ_ONCE(lsk->sk_priority);
	/* An unbound listener's connection stays in the VRF it came by. */
	sk->sk_bound_dev_if = demo_seq_reply_oif(sock_net(sk),
						 READ_ONCE(lsk->sk_bound_dev_if),
						 skb);

	/* Everything of struct demo_seq_sock starts as in a new socket. */
	memset_after(demo_seq_sk(sk), 0, dsk);
	demo_seq_init_private(sk);

	/* To be charged by its own use only; no accounting is shared. */
	WARN_ON_ONCE(sk->sk_forward_alloc || sk->sk_wmem_queued ||
		     atomic_read(&sk->sk_rmem_alloc));
}

/*
 * A valid cookie came back: create the connection, ESTABLISHED, expecting
 * @rcv_nxt, hash it and queue it for accept().
 * Return: the new sock, with a reference for the caller, or NULL.
 */
static struct sock *demo_seq_child(struct sock *lsk, struct sk_buff *skb,
				   u32 rcv_nxt)
{
	struct demo_seq_sock *lssk = demo_seq_sk(lsk);
	const struct demo_seq_cb *cb = DEMO_SEQ_CB(skb);
	const struct demohdr *dh = demo_hdr(skb);
	const struct iphdr *iph = ip_hdr(skb);
	struct net *net = sock_net(lsk);
	struct demo_seq_sock *ssk;
	struct inet_sock *inet;
	struct sock *sk;

	/*
	 * A copy of the listener, bh-locked, holding the module (through
	 * sk_prot_creator) and the namespace as the listener does (none for
	 * a kernel socket's), with two references: the creation one, which
	 * the accept queue and then the accepted socket own, and the
	 * caller's, taken before the accept queue owns the other: once
	 * accept_lock is dropped, close() of the listener or accept() and
	 * close() may put that at any time.
	 */
	sk = sk_clone_lock(lsk, GFP_ATOMIC);
	if (!sk) {
		demo_inc_stats(net, DEMO_MIB_LISTENDROPS);
		return NULL;
	}
	/* For sparse: sk_clone_lock() returns the clone bh-locked. */
	__acquire(&sk->sk_lock.slock);
	demo_seq_clone_init(sk, lsk, skb);

	inet = inet_sk(sk);
	inet->inet_rcv_saddr = iph->daddr;
	inet->inet_saddr = iph->daddr;
	inet->inet_num = ntohs(dh->dest);
	inet->inet_sport = dh->dest;
	inet->inet_daddr = iph->saddr;
	inet->inet_dport = dh->source;

	/* Its route and sequence state are the socket owner's: locked. */
	demo_seq_init_conn(sk);
	ssk = demo_seq_sk(sk);
	ssk->snd_una = cb->ack;
	ssk->snd_nxt = cb->ack;
	ssk->write_seq = cb->ack;
	ssk->snd_wnd_edge = cb->ack + cb->window;
	ssk->rcv_nxt = rcv_nxt;
	ssk->rcvbuf_round_seq = rcv_nxt;
	ssk->rcvbuf_round_len = 1;
	/* What the listener's SYN-ACK offered, computed the same way. */
	ssk->rcv_adv_edge = ssk->rcv_nxt + demo_seq_listen_window(lsk, skb);
	demo_seq_set_state(sk, TCP_ESTABLISHED);
	bh_unlock_sock(sk);

	spin_lock(&lssk->accept_lock);
	if (lsk->sk_state != TCP_LISTEN || sk_acceptq_is_full(lsk)) {
		spin_unlock(&lssk->accept_lock);
		demo_inc_stats(net, DEMO_MIB_LISTENOVERFLOWS);
		demo_inc_stats(net, DEMO_MIB_LISTENDROPS);
		demo_seq_reply_reset(net, lsk, skb);
		goto err_free;
	}
	if (demo_seq_hash_conn(sk)) {
		/* Another CPU created it from a duplicate. */
		spin_unlock(&lssk->accept_lock);
		goto err_free;
	}
	list_add_tail(&ssk->accept_node, &lssk->accept_queue);
	sk_acceptq_added(lsk);
	spin_unlock(&lssk->accept_lock);

	demo_inc_stats(net, DEMO_MIB_PASSIVEOPENS);
	lsk->sk_data_ready(lsk);
	return sk;

err_free:
	/* Never published, no timer armed: both references go. */
	demo_seq_set_state(sk, TCP_CLOSE);
	sk_dst_reset(sk);
	sock_put(sk);
	sock_put(sk);
	return NULL;
}

/* A segment for a listener: a SYN, or what completes a handshake. */
static void demo_seq_listen_rcv(struct sock *lsk, struct sk_buff *skb)
{
	const struct demo_seq_cb *cb = DEMO_SEQ_CB(skb);
	const struct demohdr *dh = demo_hdr(skb);
	const struct iphdr *iph = ip_hdr(skb);
	struct net *net = sock_net(lsk);
	u32 isn, rcv_nxt;
	struct sock *sk;

	if (cb->flags & DEMO_SEQ_RST)
		goto discard;

	if (cb->flags & DEMO_SEQ_SYN) {
		if (cb->flags & DEMO_SEQ_ACK) {
			demo_seq_reply_reset(net, lsk, skb);
			goto discard;
		}
		/* Refused rather than left to time out: see SEQPACKET.md. */
		if (sk_acceptq_is_full(lsk)) {
			demo_inc_stats(net, DEMO_MIB_LISTENOVERFLOWS);
			demo_inc_stats(net, DEMO_MIB_LISTENDROPS);
			demo_seq_reply_reset(net, lsk, skb);
			goto discard;
		}
		isn = demo_seq_cookie(net, iph->saddr, iph->daddr, dh->source,
				      dh->dest, cb->seq);
		demo_seq_send_ctl(net, iph->daddr, iph->saddr, dh->dest,
				  dh->source, isn, cb->seq + 1,
				  DEMO_SEQ_SYN | DEMO_SEQ_ACK,
				  demo_seq_listen_window(lsk, skb),
				  demo_seq_reply_oif(net,
						     READ_ONCE(lsk->sk_bound_dev_if),
						     skb),
				  READ_ONCE(lsk->sk_mark));
		goto discard;
	}

	/*
	 * The first segment after the handshake has sequence number
	 * cisn + 1 and acknowledges cookie + 1; so does the client's first
	 * message if that ACK was lost, and its repeated ACK has cisn (a
	 * probe). Others may arrive first if these were lost; they are
	 * dropped, not reset, and the client's retransmissions complete the
	 * handshake.
	 */
	if (!(cb->flags & DEMO_SEQ_ACK)) {
		demo_inc_stats(net, DEMO_MIB_LISTENDROPS);
		goto discard;
	}
	rcv_nxt = cb->seq;
	if (!demo_seq_cookie_check(net, iph->saddr, iph->daddr, dh->source,
				   dh->dest, rcv_nxt - 1, cb->ack - 1)) {
		rcv_nxt = cb->seq + 1;
		if (skb->len || (cb->flags & (DEMO_SEQ_EOR | DEMO_SEQ_FIN)) ||
		    !demo_seq_cookie_check(net, iph->saddr, iph->daddr,
					   dh->source, dh->dest, rcv_nxt - 1,
					   cb->ack - 1)) {
			demo_inc_stats(net, DEMO_MIB_LISTENDROPS);
			goto discard;
		}
	}

	sk = demo_seq_child(lsk, skb, rcv_nxt);
	if (!sk)
		goto discard;
	/* accept() may already own it. */
	demo_seq_rcv_sk(sk, skb);
	sock_put(sk);
	return;

discard:
	consume_skb(skb);
}

/**
 * demo_seq_rcv() - a validated DEMOPROTO_SEQPACKET segment from demo_rcv()
 * @skb: the segment, data at the DEMO header; consumed
 *
 * Context: softirq, rcu_read_lock() held.
 */
void demo_seq_rcv(struct sk_buff *skb)
{
	const struct demohdr *dh = demo_hdr(skb);
	const struct demo_seqhdr *sh = (const void *)(dh + 1);
	struct demo_seq_cb *cb = DEMO_SEQ_CB(skb);
	const struct iphdr *iph = ip_hdr(skb);
	struct net *net = dev_net(skb->dev);
	struct demo_tw *tw;
	struct sock *sk;

	/* Connections are unicast: as TCP, ignore what was not for us. */
	if (skb->pkt_type != PACKET_HOST) {
		kfree_skb(skb);
		return;
	}

	/* IP is done with skb->cb; it now carries the segment's fields. */
	memset(cb, 0, sizeof(*cb));
	cb->seq = ntohl(sh->seq);
	cb->ack = ntohl(sh->ack);
	cb->window = ntohs(sh->window);
	cb->flags = ntohs(dh->flags);
	cb->sack_blocks = sh->sack_blocks;
	/* demo_validate() checked and pulled the blocks; they stay there. */
	__skb_pull(skb, DEMO_SEQ_HDRS + DEMO_SEQ_SACK_LEN(cb->sack_blocks));
	demo_inc_stats(net, DEMO_MIB_INSEGS);

	sk = demo_seq_lookup(net, iph->saddr, dh->source, iph->daddr, dh->dest);
	if (sk) {
		if (demo_seq_filter(sk, skb))
			kfree_skb(skb);
		else
			demo_seq_rcv_sk(sk, skb);
		sock_put(sk);
		return;
	}

	tw = demo_tw_lookup(net, iph->saddr, dh->source, iph->daddr, dh->dest);
	if (tw) {
		if ((cb->flags & (DEMO_SEQ_SYN | DEMO_SEQ_ACK)) != DEMO_SEQ_SYN) {
			demo_tw_rcv(tw, skb);
			return;
		}
		/* A new connection of the same pair ends TIME_WAIT early. */
		if (demo_tw_kill(demo_pernet(net), tw))
			demo_inc_stats(net, DEMO_MIB_TIMEWAITREUSE);
	}

	sk = demo_seq_lookup_listener(net, iph->daddr, dh->dest, inet_iif(skb));
	if (sk) {
		if (demo_seq_filter(sk, skb))
			kfree_skb(skb);
		else
			demo_seq_listen_rcv(sk, skb);
		sock_put(sk);
		return;
	}

	demo_seq_reply_reset(net, NULL, skb);
	kfree_skb(skb);
}

/**
 * demo_seq_err() - an ICMP error about a segment we sent
 * @skb: the ICMP message, data at the quoted IPv4 header
 * @info: ICMP info
 *
 * Port or protocol unreachable (no AF_DEMO on the peer) quoting our SYN
 * refuses a connection attempt at once; other errors, and those whose
 * quote is too short to carry the sequence header or names another
 * sequence number, are left to the retransmission limits, as TCP's soft
 * errors are. Path MTU updates are done by demo_err().
 *
 * Context: softirq, rcu_read_lock() held.
 * Return: 0, or -ENOENT when no connection matches.
 */
int demo_seq_err(struct sk_buff *skb, u32 info)
{
	const struct demo_seqhdr *sh;
	const struct demohdr *dh;
	const struct iphdr *iph;
	struct net *net = dev_net(skb->dev);
	int type = icmp_hdr(skb)->type;
	int code = icmp_hdr(skb)->code;
	struct sock *sk;
	u32 seq;

	/* Only a quote reaching the sequence number can be checked. */
	iph = (const struct iphdr *)skb->data;
	if (!pskb_may_pull(skb, (iph->ihl << 2) + DEMO_SEQ_HDRS))
		return -ENOENT;
	iph = (const struct iphdr *)skb->data;
	dh = (const struct demohdr *)(skb->data + (iph->ihl << 2));
	sh = (const struct demo_seqhdr *)(dh + 1);
	seq = ntohl(sh->seq);

	sk = demo_seq_lookup(net, iph->daddr, dh->dest, iph->saddr, dh->source);
	if (!sk)
		return -ENOENT;

	/* As TCP: the quoted SYN must be ours, not a blind forgery. */
	bh_lock_sock(sk);
	if (type == ICMP_DEST_UNREACH && code <= NR_ICMP_UNREACH &&
	    icmp_err_convert[code].fatal && !sock_owned_by_user(sk) &&
	    sk->sk_state == TCP_SYN_SENT && seq == demo_seq_sk(sk)->snd_una) {
		demo_inc_stats(net, DEMO_MIB_ATTEMPTFAILS);
		demo_seq_abort(sk, icmp_err_convert[code].errno);
	}
	bh_unlock_sock(sk);
	sock_put(sk);
	return 0;
}
