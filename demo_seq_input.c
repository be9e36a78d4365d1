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
 * A listener remembers each handshake in progress in a small table of
 * its own, at most its backlog of entries, hashed by address and port
 * pair: the client's and its own initial sequence numbers. The
 * connection is created when a segment acknowledges an entry's, which
 * goes then, so a replayed first segment finds nothing (and is reset).
 * When the table is full the SYN-ACK's sequence number is a cookie
 * instead, a keyed hash (SipHash) of the address and port pair, the
 * client's initial sequence number and a coarse clock, and for a while
 * after such an overflow a segment acknowledging a valid cookie creates
 * the connection too: a SYN flood costs the listener a full table, no
 * more, as TCP's SYN cookies.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/icmp.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/net.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/siphash.h>
#include <kunit/visibility.h>
#include <net/icmp.h>
#include <linux/filter.h>
#include <net/ip.h>
#include <net/netns/hash.h>
#include <net/sock.h>

#include "demo_seqpacket.h"
#include "demo_trace.h"

/* A cookie is valid during this period and the next. */
#define DEMO_SEQ_COOKIE_PERIOD	(64 * HZ)
/* Cookies are believed this long after the table of handshakes overflowed. */
#define DEMO_SEQ_COOKIE_VALID	(2 * DEMO_SEQ_COOKIE_PERIOD)
/* Buckets of a listener's table of handshakes, at most. */
#define DEMO_SEQ_REQ_BUCKETS	65536

static siphash_aligned_key_t demo_seq_cookie_key;
static siphash_aligned_key_t demo_seq_isn_key;

/**
 * demo_seq_init() - module load time setup of the seqpacket transport
 */
void demo_seq_init(void)
{
	BUILD_BUG_ON(sizeof(struct demo_seq_cb) > sizeof_field(struct sk_buff, cb));
	BUILD_BUG_ON(sizeof(struct demo_seqhdr) != 12);
	BUILD_BUG_ON(sizeof(struct demo_sack_block) != 8);
	get_random_bytes(&demo_seq_cookie_key, sizeof(demo_seq_cookie_key));
	get_random_bytes(&demo_seq_isn_key, sizeof(demo_seq_isn_key));
}

/**
 * demo_seq_isn() - an initial sequence number, as TCP's secure_tcp_seq()
 * @net: the namespace
 * @saddr: local address
 * @daddr: remote address
 * @sport: local port
 * @dport: remote port
 *
 * A keyed hash of the address and port pair plus a clock ticking every
 * 64 ns: unpredictable from outside, and for the same pair later than the
 * numbers an earlier connection used (unless it sent more segments than
 * the clock ticked), so that a TIME_WAIT entry can tell the SYN of a new
 * connection from an old one's (RFC 1122 4.2.2.13).
 *
 * Return: the number.
 */
u32 demo_seq_isn(const struct net *net, __be32 saddr, __be32 daddr,
		 __be16 sport, __be16 dport)
{
	const struct {
		__be32	saddr;
		__be32	daddr;
		__be16	sport;
		__be16	dport;
		u32	net;
	} __aligned(SIPHASH_ALIGNMENT) in = {
		saddr, daddr, sport, dport, net_hash_mix(net)
	};

	return (u32)siphash(&in, sizeof(in), &demo_seq_isn_key) +
	       (u32)(ktime_get_real_ns() >> 6);
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
 * than the buffer cannot wedge the connection. The segments of that
 * message already received count against that floor: it grants one
 * message, not one message more than what is held.
 */
static u16 demo_seq_window_for(struct sock *sk, u32 mss)
{
	int cost = SKB_TRUESIZE(mss + DEMO_SEQ_HDRS + sizeof(struct iphdr));
	int space = READ_ONCE(sk->sk_rcvbuf) - atomic_read(&sk->sk_rmem_alloc);
	u32 held = skb_queue_len_lockless(&demo_seq_sk(sk)->reasm_queue);
	u32 wnd = space > 0 ? space / cost : 0;
	u32 floor = DIV_ROUND_UP(DEMO_SEQPACKET_MAX_MSG, mss) + 2;

	if (skb_queue_empty_lockless(&sk->sk_receive_queue) && floor > held)
		wnd = max(wnd, floor - held);
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
 * arrived in it, the reader keeps up with a sender that used the whole
 * window: the buffer doubles, up to seqpacket_rmem_max, so that the window
 * stays ahead of what the path and the reader take. It grows only while
 * data flows and is read, and what is read is not held; SO_RCVBUF turns it
 * off.
 */
static void demo_seq_rcvbuf_grow(struct sock *sk)
{
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	int rcvbuf = READ_ONCE(sk->sk_rcvbuf);
	int max = READ_ONCE(demo_pernet(sock_net(sk))->seq.rmem_max);
	u32 round = ssk->rcv_nxt - ssk->rcvbuf_round_seq;
	u32 copied = READ_ONCE(ssk->rcv_copied) - ssk->rcvbuf_copied;

	if ((sk->sk_userlocks & SOCK_RCVBUF_LOCK) || rcvbuf >= max ||
	    round < ssk->rcvbuf_round_len)
		return;
	if (copied * 2 >= round)
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

/* A sequence number in the receive window (for a RST: a challenge). */
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
		trace_demo_seq_drop(sk, skb, DEMO_MIB_INERRORS);
		consume_skb(skb);
		demo_inc_stats(sock_net(sk), DEMO_MIB_INERRORS);
		demo_seq_send_reset(sk, DEMO_RST_PROTOCOL);
		demo_seq_abort(sk, EPROTO);
		return;
	}
	__skb_queue_tail(&ssk->reasm_queue, skb);
	if (!(flags & DEMO_SEQ_EOR))
		return;
	ssk->reasm_bytes = 0;
	ssk->stats.msgs_received++;

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
			trace_demo_seq_drop(sk, skb, DEMO_MIB_INDUPSEGS);
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
	bool full;
	u32 edge;

	if (skb->len)
		ssk->stats.data_segs_in++;
	if (demo_seq_before(seq, ssk->rcv_nxt)) {
		/* Sent again because our ACK was lost: ACK again. */
		demo_inc_stats(net, DEMO_MIB_INDUPSEGS);
		trace_demo_seq_drop(sk, skb, DEMO_MIB_INDUPSEGS);
		demo_seq_send_ack(sk);
		goto drop;
	}
	/* After the peer's FIN nothing new can come. */
	if (sk->sk_shutdown & RCV_SHUTDOWN &&
	    !((1 << sk->sk_state) &
	      (TCPF_ESTABLISHED | TCPF_FIN_WAIT1 | TCPF_FIN_WAIT2))) {
		trace_demo_seq_drop(sk, skb, DEMO_DROP_AFTER_FIN);
		goto drop;
	}

	edge = demo_seq_after(ssk->rcv_adv_edge, ssk->rcv_nxt) ?
	       ssk->rcv_adv_edge : ssk->rcv_nxt;
	full = demo_seq_rmem_full(sk, skb);
	if (!demo_seq_before(seq, edge) || full) {
		/* A zero-window probe, or beyond what we offered. */
		if (full)
			demo_inc_stats(net, DEMO_MIB_RCVBUFERRORS);
		trace_demo_seq_drop(sk, skb, full ? DEMO_MIB_RCVBUFERRORS :
						    DEMO_DROP_OUT_OF_WINDOW);
		demo_seq_send_ack(sk);
		goto drop;
	}

	/*
	 * New data, in the window, for a socket its user closed can never be
	 * read: reset, so the sender learns at once (TCP's "abort on data").
	 */
	if (sock_flag(sk, SOCK_DEAD) &&
	    !(DEMO_SEQ_CB(skb)->flags & DEMO_SEQ_FIN)) {
		trace_demo_seq_drop(sk, skb, DEMO_DROP_CLOSED);
		demo_seq_send_reset(sk, DEMO_RST_DATA_AFTER_CLOSE);
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
		trace_demo_seq_drop(sk, skb, DEMO_MIB_RCVMEMDROPS);
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
	ssk->stats.bytes_received += skb->len;
	demo_seq_deliver(sk, skb);
	while (sk->sk_state != TCP_CLOSE &&
	       (skb = skb_peek(&ssk->ooo_queue)) &&
	       DEMO_SEQ_CB(skb)->seq == ssk->rcv_nxt) {
		__skb_unlink(skb, &ssk->ooo_queue);
		ssk->rcv_nxt++;
		ssk->stats.bytes_received += skb->len;
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
 * An ACK answering a segment that cannot be right: one acknowledging what
 * was never sent, or a pure ACK probing. At most one per half second per
 * connection, as TCP's tcp_invalid_ratelimit: two ends that disagree (a
 * forged segment moved one's rcv_nxt past the other's snd_nxt) would
 * otherwise answer each other's answers without end. True if this one
 * must not be sent.
 */
static bool demo_seq_oow_limited(struct demo_seq_sock *ssk)
{
	if (ssk->last_oow_ack &&
	    time_before(jiffies, ssk->last_oow_ack + HZ / 2))
		return true;
	ssk->last_oow_ack = jiffies ?: 1;
	return false;
}

static void demo_seq_send_oow_ack(struct sock *sk)
{
	if (!demo_seq_oow_limited(demo_seq_sk(sk)))
		demo_seq_send_ack(sk);
}

/*
 * RFC 5961's challenge ACK, for a RST in the window but not at rcv_nxt, a
 * SYN, or an acknowledgment too old to believe: a peer that really sent
 * it answers with a RST at the number acknowledged; a blind attacker
 * learns nothing. Limited as TCP's tcp_send_challenge_ack(): per
 * connection as demo_seq_send_oow_ack(), then to about
 * seqpacket_challenge_ack_limit a second per namespace, the budget of
 * each second drawn at random around it, so that how many were sent does
 * not tell an off-path attacker what it hit (CVE-2016-5696).
 */
static void demo_seq_send_challenge_ack(struct sock *sk)
{
	struct net *net = sock_net(sk);
	struct demo_net *dn = demo_pernet(net);
	u32 limit, now, count, half;

	if (demo_seq_oow_limited(demo_seq_sk(sk))) {
		demo_inc_stats(net, DEMO_MIB_CHALLENGEACKSSKIPPED);
		return;
	}
	limit = READ_ONCE(dn->seq.challenge_ack_limit);
	now = jiffies / HZ;
	if (now != READ_ONCE(dn->challenge_stamp)) {
		half = (limit + 1) >> 1;
		WRITE_ONCE(dn->challenge_stamp, now);
		WRITE_ONCE(dn->challenge_count,
			   half + (u32)(((u64)get_random_u32() * limit) >> 32));
	}
	count = READ_ONCE(dn->challenge_count);
	if (!count) {
		demo_inc_stats(net, DEMO_MIB_CHALLENGEACKSSKIPPED);
		return;
	}
	WRITE_ONCE(dn->challenge_count, count - 1);
	demo_inc_stats(net, DEMO_MIB_CHALLENGEACKS);
	demo_seq_send_ack(sk);
}

/*
 * The acknowledgment a segment carries. Return: false when the segment
 * is to be dropped, or the connection ended.
 */
static bool demo_seq_rcv_ack(struct sock *sk, const struct sk_buff *skb)
{
	const struct demo_seq_cb *cb = DEMO_SEQ_CB(skb);
	struct demo_seq_sock *ssk = demo_seq_sk(sk);
	u32 ack = cb->ack;
	bool closed;

	if (demo_seq_after(ack, ssk->snd_nxt)) {
		/* Acknowledges what was never sent. */
		trace_demo_seq_drop(sk, skb, DEMO_DROP_BAD_ACK);
		demo_seq_send_oow_ack(sk);
		return false;
	}
	if (demo_seq_before(ack, ssk->snd_una)) {
		/*
		 * Older than any window the peer offered (RFC 5961 5.2, as
		 * TCP's max_window): not believed, the segment goes.
		 */
		if (demo_seq_before(ack, ssk->snd_una - ssk->max_wnd)) {
			trace_demo_seq_drop(sk, skb, DEMO_DROP_BAD_ACK);
			demo_seq_send_challenge_ack(sk);
			return false;
		}
		/* An old acknowledgment: its window and SACK are stale. */
		return true;
	}

	if (cb->window > ssk->max_wnd)
		ssk->max_wnd = cb->window;
	/* The window's right edge only moves forward. */
	closed = ssk->snd_wnd_edge == ssk->snd_una;
	if (demo_seq_after(ack + cb->window, ssk->snd_wnd_edge))
		ssk->snd_wnd_edge = ack + cb->window;
	if (ack == ssk->snd_una && closed) {
		/*
		 * Answered a probe. The window opened: send at once. Still
		 * closed: the peer is alive, keep probing, at the backed-off
		 * pace; a live socket for ever, an orphan until the retry
		 * limit ends it (re-probing at once here would loop at the
		 * speed of the round trip, and never let the timer fire).
		 */
		if (ssk->snd_wnd_edge != ack)
			demo_seq_window_opened(sk);
		else if (!sock_flag(sk, SOCK_DEAD))
			ssk->retries = 0;
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
		trace_demo_seq_drop(sk, skb, DEMO_DROP_BAD_ACK);
		demo_seq_reply_reset(net, sk, skb, DEMO_RST_BAD_ACK);
		goto discard;
	}
	if (cb->flags & DEMO_SEQ_RST) {
		if (cb->flags & DEMO_SEQ_ACK) {
			trace_demo_seq_receive_reset(sk, cb->seq);
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
	ssk->max_wnd = cb->window;
	ssk->rcv_tstamp = jiffies;
	demo_seq_clean_acked(sk, cb->ack, NULL, 0);
	demo_seq_set_state(sk, TCP_ESTABLISHED);
	if (sock_flag(sk, SOCK_KEEPOPEN))
		demo_seq_keepalive_reset(sk);
	/*
	 * The listener never repeats its SYN-ACK: if this ACK is lost, only
	 * we can repeat it, until the peer answers (demo_seq_rtx_fire()).
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

	ssk->stats.segs_in++;
	switch (sk->sk_state) {
	case TCP_SYN_SENT:
		demo_seq_rcv_synsent(sk, skb);
		return 0;
	case TCP_CLOSE:
		/*
		 * Queued to the backlog while the owner ended the connection:
		 * answer as the closed pair would a moment later. The peer's
		 * challenge ACK of our reset, sent while we still hold the
		 * socket, gets the exact reset that ends its end too.
		 */
		trace_demo_seq_drop(sk, skb, DEMO_DROP_CLOSED);
		demo_seq_reply_reset(net, sk, skb, DEMO_RST_CLOSED);
		goto discard;
	case TCP_LISTEN:
		goto discard;
	}

	/*
	 * RFC 5961 3.2: a RST is believed only at exactly rcv_nxt; elsewhere
	 * in the window it is challenged, the peer's answer to which is a
	 * RST at rcv_nxt if it really sent it.
	 */
	if (cb->flags & DEMO_SEQ_RST) {
		if (cb->seq == ssk->rcv_nxt) {
			trace_demo_seq_receive_reset(sk, cb->seq);
			demo_inc_stats(net, DEMO_MIB_INRSTS);
			if ((1 << sk->sk_state) &
			    (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT))
				demo_inc_stats(net, DEMO_MIB_ESTABRESETS);
			demo_seq_abort(sk, sk->sk_state == TCP_CLOSE_WAIT ?
				       EPIPE : ECONNRESET);
		} else if (demo_seq_rst_ok(ssk, cb->seq)) {
			demo_seq_send_challenge_ack(sk);
		}
		goto discard;
	}
	/*
	 * RFC 5961 4.2: a SYN, whatever its sequence number, is challenged:
	 * the SYN-ACK again (our ACK of it was lost) gets an ACK this way,
	 * a client that restarted learns to reset us.
	 */
	if (cb->flags & DEMO_SEQ_SYN) {
		demo_seq_send_challenge_ack(sk);
		goto discard;
	}
	/* Anything else from the peer means it has the connection. */
	ssk->hs_pending = 0;
	if (!demo_seq_rcv_ack(sk, skb))
		goto discard;
	/* The peer is there (keepalive). */
	ssk->rcv_tstamp = jiffies;
	ssk->ka_probes = 0;
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
	if (drop) {
		atomic_inc(&sk->sk_drops);
		trace_demo_seq_drop(sk, skb, DEMO_DROP_FILTER);
	}
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
		trace_demo_seq_drop(sk, skb, DEMO_MIB_RCVBUFERRORS);
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

/**
 * struct demo_seq_req - a listener's handshake in progress
 * @node: link in its &struct demo_seq_reqs hash bucket
 * @lru: link in its &struct demo_seq_reqs lru, oldest first
 * @laddr: local address
 * @raddr: the client's address
 * @lport: local port
 * @rport: the client's port
 * @cisn: the client's initial sequence number
 * @isn: ours, sent in the SYN-ACK
 * @born: jiffies of the SYN
 */
struct demo_seq_req {
	struct hlist_node	node;
	struct list_head	lru;
	__be32			laddr;
	__be32			raddr;
	__be16			lport;
	__be16			rport;
	u32			cisn;
	u32			isn;
	unsigned long		born;
};

/**
 * struct demo_seq_reqs - a listener's table of handshakes in progress
 * @seed: of its hash, random, so that no client can choose a bucket
 * @mask: buckets - 1
 * @count: entries, at most the listener's backlog
 * @lru: the entries, oldest first, for expiry
 * @hash: the buckets
 *
 * Protected by the listener's accept_lock, freed when it stops listening.
 */
struct demo_seq_reqs {
	u32			seed;
	u32			mask;
	u32			count;
	struct list_head	lru;
	struct hlist_head	hash[];
};

static struct hlist_head *demo_seq_req_bucket(struct demo_seq_reqs *r,
					      __be32 laddr, __be16 lport,
					      __be32 raddr, __be16 rport)
{
	return &r->hash[jhash_3words((__force u32)laddr, (__force u32)raddr,
				     ((__force u32)lport << 16) |
				     (__force u32)rport, r->seed) & r->mask];
}

static void demo_seq_req_del(struct demo_seq_reqs *r, struct demo_seq_req *req)
{
	hlist_del(&req->node);
	list_del(&req->lru);
	r->count--;
	kfree(req);
}

/*
 * How long an entry waits for the handshake's ACK: as long as a client
 * with the same settings repeats it (demo_seq_rtx_fire()).
 */
static unsigned long demo_seq_req_life(const struct sock *lsk)
{
	const struct demo_seq_sysctl *ctl = &demo_pernet(sock_net(lsk))->seq;

	return msecs_to_jiffies((READ_ONCE(ctl->retries) + 1) *
				READ_ONCE(ctl->rto_max_ms));
}

/*
 * The entry of the pair a segment for listener @lsk came from, the expired
 * ones forgotten first (oldest first: the cost is theirs). Context: the
 * listener's accept_lock held.
 */
static struct demo_seq_req *demo_seq_req_find(struct sock *lsk,
					      struct sk_buff *skb)
{
	struct demo_seq_reqs *r = demo_seq_sk(lsk)->reqs;
	unsigned long life = demo_seq_req_life(lsk);
	const struct demohdr *dh = demo_hdr(skb);
	const struct iphdr *iph = ip_hdr(skb);
	struct demo_seq_req *req, *tmp;

	list_for_each_entry_safe(req, tmp, &r->lru, lru) {
		if (time_before(jiffies, req->born + life))
			break;
		demo_seq_req_del(r, req);
	}
	hlist_for_each_entry(req, demo_seq_req_bucket(r, iph->daddr, dh->dest,
						      iph->saddr, dh->source),
			     node)
		if (req->laddr == iph->daddr && req->lport == dh->dest &&
		    req->raddr == iph->saddr && req->rport == dh->source)
			return req;
	return NULL;
}

/**
 * demo_seq_reqs_alloc() - give listener @lsk a table of handshakes
 * @lsk: the socket, locked by its user, about to listen or listening
 * @backlog: its new backlog
 *
 * A listener that has one keeps it unless a larger backlog wants more
 * buckets (and there is memory for them); its entries move over.
 *
 * Return: 0, or -ENOMEM when a socket that has none gets none.
 */
int demo_seq_reqs_alloc(struct sock *lsk, int backlog)
{
	struct demo_seq_sock *lssk = demo_seq_sk(lsk);
	struct demo_seq_reqs *r, *old = lssk->reqs;
	u32 n = roundup_pow_of_two(clamp(backlog, 16, DEMO_SEQ_REQ_BUCKETS));
	struct demo_seq_req *req, *tmp;

	if (old && old->mask + 1 >= n)
		return 0;
	r = kvzalloc(struct_size(r, hash, n), GFP_KERNEL_ACCOUNT);
	if (!r)
		return old ? 0 : -ENOMEM;
	r->seed = get_random_u32();
	r->mask = n - 1;
	INIT_LIST_HEAD(&r->lru);

	spin_lock_bh(&lssk->accept_lock);
	if (old) {
		list_for_each_entry_safe(req, tmp, &old->lru, lru) {
			hlist_del(&req->node);
			hlist_add_head(&req->node,
				       demo_seq_req_bucket(r, req->laddr,
							   req->lport,
							   req->raddr,
							   req->rport));
			list_move_tail(&req->lru, &r->lru);
			r->count++;
		}
	}
	lssk->reqs = r;
	spin_unlock_bh(&lssk->accept_lock);
	kvfree(old);
	return 0;
}

/**
 * demo_seq_reqs_free() - forget every handshake in progress at @lsk
 * @lsk: a listener that stopped listening (no entry can be added), locked
 *	by its user
 */
void demo_seq_reqs_free(struct sock *lsk)
{
	struct demo_seq_sock *lssk = demo_seq_sk(lsk);
	struct demo_seq_req *req, *tmp;
	struct demo_seq_reqs *r;

	spin_lock_bh(&lssk->accept_lock);
	r = lssk->reqs;
	lssk->reqs = NULL;
	spin_unlock_bh(&lssk->accept_lock);
	if (!r)
		return;
	list_for_each_entry_safe(req, tmp, &r->lru, lru)
		kfree(req);
	kvfree(r);
}

/*
 * A SYN at listener @lsk: remember it (a SYN again, from a client whose
 * SYN-ACK was lost, finds its entry and gets the same answer); with no
 * room, note the overflow and answer with a cookie.
 * Return: the initial sequence number of the SYN-ACK.
 */
static u32 demo_seq_req_syn(struct sock *lsk, struct sk_buff *skb)
{
	struct demo_seq_sock *lssk = demo_seq_sk(lsk);
	const struct demo_seq_cb *cb = DEMO_SEQ_CB(skb);
	const struct demohdr *dh = demo_hdr(skb);
	const struct iphdr *iph = ip_hdr(skb);
	struct net *net = sock_net(lsk);
	struct demo_seq_reqs *r;
	struct demo_seq_req *req;
	u32 isn;

	spin_lock(&lssk->accept_lock);
	r = lssk->reqs;
	if (!r || lsk->sk_state != TCP_LISTEN)
		goto cookie;
	req = demo_seq_req_find(lsk, skb);
	if (req) {
		/* Another SYN from the pair: the client started over. */
		if (req->cisn != cb->seq) {
			req->cisn = cb->seq;
			req->isn = demo_seq_isn(net, iph->daddr, iph->saddr,
						dh->dest, dh->source);
			req->born = jiffies;
			list_move_tail(&req->lru, &r->lru);
		}
		isn = req->isn;
		goto out;
	}
	if (r->count >= READ_ONCE(lsk->sk_max_ack_backlog))
		goto cookie;
	req = kmalloc(sizeof(*req), GFP_ATOMIC);
	if (!req)
		goto cookie;
	req->laddr = iph->daddr;
	req->raddr = iph->saddr;
	req->lport = dh->dest;
	req->rport = dh->source;
	req->cisn = cb->seq;
	req->isn = demo_seq_isn(net, iph->daddr, iph->saddr, dh->dest,
				dh->source);
	req->born = jiffies;
	hlist_add_head(&req->node, demo_seq_req_bucket(r, req->laddr,
						       req->lport, req->raddr,
						       req->rport));
	list_add_tail(&req->lru, &r->lru);
	r->count++;
	isn = req->isn;
	goto out;

cookie:
	/* As TCP's tcp_synq_overflow(): cookies are believed for a while. */
	lssk->synq_overflow = jiffies ?: 1;
	isn = demo_seq_cookie(net, iph->saddr, iph->daddr, dh->source,
			      dh->dest, cb->seq);
	demo_inc_stats(net, DEMO_MIB_SYNCOOKIESSENT);
out:
	spin_unlock(&lssk->accept_lock);
	return isn;
}

/*
 * A RST at listener @lsk: our SYN-ACK found no socket. It ends the
 * handshake in progress if at the number the SYN-ACK acknowledged.
 */
static void demo_seq_req_rst(struct sock *lsk, struct sk_buff *skb)
{
	struct demo_seq_sock *lssk = demo_seq_sk(lsk);
	struct demo_seq_req *req;

	spin_lock(&lssk->accept_lock);
	if (lssk->reqs) {
		req = demo_seq_req_find(lsk, skb);
		if (req && DEMO_SEQ_CB(skb)->seq == req->cisn + 1)
			demo_seq_req_del(lssk->reqs, req);
	}
	spin_unlock(&lssk->accept_lock);
}

/* What a segment with ACK at a listener is, demo_seq_req_ack() says. */
enum demo_seq_hs {
	DEMO_SEQ_HS_DROP,	/* not (or not yet) a handshake's end */
	DEMO_SEQ_HS_RESET,	/* for no handshake we know of */
	DEMO_SEQ_HS_REQ,	/* completes an entry's */
	DEMO_SEQ_HS_COOKIE,	/* completes a cookie's */
};

/*
 * The first segment after the handshake has sequence number cisn + 1 and
 * acknowledges isn + 1; so does the client's first message if that ACK
 * was lost, and its repeated ACK has cisn (a probe). Others of the pair
 * may arrive first if these were lost; they are dropped, not reset, and
 * the client's retransmissions complete the handshake. A segment of no
 * pair we know is reset, unless the table overflowed lately: then it may
 * carry a cookie. *@rcv_nxt: the connection's, for the ends.
 */
static enum demo_seq_hs demo_seq_req_ack(struct sock *lsk,
					 struct sk_buff *skb, u32 *rcv_nxt)
{
	struct demo_seq_sock *lssk = demo_seq_sk(lsk);
	const struct demo_seq_cb *cb = DEMO_SEQ_CB(skb);
	const struct demohdr *dh = demo_hdr(skb);
	const struct iphdr *iph = ip_hdr(skb);
	bool probe = !skb->len && !(cb->flags & (DEMO_SEQ_EOR | DEMO_SEQ_FIN));
	struct net *net = sock_net(lsk);
	enum demo_seq_hs ret = DEMO_SEQ_HS_DROP;
	unsigned long overflow;
	struct demo_seq_req *req;

	spin_lock(&lssk->accept_lock);
	req = lssk->reqs ? demo_seq_req_find(lsk, skb) : NULL;
	if (req && cb->ack == req->isn + 1 &&
	    (cb->seq == req->cisn + 1 || (probe && cb->seq == req->cisn))) {
		*rcv_nxt = req->cisn + 1;
		ret = DEMO_SEQ_HS_REQ;
	}
	overflow = lssk->synq_overflow;
	spin_unlock(&lssk->accept_lock);
	if (req)
		return ret;

	if (!overflow ||
	    time_after(jiffies, overflow + DEMO_SEQ_COOKIE_VALID))
		return DEMO_SEQ_HS_RESET;
	*rcv_nxt = cb->seq;
	if (demo_seq_cookie_check(net, iph->saddr, iph->daddr, dh->source,
				  dh->dest, *rcv_nxt - 1, cb->ack - 1))
		return DEMO_SEQ_HS_COOKIE;
	*rcv_nxt = cb->seq + 1;
	if (probe &&
	    demo_seq_cookie_check(net, iph->saddr, iph->daddr, dh->source,
				  dh->dest, *rcv_nxt - 1, cb->ack - 1))
		return DEMO_SEQ_HS_COOKIE;
	return DEMO_SEQ_HS_DROP;
}

/*
 * Consume the entry a connection is created from, @isn its: false if it
 * is gone (another CPU created the connection from a duplicate). Context:
 * the listener's accept_lock held.
 */
static bool demo_seq_req_consume(struct sock *lsk, struct sk_buff *skb,
				 u32 isn)
{
	struct demo_seq_reqs *r = demo_seq_sk(lsk)->reqs;
	struct demo_seq_req *req;

	req = r ? demo_seq_req_find(lsk, skb) : NULL;
	if (!req || req->isn != isn)
		return false;
	demo_seq_req_del(r, req);
	return true;
}

/*
 * A handshake completed: create the connection, ESTABLISHED, expecting
 * @rcv_nxt, hash it and queue it for accept(); @from_req: its entry in
 * the listener's table goes with it.
 * Return: the new sock, with a reference for the caller, or NULL.
 */
static struct sock *demo_seq_child(struct sock *lsk, struct sk_buff *skb,
				   u32 rcv_nxt, bool from_req)
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
		net_dbg_ratelimited("listener %pI4:%u: no memory for a connection\n",
				    &inet_sk(lsk)->inet_rcv_saddr,
				    ntohs(inet_sk(lsk)->inet_sport));
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
	ssk->max_wnd = cb->window;
	ssk->rcv_nxt = rcv_nxt;
	ssk->rcvbuf_round_seq = rcv_nxt;
	ssk->rcvbuf_round_len = 1;
	/* What the listener's SYN-ACK offered, computed the same way. */
	ssk->rcv_adv_edge = ssk->rcv_nxt + demo_seq_listen_window(lsk, skb);
	demo_seq_set_state(sk, TCP_ESTABLISHED);
	if (sock_flag(sk, SOCK_KEEPOPEN))
		demo_seq_keepalive_reset(sk);
	bh_unlock_sock(sk);

	spin_lock(&lssk->accept_lock);
	if (lsk->sk_state == TCP_LISTEN && from_req &&
	    !demo_seq_req_consume(lsk, skb, cb->ack - 1)) {
		spin_unlock(&lssk->accept_lock);
		goto err_free;
	}
	if (lsk->sk_state != TCP_LISTEN || sk_acceptq_is_full(lsk)) {
		spin_unlock(&lssk->accept_lock);
		net_dbg_ratelimited("listener %pI4:%u: accept queue full, resetting a handshake\n",
				    &inet_sk(lsk)->inet_rcv_saddr,
				    ntohs(inet_sk(lsk)->inet_sport));
		demo_inc_stats(net, DEMO_MIB_LISTENOVERFLOWS);
		demo_inc_stats(net, DEMO_MIB_LISTENDROPS);
		trace_demo_seq_drop(lsk, skb, DEMO_MIB_LISTENOVERFLOWS);
		demo_seq_reply_reset(net, lsk, skb, DEMO_RST_LISTEN_OVERFLOW);
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
	enum demo_seq_hs hs;
	u32 isn, rcv_nxt;
	struct sock *sk;

	if (cb->flags & DEMO_SEQ_RST) {
		demo_seq_req_rst(lsk, skb);
		goto discard;
	}

	if (cb->flags & DEMO_SEQ_SYN) {
		if (cb->flags & DEMO_SEQ_ACK) {
			trace_demo_seq_drop(lsk, skb, DEMO_DROP_BAD_ACK);
			demo_seq_reply_reset(net, lsk, skb, DEMO_RST_BAD_ACK);
			goto discard;
		}
		/* Refused rather than left to time out: see SEQPACKET.md. */
		if (sk_acceptq_is_full(lsk)) {
			demo_inc_stats(net, DEMO_MIB_LISTENOVERFLOWS);
			demo_inc_stats(net, DEMO_MIB_LISTENDROPS);
			trace_demo_seq_drop(lsk, skb, DEMO_MIB_LISTENOVERFLOWS);
			demo_seq_reply_reset(net, lsk, skb, DEMO_RST_LISTEN_OVERFLOW);
			goto discard;
		}
		isn = demo_seq_req_syn(lsk, skb);
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

	if (!(cb->flags & DEMO_SEQ_ACK)) {
		demo_inc_stats(net, DEMO_MIB_LISTENDROPS);
		trace_demo_seq_drop(lsk, skb, DEMO_MIB_LISTENDROPS);
		goto discard;
	}
	hs = demo_seq_req_ack(lsk, skb, &rcv_nxt);
	switch (hs) {
	case DEMO_SEQ_HS_DROP:
		demo_inc_stats(net, DEMO_MIB_LISTENDROPS);
		trace_demo_seq_drop(lsk, skb, DEMO_MIB_LISTENDROPS);
		goto discard;
	case DEMO_SEQ_HS_RESET:
		/* A replayed first segment, say: the connection is over. */
		demo_inc_stats(net, DEMO_MIB_LISTENRSTS);
		demo_seq_reply_reset(net, lsk, skb, DEMO_RST_HANDSHAKE);
		goto discard;
	case DEMO_SEQ_HS_COOKIE:
		demo_inc_stats(net, DEMO_MIB_SYNCOOKIESRECV);
		break;
	case DEMO_SEQ_HS_REQ:
		break;
	}

	sk = demo_seq_child(lsk, skb, rcv_nxt, hs == DEMO_SEQ_HS_REQ);
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
		trace_demo_drop(skb, DEMO_DROP_NOT_HOST);
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
		/*
		 * A new connection of the same pair ends TIME_WAIT early, if
		 * its SYN is after everything the old one sent (RFC 1122
		 * 4.2.2.13, as TCP without timestamps); an older one is an
		 * old duplicate, or forged.
		 */
		if ((cb->flags & (DEMO_SEQ_SYN | DEMO_SEQ_ACK)) != DEMO_SEQ_SYN ||
		    !demo_seq_after(cb->seq, tw->rcv_nxt)) {
			demo_tw_rcv(tw, skb);
			return;
		}
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

	trace_demo_drop(skb, DEMO_MIB_NOPORTS);
	demo_seq_reply_reset(net, NULL, skb, DEMO_RST_NO_SOCKET);
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
